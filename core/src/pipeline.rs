//! The crawl loop: the only place where the pieces meet.
//!
//! One coordinator owns the frontier, the politeness schedule and the
//! robots.txt cache — plain data, touched by one task, so no locks. It loops:
//!
//! 1. take a **count permit** (waiting here while N pages are in the
//!    pipeline; pending work stays a URL in the frontier);
//! 2. pick the next URL whose host is ready (robots.txt known, per-host
//!    limit and delay respected) — or fetch a host's robots.txt first;
//! 3. spawn the page's task, which owns the permit. The task fetches,
//!    reads the body under the **byte gate**, parses and builds the record
//!    (see `page.rs`), reports the links back to the coordinator
//!    and hands the record, its permit and its bytes to the writer;
//! 4. the writer batches records into the [`Store`]; once a batch is
//!    written, its permits and bytes are released.
//!
//! A [`StopHandle`] ends the crawl early: no new URL is started, in-flight
//! pages get [`Config::grace`] to finish and are then recorded as
//! `interrupted`, and the store is flushed. Nothing fetched is lost.
//!
//! # Adaptive limits, per host and overall
//!
//! With `--concurrency auto` the coordinator owns [`Limiter`]s (pure state
//! machines, see [`limiter`](crate::limiter)): one for the crawl, which the
//! count gate's permits follow, and one per origin (keyed like politeness),
//! created when the origin's first page starts, bounded by
//! `1..=--per-host` and starting where the crawl's limit starts (clamped to
//! that). A host's limit is handed to [`Politeness::set_host_limit`]: the
//! host is ready while fewer of its requests than `min(--per-host, its
//! limit)` are in flight; each change is logged at debug level with a
//! `host` field (the crawl's changes have none). Each attempt's
//! [`Sample`] carries its origin and feeds both limiters: the host's with
//! the requests being fetched from that host when it was sent, the crawl's
//! with all requests being fetched then (both itself included; counted from
//! the byte gate's admission to the end of the fetch, so a page waiting on
//! the gate, or sleeping before a retry, is no load: a memory-bound crawl
//! looks app-limited and its limit does not grow for nothing). A page
//! sleeping before a retry still keeps its politeness slot of the host, as
//! it keeps its count permit. The summary counts the hosts
//! whose limit was lowered at least once, for latency or failures
//! (`hostsLimited`). A host's limiter is
//! kept for the rest of the crawl, like its politeness and robots.txt state
//! (a few hundred bytes a host).
//!
//! The two answer different questions. A host's limiter finds what that
//! server takes, and answers its `503`s and timeouts at the first one (its
//! drop tolerance is the configured one, 0 by default). The crawl's limiter
//! finds what the crawl as a whole takes (our own network, CPU and the
//! servers together), and gets a drop tolerance of
//! [`CRAWL_DROP_TOLERANCE`] (5%): a window whose failures are at most that
//! share of its samples is judged on its latency alone. Without it, one
//! dead or rate-limiting host among many, failing a request or two every
//! round trip, would cut the crawl's limit by 10% each round trip and slow
//! every other host down, though its own limiter already holds it to a
//! request or two. When failures are more than a few percent of the crawl's
//! requests (one overloaded host crawled alone, or our own network giving
//! out), the crawl's limit still backs off, at the end of the window
//! instead of at the first failure; within one host the host's limiter has
//! answered already.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_lock::{Semaphore, SemaphoreGuardArc};
use event_listener::Event;
use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::{FutureExt, StreamExt};
use url::Url;

