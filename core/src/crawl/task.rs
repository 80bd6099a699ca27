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
use futures::channel::oneshot;
use futures::future::{select, Either};
use futures::FutureExt;
use url::Url;

use super::limits::{Fetching, HostLoad, Probe};
use super::messages::{Chunk, Found, PageDone, Report as Message};
use super::writer::{Pending, Slot};
use crate::body::{read_body, ReadError};
use crate::canon;
use crate::config::Config;
use crate::filter::UrlFilter;
use crate::frontier::{Entry, HostId, MAX_URL_LEN};
use crate::gate::{ByteGate, GateError, Reservation, PAGE_OVERHEAD};
use crate::headers::RequestHeaders;
use crate::normalize;
use crate::parse::{is_html, robots_directives, Extractor, RawLinks};
use crate::record::{ErrorKind, Record, MAX_RECORD_LINKS_BYTES};
use crate::retry::{parse_retry_after, Failure, RetryPolicy};
use crate::robots::Robots;
use crate::runtime::{Fetch, FetchError, FetchRequest, Runtime};
use crate::scope::Scope;
use crate::sitemap::{self, Kind};
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
    fn record_only(record: Record) -> Self {
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

/// Fewest bytes of resolved links a page hands over at a time.
const MIN_CHUNK: usize = 16 * 1024;

/// Most bytes of resolved links a page hands over at a time, as a fraction
/// of the pages' budget: a 32 MiB crawl moves a page's links in chunks of
/// under half a MiB, so sixteen pages doing it at once stay a quarter of
/// the budget.
const CHUNK_DIVISOR: u64 = 64;

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

/// Resolve the page's links (`result.raw`) and queue them, without ever
/// holding more than `result.chunk` bytes of them: they go with the page's
/// last report when they fit, else chunk by chunk, each queued by the
/// coordinator before the next is resolved. A page of ten thousand links
/// resolving to 7 KiB each is 70 MiB of URLs, four hundred times its body:
/// resolved at once, pages like it would hold memory the byte gate never
/// saw. The chunk's bytes are part of the page's reservation (see
/// [`links_hold`]); once the links are handed over it shrinks to the
/// record and the last chunk, which wait for the store.
async fn hand_over<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    result: &mut PageResult,
    reports: &UnboundedSender<Report>,
) {
    let Some(raw) = result.raw.take() else {
        return;
    };
    let parent: Arc<str> = Arc::from(result.record.url.as_str());
    let mut chunk: Vec<Url> = Vec::new();
    let mut bytes = 0;
    let mut listed = 0;
    let mut too_long = 0;
    let mut nofollow = 0;
    let mut links = raw.resolver();
    while let Some(link) = links.next() {
        normalize::add_link(&mut result.record, &link, &mut listed);
        if links.last_nofollow() && !ctx.config.follow_nofollow {
            nofollow += 1;
            continue;
        }
        let len = link.as_str().len();
        // Too long to queue anywhere: dropped now, not carried to the frontier.
        if len > MAX_URL_LEN {
            too_long += 1;
            continue;
        }
        bytes += len;
        chunk.push(link);
        if bytes + chunk.capacity() * std::mem::size_of::<Url>() < result.chunk {
            continue;
        }
        let (queued, wait) = oneshot::channel();
        let links = std::mem::take(&mut chunk);
        bytes = 0;
        let sent = reports.unbounded_send(Message::Links(Chunk {
            depth: entry.depth,
            parent: parent.clone(),
            links,
            queued,
        }));
        if sent.is_err() {
            break;
        }
        // Dropped unsent: the coordinator is gone, nothing more to queue.
        if wait.await.is_err() {
            break;
        }
    }
    drop(links);
    drop(raw);
    ctx.stats.urls_too_long(too_long);
    ctx.stats.nofollow_skipped(nofollow);
    chunk.shrink_to_fit();
    let last = bytes + chunk.capacity() * std::mem::size_of::<Found>();
    result.links = chunk.into_iter().map(Found::Link).collect();
    if let Some(hold) = result.hold.as_mut() {
        hold.shrink_to((result.record.heap_size() + last) as u64);
    }
}

