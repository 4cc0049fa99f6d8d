#!/usr/bin/env bash
# bench.sh runs every scenario RUNS times against Parley and Centrifugo on
# this machine and writes one JSON result per scenario and run to OUT.
# docs/benchmarks.md explains the figures; scripts/plot-bench.py draws them.
#
#   cmd/parley-bench/bench.sh [OUT [RUNS]]
#
# Needs: go, curl, and centrifugo v6 in $CENTRIFUGO or ~/go/bin
# (go install github.com/centrifugal/centrifugo/v6@v6.9.1); perf for
# SCENARIOS=syscalls.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-docs/bench/results}
RUNS=${2:-3}
STEP=${STEP:-5s}
# SETTLE is how long the tool waits after the last step for late
# deliveries before it counts the missing ones as lost.
SETTLE=${SETTLE:-5s}
CENTRIFUGO=${CENTRIFUGO:-$HOME/go/bin/centrifugo}
# SCENARIOS picks a subset, e.g. SCENARIOS="dm notify". SCENARIOS=syscalls
# counts the servers' system calls per DM with perf (not run by default).
SCENARIOS=${SCENARIOS:-"dm fanout1k fanout10k notify idle10k idle19k dmfsync dmws dmrecipient"}
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
# TARGETS picks the servers, e.g. TARGETS=centrifugo.
TARGETS=${TARGETS:-"parley centrifugo"}
WORK=$(mktemp -d)
SECRET=bench-secret-0123456789abcdef
KEY=bench-api-key-0123456789abcdef
mkdir -p "$OUT"
go build -o "$WORK/parley" ./cmd/parley
go build -o "$WORK/parley-bench" ./cmd/parley-bench
B="$WORK/parley-bench"
PID=""

stop() { # end the server this script started, by its PID
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID"
		for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	fi
	PID=""
}
trap 'stop; [ -n "${BROKER:-}" ] && kill "$BROKER"; rm -rf "$WORK"' EXIT

parley() { # start a fresh Parley; extra flags pass through
	stop
	rm -rf "$WORK/data"
	"$WORK/parley" serve --data "$WORK/data" --http 127.0.0.1:18080 \
		--kafka-listen 127.0.0.1:19092 --jwt-secret $SECRET --api-key $KEY \
		--log-level warn "$@" >"$WORK/parley.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do curl -sf 127.0.0.1:18080/readyz >/dev/null && return; sleep 0.2; done
	echo "parley not ready" >&2; exit 1
}

centrifugo() { # start a fresh Centrifugo (memory engine) with its Kafka consumer
	stop
	cat >"$WORK/centrifugo.json" <<JSON
{"http_server": {"address": "127.0.0.1", "port": 18000}, "log": {"level": "error"},
 "client": {"token": {"hmac_secret_key": "$SECRET"}, "allowed_origins": ["*"]},
 "http_api": {"key": "$KEY"}, "health": {"enabled": true},
 "channel": {"without_namespace": {"allow_subscribe_for_client": true}},
 "consumers": [{"name": "bench", "enabled": true, "type": "kafka",
   "kafka": {"brokers": ["127.0.0.1:19192"], "topics": ["bench-notifications"],
     "consumer_group": "centrifugo-bench", "publication_data_mode": {"enabled": true}}}]}
JSON
	"$CENTRIFUGO" --config "$WORK/centrifugo.json" >"$WORK/centrifugo.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do curl -sf 127.0.0.1:18000/health >/dev/null && return; sleep 0.2; done
	echo "centrifugo not ready" >&2; exit 1
}

# A bare broker for Centrifugo's Kafka consumer.
"$B" broker --listen 127.0.0.1:19192 2>/dev/null &
BROKER=$!
sleep 1

common() { echo --jwt-secret $SECRET --api-key $KEY --pid "$PID" --step "$STEP" --settle "$SETTLE" --quiet; }

syscalls() { # syscalls RATE FILE TOOL_ARGS...: the server's system calls per DM at RATE
	local rate=$1 file=$2 ev=raw_syscalls:sys_enter s
	shift 2
	for s in read write pwrite64 pread64 lseek epoll_pwait futex nanosleep; do
		ev+=,syscalls:sys_enter_$s
	done
	# One 20 s step; perf counts 8 s of its middle, after connecting.
	"$B" dm "$@" $(common) --pairs 500 --rates "$rate" --step 20s &
	local tool=$!
	sleep 8
	perf stat -x, -e "$ev" -p "$PID" -- sleep 8 2>"$WORK/perf.csv"
	wait $tool
	# "name calls-per-DM" lines; "all" is every system call.
	awk -F, -v n=$((rate * 8)) '$1 ~ /^[0-9]+$/ {
		name = $3; sub(/.*sys_enter_?/, "", name)
		printf "%s %.2f\n", (name == "" ? "all" : name), $1 / n }' "$WORK/perf.csv" >"$file"
}

