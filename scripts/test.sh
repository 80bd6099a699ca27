#!/usr/bin/env bash
# The whole test suite, as CI runs it (see README.md, "Quick start").
# Installs what it needs on a fresh machine; skips nothing silently.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
command -v cargo-fmt >/dev/null && command -v cargo-clippy >/dev/null || {
  echo "rustfmt/clippy missing and could not be installed" >&2; exit 1; }

step "redis-server (the tests of crawls shared through Redis start their own)"
if ! command -v redis-server >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (native)"
cargo test --workspace

step "browser runtime (wasm-pack, headless Chromium)"
bash scripts/wasm-test.sh

step "benchmark harness smoke run (--quick)"
cargo run --release -p semcrawl-bench --bin bench -- --quick

printf '\nall checks passed\n'