use crate::config::{Concurrency, Config, ConfigError};
use crate::frontier::{Entry, Frontier, MemoryFrontier};
use crate::gate::{ByteGate, Reservation, PAGE_OVERHEAD};
use crate::limiter::{Limiter, LimiterConfig, Reason, Sample};
use crate::page::{self, read_body, HostLoad, PageResult, ReadError};
use crate::parse::Extractor;
use crate::politeness::Politeness;
use crate::record::{ErrorKind, Record};
use crate::retry::RetryPolicy;
use crate::robots::{robots_url, Robots};
use crate::runtime::{Fetch, FetchRequest, Runtime, Store, StoreError};
use crate::scope::Scope;
use crate::stats::{Stats, Summary};
use crate::{canon, frontier};

/// Largest robots.txt read (RFC 9309 asks for at least 500 KiB).
const ROBOTS_MAX: u64 = 512 * 1024;

/// A one-way flag that async code can wait for.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    fired: AtomicBool,
    event: Event,
}

impl Signal {
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            if self.is_fired() {
                return;
            }
            let listener = self.event.listen();
            if self.is_fired() {
                return;
            }
            listener.await;
        }
    }
}

/// Asks a running crawl to stop taking new URLs. Cheap to clone.
///
/// ```
/// let stop = semcrawl_core::StopHandle::default();
/// assert!(!stop.is_stopped());
/// stop.clone().stop();
/// assert!(stop.is_stopped());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    signal: Arc<Signal>,
}

impl StopHandle {
    /// Request a stop: no new URL is started; in-flight pages finish within
    /// the grace period or are recorded as interrupted; the store is flushed.
    pub fn stop(&self) {
        self.signal.fire();
    }

    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.signal.is_fired()
    }

    async fn wait(&self) {
        self.signal.wait().await
    }
}

/// What page tasks share.
pub(crate) struct Ctx<F, R> {
    pub config: Config,
    pub fetch: F,
    pub runtime: R,
    pub gate: ByteGate,
    pub stats: Arc<Stats>,
    pub extractor: Extractor,
    pub scope: Scope,
    pub retry: RetryPolicy,
    /// Fired when the grace period after a stop is over.
    pub cancel: Signal,
    /// Latency samples for the adaptive limit (`None` with a fixed limit).
    pub samples: Option<mpsc::UnboundedSender<Outcome>>,
}

/// A page permit: while it lives, the page counts as in the pipeline.
struct Slot {
    _permit: SemaphoreGuardArc,
    stats: Arc<Stats>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.leave();
    }
}

/// A record on its way to the store, with what it holds.
struct Pending {
    record: Record,
    _hold: Option<Reservation>,
    _slot: Slot,
}

/// What tasks report to the coordinator.
pub(crate) enum Outcome {
    /// A response head arrived, or an attempt failed: feed the limiters.
    Sample {
        /// The origin the request went to.
        origin: Arc<str>,
        /// Requests being fetched from that origin when it was sent, itself
        /// included.
        host_in_flight: usize,
        /// With all requests being fetched then.
        sample: Sample,
    },
    Page {
        origin: String,
        depth: u32,
        redirects: u32,
        parent: Arc<str>,
        links: Vec<(Url, bool)>,
    },
    Robots {
        origin: String,
        robots: Robots,
    },
}

enum RobotsState {
    Pending,
    Ready(Robots),
}

/// A configured crawl, ready to run.
///
/// ```no_run
/// # // Needs an adapter: see semcrawl-smol or the in-memory test in tests/.
/// # fn demo<F: semcrawl_core::Fetch, R: semcrawl_core::Runtime>(fetch: F, runtime: R) {
/// use semcrawl_core::{Config, Crawler, runtime::MemoryStore};
/// let mut config = Config::default();
/// config.seeds.push("http://127.0.0.1:8080/".parse().unwrap());
/// let crawler = Crawler::new(config, fetch, runtime).unwrap();
/// let store = MemoryStore::default();
/// let summary = futures::executor::block_on(crawler.run(store.clone())).unwrap();
/// assert_eq!(summary.pages + summary.errors, store.records().len() as u64);
/// # }
/// ```
pub struct Crawler<F: Fetch, R: Runtime> {
    ctx: Arc<Ctx<F, R>>,
    frontier: Box<dyn Frontier>,
    stop: StopHandle,
    outcomes: (
        mpsc::UnboundedSender<Outcome>,
        mpsc::UnboundedReceiver<Outcome>,
    ),
}

