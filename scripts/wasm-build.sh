#!/usr/bin/env bash
# Build the browser package into runtime-wasm/www/pkg (the demo page loads
# it from there) and print the .wasm size, raw and gzipped.
#
# Size settings (opt-level "s", fat LTO, one codegen unit) are passed as
# environment overrides of the release profile, so the native release build
# keeps its own; the wasm build also gets its own target directory.
#
# Usage: scripts/wasm-build.sh [extra wasm-pack build args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command -v wasm-pack >/dev/null || { echo "wasm-pack not found: run scripts/install-wasm-tools.sh" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/wasm}"
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=false

wasm-pack build runtime-wasm --target web --out-dir www/pkg --release "$@"

wasm="runtime-wasm/www/pkg/semcrawl_wasm_bg.wasm"
raw=$(wc -c < "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
printf '[wasm-build] %s: %d bytes raw (%d KiB), %d bytes gzipped (%d KiB)\n' \
    "$wasm" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
