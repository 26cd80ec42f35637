#!/usr/bin/env bash
# Builds Skyport (installing cmake if it is missing) and starts it in the foreground on the
# example config: proxy on :8000, admin API on 127.0.0.1:8001. Try, from another shell:
#   curl -i http://127.0.0.1:8000/gateway/status     (proxied to the admin API's /status)
#   curl -i http://127.0.0.1:8000/nothing            (404: no route)
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v cmake >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake build-essential
fi
cargo build --release --locked
exec ./target/release/skyport start -c conf/skyport.conf
