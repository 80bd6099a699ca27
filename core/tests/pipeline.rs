//! The whole pipeline on a non-smol executor: `futures::executor::LocalPool`
//! with a virtual clock, against an in-memory fetcher. Proves the core needs
//! no particular runtime, and tests the gates and the frontier without a
//! network (the end-to-end tests in `tests/` use real sockets).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::executor::LocalPool;
use futures::io::AsyncRead;
use futures::task::LocalSpawnExt;
use futures::StreamExt;
use semcrawl_core::frontier::{Entry, Frontier, FrontierError, MemoryFrontier, Pushed, Ready};
use semcrawl_core::MemoryStore;
use semcrawl_core::{
    BoxFuture, Config, Crawler, ErrorKind, Fetch, FetchError, FetchRequest, Record, Response,
    Runtime, Summary,
};

/// A clock that only moves when every task is idle.
#[derive(Default)]
struct Clock {
    now: AtomicU64,
    timers: Mutex<Vec<(u64, oneshot::Sender<()>)>>,
}

#[derive(Clone)]
struct VirtualRuntime {
    clock: Arc<Clock>,
    spawn: mpsc::UnboundedSender<BoxFuture<'static, ()>>,
}

impl Runtime for VirtualRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.spawn.unbounded_send(future).expect("pool alive");
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let (tx, rx) = oneshot::channel();
        let at = self.clock.now.load(Ordering::SeqCst) + duration.as_millis() as u64;
        self.clock.timers.lock().unwrap().push((at, tx));
        Box::pin(async move {
            let _ = rx.await;
        })
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.clock.now.load(Ordering::SeqCst))
    }
    fn unix_millis(&self) -> u64 {
        1_700_000_000_000 + self.clock.now.load(Ordering::SeqCst)
    }
}

/// One canned response.
#[derive(Clone)]
struct Page {
    status: u16,
    content_type: &'static str,
    location: Option<String>,
    body: Vec<u8>,
    latency_ms: u64,
}

fn html(body: &str) -> Page {
    Page {
        status: 200,
        content_type: "text/html; charset=utf-8",
        location: None,
        body: body.as_bytes().to_vec(),
        latency_ms: 10,
    }
}

#[derive(Clone)]
struct MemoryFetcher {
    site: Arc<HashMap<String, Page>>,
    runtime: VirtualRuntime,
    log: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// Requests the server serves at once before latency grows (0: no limit).
    saturation: usize,
    /// Above this many requests in flight, answer 503 (0: never).
    overload_at: usize,
    /// Per host: above this many requests in flight to the host, answer 503.
    host_overload: Arc<HashMap<String, usize>>,
    /// Per host: requests in flight, the most seen at once, and 503s sent.
    hosts: Arc<Mutex<HashMap<String, HostCount>>>,
    /// A URL whose fetch panics (a bug in an adapter, say).
    panic_on: Option<String>,
}

#[derive(Default, Clone)]
struct HostCount {
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    rejected: usize,
}

/// Body that holds its `in_flight` slot until read to the end or dropped.
struct Reader {
    data: Vec<u8>,
    pos: usize,
    _guard: InFlight,
}

/// The request's slot, in the server's count and in its host's.
struct InFlight(Arc<AtomicUsize>, Arc<AtomicUsize>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl Fetch for MemoryFetcher {
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Response, FetchError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(request.url.to_string());
            if self.panic_on.as_deref() == Some(request.url.as_str()) {
                panic!("a fetch that panics");
            }
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let host = request.url.host_str().unwrap_or_default().to_owned();
            let (host_now, host_slot) = {
                let mut hosts = self.hosts.lock().unwrap();
                let h = hosts.entry(host.clone()).or_default();
                let n = h.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                h.max_in_flight = h.max_in_flight.max(n);
                (n, h.in_flight.clone())
            };
            let guard = InFlight(self.in_flight.clone(), host_slot);
            let page = self
                .site
                .get(request.url.as_str())
                .cloned()
                .unwrap_or(Page {
                    status: 404,
                    content_type: "text/plain",
                    location: None,
                    body: b"not found".to_vec(),
                    latency_ms: 1,
                });
            let mut latency = page.latency_ms;
            if self.saturation > 0 && now > self.saturation {
                // Queueing: a saturated server answers proportionally later.
                latency = latency * now as u64 / self.saturation as u64;
            }
            self.runtime.sleep(Duration::from_millis(latency)).await;
            let host_overloaded = self
                .host_overload
                .get(&host)
                .is_some_and(|&at| host_now > at);
            if host_overloaded {
                self.hosts.lock().unwrap().entry(host).or_default().rejected += 1;
            }
            if (self.overload_at > 0 && now > self.overload_at) || host_overloaded {
                return Ok(Response {
                    status: 503,
                    url: request.url,
                    content_type: None,
                    content_length: Some(0),
                    location: None,
                    retry_after: None,
                    body: Box::new(Reader {
                        data: Vec::new(),
                        pos: 0,
                        _guard: guard,
                    }),
                });
            }
            if request.url.host_str() == Some("down.test") {
                return Err(FetchError::Connect("connection refused".into()));
            }
            Ok(Response {
                status: page.status,
                url: request.url,
                content_type: Some(page.content_type.to_owned()),
                content_length: Some(page.body.len() as u64),
                location: page.location,
                retry_after: None,
                body: Box::new(Reader {
                    data: page.body,
                    pos: 0,
                    _guard: guard,
                }),
            })
        })
    }
}

