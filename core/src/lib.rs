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
//! * a **byte gate** ([`ByteGate`]) that bounds the bytes held by pages in
//!   the pipeline: bodies as they stream in, the parse cost, and records
//!   waiting for the store.
//!
//! The core never names an executor, a socket or a JS type. It reaches the
//! world only through three small traits ([`Fetch`], [`Store`],
//! [`Runtime`]), which the adapter crates (`semcrawl-smol`, `semcrawl-wasm`)
//! implement. Everything below the pipeline — canonical URLs, scope, robots,
//! politeness, retries, the frontier, the gate — is plain data and is tested
//! without a network.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Modules are private unless they are a family of their own (the adaptive
// limiter, the frontier seam, the parsers and the crawl policies); what the
// adapters and front ends need is re-exported here, so that splitting a file
// is never an API break.
pub mod adaptive;
mod body;
pub mod canon;
mod config;
mod crawl;
pub mod filter;
pub mod frontier;
mod gate;
mod headers;
mod hosts;
mod normalize;
pub mod parse;
mod plan;
pub mod politeness;
mod record;
pub mod retry;
pub mod robots;
mod runtime;
pub mod scope;
pub mod seeds;
mod setting;
pub mod sitemap;
mod size;
mod stats;
mod stop;
pub mod types;

pub use body::classify_body_error;
pub use config::{Concurrency, Config, FieldSpec, AUTO_PER_HOST, DEFAULT_MAX_BODY};
pub use crawl::{Crawler, CRAWL_DROP_TOLERANCE};
pub use gate::{ByteGate, GateError, Reservation, PAGE_OVERHEAD};
pub use headers::header_lines;
pub use plan::MemoryPlan;
pub use record::{
    ErrorKind, FieldValue, Record, RecordError, MAX_ERROR_MESSAGE, MAX_RECORD_LINKS_BYTES,
};
pub use runtime::{
    Body, BoxFuture, Fetch, FetchError, FetchRequest, MaybeSend, MaybeSync, MemoryStore, Response,
    Runtime, Store, StoreError,
};
pub use setting::{ConfigError, Setting};
pub use size::{format_bytes, parse_duration, parse_size};
pub use stats::{PaceSource, PacedHost, Progress, Stats, Summary, MAX_PACED_LISTED};
pub use stop::StopHandle;
