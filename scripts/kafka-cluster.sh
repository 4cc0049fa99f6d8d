#!/usr/bin/env bash
# kafka-cluster.sh runs a three-node Apache Kafka cluster (KRaft, each node
# both broker and controller) on loopback, for Parley's integration and
# failure tests. It needs Java 17 or newer and Maven; no release tarball and
# no docker. See usage() below or run it with --help.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE_DIR="${PARLEY_CACHE:-$HOME/.cache/parley}"
LIBS_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="${PARLEY_KAFKA_DIR:-/tmp/parley-kafka}"
PORT_BASE="${PARLEY_KAFKA_PORT:-19092}"
CONTROLLER_PORT_BASE="${PARLEY_KAFKA_CONTROLLER_PORT:-$((PORT_BASE + 100))}"
HEAP="${PARLEY_KAFKA_HEAP:-384m}"
START_TIMEOUT="${PARLEY_KAFKA_START_TIMEOUT:-180}"
NODES=(1 2 3)

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"
# MARKER tells clean that a folder is ours to delete.
MARKER=".parley-kafka"

usage() {
	cat <<EOF
Usage: $(basename "$0") COMMAND [COMMAND ...]

Runs a three-node Apache Kafka $KAFKA_VERSION cluster (KRaft, combined
broker+controller nodes) on 127.0.0.1 for tests. Commands run in the order
given, so "install start" fetches Kafka and then starts the cluster.

Commands:
  install     fetch Kafka and its runtime dependencies with Maven into
              $LIBS_DIR (skipped when already there)
  start       format storage if needed, start every node that is not running,
              wait until all three serve metadata, print the bootstrap string
  stop        stop the nodes this script started (SIGTERM, then SIGKILL)
  kill N      SIGKILL node N (1-3), as a crash would
  restart N   SIGKILL node N if it runs, start it again and wait for it
  status      show each node's PID, port and state
  bootstrap   print the bootstrap string
  clean       stop the cluster and delete its data folder
  topics ARG...
              run Kafka's topic tool against the cluster with the remaining
              arguments, e.g. topics --create --topic t --partitions 3
  -h, --help  show this text

The bootstrap string goes to standard output; progress goes to standard error.

Environment:
  KAFKA_VERSION                 Kafka version to fetch (default 4.4.0)
  PARLEY_CACHE                  download cache (default ~/.cache/parley)
  PARLEY_KAFKA_DIR              data, configs, logs, PIDs (default /tmp/parley-kafka)
  PARLEY_KAFKA_PORT             client port of node 1; nodes 2 and 3 use the
                                next two (default 19092)
  PARLEY_KAFKA_CONTROLLER_PORT  controller port of node 1 (default client + 100)
  PARLEY_KAFKA_HEAP             heap of each JVM (default 384m)
  PARLEY_KAFKA_START_TIMEOUT    seconds to wait for the cluster (default 180)

Node N keeps its log in \$PARLEY_KAFKA_DIR/nodeN/server.log and its PID in
\$PARLEY_KAFKA_DIR/nodeN/pid. Topics are never created automatically: create
them with replication factor 3 (the default) or less.
EOF
}

