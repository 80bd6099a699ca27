//! The coordinator: the one loop that decides what is fetched next.
//!
//! It owns the frontier and the table of hosts (robots.txt, politeness,
//! limits), plain data touched by this one task only, so no locks. It
//! loops:
//!
//! 1. take a **count permit** (waiting here while N pages are in the
//!    pipeline: pending work stays a URL in the frontier, never a task);
//! 2. with the permit, fetch a host's robots.txt if one is wanted, or pick
//!    the next URL whose host is ready (robots.txt known, per-host limit and
//!    delay respected) and spawn its page task (`task.rs`), which owns the
//!    permit from then on;
//! 3. between the two, absorb the tasks' reports (`messages.rs`): samples
//!    for the limits, the links of finished pages, robots.txt rules.
//!
//! The frontier is async and hands out URLs in batches: the coordinator
//! pops up to [`POP_BATCH`] entries whose hosts are ready, starting each
//! one's request in the host's pace as it is handed out (so the batch
//! respects `--per-host` and `--delay`), and keeps them until permits come.
//! It awaits the frontier only from its own loop, holding nothing `!Send`.
//! A host is known to the frontier by its origin string, which means the
//! same after a restart; the coordinator interns it into a [`HostId`] when
//! the frontier asks whether the host is ready, and asks for its robots.txt
//! then if needed. Pages' ids come back from the writer once their records
//! are stored, and are acknowledged to the frontier as done.
//!
//! The loop ends when nothing is queued or in flight, when the page limit
//! is reached and the last page is in, or after a stop (see
//! [`StopHandle`]): then in-flight pages get the grace period, and are
//! cancelled when it is over.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_lock::SemaphoreGuardArc;
use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::{FutureExt, StreamExt};
use url::Url;

use super::limits::Limits;
use super::messages::{Found, PageDone};
use super::task::{self, Ctx, Report, SitemapHint};
use super::writer::{Pending, Slot};
use crate::canon;
use crate::frontier::{Entry, Frontier, FrontierError, HostId, KeptRobots};
use crate::hosts::{Hosts, RobotsState};
use crate::politeness::Politeness;
use crate::record::{ErrorKind, Record, RecordError};
use crate::robots::{Fetched, Robots, RobotsFetch, Unreachable, ROBOTS_MAX_AGE};
use crate::runtime::{BoxFuture, Fetch, Runtime};
use crate::sitemap::{MAX_SITEMAPS_PER_HOST, MAX_SITEMAP_URLS_PER_HOST};
use crate::stats::PaceSource;
use crate::stop::StopHandle;

mod found;
mod robots;

/// Most entries popped from the frontier at once.
const POP_BATCH: usize = 16;

/// Most links held back from the frontier between two pops (see
/// [`Coordinator::sync`]): a few pages' worth, a bounded amount of memory.
const HELD_LINKS: usize = 512;

pub(crate) struct Coordinator<F: Fetch, R: Runtime> {
    pub ctx: Arc<Ctx<F, R>>,
    pub frontier: Box<dyn Frontier>,
    /// Entries popped, their requests started in their hosts' pace, not
    /// yet spawned (waiting for permits).
    popped: VecDeque<(Entry, HostId)>,
    /// Ids of pages done (stored) not yet acknowledged.
    acks: Vec<u64>,
    /// Ids of entries robots.txt disallowed (never fetched), not yet
    /// acknowledged.
    skips: Vec<u64>,
    /// Links found by the pages that finished, not yet pushed: they go to
    /// the frontier together with the acknowledgements
    /// ([`sync`](Self::sync)), one call (one transaction for a disk
    /// frontier) for all the pages that finished meanwhile.
    to_push: Vec<Entry>,
    /// Ids of stored pages, from the writer.
    done: mpsc::UnboundedReceiver<Vec<u64>>,
    /// The frontier's first failure: the crawl stops.
    failure: Option<FrontierError>,
    politeness: Politeness,
    hosts: Hosts,
    /// Hosts whose robots.txt is wanted, with a URL of theirs.
    robots_todo: Vec<(HostId, Url)>,
    /// URLs queued as sitemaps and not yet started (at most
    /// `MAX_SITEMAPS_PER_HOST` a host), listed or guessed.
    sitemap_docs: HashMap<Url, SitemapHint>,
    limits: Limits,
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
    /// `None` once the crawl is over, so the writer can end.
    records: Option<mpsc::UnboundedSender<Pending>>,
    reports: mpsc::UnboundedSender<Report>,
}

enum Wake {
    Report(Option<Report>),
    Permit(SemaphoreGuardArc),
    Timer,
    Stop,
}

