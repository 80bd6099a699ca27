//! The crawl: where the pieces meet, laid out the way a page travels.
//!
//! * `mod.rs` (this file): the [`Crawler`] API: build a crawl from a
//!   [`Config`], a [`Fetch`] and a [`Runtime`]; run it into a [`Store`];
//!   stop it with a [`StopHandle`].
//! * `coordinator.rs`: the one loop that owns the frontier and the table of
//!   hosts; it takes a count permit first, then picks the next URL and
//!   spawns its task.
//! * `task.rs`: one page: fetch, body (metered by the byte gate, see
//!   `body.rs`), parse, record; it reports back even if it panics.
//! * `writer.rs`: batches records into the store, then releases the pages'
//!   permits and bytes.
//! * `messages.rs`: what tasks tell the coordinator.
//! * `limits.rs`: the glue of adaptive concurrency (one limiter for the
//!   crawl, one per host).
//!
//! Imports point one way, with the data: coordinator -> task -> body ->
//! gate; no file here imports one that imports it back.
//!
//! A [`StopHandle`] ends the crawl early: no new URL is started, in-flight
//! pages get [`Config::grace`] to finish and are then recorded as
//! `interrupted`, and the store is flushed. Nothing fetched is lost.

mod coordinator;
mod exchange;
mod handover;
mod limits;
mod messages;
mod task;
mod writer;

use std::sync::Arc;

use futures::channel::mpsc;
use url::Url;

use crate::canon;
use crate::config::{Concurrency, Config, ConfigError};
use crate::filter::UrlFilter;
use crate::frontier::{Frontier, MemoryFrontier};
use crate::gate::ByteGate;
use crate::headers::RequestHeaders;
use crate::parse::Extractor;
use crate::retry::RetryPolicy;
use crate::runtime::{Fetch, Runtime, Store, StoreError};
use crate::scope::Scope;
use crate::stats::{Stats, Summary};
use crate::stop::{Signal, StopHandle};
use crate::types::ContentTypes;
use coordinator::Coordinator;
pub use limits::CRAWL_DROP_TOLERANCE;
use task::{Ctx, Report};

/// A configured crawl, ready to run.
///
/// ```no_run
/// # // Needs an adapter: see semcrawl-smol or the in-memory test in tests/.
/// # fn demo<F: semcrawl_core::Fetch, R: semcrawl_core::Runtime>(fetch: F, runtime: R) {
/// use semcrawl_core::{Config, Crawler, MemoryStore};
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
    reports: (
        mpsc::UnboundedSender<Report>,
        mpsc::UnboundedReceiver<Report>,
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
        // From the raw seeds: their userinfo is gone from `seeds`.
        let headers = RequestHeaders::new(&config);
        let filter = UrlFilter::new(&config.include, &config.exclude)?;
        let types = ContentTypes::new(config.accept_types.clone(), config.all_types);
        let gate = ByteGate::new(config.memory);
        let stats = Arc::new(Stats::new(gate.clone()));
        let retry = RetryPolicy::new(config.retries);
        let reports = mpsc::unbounded();
        let samples = matches!(config.concurrency, Concurrency::Auto(_)).then(|| reports.0.clone());
        Ok(Crawler {
            ctx: Arc::new(Ctx {
                config,
                fetch,
                runtime,
                gate,
                stats,
                extractor,
                scope,
                headers,
                filter,
                types,
                retry,
                cancel: Signal::default(),
                samples,
            }),
            frontier: Box::new(MemoryFrontier::default()),
            stop: StopHandle::default(),
            reports,
        })
    }

    /// Use another frontier (disk-backed, shared, ...). A frontier with a
    /// [`budget`](Frontier::budget) has it taken out of the pages' byte
    /// gate, so pages and frontier together stay within
    /// [`Config::memory`] (pages keep at least half of it).
    pub fn with_frontier(mut self, frontier: Box<dyn Frontier>) -> Self {
        if let Some(share) = frontier.budget() {
            let ctx = Arc::get_mut(&mut self.ctx).expect("not shared before the crawl runs");
            let pages = ctx.config.memory.saturating_sub(share);
            let gate = ByteGate::new(pages.max(ctx.config.memory / 2));
            ctx.stats = Arc::new(Stats::new(gate.clone()));
            // The summary's budget stays the whole of it.
            ctx.stats
                .set_frontier_budget(ctx.config.memory - gate.budget());
            ctx.gate = gate;
        }
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
    /// Fails only if the store or the frontier fails: then the crawl is
    /// stopped at once, and the error says how many records could not be
    /// written (or what the frontier said).
    pub async fn run<S: Store>(self, store: S) -> Result<Summary, StoreError> {
        let ctx = self.ctx;
        ctx.stats.set_started(ctx.runtime.now().as_millis() as u64);
        let (records_tx, records_rx) = mpsc::unbounded();
        let (done_tx, done_rx) = mpsc::unbounded();
        let store_failed = StopHandle::default();
        let writer = writer::write_records(
            store,
            records_rx,
            ctx.config.batch_size,
            ctx.stats.clone(),
            store_failed.clone(),
            done_tx,
        );
        let (reports_tx, reports_rx) = self.reports;
        let mut coordinator =
            Coordinator::new(ctx.clone(), self.frontier, records_tx, reports_tx, done_rx);
        let stop = self.stop.clone();
        let coordinate = async move { coordinator.run(stop, store_failed, reports_rx).await };
        let (frontier, written) = futures::join!(coordinate, writer);
        let summary = ctx.stats.summary(ctx.runtime.now().as_millis() as u64);
        // A failing frontier is reported the way a failing store is.
        let frontier =
            frontier.map_err(|e| StoreError(format!("the crawl's frontier failed: {e}")));
        written.and(frontier).map(|()| summary)
    }
}
