//! Live counters and the final summary.
//!
//! The pipeline updates [`Stats`] as pages move; progress displays (the
//! CLI's bar, the browser demo) read [`Stats::snapshot`] whenever they like.
//! Counters are atomics so readers never block the crawl.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::adaptive::Trajectory;
use crate::gate::ByteGate;
use crate::record::Record;

/// Live counters of one crawl.
#[derive(Debug)]
pub struct Stats {
    gate: ByteGate,
    started_at: AtomicU64,
    pages: AtomicU64,
    errors: AtomicU64,
    robots_skipped: AtomicU64,
    urls_too_long: AtomicU64,
    filtered: AtomicU64,
    nofollow_skipped: AtomicU64,
    sitemaps: AtomicU64,
    sitemap_urls: AtomicU64,
    /// Bytes of the budget the frontier holds (outside the byte gate).
    frontier_budget: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    fetching: AtomicU64,
    max_fetching: AtomicU64,
    /// A running average of body sizes (1/8 per page), for admissions.
    typical_body: AtomicU64,
    /// The size of the large bodies lately: up at once to a larger body,
    /// down by 1/8 of the gap per smaller one. What a body of unknown
    /// length is expected to need: erring large parks a page, erring small
    /// gets it preempted and fetched again.
    large_body: AtomicU64,
    /// A body whose length no header gave (chunked, or compressed) has
    /// been read in full: until then, such a body is expected to be large.
    unknown_length_read: AtomicBool,
    queued: AtomicU64,
    interrupted: AtomicBool,
    limit: AtomicU64,
    errors_by_kind: Mutex<BTreeMap<String, u64>>,
    limits: Mutex<Limits>,
    paced_count: AtomicU64,
    /// Hosts held back by a delay, by origin.
    paced: Mutex<BTreeMap<String, PacedHost>>,
}

/// Most paced hosts a [`Summary`] lists (the slowest first); the others are
/// only counted, in [`Summary::paced_hosts_total`].
pub const MAX_PACED_LISTED: usize = 20;

/// Why a host is held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PaceSource {
    /// Its robots.txt asks for a `Crawl-delay` (longer than the crawl's).
    CrawlDelay,
    /// The crawl's own delay between two requests to a host.
    Delay,
}

/// A host whose requests are spaced out by a delay, so the crawl of it runs
/// at most at one request per `delay_ms`, whatever the concurrency: a slow
/// crawl the user should be able to see the reason of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PacedHost {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Pause between the end of a request and the start of the next one.
    pub delay_ms: u64,
    /// Where the delay comes from.
    pub source: PaceSource,
}

impl PacedHost {
    /// The most requests a minute the delay leaves (requests taking no
    /// time at all).
    ///
    /// ```
    /// use semcrawl_core::{PacedHost, PaceSource};
    /// let h = PacedHost { origin: "https://a.test".into(), delay_ms: 2000, source: PaceSource::CrawlDelay };
    /// assert_eq!(h.per_minute(), 30.0);
    /// ```
    pub fn per_minute(&self) -> f64 {
        60_000.0 / self.delay_ms.max(1) as f64
    }
}

/// How the concurrency limit moved, for the summary.
#[derive(Debug, Default, Clone)]
struct Limits {
    trajectory: Option<Trajectory>,
    hosts_limited: Option<u64>,
    memory_bound_ms: u64,
    limit_bound_ms: u64,
}

/// A point-in-time view of a running crawl.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Records stored without error.
    pub pages: u64,
    /// Error records stored.
    pub errors: u64,
    /// Pages in the pipeline (count permits in use).
    pub in_flight: u64,
    /// Requests whose response is being received.
    pub fetching: u64,
    /// URLs in the frontier.
    pub queued: u64,
    /// Bytes held by the byte gate now.
    pub bytes_held: u64,
    /// The byte budget.
    pub budget: u64,
    /// Decoded body bytes read so far.
    pub bytes: u64,
    /// Milliseconds since the crawl started.
    pub elapsed_ms: u64,
    /// The count gate's current limit (moves with `--concurrency auto`).
    pub limit: u64,
    /// Hosts held back by a delay so far (robots.txt `Crawl-delay` or the
    /// crawl's delay).
    #[serde(default)]
    pub paced_hosts: u64,
    /// The slowest of them (the longest delay), if any.
    #[serde(default)]
    pub slowest_paced: Option<PacedHost>,
}

