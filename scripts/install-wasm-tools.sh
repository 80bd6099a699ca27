#!/usr/bin/env bash
# Install everything the browser runtime's build and tests need, on a fresh
# Debian/Ubuntu machine with rustup, cargo and Node.js (>= 18):
#
#   * the wasm32-unknown-unknown Rust target,
#   * wasm-pack (pinned),
#   * wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#   * Chromium and its WebDriver (apt: chromium, chromium-driver),
#   * the e2e test's npm packages (runtime-wasm/e2e, from package-lock.json).
#
# Tools already present at the pinned version are skipped. Anything that
# cannot be installed makes the script fail: nothing is skipped silently.
#
# Usage: scripts/install-wasm-tools.sh
set -euo pipefail

WASM_PACK_VERSION="0.15.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '[install-wasm-tools] %s\n' "$*" >&2; }
die() { printf '[install-wasm-tools] ERROR: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"; }

start=$(date +%s)
need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "the wasm32 target is added with rustup"
need node "install Node.js >= 18 (apt-get install nodejs npm)"
need npm "install npm (apt-get install npm)"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "Node.js >= 18 is required (found $(node --version))"

# --- Rust target -------------------------------------------------------------
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "wasm32-unknown-unknown: present"
else
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# --- wasm-bindgen-cli, pinned to Cargo.lock ------------------------------------
bindgen_version=$(awk '
    $0 == "name = \"wasm-bindgen\"" { want = 1; next }
    want && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
[ -n "$bindgen_version" ] || die "no wasm-bindgen package in Cargo.lock (run cargo metadata first)"
grep -q "wasm-bindgen = \"=$bindgen_version\"" Cargo.toml \
    || die "Cargo.toml must pin wasm-bindgen = \"=$bindgen_version\" (the version in Cargo.lock)"

have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bindgen" = "$bindgen_version" ]; then
    log "wasm-bindgen-cli $bindgen_version: present"
else
    log "installing wasm-bindgen-cli $bindgen_version (found: ${have_bindgen:-none}); this compiles for several minutes"
    # No --locked: the lock file of 0.2.130 names a webpki-roots release that
    # is no longer in the registry.
    cargo install wasm-bindgen-cli --version "=$bindgen_version" --force
fi

# --- wasm-pack -----------------------------------------------------------------
have_pack=$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_pack" = "$WASM_PACK_VERSION" ]; then
    log "wasm-pack $WASM_PACK_VERSION: present"
else
    log "installing wasm-pack $WASM_PACK_VERSION (found: ${have_pack:-none}); this compiles for several minutes"
    cargo install wasm-pack --version "=$WASM_PACK_VERSION" --force
fi

# --- Chromium + chromedriver (Debian packages) ---------------------------------
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    log "chromium and chromedriver: present"
else
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        need sudo "root or sudo is needed to apt-get install chromium"
        sudo="sudo"
    fi
    need apt-get "Chromium is installed from Debian/Ubuntu packages"
    log "installing chromium and chromium-driver with apt-get"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium chromium-driver
fi
chromium_major=$(chromium --version | grep -oE '[0-9]+' | head -1)
driver_major=$(chromedriver --version | grep -oE '[0-9]+' | head -1)
[ -n "$chromium_major" ] || die "chromium --version failed"
[ "$chromium_major" = "$driver_major" ] \
    || die "chromium ($chromium_major) and chromedriver ($driver_major) major versions differ"

# --- npm packages of the e2e test ------------------------------------------------
e2e="$root/runtime-wasm/e2e"
want_pw=$(node -p "require('$e2e/package-lock.json').packages['node_modules/playwright-core'].version")
have_pw=$(node -p "try { require('$e2e/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$have_pw" = "$want_pw" ]; then
    log "playwright-core $want_pw: present"
else
    log "installing the e2e npm packages (playwright-core $want_pw)"
    # No browser download: the test drives the system Chromium.
    (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# --- Final check ------------------------------------------------------------------
log "versions:"
wasm-pack --version >&2
wasm-bindgen --version >&2
chromium --version >&2
chromedriver --version >&2
printf 'node %s, playwright-core %s\n' "$(node --version)" \
    "$(node -p "require('$e2e/node_modules/playwright-core/package.json').version")" >&2
[ "$(wasm-bindgen --version | awk '{print $2}')" = "$bindgen_version" ] || die "wasm-bindgen-cli is not $bindgen_version"
[ "$(wasm-pack --version | awk '{print $2}')" = "$WASM_PACK_VERSION" ] || die "wasm-pack is not $WASM_PACK_VERSION"
log "done in $(( $(date +%s) - start ))s"