struct Harness {
    fetcher: MemoryFetcher,
    store: MemoryStore,
}

/// Run a crawl on a LocalPool, advancing the virtual clock whenever the
/// pool is idle. `stop_after` stops the crawl once that many records exist.
fn crawl(
    site: HashMap<String, Page>,
    config: Config,
    stop_after: Option<usize>,
) -> (Summary, Harness) {
    crawl_server(site, config, stop_after, 0, 0)
}

fn crawl_server(
    site: HashMap<String, Page>,
    config: Config,
    stop_after: Option<usize>,
    saturation: usize,
    overload_at: usize,
) -> (Summary, Harness) {
    crawl_hosts(
        site,
        config,
        stop_after,
        saturation,
        overload_at,
        HashMap::new(),
    )
}

fn crawl_hosts(
    site: HashMap<String, Page>,
    config: Config,
    stop_after: Option<usize>,
    saturation: usize,
    overload_at: usize,
    host_overload: HashMap<String, usize>,
) -> (Summary, Harness) {
    let server = Server {
        saturation,
        overload_at,
        host_overload,
        panic_on: None,
        frontier: None,
    };
    crawl_on(site, config, stop_after, server)
}

/// Builds a frontier that can see the crawl's store.
type MakeFrontier = Box<dyn FnOnce(&MemoryStore) -> Box<dyn Frontier>>;

/// How the in-memory server misbehaves (see [`MemoryFetcher`]).
struct Server {
    saturation: usize,
    overload_at: usize,
    host_overload: HashMap<String, usize>,
    panic_on: Option<String>,
    /// Instead of the default in-memory frontier: made with the crawl's store.
    frontier: Option<MakeFrontier>,
}

fn crawl_on(
    site: HashMap<String, Page>,
    config: Config,
    stop_after: Option<usize>,
    server: Server,
) -> (Summary, Harness) {
    let Server {
        saturation,
        overload_at,
        host_overload,
        panic_on,
        frontier,
    } = server;
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let (spawn_tx, mut spawn_rx) = mpsc::unbounded::<BoxFuture<'static, ()>>();
    let runtime = VirtualRuntime {
        clock: Arc::new(Clock::default()),
        spawn: spawn_tx,
    };
    let fetcher = MemoryFetcher {
        site: Arc::new(site),
        runtime: runtime.clone(),
        log: Arc::default(),
        in_flight: Arc::default(),
        max_in_flight: Arc::default(),
        saturation,
        overload_at,
        host_overload: Arc::new(host_overload),
        hosts: Arc::default(),
        panic_on,
    };
    let store = MemoryStore::default();
    let crawler = Crawler::new(config, fetcher.clone(), runtime.clone()).expect("valid config");
    let crawler = match frontier {
        Some(make) => crawler.with_frontier(make(&store)),
        None => crawler,
    };
    let stop = crawler.stop_handle();
    let result: Rc<RefCell<Option<Summary>>> = Rc::default();
    {
        let result = result.clone();
        let store = store.clone();
        spawner
            .spawn_local(async move {
                *result.borrow_mut() =
                    Some(crawler.run(store).await.expect("memory store never fails"));
            })
            .unwrap();
    }
    let inner = spawner.clone();
    spawner
        .spawn_local(async move {
            while let Some(f) = spawn_rx.next().await {
                inner.spawn_local(f).unwrap();
            }
        })
        .unwrap();
    let clock = runtime.clock.clone();
    for _ in 0..1_000_000 {
        pool.run_until_stalled();
        if result.borrow().is_some() {
            break;
        }
        if let Some(n) = stop_after {
            if !stop.is_stopped() && store.records().len() >= n {
                stop.stop();
                continue;
            }
        }
        // Idle: jump to the next timer.
        let mut timers = clock.timers.lock().unwrap();
        let Some(next) = timers.iter().map(|(t, _)| *t).min() else {
            panic!("deadlock: no task can progress and no timer is set");
        };
        clock.now.store(next, Ordering::SeqCst);
        let (due, rest): (Vec<_>, Vec<_>) = timers.drain(..).partition(|(t, _)| *t <= next);
        *timers = rest;
        drop(timers);
        for (_, tx) in due {
            let _ = tx.send(());
        }
    }
    let summary = result.borrow_mut().take().expect("crawl finished");
    (summary, Harness { fetcher, store })
}

