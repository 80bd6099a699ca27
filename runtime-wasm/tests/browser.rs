//! The adapters, the core and the JS API under headless Chromium
//! (`wasm-pack test --headless --chrome runtime-wasm --test browser`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;
