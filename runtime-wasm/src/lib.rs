//! # semcrawl-wasm
//!
//! The browser runtime of semcrawl: a thin adapter that runs the same
//! [`semcrawl_core`] crawl pipeline inside a web page (or a Web Worker),
//! plus the JS API that `wasm-pack` packages.
//!
//! * `fetch::BrowserFetch`: the core's `Fetch` on `fetch()`, with an
//!   `AbortController` deadline and the body streamed from a `ReadableStream`;
//! * `runtime::BrowserRuntime`: the core's `Runtime` on `spawn_local`,
//!   `setTimeout`, `performance.now()` and `Date.now()`;
//! * `store::CallbackStore`: the core's `Store` as a JS callback;
//! * `crawl(options, onRecord?, onProgress?)`: the JS entry point
//!   (see the crate's README for the API and its TypeScript types).
//!
//! Only [`options`] (the JS options -> core `Config` mapping) is built for
//! native targets, so the workspace builds and tests on the host; everything
//! that touches JS is compiled for `wasm32` only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod options;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
#[cfg(target_arch = "wasm32")]
pub mod store;

#[cfg(target_arch = "wasm32")]
pub use api::crawl;