run_target() { # run_target NAME START ADDR KAFKA
	local t=$1 start=$2 addr=$3 kafka=$4 r=$5
	local a=(--target "$t" --addr "$addr")
	want dm && $start && "$B" dm "${a[@]}" $(common) --pairs 500 \
		--rates 2000,3000,4000,5000,6000,8000,12000,16000 \
		--stop-p99 50ms --json "$OUT/dm-$t-$r.json"
	# Centrifugo's DMs go to both participants' channels, as Parley
	# delivers them; dmrecipient is Centrifugo publishing to the
	# recipient's channel only, half the deliveries.
	want dmrecipient && [ "$t" = centrifugo ] && $start && "$B" dm "${a[@]}" $(common) --pairs 500 \
		--dm-to recipient --rates 2000,3000,4000,5000,6000,8000,12000,16000 \
		--stop-p99 50ms --json "$OUT/dmrecipient-$t-$r.json"
	want fanout1k && $start && "$B" fanout "${a[@]}" $(common) --members 1000 --rates 50,200,500,1000,1500 \
		--json "$OUT/fanout1k-$t-$r.json"
	want fanout10k && $start && "$B" fanout "${a[@]}" $(common) --members 10000 --rates 2,10,20,30 \
		--json "$OUT/fanout10k-$t-$r.json"
	want notify && $start && "$B" notify "${a[@]}" $(common) --kafka "$kafka" --conns 1000 \
		--rates 1000,5000,10000,20000,30000,40000 --json "$OUT/notify-$t-$r.json"
	# Not in the default SCENARIOS: it needs perf and tracepoint access.
	if want syscalls; then
		for rate in 2000 5000; do
			$start && syscalls "$rate" "$OUT/syscalls-$t-$rate-$r.txt" "${a[@]}"
		done
	fi
	want idle10k && $start && "$B" idle "${a[@]}" $(common) --conns 10000 --hold 5s \
		--json "$OUT/idle10k-$t-$r.json"
	# 19,000 connections: two processes, each under the open-file limit.
	want idle19k || return 0
	$start
	local at tag
	at=$(($(date +%s) + 25)); tag="i19k$r$t"
	local pids=()
	for i in 0 1; do
		"$B" idle "${a[@]}" $(common) --conns 19000 --hold 5s --shard $i/2 --start-at $at \
			--tag $tag --json "$WORK/idle19k-$i.json" &
		pids+=($!)
	done
	wait "${pids[@]}"
	"$B" merge --json "$OUT/idle19k-$t-$r.json" "$WORK/idle19k-0.json" "$WORK/idle19k-1.json"
}

for r in $(seq "$RUNS"); do
	if [[ " $TARGETS " == *" parley "* ]]; then
		run_target parley parley 127.0.0.1:18080 127.0.0.1:19092 "$r"
		# The cost of durability: every send is on disk before it is
		# acknowledged. --fsync=sends fsyncs outside kfake's loop, many
		# sends to one fsync; --fsync=all is kfake's fsync per write.
		for mode in sends all; do
			want dmfsync && parley --fsync=$mode && "$B" dm --addr 127.0.0.1:18080 $(common) \
				--pairs 500 --rates 2000,3000,4000,5000,6000,8000,12000 \
				--stop-p99 50ms --json "$OUT/dmfsync-$mode-$r.json"
		done
		# DMs sent as WebSocket frames, as a chat client would; Centrifugo
		# is driven through its HTTP API only, so this one is Parley's alone.
		want dmws && parley && "$B" dm --addr 127.0.0.1:18080 $(common) --pairs 500 --sender ws \
			--rates 2000,3000,4000,5000,6000,8000,12000 \
			--stop-p99 50ms --json "$OUT/dmws-parley-$r.json"
	fi
	if [[ " $TARGETS " == *" centrifugo "* ]]; then
		run_target centrifugo centrifugo 127.0.0.1:18000 127.0.0.1:19192 "$r"
	fi
done
stop
