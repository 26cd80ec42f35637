#!/usr/bin/env bash
# Runs Skyport's whole test suite. Installs what a fresh Debian machine lacks first
# (cmake for Pingora's zlib-ng, redis-server for the rate-limiting tests), then runs every
# unit and integration test. The tests start and stop their own servers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# A real Lambda Invoke API for the aws-lambda tests: cargo-lambda's PyPI wheel (a static
# binary, no compile) in a venv under target/, and the test functions built beforehand so
# the first invoke does not compile.
venv=target/tools/venv
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  python3 -m venv "$venv" 2>/dev/null || { as_root apt-get install -y -qq python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --no-deps cargo-lambda==1.9.2
fi
export CARGO_LAMBDA="$PWD/$venv/bin/cargo-lambda"
cargo build --locked -q --manifest-path tests/lambdas/Cargo.toml

# Unit, binary and integration tests (the crate has no doc tests); with no arguments, also
# Pingora's own tests for the patched crates under vendor/.
cargo test --locked --lib --bins --tests "$@"
if [ $# -eq 0 ]; then ./tests/pingora.sh; fi