/// The end of a crawl, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Records stored without error.
    pub pages: u64,
    /// Error records stored.
    pub errors: u64,
    /// Error records by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// URLs skipped because robots.txt disallowed them.
    pub robots_skipped: u64,
    /// Links not queued because they are longer than
    /// [`MAX_URL_LEN`](crate::frontier::MAX_URL_LEN).
    #[serde(default)]
    pub urls_too_long: u64,
    /// Links and sitemap URLs not queued by the include/exclude patterns
    /// or for an ignored extension (see [`crate::types`]).
    #[serde(default)]
    pub filtered: u64,
    /// Links not followed because the page or the link asked so
    /// (nofollow).
    #[serde(default)]
    pub nofollow_skipped: u64,
    /// Sitemaps read (indexes included).
    #[serde(default)]
    pub sitemaps: u64,
    /// URLs taken from sitemaps (before the frontier drops those already
    /// seen).
    #[serde(default)]
    pub sitemap_urls: u64,
    /// Decoded body bytes read.
    pub bytes: u64,
    /// Wall time of the crawl.
    pub elapsed_ms: u64,
    /// Most pages in the pipeline at once (count permits in use).
    pub max_in_flight: u64,
    /// Most requests receiving a response at once.
    pub max_fetching: u64,
    /// High-water mark of the byte gate.
    pub peak_bytes: u64,
    /// The memory budget (`--memory`): the byte gate's plus the frontier's share.
    pub budget: u64,
    /// URLs still queued when the crawl ended (non-zero after a stop or `max_pages`).
    pub queued: u64,
    /// Whether the crawl was stopped before it ran out of work.
    pub interrupted: bool,
    /// With `--concurrency auto`: the lowest limit reached (probes aside).
    pub limit_min: Option<u64>,
    /// With `--concurrency auto`: the highest limit reached.
    pub limit_max: Option<u64>,
    /// The limit at the end (the fixed one without `auto`).
    pub limit_final: u64,
    /// With `--concurrency auto`: how many times the limit moved.
    pub limit_changes: Option<u64>,
    /// With `--concurrency auto`: how many hosts had their own limit
    /// lowered at least once (for latency or failures).
    #[serde(default)]
    pub hosts_limited: Option<u64>,
    /// Time the scheduler waited for a permit while pages waited on the
    /// byte gate: the crawl was memory-bound.
    pub memory_bound_ms: u64,
    /// Time the scheduler waited for a permit with the byte gate idle: the
    /// crawl was bound by the concurrency limit (latency-bound).
    pub limit_bound_ms: u64,
    /// Whether this run went on with a crawl an earlier run had started
    /// (set by the front end that keeps the crawl's state; the core itself
    /// always starts afresh).
    #[serde(default)]
    pub resumed: bool,
    /// On a resumed crawl, how many pages the earlier runs had done; 0
    /// otherwise.
    #[serde(default)]
    pub resumed_from: u64,
    /// Hosts held back by a delay (robots.txt `Crawl-delay` or the crawl's
    /// delay), slowest first, at most [`MAX_PACED_LISTED`].
    #[serde(default)]
    pub paced_hosts: Vec<PacedHost>,
    /// How many hosts were held back, listed or not.
    #[serde(default)]
    pub paced_hosts_total: u64,
}

impl Summary {
    /// Why a crawl that stored no successful record failed, in one line:
    /// nothing was reachable at all, or every page was an error (by kind).
    ///
    /// ```
    /// let mut summary = semcrawl_core::Summary::default();
    /// summary.errors = 2;
    /// summary.errors_by_kind.insert("connect".into(), 2);
    /// assert_eq!(summary.why_nothing(), "not one page could be fetched: 2 error records (connect 2)");
    /// ```
    pub fn why_nothing(&self) -> String {
        if self.errors == 0 {
            return "nothing was crawled: no seed could be fetched (out of scope, or disallowed by robots.txt)".into();
        }
        let kinds: Vec<String> = (self.errors_by_kind.iter())
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let s = if self.errors == 1 { "" } else { "s" };
        format!(
            "not one page could be fetched: {} error record{s} ({})",
            self.errors,
            kinds.join(", ")
        )
    }
}