fn config(seed: &str) -> Config {
    let mut c = Config::default();
    c.seeds.push(seed.parse().unwrap());
    c.memory = 16 * 1024 * 1024;
    c.max_body = 1024 * 1024;
    c
}

fn by_url(records: &[Record]) -> BTreeMap<String, Record> {
    let mut map = BTreeMap::new();
    for r in records {
        assert!(
            map.insert(r.url.clone(), r.clone()).is_none(),
            "{} stored twice",
            r.url
        );
    }
    map
}

fn small_site() -> HashMap<String, Page> {
    let mut site = HashMap::new();
    site.insert(
        "http://a.test/robots.txt".into(),
        Page {
            content_type: "text/plain",
            ..html("User-agent: *\nDisallow: /private/\n")
        },
    );
    site.insert(
        "http://a.test/".into(),
        html(
            r#"<html lang="en"><head><title> Home </title><meta name="description" content="the home"></head><body>
            <a href="/a">a</a> <a href="b#frag">b</a> <a href="/a?utm_source=x">a again</a>
            <a href="/private/secret">secret</a> <a href="http://other.test/">off-site</a>
            <a href="mailto:x@y">mail</a> <a href="/missing">404</a> <a href="/moved">moved</a>
            <a href="/away">away</a> <a href="http://down.test/">down</a></body></html>"#,
        ),
    );
    site.insert(
        "http://a.test/a".into(),
        html("<title>A</title><a href='/'>home</a><a href='/deep'>deep</a>"),
    );
    site.insert(
        "http://a.test/b".into(),
        html("<title>B</title><a href='/a'>a</a>"),
    );
    site.insert(
        "http://a.test/deep".into(),
        html("<title>Deep</title><a href='/deeper'>deeper</a>"),
    );
    site.insert("http://a.test/deeper".into(), html("<title>Deeper</title>"));
    site.insert(
        "http://a.test/private/secret".into(),
        html("<title>Secret</title>"),
    );
    site.insert(
        "http://a.test/moved".into(),
        Page {
            status: 301,
            location: Some("/b".into()),
            ..html("")
        },
    );
    site.insert(
        "http://a.test/away".into(),
        Page {
            status: 302,
            location: Some("http://other.test/landing".into()),
            ..html("")
        },
    );
    site
}

