#!/usr/bin/env bash
# The multi-cloud demo in one command: builds everything, starts the users service (HTTPS,
# "Google App Engine"), the orders service ("AWS EC2"), the authentication function on a
# local AWS Lambda (cargo lambda watch) and the gateway in front of them, then walks through
# the scenario with real requests. Keeps running until Ctrl-C, then stops what it started.
#
#   deploy/demo/run.sh            # gateway on 127.0.0.1:8000, admin API on 127.0.0.1:8001
#   deploy/demo/run.sh --check    # ephemeral ports; assert every step, exit 0 or 1
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEMO="$ROOT/deploy/demo"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

say "1/4 tools"
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
VENV="$ROOT/target/tools/venv"
if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  python3 -m venv "$VENV" 2>/dev/null || { as_root apt-get install -y -qq python3-venv && python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --no-deps cargo-lambda==1.9.2
fi
CARGO_LAMBDA="$VENV/bin/cargo-lambda"

say "2/4 build (the first build takes several minutes)"
cargo build --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport
cargo build --locked -q --manifest-path "$DEMO/services/Cargo.toml"
cargo build --locked -q --manifest-path "$DEMO/auth-fn/Cargo.toml"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ $CHECK = 1 ]; then
  GW_PORT=$(free_port); ADMIN_PORT=$(free_port)
else
  GW_PORT=${SKYPORT_DEMO_PORT:-8000}; ADMIN_PORT=${SKYPORT_DEMO_ADMIN_PORT:-8001}
fi
USERS_PORT=$(free_port); ORDERS_PORT=$(free_port); LAMBDA_PORT=$(free_port)
RUN=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # wait_for WHAT COMMAND...: up to 60 s
  for _ in $(seq 1 300); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "$1 did not start; logs in $RUN:" >&2; tail -n 20 "$RUN"/*.log >&2 || true; exit 1
}

say "3/4 start the three services and the gateway"
BIN="$DEMO/services/target/debug"
"$BIN/users-service" "127.0.0.1:$USERS_PORT" "$DEMO/data/users.json" "$RUN/users-ca.pem" > "$RUN/users.log" 2>&1 &
PIDS+=($!)
"$BIN/orders-service" "127.0.0.1:$ORDERS_PORT" "$DEMO/data/orders.json" > "$RUN/orders.log" 2>&1 &
PIDS+=($!)
( cd "$DEMO/auth-fn" && exec "$CARGO_LAMBDA" lambda watch --ignore-changes -A 127.0.0.1 -P "$LAMBDA_PORT" \
    --env-var "JWT_SECRET=Too many secrets." \
    --env-var "JWT_KID=G7lSenm1yjPeJUUEOMDDULj1BfuMDHUV" \
    --env-var "USERS_FILE=$DEMO/data/users.json" ) > "$RUN/lambda.log" 2>&1 &
PIDS+=($!)
wait_for "users service" test -s "$RUN/users-ca.pem"
wait_for "orders service" curl -sf "http://127.0.0.1:$ORDERS_PORT/public"
wait_for "local Lambda" sh -c "curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/__ready__/invocations | grep -q 404"

PEM=$(sed 's/^/      /' "$RUN/users-ca.pem") awk '{ if (index($0, "__USERS_CA_PEM__")) print ENVIRON["PEM"]; else print }' "$DEMO/kong.yml" \
  | sed -e "s/__USERS_PORT__/$USERS_PORT/" -e "s/__ORDERS_PORT__/$ORDERS_PORT/" -e "s/__LAMBDA_PORT__/$LAMBDA_PORT/" > "$RUN/kong.yml"
"$ROOT/target/debug/skyport" config check "$RUN/kong.yml"
SKYPORT_PROXY_LISTEN="127.0.0.1:$GW_PORT" SKYPORT_ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" \
SKYPORT_DECLARATIVE_CONFIG="$RUN/kong.yml" SKYPORT_PID_FILE="$RUN/skyport.pid" \
SKYPORT_UPGRADE_SOCK="$RUN/upgrade.sock" SKYPORT_LOG_LEVEL=warn SKYPORT_WORKER_THREADS=2 \
  "$ROOT/target/debug/skyport" start > "$RUN/gateway.log" 2>&1 &
PIDS+=($!)
wait_for "gateway" curl -sf "http://127.0.0.1:$ADMIN_PORT/status/ready"

say "4/4 the scenario, step by step (gateway http://127.0.0.1:$GW_PORT, admin http://127.0.0.1:$ADMIN_PORT)"
# Rate limits count per calendar minute: start clear of the next :00.
sec=$(date +%S); sec=${sec#0}
if [ "$sec" -gt 50 ]; then sleep $((61 - sec)); fi
rc=0
"$BIN/walkthrough" "http://127.0.0.1:$GW_PORT" "http://127.0.0.1:$ADMIN_PORT" $([ $CHECK = 1 ] && echo --check) || rc=$?
if [ $CHECK = 1 ]; then exit $rc; fi

say "Skyport is running. Try it yourself (Ctrl-C stops everything):"
cat <<TRY
  curl -s -X POST http://127.0.0.1:$GW_PORT/login -H 'Content-Type: application/json' -d '{"email":"bob@example.com","password":"bob-pass"}'
  TOKEN=...   # the "body" of that answer
  curl -s http://127.0.0.1:$GW_PORT/users/2 -H "Authorization: Bearer \$TOKEN"
  curl -s http://127.0.0.1:$ADMIN_PORT/consumers/auth-service-consumer/jwt
  curl -s http://127.0.0.1:$ADMIN_PORT/metrics
TRY
wait
