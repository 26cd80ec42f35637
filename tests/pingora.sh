#!/usr/bin/env bash
# The unit tests of the patched copies under vendor/ (Pingora crates, http, mimalloc; see vendor/PATCHES.md),
# against Skyport's lock file. Only the modules that stay in memory or on 127.0.0.1 run:
# some of Pingora's connector tests dial public hosts, which Skyport's tests never do.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked -p pingora-core --lib -- \
  apps:: connectors::idle modules::http protocols::http::authority \
  protocols::http::compression protocols::http::conditional_filter protocols::http::date \
  protocols::http::server:: protocols::http::v1:: protocols::l4::socket \
  protocols::l4::stream::tests::test_read_pending_timing_switch server::configuration \
  upstreams::peer
cargo test --locked -p pingora-http --lib
cargo test --locked -p pingora-timeout --lib
cargo test --locked -p pingora-proxy --lib
cargo test --locked -p http --lib --tests
cargo test --locked -p mimalloc --lib