#[test]
fn crawls_the_site_once_within_scope_and_robots() {
    let (summary, h) = crawl(small_site(), config("http://a.test/"), None);
    let records = by_url(&h.store.records());
    let urls: Vec<&str> = records.keys().map(String::as_str).collect();
    assert_eq!(
        urls,
        [
            "http://a.test/",
            "http://a.test/a",
            "http://a.test/away",
            "http://a.test/b",
            "http://a.test/deep",
            "http://a.test/deeper",
            "http://a.test/missing",
            "http://a.test/moved",
        ]
    );
    let home = &records["http://a.test/"];
    assert_eq!(home.title.as_deref(), Some("Home"));
    assert_eq!(home.description.as_deref(), Some("the home"));
    assert_eq!(home.lang.as_deref(), Some("en"));
    assert_eq!(home.status, Some(200));
    assert!(home.error.is_none());
    assert!(home.sha256.as_deref().is_some_and(|s| s.len() == 64));
    assert_eq!(records["http://a.test/deeper"].depth, 3);
    assert_eq!(
        records["http://a.test/deeper"].parent.as_deref(),
        Some("http://a.test/deep")
    );
    let missing = &records["http://a.test/missing"];
    assert_eq!(
        (
            missing.status,
            missing.error.as_ref().map(|e| e.kind.as_str())
        ),
        (Some(404), Some("http"))
    );
    let moved = &records["http://a.test/moved"];
    assert_eq!(
        (moved.status, moved.final_url.as_deref()),
        (Some(301), Some("http://a.test/b"))
    );
    assert!(moved.error.is_none());
    let away = &records["http://a.test/away"];
    assert_eq!(
        away.error.as_ref().map(|e| e.kind.as_str()),
        Some("redirect_out_of_scope")
    );

    let log = h.fetcher.log.lock().unwrap().clone();
    assert!(
        !log.iter().any(|u| u.contains("/private/")),
        "robots.txt obeyed: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|u| u.contains("other.test") || u.contains("down.test")),
        "scope kept: {log:?}"
    );
    assert_eq!(
        log.iter().filter(|u| u.ends_with("/robots.txt")).count(),
        1,
        "robots.txt fetched once"
    );
    assert_eq!(summary.pages + summary.errors, 8);
    assert_eq!(summary.errors, 2);
    assert_eq!(summary.robots_skipped, 1);
    assert!(!summary.interrupted);
}

#[test]
fn depth_and_page_limits() {
    let mut c = config("http://a.test/");
    c.max_depth = Some(1);
    let (_, h) = crawl(small_site(), c, None);
    assert!(h.store.records().iter().all(|r| r.depth <= 1));
    assert!(!h.store.records().iter().any(|r| r.url.ends_with("/deep")));

    let mut c = config("http://a.test/");
    c.max_pages = Some(3);
    let (summary, h) = crawl(small_site(), c, None);
    assert_eq!(h.store.records().len(), 3);
    assert!(summary.queued > 0);
}

/// A generated site: `n` pages of `size` bytes, each linking to the next few.
fn big_site(n: usize, size: usize, latency_ms: u64) -> HashMap<String, Page> {
    host_site("a.test", n, size, latency_ms)
}

/// [`big_site`] on another host.
fn host_site(host: &str, n: usize, size: usize, latency_ms: u64) -> HashMap<String, Page> {
    let mut site = HashMap::new();
    for i in 0..n {
        let mut body = String::from("<html><head><title>p</title></head><body>");
        for j in 1..=8 {
            body.push_str(&format!("<a href=\"/p{}\">next</a>", (i * 8 + j) % n));
        }
        while body.len() < size {
            body.push_str("<p>lorem ipsum dolor sit amet</p>");
        }
        let mut page = html(&body);
        page.latency_ms = latency_ms;
        site.insert(format!("http://{host}/p{i}"), page);
    }
    site
}

#[test]
fn count_gate_bounds_pages_in_flight() {
    let mut c = config("http://a.test/p0");
    c.concurrency = semcrawl_core::Concurrency::Fixed(4);
    let (summary, h) = crawl(big_site(60, 2_000, 50), c, None);
    assert_eq!(summary.pages, 60);
    let max = h.fetcher.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 4, "at most 4 fetches at once, saw {max}");
    assert!(max >= 2, "the crawl did run pages concurrently (saw {max})");
    assert!(summary.max_in_flight <= 4);
    // 60 pages of 50 ms, 4 at a time: the count limit is what bound it.
    assert!(summary.limit_bound_ms >= 200, "{summary:?}");
    assert_eq!(summary.memory_bound_ms, 0, "{summary:?}");
}

#[test]
fn byte_gate_bounds_bytes_held_with_large_pages() {
    let mut c = config("http://a.test/p0");
    c.concurrency = semcrawl_core::Concurrency::Fixed(64);
    c.max_body = 2 * 1024 * 1024;
    c.memory = 16 * 1024 * 1024; // a few bodies at a time, one parse tree
    let (summary, h) = crawl(big_site(30, 300_000, 100), c.clone(), None);
    let records = h.store.records();
    assert_eq!(
        records.len(),
        30,
        "{:?}",
        records.first().map(|r| (&r.url, &r.error))
    );
    assert!(
        summary.peak_bytes <= c.memory,
        "{} > {}",
        summary.peak_bytes,
        c.memory
    );
    assert!(
        summary.peak_bytes > 300_000,
        "bodies were charged to the gate"
    );

    // 300 kB pages with a parse cost that fits: every page parsed.
    let parsed = records.iter().filter(|r| r.error.is_none()).count();
    let over = records
        .iter()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.kind.as_str() == "over_budget")
        })
        .count();
    assert_eq!(
        parsed + over,
        30,
        "every page stored or recorded as over budget"
    );
}

