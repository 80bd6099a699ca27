//! The HTTP/1.1 server of a [`Site`].
//!
//! Lean by design, so that it is never the bottleneck of a benchmark: every
//! response (head and body) is rendered once at start into `Arc<[u8]>`; a
//! request costs a parse of its head, a hash lookup, a counter update under a
//! short lock, and two writes.
//!
//! Some behaviour can be changed while it serves, for tests of how a crawler
//! adapts: the latency of every response ([`SiteServer::set_latency`]) and an
//! overload threshold above which requests are answered `503 Service
//! Unavailable` ([`SiteServer::set_overload`], with an optional
//! `Retry-After`: [`SiteServer::set_retry_after`]), and a number of workers
//! ([`SiteServer::set_workers`]): at most that many requests are answered at
//! once and the others queue, as on a server with a fixed thread pool.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use smol::channel::{Receiver, Sender};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::lock::Semaphore;
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, Timer};

use crate::bomb::gzip_bomb;
use crate::html::Kind;
use crate::{ExpectOptions, Expected, Site};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Bodies up to this size are copied behind the head and sent in one write.
const COALESCE: usize = 16 * 1024;

/// Size of one chunk of the endless body.
const ENDLESS_CHUNK: usize = 64 * 1024;

/// `overload` when there is no threshold.
const NO_OVERLOAD: usize = usize::MAX;

/// `retry_after` when no `Retry-After` header is sent.
const NO_RETRY_AFTER: u64 = u64::MAX;

/// A pre-rendered response.
enum Route {
    Fixed {
        /// Status line and headers, without the blank line that ends them.
        head: Arc<[u8]>,
        body: Arc<[u8]>,
        /// Delay of this resource on top of the server's latency.
        extra: Duration,
    },
    /// A chunked body that never ends (after the server's latency).
    Endless,
}

/// Request counters, shared by the connections.
#[derive(Default)]
struct Counters {
    /// Requests by absolute URL (`http://` + `Host` + target).
    by_url: Mutex<HashMap<String, u64>>,
    total: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    open_connections: AtomicUsize,
    max_open_connections: AtomicUsize,
    connections: AtomicU64,
    body_bytes: AtomicU64,
    /// Requests answered 503 because of the overload threshold.
    rejected: AtomicU64,
    /// Requests holding a worker (see [`SiteServer::set_workers`]).
    working: AtomicUsize,
    max_working: AtomicUsize,
}

/// What can be changed while the server runs.
struct Knobs {
    /// Delay before every response, in nanoseconds.
    latency_ns: AtomicU64,
    /// Most requests served at once; more get a 503 ([`NO_OVERLOAD`]: off).
    overload: AtomicUsize,
    /// `Retry-After` of those 503s, in seconds ([`NO_RETRY_AFTER`]: none).
    retry_after: AtomicU64,
    /// The workers: a request holds a permit from before the latency until
    /// its response is written (`None`: no limit). A change replaces the
    /// semaphore; requests already queued on the old one keep it.
    workers: Mutex<Option<(usize, Arc<Semaphore>)>>,
}

impl Knobs {
    fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_ns.load(Ordering::SeqCst))
    }

    fn workers(&self) -> Option<Arc<Semaphore>> {
        let w = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        w.as_ref().map(|(_, sem)| sem.clone())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

struct State {
    routes: HashMap<String, Route>,
    not_found: Route,
    /// `127.0.0.1:PORT`, used when a request has no `Host`.
    authority: String,
    endless_chunk: Arc<[u8]>,
    /// Body of the overload 503s.
    unavailable: Arc<[u8]>,
    counters: Counters,
    knobs: Knobs,
}

/// Decrements a gauge when dropped (also when the task is cancelled).
struct Gauge<'a>(&'a AtomicUsize);

impl<'a> Gauge<'a> {
    fn enter(gauge: &'a AtomicUsize, max: &AtomicUsize) -> Self {
        let now = gauge.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        Gauge(gauge)
    }
}

