//! One page's task: fetch, read the body under the byte gate, parse, record.
//!
//! Everything here runs inside the page's task, after the coordinator took
//! its count permit and picked its URL. The task owns the permit (a
//! [`Slot`]) until it hands its record to the writer. It never touches the
//! frontier or the table of hosts: it reports to the coordinator (samples
//! for the limits, then the links it found) through the messages of
//! `messages.rs`.
//!
//! The coordinator counts a page as done only when the task's last report
//! arrives, so a task must report even when it fails in a way nobody
//! planned for. Two things make sure it does: the page's work runs under
//! `catch_unwind`, so a panic (a bug in a parser, in an adapter's `Fetch`)
//! becomes an [`ErrorKind::Internal`] record on every runtime that unwinds;
//! and the last report is sent by a [`Drop`] guard ([`Completion`]), so even
//! a task dropped half-way (an executor shutting down, a runtime that
//! cannot catch) still reports, with an error record.
//!
//! The parse tree is built synchronously (it is `!Send`) and dropped
//! before the next `.await`. The record's fields are written by
//! `normalize.rs`; this file says what happened.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use futures::future::{select, Either};
use futures::FutureExt;

use super::exchange::attempt;
use super::handover::hand_over;
use super::limits::HostLoad;
use super::messages::{Found, PageDone, Report as Message};
use super::writer::{Pending, Slot};
use crate::config::Config;
use crate::filter::UrlFilter;
use crate::frontier::{Entry, HostId};
use crate::gate::{ByteGate, Reservation, PAGE_OVERHEAD};
use crate::headers::RequestHeaders;
use crate::normalize;
use crate::parse::{Extractor, RawLinks};
use crate::record::{ErrorKind, Record};
use crate::retry::{Failure, RetryPolicy};
use crate::robots::Robots;
use crate::runtime::{Fetch, FetchError, Runtime};
use crate::scope::Scope;
use crate::sitemap::{self};
use crate::stats::Stats;
use crate::stop::Signal;
use crate::types::ContentTypes;

/// How many times a page may be preempted by the gate before it is given up.
const MAX_PREEMPTIONS: u32 = 64;

/// A report to the coordinator, with the crate's host ids and rules.
pub(crate) type Report = Message<HostId, Robots>;

/// What page tasks share.
pub(crate) struct Ctx<F, R> {
    pub config: Config,
    pub fetch: F,
    pub runtime: R,
    pub gate: ByteGate,
    pub stats: Arc<Stats>,
    pub extractor: Extractor,
    pub scope: Scope,
    /// Which extra headers each request carries.
    pub headers: RequestHeaders,
    /// Include/exclude patterns (applied by the coordinator).
    pub filter: UrlFilter,
    /// Which links are queued and which bodies read, by type.
    pub types: ContentTypes,
    pub retry: RetryPolicy,
    /// Fired when the grace period after a stop is over.
    pub cancel: Signal,
    /// Latency samples for the adaptive limits (`None` with a fixed limit).
    pub samples: Option<UnboundedSender<Report>>,
}

/// Why an entry is fetched, as far as sitemaps go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SitemapHint {
    /// Queued as a page (still read as a sitemap if it is a seed or named
    /// `.xml`/`.xml.gz` and turns out to be one).
    No,
    /// Listed as a sitemap (robots.txt, a sitemap index).
    Listed,
    /// `/sitemap.xml`, guessed for a host that lists none: recorded only if
    /// it is a sitemap (a guess that misses is no page of the site).
    Guessed,
}

/// What a page's work hands back.
pub(crate) struct PageResult {
    pub record: Record,
    /// URLs to enqueue with the page's last report.
    pub links: Vec<Found>,
    /// The page's links, not resolved yet (see [`hand_over`]).
    pub raw: Option<RawLinks>,
    /// Bytes of resolved links held at once while they are handed over.
    pub chunk: usize,
    /// Bytes still held (the record's), released once the record is stored.
    pub hold: Option<Reservation>,
    /// The body was read as a sitemap.
    pub sitemap: bool,
}

impl PageResult {
    /// A record with no links to follow (an error, a non-HTML body, ...).
    pub(super) fn record_only(record: Record) -> Self {
        PageResult {
            record,
            links: Vec::new(),
            raw: None,
            chunk: 0,
            hold: None,
            sitemap: false,
        }
    }
}