impl<F: Fetch, R: Runtime> Crawler<F, R> {
    /// Validate `config` and set up the crawl.
    pub fn new(config: Config, fetch: F, runtime: R) -> Result<Self, ConfigError> {
        config.validate()?;
        let extractor = Extractor::new(&config.fields, config.text)?;
        let seeds: Vec<Url> = config
            .seeds
            .iter()
            .filter_map(canon::canonicalize)
            .collect();
        let scope = Scope::new(config.scope, &seeds, &config.allow_domains);
        let gate = ByteGate::new(config.memory);
        let stats = Arc::new(Stats::new(gate.clone()));
        let retry = RetryPolicy::new(config.retries);
        let outcomes = mpsc::unbounded();
        let samples =
            matches!(config.concurrency, Concurrency::Auto(_)).then(|| outcomes.0.clone());
        Ok(Crawler {
            ctx: Arc::new(Ctx {
                config,
                fetch,
                runtime,
                gate,
                stats,
                extractor,
                scope,
                retry,
                cancel: Signal::default(),
                samples,
            }),
            frontier: Box::new(MemoryFrontier::default()),
            stop: StopHandle::default(),
            outcomes,
        })
    }

    /// Use another frontier (disk-backed, shared, ...).
    pub fn with_frontier(mut self, frontier: Box<dyn Frontier>) -> Self {
        self.frontier = frontier;
        self
    }

    /// Live counters for progress displays.
    pub fn stats(&self) -> Arc<Stats> {
        self.ctx.stats.clone()
    }

    /// A handle to stop the crawl from elsewhere (Ctrl-C, an AbortSignal).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Crawl until the frontier is empty, a limit is reached or a stop is
    /// requested; write every record to `store`; flush it; summarize.
    ///
    /// Fails only if the store fails: then the crawl is stopped at once, and
    /// the error says how many records could not be written.
    pub async fn run<S: Store>(self, store: S) -> Result<Summary, StoreError> {
        let ctx = self.ctx;
        ctx.stats.set_started(ctx.runtime.now().as_millis() as u64);
        let (records_tx, records_rx) = mpsc::unbounded();
        let store_failed = StopHandle::default();
        let writer = write_records(
            store,
            records_rx,
            ctx.config.batch_size,
            ctx.stats.clone(),
            store_failed.clone(),
        );
        let mut coordinator = Coordinator {
            ctx: ctx.clone(),
            frontier: self.frontier,
            politeness: Politeness::new(ctx.config.per_host, ctx.config.delay),
            robots: HashMap::new(),
            robots_todo: Vec::new(),
            permits: Arc::new(Semaphore::new(ctx.config.concurrency.max())),
            limiter: match ctx.config.concurrency {
                Concurrency::Auto(c) => Some(Limiter::new(crawl_limiter(c))),
                Concurrency::Fixed(_) => None,
            },
            hosts: match ctx.config.concurrency {
                Concurrency::Auto(c) => Some(HostLimits {
                    config: host_limiter(c, ctx.config.per_host),
                    limiters: HashMap::new(),
                }),
                Concurrency::Fixed(_) => None,
            },
            retired: Vec::new(),
            memory_bound: Duration::ZERO,
            limit_bound: Duration::ZERO,
            gate_waited: false,
            in_flight: 0,
            started: 0,
            records: records_tx,
        };
        let stop = self.stop.clone();
        let (outcomes_tx, outcomes_rx) = self.outcomes;
        let coordinate = async move {
            coordinator
                .run(stop, store_failed, outcomes_tx, outcomes_rx)
                .await;
            coordinator.ctx.stats.set_queued(coordinator.frontier.len());
            coordinator.report_limits();
        };
        let ((), written) = futures::join!(coordinate, writer);
        let summary = ctx.stats.summary(ctx.runtime.now().as_millis() as u64);
        written.map(|()| summary)
    }
}

