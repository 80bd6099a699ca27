//! The JS API: `crawl(options, onRecord?, onProgress?) -> Promise<Summary>`.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use semcrawl_core::{Crawler, Runtime, Stats, StopHandle};
use url::Url;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

use crate::fetch::BrowserFetch;
use crate::js;
use crate::options::{js_message, CrawlOptions};
use crate::runtime::BrowserRuntime;
use crate::store::{to_js, CallbackStore};

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT: &str = r#"
/** Options of {@link crawl}. Sizes are bytes or strings such as "16MiB"; times are milliseconds. */
export interface CrawlOptions {
  /** Where the crawl starts; relative URLs resolve against the page. */
  seeds: string | string[];
  /** Most pages in flight at once (default 6). */
  concurrency?: number | "auto" | `auto:${number}..${number}`;
  /** Byte budget of the pages in flight (default "64MiB"). */
  memory?: number | string;
  /** Largest decoded body (default "10MiB"); longer pages are recorded as errors. */
  maxBody?: number | string;
  /** Most pages to fetch. */
  maxPages?: number;
  /** Deepest link distance from a seed (seeds are depth 0). */
  maxDepth?: number;
  /** Which hosts are in scope (default "host"). */
  scope?: "host" | "domain" | "any";
  /** Extra domains in scope (and their subdomains). */
  allowDomains?: string[];
  /** User fields: ["price=.price", "img=img@src", "imgs[]=img@src"] or { price: ".price" }.
   * `@attr` reads an attribute (URL-valued ones such as href and src resolved
   * against the page); `NAME[]` takes every match as an array. */
  select?: string[] | Record<string, string>;
  /** Extra request headers, sent only to the seeds' sites and allowDomains
   * hosts, never through a redirect to another site (so with headers, a
   * browser's hidden redirect is an error). A seed's user:password@ becomes
   * Basic auth for its site. Browsers refuse some names (Cookie). */
  headers?: Record<string, string>;
  /** Obey robots.txt (default true). */
  obeyRobots?: boolean;
  /** Concurrent requests per host (default: concurrency; with "auto", at most 16). */
  perHost?: number;
  /** Pause between two requests to one host. */
  delayMs?: number;
  /** Deadline of one request, body included (default 30000). */
  timeoutMs?: number;
  /** Retries for transient failures (default 2). */
  retries?: number;
  /** Redirect hops (the browser follows redirects itself). */
  maxRedirects?: number;
  /** Keep the visible text in records. */
  text?: boolean;
  /** Keep the list of links in records. */
  links?: boolean;
  /** After a stop, how long in-flight pages may take before they are recorded as interrupted. */
  graceMs?: number;
  /** Interval between two onProgress calls (default 200). */
  progressMs?: number;
  /** Queue only URLs matching one of these regexes (seeds are always fetched). */
  include?: string[];
  /** Never queue URLs matching one of these regexes, e.g. "[?&](sort|ref)=". */
  exclude?: string[];
  /** Follow rel="nofollow"/"sponsored" links and pages marked nofollow too (default false). */
  followNofollow?: boolean;
  /** Read each crawled host's sitemaps: robots.txt Sitemap: lines, else /sitemap.xml (default true). */
  sitemaps?: boolean;
  /** MIME types read besides HTML ("application/pdf", "image/*"); links with their extensions are queued. */
  acceptTypes?: string[];
  /** Queue every link and read every body, whatever its type (default false). */
  allTypes?: boolean;
  /** Aborting it stops the crawl cleanly: the returned promise still resolves with the summary. */
  signal?: AbortSignal;
}

/** One record per URL fetched, as in the native JSON Lines output. */
export interface CrawlRecord {
  url: string;
  final_url: string | null;
  status: number | null;
  depth: number;
  parent: string | null;
  title: string | null;
  description: string | null;
  lang: string | null;
  canonical: string | null;
  links_count: number;
  links?: string[];
  /** A string (first match), an array (NAME[] fields) or null (no match). */
  fields: Record<string, string | string[] | null>;
  text?: string;
  content_type: string | null;
  bytes: number;
  sha256: string | null;
  fetched_at: number;
  elapsed_ms: number;
  retries: number;
  /** Present (true) when the page asks not to be indexed (meta robots or X-Robots-Tag). */
  noindex?: boolean;
  error: { kind: string; message: string } | null;
}