#[test]
fn bound_time_says_what_held_the_crawl_back() {
    // 64 permits, but 3 MiB holds only a few 200 kB pages with their parse
    // cost: pages wait on the byte gate, and that time is memory-bound.
    let mut c = config("http://a.test/p0");
    c.concurrency = semcrawl_core::Concurrency::Fixed(64);
    c.per_host = 64;
    c.memory = 3 * 1024 * 1024;
    let (summary, _) = crawl(big_site(60, 200_000, 20), c, None);
    assert_eq!(summary.pages, 60);
    assert!(summary.memory_bound_ms > 0, "{summary:?}");
    // Plenty of memory, 2 permits: the count limit binds instead.
    let mut c = config("http://a.test/p0");
    c.concurrency = semcrawl_core::Concurrency::Fixed(2);
    let (summary, _) = crawl(big_site(20, 2_000, 20), c, None);
    assert!(summary.limit_bound_ms >= 100, "{summary:?}");
    assert_eq!(summary.memory_bound_ms, 0, "{summary:?}");
}

#[test]
fn body_cap_records_an_error() {
    let mut c = config("http://a.test/p0");
    c.max_body = 10_000;
    c.memory = 1024 * 1024;
    let (summary, h) = crawl(big_site(1, 50_000, 1), c, None);
    let r = &h.store.records()[0];
    assert_eq!(
        r.error.as_ref().map(|e| e.kind.as_str()),
        Some("body_too_large")
    );
    assert_eq!(summary.errors, 1);
}

#[test]
fn a_panicking_page_task_is_recorded_and_the_crawl_ends() {
    // p0 links to p1..p4; fetching p2 panics. The LocalPool would hand the
    // panic to the test if the core did not catch it in the page's task.
    let site = big_site(5, 100, 5);
    let mut c = config("http://a.test/p0");
    c.obey_robots = false;
    c.retries = 0;
    for concurrency in ["1", "8", "auto"] {
        c.concurrency = concurrency.parse().unwrap();
        let server = Server {
            saturation: 0,
            overload_at: 0,
            host_overload: HashMap::new(),
            panic_on: Some("http://a.test/p2".into()),
            frontier: None,
        };
        let (summary, h) = crawl_on(site.clone(), c.clone(), None, server);
        let records = by_url(&h.store.records());
        assert_eq!(records.len(), 5, "{concurrency}: {summary:?}");
        let error = records["http://a.test/p2"].error.clone().expect("an error");
        assert_eq!(error.kind, ErrorKind::Internal, "{error:?}");
        assert!(error.message.contains("a fetch that panics"), "{error:?}");
        assert_eq!((summary.pages, summary.errors), (4, 1), "{summary:?}");
        assert_eq!(
            summary.errors_by_kind.get("internal"),
            Some(&1),
            "{summary:?}"
        );
    }
}

#[test]
fn stop_records_everything_in_flight_and_loses_nothing() {
    let mut c = config("http://a.test/p0");
    c.concurrency = semcrawl_core::Concurrency::Fixed(8);
    c.grace = Duration::from_millis(10);
    let (summary, h) = crawl(big_site(500, 1_000, 200), c, Some(20));
    let records = by_url(&h.store.records());
    assert!(summary.interrupted);
    assert!(records.len() < 500, "stopped early");
    assert_eq!(summary.pages + summary.errors, records.len() as u64);
    // Pages in flight at the stop were recorded as interrupted.
    let interrupted = records
        .values()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.kind.as_str() == "interrupted")
        })
        .count();
    assert!(interrupted > 0, "in-flight pages recorded as interrupted");
    // Each carries when its fetch started (the virtual clock starts at
    // 1_700_000_000_000), not the epoch, and how long it ran until cut.
    for r in records.values() {
        assert!(r.fetched_at >= 1_700_000_000_000, "{r:?}");
        if r.error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Interrupted)
        {
            assert!(r.elapsed_ms > 0, "cut after it started: {r:?}");
        }
    }
    // Every fetch started is in the store.
    let fetched: std::collections::BTreeSet<String> = h
        .fetcher
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|u| !u.ends_with("robots.txt"))
        .cloned()
        .collect();
    for url in &fetched {
        assert!(records.contains_key(url), "{url} fetched but not stored");
    }
}