/// The bytes a page holds from its parse until its links are handed over,
/// beyond its record: its raw links, a chunk of resolved links (what the
/// parse reserved beyond that, from `MIN_CHUNK` up to a fraction of the
/// budget), and with `--links` the record's list of them. Returns the total
/// and the chunk.
fn links_hold(
    held: u64,
    budget: u64,
    record: &Record,
    raw: &RawLinks,
    listed: usize,
) -> (u64, usize) {
    let fixed = (record.heap_size() + raw.heap_size() + listed) as u64;
    let max_chunk = (budget / CHUNK_DIVISOR).max(MIN_CHUNK as u64);
    let chunk = held
        .saturating_sub(fixed)
        .clamp(MIN_CHUNK as u64, max_chunk);
    (fixed + chunk, chunk as usize)
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

enum Attempt {
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
            Attempt::Done(r) => return *r,
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

/// One request, raced against the deadline.
async fn attempt<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    sitemap: bool,
    load: &HostLoad,
    can_retry: bool,
    need: u64,
) -> Attempt {
    let failed = |kind, message| {
        Attempt::Done(Box::new(PageResult::record_only(normalize::failed(
            entry, kind, message,
        ))))
    };
    let mut hold = match ctx.gate.admit(need.min(ctx.gate.budget())).await {
        Ok(h) => h,
        Err(e) => return failed(ErrorKind::OverBudget, e.to_string()),
    };
    let fetching = Fetching::start(&ctx.stats, load);
    let probe = Probe::new(ctx.runtime.now(), &fetching, load, ctx.samples.as_ref());
    let outcome = {
        let work = std::pin::pin!(exchange(ctx, entry, sitemap, &mut hold, can_retry, &probe));
        let deadline = ctx.runtime.sleep(ctx.config.timeout);
        match select(work, deadline).await {
            Either::Left((outcome, _)) => Some(outcome),
            Either::Right(_) => None,
        }
    };
    drop(fetching);
    if outcome.is_none() {
        probe.report(ctx.runtime.now(), true);
    }
    match outcome {
        None => Attempt::Retry(Failure::Fetch(FetchError::Timeout), None),
        Some(Exchange::Failed(failure, retry_after)) => Attempt::Retry(failure, retry_after),
        Some(Exchange::Gate(GateError::Preempted)) => Attempt::Preempted(hold.wanted()),
        Some(Exchange::Gate(GateError::OverBudget)) => failed(
            ErrorKind::OverBudget,
            "the page does not fit in the memory budget".into(),
        ),
        Some(Exchange::Done(mut result)) => {
            // The links stay charged with the record: they are held until
            // the coordinator has queued them (a redirect's target), or are
            // resolved and handed over in chunks of `result.chunk` bytes.
            let links: usize = (result.links.iter())
                .map(|f| f.url().as_str().len())
                .sum::<usize>()
                + result.links.capacity() * std::mem::size_of::<Found>();
            let raw = result.raw.as_ref().map_or(0, |raw| {
                raw.heap_size() + result.chunk + listed_reserve(ctx, raw)
            });
            let keep = (result.record.heap_size() + links + raw) as u64;
            hold.shrink_to(keep);
            result.hold = Some(hold);
            Attempt::Done(result)
        }
    }
}

enum Exchange {
    Done(Box<PageResult>),
    Failed(Failure, Option<Duration>),
    Gate(GateError),
}

impl Exchange {
    fn record(record: Record) -> Self {
        Exchange::Done(Box::new(PageResult::record_only(record)))
    }
}

async fn exchange<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    sitemap: bool,
    hold: &mut Reservation,
    can_retry: bool,
    probe: &Probe<'_>,
) -> Exchange {
    let request = FetchRequest {
        url: entry.url.clone(),
        user_agent: ctx.config.user_agent.clone(),
        timeout: ctx.config.timeout,
        headers: ctx.headers.for_url(&entry.url, &ctx.scope),
    };
    let mut response = match ctx.fetch.fetch(request).await {
        Ok(r) => r,
        Err(e) => {
            probe.report(ctx.runtime.now(), e.is_transient());
            return Exchange::Failed(Failure::Fetch(e), None);
        }
    };
    let status = response.status;
    probe.report(ctx.runtime.now(), status == 429 || status == 503);
    if can_retry && Failure::Status(status).is_transient() {
        let retry_after = response
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, ctx.runtime.unix_millis()));
        return Exchange::Failed(Failure::Status(status), retry_after);
    }
    let mut record = normalize::base_record(entry);
    normalize::set_response(
        &mut record,
        status,
        &response.url,
        response.content_type.clone(),
    );

    if (300..400).contains(&status) && status != 304 {
        let location = response.location.as_deref();
        return Exchange::Done(Box::new(redirect(
            ctx,
            entry,
            record,
            &response.url,
            location,
        )));
    }
    let header = (response.robots_tag.as_deref())
        .map(robots_directives)
        .unwrap_or_default();
    if header.noindex {
        normalize::set_noindex(&mut record);
    }
    if !ctx.types.reads(record.content_type.as_deref(), sitemap) {
        // Not a type the crawl reads: the head says all it will know.
        // Dropping the response closes it unread.
        drop(response);
        if status >= 400 {
            normalize::set_error(&mut record, ErrorKind::Http, format!("HTTP {status}"));
        }
        return Exchange::record(record);
    }

    // The length is known: reserve the page's whole need now, parking
    // (giving back the unused part of its admission) while it waits for
    // room, rather than growing as it reads and being preempted and
    // fetched again when every page in flight waits for more (see the
    // gate's docs).
    if let Some(need) = completion_need(ctx, response.content_length, &record) {
        let extra = need.saturating_sub(hold.bytes());
        if let Err(e) = hold.grow_or_park(extra, PAGE_OVERHEAD).await {
            return Exchange::Gate(e);
        }
    }
    let body = match read_body(
        &mut *response.body,
        hold,
        ctx.config.max_body,
        response.content_length,
        Some(&ctx.stats),
    )
    .await
    {
        Ok(b) => b,
        Err(ReadError::Gate(e)) => return Exchange::Gate(e),
        Err(ReadError::Fetch(e)) => return Exchange::Failed(Failure::Fetch(e), None),
    };
    drop(response);
    normalize::set_body(&mut record, &body.bytes, !body.truncated);
    if body.truncated {
        normalize::set_error(
            &mut record,
            ErrorKind::BodyTooLarge,
            format!(
                "body larger than the maximum body size ({} bytes)",
                ctx.config.max_body
            ),
        );
        return Exchange::record(record);
    }
    ctx.stats.note_body(body.bytes.len() as u64);
    if status >= 400 {
        normalize::set_error(&mut record, ErrorKind::Http, format!("HTTP {status}"));
        return Exchange::record(record);
    }
    let prefix = &body.bytes[..body.bytes.len().min(512)];
    if !is_html(record.content_type.as_deref(), prefix) {
        if !sitemap {
            return Exchange::record(record);
        }
        let need = hold.bytes() + sitemap::reserve(&body.bytes, ctx.config.max_body);
        if let Err(e) = hold.grow(need.saturating_sub(hold.bytes())).await {
            if e == GateError::Preempted {
                return Exchange::Gate(e);
            }
            normalize::set_error(
                &mut record,
                ErrorKind::OverBudget,
                "the sitemap's URLs do not fit in the memory budget".into(),
            );
            return Exchange::record(record);
        }
        return Exchange::Done(Box::new(read_sitemap(ctx, entry, record, &body.bytes)));
    }
    // The parse tree costs a multiple of the body: reserve it first (part
    // of it may be reserved already, after a preemption).
    let parse_cost = ctx.extractor.parse_cost(body.bytes.len() as u64);
    let parse_need = PAGE_OVERHEAD + body.bytes.capacity() as u64 + parse_cost;
    if let Err(e) = hold.grow(parse_need.saturating_sub(hold.bytes())).await {
        if e == GateError::Preempted {
            return Exchange::Gate(e);
        }
        normalize::set_error(
            &mut record,
            ErrorKind::OverBudget,
            format!(
                "a {}-byte page needs about {} bytes to parse, more than the memory budget",
                body.bytes.len(),
                body.bytes.len() as u64 + parse_cost
            ),
        );
        return Exchange::record(record);
    }
    let base = record
        .final_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| entry.url.clone());
    // Synchronous: the DOM is built and dropped inside this call. The
    // links come out raw, resolved later a chunk at a time (`hand_over`).
    let (page, raw) = ctx
        .extractor
        .parse_lazy(&body.bytes, record.content_type.as_deref(), &base);
    drop(body);
    let asks = page.robots.union(header);
    let mut raw = raw;
    if asks.nofollow && !ctx.config.follow_nofollow {
        // The page asks not to follow any of its links.
        raw.set_all_nofollow();
    }
    normalize::apply_page(&mut record, page, ctx.config.links);
    let (need, chunk) = links_hold(
        hold.bytes(),
        ctx.gate.budget(),
        &record,
        &raw,
        listed_reserve(ctx, &raw),
    );
    if let Err(e) = hold.grow(need.saturating_sub(hold.bytes())).await {
        if e == GateError::Preempted {
            return Exchange::Gate(e);
        }
        normalize::set_error(
            &mut record,
            ErrorKind::OverBudget,
            "the page's links do not fit in the memory budget".into(),
        );
        return Exchange::record(record);
    }
    Exchange::Done(Box::new(PageResult {
        record,
        links: Vec::new(),
        raw: Some(raw),
        chunk,
        hold: None,
        sitemap: false,
    }))
}