/// Spawn the task of `entry`, which holds `slot` until its record is
/// written; `sitemap`: whether it was queued as a sitemap.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_page<F: Fetch, R: Runtime>(
    ctx: &Arc<Ctx<F, R>>,
    entry: Entry,
    sitemap: SitemapHint,
    host: HostId,
    load: HostLoad,
    slot: Slot,
    reports: UnboundedSender<Report>,
    records: UnboundedSender<Pending>,
) {
    let task_ctx = ctx.clone();
    let mut done = Completion {
        reports,
        records,
        entry,
        host,
        slot: Some(slot),
        spawned_at: ctx.runtime.unix_millis(),
    };
    ctx.runtime.spawn(Box::pin(async move {
        let ctx = task_ctx;
        let started = Started::now(&ctx.runtime);
        let work = AssertUnwindSafe(async {
            let (mut result, keep) = run(&ctx, &done.entry, sitemap, &load, &started).await;
            if keep {
                hand_over(&ctx, &done.entry, &mut result, &done.reports).await;
            }
            (result, keep)
        })
        .catch_unwind();
        let (result, keep) = match work.await {
            Ok(done) => done,
            Err(panic) => {
                let message = format!("the page's task panicked: {}", panic_message(&*panic));
                tracing::error!(url = %done.entry.url, "{message}");
                let mut record = normalize::failed(&done.entry, ErrorKind::Internal, message);
                started.stamp(&mut record, &ctx.runtime);
                (PageResult::record_only(record), true)
            }
        };
        if keep {
            done.finish(result);
        } else {
            done.finish_unrecorded();
        }
    }));
}

/// When a page's work started, and the retries it has spent so far: every
/// record of the page is stamped with them, including one cut short by a
/// stop or a panic, so that no record says it was fetched at the epoch.
struct Started {
    /// Unix milliseconds at the first attempt.
    fetched_at: u64,
    /// The runtime's clock at the first attempt.
    t0: Duration,
    /// Retries spent; atomic only so that the page's future stays `Send`.
    retries: AtomicU32,
}

impl Started {
    fn now<R: Runtime>(runtime: &R) -> Self {
        Started {
            fetched_at: runtime.unix_millis(),
            t0: runtime.now(),
            retries: AtomicU32::new(0),
        }
    }

    /// Set the record's `fetched_at`, `retries` and `elapsed_ms` (up to now).
    fn stamp<R: Runtime>(&self, record: &mut Record, runtime: &R) {
        let elapsed_ms = runtime.now().saturating_sub(self.t0).as_millis() as u64;
        let retries = self.retries.load(Ordering::Relaxed);
        normalize::set_timing(record, self.fetched_at, retries, elapsed_ms);
    }
}

/// The page's work, cut short when the grace period after a stop is over.
async fn run<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    hint: SitemapHint,
    load: &HostLoad,
    started: &Started,
) -> (PageResult, bool) {
    // A sitemap is read as one when it was queued as one, when it is a
    // seed, or when its name says so (the flag is not kept across a
    // resume; the name usually is `.xml` or `.xml.gz`).
    let is_seed = entry.depth == 0 && entry.parent.is_none() && entry.redirects == 0;
    let sitemap = is_seed
        || hint != SitemapHint::No
        || (ctx.config.sitemaps && sitemap::looks_like_sitemap(&entry.url));
    let work = std::pin::pin!(process(ctx, entry, sitemap, load, started));
    let mut result = match select(work, std::pin::pin!(ctx.cancel.wait())).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => PageResult::record_only(normalize::failed(
            entry,
            ErrorKind::Interrupted,
            "the crawl was stopped while this page was in flight".into(),
        )),
    };
    started.stamp(&mut result.record, &ctx.runtime);
    let keep = hint != SitemapHint::Guessed || result.sitemap;
    if !keep {
        tracing::debug!(url = %entry.url, "no sitemap at the guessed place");
    }
    (result, keep)
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (_, Some(s)) => s,
        _ => "(no message)",
    }
}

/// Sends a page's last report and its record, once, even if the task is
/// dropped before it has a result.
struct Completion {
    reports: UnboundedSender<Report>,
    records: UnboundedSender<Pending>,
    entry: Entry,
    host: HostId,
    /// `None` once sent.
    slot: Option<Slot>,
    /// Unix milliseconds when the task was spawned: the `fetched_at` of a
    /// record made here, without the task's own clock.
    spawned_at: u64,
}

impl Completion {
    fn finish(&mut self, result: PageResult) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let PageResult {
            record,
            links,
            hold,
            ..
        } = result;
        let parent: Arc<str> = Arc::from(record.url.as_str());
        let _ = self.reports.unbounded_send(Message::Page(PageDone {
            host: self.host,
            depth: self.entry.depth,
            redirects: self.entry.redirects,
            parent,
            links,
            responded: record.status.is_some(),
            unrecorded: None,
        }));
        let _ = self.records.unbounded_send(Pending {
            record,
            id: self.entry.id,
            _hold: hold,
            _slot: slot,
        });
    }
}

impl Completion {
    /// The page leaves no record (a guessed sitemap that is not one): its
    /// report alone, with its id for the coordinator to acknowledge; the
    /// permit goes back now.
    fn finish_unrecorded(&mut self) {
        if self.slot.take().is_none() {
            return;
        }
        let _ = self.reports.unbounded_send(Message::Page(PageDone {
            host: self.host,
            depth: self.entry.depth,
            redirects: self.entry.redirects,
            parent: Arc::from(self.entry.url.as_str()),
            links: Vec::new(),
            responded: false,
            unrecorded: Some(self.entry.id),
        }));
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.slot.is_some() {
            let mut record = normalize::failed(
                &self.entry,
                ErrorKind::Internal,
                "the page's task ended without a result".into(),
            );
            normalize::set_timing(&mut record, self.spawned_at, 0, 0);
            self.finish(PageResult::record_only(record));
        }
    }
}

