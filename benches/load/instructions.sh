#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind (callgrind: every user-space instruction
# the proxy process executes, all threads; a count, not a timing, so it does not move with the
# machine's load). A keep-alive client sends WARM requests, the counters are zeroed, N more
# requests are sent and the count is divided by N. Measures Skyport's plain route and the bare
# Pingora proxy (examples/bare_proxy.rs); BEFORE=<dir> also measures another build's binaries
# (`skyport`, `bare_proxy` in that directory). nginx 1 worker proxying the same origin is the
# yardstick.
#
#   benches/load/instructions.sh                     # needs valgrind (Debian: valgrind)
#   N=2000 BEFORE=/tmp/old benches/load/instructions.sh
#   KEEP=/tmp/cg benches/load/instructions.sh        # keep the profiles: callgrind_annotate /tmp/cg/skyport-now.*
#   HEADER='Connection: keep-alive' benches/load/instructions.sh   # one more field on the plain requests
#
# 127.0.0.1 only; every process started here is stopped by PID; the client is bounded by N.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/benches/load/auth.sh"
N=${N:-2000}; WARM=${WARM:-300}; BASE=${BASE_PORT:-19300}; BEFORE=${BEFORE:-}; KEEP=${KEEP:-}; HEADER=${HEADER:-}
O=$BASE; P=$((BASE + 1)); A=$((BASE + 2))
D=$(mktemp -d /tmp/skyport-instr.XXXX)
cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport --example bare_proxy
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cat > "$D/origin.conf" <<CONF
worker_processes 1; pid $D/origin.pid; error_log $D/origin.err warn; daemon off;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$O; location / { return 200 "ok"; } } }
CONF
cat > "$D/kong.yml" <<CONF
_format_version: "3.0"
services:
  - { name: origin, url: "http://127.0.0.1:$O", routes: [{ name: plain, paths: [/], strip_path: false }] }
  - { name: origin-auth, url: "http://127.0.0.1:$O", routes: [{ name: auth, paths: [/auth] }, { name: keyauth, paths: [/keyauth] }] }
CONF
auth_yaml >> "$D/kong.yml"
TOKEN=$(auth_token)
nginx -c "$D/origin.conf" -p "$D" & PIDS+=($!)
cat > "$D/nginx.conf" <<CONF
worker_processes 1; pid $D/nginx.pid; error_log $D/nginx.err warn; daemon off; master_process off;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; upstream origin { server 127.0.0.1:$O; keepalive 128; }
  server { listen 127.0.0.1:$P; proxy_http_version 1.1; proxy_set_header Connection ""; location / { proxy_pass http://origin; } } }
CONF
# nginx doing the header work Skyport does on its plain route (Kong's forwarding fields, Via
# both ways, a request id both ways, two latency fields on the answer): what the same job costs
# nginx over its plain proxy, the yardstick for Skyport's own share over the bare Pingora proxy.
sed -e 's|location / { proxy_pass http://origin; }|location / { proxy_pass http://origin; proxy_set_header Connection ""; \
  proxy_set_header X-Real-IP $remote_addr; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; \
  proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host; \
  proxy_set_header X-Forwarded-Port $server_port; proxy_set_header X-Forwarded-Path $uri; \
  proxy_set_header Via "1.1 kong/3.9.1"; proxy_set_header X-Kong-Request-Id $request_id; \
  add_header Via "1.1 kong/3.9.1"; add_header X-Kong-Upstream-Latency $upstream_header_time; \
  add_header X-Kong-Proxy-Latency $upstream_connect_time; add_header X-Kong-Request-Id $request_id; }|' \
  "$D/nginx.conf" > "$D/nginx-kong.conf"

wait_port() { for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on $1" >&2; exit 1; }
# client PATH COUNT [HEADER]: COUNT keep-alive GETs on one connection, each answer read whole.
client() {
  python3 - "$P" "$1" "$2" "${3:-}" <<'PY'
import http.client, sys
port, path, n, header = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
h = dict([header.split(": ", 1)]) if header else {}
for _ in range(n):
    c.request("GET", path, headers=h)
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit(f"status {r.status}")
PY
}
# measure NAME PATH [HEADER] -- COMMAND...: prints instructions per request.
measure() {
  local name=$1 path=$2 header=$3; shift 4
  valgrind --tool=callgrind --callgrind-out-file="$D/$name.%p" "$@" > "$D/$name.log" 2>&1 & PIDS+=($!)
  local pid=$!
  wait_port $P
  client "$path" "$WARM" "$header"
  callgrind_control -z $pid >/dev/null
  client "$path" "$N" "$header"
  callgrind_control -d $pid >/dev/null
  local ir
  ir=$(grep -h '^summary:' "$D/$name".$pid.* 2>/dev/null | awk '{s += $2} END {print s}')
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; cp "$D/$name".$pid.* "$KEEP/"; fi
  kill $pid; wait $pid 2>/dev/null || true
  awk -v n="$name" -v ir="$ir" -v r="$N" 'BEGIN { printf "%-22s %9.0f instructions per request\n", n, ir / r }'
  rm -f "$D/$name".$pid.*
}
# Skyport's settings (the bare proxy ignores them).
export SKYPORT_PROXY_LISTEN=127.0.0.1:$P SKYPORT_ADMIN_LISTEN=127.0.0.1:$A SKYPORT_DECLARATIVE_CONFIG="$D/kong.yml" \
  SKYPORT_WORKER_WORK_STEALING=off SKYPORT_WORKER_THREADS=1 SKYPORT_LOG_LEVEL=error SKYPORT_PID_FILE="$D/sk.pid" \
  SKYPORT_UPGRADE_SOCK="$D/up.sock" SKYPORT_WATCH_CONFIG=off
wait_port $O
measure nginx / "$HEADER" -- nginx -c "$D/nginx.conf" -p "$D"
measure nginx-kong-fields / "$HEADER" -- nginx -c "$D/nginx-kong.conf" -p "$D"
for build in now ${BEFORE:+before}; do
  dir=$ROOT/target/release; ex=$dir/examples/bare_proxy
  [ $build = before ] && { dir=$BEFORE; ex=$BEFORE/bare_proxy; }
  measure "pingora-$build" / "$HEADER" -- "$ex" 127.0.0.1:$P 127.0.0.1:$O
  measure "skyport-$build" / "$HEADER" -- "$dir/skyport" start
  measure "skyport-auth-$build" /auth/ "Authorization: Bearer $TOKEN" -- "$dir/skyport" start
done
