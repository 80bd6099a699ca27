//! Tests shared by `tests/node.rs` (Node) and `tests/browser.rs` (headless
//! Chromium): the adapters (fetch, runtime, store), the core crawling
//! through them, and the JS API.
//!
//! The site is served by a mock `globalThis.fetch` that answers with real
//! `Response` objects whose bodies are `ReadableStream`s delivered in two
//! chunks with a delay, and counts requests: hits per path, fetches in flight
//! (from the call until the body is read, cancelled or aborted) and their
//! maximum, and off-site requests. In the browser the site lives at the test
//! page's own origin, so the crawl is a same-origin crawl.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::io::AsyncReadExt;
use js_sys::{Function, Object, Reflect};
use semcrawl_core::MemoryStore;
use semcrawl_core::{Concurrency, Config, Crawler, Fetch, FetchError, FetchRequest, Runtime};
use semcrawl_wasm::fetch::BrowserFetch;
use semcrawl_wasm::runtime::BrowserRuntime;
use url::Url;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

/// Pages p0..p{PAGES-1}; p{i} links p{2i+1} and p{2i+2} (a tree reaching all),
/// plus a robots-disallowed page, a missing page and an off-site URL.
const PAGES: usize = 30;

const MOCK: &str = r#"
const real = globalThis.__semcrawlRealFetch || (globalThis.__semcrawlRealFetch = globalThis.fetch);
const state = { inFlight: 0, maxInFlight: 0, hits: {}, offsite: [], requests: 0 };
const page = (i) => {
  const links = [2 * i + 1, 2 * i + 2].filter((j) => j < pages).map((j) => `p${j}.html`);
  links.push('private/secret.html', 'missing.html', 'http://offsite.invalid/x.html', '#top', 'mailto:a@b.c');
  return `<!doctype html><html lang="en"><head><title>Page ${i}</title>` +
    `<meta name="description" content="page number ${i}"></head><body><h1 id="top">Page ${i}</h1>` +
    links.map((l) => `<a href="${l}">${l}</a>`).join(' ') + `<p>${'lorem ipsum '.repeat(200)}</p></body></html>`;
};
const site = new Map();
site.set('/robots.txt', ['text/plain', 'User-agent: *\nDisallow: /private/\n']);
for (let i = 0; i < pages; i++) site.set(`/p${i}.html`, ['text/html; charset=utf-8', page(i)]);
site.set('/private/secret.html', ['text/html', '<title>secret</title>']);
globalThis.fetch = function (input, init) {
  const req = input instanceof Request ? input : new Request(input, init);
  const url = new URL(req.url);
  state.requests++;
  if (url.origin !== origin) {
    state.offsite.push(req.url);
    return Promise.reject(new TypeError('Failed to fetch'));
  }
  state.hits[url.pathname] = (state.hits[url.pathname] || 0) + 1;
  state.inFlight++;
  state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
  let open = true;
  const release = () => { if (open) { open = false; state.inFlight--; } };
  return new Promise((resolve, reject) => {
    let stream = null;
    const timer = setTimeout(() => {
      if (url.pathname === '/hang') return;
      const entry = site.get(url.pathname);
      if (!entry) {
        release();
        resolve(new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } }));
        return;
      }
      const bytes = new TextEncoder().encode(entry[1]);
      const half = bytes.length >> 1;
      let step = 0;
      const body = new ReadableStream({
        start(c) { stream = c; },
        pull(c) {
          if (step++ === 0) { c.enqueue(bytes.slice(0, half)); return; }
          if (url.searchParams.has('stall')) return new Promise(() => {});
          return new Promise((r) => setTimeout(() => {
            if (open) { c.enqueue(bytes.slice(half)); c.close(); release(); }
            r();
          }, delayMs));
        },
        cancel() { release(); },
      });
      resolve(new Response(body, { status: 200, headers: { 'content-type': entry[0], 'content-length': String(bytes.length) } }));
    }, delayMs);
    req.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      if (stream && open) { try { stream.error(new DOMException('aborted', 'AbortError')); } catch (e) {} }
      release();
      reject(new DOMException('The operation was aborted.', 'AbortError'));
    }, { once: true });
  });
};
return state;
"#;