impl Stats {
    pub(crate) fn new(gate: ByteGate) -> Self {
        Stats {
            gate,
            started_at: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            robots_skipped: AtomicU64::new(0),
            urls_too_long: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            nofollow_skipped: AtomicU64::new(0),
            sitemaps: AtomicU64::new(0),
            sitemap_urls: AtomicU64::new(0),
            frontier_budget: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            fetching: AtomicU64::new(0),
            max_fetching: AtomicU64::new(0),
            typical_body: AtomicU64::new(0),
            large_body: AtomicU64::new(0),
            unknown_length_read: AtomicBool::new(false),
            queued: AtomicU64::new(0),
            interrupted: AtomicBool::new(false),
            limit: AtomicU64::new(0),
            errors_by_kind: Mutex::new(BTreeMap::new()),
            limits: Mutex::new(Limits::default()),
            paced_count: AtomicU64::new(0),
            paced: Mutex::new(BTreeMap::new()),
        }
    }

    /// The byte gate of this crawl (for its `held`, `peak` and `budget`).
    pub fn gate(&self) -> &ByteGate {
        &self.gate
    }

    /// A consistent-enough view for progress displays; `now_ms` is the
    /// runtime's monotonic clock in milliseconds.
    pub fn snapshot(&self, now_ms: u64) -> Progress {
        Progress {
            pages: self.pages.load(Relaxed),
            errors: self.errors.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            fetching: self.fetching.load(Relaxed),
            queued: self.queued.load(Relaxed),
            bytes_held: self.gate.held(),
            budget: self.gate.budget(),
            bytes: self.bytes.load(Relaxed),
            elapsed_ms: now_ms.saturating_sub(self.started_at.load(Relaxed)),
            limit: self.limit.load(Relaxed),
            paced_hosts: self.paced_count.load(Relaxed),
            slowest_paced: self.paced_hosts(1).into_iter().next(),
        }
    }

    /// A host's first request starts, and a delay holds it back: kept for
    /// the progress and the summary, and logged (once per host).
    pub(crate) fn paced(&self, origin: &str, delay: Duration, source: PaceSource) {
        let host = PacedHost {
            origin: origin.to_owned(),
            delay_ms: delay.as_millis() as u64,
            source,
        };
        let why = match source {
            PaceSource::CrawlDelay => "its robots.txt Crawl-delay",
            PaceSource::Delay => "the crawl's delay",
        };
        tracing::info!(
            "{origin}: one request every {:.1}s ({:.0} pages/min at most), for {why}",
            delay.as_secs_f64(),
            host.per_minute()
        );
        let mut paced = self.paced.lock().unwrap_or_else(|e| e.into_inner());
        if paced.insert(origin.to_owned(), host).is_none() {
            self.paced_count.fetch_add(1, Relaxed);
        }
    }

    /// The `n` slowest paced hosts (longest delay first).
    fn paced_hosts(&self, n: usize) -> Vec<PacedHost> {
        if self.paced_count.load(Relaxed) == 0 {
            return Vec::new();
        }
        let paced = self.paced.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts: Vec<&PacedHost> = paced.values().collect();
        hosts.sort_by(|a, b| b.delay_ms.cmp(&a.delay_ms).then(a.origin.cmp(&b.origin)));
        hosts.into_iter().take(n).cloned().collect()
    }

    pub(crate) fn summary(&self, now_ms: u64) -> Summary {
        let limits = self
            .limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let t = limits.trajectory;
        Summary {
            limit_min: t.map(|t| t.min as u64),
            limit_max: t.map(|t| t.max as u64),
            limit_final: self.limit.load(Relaxed),
            limit_changes: t.map(|t| t.changes),
            hosts_limited: limits.hosts_limited,
            memory_bound_ms: limits.memory_bound_ms,
            limit_bound_ms: limits.limit_bound_ms,
            pages: self.pages.load(Relaxed),
            errors: self.errors.load(Relaxed),
            errors_by_kind: self
                .errors_by_kind
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            robots_skipped: self.robots_skipped.load(Relaxed),
            urls_too_long: self.urls_too_long.load(Relaxed),
            filtered: self.filtered.load(Relaxed),
            nofollow_skipped: self.nofollow_skipped.load(Relaxed),
            sitemaps: self.sitemaps.load(Relaxed),
            sitemap_urls: self.sitemap_urls.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            elapsed_ms: now_ms.saturating_sub(self.started_at.load(Relaxed)),
            max_in_flight: self.max_in_flight.load(Relaxed),
            max_fetching: self.max_fetching.load(Relaxed),
            peak_bytes: self.gate.peak(),
            budget: self.gate.budget() + self.frontier_budget.load(Relaxed),
            queued: self.queued.load(Relaxed),
            interrupted: self.interrupted.load(Relaxed),
            resumed: false,
            resumed_from: 0,
            paced_hosts: self.paced_hosts(MAX_PACED_LISTED),
            paced_hosts_total: self.paced_count.load(Relaxed),
        }
    }

