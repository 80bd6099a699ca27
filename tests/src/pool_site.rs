//! A blog-like site behind a thread-pool server: a fixed pool of worker
//! threads, one request each at a time, and a few pages that take seconds.
//!
//! This is the shape of many small real servers (Python's `http.server`,
//! a PHP-FPM pool, a Rails app with a few Puma threads) and the one the
//! generated site's async server does not have:
//!
//! * **Early saturation.** Only [`PoolSpec::workers`] requests are worked
//!   on at once; the rest wait in the accept queue, so latency grows with
//!   every request beyond the pool, from the first one, and no more load
//!   buys more pages.
//! * **A mix of fast and slow pages.** A few pages (an archive, a search)
//!   take [`PoolSpec::slow`] however idle the server is, and hold a worker
//!   all that time. Their latency says nothing about a queue: it is what
//!   those pages cost.
//!
//! Every response closes its connection (`Connection: close`, as
//! `http.server` answers HTTP/1.0), so a worker is free again as soon as it
//! has answered. An acceptor thread takes every connection at once and
//! queues it for the pool: the queue is the server's accept queue, which
//! lets the server count the requests in flight at it (accepted, not yet
//! answered) — what a crawl puts on the host, whatever its own counters say.
//!
//! The pages: `/` and `/p/1` … `/p/{pages-1}`; page `n` links to the home
//! page, its neighbours and its children `10n+1` … `10n+10` (a tree of
//! fan-out 10, so the frontier is deep after a few pages). `robots.txt` and
//! anything else are 404s, answered by a worker like any request.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Links from a page to new pages: the tree's fan-out.
const FANOUT: usize = 10;

/// The shape of a [`PoolSite`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// Worker threads: requests served at once.
    pub workers: usize,
    /// Pages, the home page included.
    pub pages: usize,
    /// How long a worker takes over an ordinary page (or a 404).
    pub fast: Duration,
    /// How long it takes over a slow page.
    pub slow: Duration,
    /// The slow pages, by number (`0` is the home page).
    pub slow_pages: Vec<usize>,
    /// Filler per page, in bytes, so that pages weigh what a blog's do.
    pub filler: usize,
}

impl PoolSpec {
    /// The site of the end-to-end test and the benchmark: 8 workers, 400
    /// pages of ~4 KiB that take 20 ms of a worker, 4 of which take 2 s.
    /// At 8 requests at once the pool is full; at 16, half of each
    /// request's latency is the queue.
    pub fn blog() -> PoolSpec {
        PoolSpec {
            workers: 8,
            pages: 400,
            fast: Duration::from_millis(20),
            slow: Duration::from_secs(2),
            slow_pages: vec![37, 112, 187, 262],
            filler: 4096,
        }
    }
}

/// What the server has seen so far.
#[derive(Debug, Default)]
struct Counters {
    /// Requests accepted and not yet answered.
    in_flight: AtomicUsize,
    /// The most there ever were.
    max_in_flight: AtomicUsize,
    /// Requests being worked on by a worker.
    working: AtomicUsize,
    /// Requests answered.
    total: AtomicU64,
    /// Requests for pages of the site (not 404s), answered.
    pages: AtomicU64,
}

/// Connections accepted and waiting for a worker.
#[derive(Default)]
struct Queue {
    streams: Mutex<VecDeque<TcpStream>>,
    ready: Condvar,
}

/// A running pool site on a free port of 127.0.0.1; it serves for the rest
/// of the process.
///
/// ```no_run
/// use semcrawl_tests::pool_site::{PoolSite, PoolSpec};
/// let site = PoolSite::start(PoolSpec::blog());
/// println!("crawl {}", site.url("/"));
/// assert!(site.max_in_flight() <= 32);
/// ```
pub struct PoolSite {
    spec: Arc<PoolSpec>,
    port: u16,
    counters: Arc<Counters>,
}

