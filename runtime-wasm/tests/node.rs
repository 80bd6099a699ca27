//! The adapters and the core crawling through them, under Node
//! (`wasm-pack test --node runtime-wasm --test node`).
#![cfg(target_arch = "wasm32")]

mod common;
