#!/usr/bin/env bash
# Where a proxied request's CPU goes, Skyport next to nginx, measured the same way in the same
# minute: CPU per request split user/kernel, system calls and context switches per request,
# and (with perf) the share of samples by component for Skyport. The origin and the load
# generator share CPU 0, the proxy is alone on CPU 1.
#
#   benches/load/profile.sh                 # plain route, 5 s per target
#   SCENARIO=auth SECS=10 benches/load/profile.sh
#   BARE=1 benches/load/profile.sh         # also the floor: a bare Pingora proxy (examples/bare_proxy.rs)
#   BEFORE=/tmp/old BARE=1 ROUNDS=3 PERF=0 benches/load/profile.sh
#                                           # also another build's skyport and bare_proxy (the
#                                           # binaries in /tmp/old), in the same minute, 3 rounds
#
# Needs perf (Debian: linux-perf) for the syscall counts and the sample breakdown; without
# it (or with PERF=0) only the /proc figures are printed. Sampling costs Skyport CPU while it
# is measured (≈ 10-25 % here): take CPU per request from a PERF=0 run. 127.0.0.1 only; loads bounded by wrk -d and timeout;
# only the processes started here are stopped, by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/benches/load/auth.sh"
SCENARIO=${SCENARIO:-plain}; SECS=${SECS:-5}; BASE=${BASE_PORT:-19200}; ROUNDS=${ROUNDS:-1}
O=$BASE; N=$((BASE + 1)); S=$((BASE + 2)); A=$((BASE + 3)); B=$((BASE + 4)); BARE=${BARE:-0}
S0=$((BASE + 5)); A0=$((BASE + 6)); B0=$((BASE + 7)); BEFORE=${BEFORE:-}
D=$(mktemp -d /tmp/skyport-profile.XXXX)
# The same targets in every load script: a build of the binary alone resolves the dependencies'
# features differently (the example brings the dev-dependencies) and relinks everything.
cargo build --release --locked -q --manifest-path "$ROOT/Cargo.toml" --bin skyport --example bare_proxy
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cat > "$D/origin.conf" <<CONF
worker_processes 1; pid $D/origin.pid; error_log $D/origin.err warn; daemon off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$O; location / { return 200 "ok"; } } }
CONF
cat > "$D/nginx.conf" <<CONF
worker_processes 1; pid $D/nginx.pid; error_log $D/nginx.err warn; daemon off; master_process off;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; upstream origin { server 127.0.0.1:$O; keepalive 128; }
  server { listen 127.0.0.1:$N; proxy_http_version 1.1; proxy_set_header Connection ""; location / { proxy_pass http://origin; } } }
CONF
cat > "$D/kong.yml" <<CONF
_format_version: "3.0"
services:
  - { name: origin, url: "http://127.0.0.1:$O", routes: [{ name: plain, paths: [/], strip_path: false }] }
  - { name: origin-auth, url: "http://127.0.0.1:$O", routes: [{ name: auth, paths: [/auth] }, { name: keyauth, paths: [/keyauth] }] }
CONF
auth_yaml >> "$D/kong.yml"
TOKEN=$(auth_token)

nginx -c "$D/origin.conf" -p "$D" & PIDS+=($!); OP=$!
nginx -c "$D/nginx.conf" -p "$D" & PIDS+=($!); NP=$!
# start_skyport NAME BINARY PORT ADMIN_PORT: sets LAST_PID.
start_skyport() {
  SKYPORT_PROXY_LISTEN=127.0.0.1:$3 SKYPORT_ADMIN_LISTEN=127.0.0.1:$4 SKYPORT_DECLARATIVE_CONFIG="$D/kong.yml" \
  SKYPORT_WORKER_WORK_STEALING=off SKYPORT_WORKER_THREADS=1 SKYPORT_LOG_LEVEL=error SKYPORT_PID_FILE="$D/$1.pid" SKYPORT_UPGRADE_SOCK="$D/$1.sock" \
    "$2" start > "$D/$1.log" 2>&1 & PIDS+=($!); LAST_PID=$!
}
start_skyport skyport "$ROOT/target/release/skyport" $S $A; SP=$LAST_PID
TARGETS="nginx skyport"; PORTS="$O $N $S"
if [ "$BARE" = 1 ]; then
  "$ROOT/target/release/examples/bare_proxy" 127.0.0.1:$B 127.0.0.1:$O > "$D/bare.log" 2>&1 & PIDS+=($!); BP=$!
  TARGETS="nginx pingora skyport"; PORTS="$PORTS $B"
fi
if [ -n "$BEFORE" ]; then
  start_skyport skyport-before "$BEFORE/skyport" $S0 $A0; SP0=$LAST_PID
  TARGETS="$TARGETS skyport-before"; PORTS="$PORTS $S0"
  if [ "$BARE" = 1 ]; then
    "$BEFORE/bare_proxy" 127.0.0.1:$B0 127.0.0.1:$O > "$D/bare0.log" 2>&1 & PIDS+=($!); BP0=$!
    TARGETS="$TARGETS pingora-before"; PORTS="$PORTS $B0"
  fi
fi
for p in $PORTS; do
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.1; done
done
for p in $OP $(pgrep -P $OP || true); do taskset -a -p -c 0 "$p" >/dev/null; done
taskset -a -p -c 1 $NP >/dev/null; taskset -a -p -c 1 $SP >/dev/null
[ "$BARE" = 1 ] && taskset -a -p -c 1 $BP >/dev/null
[ -n "$BEFORE" ] && taskset -a -p -c 1 $SP0 >/dev/null
[ -n "$BEFORE" ] && [ "$BARE" = 1 ] && taskset -a -p -c 1 $BP0 >/dev/null
HAVE_PERF=0; [ "${PERF:-1}" = 1 ] && perf --version >/dev/null 2>&1 && HAVE_PERF=1

ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/ {v+=$2} /^nonvoluntary_ctxt/ {n+=$2} END {print v, n}'; }
for round in $(seq 1 "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && echo "round $round"
# Odd rounds in the listed order, even rounds reversed: no target always runs first or last.
ORDER=$TARGETS; [ $((round % 2)) = 0 ] && ORDER=$(echo "$TARGETS" | tr ' ' '\n' | tac | tr '\n' ' ')
for target in $ORDER; do
  case $target in nginx) pid=$NP; port=$N; path=/;; skyport) pid=$SP; port=$S; path=/;; pingora) pid=$BP; port=$B; path=/;;
    skyport-before) pid=$SP0; port=$S0; path=/;; pingora-before) pid=$BP0; port=$B0; path=/;; esac
  args=()
  if [ "$SCENARIO" = auth ]; then
    args=(-H "Authorization: Bearer $TOKEN")
    # nginx and the bare proxy have no jwt: they proxy the plain route, the baseline the issue compares against.
    case $target in skyport*) path=/auth/;; esac
  fi
  url=http://127.0.0.1:$port$path
  taskset -c 0 timeout 20 wrk -t1 -c64 -d2s "${args[@]}" "$url" >/dev/null
  read -r u0 s0 < <(ticks $pid); read -r v0 n0 < <(switches $pid)
  if [ $HAVE_PERF = 1 ]; then
    rec=(); [ $target = skyport ] && rec=(perf record -F 2999 -o "$D/perf.data" -p $pid -- sleep "$SECS")
    perf stat -e 'syscalls:sys_enter_*' -p $pid -o "$D/$target.stat" -- sleep "$SECS" >/dev/null 2>&1 &
    ST=$!
    [ ${#rec[@]} -gt 0 ] && { "${rec[@]}" >/dev/null 2>&1 & REC=$!; }
  fi
  taskset -c 0 timeout $((SECS + 15)) wrk -t1 -c64 -d"${SECS}s" "${args[@]}" "$url" > "$D/$target.wrk"
  read -r u1 s1 < <(ticks $pid); read -r v1 n1 < <(switches $pid)
  if [ $HAVE_PERF = 1 ]; then wait $ST; [ $target = skyport ] && wait "$REC"; fi
  req=$(awk '/requests in/ {print $1}' "$D/$target.wrk")
  awk -v t=$target -v r="$req" -v s="$SECS" -v u=$((u1 - u0)) -v k=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
      -v v=$((v1 - v0)) -v n=$((n1 - n0)) 'BEGIN {
    printf "%-14s %7.0f req/s  CPU per request %5.1f us (user %4.1f, kernel %4.1f)  context switches/req %.3f\n",
      t, r / s, (u + k) / hz / r * 1e6, u / hz / r * 1e6, k / hz / r * 1e6, (v + n) / r
    printf "%s %f %f\n", t, (u + k) / hz / r * 1e6, r / s >> "'"$D/rounds"'" }'
  if [ $HAVE_PERF = 1 ]; then
    grep -E '^ +[0-9,]+ +syscalls' "$D/$target.stat" | tr -d ',' | \
      awk -v r="$req" '$1 / r >= 0.01 { sub("syscalls:sys_enter_", "", $2); printf "    %5.2f %s/req\n", $1 / r, $2 }' | sort -rn
  fi
done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo "medians over $ROUNDS rounds (CPU per request, × nginx's; req/s, × nginx's):"
  for t in $TARGETS; do
    cpu=$(awk -v t=$t '$1 == t {print $2}' "$D/rounds" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    rps=$(awk -v t=$t '$1 == t {print $3}' "$D/rounds" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    echo "$t $cpu $rps"
  done | awk '$1 == "nginx" {nc = $2; nr = $3} {c[NR] = $2; r[NR] = $3; n[NR] = $1}
    END {for (i = 1; i <= NR; i++) printf "  %-14s %6.1f us  %5.2fx   %7.0f req/s  %5.2fx\n", n[i], c[i], c[i] / nc, r[i], r[i] / nr}'
fi
if [ $HAVE_PERF = 1 ]; then
  echo "Skyport's samples by component (% of all samples):"
  perf report -i "$D/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | \
    awk '{ p = $1; sub("%", "", p); line = $0; c = "other user space"
      if (line ~ /\[kernel/) c = "kernel"; else if (line ~ /skyport::/) c = "skyport (own code)"
      else if (line ~ /pingora/) c = "pingora"; else if (line ~ /mi_|_mi_/) c = "allocator (mimalloc)"
      else if (line ~ /http::|httparse/) c = "http header maps and parsing"; else if (line ~ /tokio/) c = "tokio"
      else if (line ~ /memmove|memcpy|memset/) c = "memmove/memcpy"; else if (line ~ /jsonwebtoken|aws_lc|serde/) c = "jwt, hmac, json"
      share[c] += p } END { for (c in share) printf "    %5.1f %%  %s\n", share[c], c }' | sort -rn
  echo "perf data: $D/perf.data (perf report -i $D/perf.data)"
fi