struct Coordinator<F: Fetch, R: Runtime> {
    ctx: Arc<Ctx<F, R>>,
    frontier: Box<dyn Frontier>,
    politeness: Politeness,
    robots: HashMap<String, RobotsState>,
    robots_todo: Vec<Url>,
    permits: Arc<Semaphore>,
    /// The crawl's adaptive limit, with `--concurrency auto`.
    limiter: Option<Limiter>,
    /// The hosts' adaptive limits, with `--concurrency auto`.
    hosts: Option<HostLimits>,
    /// Permits held back so that the permits in circulation match the
    /// limiter's limit: retired as they come back, released as it grows.
    retired: Vec<SemaphoreGuardArc>,
    /// Time the coordinator waited with pages waiting on the byte gate.
    memory_bound: Duration,
    /// Time the coordinator waited for a count permit, the gate idle.
    limit_bound: Duration,
    /// Whether pages waited on the byte gate at the last turn of the loop.
    gate_waited: bool,
    /// Tasks spawned and not yet reported back.
    in_flight: usize,
    /// Pages started (for `max_pages`).
    started: u64,
    records: mpsc::UnboundedSender<Pending>,
}

/// Crawl-wide drop tolerance of `--concurrency auto` (see the module docs).
pub const CRAWL_DROP_TOLERANCE: f64 = 0.05;

/// The crawl-wide limiter's settings: the user's, with a drop tolerance of
/// at least [`CRAWL_DROP_TOLERANCE`].
fn crawl_limiter(c: LimiterConfig) -> LimiterConfig {
    LimiterConfig {
        drop_tolerance: c.drop_tolerance.max(CRAWL_DROP_TOLERANCE),
        ..c
    }
}

/// A host's limiter settings: bounded by `1..=per_host`, starting where the
/// crawl's limit starts (clamped to those bounds), otherwise the crawl's
/// settings as given (no drop tolerance by default).
fn host_limiter(c: LimiterConfig, per_host: usize) -> LimiterConfig {
    let max = per_host.max(1);
    LimiterConfig {
        min: 1,
        max,
        initial: c.initial.clamp(c.min.max(1), c.max.max(1)).clamp(1, max),
        ..c
    }
}

/// One [`Limiter`] per origin, created when the origin's first page starts.
struct HostLimits {
    config: LimiterConfig,
    limiters: HashMap<String, HostLimiter>,
}

struct HostLimiter {
    limiter: Limiter,
    /// Whether its limit was lowered at least once (for latency or drops).
    reduced: bool,
    /// Requests to the host being fetched now (shared with its pages).
    fetching: Arc<AtomicUsize>,
}

impl HostLimits {
    fn new_limiter(&self) -> HostLimiter {
        HostLimiter {
            limiter: Limiter::new(self.config),
            reduced: false,
            fetching: Arc::new(AtomicUsize::new(0)),
        }
    }
}

enum Wake {
    Outcome(Option<Outcome>),
    Permit(SemaphoreGuardArc),
    Timer,
    Stop,
}

