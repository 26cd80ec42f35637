#!/usr/bin/env bash
# Added latency of the plugins that leave the box's CPU: the rate-limiting `redis` policy (one
# round trip to a local redis-server) and an `aws-lambda` route (gateway -> cargo lambda watch
# running tests/lambdas' echo function), each against a plain proxied route of the same
# gateway, and the Lambda route against invoking the local Lambda directly.
# Closed loop, wrk -c LAT_CONNS, bounded by -d; everything on 127.0.0.1; stops what it started.
#
#   benches/load/added_latency.sh            # LAT_CONNS=4 DURATION=10
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/load"
DURATION=${DURATION:-10}; LAT_CONNS=${LAT_CONNS:-4}
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/skyport-latency.XXXX)}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ORIGIN=$(free_port); REDIS=$(free_port); LAMBDA=$(free_port); GW=$(free_port); ADMIN=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for t in wrk redis-server nginx; do command -v "$t" >/dev/null || { echo "needs $t (tests/run.sh and run.sh install them)" >&2; exit 1; }; done
CARGO_LAMBDA=${CARGO_LAMBDA:-$ROOT/target/tools/venv/bin/cargo-lambda}
cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport --example bare_proxy
cargo build --locked -q --manifest-path "$ROOT/tests/lambdas/Cargo.toml"

cat > "$RUN_DIR/origin.conf" <<CONF
worker_processes 1; pid $RUN_DIR/origin.pid; error_log $RUN_DIR/origin.err warn; daemon off;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$ORIGIN; location / { return 200 "ok"; } } }
CONF
nginx -c "$RUN_DIR/origin.conf" -p "$RUN_DIR" & PIDS+=($!)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no > "$RUN_DIR/redis.log" 2>&1 & PIDS+=($!)
( cd "$ROOT/tests/lambdas" && exec "$CARGO_LAMBDA" lambda watch --ignore-changes -A 127.0.0.1 -P "$LAMBDA" ) > "$RUN_DIR/lambda.log" 2>&1 & PIDS+=($!)
cat > "$RUN_DIR/kong.yml" <<CONF
_format_version: "3.0"
services:
  - name: origin
    url: http://127.0.0.1:$ORIGIN
    routes:
      - { name: plain, paths: [/plain] }
      - { name: redis, paths: [/redis] }
routes:
  - { name: lambda, paths: [/lambda] }
plugins:
  - { name: rate-limiting, route: redis, config: { second: 1000000000, limit_by: ip, policy: redis, redis: { host: 127.0.0.1, port: $REDIS } } }
  - { name: aws-lambda, route: lambda, config: { aws_key: k, aws_secret: s, aws_region: us-east-1, function_name: echo, host: 127.0.0.1, port: $LAMBDA, disable_https: true } }
CONF
SKYPORT_PROXY_LISTEN=127.0.0.1:$GW SKYPORT_ADMIN_LISTEN=127.0.0.1:$ADMIN SKYPORT_DECLARATIVE_CONFIG="$RUN_DIR/kong.yml" \
SKYPORT_LOG_LEVEL=error SKYPORT_PID_FILE="$RUN_DIR/skyport.pid" SKYPORT_UPGRADE_SOCK="$RUN_DIR/up.sock" \
  "$ROOT/target/release/skyport" start > "$RUN_DIR/skyport.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$ADMIN/status/ready" >/dev/null 2>&1 \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$LAMBDA/2015-03-31/functions/echo/invocations")" = 200 ] && break
  sleep 0.2
done
printf 'wrk.method = "POST"\nwrk.body = "{}"\n' > "$RUN_DIR/post.lua"
cat "$HERE/latency.lua" >> "$RUN_DIR/post.lua"
run() { # label url [script]
  local s=${3:-$HERE/latency.lua}
  timeout $((DURATION + 10)) wrk -t1 -c "$LAT_CONNS" -d 2s -s "$s" "$2" >/dev/null
  local line; line=$(timeout $((DURATION + 10)) wrk -t1 -c "$LAT_CONNS" -d "${DURATION}s" -s "$s" "$2" | grep '^WRK')
  echo "$1 $line"
}
echo "closed loop, $LAT_CONNS connections, ${DURATION}s each; latencies in µs"
run "gateway-plain        " "http://127.0.0.1:$GW/plain"
run "gateway-redis-policy " "http://127.0.0.1:$GW/redis"
run "lambda-direct        " "http://127.0.0.1:$LAMBDA/2015-03-31/functions/echo/invocations" "$RUN_DIR/post.lua"
run "gateway-lambda-route " "http://127.0.0.1:$GW/lambda" "$RUN_DIR/post.lua"