/** A live snapshot, passed to onProgress. */
export interface CrawlProgress {
  /** Records stored without error. */
  pages: number;
  /** Error records stored. */
  errors: number;
  /** Pages in the pipeline (count permits in use). */
  inFlight: number;
  /** Requests whose response is being received. */
  fetching: number;
  /** URLs waiting in the frontier. */
  queued: number;
  /** Bytes held by pages in flight (the byte gate). */
  bytesHeld: number;
  /** The byte budget. */
  budget: number;
  /** Decoded body bytes read so far. */
  bytes: number;
  /** Time since the crawl started. */
  elapsedMs: number;
  /** The concurrency limit now (moves with `concurrency: "auto"`). */
  limit: number;
  /** Hosts held back by a delay so far (robots.txt Crawl-delay or delayMs). */
  pacedHosts: number;
  /** The slowest of them, or null. */
  slowestPaced: PacedHost | null;
}

/** A host whose requests are spaced out by a delay. */
export interface PacedHost {
  /** scheme://host[:port] */
  origin: string;
  /** Pause between two requests to it; at most 60000 / delayMs pages a minute. */
  delayMs: number;
  /** "crawlDelay": its robots.txt asks for it; "delay": the delayMs option. */
  source: "crawlDelay" | "delay";
}

/** The end of a crawl, in numbers. */
export interface CrawlSummary {
  /** Records stored without error. */
  pages: number;
  /** Error records stored. */
  errors: number;
  /** Error records by kind ("connect", "http", ...). */
  errorsByKind: Record<string, number>;
  /** URLs skipped because robots.txt disallowed them. */
  robotsSkipped: number;
  /** Links not queued because they are longer than 8 KiB. */
  urlsTooLong: number;
  /** Links and sitemap URLs not queued by include/exclude or for a non-HTML extension. */
  filtered: number;
  /** Links not followed because the link or its page asked so (nofollow). */
  nofollowSkipped: number;
  /** Sitemaps read (indexes included). */
  sitemaps: number;
  /** URLs taken from sitemaps (before duplicates are dropped). */
  sitemapUrls: number;
  /** Decoded body bytes read. */
  bytes: number;
  /** Wall time of the crawl. */
  elapsedMs: number;
  /** Most pages in the pipeline at once. */
  maxInFlight: number;
  /** Most requests receiving a response at once. */
  maxFetching: number;
  /** High-water mark of the bytes held by pages in flight. */
  peakBytes: number;
  /** The byte budget. */
  budget: number;
  /** URLs still queued at the end (non-zero after a stop or maxPages). */
  queued: number;
  /** Whether the crawl was stopped before it ran out of work. */
  interrupted: boolean;
  /** With `concurrency: "auto"`: the lowest limit reached, else null. */
  limitMin: number | null;
  /** With `concurrency: "auto"`: the highest limit reached, else null. */
  limitMax: number | null;
  /** The limit at the end (the fixed one without "auto"). */
  limitFinal: number;
  /** With `concurrency: "auto"`: how many times the limit moved, else null. */
  limitChanges: number | null;
  /** With `concurrency: "auto"`: hosts whose own limit was lowered at least once, else null. */
  hostsLimited: number | null;
  /** Time waiting for a permit while pages waited for memory (memory-bound). */
  memoryBoundMs: number;
  /** Time waiting for a permit with memory to spare (bound by the concurrency limit). */
  limitBoundMs: number;
  /** Whether an earlier run's crawl was continued (always false in the browser). */
  resumed: boolean;
  /** On a resumed crawl, the pages the earlier runs had done; else 0. */
  resumedFrom: number;
  /** Hosts held back by a delay, slowest first (at most 20). */
  pacedHosts: PacedHost[];
  /** How many hosts were held back by a delay, listed or not. */
  pacedHostsTotal: number;
}

/**
 * Crawl from `options.seeds`, calling `onRecord` with each record (if it
 * returns a promise, the crawl waits for it) and `onProgress` with live
 * snapshots. Resolves with the summary; rejects on bad options (with a
 * message naming the option) or if `onRecord` throws.
 */