#[test]
fn auto_concurrency_grows_then_settles_and_loses_nothing() {
    let mut c = config("http://a.test/p0");
    c.concurrency = "auto:2..256".parse().unwrap();
    c.per_host = 256;
    c.retries = 5;
    // A server that serves 16 requests at once in 20 ms, then queues.
    let (summary, h) = crawl_server(big_site(2_000, 1_000, 20), c, None, 16, 0);
    assert_eq!(summary.pages, 2_000, "{summary:?}");
    let (min, max) = (summary.limit_min.unwrap(), summary.limit_max.unwrap());
    assert!(max > 16, "the limit grew past its start ({min}..{max})");
    assert!(max <= 256);
    assert!(summary.limit_changes.unwrap() > 0);
    assert!(h.fetcher.max_in_flight.load(Ordering::SeqCst) <= 256);
}

#[test]
fn auto_concurrency_backs_off_on_503_and_loses_nothing() {
    let mut c = config("http://a.test/p0");
    c.concurrency = "auto:1..128".parse().unwrap();
    c.per_host = 128;
    c.retries = 10;
    // Above 24 requests in flight the server answers 503.
    let (summary, h) = crawl_server(big_site(1_000, 1_000, 20), c, None, 0, 24);
    let records = by_url(&h.store.records());
    assert_eq!(records.len(), 1_000, "every page stored once");
    assert_eq!(
        summary.pages, 1_000,
        "every page eventually fetched: {summary:?}"
    );
    // Without the 503s the limit would grow to its maximum in a few round
    // trips (see the test above); with them the host's limit is held down
    // near the overload point, so the server never sees anything close to
    // the maximum. (The crawl-wide limit tolerates a few drops, so that one
    // failing host does not slow the others: it is the host's that binds.)
    let seen = h.fetcher.max_in_flight.load(Ordering::SeqCst);
    assert!(seen < 100, "the host's limit backed off: {seen} in flight");
    assert_eq!(summary.hosts_limited, Some(1), "{summary:?}");
    assert!(summary.limit_changes.unwrap() > 5, "{summary:?}");
}

/// The limit changes logged at debug level, with their `host` field (`None`
/// for the crawl's limit), by crawls run on this thread while it is
/// [`LimitLog::capture`]d.
#[derive(Default, Clone)]
struct LimitLog(Arc<Mutex<Vec<LoggedChange>>>);

#[derive(Debug, Clone)]
struct LoggedChange {
    host: Option<String>,
    from: usize,
    to: usize,
    reason: String,
}

thread_local! {
    static CAPTURING: RefCell<Option<LimitLog>> = const { RefCell::new(None) };
}

impl LimitLog {
    /// Run `f` with this thread's limit changes going to a new log. The
    /// subscriber is global (a scoped one can miss events while other tests
    /// log on other threads: callsite interest is shared), and keeps what
    /// this thread logs only (the crawl runs on it).
    fn capture<T>(f: impl FnOnce() -> T) -> (T, LimitLog) {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            tracing::subscriber::set_global_default(Capture).expect("no other subscriber");
        });
        let log = LimitLog::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(log.clone()));
        let out = f();
        CAPTURING.with(|c| *c.borrow_mut() = None);
        (out, log)
    }

    fn of(&self, host: Option<&str>) -> Vec<LoggedChange> {
        let log = self.0.lock().unwrap();
        log.iter()
            .filter(|c| c.host.as_deref() == host)
            .cloned()
            .collect()
    }
}

