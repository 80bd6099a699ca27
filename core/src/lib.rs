//! # semcrawl-core
//!
//! The runtime-agnostic heart of semcrawl: a crawl pipeline
//! (fetch -> parse -> normalize -> store) whose memory stays bounded by
//! construction.
//!
//! Two gates bound the work in flight:
//!
//! * a **count gate** (an [`async_lock::Semaphore`]) whose permit is taken
//!   *before* a page's task exists, so pending work is only a URL in the
//!   [`frontier`], never a parked future holding memory;
//! * a **byte gate** ([`gate::ByteGate`]) that bounds the bytes held by pages in
//!   the pipeline: bodies as they stream in, the parse cost, and records
//!   waiting for the store.
//!
//! The core never names an executor, a socket or a JS type. It reaches the
//! world only through the small traits of [`runtime`] ([`Fetch`], [`Store`],
//! [`Runtime`]), which the adapter crates (`semcrawl-smol`, `semcrawl-wasm`)
//! implement. Everything below the pipeline — canonical URLs, scope, robots,
//! politeness, retries, the frontier, the gate — is plain data and is tested
//! without a network.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adaptive;
mod body;
pub mod canon;
pub mod config;
pub mod crawl;
pub mod frontier;
pub mod gate;
mod hosts;
mod normalize;
pub mod parse;
pub mod politeness;
pub mod record;
pub mod retry;
pub mod robots;
pub mod runtime;
pub mod scope;
pub mod setting;
pub mod size;
pub mod stats;
mod stop;

pub use body::classify_body_error;
pub use config::{Concurrency, Config, ConfigError};
pub use crawl::Crawler;
pub use record::{ErrorKind, Record, RecordError};
pub use runtime::{
    Body, BoxFuture, Fetch, FetchError, FetchRequest, MaybeSend, MaybeSync, Response, Runtime,
    Store, StoreError,
};
pub use stats::{Stats, Summary};
pub use stop::StopHandle;