/// The mock site, installed on `globalThis.fetch` until dropped.
pub struct Site {
    pub origin: String,
    state: JsValue,
}

impl Site {
    pub fn install(delay_ms: u32) -> Self {
        let origin = semcrawl_wasm::js::location_href()
            .and_then(|h| Url::parse(&h).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| "http://site.test".to_owned());
        let install = Function::new_with_args("origin, delayMs, pages", MOCK);
        let state = install
            .call3(
                &JsValue::NULL,
                &origin.clone().into(),
                &delay_ms.into(),
                &(PAGES as u32).into(),
            )
            .expect("install the mock fetch");
        Site { origin, state }
    }

    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.origin)).unwrap()
    }

    fn number(&self, key: &str) -> u64 {
        Reflect::get(&self.state, &key.into())
            .unwrap()
            .as_f64()
            .unwrap() as u64
    }
    pub fn in_flight(&self) -> u64 {
        self.number("inFlight")
    }
    pub fn max_in_flight(&self) -> u64 {
        self.number("maxInFlight")
    }
    pub fn hits(&self, path: &str) -> u64 {
        let hits = Reflect::get(&self.state, &"hits".into()).unwrap();
        Reflect::get(&hits, &path.into())
            .unwrap()
            .as_f64()
            .unwrap_or(0.0) as u64
    }
    pub fn offsite(&self) -> u32 {
        Reflect::get(&self.state, &"offsite".into())
            .unwrap()
            .unchecked_into::<js_sys::Array>()
            .length()
    }

    /// Every page was requested exactly once, and nothing off-site or disallowed.
    pub fn assert_crawled_once(&self) {
        for i in 0..PAGES {
            assert_eq!(self.hits(&format!("/p{i}.html")), 1, "p{i}.html hits");
        }
        assert_eq!(self.hits("/robots.txt"), 1, "robots.txt hits");
        assert_eq!(
            self.hits("/private/secret.html"),
            0,
            "robots.txt disallows /private/"
        );
        assert_eq!(self.offsite(), 0, "off-site requests");
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let global = js_sys::global();
        let real = Reflect::get(&global, &"__semcrawlRealFetch".into()).unwrap();
        Reflect::set(&global, &"fetch".into(), &real).unwrap();
    }
}

fn request(url: Url, timeout_ms: u64) -> FetchRequest {
    FetchRequest {
        url,
        user_agent: "semcrawl-test".into(),
        timeout: Duration::from_millis(timeout_ms),
        headers: Default::default(),
    }
}

async fn tick(ms: u64) {
    BrowserRuntime.sleep(Duration::from_millis(ms)).await;
}

#[wasm_bindgen_test]
async fn fetch_streams_the_body_in_chunks() {
    let site = Site::install(5);
    let mut response = BrowserFetch::new()
        .fetch(request(site.url("/p3.html"), 5_000))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.url,
        site.url("/p3.html"),
        "a constructed Response has no url: the request's is kept"
    );
    assert_eq!(
        response.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    let expected = response.content_length.unwrap();
    // Small reads: a chunk larger than the buffer is handed out piecewise.
    let (mut body, mut buf, mut reads) = (Vec::new(), [0u8; 1000], 0);
    loop {
        let n = response.body.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(body.len() as u64, expected);
    assert!(reads > 2, "{reads} reads");
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("<!doctype html>") && text.ends_with("</html>"));
    assert_eq!(site.in_flight(), 0);
}

#[wasm_bindgen_test]
async fn fetch_reports_http_errors_as_responses() {
    let site = Site::install(1);
    let mut response = BrowserFetch::new()
        .fetch(request(site.url("/missing.html"), 5_000))
        .await
        .unwrap();
    assert_eq!(response.status, 404);
    let mut body = String::new();
    response.body.read_to_string(&mut body).await.unwrap();
    assert_eq!(body, "not found");
}