/// The global subscriber behind [`LimitLog::capture`].
struct Capture;

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        /// The structured fields of a limit change (see `crawl/limits.rs`).
        #[derive(Default)]
        struct Fields {
            host: Option<String>,
            message: String,
            limit: Option<usize>,
            previous: Option<usize>,
            reason: Option<String>,
        }
        impl tracing::field::Visit for Fields {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                match field.name() {
                    "limit" => self.limit = Some(value as usize),
                    "previous" => self.previous = Some(value as usize),
                    _ => {}
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "host" => self.host = Some(value.to_owned()),
                    "reason" => self.reason = Some(value.to_owned()),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.message = format!("{value:?}");
                }
            }
        }
        let Some(log) = CAPTURING.with(|c| c.borrow().clone()) else {
            return;
        };
        if event.metadata().target() != "semcrawl_core::limits" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let (Some(to), Some(from), Some(reason)) = (fields.limit, fields.previous, fields.reason)
        {
            assert_eq!(fields.message, "limit changed");
            log.0.lock().unwrap().push(LoggedChange {
                host: fields.host,
                from,
                to,
                reason,
            });
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn auto_concurrency_limits_an_overloaded_host_and_not_the_others() {
    const PAGES: usize = 600;
    const THRESHOLD: usize = 6;
    // Where both hosts' limits start: the crawl's default initial limit.
    const INITIAL: usize = 16;
    let mut site = host_site("a.test", PAGES, 1_000, 20);
    site.extend(host_site("b.test", PAGES, 1_000, 20));
    let mut c = config("http://a.test/p0");
    c.seeds.push("http://b.test/p0".parse().unwrap());
    c.concurrency = "auto:1..64".parse().unwrap();
    c.per_host = 64;
    c.retries = 10;
    // a.test answers 503 to requests beyond 6 at once to it; b.test never.
    let overload = HashMap::from([("a.test".to_owned(), THRESHOLD)]);
    let ((summary, h), log) = LimitLog::capture(|| crawl_hosts(site, c, None, 0, 0, overload));

    // No record lost: every page of both hosts stored once, all 200.
    let records = by_url(&h.store.records());
    assert_eq!(records.len(), 2 * PAGES, "{summary:?}");
    assert_eq!(summary.pages, 2 * PAGES as u64, "{summary:?}");
    assert!(records.values().all(|r| r.status == Some(200)));

    let hosts = h.fetcher.hosts.lock().unwrap().clone();
    let (a, b) = (&hosts["a.test"], &hosts["b.test"]);
    let a_log = log.of(Some("http://a.test"));
    let b_log = log.of(Some("http://b.test"));
    let told = format!(
        "a.test: {} 503s, max {} in flight; b.test: max {} in flight\nsummary: {summary:?}\n\
         a.test changes: {a_log:?}\nb.test changes: {b_log:?}",
        a.rejected, a.max_in_flight, b.max_in_flight
    );
    // a.test's limit came down for its 503s, below where it started...
    assert!(a.rejected > 0, "a.test was overloaded: {told}");
    assert!(
        a_log.iter().any(|c| c.reason == "drop" && c.to < c.from),
        "{told}"
    );
    let decided = |log: &[LoggedChange]| -> Vec<usize> {
        log.iter()
            .filter(|c| c.reason != "probe")
            .map(|c| c.to)
            .collect()
    };
    let (a_decided, b_decided) = (decided(&a_log), decided(&b_log));
    assert!(
        a_decided.iter().min().is_some_and(|&m| m < INITIAL),
        "{told}"
    );
    // ...while b.test's never went down (a probe's halving is a
    // measurement, not a decision): it grew past the start, and b.test got
    // more requests at once than the limit it started with.
    assert!(
        b_log.iter().all(|c| c.to > c.from || c.reason == "probe"),
        "{told}"
    );
    let b_final = b_decided.last().copied().unwrap_or(INITIAL);
    assert!(b_final > INITIAL, "{told}");
    assert!(b.max_in_flight > INITIAL, "{told}");
    // a.test's limit stayed below b.test's. (Not near a.test's threshold:
    // a page sleeping before its retry holds its slot of the host, so the
    // limit, which counts slots, settles above the requests really sent.)
    assert!(a_decided.iter().all(|&l| l < b_final), "{told}");
    assert_eq!(summary.hosts_limited, Some(1), "{told}");
    // The crawl's limit is logged without a host.
    assert!(!log.of(None).is_empty(), "{told}");
}

/// A [`MemoryFrontier`] that remembers what it was told, checks that a page
/// is acknowledged only once the store has its record, and claims a budget.
struct Watched {
    inner: MemoryFrontier,
    store: MemoryStore,
    popped: HashMap<u64, String>,
    log: Arc<Mutex<FrontierLog>>,
}

#[derive(Default)]
struct FrontierLog {
    pushes: usize,
    pops: usize,
    acked: Vec<String>,
}

impl Frontier for Watched {
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        self.log.lock().unwrap().pushes += 1;
        self.inner.push(entries)
    }

    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>> {
        Box::pin(async move {
            // Yield once, as a frontier doing I/O would.
            futures::future::ready(()).await;
            let popped = self.inner.pop(max, ready).await?;
            self.log.lock().unwrap().pops += 1;
            for e in &popped {
                let id = e.id.expect("popped entries carry an id");
                assert!(self.popped.insert(id, e.url.to_string()).is_none());
            }
            Ok(popped)
        })
    }

    fn done(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        let stored: Vec<String> = self.store.records().into_iter().map(|r| r.url).collect();
        let mut log = self.log.lock().unwrap();
        for id in ids {
            let url = self
                .popped
                .remove(&id)
                .expect("acknowledged once, after a pop");
            // robots.txt-disallowed pages have no record: acknowledged at once.
            if !url.contains("/private/") {
                assert!(
                    stored.contains(&url),
                    "{url} acknowledged before it was stored"
                );
            }
            log.acked.push(url);
        }
        Box::pin(futures::future::ready(Ok(())))
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn seen(&self) -> u64 {
        self.inner.seen()
    }

    fn budget(&self) -> Option<u64> {
        Some(4 << 20)
    }
}

#[test]
fn a_frontier_hears_of_every_page_done_after_the_store_has_it() {
    let log = Arc::new(Mutex::new(FrontierLog::default()));
    let shared = log.clone();
    let server = Server {
        saturation: 0,
        overload_at: 0,
        host_overload: HashMap::new(),
        panic_on: None,
        frontier: Some(Box::new(move |store: &MemoryStore| {
            Box::new(Watched {
                inner: MemoryFrontier::default(),
                store: store.clone(),
                popped: HashMap::new(),
                log: shared,
            }) as Box<dyn Frontier>
        })),
    };
    let mut c = config("http://a.test/");
    c.batch_size = 2;
    let (summary, h) = crawl_on(small_site(), c, None, server);
    let records = by_url(&h.store.records());
    let log = log.lock().unwrap();
    let mut acked = log.acked.clone();
    acked.sort();
    let mut expected: Vec<String> = records.keys().cloned().collect();
    expected.push("http://a.test/private/secret".into());
    expected.sort();
    assert_eq!(acked, expected, "every page acknowledged once");
    assert!(log.pops >= 2 && log.pushes >= 2);
    // The frontier's budget comes out of the pages' share of --memory,
    // and the summary's budget is still the whole.
    assert_eq!(summary.budget, 16 << 20);
    assert!(summary.peak_bytes <= (16 << 20) - (4 << 20));
    assert_eq!(summary.robots_skipped, 1);
}

#[test]
fn a_huge_location_is_cut_in_the_error_message() {
    // A 90 KB Location (too long to follow: unusable), and an 8 KB one out
    // of scope. Each error message says so in about a kilobyte.
    let junk = "x".repeat(90_000);
    let far = "x".repeat(8_000);
    let mut site = HashMap::new();
    site.insert(
        "http://a.test/".into(),
        html("<a href='/bad'>bad</a><a href='/far'>far</a>"),
    );
    site.insert(
        "http://a.test/bad".into(),
        Page {
            status: 302,
            location: Some(format!("http://[{junk}")),
            ..html("")
        },
    );
    site.insert(
        "http://a.test/far".into(),
        Page {
            status: 302,
            location: Some(format!("http://other.test/{far}")),
            ..html("")
        },
    );
    let mut c = config("http://a.test/");
    c.obey_robots = false;
    let (_, h) = crawl(site, c, None);
    let records = by_url(&h.store.records());
    for (url, kind) in [
        ("http://a.test/bad", ErrorKind::BadRedirect),
        ("http://a.test/far", ErrorKind::RedirectOutOfScope),
    ] {
        let error = records[url].error.clone().expect("an error");
        assert_eq!(error.kind, kind, "{url}");
        let message = &error.message;
        assert!(
            message.len() <= semcrawl_core::MAX_ERROR_MESSAGE + 32,
            "{url}: {} bytes",
            message.len()
        );
        assert!(
            message.ends_with(" bytes cut)") && message.contains("…("),
            "{url}: {}",
            &message[message.len() - 40..]
        );
    }
}
