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

# Drop the "name" custom section (function names for stack traces, ~15% of
# the module). wasm-pack has no switch for wasm-bindgen's
# --remove-name-section, and `strip = true` would also drop the
# target_features section that wasm-bindgen reads. Custom sections carry no
# semantics, so removing one cannot change what the module does.
node - "$wasm" <<'JS'
const fs = require('fs');
const file = process.argv[2];
const d = fs.readFileSync(file);
const leb = (i) => { let r = 0, s = 0, b; do { b = d[i++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return [r, i]; };
const parts = [d.subarray(0, 8)];
let i = 8, dropped = 0;
while (i < d.length) {
  const start = i, id = d[i];
  const [size, body] = leb(i + 1);
  i = body + size;
  if (id === 0) {
    const [len, name] = leb(body);
    if (d.subarray(name, name + len).toString() === 'name') { dropped += i - start; continue; }
  }
  parts.push(d.subarray(start, i));
}
fs.writeFileSync(file, Buffer.concat(parts));
console.error(`[wasm-build] removed the name section (${dropped} bytes)`);
JS
# The npm package: wasm-pack writes pkg/package.json from runtime-wasm's
# Cargo.toml (name, version, description, license, keywords) and the files
# it built (files, module, types). Check nothing a registry shows is missing.
node - runtime-wasm/www/pkg/package.json <<'JS'
const pkg = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const need = ['name', 'version', 'description', 'license', 'files', 'types', 'keywords'];
const missing = need.filter((k) => pkg[k] === undefined || (Array.isArray(pkg[k]) && pkg[k].length === 0));
if (missing.length) { console.error(`[wasm-build] package.json lacks: ${missing.join(', ')}`); process.exit(1); }
if (!pkg.files.includes(pkg.types)) { console.error(`[wasm-build] package.json: types ${pkg.types} not in files`); process.exit(1); }
console.error(`[wasm-build] package.json: ${pkg.name}@${pkg.version} (${pkg.license}), keywords ${pkg.keywords.join(', ')}`);
JS
raw=$(wc -c < "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
printf '[wasm-build] %s: %d bytes raw (%d KiB), %d bytes gzipped (%d KiB)\n' \
    "$wasm" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