#[wasm_bindgen_test]
async fn fetch_times_out_waiting_for_the_head() {
    let site = Site::install(1);
    let started = BrowserRuntime.now();
    let result = BrowserFetch::new()
        .fetch(request(site.url("/hang"), 100))
        .await;
    assert_eq!(result.unwrap_err(), FetchError::Timeout);
    let waited = BrowserRuntime.now() - started;
    assert!(
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(site.in_flight(), 0, "the abort reached the request");
}

#[wasm_bindgen_test]
async fn fetch_times_out_reading_a_stalled_body() {
    let site = Site::install(1);
    let mut response = BrowserFetch::new()
        .fetch(request(site.url("/p1.html?stall"), 150))
        .await
        .unwrap();
    let mut body = Vec::new();
    let error = response.body.read_to_end(&mut body).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
    assert!(!body.is_empty(), "the first chunk arrived before the stall");
}

#[wasm_bindgen_test]
async fn dropping_a_body_aborts_the_request() {
    let site = Site::install(50);
    let mut response = BrowserFetch::new()
        .fetch(request(site.url("/p1.html"), 5_000))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(response.body.read(&mut buf).await.unwrap(), 16);
    assert_eq!(site.in_flight(), 1);
    drop(response);
    tick(1).await;
    assert_eq!(site.in_flight(), 0, "the body's stream was released");
}

#[wasm_bindgen_test]
async fn cross_origin_failures_are_not_retried_in_a_page() {
    let _site = Site::install(1);
    let url: Url = "http://offsite.invalid/x.html".parse().unwrap();
    let error = BrowserFetch::new()
        .fetch(request(url, 5_000))
        .await
        .unwrap_err();
    if semcrawl_wasm::js::location_href().is_some() {
        assert!(
            matches!(&error, FetchError::Refused(m) if m.contains("CORS")),
            "{error:?}"
        );
    } else {
        assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    }
}

#[wasm_bindgen_test]
async fn runtime_sleeps_spawns_and_tells_time() {
    let rt = BrowserRuntime;
    let t0 = rt.now();
    rt.sleep(Duration::from_millis(60)).await;
    let slept = rt.now() - t0;
    assert!(
        slept >= Duration::from_millis(55) && slept < Duration::from_secs(3),
        "{slept:?}"
    );
    let wall = rt.unix_millis();
    assert!(wall > 1_600_000_000_000, "{wall}");
    // A dropped sleep clears its timer; a spawned task runs.
    drop(rt.sleep(Duration::from_millis(1)));
    let flag = Rc::new(RefCell::new(false));
    let f = flag.clone();
    rt.spawn(Box::pin(async move {
        BrowserRuntime.sleep(Duration::from_millis(5)).await;
        *f.borrow_mut() = true;
    }));
    assert!(!*flag.borrow());
    tick(30).await;
    assert!(*flag.borrow());
}

fn config(site: &Site, concurrency: usize) -> Config {
    Config {
        seeds: vec![site.url("/p0.html")],
        concurrency: Concurrency::Fixed(concurrency),
        per_host: concurrency,
        max_body: 64 * 1024,
        // Ample for 3 pages being parsed: no preemption, so every page is
        // requested exactly once.
        memory: 1024 * 1024,
        timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

#[wasm_bindgen_test]
async fn core_crawls_a_site_within_its_gates() {
    let site = Site::install(15);
    let store = MemoryStore::default();
    let crawler = Crawler::new(config(&site, 3), BrowserFetch::new(), BrowserRuntime).unwrap();
    let summary = crawler.run(store.clone()).await.unwrap();
    let records = store.records();
    site.assert_crawled_once();
    assert_eq!(summary.pages, PAGES as u64, "{summary:?}");
    assert_eq!(summary.errors, 1, "missing.html: {summary:?}");
    assert_eq!(summary.errors_by_kind.get("http"), Some(&1));
    assert_eq!(summary.robots_skipped, 1);
    assert_eq!(records.len(), PAGES + 1);
    let p5 = records
        .iter()
        .find(|r| r.url.ends_with("/p5.html"))
        .unwrap();
    assert_eq!(p5.title.as_deref(), Some("Page 5"));
    assert_eq!(p5.description.as_deref(), Some("page number 5"));
    assert_eq!(
        (p5.status, p5.depth, p5.lang.as_deref()),
        (Some(200), 2, Some("en"))
    );
    // The gates: count and bytes.
    assert!(summary.max_in_flight <= 3, "{summary:?}");
    assert!(
        site.max_in_flight() <= 3,
        "fetches in flight: {}",
        site.max_in_flight()
    );
    assert!(
        site.max_in_flight() >= 2,
        "the crawl ran requests concurrently: {}",
        site.max_in_flight()
    );
    assert!(
        summary.peak_bytes <= summary.budget && summary.peak_bytes > 0,
        "{summary:?}"
    );
    assert!(!summary.interrupted);
}

#[wasm_bindgen_test]
async fn a_tight_budget_serializes_pages_without_losing_any() {
    let site = Site::install(5);
    // Room for about two pages being parsed (the core charges a page its
    // overhead, its body and a multiple of the body for the parse tree): the
    // byte gate, not the count gate of 4, limits.
    let config = Config {
        max_body: 16 * 1024,
        memory: 256 * 1024,
        ..config(&site, 4)
    };
    let store = MemoryStore::default();
    let summary = Crawler::new(config, BrowserFetch::new(), BrowserRuntime)
        .unwrap()
        .run(store.clone())
        .await
        .unwrap();
    // The gate may preempt a page to break a deadlock (it is fetched again
    // later), so count records, not requests: each URL is stored once.
    let mut urls: Vec<String> = store.records().into_iter().map(|r| r.url).collect();
    urls.sort();
    let stored = urls.len();
    urls.dedup();
    assert_eq!(stored, urls.len(), "no URL is stored twice");
    assert_eq!(summary.pages, PAGES as u64, "{summary:?}");
    assert_eq!(summary.errors, 1, "{summary:?}");
    assert_eq!(site.offsite(), 0);
    assert!(summary.peak_bytes <= summary.budget, "{summary:?}");
}

fn js_options(site: &Site, extra: &str) -> JsValue {
    let json = format!(
        r#"{{"seeds": "{}", "concurrency": 3, "memory": "1MiB", "maxBody": "64KiB"{extra}}}"#,
        site.url("/p0.html")
    );
    js_sys::JSON::parse(&json).unwrap()
}

type Collected = Rc<RefCell<Vec<JsValue>>>;

/// A JS callback that collects its arguments.
fn collector() -> (Collected, Closure<dyn FnMut(JsValue)>) {
    let items = Rc::new(RefCell::new(Vec::new()));
    let sink = items.clone();
    (
        items,
        Closure::new(move |v: JsValue| sink.borrow_mut().push(v)),
    )
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

#[wasm_bindgen_test]
async fn the_js_api_crawls_and_reports() {
    let site = Site::install(10);
    let (records, on_record) = collector();
    let (progress, on_progress) = collector();
    let options = js_options(&site, r#", "progressMs": 20, "select": {"h": "h1"}"#);
    let promise = semcrawl_wasm::crawl(
        options,
        Some(on_record.as_ref().unchecked_ref::<Function>().clone()),
        Some(on_progress.as_ref().unchecked_ref::<Function>().clone()),
    );
    let summary = JsFuture::from(promise).await.unwrap();
    site.assert_crawled_once();
    assert_eq!(get(&summary, "pages").as_f64(), Some(PAGES as f64));
    assert_eq!(get(&summary, "errors").as_f64(), Some(1.0));
    assert!(get(&summary, "maxInFlight").as_f64().unwrap() <= 3.0);
    assert!(
        get(&summary, "peakBytes").as_f64().unwrap() <= get(&summary, "budget").as_f64().unwrap()
    );
    assert!(get(&summary, "elapsedMs").as_f64().is_some());
    let records = records.borrow();
    assert_eq!(records.len(), PAGES + 1);
    // Same shape as the native JSON Lines records.
    let r = records
        .iter()
        .find(|r| get(r, "url").as_string().unwrap().ends_with("/p2.html"))
        .unwrap();
    assert_eq!(get(r, "title").as_string().as_deref(), Some("Page 2"));
    assert!(
        get(r, "links_count").as_f64().unwrap() >= 4.0,
        "p5, p6, missing.html, private/secret.html"
    );
    assert!(get(r, "error").is_null() && get(r, "final_url").is_string());
    assert_eq!(
        get(&get(r, "fields"), "h").as_string().as_deref(),
        Some("Page 2")
    );
    let keys: Vec<String> = Object::keys(r.unchecked_ref::<Object>())
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect();
    let native = serde_json::to_value(semcrawl_core::Record::new("http://a/", 0, None)).unwrap();
    let native: Vec<&String> = native.as_object().unwrap().keys().collect();
    for key in native {
        assert!(keys.contains(key), "{key} missing from {keys:?}");
    }
    let progress = progress.borrow();
    assert!(progress.len() >= 2, "{} progress calls", progress.len());
    let last = progress.last().unwrap();
    assert_eq!(get(last, "pages").as_f64(), Some(PAGES as f64));
    assert!(get(last, "budget").as_f64() == Some(1024.0 * 1024.0));
}

#[wasm_bindgen_test]
async fn bad_options_reject_with_a_clear_message() {
    let cases = [
        (r#"{"seeds": "http://a.test/", "memory": "1KiB"}"#, "memory"),
        (
            r#"{"seeds": "http://a.test/", "concurrency": 0}"#,
            "concurrency must be at least 1",
        ),
        (
            r#"{"seeds": "http://a.test/", "concurency": 2}"#,
            "unknown field `concurency`",
        ),
        (
            r#"{"seeds": "http://a.test/", "memory": "lots"}"#,
            "invalid size 'lots'",
        ),
        (
            r#"{"seeds": "http://a.test/", "signal": 5}"#,
            "signal must be an AbortSignal",
        ),
        (r#"{}"#, "no seed URL"),
        (r#""http://a.test/""#, "expected an object"),
    ];
    for (json, needle) in cases {
        let error = JsFuture::from(semcrawl_wasm::crawl(
            js_sys::JSON::parse(json).unwrap(),
            None,
            None,
        ))
        .await
        .map(|summary| js_sys::JSON::stringify(&summary).unwrap())
        .expect_err(json);
        let error: js_sys::Error = error.dyn_into().expect("rejects with an Error");
        let message = String::from(error.message());
        assert!(
            message.starts_with("invalid options: ") && message.contains(needle),
            "{json}: {message}"
        );
    }
}

#[wasm_bindgen_test]
async fn an_abort_signal_stops_the_crawl_and_still_resolves() {
    let site = Site::install(30);
    let controller = web_sys::AbortController::new().unwrap();
    let options = js_options(&site, "");
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    let (records, on_record) = collector();
    let promise = semcrawl_wasm::crawl(
        options,
        Some(on_record.as_ref().unchecked_ref::<Function>().clone()),
        None,
    );
    while records.borrow().len() < 3 {
        tick(5).await;
    }
    controller.abort();
    let summary = JsFuture::from(promise).await.unwrap();
    assert_eq!(get(&summary, "interrupted").as_bool(), Some(true));
    let pages = get(&summary, "pages").as_f64().unwrap() as usize;
    assert!(pages < PAGES, "{pages}");
    let errors = get(&summary, "errors").as_f64().unwrap() as usize;
    assert_eq!(
        records.borrow().len(),
        pages + errors,
        "every record stored was handed to onRecord"
    );
    tick(50).await;
    assert_eq!(site.in_flight(), 0, "nothing left running");
}

#[wasm_bindgen_test]
async fn a_throwing_on_record_rejects() {
    let site = Site::install(1);
    let throws = Function::new_with_args("r", "throw new Error('disk full')");
    let error = JsFuture::from(semcrawl_wasm::crawl(
        js_options(&site, ""),
        Some(throws),
        None,
    ))
    .await
    .unwrap_err();
    let message = String::from(error.unchecked_into::<js_sys::Error>().message());
    assert!(message.contains("onRecord threw: disk full"), "{message}");
}
