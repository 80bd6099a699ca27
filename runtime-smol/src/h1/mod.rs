//! The client of plain `http://` requests: HTTP/1.1 on hyper over smol's
//! sockets, with a connection pool of our own.
//!
//! Why not isahc for these (see `docs/decisions.md`, "Plain http on
//! hyper"): isahc runs curl on an agent thread of its own and hands every
//! body over through a pipe, with a wake-up across threads per chunk. Here a
//! request is driven by the task that awaits it: the connection's hyper
//! dispatcher is polled inline, by [`H1Client::fetch`] until the head is in
//! and then by the body's reads, so nothing is spawned and no other thread
//! is involved.
//!
//! What it keeps of the isahc client's guarantees:
//!
//! * the deadline covers the **whole** exchange: waiting for a pool slot,
//!   name resolution and connection (also bounded by the connect timeout),
//!   the head, and every read of the body (a body read past the deadline
//!   fails with [`io::ErrorKind::TimedOut`]);
//! * a body not read to its end drops its connection (closing the socket);
//!   only a connection whose response was read to the end, and that hyper
//!   says can take another request, goes back to the pool;
//! * the body is read from the socket only as the core reads it (hyper reads
//!   a body chunk only when the body asks for one), so a paused gzip bomb
//!   holds at most a read buffer of compressed bytes; decoding is
//!   [`crate::decode`]'s, as for isahc;
//! * redirects are not followed; `User-Agent`, `Accept: */*` (as curl sends)
//!   and `Accept-Encoding` are sent, the core's extra headers replace them by
//!   name;
//! * at most `max_connections_per_host` requests in flight per host and
//!   `max_connections` in total (a request waits for a slot, within its
//!   deadline); idle connections are kept up to the same numbers.
//!
//! A request on a pooled connection that fails before any answer (the server
//! closed it while idle) is sent again once on a new connection, as curl
//! does: it is a GET.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_lock::{Semaphore, SemaphoreGuardArc};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{self, HeaderName, HeaderValue};
use semcrawl_core::{FetchError, FetchRequest};
use smol::Timer;
use url::{Position, Url};

use crate::decode::ACCEPT_ENCODING;

mod body;
mod socket;

use body::map_error;
pub(crate) use body::{H1Body, NoBody};
use socket::{connect, Io};

/// Most bytes read from a socket at a time (see [`SCRATCH`]).
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// An idle connection older than this is closed rather than reused (servers
/// commonly drop idle keep-alive connections after a minute or so).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// How the client is set up (from [`crate::FetchOptions`]).
#[derive(Debug, Clone)]
pub(crate) struct H1Options {
    /// Most requests in flight in total (`0` = unlimited); also the most idle
    /// connections kept (at least one).
    pub max_connections: usize,
    /// Most requests in flight to one host (`0` = unlimited); also the most
    /// idle connections kept per host.
    pub max_connections_per_host: usize,
    /// Deadline for name resolution and the TCP handshake.
    pub connect_timeout: Duration,
}

/// The plain-http client: a pool of HTTP/1.1 connections per origin.
pub(crate) struct H1Client {
    options: H1Options,
    /// Slots of requests in flight in total, if bounded.
    total: Option<Arc<Semaphore>>,
    pool: Mutex<Pool>,
}

impl std::fmt::Debug for H1Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The idle connections and per-host slots, by origin (`host:port`).
#[derive(Default)]
struct Pool {
    origins: HashMap<String, Origin>,
    /// Idle connections in all origins.
    idle: usize,
    /// When `origins` grows past this, unused origins are swept out.
    sweep_at: usize,
}

struct Origin {
    /// Newest last.
    idle: Vec<Conn>,
    /// Slots of requests in flight to this origin, if bounded.
    slots: Option<Arc<Semaphore>>,
}

/// One HTTP/1.1 connection: hyper's request handle and its dispatcher, which
/// does the I/O whenever it is polled.
struct Conn {
    sender: SendRequest<NoBody>,
    driver: Connection<Io, NoBody>,
    /// The dispatcher returned: the connection is closed.
    finished: bool,
    idle_since: Instant,
}