impl PoolSite {
    /// Bind 127.0.0.1:0, start the acceptor and the workers.
    ///
    /// # Panics
    ///
    /// If the port cannot be bound or a thread cannot be started.
    pub fn start(spec: PoolSpec) -> PoolSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let spec = Arc::new(spec);
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::default());
        for _ in 0..spec.workers.max(1) {
            let (spec, counters, queue) = (spec.clone(), counters.clone(), queue.clone());
            std::thread::spawn(move || worker(&spec, &counters, &queue));
        }
        let c = counters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                c.max_in_flight.fetch_max(now, Ordering::SeqCst);
                queue.streams.lock().unwrap().push_back(stream);
                queue.ready.notify_one();
            }
        });
        PoolSite {
            spec,
            port,
            counters,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The URLs of every page, as a crawl from `/` stores them.
    pub fn page_urls(&self) -> BTreeSet<String> {
        (0..self.spec.pages)
            .map(|n| self.url(&path_of(n)))
            .collect()
    }

    /// The spec it serves.
    pub fn spec(&self) -> &PoolSpec {
        &self.spec
    }

    /// The most requests ever in flight at once (accepted, not yet answered).
    pub fn max_in_flight(&self) -> usize {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.counters.in_flight.load(Ordering::SeqCst)
    }

    /// Requests a worker is on now (at most [`PoolSpec::workers`]).
    pub fn working(&self) -> usize {
        self.counters.working.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn total_requests(&self) -> u64 {
        self.counters.total.load(Ordering::SeqCst)
    }

    /// Page requests (not 404s) answered so far.
    pub fn page_requests(&self) -> u64 {
        self.counters.pages.load(Ordering::SeqCst)
    }
}

fn path_of(n: usize) -> String {
    if n == 0 {
        "/".to_owned()
    } else {
        format!("/p/{n}")
    }
}

fn page_number(path: &str, pages: usize) -> Option<usize> {
    let n = if path == "/" {
        0
    } else {
        path.strip_prefix("/p/")?.parse().ok()?
    };
    (n < pages).then_some(n)
}

fn worker(spec: &PoolSpec, counters: &Counters, queue: &Queue) {
    loop {
        let stream = {
            let mut streams = queue.streams.lock().unwrap();
            loop {
                match streams.pop_front() {
                    Some(s) => break s,
                    None => streams = queue.ready.wait(streams).unwrap(),
                }
            }
        };
        counters.working.fetch_add(1, Ordering::SeqCst);
        let _ = serve(spec, counters, stream);
        counters.working.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Read one request, take the page's time, answer and close.
fn serve(spec: &PoolSpec, counters: &Counters, stream: TcpStream) -> std::io::Result<()> {
    // A client that never sends its request must not hold a worker for ever.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    let read = reader.read_line(&mut line);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if read.is_ok() {
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) if header == "\r\n" || header == "\n" => break,
                Ok(_) => {}
            }
        }
    }
    let page = page_number(&path, spec.pages);
    let slow = page.is_some_and(|n| spec.slow_pages.contains(&n));
    std::thread::sleep(if slow { spec.slow } else { spec.fast });
    let (status, body) = match page {
        Some(n) => ("200 OK", body(spec, n)),
        None => ("404 Not Found", String::from("not found")),
    };
    // Answered from here: the client may send its next request as soon as
    // it reads this, and it must not find this one still counted.
    counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    counters.total.fetch_add(1, Ordering::SeqCst);
    if page.is_some() {
        counters.pages.fetch_add(1, Ordering::SeqCst);
    }
    let mut writer = stream;
    write!(
        writer,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    writer.write_all(body.as_bytes())?;
    writer.flush()?;
    writer.shutdown(std::net::Shutdown::Both)
}

fn body(spec: &PoolSpec, n: usize) -> String {
    let mut out = format!(
        "<!doctype html><html><head><title>post {n}</title></head><body><a href=\"/\">home</a>"
    );
    if n > 1 {
        let _ = write!(out, "<a href=\"{}\">previous</a>", path_of(n - 1));
    }
    if n + 1 < spec.pages {
        let _ = write!(out, "<a href=\"{}\">next</a>", path_of(n + 1));
    }
    for child in (FANOUT * n + 1..=FANOUT * n + FANOUT).filter(|&c| c < spec.pages) {
        let _ = write!(out, "<a href=\"{}\">post {child}</a>", path_of(child));
    }
    out.push_str("<p>");
    while out.len() < spec.filler {
        out.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    out.push_str("</p></body></html>");
    out
}
