//! The traits through which the core reaches the world.
//!
//! The core is one pipeline that must run both natively (on a multi-threaded
//! executor, where tasks must be `Send`) and in a browser (where JS values and
//! futures are `!Send`). [`MaybeSend`] and [`MaybeSync`] paper over the
//! difference: they mean `Send`/`Sync` on native targets and nothing on
//! `wasm32`, so one core serves both.
//!
//! An adapter implements three small traits:
//!
//! * [`Fetch`]: send one GET and hand back the status, a few headers and the
//!   body as an [`AsyncRead`](futures::io::AsyncRead). The core reads the body
//!   itself, so it can charge every byte to the byte gate *before* reading it
//!   and stop at the body cap.
//! * [`Store`]: write a batch of records durably. Batching is done by the core.
//! * [`Runtime`]: spawn a task, sleep, and tell the time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use url::Url;

use crate::record::Record;

/// `Send` on native targets, nothing on `wasm32`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, nothing on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on `wasm32`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, nothing on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future that is `Send` exactly when the target has threads.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future that is `Send` exactly when the target has threads.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A response body: bytes read on demand, so the core can meter them.
///
/// Adapters return the body *decoded* (gzip, brotli, ... already undone):
/// the body cap and the byte gate count decoded bytes, which is what a
/// page costs in memory and what defeats a gzip bomb.
pub trait Body: futures::io::AsyncRead + Unpin + MaybeSend {}
impl<T: futures::io::AsyncRead + Unpin + MaybeSend + ?Sized> Body for T {}

/// One GET request, as the core asks for it.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The URL to fetch.
    pub url: Url,
    /// The `User-Agent` header to send.
    pub user_agent: String,
    /// Extra headers to send, as `(name, value)` pairs: the user's headers,
    /// cookie and credentials, when the request's URL is on a site they
    /// belong to (the core decides that for every request, redirects
    /// included; see [`Config::headers`](crate::Config::headers)). Empty
    /// for most requests. Adapters send them as given, replacing a header of
    /// their own of the same name, and must not carry them to another URL
    /// (a redirect they follow themselves).
    pub headers: std::sync::Arc<[(String, String)]>,
    /// Deadline for the whole exchange, body included. The core enforces it
    /// too; adapters should pass it to their client so sockets are freed.
    pub timeout: Duration,
}

/// The head of a response plus its unread body.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The URL the response came from. Equal to the request URL unless the
    /// client followed redirects itself (browsers do; the native adapter
    /// does not, so the core sees every redirect).
    pub url: Url,
    /// `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// `Content-Length` header, if any (of the encoded body: a hint only).
    pub content_length: Option<u64>,
    /// `Location` header, if any.
    pub location: Option<String>,
    /// `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// `X-Robots-Tag` header(s), if any (several joined with `, `).
    pub robots_tag: Option<String>,
    /// The decoded body, read by the core under the byte gate.
    pub body: Box<dyn Body>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.as_str())
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Why a fetch failed before a response head arrived (or while reading the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Could not connect (DNS, refused, reset before the head). Transient.
    Connect(String),
    /// The deadline passed. Transient.
    Timeout,
    /// The server spoke something that is not HTTP, or the body was corrupt
    /// (bad gzip, truncated chunking). Not retried.
    Protocol(String),
    /// The request itself cannot be made (unsupported scheme, blocked by the
    /// browser's CORS policy, ...). Not retried.
    Refused(String),
    /// The TLS handshake failed: the certificate is untrusted, expired or
    /// for another name. Not retried: it will fail the same way again.
    Tls(String),
}

impl FetchError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Connect(_) | FetchError::Timeout)
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Connect(m) => write!(f, "connect: {m}"),
            FetchError::Timeout => write!(f, "timed out"),
            FetchError::Protocol(m) => write!(f, "protocol: {m}"),
            FetchError::Refused(m) => write!(f, "refused: {m}"),
            FetchError::Tls(m) => write!(f, "tls: {m}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Sends GET requests. Implemented by each adapter.
pub trait Fetch: MaybeSend + MaybeSync + 'static {
    /// Start one request; resolve once the response head has arrived.
    /// Must not follow redirects if it can help it (the core does, under
    /// its scope rules); must not read the body.
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Response, FetchError>>;
}

/// A store failed to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Where records go. Implemented by each adapter (JSON Lines, SQLite, an
/// HTTP sink, a JS callback, a `Vec` in tests).
///
/// The core calls [`write`](Store::write) from one task at a time with
/// batches of records, and [`flush`](Store::flush) once at the end (and on
/// interruption). A record counts as stored once `write` returns `Ok`; only
/// then are the memory permits that it held given back.
pub trait Store: MaybeSend + 'static {
    /// Write a batch of records.
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Make everything written so far durable.
    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// A boxed store is a store: front ends pick one at run time.
impl<S: Store + ?Sized> Store for Box<S> {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).write(batch)
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).flush()
    }
}

/// Executor and clock. Implemented by each adapter.
pub trait Runtime: Clone + MaybeSend + MaybeSync + 'static {
    /// Run a future to completion in the background.
    fn spawn(&self, future: BoxFuture<'static, ()>);
    /// Resolve after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// Monotonic time since an arbitrary origin fixed for the runtime's life.
    fn now(&self) -> Duration;
    /// Wall-clock time in milliseconds since the Unix epoch (for records).
    fn unix_millis(&self) -> u64;
}

/// A `Store` that keeps records in memory: for tests and embedding.
///
/// ```
/// use semcrawl_core::MemoryStore;
/// let store = MemoryStore::default();
/// assert!(store.records().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: std::sync::Arc<std::sync::Mutex<Vec<Record>>>,
}

impl MemoryStore {
    /// A snapshot of the records stored so far.
    pub fn records(&self) -> Vec<Record> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Store for MemoryStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(batch);
        Box::pin(async { Ok(()) })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
