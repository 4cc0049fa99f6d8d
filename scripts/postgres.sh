#!/usr/bin/env bash
# postgres.sh runs a throwaway PostgreSQL server on loopback for Parley's
# store tests, from Debian's server binaries. See usage() below or run it with
# --help.
set -euo pipefail

PG_DIR="${PARLEY_PG_DIR:-/tmp/parley-pg}"
# Below Linux's ephemeral range (32768-60999): a port in it can be taken, as
# the local end of some client's connection, right when the server starts.
PG_PORT="${PARLEY_PG_PORT:-25432}"
DB_NAME=parley_test
DB_USER=parley
DB_PASSWORD=parley
DATA="$PG_DIR/data"
SOCKET_DIR="$PG_DIR/run"
LOG="$PG_DIR/postgres.log"
# MARKER tells clean that a folder is ours to delete.
MARKER=".parley-pg"

usage() {
	cat <<EOF
Usage: $(basename "$0") COMMAND [COMMAND ...]

Runs a PostgreSQL server for tests on 127.0.0.1:$PG_PORT with database
$DB_NAME owned by user $DB_USER (password $DB_PASSWORD, allowed to create
databases). Commands run in the order given.

Commands:
  start       create the cluster if needed, start it if stopped, make sure the
              user and database exist, print the connection URL
  stop        stop the server (fast shutdown)
  restart     stop and start the server (fast shutdown: clients are cut off)
  kill        stop the server with an immediate shutdown, as a crash would
  status      say whether the server runs and answers
  url         print the connection URL
  clean       stop the server and delete its folder
  -h, --help  show this text

The URL goes to standard output; progress goes to standard error.

Environment:
  PARLEY_PG_DIR   cluster, socket and log folder (default /tmp/parley-pg)
  PARLEY_PG_PORT  TCP port on 127.0.0.1 (default 25432)
  PARLEY_PG_BIN   folder of initdb, pg_ctl and psql (default: the newest
                  /usr/lib/postgresql/*/bin, else the PATH)

The server log is \$PARLEY_PG_DIR/postgres.log and its PID is the first line
of \$PARLEY_PG_DIR/data/postmaster.pid. When run as root, the server runs as
the postgres user, since PostgreSQL refuses to run as root. Durability is
traded for speed (fsync=off): fine for tests, wrong for anything else.
EOF
}

log() { printf 'postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

url() {
	echo "postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=disable"
}

pg_bin() {
	local dir
	if [[ -n "${PARLEY_PG_BIN:-}" ]]; then
		echo "$PARLEY_PG_BIN"
		return
	fi
	dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d \
		2>/dev/null | sort -V | tail -n 1)"
	if [[ -n "$dir" && -x "$dir/initdb" ]]; then
		echo "$dir"
	elif command -v initdb >/dev/null; then
		dirname "$(command -v initdb)"
	else
		die "PostgreSQL server binaries not found (apt-get install postgresql)"
	fi
}

# as_owner runs a command as the user that owns the cluster: postgres when
# this script runs as root, the caller otherwise.
as_owner() {
	if ((EUID == 0)); then
		# From a folder postgres may enter, or its tools complain.
		(cd / && "$(command -v runuser || echo /usr/sbin/runuser)" -u postgres -- "$@")
	else
		"$@"
	fi
}

superuser() {
	if ((EUID == 0)); then echo postgres; else id -un; fi
}

pg_ctl() {
	as_owner "$(pg_bin)/pg_ctl" -D "$DATA" "$@"
}

# psql_admin runs SQL as the cluster's superuser over the Unix socket.
psql_admin() {
	as_owner "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" \
		-p "$PG_PORT" -U "$(superuser)" -d postgres "$@"
}

running() {
	[[ -f "$DATA/postmaster.pid" ]] && pg_ctl status >/dev/null 2>&1
}

fail_with_log() {
	log "last lines of $LOG:"
	tail -n 30 "$LOG" >&2 || true
	die "$1"
}

init_cluster() {
	[[ -f "$DATA/PG_VERSION" ]] && return
	log "creating a cluster in $DATA"
	mkdir -p "$PG_DIR"
	touch "$PG_DIR/$MARKER"
	mkdir -p "$SOCKET_DIR"
	if ((EUID == 0)); then
		getent passwd postgres >/dev/null || die "no postgres user to run the server as"
		chown -R postgres: "$PG_DIR"
	fi
	local pwfile="$PG_DIR/.pw"
	# initdb sets the superuser's password from a file; nobody logs in with
	# it over TCP, but scram needs one to exist.
	as_owner sh -c "umask 077; echo '$DB_PASSWORD' >'$pwfile'"
	if ! as_owner "$(pg_bin)/initdb" -D "$DATA" -U "$(superuser)" \
		--pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1; then
		cat "$PG_DIR/initdb.log" >&2
		die "initdb failed"
	fi
	rm -f "$pwfile"
	as_owner sh -c "cat >>'$DATA/postgresql.conf'" <<EOF

# Set by scripts/postgres.sh for tests.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_connections = off
EOF
}

ensure_database() {
	local exists
	exists="$(psql_admin -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")"
	if [[ "$exists" != 1 ]]; then
		psql_admin -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
	fi
	exists="$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")"
	if [[ "$exists" != 1 ]]; then
		psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
	fi
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_server() {
	mkdir -p "$SOCKET_DIR"
	((EUID == 0)) && chown postgres: "$SOCKET_DIR"
	if ! pg_ctl -l "$LOG" -w -t 60 start >/dev/null 2>&1; then
		fail_with_log "the server did not start"
	fi
	log "server running, PID $(head -n 1 "$DATA/postmaster.pid"), port $PG_PORT"
}

cmd_start() {
	init_cluster
	if running; then
		log "already running"
	else
		port_open "$PG_PORT" &&
			die "port $PG_PORT is taken by a server this script did not start"
		start_server
	fi
	ensure_database
	url
}

cmd_stop() {
	if running; then
		pg_ctl -m fast -w -t 60 stop >/dev/null || fail_with_log "the server did not stop"
		log "stopped"
	else
		log "not running"
	fi
}

cmd_restart() {
	[[ -f "$DATA/PG_VERSION" ]] || die "no cluster in $DATA: run start first"
	cmd_stop
	start_server
}

cmd_kill() {
	if running; then
		pg_ctl -m immediate -w -t 60 stop >/dev/null || fail_with_log "the server did not stop"
		log "stopped immediately"
	else
		log "not running"
	fi
}

cmd_status() {
	if running; then
		echo "running, PID $(head -n 1 "$DATA/postmaster.pid"), 127.0.0.1:$PG_PORT"
		"$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d "$DB_NAME" ||
			echo "not accepting connections yet"
	else
		echo "stopped"
	fi
}

cmd_clean() {
	[[ -d "$PG_DIR" ]] || return 0
	[[ -f "$PG_DIR/$MARKER" ]] || die "$PG_DIR was not made by this script; not deleting it"
	[[ -f "$DATA/PG_VERSION" ]] && cmd_stop
	rm -rf "$PG_DIR"
	log "deleted $PG_DIR"
}

main() {
	(($# > 0)) || {
		usage >&2
		exit 2
	}
	while (($# > 0)); do
		case "$1" in
		start) cmd_start ;;
		stop) cmd_stop ;;
		restart) cmd_restart ;;
		kill) cmd_kill ;;
		status) cmd_status ;;
		url) url ;;
		clean) cmd_clean ;;
		-h | --help | help) usage ;;
		*)
			usage >&2
			die "unknown command '$1'"
			;;
		esac
		shift
	done
}

main "$@"