impl<F: Fetch, R: Runtime> Coordinator<F, R> {
    async fn run(
        &mut self,
        stop: StopHandle,
        store_failed: StopHandle,
        outcomes_tx: mpsc::UnboundedSender<Outcome>,
        mut outcomes: mpsc::UnboundedReceiver<Outcome>,
    ) {
        self.follow_limit();
        for seed in self.ctx.config.seeds.clone() {
            if let Some(url) = canon::canonicalize(&seed) {
                if self.frontier.mark_seen(&url) {
                    self.enqueue(Entry::seed(url));
                }
            }
        }
        let mut stopping = false;
        let mut grace: Option<crate::runtime::BoxFuture<'static, ()>> = None;
        let mut tick = self.ctx.runtime.now();
        loop {
            // Memory-bound time: from one turn of the loop to the next,
            // while pages waited on the byte gate at the start of it.
            let now = self.ctx.runtime.now();
            if self.gate_waited {
                self.memory_bound += now.saturating_sub(tick);
            }
            tick = now;
            self.gate_waited = self.ctx.gate.waiting() > 0;
            while let Ok(o) = outcomes.try_recv() {
                self.absorb(o);
            }
            // Permits in use come back all the time: keep retiring them
            // while the circulating count is above the limit.
            self.follow_limit();
            self.ctx.stats.set_queued(self.frontier.len());
            if store_failed.is_stopped() && !self.ctx.cancel.is_fired() {
                stopping = true;
                self.ctx.cancel.fire();
            }
            if stop.is_stopped() && !stopping {
                tracing::info!(
                    in_flight = self.in_flight,
                    "stop requested: finishing pages in flight"
                );
                stopping = true;
                self.ctx.stats.set_interrupted();
                grace = Some(self.ctx.runtime.sleep(self.ctx.config.grace));
            }
            let limit_reached = self.ctx.config.max_pages.is_some_and(|m| self.started >= m);
            let no_more_work = stopping || limit_reached;
            if no_more_work || (self.frontier.is_empty() && self.robots_todo.is_empty()) {
                if self.in_flight == 0 {
                    return;
                }
                // Only outcomes (and the grace timer) can change anything now.
                let next = outcomes.next();
                let woke = match grace.as_mut() {
                    Some(timer) => match select(next, timer).await {
                        Either::Left((o, _)) => Wake::Outcome(o),
                        Either::Right(_) => Wake::Timer,
                    },
                    None if !stopping => match select(next, stop.wait().boxed_local()).await {
                        Either::Left((o, _)) => Wake::Outcome(o),
                        Either::Right(_) => Wake::Stop,
                    },
                    None => Wake::Outcome(next.await),
                };
                match woke {
                    Wake::Outcome(Some(o)) => self.absorb(o),
                    Wake::Timer => {
                        tracing::warn!(
                            in_flight = self.in_flight,
                            "grace period over: recording pages in flight as interrupted"
                        );
                        grace = None;
                        self.ctx.cancel.fire();
                    }
                    _ => {}
                }
                continue;
            }

            // 1. A count permit, before anything else exists for the page.
            let permit = match self.permits.try_acquire_arc() {
                Some(p) => p,
                None => {
                    // Work is queued and no permit is free: the crawl is
                    // bound by the concurrency limit (unless pages wait on
                    // the byte gate: that time counts as memory-bound).
                    let since = self.ctx.runtime.now();
                    let acquire = std::pin::pin!(self.permits.acquire_arc());
                    let woke =
                        match select(select(acquire, outcomes.next()), stop.wait().boxed_local())
                            .await
                        {
                            Either::Left((Either::Left((p, _)), _)) => Wake::Permit(p),
                            Either::Left((Either::Right((o, _)), _)) => Wake::Outcome(o),
                            Either::Right(_) => Wake::Stop,
                        };
                    if !self.gate_waited {
                        self.limit_bound += self.ctx.runtime.now().saturating_sub(since);
                    }
                    match woke {
                        Wake::Permit(p) => p,
                        Wake::Outcome(Some(o)) => {
                            self.absorb(o);
                            continue;
                        }
                        _ => continue,
                    }
                }
            };

            // 2. robots.txt first, then the next ready page.
            if let Some(url) = self.robots_todo.pop() {
                self.spawn_robots(url, permit, outcomes_tx.clone());
                continue;
            }
            let now = self.ctx.runtime.now();
            match self.next_ready(now) {
                Ok(entry) => self.spawn_page(entry, permit, outcomes_tx.clone()),
                Err(wake_at) => {
                    drop(permit);
                    let timer = match wake_at {
                        Some(at) => self.ctx.runtime.sleep(at.saturating_sub(now)),
                        None => Box::pin(futures::future::pending()),
                    };
                    if self.in_flight == 0 && wake_at.is_none() {
                        // Nothing in flight and nothing will become ready:
                        // the rest is disallowed or waits on nothing.
                        return;
                    }
                    let woke =
                        select(select(timer, outcomes.next()), stop.wait().boxed_local()).await;
                    if let Either::Left((Either::Right((Some(o), _)), _)) = woke {
                        self.absorb(o);
                    }
                }
            }
        }
    }

