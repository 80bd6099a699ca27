#!/usr/bin/env bash
# The scaling table of docs/bench/redis.md: one crawl of a 2,000-page site
# answering after 50 ms, by 1 worker with --state DIR, then by 1, 2 and 4
# workers sharing one Redis (each worker -c 16, --per-host 64), with pages/s
# and Redis round trips per page. Needs redis-server (scripts/test.sh
# installs it). BENCH_RUNS=N repeats the rows N times (alternating).
#
# The binary is built first and passed in SEMCRAWL_BIN: built by the test
# process on its first spawn, its build time would land in the first row.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p semcrawl-cli --bin semcrawl
target="${CARGO_TARGET_DIR:-target}"
SEMCRAWL_BIN="$(cd "$target/release" && pwd)/semcrawl" \
    cargo test --release -p semcrawl-tests --test redis -- --ignored --nocapture --test-threads 1 bench_scaling
