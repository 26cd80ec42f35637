#!/usr/bin/env bash
# Idle and slow clients: 10,000 idle keep-alive clients (one request each) and 1,000 clients
# trickling a header one byte a second, against nginx and Skyport in one run, both with their
# default timeouts, one worker each, in front of the same origin (each told to admit the run's
# connections: nginx's worker_connections, Skyport's max_connections). Prints one JSON line per
# proxy (benches/load/idle.py): RSS and descriptors per connection, how many clients each
# still holds at the end, and a normal client's latency meanwhile.
#
#   benches/load/idle.sh                       # IDLE=10000 TRICKLE=1000 DURATION=20
#   IDLE=2000 TRICKLE=200 DURATION=5 benches/load/idle.sh
#   SKYPORT_BIN=/path/to/skyport benches/load/idle.sh   # a saved build instead of target/release
# Loopback only; every phase is bounded; only processes this script started are stopped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IDLE=${IDLE:-10000}; TRICKLE=${TRICKLE:-1000}; SECONDS_=${DURATION:-20}
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/skyport-idle.XXXX)}; mkdir -p "$RUN_DIR"
BASE=${BASE_PORT:-19100}
ORIGIN=$BASE; NGINX=$((BASE + 1)); SKYPORT=$((BASE + 2)); ADMIN=$((BASE + 3))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE + TRICKLE + 1000)) ] || { echo "descriptor limit $(ulimit -n) is below IDLE+TRICKLE+1000" >&2; exit 1; }
SKYPORT_BIN=${SKYPORT_BIN:-$ROOT/target/release/skyport}
[ "$SKYPORT_BIN" = "$ROOT/target/release/skyport" ] && cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport --example bare_proxy

cat > "$RUN_DIR/origin.conf" <<CONF
worker_processes 1; pid $RUN_DIR/origin.pid; error_log $RUN_DIR/origin.err warn; daemon off;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$ORIGIN; location / { return 200 "ok"; } } }
CONF
# nginx as a proxy with its documented defaults (keepalive_timeout 75s, client_header_timeout
# 60s), enough connections for the run.
cat > "$RUN_DIR/nginx.conf" <<CONF
worker_processes 1; worker_rlimit_nofile $((2 * (IDLE + TRICKLE) + 1000)); pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx.err warn; daemon off;
events { worker_connections $((2 * (IDLE + TRICKLE) + 1000)); }
http { access_log off; upstream origin { server 127.0.0.1:$ORIGIN; keepalive 128; }
  server { listen 127.0.0.1:$NGINX; proxy_http_version 1.1; proxy_set_header Connection "";
    location / { proxy_pass http://origin; } } }
CONF
cat > "$RUN_DIR/kong.yml" <<CONF
_format_version: "3.0"
services:
  - name: origin
    url: http://127.0.0.1:$ORIGIN
    routes: [{ name: plain, paths: [/], strip_path: false }]
CONF

wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
nginx -c "$RUN_DIR/origin.conf" -p "$RUN_DIR" & PIDS+=($!)
nginx -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" & PIDS+=($!); NGINX_PID=$!
SKYPORT_PROXY_LISTEN=127.0.0.1:$SKYPORT SKYPORT_ADMIN_LISTEN=127.0.0.1:$ADMIN SKYPORT_DECLARATIVE_CONFIG="$RUN_DIR/kong.yml" \
SKYPORT_MAX_CONNECTIONS=$((IDLE + TRICKLE + 100)) SKYPORT_WORKER_WORK_STEALING=off SKYPORT_WORKER_THREADS=1 SKYPORT_LOG_LEVEL=error SKYPORT_PID_FILE="$RUN_DIR/skyport.pid" \
SKYPORT_UPGRADE_SOCK="$RUN_DIR/upgrade.sock" "$SKYPORT_BIN" start > "$RUN_DIR/skyport.log" 2>&1 & PIDS+=($!); SKYPORT_PID=$!
for p in $ORIGIN $NGINX $SKYPORT; do wait_port "$p"; done
# nginx's master forks the worker: measure the worker (the master holds no client).
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
for target in nginx skyport; do
  case $target in nginx) port=$NGINX; pids=$NGINX_WORKER;; skyport) port=$SKYPORT; pids=$SKYPORT_PID;; esac
  printf '%s ' "$target"
  timeout $((120 + ${SECONDS_%.*})) python3 "$ROOT/benches/load/idle.py" "$port" "$pids" --idle "$IDLE" --trickle "$TRICKLE" --seconds "$SECONDS_"
done