    /// Make the permits in circulation match the limiter's limit: release
    /// retired permits when it grows; retire free permits when it shrinks
    /// (permits in use are retired later, as they come back).
    fn follow_limit(&mut self) {
        let Some(limiter) = &self.limiter else {
            self.ctx
                .stats
                .set_limit(self.ctx.config.concurrency.max() as u64);
            return;
        };
        let target = limiter.limit();
        let max = self.ctx.config.concurrency.max();
        while max - self.retired.len() < target {
            self.retired.pop();
        }
        while max - self.retired.len() > target {
            match self.permits.try_acquire_arc() {
                Some(p) => self.retired.push(p),
                None => break,
            }
        }
        self.ctx.stats.set_limit((max - self.retired.len()) as u64);
    }

    fn report_limits(&self) {
        let trajectory = self.limiter.as_ref().map(|l| l.trajectory());
        let hosts_limited = self
            .hosts
            .as_ref()
            .map(|h| h.limiters.values().filter(|l| l.reduced).count() as u64);
        self.ctx.stats.set_limits(
            trajectory,
            hosts_limited,
            self.memory_bound,
            self.limit_bound,
        );
    }

    /// The next entry that may be fetched now; robots-disallowed entries are
    /// dropped on the way. `Err(Some(t))`: nothing before `t`; `Err(None)`:
    /// nothing until a request finishes.
    fn next_ready(&mut self, now: Duration) -> Result<Entry, Option<Duration>> {
        let obey = self.ctx.config.obey_robots;
        loop {
            let mut wake: Option<Duration> = None;
            let politeness = &self.politeness;
            let robots = &self.robots;
            let entry = self.frontier.pop(&mut |origin| {
                if obey && !matches!(robots.get(origin), Some(RobotsState::Ready(_))) {
                    return false;
                }
                if politeness.ready(origin, now) {
                    return true;
                }
                if let Some(t) = politeness.ready_at(origin, now) {
                    wake = Some(wake.map_or(t, |w: Duration| w.min(t)));
                }
                false
            });
            let Some(entry) = entry else {
                return Err(wake);
            };
            if obey {
                if let Some(RobotsState::Ready(rules)) = self.robots.get(&entry.origin()) {
                    if !rules.allowed(&entry.url) {
                        tracing::debug!(url = %entry.url, "disallowed by robots.txt");
                        self.ctx.stats.robots_skipped();
                        continue;
                    }
                }
            }
            return Ok(entry);
        }
    }

    /// Queue a new (already deduplicated) entry; note its host's robots.txt.
    fn enqueue(&mut self, entry: Entry) {
        let origin = entry.origin();
        if self.ctx.config.obey_robots && !self.robots.contains_key(&origin) {
            self.robots.insert(origin, RobotsState::Pending);
            self.robots_todo.push(entry.url.clone());
        }
        self.frontier.push(entry);
    }

