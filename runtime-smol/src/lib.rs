//! # semcrawl-smol
//!
//! The native adapter of semcrawl: it gives the runtime-agnostic core
//! (`semcrawl-core`) the three things the core cannot name itself.
//!
//! * [`SmolRuntime`] — the core's [`Runtime`](semcrawl_core::Runtime): one
//!   `smol` executor run by a thread per core, so pages are parsed in
//!   parallel inside their own tasks.
//! * [`HttpFetcher`] — the core's [`Fetch`](semcrawl_core::Fetch): plain
//!   `http://` on hyper over smol sockets with a connection pool of our own,
//!   `https://` and proxied requests on isahc (libcurl); either way
//!   redirects left to the core, bodies decoded lazily, the deadline
//!   covering the body, a pool sized from the crawl.
//! * [`store`] — the core's [`Store`](semcrawl_core::Store) as JSON Lines,
//!   SQLite or an HTTP sink, chosen from one target string by
//!   [`store::open_store`].
//! * [`budget`] — the default memory budget of the byte gate, read from the
//!   cgroup and `/proc` the process runs under (native only: the core never
//!   reads a file).
//!
//! Fetch one page from a local server:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use futures::AsyncReadExt;
//! use semcrawl_core::{Fetch, FetchRequest};
//! use semcrawl_smol::{FetchOptions, HttpFetcher, SmolRuntime};
//!
//! // A one-shot HTTP server on 127.0.0.1.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let url = format!("http://{}/", listener.local_addr().unwrap());
//! std::thread::spawn(move || {
//!     let (mut socket, _) = listener.accept().unwrap();
//!     let mut head = [0u8; 1024];
//!     let _ = socket.read(&mut head).unwrap();
//!     socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello").unwrap();
//! });
//!
//! let runtime = SmolRuntime::new().unwrap();
//! let fetcher = HttpFetcher::new(FetchOptions::default()).unwrap();
//! let request = FetchRequest {
//!     url: url.parse().unwrap(),
//!     user_agent: "semcrawl-doc".into(),
//!     timeout: Duration::from_secs(10),
//!     headers: Default::default(),
//! };
//! let body = runtime.block_on(async {
//!     let mut response = fetcher.fetch(request).await.unwrap();
//!     assert_eq!(response.status, 200);
//!     assert_eq!(response.content_type.as_deref(), Some("text/html"));
//!     let mut body = String::new();
//!     response.body.read_to_string(&mut body).await.unwrap();
//!     body
//! });
//! assert_eq!(body, "hello");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod budget;
pub mod crawl;
mod decode;
pub mod fetch;
mod h1;
pub mod redis;
pub mod runtime;
pub mod signals;
pub mod state;
pub mod store;

pub use fetch::{FetchOptions, HttpFetcher};
pub use runtime::SmolRuntime;
pub use store::{
    open_store, open_target, CsvStore, Format, HttpSinkOptions, HttpSinkStore, JsonlStore,
    SqliteStore, TeeStore,
};