impl<'a> Gauge<'a> {
    /// Enter unless `limit` are in already (then `None`): the check and the
    /// entry are one atomic step, so the gauge never exceeds `limit`.
    fn try_enter(gauge: &'a AtomicUsize, max: &AtomicUsize, limit: usize) -> Option<Self> {
        let mut now = gauge.load(Ordering::SeqCst);
        loop {
            if now >= limit {
                return None;
            }
            match gauge.compare_exchange_weak(now, now + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    max.fetch_max(now + 1, Ordering::SeqCst);
                    return Some(Gauge(gauge));
                }
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running HTTP/1.1 server for a [`Site`] on `127.0.0.1`.
///
/// It serves with keep-alive on its own executor threads, counts requests
/// per URL, and stops (closing its listener and every connection) when
/// dropped.
///
/// ```
/// use std::io::{Read, Write};
/// use semcrawl_site::{Site, SiteServer, SiteSpec};
///
/// let server = SiteServer::start(Site::new(SiteSpec::plain(5, 2048)), 1).unwrap();
/// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
/// s.write_all(b"GET /p/1.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut response = String::new();
/// s.read_to_string(&mut response).unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert_eq!(server.request_count("/p/1.html"), 0); // counted under the Host sent: x
/// assert_eq!(server.request_count("http://x/p/1.html"), 1);
/// ```
pub struct SiteServer {
    addr: SocketAddr,
    site: Site,
    state: Arc<State>,
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    executor: Option<Arc<Executor<'static>>>,
}

impl std::fmt::Debug for SiteServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteServer")
            .field("addr", &self.addr)
            .field("site", &self.site)
            .finish()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn head(status: u16, content_type: &str, extra: &str, len: usize) -> Arc<[u8]> {
    format!(
        "HTTP/1.1 {status} {}\r\nServer: semcrawl-site\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {len}\r\n",
        reason(status)
    )
    .into_bytes()
    .into()
}

fn fixed(
    status: u16,
    content_type: &str,
    headers: &str,
    body: Arc<[u8]>,
    extra: Duration,
) -> Route {
    Route::Fixed {
        head: head(status, content_type, headers, body.len()),
        body,
        extra,
    }
}

fn error_page(status: u16) -> Arc<[u8]> {
    let r = reason(status);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>{status} {r}</title></head>\n<body><h1>{r}</h1><p><a href=\"/\">Home</a></p></body></html>\n"
    )
    .into_bytes()
    .into()
}

fn render_routes(site: &Site, origin: &str, alias: &str) -> HashMap<String, Route> {
    // Only the slow page has a delay of its own; the server's latency is
    // added when answering (it can change).
    let latency = Duration::ZERO;
    let html = "text/html; charset=utf-8";
    let mut routes = HashMap::new();
    for (path, res) in &site.inner.resources {
        let route = match &res.kind {
            Kind::Html {
                content_type,
                body,
                delay,
            } => fixed(
                200,
                content_type,
                "",
                body.render(origin, alias).into(),
                *delay,
            ),
            Kind::File { content_type, body } => {
                fixed(200, content_type, "", body.clone(), latency)
            }
            Kind::Redirect {
                status, location, ..
            } => {
                let location =
                    String::from_utf8_lossy(&location.render(origin, alias)).into_owned();
                let body = format!(
                    "<!DOCTYPE html>\n<html><head><title>{status} {r}</title></head><body><a href=\"{location}\">{r}</a></body></html>\n",
                    r = reason(*status)
                );
                fixed(
                    *status,
                    html,
                    &format!("Location: {location}\r\n"),
                    body.into_bytes().into(),
                    latency,
                )
            }
            Kind::Error { status } => fixed(*status, html, "", error_page(*status), latency),
            Kind::Robots(text) => fixed(
                200,
                "text/plain; charset=utf-8",
                "",
                text.as_bytes().into(),
                latency,
            ),
            Kind::Endless => Route::Endless,
            Kind::GzipBomb => fixed(
                200,
                html,
                "Content-Encoding: gzip\r\n",
                gzip_bomb(),
                latency,
            ),
        };
        routes.insert(path.clone(), route);
    }
    routes
}

impl SiteServer {
    /// Bind `127.0.0.1:0`, render the site for that address and serve it
    /// with `threads` executor threads (at least 1).
    pub fn start(site: Site, threads: usize) -> io::Result<SiteServer> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        socket.listen(4096)?;
        let std_listener: StdListener = socket.into();
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = TcpListener::try_from(std_listener)?;

        let origin = format!("http://{addr}");
        let alias = format!("http://localhost:{}", addr.port());
        let routes = render_routes(&site, &origin, &alias);
        let mut endless_chunk = format!("{ENDLESS_CHUNK:x}\r\n").into_bytes();
        endless_chunk.extend(std::iter::repeat_n(b'a', ENDLESS_CHUNK));
        endless_chunk.extend_from_slice(b"\r\n");
        let state = Arc::new(State {
            routes,
            not_found: fixed(
                404,
                "text/html; charset=utf-8",
                "",
                error_page(404),
                Duration::ZERO,
            ),
            authority: addr.to_string(),
            endless_chunk: endless_chunk.into(),
            unavailable: error_page(503),
            counters: Counters::default(),
            knobs: Knobs {
                latency_ns: AtomicU64::new(nanos(site.spec().latency)),
                overload: AtomicUsize::new(NO_OVERLOAD),
                retry_after: AtomicU64::new(NO_RETRY_AFTER),
                workers: Mutex::new(None),
            },
        });

        let executor = Arc::new(Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        executor
            .spawn(accept_loop(
                listener,
                Arc::downgrade(&executor),
                state.clone(),
            ))
            .detach();
        let threads = (0..threads.max(1))
            .map(|i| {
                let ex = executor.clone();
                let stopped: Receiver<()> = stopped.clone();
                std::thread::Builder::new()
                    .name(format!("site-server-{i}"))
                    .spawn(move || {
                        smol::block_on(ex.run(async move {
                            let _ = stopped.recv().await;
                        }))
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(SiteServer {
            addr,
            site,
            state,
            stop: Some(stop),
            threads,
            executor: Some(executor),
        })
    }

    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`: the seed of a crawl of the whole site.
    pub fn base_url(&self) -> url::Url {
        format!("http://{}/", self.addr)
            .parse()
            .expect("a socket address makes a valid URL")
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): prefix a path to get a
    /// canonical URL.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url` joined with `path` (e.g. `/known.html`), as a string.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The site served.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// [`Site::expected`] for this server's base URL.
    pub fn expected(&self, opts: &ExpectOptions) -> Expected {
        self.site.expected(&self.base_url(), opts)
    }

    /// Requests received so far, by absolute URL: `http://` + the `Host`
    /// header + the request target, exactly as sent (so a crawler that
    /// requests `?utm_source=` variants or fragments shows up here).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        let map = self
            .state
            .counters
            .by_url
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Requests for `url`: an absolute URL as in [`SiteServer::requests`],
    /// or a path (`/robots.txt`), taken on this server's `127.0.0.1:PORT`.
    pub fn request_count(&self, url: &str) -> u64 {
        let key = if url.starts_with('/') {
            self.url(url)
        } else {
            url.to_owned()
        };
        let map = self
            .state
            .counters
            .by_url
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(&key).copied().unwrap_or(0)
    }

    /// All requests received.
    pub fn total_requests(&self) -> u64 {
        self.state.counters.total.load(Ordering::SeqCst)
    }

    /// Requests being answered now (from head received to response written;
    /// those queued for a worker included).
    pub fn in_flight(&self) -> usize {
        self.state.counters.in_flight.load(Ordering::SeqCst)
    }

    /// Most requests answered at once (from head received to response
    /// written).
    pub fn max_in_flight(&self) -> usize {
        self.state.counters.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests holding a worker now (the same as [`SiteServer::in_flight`]
    /// when there is no worker limit).
    pub fn working(&self) -> usize {
        self.state.counters.working.load(Ordering::SeqCst)
    }

    /// Most requests holding a worker at once: never more than the worker
    /// count once [`SiteServer::set_workers`] is set.
    pub fn max_working(&self) -> usize {
        self.state.counters.max_working.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connections(&self) -> u64 {
        self.state.counters.connections.load(Ordering::SeqCst)
    }

    /// Most connections open at once.
    pub fn max_open_connections(&self) -> usize {
        self.state
            .counters
            .max_open_connections
            .load(Ordering::SeqCst)
    }

    /// Body bytes written (the endless body included).
    pub fn body_bytes_sent(&self) -> u64 {
        self.state.counters.body_bytes.load(Ordering::SeqCst)
    }

    /// Requests answered `503 Service Unavailable` because of the overload
    /// threshold ([`SiteServer::set_overload`]).
    pub fn rejected(&self) -> u64 {
        self.state.counters.rejected.load(Ordering::SeqCst)
    }

    /// The delay before every response now (initially
    /// [`SiteSpec::latency`](crate::SiteSpec::latency)).
    pub fn latency(&self) -> Duration {
        self.state.knobs.latency()
    }

    /// Delay every response to a request received from now on by `latency`
    /// (plus the slow page's own delay). Requests already waiting keep the
    /// delay they started with.
    pub fn set_latency(&self, latency: Duration) {
        self.state
            .knobs
            .latency_ns
            .store(nanos(latency), Ordering::SeqCst);
    }

    /// The overload threshold, if any.
    pub fn overload(&self) -> Option<usize> {
        match self.state.knobs.overload.load(Ordering::SeqCst) {
            NO_OVERLOAD => None,
            n => Some(n),
        }
    }

    /// Serve at most `max` requests at once: a request that arrives while
    /// `max` are being served (from head received to response written) is
    /// answered `503 Service Unavailable` at once, without the latency, as a
    /// server that sheds load does; it is counted in
    /// [`SiteServer::requests`], [`SiteServer::total_requests`] and
    /// [`SiteServer::rejected`], not in [`SiteServer::in_flight`]. So
    /// [`SiteServer::max_in_flight`] never exceeds `max` once it is set.
    /// `None` (the default) serves everything. Requests already being served
    /// are not affected by a change.
    pub fn set_overload(&self, max: Option<usize>) {
        self.state
            .knobs
            .overload
            .store(max.unwrap_or(NO_OVERLOAD), Ordering::SeqCst);
    }

    /// The `Retry-After` (in seconds) sent with the overload 503s, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self.state.knobs.retry_after.load(Ordering::SeqCst) {
            NO_RETRY_AFTER => None,
            n => Some(n),
        }
    }

    /// Send `Retry-After: SECS` with the overload 503s (`None`, the default:
    /// no header).
    pub fn set_retry_after(&self, secs: Option<u64>) {
        self.state.knobs.retry_after.store(
            secs.map_or(NO_RETRY_AFTER, |s| s.min(NO_RETRY_AFTER - 1)),
            Ordering::SeqCst,
        );
    }

    /// The worker count, if any.
    pub fn workers(&self) -> Option<usize> {
        let w = self
            .state
            .knobs
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        w.as_ref().map(|(n, _)| *n)
    }

    /// Answer at most `n` requests at once, as a server with `n` workers
    /// does: a request takes a worker before its latency and keeps it until
    /// its response is written; requests that find every worker busy wait
    /// for one, in arrival order (they count in [`SiteServer::in_flight`],
    /// not in [`SiteServer::working`]). So throughput stops growing at `n`
    /// concurrent requests (`n` / latency) and latency grows with the queue
    /// above it. The overload threshold ([`SiteServer::set_overload`]), if
    /// any, is checked first, against requests queued and working. `None`
    /// (the default) answers every request at once. Requests already
    /// received keep the limit they started with. `Some(0)` counts as 1.
    pub fn set_workers(&self, n: Option<usize>) {
        let mut w = self
            .state
            .knobs
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *w = n.map(|n| (n.max(1), Arc::new(Semaphore::new(n.max(1)))));
    }

    /// Forget the request counts and high-water marks.
    pub fn reset_counters(&self) {
        let c = &self.state.counters;
        c.by_url.lock().unwrap_or_else(|e| e.into_inner()).clear();
        c.total.store(0, Ordering::SeqCst);
        c.rejected.store(0, Ordering::SeqCst);
        c.max_in_flight
            .store(c.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        c.max_working
            .store(c.working.load(Ordering::SeqCst), Ordering::SeqCst);
        c.max_open_connections
            .store(c.open_connections.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        // Closing the channel ends every thread's `run`; dropping the last
        // executor handle then drops the listener and every connection.
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        drop(self.executor.take());
    }
}

async fn accept_loop(listener: TcpListener, executor: Weak<Executor<'static>>, state: Arc<State>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                Timer::after(Duration::from_millis(5)).await;
                continue;
            }
        };
        let Some(ex) = executor.upgrade() else { return };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        ex.spawn(async move {
            let c = &state.counters;
            c.connections.fetch_add(1, Ordering::SeqCst);
            let _open = Gauge::enter(&c.open_connections, &c.max_open_connections);
            let _ = serve(&state, stream).await;
        })
        .detach();
    }
}

/// A parsed request head.
struct Request {
    head_len: usize,
    head_only: bool,
    close: bool,
    body_len: usize,
    chunked: bool,
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| start + p + 4)
}

/// Parse the head in `buf[..end]`; fills `key` with `http://HOST/target`.
fn parse(buf: &[u8], end: usize, authority: &str, key: &mut String) -> Option<(Request, usize)> {
    let text = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    let mut req = Request {
        head_len: end,
        head_only: method == "HEAD",
        close: version == "HTTP/1.0",
        body_len: 0,
        chunked: false,
    };
    let mut host = authority;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("host") {
            host = value;
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                req.close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                req.close = false;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            req.body_len = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            req.chunked = !value.eq_ignore_ascii_case("identity");
        }
    }
    key.clear();
    key.push_str("http://");
    for c in host.chars() {
        key.push(c.to_ascii_lowercase());
    }
    key.push_str(target);
    let path_len = target.find('?').unwrap_or(target.len());
    // The path's position inside `key`.
    let path_start = key.len() - target.len();
    Some((req, path_start + path_len))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let len = buf.len();
    buf.resize(len + 8192, 0);
    let n = stream.read(&mut buf[len..]).await;
    buf.truncate(len + *n.as_ref().unwrap_or(&0));
    n
}

async fn serve(state: &State, mut stream: TcpStream) -> io::Result<()> {
    let c = &state.counters;
    let mut buf = Vec::with_capacity(8192);
    let mut out = Vec::with_capacity(COALESCE + 1024);
    let mut key = String::with_capacity(256);
    loop {
        // Read a complete head.
        let mut scanned = 0;
        let end = loop {
            if let Some(end) = find_head_end(&buf, scanned) {
                break end;
            }
            scanned = buf.len();
            if buf.len() > MAX_HEAD {
                stream.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
                return Ok(());
            }
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
        };
        let Some((req, path_end)) = parse(&buf, end, &state.authority, &mut key) else {
            stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        };
        if req.chunked {
            stream.write_all(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
            return Ok(());
        }
        let overload = state.knobs.overload.load(Ordering::SeqCst);
        let busy = if overload == NO_OVERLOAD {
            Some(Gauge::enter(&c.in_flight, &c.max_in_flight))
        } else {
            Gauge::try_enter(&c.in_flight, &c.max_in_flight, overload)
        };
        c.total.fetch_add(1, Ordering::SeqCst);
        {
            let mut map = c.by_url.lock().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(key.as_str()) {
                Some(n) => *n += 1,
                None => {
                    map.insert(key.clone(), 1);
                }
            }
        }
        // Skip the request body.
        while buf.len() < req.head_len + req.body_len {
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
        }
        buf.drain(..req.head_len + req.body_len);

        let path_start = key.find("://").map_or(0, |p| p + 3);
        let path = key[path_start..path_end]
            .find('/')
            .map_or("/", |p| &key[path_start + p..path_end]);
        let Some(_busy) = busy else {
            c.rejected.fetch_add(1, Ordering::SeqCst);
            unavailable(state, &mut stream, &mut out, &req).await?;
            if req.close {
                return Ok(());
            }
            continue;
        };
        let route = state.routes.get(path).unwrap_or(&state.not_found);
        let latency = state.knobs.latency();
        // Wait for a worker, if they are limited; it is held until the
        // response is written.
        let _worker = match state.knobs.workers() {
            Some(sem) => Some(sem.acquire_arc().await),
            None => None,
        };
        let _working = Gauge::enter(&c.working, &c.max_working);
        match route {
            Route::Fixed { head, body, extra } => {
                let delay = latency + *extra;
                if !delay.is_zero() {
                    Timer::after(delay).await;
                }
                out.clear();
                out.extend_from_slice(head);
                if req.close {
                    out.extend_from_slice(b"Connection: close\r\n");
                }
                out.extend_from_slice(b"\r\n");
                let send_body = !req.head_only;
                if send_body && body.len() <= COALESCE {
                    out.extend_from_slice(body);
                    stream.write_all(&out).await?;
                } else {
                    stream.write_all(&out).await?;
                    if send_body {
                        stream.write_all(body).await?;
                    }
                }
                if send_body {
                    c.body_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                }
            }
            Route::Endless => {
                if !latency.is_zero() {
                    Timer::after(latency).await;
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nServer: semcrawl-site\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await?;
                if req.head_only {
                    return Ok(());
                }
                let start = b"<!DOCTYPE html><html><head><title>Endless</title></head><body><p>";
                stream
                    .write_all(format!("{:x}\r\n", start.len()).as_bytes())
                    .await?;
                stream.write_all(start).await?;
                stream.write_all(b"\r\n").await?;
                loop {
                    // Ends when the client goes away (the write fails).
                    stream.write_all(&state.endless_chunk).await?;
                    c.body_bytes
                        .fetch_add(ENDLESS_CHUNK as u64, Ordering::Relaxed);
                }
            }
        }
        stream.flush().await?;
        if req.close {
            return Ok(());
        }
    }
}

/// Answer the overload 503.
async fn unavailable(
    state: &State,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    req: &Request,
) -> io::Result<()> {
    let body = &state.unavailable;
    let retry_after = match state.knobs.retry_after.load(Ordering::SeqCst) {
        NO_RETRY_AFTER => String::new(),
        secs => format!("Retry-After: {secs}\r\n"),
    };
    out.clear();
    out.extend_from_slice(&head(
        503,
        "text/html; charset=utf-8",
        &retry_after,
        body.len(),
    ));
    if req.close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !req.head_only {
        out.extend_from_slice(body);
        state
            .counters
            .body_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
    }
    stream.write_all(out).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream as StdStream;
    use std::time::Instant;

    use super::*;
    use crate::{wait_for, SiteSpec, BOMB_INFLATED_SIZE, KNOWN_PAGE};

    /// How long a test waits for the server's gauges to show a request.
    const WAIT: Duration = Duration::from_secs(10);

    /// A response read by the minimal client below.
    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Resp {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn read_head(r: &mut BufReader<StdStream>) -> (u16, Vec<(String, String)>) {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        (status, headers)
    }

    /// Send a GET and read a Content-Length response on a kept-alive stream.
    fn get(r: &mut BufReader<StdStream>, path: &str) -> Resp {
        let host = r.get_ref().peer_addr().unwrap();
        write!(
            r.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test\r\n\r\n"
        )
        .unwrap();
        let (status, headers) = read_head(r);
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "Content-Length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn connect(server: &SiteServer) -> BufReader<StdStream> {
        let s = StdStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        BufReader::new(s)
    }

    #[test]
    fn keep_alive_404_redirects_and_counters() {
        let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 2).unwrap();
        let mut c = connect(&server);
        let home = get(&mut c, "/");
        assert_eq!(home.status, 200);
        let text = String::from_utf8(home.body).unwrap();
        assert!(text.contains("<title>semcrawl test site</title>"));
        assert!(text.contains(&format!("http://localhost:{}/", server.addr().port())));
        // Same connection: keep-alive.
        let page = get(&mut c, "/p/3.html?utm_source=x");
        assert_eq!(page.status, 200);
        assert!(page.body.len() > 6 * 1024, "page size {}", page.body.len());
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains("<html lang=\"en\">") && html.contains("<meta name=\"description\""));
        let links = html.matches("<a href=").count();
        assert!((10..=25).contains(&links), "{links} links");

        let missing = get(&mut c, "/missing/home.html");
        assert_eq!(missing.status, 404);
        let moved = get(&mut c, "/old/1");
        assert_eq!(moved.status, 301);
        assert_eq!(
            moved.header("Location"),
            Some(server.url("/p/1.html").as_str())
        );
        let off = get(&mut c, "/go/offsite");
        assert_eq!(
            (off.status, off.header("Location")),
            (302, Some("http://offsite.invalid/landing"))
        );
        assert_eq!(
            get(&mut c, "/loop/self").header("Location"),
            Some("/loop/self")
        );
        assert_eq!(get(&mut c, "/error/500.html").status, 500);
        let robots = get(&mut c, "/robots.txt");
        assert!(String::from_utf8(robots.body)
            .unwrap()
            .contains("Disallow: /private/"));
        let sjis = get(&mut c, "/enc/sjis.html");
        assert_eq!(
            sjis.header("Content-Type"),
            Some("text/html; charset=Shift_JIS")
        );
        assert!(std::str::from_utf8(&sjis.body).is_err());
        let known = get(&mut c, KNOWN_PAGE.path);
        assert!(String::from_utf8(known.body)
            .unwrap()
            .contains("Hello, crawler"));

        assert_eq!(server.connections(), 1);
        assert_eq!(server.request_count("/p/3.html?utm_source=x"), 1);
        assert_eq!(server.request_count("/p/3.html"), 0);
        assert_eq!(server.request_count("/"), 1);
        assert_eq!(server.total_requests(), 10);
        assert_eq!(server.max_in_flight(), 1);
        server.reset_counters();
        assert_eq!(server.total_requests(), 0);
        assert!(server.requests().is_empty());
    }

    #[test]
    fn gzip_bomb_headers() {
        let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 1).unwrap();
        let mut c = connect(&server);
        let bomb = get(&mut c, "/bomb.html");
        assert_eq!(bomb.status, 200);
        assert_eq!(bomb.header("Content-Encoding"), Some("gzip"));
        assert!(bomb
            .header("Content-Type")
            .unwrap()
            .starts_with("text/html"));
        assert!((bomb.body.len() as u64) < BOMB_INFLATED_SIZE / 100);
        assert_eq!(&bomb.body[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn endless_body_can_be_read_partially_and_dropped() {
        let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 1).unwrap();
        {
            let mut c = connect(&server);
            write!(
                c.get_mut(),
                "GET /stream/endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            .unwrap();
            let (status, headers) = read_head(&mut c);
            assert_eq!(status, 200);
            assert!(headers
                .iter()
                .any(|(n, v)| n == "Transfer-Encoding" && v == "chunked"));
            let mut got = vec![0u8; 1 << 20];
            c.read_exact(&mut got).unwrap();
            assert!(got.starts_with(b"4"), "first chunk size line");
        }
        // The server notices the client left and ends the response.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.in_flight() > 0 {
            assert!(
                Instant::now() < deadline,
                "endless response still in flight"
            );
            std::thread::yield_now();
        }
        // And still answers.
        let mut c = connect(&server);
        assert_eq!(get(&mut c, "/").status, 200);
    }

    #[test]
    fn latency_head_and_connection_close() {
        let spec = SiteSpec {
            latency: Duration::from_millis(100),
            ..SiteSpec::plain(3, 1024)
        };
        let server = SiteServer::start(Site::new(spec), 1).unwrap();
        let mut s = StdStream::connect(server.addr()).unwrap();
        let t = Instant::now();
        s.write_all(b"HEAD /p/0.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert!(
            resp.starts_with("HTTP/1.1 200 OK\r\n") && resp.ends_with("\r\n\r\n"),
            "{resp}"
        );
        assert!(resp.contains("Connection: close"));
        assert_eq!(server.request_count("http://h/p/0.html"), 1);
    }

    #[test]
    fn many_concurrent_connections() {
        let spec = SiteSpec {
            latency: Duration::from_millis(300),
            ..SiteSpec::plain(50, 2048)
        };
        let server = SiteServer::start(Site::new(spec), 2).unwrap();
        let mut conns: Vec<StdStream> = (0..1000)
            .map(|_| StdStream::connect(server.addr()).unwrap())
            .collect();
        for (i, s) in conns.iter_mut().enumerate() {
            write!(
                s,
                "GET /p/{}.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                i % 50
            )
            .unwrap();
        }
        for s in &mut conns {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).unwrap();
            assert!(resp.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
        assert_eq!(server.total_requests(), 1000);
        assert!(
            server.max_in_flight() > 500,
            "max in flight {}",
            server.max_in_flight()
        );
        assert!(server.max_open_connections() >= server.max_in_flight());
    }

    /// Send a GET without waiting for the answer.
    fn send(c: &mut BufReader<StdStream>, path: &str) {
        write!(c.get_mut(), "GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    }

    #[test]
    fn latency_can_change_while_serving() {
        let server = SiteServer::start(Site::new(SiteSpec::plain(3, 1024)), 2).unwrap();
        assert_eq!(server.latency(), Duration::ZERO);
        // A request received under a long latency keeps it...
        server.set_latency(Duration::from_secs(30));
        assert_eq!(server.latency(), Duration::from_secs(30));
        let mut slow = connect(&server);
        send(&mut slow, "/p/1.html");
        wait_for("the slow request", WAIT, || {
            (server.in_flight() == 1).then_some(())
        });
        // ...while one received after the change gets the new one: answered
        // long before the first one.
        server.set_latency(Duration::ZERO);
        let mut fast = connect(&server);
        assert_eq!(get(&mut fast, "/p/2.html").status, 200);
        // (The gauge drops just after the response is written: wait for it.)
        wait_for("the slow request alone in flight", WAIT, || {
            (server.in_flight() == 1).then_some(())
        });
        // And a latency set from now on is honoured.
        server.set_latency(Duration::from_millis(150));
        let t = Instant::now();
        assert_eq!(get(&mut fast, "/p/0.html").status, 200);
        assert!(t.elapsed() >= Duration::from_millis(150));
        // The slow page keeps its own delay on top of the latency.
        let spec = SiteSpec {
            slow_latency: Duration::from_millis(100),
            ..SiteSpec::trap_site()
        };
        let traps = SiteServer::start(Site::new(spec), 1).unwrap();
        traps.set_latency(Duration::from_millis(100));
        let mut c = connect(&traps);
        let t = Instant::now();
        assert_eq!(get(&mut c, "/slow.html").status, 200);
        assert!(t.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn overload_answers_503_above_the_threshold() {
        let server = SiteServer::start(Site::new(SiteSpec::plain(5, 1024)), 2).unwrap();
        assert_eq!((server.overload(), server.retry_after()), (None, None));
        server.set_overload(Some(2));
        assert_eq!(server.overload(), Some(2));
        // Two requests held by a long latency fill the server.
        server.set_latency(Duration::from_secs(30));
        let mut held: Vec<_> = (0..2).map(|_| connect(&server)).collect();
        for (i, c) in held.iter_mut().enumerate() {
            send(c, &format!("/p/{i}.html"));
        }
        wait_for("two requests in flight", WAIT, || {
            (server.in_flight() == 2).then_some(())
        });
        // A third is turned away at once (the latency does not apply), with no
        // Retry-After by default; its connection stays usable.
        let mut c = connect(&server);
        let busy = get(&mut c, "/p/3.html");
        assert_eq!(busy.status, 503);
        assert_eq!(busy.header("Retry-After"), None);
        assert!(String::from_utf8(busy.body)
            .unwrap()
            .contains("Service Unavailable"));
        server.set_retry_after(Some(0));
        assert_eq!(server.retry_after(), Some(0));
        let busy = get(&mut c, "/p/3.html");
        assert_eq!((busy.status, busy.header("Retry-After")), (503, Some("0")));
        server.set_retry_after(Some(7));
        assert_eq!(get(&mut c, "/").header("Retry-After"), Some("7"));
        assert_eq!(server.rejected(), 3);
        assert_eq!(server.request_count("http://h/p/3.html"), 0);
        assert_eq!(server.request_count("/p/3.html"), 2);
        assert_eq!(server.total_requests(), 5);
        assert_eq!((server.in_flight(), server.max_in_flight()), (2, 2));
        // A higher threshold lets one more in; no threshold, everything.
        server.set_latency(Duration::ZERO);
        server.set_overload(Some(3));
        assert_eq!(get(&mut c, "/p/4.html").status, 200);
        assert_eq!(server.max_in_flight(), 3);
        server.set_overload(None);
        assert_eq!(server.overload(), None);
        server.set_latency(Duration::from_secs(30));
        let mut more: Vec<_> = (0..3).map(|_| connect(&server)).collect();
        for c in &mut more {
            send(c, "/");
        }
        wait_for("five requests in flight", WAIT, || {
            (server.in_flight() == 5).then_some(())
        });
        assert_eq!(server.rejected(), 3);
        server.reset_counters();
        assert_eq!((server.rejected(), server.max_in_flight()), (0, 5));
    }

    /// `clients` keep-alive clients, started together, each GETting
    /// `requests` of the site's first ten pages; every status, in order.
    fn many_clients(server: &SiteServer, clients: usize, requests: usize) -> Vec<u16> {
        let addr = server.addr();
        let start = Arc::new(std::sync::Barrier::new(clients));
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                let start = start.clone();
                std::thread::spawn(move || {
                    let s = StdStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut c = BufReader::new(s);
                    start.wait();
                    (0..requests)
                        .map(|j| get(&mut c, &format!("/p/{}.html", (i + j) % 10)).status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    }

    #[test]
    fn overload_never_lets_more_in_than_the_threshold() {
        // Many clients at once against a threshold of 4: the gauge's check
        // and entry are one step, so the maximum is exact.
        let spec = SiteSpec {
            latency: Duration::from_millis(20),
            ..SiteSpec::plain(10, 512)
        };
        let server = SiteServer::start(Site::new(spec), 2).unwrap();
        server.set_overload(Some(4));
        let statuses = many_clients(&server, 16, 20);
        let ok = statuses.iter().filter(|&&s| s == 200).count() as u64;
        let rejected = statuses.iter().filter(|&&s| s == 503).count() as u64;
        assert_eq!(ok + rejected, 16 * 20, "only 200s and 503s");
        assert!(ok > 0 && rejected > 0, "{ok} served, {rejected} rejected");
        assert_eq!(server.rejected(), rejected);
        assert_eq!(server.total_requests(), 16 * 20);
        assert!(server.max_in_flight() <= 4, "{}", server.max_in_flight());
    }

    #[test]
    fn workers_cap_the_requests_answered_at_once() {
        let server = SiteServer::start(Site::new(SiteSpec::plain(5, 1024)), 2).unwrap();
        assert_eq!(server.workers(), None);
        server.set_workers(Some(2));
        assert_eq!(server.workers(), Some(2));
        // Three requests held by a long latency: two get a worker, the third
        // queues (in flight, not working, not rejected).
        server.set_latency(Duration::from_secs(30));
        let mut held: Vec<_> = (0..3).map(|_| connect(&server)).collect();
        for (i, c) in held.iter_mut().enumerate() {
            send(c, &format!("/p/{i}.html"));
        }
        wait_for("three requests in flight", WAIT, || {
            (server.in_flight() == 3).then_some(())
        });
        wait_for("two requests working", WAIT, || {
            (server.working() == 2).then_some(())
        });
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!((server.working(), server.max_working()), (2, 2));
        assert_eq!((server.in_flight(), server.rejected()), (3, 0));
        // Without a limit, a new request is answered at once while the
        // queued one still waits.
        server.set_workers(None);
        server.set_latency(Duration::ZERO);
        let mut c = connect(&server);
        assert_eq!(get(&mut c, "/p/3.html").status, 200);
        // (The gauges drop just after the response is written: wait for it.)
        wait_for("the queued request still in flight", WAIT, || {
            ((server.in_flight(), server.working()) == (3, 2)).then_some(())
        });
        server.reset_counters();
        assert_eq!(server.max_working(), 2);
    }

    #[test]
    fn workers_never_serve_more_than_their_count() {
        // 16 clients at once against 4 workers: every request is answered
        // 200 (queued, not turned away), never more than 4 at once.
        let spec = SiteSpec {
            latency: Duration::from_millis(20),
            ..SiteSpec::plain(10, 512)
        };
        let server = SiteServer::start(Site::new(spec), 2).unwrap();
        server.set_workers(Some(4));
        let statuses = many_clients(&server, 16, 10);
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
        assert_eq!(server.total_requests(), 16 * 10);
        assert_eq!(server.rejected(), 0);
        assert!(server.max_working() <= 4, "{}", server.max_working());
        assert!(server.max_in_flight() > 4, "{}", server.max_in_flight());
    }

    #[test]
    fn drop_stops_the_server() {
        let server = SiteServer::start(Site::new(SiteSpec::plain(2, 512)), 1).unwrap();
        let addr = server.addr();
        let mut c = connect(&server);
        assert_eq!(get(&mut c, "/").status, 200);
        drop(server);
        // The open connection is closed...
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap_or(0), 0);
        // ...and new ones are refused.
        assert!(StdStream::connect(addr).is_err());
    }
}
