//! The same tests inside a dedicated Web Worker under headless Chromium
//! (`wasm-pack test --headless --chrome runtime-wasm --test worker`): no
//! `window`, only the worker's globals.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod common;