    pub(crate) fn set_started(&self, now_ms: u64) {
        self.started_at.store(now_ms, Relaxed);
    }

    pub(crate) fn set_queued(&self, n: usize) {
        self.queued.store(n as u64, Relaxed);
    }

    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Relaxed);
    }

    pub(crate) fn set_limits(
        &self,
        trajectory: Option<Trajectory>,
        hosts_limited: Option<u64>,
        memory_bound: Duration,
        limit_bound: Duration,
    ) {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner()) = Limits {
            trajectory,
            hosts_limited,
            memory_bound_ms: memory_bound.as_millis() as u64,
            limit_bound_ms: limit_bound.as_millis() as u64,
        };
    }

    pub(crate) fn set_interrupted(&self) {
        self.interrupted.store(true, Relaxed);
    }

    /// The frontier holds `bytes` of the budget, outside the byte gate.
    pub(crate) fn set_frontier_budget(&self, bytes: u64) {
        self.frontier_budget.store(bytes, Relaxed);
    }

    pub(crate) fn urls_too_long(&self, n: u64) {
        self.urls_too_long.fetch_add(n, Relaxed);
    }

    pub(crate) fn filtered(&self, n: u64) {
        self.filtered.fetch_add(n, Relaxed);
    }

    pub(crate) fn nofollow_skipped(&self, n: u64) {
        self.nofollow_skipped.fetch_add(n, Relaxed);
    }

    pub(crate) fn sitemap_read(&self) {
        self.sitemaps.fetch_add(1, Relaxed);
    }

    pub(crate) fn sitemap_urls(&self, n: u64) {
        self.sitemap_urls.fetch_add(n, Relaxed);
    }

    pub(crate) fn robots_skipped(&self) {
        self.robots_skipped.fetch_add(1, Relaxed);
    }

    /// Note the size of a body read in full.
    pub(crate) fn note_body(&self, n: u64) {
        // A racy update is fine: it is an estimate.
        let old = self.typical_body.load(Relaxed);
        let new = if old == 0 { n } else { old - old / 8 + n / 8 };
        self.typical_body.store(new.max(1), Relaxed);
        let old = self.large_body.load(Relaxed);
        let new = if n >= old { n } else { old - (old - n) / 8 };
        self.large_body.store(new.max(1), Relaxed);
    }

    /// The size of the large bodies lately (0 before the first body).
    pub(crate) fn large_body(&self) -> u64 {
        self.large_body.load(Relaxed)
    }

    /// Note that a body of unknown length was read in full (its size goes
    /// through [`Stats::note_body`] as any other's).
    pub(crate) fn note_unknown_length(&self) {
        self.unknown_length_read.store(true, Relaxed);
    }

    /// Whether a body of unknown length has been read in full yet.
    pub(crate) fn unknown_length_read(&self) -> bool {
        self.unknown_length_read.load(Relaxed)
    }

    /// The running average of body sizes so far (0 before the first).
    pub(crate) fn typical_body(&self) -> u64 {
        self.typical_body.load(Relaxed)
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Relaxed);
    }

    pub(crate) fn enter(&self) {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Relaxed);
    }

    pub(crate) fn leave(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    /// One more page fetching; returns how many are, this one included.
    pub(crate) fn fetch_started(&self) -> u64 {
        let now = self.fetching.fetch_add(1, Relaxed) + 1;
        self.max_fetching.fetch_max(now, Relaxed);
        now
    }

    pub(crate) fn fetch_ended(&self) {
        self.fetching.fetch_sub(1, Relaxed);
    }

    pub(crate) fn stored(&self, record: &Record) {
        match &record.error {
            None => {
                self.pages.fetch_add(1, Relaxed);
            }
            Some(e) => {
                self.errors.fetch_add(1, Relaxed);
                *self
                    .errors_by_kind
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(e.kind.as_str().to_owned())
                    .or_default() += 1;
            }
        }
    }
}
