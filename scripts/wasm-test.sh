#!/usr/bin/env bash
# The browser runtime's test suite, as CI runs it:
#   1. install the tools (skips what is present at the pinned version),
#   2. build the package into runtime-wasm/www/pkg (release, as deployed),
#   3. wasm-bindgen tests: adapters, core and JS API under headless Chromium
#      (in a page, then in a dedicated Web Worker), then under Node,
#   4. the end-to-end test: the demo page crawling a generated same-origin
#      site in headless Chromium (screenshots in test-output/wasm/).
# Any failure fails the script; nothing is skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> [wasm] %s\n' "$*"; }

step "install tools"
bash scripts/install-wasm-tools.sh

step "build runtime-wasm/www/pkg"
bash scripts/wasm-build.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/wasm}"
step "wasm-bindgen tests under headless Chromium"
wasm-pack test --headless --chrome runtime-wasm --test browser

step "wasm-bindgen tests in a Web Worker under headless Chromium"
wasm-pack test --headless --chrome runtime-wasm --test worker

step "wasm-bindgen tests under Node"
wasm-pack test --node runtime-wasm --test node

step "end-to-end: the demo page in headless Chromium"
node runtime-wasm/e2e/e2e.mjs