/// A body that may be a sitemap: its URLs, when it is one (sitemaps for an
/// index, page URLs for a urlset); a plain record otherwise.
fn read_sitemap<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    mut record: Record,
    body: &[u8],
) -> PageResult {
    let base = record
        .final_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| entry.url.clone());
    match sitemap::read(body, &base, ctx.config.max_body) {
        Ok(None) => PageResult::record_only(record),
        Err(sitemap::ReadError::TooLarge) => {
            normalize::set_error(
                &mut record,
                ErrorKind::BodyTooLarge,
                format!(
                    "sitemap larger than the maximum body size ({} bytes) once inflated",
                    ctx.config.max_body
                ),
            );
            PageResult::record_only(record)
        }
        Err(sitemap::ReadError::Corrupt(message)) => {
            normalize::set_error(&mut record, ErrorKind::Protocol, message);
            PageResult::record_only(record)
        }
        Ok(Some(map)) => {
            ctx.stats.sitemap_read();
            normalize::apply_sitemap(&mut record, &map.urls, ctx.config.links);
            let found = match map.kind {
                Kind::Index => Found::Sitemap,
                Kind::UrlSet => Found::Listed,
            };
            let mut urls = map.urls;
            urls.retain(|u| u.as_str().len() <= MAX_URL_LEN);
            PageResult {
                links: urls.into_iter().map(found).collect(),
                sitemap: true,
                ..PageResult::record_only(record)
            }
        }
    }
}