impl<F: Fetch, R: Runtime> Coordinator<F, R> {
    pub fn new(
        ctx: Arc<Ctx<F, R>>,
        frontier: Box<dyn Frontier>,
        records: mpsc::UnboundedSender<Pending>,
        reports: mpsc::UnboundedSender<Report>,
        done: mpsc::UnboundedReceiver<Vec<u64>>,
    ) -> Self {
        let config = &ctx.config;
        Coordinator {
            politeness: Politeness::new(config.per_host, config.delay),
            limits: Limits::new(config.concurrency, config.per_host),
            ctx,
            frontier,
            popped: VecDeque::new(),
            acks: Vec::new(),
            skips: Vec::new(),
            to_push: Vec::new(),
            done,
            failure: None,
            hosts: Hosts::default(),
            robots_todo: Vec::new(),
            sitemap_docs: HashMap::new(),
            memory_bound: Duration::ZERO,
            limit_bound: Duration::ZERO,
            gate_waited: false,
            in_flight: 0,
            started: 0,
            records: Some(records),
            reports,
        }
    }

    /// Run the crawl to its end, acknowledge the last pages stored, then
    /// put the queue and the limits in the summary. Fails if the frontier
    /// did.
    pub async fn run(
        &mut self,
        stop: StopHandle,
        store_failed: StopHandle,
        reports: mpsc::UnboundedReceiver<Report>,
    ) -> Result<(), FrontierError> {
        self.crawl(stop, store_failed, reports).await;
        self.sync().await;
        // No more records: the writer ends once it has stored the last
        // ones, and hands back their ids until then.
        self.records = None;
        // (Every page's report is in: its links are queued.)
        while let Some(ids) = self.done.next().await {
            self.acks.extend(ids);
            self.sync().await;
        }
        self.set_queued();
        self.report_limits();
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn set_queued(&self) {
        let queued = self.frontier.len() + self.popped.len() as u64;
        self.ctx.stats.set_queued(queued as usize);
    }

    /// A frontier call failed: stop the crawl at once (like a failing store).
    fn fail(&mut self, e: FrontierError) {
        tracing::error!(error = %e, "the frontier failed: stopping the crawl");
        if self.failure.is_none() {
            self.failure = Some(e);
        }
        self.ctx.cancel.fire();
    }

    /// Take the ids of the pages the writer has stored.
    fn collect_done(&mut self) {
        while let Ok(ids) = self.done.try_recv() {
            self.acks.extend(ids);
        }
    }

    /// Push the links held back, tell the frontier which entries were
    /// skipped and which pages are done (see `collect_done`): the links
    /// first, so no page is acknowledged before its links are queued.
    ///
    /// A turn of the loop calls it when it has entries to acknowledge (as
    /// soon as they are stored, so a kill refetches no more than before),
    /// when it is about to pop, or when [`HELD_LINKS`] links are held.
    /// Otherwise links wait for the next call: on a fast site most turns
    /// have links and nothing to acknowledge, and a call per turn was a
    /// frontier round trip (for a disk frontier, two thread switches and a
    /// commit) per page.
    async fn sync(&mut self) {
        if self.failure.is_some() {
            return;
        }
        if !self.skips.is_empty() {
            let ids = std::mem::take(&mut self.skips);
            if let Err(e) = self.frontier.skipped(ids).await {
                self.fail(e);
                return;
            }
        }
        if self.acks.is_empty() && self.to_push.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.to_push);
        let ids = std::mem::take(&mut self.acks);
        match self.frontier.push_and_done(entries, ids).await {
            Ok(pushed) => self.ctx.stats.urls_too_long(pushed.too_long),
            Err(e) => self.fail(e),
        }
    }

    fn report_limits(&self) {
        self.limits.report(
            &self.hosts,
            &self.ctx.stats,
            self.memory_bound,
            self.limit_bound,
        );
    }