impl Conn {
    /// Poll the dispatcher (it writes the request, reads the head and body
    /// chunks as they are asked for). An error ends the connection.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.finished {
            return Poll::Ready(());
        }
        match Pin::new(&mut self.driver).poll(cx) {
            Poll::Ready(_) => {
                self.finished = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Whether the connection can take another request now.
    fn reusable(&self) -> bool {
        !self.finished && self.sender.is_ready()
    }
}

/// What a request holds while it is in flight: its slots, and where to give
/// its connection back.
struct Lease {
    client: Arc<H1Client>,
    origin: String,
    _slot: Option<SemaphoreGuardArc>,
    _total: Option<SemaphoreGuardArc>,
}

impl H1Client {
    pub(crate) fn new(options: H1Options) -> Self {
        H1Client {
            total: (options.max_connections > 0)
                .then(|| Arc::new(Semaphore::new(options.max_connections))),
            options,
            pool: Mutex::new(Pool::default()),
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The per-origin slots, made on first use.
    fn slots(&self, origin: &str) -> Option<Arc<Semaphore>> {
        let per_host = self.options.max_connections_per_host;
        let mut pool = self.pool();
        if let Some(o) = pool.origins.get(origin) {
            return o.slots.clone();
        }
        if pool.origins.len() >= pool.sweep_at {
            // Forget the origins with nothing idle and nothing in flight, so
            // a crawl of many hosts does not keep an entry for each.
            pool.origins.retain(|_, o| {
                !o.idle.is_empty() || o.slots.as_ref().is_some_and(|s| Arc::strong_count(s) > 1)
            });
            pool.sweep_at = (pool.origins.len() * 2).max(256);
        }
        let slots = (per_host > 0).then(|| Arc::new(Semaphore::new(per_host)));
        pool.origins.insert(
            origin.to_owned(),
            Origin {
                idle: Vec::new(),
                slots: slots.clone(),
            },
        );
        slots
    }

    /// An idle connection of `origin`, if there is one.
    fn take_idle(&self, origin: &str) -> Option<Conn> {
        let mut pool = self.pool();
        let conn = pool.origins.get_mut(origin)?.idle.pop()?;
        pool.idle -= 1;
        Some(conn)
    }

    /// Park a connection whose exchange is complete, if it can take another
    /// request and there is room; otherwise it is dropped (closed).
    fn put_idle(&self, origin: &str, mut conn: Conn) {
        if !conn.reusable() {
            return;
        }
        conn.idle_since = Instant::now();
        let per_host = match self.options.max_connections_per_host {
            0 => usize::MAX,
            n => n,
        };
        let total = self.options.max_connections.max(1);
        let mut pool = self.pool();
        let evicted = if pool.idle >= total {
            // Make room by closing the longest idle connection of another
            // origin (of this one, if it is the only one with idle ones).
            let oldest = pool
                .origins
                .iter_mut()
                .filter(|(_, o)| !o.idle.is_empty())
                .min_by_key(|(_, o)| o.idle[0].idle_since)
                .map(|(_, o)| o.idle.remove(0));
            if oldest.is_some() {
                pool.idle -= 1;
            }
            oldest
        } else {
            None
        };
        let Some(o) = pool.origins.get_mut(origin) else {
            return;
        };
        if o.idle.len() < per_host {
            o.idle.push(conn);
            pool.idle += 1;
        }
        drop(pool);
        drop(evicted);
    }

    /// Send `request`; resolve once the head has arrived (or the deadline
    /// passed: [`FetchError::Timeout`]).
    pub(crate) async fn fetch(
        self: &Arc<Self>,
        request: &FetchRequest,
        user_agent: &str,
    ) -> Result<(hyper::http::response::Parts, H1Body), FetchError> {
        let deadline = after(request.timeout);
        // One timer for the whole exchange, handed on to the body: each
        // timer registered wakes the reactor's thread.
        let mut timer = Timer::at(deadline);
        let mut exchange = std::pin::pin!(self.exchange(request, user_agent, deadline));
        let (head, mut body) = poll_fn(|cx| {
            if let Poll::Ready(done) = exchange.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            match Pin::new(&mut timer).poll(cx) {
                Poll::Ready(_) => Poll::Ready(Err(FetchError::Timeout)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        body.timer = Some(timer);
        Ok((head, body))
    }

    async fn exchange(
        self: &Arc<Self>,
        request: &FetchRequest,
        user_agent: &str,
        deadline: Instant,
    ) -> Result<(hyper::http::response::Parts, H1Body), FetchError> {
        let url = &request.url;
        let host = url
            .host()
            .ok_or_else(|| FetchError::Refused(format!("no host in '{url}'")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::Refused(format!("no port for '{url}'")))?;
        let origin = format!("{host}:{port}");
        let build = || build_request(url, user_agent, &request.headers);
        // Fail on a bad request before taking a slot or a connection.
        let mut http_request = build()?;

        let slot = match self.slots(&origin) {
            Some(s) => Some(s.acquire_arc().await),
            None => None,
        };
        let total = match &self.total {
            Some(t) => Some(t.acquire_arc().await),
            None => None,
        };
        let lease = Lease {
            client: Arc::clone(self),
            origin,
            _slot: slot,
            _total: total,
        };

        // A pooled connection first; a new one if it turns out closed
        // before it answered anything.
        while let Some(mut conn) = self.take_idle(&lease.origin) {
            if conn.idle_since.elapsed() > MAX_IDLE || !conn.reusable() {
                continue;
            }
            match send(&mut conn, http_request).await {
                Ok(response) => return Ok(respond(response, conn, lease, deadline)),
                Err(Unsent::Again(Some(again))) => http_request = *again,
                Err(Unsent::Again(None)) => http_request = build()?,
                Err(Unsent::Failed(e)) if retryable(&e) => http_request = build()?,
                Err(Unsent::Failed(e)) => return Err(map_error(&e)),
            }
        }
        let connect_by = deadline.min(after(self.options.connect_timeout));
        let mut conn = connect(&host, port, connect_by).await?;
        match send(&mut conn, http_request).await {
            Ok(response) => Ok(respond(response, conn, lease, deadline)),
            Err(Unsent::Again(_)) => Err(FetchError::Connect(
                "the new connection closed before the request was sent".into(),
            )),
            Err(Unsent::Failed(e)) => Err(map_error(&e)),
        }
    }
}

/// The instant `delay` from now (a year at most: `Duration::MAX` is "no
/// limit", not an overflow).
fn after(delay: Duration) -> Instant {
    Instant::now() + delay.min(Duration::from_secs(365 * 24 * 3600))
}

/// The request as sent: origin-form target, `Host`, then our headers, which
/// the core's extra headers replace by name.
fn build_request(
    url: &Url,
    user_agent: &str,
    extra: &[(String, String)],
) -> Result<hyper::Request<NoBody>, FetchError> {
    let invalid = |e: &dyn std::fmt::Display| FetchError::Refused(format!("invalid request: {e}"));
    let target = &url[Position::BeforePath..Position::AfterQuery];
    let authority = &url[Position::BeforeHost..Position::AfterPort];
    let mut http_request = hyper::Request::get(target)
        .header(header::HOST, authority)
        .header(header::USER_AGENT, user_agent)
        .header(header::ACCEPT, "*/*")
        .header(header::ACCEPT_ENCODING, ACCEPT_ENCODING)
        .body(NoBody)
        .map_err(|e| invalid(&e))?;
    for (name, value) in extra {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| FetchError::Refused(format!("invalid header name '{name}': {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| FetchError::Refused(format!("invalid value of header {name}: {e}")))?;
        http_request.headers_mut().insert(name, value);
    }
    Ok(http_request)
}

/// Why a request got no head.
enum Unsent {
    /// The connection would not take it (closed): the request, if hyper gave
    /// it back.
    Again(Option<Box<hyper::Request<NoBody>>>),
    /// Sent, and the exchange failed.
    Failed(hyper::Error),
}

/// Send the request on `conn` and drive the connection until the head is in.
async fn send(
    conn: &mut Conn,
    request: hyper::Request<NoBody>,
) -> Result<hyper::Response<Incoming>, Unsent> {
    let mut response = std::pin::pin!(conn.sender.try_send_request(request));
    poll_fn(|cx| {
        // The head may be in already. Looked at without our waker, so that
        // the dispatcher, polled next on this very task, does not wake it
        // for nothing when it hands the head over.
        if let Poll::Ready(result) = response.as_mut().poll(&mut quiet()) {
            return Poll::Ready(result.map_err(unsent));
        }
        // The dispatcher: it takes the request, writes it, reads the head.
        let closed = conn.drive(cx).is_ready();
        match response.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(result.map_err(unsent)),
            // Closed, and the request was never taken up.
            Poll::Pending if closed => Poll::Ready(Err(Unsent::Again(None))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

fn unsent(mut error: hyper::client::conn::TrySendError<hyper::Request<NoBody>>) -> Unsent {
    match error.take_message() {
        Some(request) if error.error().is_canceled() => Unsent::Again(Some(Box::new(request))),
        _ => Unsent::Failed(error.into_error()),
    }
}

/// A context whose waker does nothing: for polls of what this task drives
/// itself (see [`H1Body`]'s `poll_read`), so that driving it does not wake
/// the task again for nothing (a needless trip through the executor).
pub(super) fn quiet() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

/// Whether a request that failed on a pooled connection may be sent again on
/// a new one: the connection broke before any answer came.
fn retryable(error: &hyper::Error) -> bool {
    error.is_canceled() || error.is_closed() || error.is_incomplete_message() || io_cause(error)
}

fn io_cause(error: &hyper::Error) -> bool {
    std::error::Error::source(error).is_some_and(|e| e.is::<io::Error>())
}

/// The response and its body, which owns the connection until it is read to
/// the end (then back to the pool) or dropped (then closed).
fn respond(
    response: hyper::Response<Incoming>,
    conn: Conn,
    lease: Lease,
    deadline: Instant,
) -> (hyper::http::response::Parts, H1Body) {
    let (head, incoming) = response.into_parts();
    let body = H1Body {
        incoming,
        chunk: Bytes::new(),
        conn: Some(conn),
        lease: Some(lease),
        deadline,
        timer: None,
        ended: false,
        failed: None,
    };
    (head, body)
}