log() { printf 'kafka-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

client_port() { echo $((PORT_BASE + $1 - 1)); }
controller_port() { echo $((CONTROLLER_PORT_BASE + $1 - 1)); }
node_dir() { echo "$KAFKA_DIR/node$1"; }

bootstrap() {
	local out="" n
	for n in "${NODES[@]}"; do
		out+="${out:+,}127.0.0.1:$(client_port "$n")"
	done
	echo "$out"
}

java_bin() {
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		echo "$JAVA_HOME/bin/java"
	else
		command -v java || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
	fi
}

check_node() {
	[[ "$1" =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3, not '$1'"
}

pom_sum() {
	sha256sum "$POM" | cut -d' ' -f1
}

installed() {
	[[ -f "$LIBS_DIR/.complete" && "$(<"$LIBS_DIR/.complete")" == "$(pom_sum)" ]]
}

# cmd_install resolves the broker's jars with Maven into LIBS_DIR. It writes
# into a temporary folder first so that an interrupted download is never
# mistaken for a complete one, and records the pom's checksum so that a
# changed pom fetches again.
cmd_install() {
	if installed; then
		log "Kafka $KAFKA_VERSION already in $LIBS_DIR"
		return
	fi
	command -v mvn >/dev/null || die "mvn not found"
	local tmp="$LIBS_DIR.tmp.$$"
	local mvnlog="$CACHE_DIR/kafka-$KAFKA_VERSION/mvn.log"
	mkdir -p "$(dirname "$LIBS_DIR")"
	rm -rf "$tmp"
	log "fetching Kafka $KAFKA_VERSION with Maven (log: $mvnlog)"
	if ! mvn -B -q -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$tmp" \
		</dev/null >"$mvnlog" 2>&1; then
		tail -n 40 "$mvnlog" >&2
		rm -rf "$tmp"
		die "Maven could not fetch Kafka $KAFKA_VERSION"
	fi
	[[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
		die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
	pom_sum >"$tmp/.complete"
	rm -rf "$LIBS_DIR"
	mv "$tmp" "$LIBS_DIR"
	log "Kafka $KAFKA_VERSION installed: $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars"
}

classpath() {
	installed || cmd_install
	echo "$LIBS_DIR/*"
}

quorum_voters() {
	local out="" n
	for n in "${NODES[@]}"; do
		out+="${out:+,}$n@127.0.0.1:$(controller_port "$n")"
	done
	echo "$out"
}

write_log_config() {
	cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
# Broker logs go to standard output, which the script sends to server.log.
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.change.name = state.change.logger
logger.change.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
EOF
	cat >"$KAFKA_DIR/tools-log4j2.properties" <<'EOF'
# Command-line tools keep standard output for their answers.
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
EOF
}

write_node_config() {
	local n=$1 dir
	dir="$(node_dir "$n")"
	mkdir -p "$dir/data"
	cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh; rewritten at every start.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(quorum_voters)
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$(client_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$n")
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data

num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0

num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

# cluster_id prints the cluster's id, making one the first time: 16 random
# bytes in unpadded URL-safe base64, as Kafka writes its ids, not starting
# with '-' so that no tool takes it for an option. This spares a JVM start.
cluster_id() {
	local file="$KAFKA_DIR/cluster.id" id
	if [[ ! -s "$file" ]]; then
		id=-
		while [[ "$id" == -* ]]; do
			id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		done
		echo "$id" >"$file"
	fi
	cat "$file"
}

format_node() {
	local n=$1 dir out
	dir="$(node_dir "$n")"
	[[ -f "$dir/data/meta.properties" ]] && return
	if ! out="$("$(java_bin)" -cp "$(classpath)" \
		-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
		kafka.tools.StorageTool format --cluster-id "$(cluster_id)" \
		--config "$dir/server.properties" 2>&1)"; then
		printf '%s\n' "$out" >&2
		die "formatting storage of node $n failed"
	fi
}

# node_pid prints the PID in node N's PID file if that process still runs
# node N's configuration, so a reused PID is never mistaken for a broker.
node_pid() {
	local n=$1 file pid
	file="$(node_dir "$n")/pid"
	[[ -f "$file" ]] || return 1
	pid="$(<"$file")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(node_dir "$n")/server.properties" ||
		return 1
	echo "$pid"
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# format_nodes formats the given nodes' storage at once, since each format
# starts a JVM.
format_nodes() {
	local n pids=() failed=0 i
	cluster_id >/dev/null
	classpath >/dev/null
	for n in "$@"; do
		write_node_config "$n"
		format_node "$n" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=1
	done
	((failed == 0)) || die "formatting storage failed"
}

# start_node launches node N, whose storage is formatted, unless it runs.
start_node() {
	local n=$1 dir
	dir="$(node_dir "$n")"
	if node_pid "$n" >/dev/null; then
		return
	fi
	write_node_config "$n"
	# Remember where this start's output begins, so that waiting looks only at
	# lines written after it.
	if [[ -f "$dir/server.log" ]]; then
		stat -c %s "$dir/server.log" >"$dir/log.offset"
	else
		echo 0 >"$dir/log.offset"
	fi
	printf '\n=== start %s ===\n' "$(date -Is)" >>"$dir/server.log"
	# The broker's standard streams go to files: a caller that reads this
	# script's output (a Go test, a command substitution) must not wait for
	# the broker to exit.
	setsid nohup "$(java_bin)" -Xms128m -Xmx"$HEAP" -XX:+UseG1GC \
		-XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
		-cp "$(classpath)" kafka.Kafka "$dir/server.properties" \
		</dev/null >>"$dir/server.log" 2>&1 &
	local pid=$! i
	echo "$pid" >"$dir/pid"
	# Until the child has exec'd Java its command line is this script's, and
	# node_pid would call the node dead.
	for ((i = 0; i < 100; i++)); do
		node_pid "$n" >/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	log "node $n starting, PID $pid, port $(client_port "$n")"
}

node_started() {
	local n=$1 dir offset
	dir="$(node_dir "$n")"
	offset="$(cat "$dir/log.offset" 2>/dev/null || echo 0)"
	tail -c +"$((offset + 1))" "$dir/server.log" | grep -q "Kafka Server started"
}

fail_with_log() {
	local n=$1 dir
	dir="$(node_dir "$n")"
	log "last lines of $dir/server.log:"
	tail -n 40 "$dir/server.log" >&2 || true
	die "$2"
}

# wait_nodes waits until each given node runs, listens and has logged that it
# started, then (with kcat) until one of them reports all three brokers.
wait_nodes() {
	local deadline=$((SECONDS + START_TIMEOUT)) n pending
	while :; do
		pending=0
		for n in "$@"; do
			node_pid "$n" >/dev/null ||
				fail_with_log "$n" "node $n exited while starting"
			if ! port_open "$(client_port "$n")" || ! node_started "$n"; then
				pending=1
			fi
		done
		((pending == 0)) && break
		((SECONDS < deadline)) ||
			fail_with_log "$1" "nodes $* not ready after ${START_TIMEOUT}s"
		sleep 0.5
	done
	command -v kcat >/dev/null || {
		log "kcat not installed: checked ports and logs only"
		return
	}
	while :; do
		if kcat -L -b "$(bootstrap)" -m 5 2>/dev/null | grep -q '^ *3 brokers:'; then
			return
		fi
		((SECONDS < deadline)) ||
			fail_with_log "$1" "metadata does not list 3 brokers after ${START_TIMEOUT}s"
		sleep 0.5
	done
}

cmd_start() {
	local n down=()
	mkdir -p "$KAFKA_DIR"
	touch "$KAFKA_DIR/$MARKER"
	write_log_config
	for n in "${NODES[@]}"; do
		node_pid "$n" >/dev/null && continue
		port_open "$(client_port "$n")" &&
			die "port $(client_port "$n") is taken by a process this script did not start"
		down+=("$n")
	done
	if ((${#down[@]} == 0)); then
		log "all nodes already running"
	else
		format_nodes "${down[@]}"
		for n in "${down[@]}"; do
			start_node "$n"
		done
	fi
	wait_nodes "${NODES[@]}"
	log "cluster ready"
	bootstrap
}

# stop_pid sends SIGTERM, waits up to $2 seconds, then sends SIGKILL.
stop_pid() {
	local pid=$1 grace=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "PID $pid did not stop in ${grace}s, sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid"
}

wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	die "PID $1 still exists after SIGKILL"
}

cmd_stop() {
	local n pid pids=()
	# Terminate every node at once: a controller quorum that loses members
	# one by one makes the last ones wait for a leader.
	for n in "${NODES[@]}"; do
		if pid="$(node_pid "$n")"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
		rm -f "$(node_dir "$n")/pid"
	done
	for pid in "${pids[@]}"; do
		stop_pid "$pid" 30
	done
	log "stopped ${#pids[@]} node(s)"
}

cmd_kill() {
	local n=$1 pid
	check_node "$n"
	if pid="$(node_pid "$n")"; then
		kill -KILL "$pid"
		wait_gone "$pid"
		log "node $n (PID $pid) killed"
	else
		log "node $n was not running"
	fi
	rm -f "$(node_dir "$n")/pid"
}

cmd_restart() {
	local n=$1
	check_node "$n"
	[[ -f "$KAFKA_DIR/log4j2.properties" ]] || die "the cluster was never started"
	cmd_kill "$n"
	format_nodes "$n"
	start_node "$n"
	wait_nodes "$n"
	log "node $n back"
}

cmd_status() {
	local n pid state
	for n in "${NODES[@]}"; do
		if pid="$(node_pid "$n")"; then
			if port_open "$(client_port "$n")"; then state=serving; else state=starting; fi
		else
			pid=-
			state=stopped
		fi
		printf 'node %s  pid %-7s  127.0.0.1:%s  %s\n' "$n" "$pid" "$(client_port "$n")" "$state"
	done
}

cmd_topics() {
	mkdir -p "$KAFKA_DIR"
	write_log_config
	"$(java_bin)" -Xmx256m \
		-Dlog4j2.configurationFile="$KAFKA_DIR/tools-log4j2.properties" \
		-cp "$(classpath)" org.apache.kafka.tools.TopicCommand \
		--bootstrap-server "$(bootstrap)" "$@"
}

cmd_clean() {
	cmd_stop
	if [[ -d "$KAFKA_DIR" ]]; then
		[[ -f "$KAFKA_DIR/$MARKER" ]] ||
			die "$KAFKA_DIR was not made by this script; not deleting it"
		rm -rf "$KAFKA_DIR"
		log "deleted $KAFKA_DIR"
	fi
}

main() {
	(($# > 0)) || {
		usage >&2
		exit 2
	}
	while (($# > 0)); do
		case "$1" in
		install) cmd_install ;;
		start) cmd_start ;;
		stop) cmd_stop ;;
		status) cmd_status ;;
		bootstrap) bootstrap ;;
		clean) cmd_clean ;;
		kill | restart)
			(($# >= 2)) || die "$1 needs a node number (1-3)"
			"cmd_$1" "$2"
			shift
			;;
		topics)
			shift
			cmd_topics "$@"
			return
			;;
		-h | --help | help)
			usage
			;;
		*)
			usage >&2
			die "unknown command '$1'"
			;;
		esac
		shift
	done
}

main "$@"