    fn absorb(&mut self, outcome: Outcome) {
        if let Outcome::Sample {
            origin,
            host_in_flight,
            sample,
        } = outcome
        {
            // The host's limiter was made when its first page was spawned.
            if let Some(host) = self
                .hosts
                .as_mut()
                .and_then(|h| h.limiters.get_mut(&*origin))
            {
                let host_sample = Sample {
                    in_flight: host_in_flight,
                    ..sample
                };
                if let Some(change) = host.limiter.on_sample(host_sample) {
                    self.politeness
                        .set_host_limit(&origin, host.limiter.limit());
                    tracing::debug!(host = %origin, "{change}");
                    let decided = matches!(change.reason, Reason::Drop | Reason::LatencyRise);
                    if decided && change.to < change.from {
                        host.reduced = true;
                    }
                }
            }
            if let Some(change) = self.limiter.as_mut().and_then(|l| l.on_sample(sample)) {
                tracing::debug!("{change}");
                self.follow_limit();
            }
            return;
        }
        self.in_flight -= 1;
        let now = self.ctx.runtime.now();
        match outcome {
            Outcome::Sample { .. } => unreachable!("handled above"),
            Outcome::Robots { origin, robots } => {
                if let Some(delay) = robots.crawl_delay() {
                    self.politeness.set_host_delay(&origin, delay);
                }
                self.robots.insert(origin, RobotsState::Ready(robots));
            }
            Outcome::Page {
                origin,
                depth,
                redirects,
                parent,
                links,
            } => {
                self.politeness.finish(&origin, now);
                let max_depth = self.ctx.config.max_depth;
                for (url, is_redirect) in links {
                    let (depth, redirects) = if is_redirect {
                        (depth, redirects + 1)
                    } else {
                        (depth + 1, 0)
                    };
                    if max_depth.is_some_and(|m| depth > m) || !self.ctx.scope.allows(&url) {
                        continue;
                    }
                    if self.frontier.mark_seen(&url) {
                        self.enqueue(Entry {
                            url,
                            depth,
                            parent: Some(parent.clone()),
                            redirects,
                        });
                    }
                }
            }
        }
    }

    fn spawn_page(
        &mut self,
        entry: Entry,
        permit: SemaphoreGuardArc,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) {
        let origin = entry.origin();
        if let Some(hosts) = &mut self.hosts {
            if !hosts.limiters.contains_key(&origin) {
                let host = hosts.new_limiter();
                self.politeness
                    .set_host_limit(&origin, host.limiter.limit());
                hosts.limiters.insert(origin.clone(), host);
            }
        }
        self.politeness.start(&origin, self.ctx.runtime.now());
        let host = HostLoad {
            origin: Arc::from(origin.as_str()),
            fetching: self
                .hosts
                .as_ref()
                .and_then(|h| h.limiters.get(&origin))
                .map(|h| h.fetching.clone()),
        };
        self.in_flight += 1;
        self.started += 1;
        self.ctx.stats.enter();
        let slot = Slot {
            _permit: permit,
            stats: self.ctx.stats.clone(),
        };
        let ctx = self.ctx.clone();
        let records = self.records.clone();
        self.ctx.runtime.spawn(Box::pin(async move {
            let work = std::pin::pin!(page::process(&ctx, &entry, &host));
            let result = match select(work, std::pin::pin!(ctx.cancel.wait())).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => page::failed(
                    &entry,
                    ErrorKind::Interrupted,
                    "the crawl was stopped while this page was in flight".into(),
                ),
            };
            let PageResult {
                record,
                links,
                hold,
            } = result;
            let parent: Arc<str> = Arc::from(record.url.as_str());
            let _ = outcomes.unbounded_send(Outcome::Page {
                origin,
                depth: entry.depth,
                redirects: entry.redirects,
                parent,
                links,
            });
            let _ = records.unbounded_send(Pending {
                record,
                _hold: hold,
                _slot: slot,
            });
        }));
    }

    fn spawn_robots(
        &mut self,
        url: Url,
        permit: SemaphoreGuardArc,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) {
        self.in_flight += 1;
        let ctx = self.ctx.clone();
        let origin = frontier::origin_of(&url);
        self.ctx.runtime.spawn(Box::pin(async move {
            let work = std::pin::pin!(fetch_robots(&ctx, url));
            let robots = match select(work, std::pin::pin!(ctx.cancel.wait())).await {
                Either::Left((robots, _)) => robots,
                Either::Right(_) => Robots::allow_all(),
            };
            drop(permit);
            let _ = outcomes.unbounded_send(Outcome::Robots { origin, robots });
        }));
    }
}

