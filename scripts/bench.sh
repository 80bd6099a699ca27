#!/usr/bin/env bash
# The full benchmark (see docs/bench/README.md): fast, slow and big
# sites against the Python reference peer, the memory matrix, the frontier
# scale run and the parse microbenchmark. Writes docs/bench/results.md,
# results.json and the SVG plots. About 15-20 minutes on 2 cores.
#
#   bash scripts/bench.sh                 # everything, 5 runs per cell
#   bash scripts/bench.sh --only fast     # extra arguments go to the harness
#   bash scripts/bench.sh --quick         # the CI smoke run (< 1 minute)
#
# Needs: a Rust toolchain, python3 with the venv module, and PyPI (the peer's
# aiohttp and lxml are installed into target/bench-venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=(--runs 5)
for a in "$@"; do
  case "$a" in --runs|--quick) runs=() ;; esac
done

cargo build --release -p semcrawl-cli -p semcrawl-bench --bin semcrawl --bin bench
exec cargo run --release -p semcrawl-bench --bin bench -- "${runs[@]}" "$@"