    async fn crawl(
        &mut self,
        stop: StopHandle,
        store_failed: StopHandle,
        mut reports: mpsc::UnboundedReceiver<Report>,
    ) {
        self.limits.follow(&self.ctx.stats);
        let seeds: Vec<Entry> = (self.ctx.config.seeds.iter())
            .filter_map(canon::canonicalize)
            .map(Entry::seed)
            .collect();
        self.push(seeds).await;
        let mut stopping = false;
        let mut grace: Option<BoxFuture<'static, ()>> = None;
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
            // Ids first, then reports: a page reports its links before its
            // record goes to the writer, so every page whose id is taken
            // here has its links queued by the time it is acknowledged (a
            // kill in between must not lose them).
            self.collect_done();
            while let Ok(r) = reports.try_recv() {
                self.absorb(r).await;
            }
            if !self.acks.is_empty()
                || !self.skips.is_empty()
                || self.popped.is_empty()
                || self.to_push.len() >= HELD_LINKS
            {
                self.sync().await;
            }
            // Permits in use come back all the time: keep retiring them
            // while the circulating count is above the limit.
            self.limits.follow(&self.ctx.stats);
            self.set_queued();
            if (store_failed.is_stopped() || self.failure.is_some()) && !stopping {
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
            let idle =
                self.frontier.is_empty() && self.popped.is_empty() && self.robots_todo.is_empty();
            if no_more_work || idle {
                if self.in_flight == 0 {
                    return;
                }
                // Only reports (and the grace timer) can change anything now.
                let next = reports.next();
                let woke = match grace.as_mut() {
                    Some(timer) => match select(next, timer).await {
                        Either::Left((r, _)) => Wake::Report(r),
                        Either::Right(_) => Wake::Timer,
                    },
                    None if !stopping => match select(next, stop.wait().boxed_local()).await {
                        Either::Left((r, _)) => Wake::Report(r),
                        Either::Right(_) => Wake::Stop,
                    },
                    None => Wake::Report(next.await),
                };
                match woke {
                    Wake::Report(Some(r)) => self.absorb(r).await,
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
            let permits = self.limits.permits().clone();
            let permit = match permits.try_acquire_arc() {
                Some(p) => p,
                None => {
                    // Work is queued and no permit is free: the crawl is
                    // bound by the concurrency limit (unless pages wait on
                    // the byte gate: that time counts as memory-bound).
                    let since = self.ctx.runtime.now();
                    let acquire = std::pin::pin!(permits.acquire_arc());
                    let woke =
                        match select(select(acquire, reports.next()), stop.wait().boxed_local())
                            .await
                        {
                            Either::Left((Either::Left((p, _)), _)) => Wake::Permit(p),
                            Either::Left((Either::Right((r, _)), _)) => Wake::Report(r),
                            Either::Right(_) => Wake::Stop,
                        };
                    if !self.gate_waited {
                        self.limit_bound += self.ctx.runtime.now().saturating_sub(since);
                    }
                    match woke {
                        Wake::Permit(p) => p,
                        Wake::Report(Some(r)) => {
                            self.absorb(r).await;
                            continue;
                        }
                        _ => continue,
                    }
                }
            };

            // 2. robots.txt first, then the next ready page.
            if let Some((host, url)) = self.robots_todo.pop() {
                if !self.kept_robots(host).await && self.claim_robots(host).await {
                    self.spawn_robots(host, url, permit);
                }
                continue;
            }
            let now = self.ctx.runtime.now();
            match self.next_ready(now).await {
                Ok((entry, host)) => self.spawn_page(entry, host, permit),
                Err(wake_at) => {
                    drop(permit);
                    // A shared frontier changes without telling: ask it
                    // again after its interval.
                    let poll = self.frontier.poll_interval().map(|d| now + d);
                    let wake_at = match (wake_at, poll) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    if !self.robots_todo.is_empty() || self.failure.is_some() {
                        // Hosts met for the first time want robots.txt.
                        continue;
                    }
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
                        select(select(timer, reports.next()), stop.wait().boxed_local()).await;
                    if let Either::Left((Either::Right((Some(r), _)), _)) = woke {
                        self.absorb(r).await;
                    }
                }
            }
        }
    }

    /// The next entry that may be fetched now, its request started in its
    /// host's pace; robots-disallowed entries are dropped on the way.
    /// `Err(Some(t))`: nothing before `t`; `Err(None)`: nothing until a
    /// request finishes (or a robots.txt is fetched).
    async fn next_ready(&mut self, now: Duration) -> Result<(Entry, HostId), Option<Duration>> {
        let obey = self.ctx.config.obey_robots;
        loop {
            let Some((entry, host)) = self.popped.pop_front() else {
                self.pop(now).await?;
                continue;
            };
            if obey {
                if let RobotsState::Ready(rules) = &self.hosts.get(host).robots {
                    if !rules.allowed(&entry.url) {
                        tracing::debug!(url = %entry.url, "disallowed by robots.txt");
                        self.ctx.stats.robots_skipped();
                        let pace = &mut self.hosts.get_mut(host).pace;
                        self.politeness.cancel(pace);
                        self.skips.extend(entry.id);
                        continue;
                    }
                }
            }
            return Ok((entry, host));
        }
    }

    /// Pop a batch of entries whose hosts are ready into `popped`, starting
    /// each one's request in its host's pace (so the host's readiness for
    /// the next one counts it). Hosts met for the first time are interned,
    /// and their robots.txt is asked for.
    async fn pop(&mut self, now: Duration) -> Result<(), Option<Duration>> {
        // Links held back may be what there is to pop.
        self.sync().await;
        let obey = self.ctx.config.obey_robots;
        let mut wake: Option<Duration> = None;
        let mut ids = Vec::new();
        let politeness = &self.politeness;
        let hosts = &mut self.hosts;
        let robots_todo = &mut self.robots_todo;
        let stats = &self.ctx.stats;
        let crawl_delay = self.ctx.config.delay;
        let mut ready = |origin: &str| {
            let id = hosts.intern_origin(origin);
            let host = hosts.get_mut(id);
            if obey {
                match host.robots {
                    RobotsState::Ready(_) => {}
                    RobotsState::Pending => return false,
                    RobotsState::Unknown => {
                        host.robots = RobotsState::Pending;
                        match Url::parse(origin) {
                            Ok(url) => robots_todo.push((id, url)),
                            Err(_) => host.robots = RobotsState::Ready(Robots::allow_all()),
                        }
                        return false;
                    }
                }
            }
            if politeness.ready(&host.pace, now) {
                politeness.start(&mut host.pace, now);
                ids.push(id);
                if !host.pace_reported {
                    // Its first request: from now on the delay sets its rate.
                    host.pace_reported = true;
                    let delay = politeness.delay(&host.pace);
                    if !delay.is_zero() {
                        let source = match host.pace.crawl_delay() {
                            Some(d) if d > crawl_delay => PaceSource::CrawlDelay,
                            _ => PaceSource::Delay,
                        };
                        stats.paced(&host.origin, delay, source);
                    }
                }
                return true;
            }
            if let Some(t) = politeness.ready_at(&host.pace, now) {
                wake = Some(wake.map_or(t, |w: Duration| w.min(t)));
            }
            false
        };
        let popped = self.frontier.pop(POP_BATCH, &mut ready).await;
        match popped {
            Ok(entries) if !entries.is_empty() => {
                debug_assert_eq!(entries.len(), ids.len(), "one readiness per entry");
                self.popped.extend(entries.into_iter().zip(ids));
                Ok(())
            }
            Ok(_) => Err(wake),
            Err(e) => {
                self.fail(e);
                Err(None)
            }
        }
    }

    /// Queue new entries (the frontier drops those seen before).
    async fn push(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() || self.failure.is_some() {
            return;
        }
        match self.frontier.push(entries).await {
            Ok(pushed) => self.ctx.stats.urls_too_long(pushed.too_long),
            Err(e) => self.fail(e),
        }
    }

    async fn absorb(&mut self, report: Report) {
        match report {
            Report::Sample { host, sample } => {
                let host = self.hosts.get_mut(host);
                self.limits.on_sample(host, sample, &self.ctx.stats);
            }
            Report::Robots { host, rules, keep } => {
                self.in_flight -= 1;
                self.set_robots(host, rules);
                if self.failure.is_none() {
                    let origin = self.hosts.get(host).origin.clone();
                    if let Some((text, fetched_at)) = keep {
                        let kept = KeptRobots { text, fetched_at };
                        if let Err(e) = self.frontier.keep_robots(&origin, kept).await {
                            self.fail(e);
                        }
                    }
                    if let Err(e) = self.frontier.robots_fetched(&origin).await {
                        self.fail(e);
                    }
                }
            }
            Report::Page(done) => {
                self.in_flight -= 1;
                self.page_done(done);
            }
            Report::Links(chunk) => {
                let links = chunk.links.into_iter().map(Found::Link);
                self.queue_found(None, chunk.depth, 0, &chunk.parent, links);
                self.sync().await;
                // The page resolves its next links only now: its chunks are
                // never more than one at a time in memory.
                let _ = chunk.queued.send(());
            }
        }
    }

    fn spawn_page(&mut self, entry: Entry, id: HostId, permit: SemaphoreGuardArc) {
        let Some(records) = self.records.clone() else {
            return;
        };
        // Its request was started in the host's pace when it was popped.
        let host = self.hosts.get_mut(id);
        let load = self.limits.start_page(id, host);
        self.in_flight += 1;
        self.started += 1;
        let slot = Slot::new(permit, self.ctx.stats.clone());
        let sitemap = self.sitemap_hint(&entry);
        task::spawn_page(
            &self.ctx,
            entry,
            sitemap,
            id,
            load,
            slot,
            self.reports.clone(),
            records,
        );
    }
}