/// Fetch and parse a host's robots.txt, following up to five redirects.
///
/// Per RFC 9309: a 4xx means no rules; a 5xx means "assume complete
/// disallow". A network failure is treated as no rules: the host's pages
/// will then fail to fetch and be recorded as connect errors, which tells
/// the user more than silently skipping them would.
async fn fetch_robots<F: Fetch, R: Runtime>(ctx: &Ctx<F, R>, page_url: Url) -> Robots {
    let mut url = robots_url(&page_url);
    for _ in 0..5 {
        let Ok(mut hold) = ctx.gate.admit(PAGE_OVERHEAD).await else {
            return Robots::allow_all();
        };
        let request = FetchRequest {
            url: url.clone(),
            user_agent: ctx.config.user_agent.clone(),
            timeout: ctx.config.timeout,
        };
        let exchange = async {
            let mut response = ctx.fetch.fetch(request).await.map_err(|_| ())?;
            match response.status {
                200..=299 => {
                    let body = read_body(
                        &mut *response.body,
                        &mut hold,
                        ROBOTS_MAX,
                        response.content_length,
                        None,
                    )
                    .await
                    .map_err(|e: ReadError| drop(e))?;
                    let text = String::from_utf8_lossy(&body.bytes);
                    Ok(Err(Robots::parse(&text, &ctx.config.user_agent)))
                }
                300..=399 => match response
                    .location
                    .as_deref()
                    .and_then(|l| canon::resolve(&response.url, l))
                {
                    Some(next) => Ok(Ok(next)),
                    None => Ok(Err(Robots::allow_all())),
                },
                400..=499 => Ok(Err(Robots::allow_all())),
                _ => Ok(Err(Robots::disallow_all())),
            }
        };
        let deadline = ctx.runtime.sleep(ctx.config.timeout);
        let result = match select(std::pin::pin!(exchange), deadline).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => Err(()),
        };
        match result {
            Ok(Ok(next)) => url = next,
            Ok(Err(robots)) => return robots,
            Err(()) => return Robots::allow_all(),
        }
    }
    Robots::allow_all()
}

/// Batch records into the store; release each batch's permits once written.
async fn write_records<S: Store>(
    mut store: S,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    batch_size: usize,
    stats: Arc<Stats>,
    failed: StopHandle,
) -> Result<(), StoreError> {
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
    let mut holds: Vec<Pending> = Vec::with_capacity(batch_size);
    let mut error: Option<StoreError> = None;
    let mut lost = 0u64;
    while let Some(first) = rx.next().await {
        holds.push(first);
        while holds.len() < batch_size {
            match rx.try_recv() {
                Ok(p) => holds.push(p),
                _ => break,
            }
        }
        if error.is_some() {
            lost += holds.len() as u64;
            holds.clear();
            continue;
        }
        batch.extend(
            holds
                .iter_mut()
                .map(|p| std::mem::replace(&mut p.record, Record::new("", 0, None))),
        );
        match store.write(&batch).await {
            Ok(()) => batch.iter().for_each(|r| stats.stored(r)),
            Err(e) => {
                tracing::error!(error = %e, "store failed: stopping the crawl");
                lost += batch.len() as u64;
                error = Some(e);
                failed.stop();
            }
        }
        batch.clear();
        holds.clear();
    }
    let flushed = store.flush().await;
    match error {
        Some(e) => Err(StoreError(format!(
            "{e} ({lost} records could not be written)"
        ))),
        None => flushed,
    }
}