pub(super) enum Attempt {
    Done(Box<PageResult>),
    Retry(Failure, Option<Duration>),
    /// The gate took the page's bytes back; it is known to need this many.
    Preempted(u64),
}

/// Fetch, parse and record one page, with retries.
async fn process<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    sitemap: bool,
    load: &HostLoad,
    started: &Started,
) -> PageResult {
    let mut retries = 0;
    let mut preempted = 0;
    // Admit the page with its overhead and a quarter of the crawl's typical
    // body. A page admitted small and grown later holds an open response
    // meanwhile, whose bytes pile up in the HTTP client's buffers (outside
    // the gate) while it waits for room: fewer such pages, less memory the
    // gate cannot see. Admitting the whole typical body would keep them
    // fewest but idle its bytes through the server's latency, and a crawl
    // of large pages slower; a quarter keeps the speed and most of the
    // saving (docs/bench/constants.md). Bytes admitted
    // beyond the body are given back when the page is done.
    // (At most a sixteenth of the budget: one huge page must not cut the
    // crawl's concurrency for long. Before any body is read, the typical
    // one is unknown: assume that sixteenth, so that the first pages are
    // not admitted by the hundred, each with a bare overhead, only to find
    // out together that they are large.)
    let typical = match ctx.stats.typical_body() {
        0 => u64::MAX,
        known => known,
    }
    .min(ctx.config.max_body)
    .min(ctx.gate.budget() / 16);
    let mut need = PAGE_OVERHEAD + typical / 4;
    loop {
        let can_retry = retries < ctx.config.retries;
        match attempt(ctx, entry, sitemap, load, can_retry, need).await {
            Attempt::Done(r) => {
                let record = &r.record;
                tracing::debug!(
                    url = %entry.url,
                    status = record.status,
                    error = record.error.as_ref().map(|e| e.message.as_str()),
                    retries,
                    "page done"
                );
                return *r;
            }
            Attempt::Retry(failure, retry_after) => {
                match ctx
                    .retry
                    .backoff(retries, &failure, retry_after, entry.url.as_str())
                {
                    Some(wait) => {
                        tracing::debug!(url = %entry.url, ?failure, ?wait, "retrying");
                        ctx.runtime.sleep(wait).await;
                        retries += 1;
                        started.retries.store(retries, Ordering::Relaxed);
                    }
                    None => {
                        let (kind, message) = match failure {
                            Failure::Fetch(e) => (fetch_error_kind(&e), e.to_string()),
                            Failure::Status(s) => (ErrorKind::Http, format!("HTTP {s}")),
                        };
                        tracing::debug!(url = %entry.url, %message, retries, "page failed");
                        return PageResult::record_only(normalize::failed(entry, kind, message));
                    }
                }
            }
            Attempt::Preempted(known) => {
                tracing::debug!(url = %entry.url, known, "preempted by the byte gate");
                need = need.max(known);
                preempted += 1;
                if preempted > MAX_PREEMPTIONS {
                    return PageResult::record_only(normalize::failed(
                        entry,
                        ErrorKind::OverBudget,
                        "preempted too often by the memory budget".into(),
                    ));
                }
            }
        }
    }
}

fn fetch_error_kind(e: &FetchError) -> ErrorKind {
    match e {
        FetchError::Connect(_) => ErrorKind::Connect,
        FetchError::Timeout => ErrorKind::Timeout,
        FetchError::Protocol(_) => ErrorKind::Protocol,
        FetchError::Tls(_) => ErrorKind::Tls,
        FetchError::Refused(_) => ErrorKind::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_lock::Semaphore;
    use futures::channel::mpsc;

    /// A task dropped before its work ended (an executor shutting down, a
    /// panic that was not caught) still reports, with an error record, and
    /// gives its permit back once the record is dropped.
    #[test]
    fn a_task_dropped_half_way_still_reports() {
        let stats = Arc::new(Stats::new(ByteGate::new(1 << 20)));
        let permits = Arc::new(Semaphore::new(1));
        let slot = Slot::new(permits.try_acquire_arc().unwrap(), stats.clone());
        let (reports, mut reported) = mpsc::unbounded();
        let (records, mut recorded) = mpsc::unbounded();
        let entry = Entry::seed("http://a.test/x".parse().unwrap());
        drop(Completion {
            reports,
            records,
            entry,
            host: HostId::new(7),
            slot: Some(slot),
            spawned_at: 1_700_000_000_000,
        });
        match reported.try_recv() {
            Ok(Message::Page(done)) => {
                assert_eq!(done.host, HostId::new(7));
                assert!(done.links.is_empty());
            }
            _ => panic!("no page report"),
        }
        let pending = recorded.try_recv().expect("a record");
        let error = pending.record.error.clone().expect("an error record");
        assert_eq!(error.kind, ErrorKind::Internal);
        assert_eq!(pending.record.fetched_at, 1_700_000_000_000);
        assert!(permits.try_acquire_arc().is_none(), "held until written");
        drop(pending);
        assert!(permits.try_acquire_arc().is_some());
    }
}