/// All the bytes a page whose body is announced to be `content_length`
/// long will hold until its record is made: its overhead, the body (and the
/// byte that finds its end, see `body.rs`), and the parse when the page may
/// be HTML. `None` when the length is unknown or over the maximum body
/// size (then the body is read as it comes). Never more than the budget:
/// when the parse would not fit, only the body is reserved, and the parse's
/// own reservation says why the page cannot be parsed.
fn completion_need<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    content_length: Option<u64>,
    record: &Record,
) -> Option<u64> {
    let len = content_length.filter(|&len| len <= ctx.config.max_body)?;
    let body = PAGE_OVERHEAD + len + 1;
    // The body sniffed decides at the end; until then, a page without a
    // content type may be HTML.
    let html = match record.content_type.as_deref() {
        Some(ct) if !ct.trim().is_empty() => is_html(Some(ct), b""),
        _ => true,
    };
    let whole = body
        + if html {
            ctx.extractor.parse_cost(len)
        } else {
            0
        };
    let budget = ctx.gate.budget();
    [whole, body].into_iter().find(|&need| need <= budget)
}

/// What [`links_hold`] sets aside for the record's list of links.
fn listed_reserve<F: Fetch, R: Runtime>(ctx: &Ctx<F, R>, raw: &RawLinks) -> usize {
    if ctx.config.links {
        MAX_RECORD_LINKS_BYTES.min(raw.resolved_bound())
    } else {
        0
    }
}

fn redirect<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    mut record: Record,
    from: &Url,
    location: Option<&str>,
) -> PageResult {
    let target = location.and_then(|l| canon::resolve(from, l));
    let mut links = Vec::new();
    match target {
        None => normalize::set_error(
            &mut record,
            ErrorKind::BadRedirect,
            format!("redirect without a usable Location ({location:?})"),
        ),
        Some(target) => {
            normalize::set_redirect_target(&mut record, &target);
            if entry.redirects >= ctx.config.max_redirects {
                normalize::set_error(
                    &mut record,
                    ErrorKind::TooManyRedirects,
                    format!("more than {} redirects in a row", ctx.config.max_redirects),
                );
            } else if !ctx.scope.allows(&target) {
                normalize::set_error(
                    &mut record,
                    ErrorKind::RedirectOutOfScope,
                    format!("redirect to {target}, outside the crawl's scope"),
                );
            } else {
                links.push(Found::Redirect(target));
            }
        }
    }
    PageResult {
        links,
        ..PageResult::record_only(record)
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