export function crawl(
  options: CrawlOptions,
  onRecord?: (record: CrawlRecord) => void | Promise<void>,
  onProgress?: (progress: CrawlProgress) => void,
): Promise<CrawlSummary>;
"#;

/// Crawl from `options.seeds`; see the TypeScript declaration above.
#[wasm_bindgen(skip_typescript)]
pub fn crawl(
    options: JsValue,
    on_record: Option<Function>,
    on_progress: Option<Function>,
) -> Promise {
    future_to_promise(async move {
        run(options, on_record, on_progress)
            .await
            .map_err(|message| js_sys::Error::new(&message).into())
    })
}

async fn run(
    options: JsValue,
    on_record: Option<Function>,
    on_progress: Option<Function>,
) -> Result<JsValue, String> {
    if !options.is_object() {
        return Err(
            "invalid options: expected an object like { seeds: \"https://example.com/\" }".into(),
        );
    }
    // Through a JSON value, so that unknown keys are reported (serde-wasm-bindgen
    // looks struct fields up by name and would ignore a misspelt option).
    let json: serde_json::Value = serde_wasm_bindgen::from_value(options.clone())
        .map_err(|e| format!("invalid options: {e}"))?;
    let parsed: CrawlOptions =
        serde_json::from_value(json).map_err(|e| format!("invalid options: {e}"))?;
    let signal = js_sys::Reflect::get(&options, &"signal".into()).unwrap_or(JsValue::UNDEFINED);
    let signal = match signal.is_undefined() || signal.is_null() {
        true => None,
        false => Some(
            signal
                .dyn_into::<AbortSignal>()
                .map_err(|_| "invalid options: signal must be an AbortSignal".to_owned())?,
        ),
    };
    let base = js::location_href().and_then(|href| Url::parse(&href).ok());
    let config = parsed.to_config(base.as_ref())?;
    let interval = parsed.progress_interval()?;
    let crawler =
        Crawler::new(config, BrowserFetch::new(), BrowserRuntime).map_err(|e| js_message(&e))?;

    let _listener = signal.map(|signal| AbortListener::new(signal, crawler.stop_handle()));
    let finished = Rc::new(Cell::new(false));
    let runtime = BrowserRuntime;
    if let Some(callback) = on_progress.clone() {
        let (stats, finished) = (crawler.stats(), finished.clone());
        runtime.spawn(Box::pin(async move {
            loop {
                runtime.sleep(interval).await;
                if finished.get() {
                    break;
                }
                report(&callback, &stats, runtime);
            }
        }));
    }
    let stats = crawler.stats();
    let result = crawler.run(CallbackStore::new(on_record)).await;
    finished.set(true);
    if let Some(callback) = &on_progress {
        report(callback, &stats, runtime);
    }
    let summary = result.map_err(|e| format!("crawl failed: could not store records: {e}"))?;
    to_js(&summary).map_err(|e| e.to_string())
}

/// Call `onProgress` with the core's snapshot; a throwing callback must not
/// break the crawl, so it is only reported on the console.
fn report(callback: &Function, stats: &Stats, runtime: BrowserRuntime) {
    let snapshot = stats.snapshot(runtime.now().as_millis() as u64);
    if let Ok(value) = to_js(&snapshot) {
        if let Err(e) = callback.call1(&JsValue::NULL, &value) {
            web_sys::console::warn_2(&"semcrawl: onProgress threw".into(), &e);
        }
    }
}

/// Stops the crawl when the signal aborts; removes its listener when dropped.
struct AbortListener {
    signal: AbortSignal,
    closure: Closure<dyn FnMut()>,
}

impl AbortListener {
    fn new(signal: AbortSignal, stop: StopHandle) -> Self {
        if signal.aborted() {
            stop.stop();
        }
        let closure = Closure::<dyn FnMut()>::new(move || stop.stop());
        let _ = signal.add_event_listener_with_callback("abort", closure.as_ref().unchecked_ref());
        AbortListener { signal, closure }
    }
}

impl Drop for AbortListener {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.closure.as_ref().unchecked_ref());
    }
}
