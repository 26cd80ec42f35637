#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), two at a time, and prints a summary.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Crashes land in fuzz/artifacts/<target>/; each one found becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
targets=(config_load jwt_token path_route lambda_response)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seed corpora from the repository's own examples (kept out of git: fuzz/corpus is generated).
mkdir -p corpus/{config_load,jwt_token,path_route,lambda_response} logs
cp ../tests/fixtures/config/*.yml ../conf/*.yml corpus/config_load/ 2>/dev/null || true
printf '\0{"alg":"HS256","typ":"JWT"}\n{"iss":"the-key","exp":1700000100,"nbf":1699999000}\nsig' > corpus/jwt_token/assembled
printf 'jwt=a.b.c\nBearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln\nsession=x.y.z' > corpus/jwt_token/places
printf 'api/v2/%%2e%%2e/x//y' > corpus/path_route/dots
printf 'users/123' > corpus/path_route/regex
printf '{"statusCode":201,"headers":{"a":"b"},"multiValueHeaders":{"c":["d","e"]},"body":"aGk=","isBase64Encoded":true}' > corpus/lambda_response/proxy

cargo +nightly fuzz build -O -a -s none
run() {
    local t="$1"
    cargo +nightly fuzz run -O -a -s none "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=65536 -print_final_stats=1 > "logs/$t.log" 2>&1 || true
    local stats
    stats=$(grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "logs/$t.log" | tr '\n' ' ')
    local cov
    cov=$(grep -oE 'cov: [0-9]+' "logs/$t.log" | tail -1)
    local crashes
    crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
    echo "$t: $cov $stats crashes=$crashes"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[i]}" &
    run "${targets[i+1]}" &
    wait
done
