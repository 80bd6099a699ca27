//! One page's way through the pipeline: fetch, read the body under the byte
//! gate, parse, and turn the result into a [`Record`].
//!
//! Everything here runs inside the page's task, after its count permit was
//! taken. The body is read in chunks, and every chunk's bytes are reserved
//! from the byte gate *before* they are read, with the buffer's capacity
//! kept equal to the reservation, so the gate's count is the memory really
//! held. The parse tree is built synchronously (it is `!Send`) and dropped
//! before the next `.await`.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::io::AsyncReadExt;
use sha2::{Digest, Sha256};
use url::Url;

use crate::canon;
use crate::frontier::Entry;
use crate::gate::{GateError, Reservation, PAGE_OVERHEAD};
use crate::normalize;
use crate::parse::is_html;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::limiter::{Outcome as LimitOutcome, Sample};
use crate::pipeline::{Ctx, Outcome};
use crate::record::{ErrorKind, Record};
use crate::retry::{parse_retry_after, Failure};
use crate::runtime::{Body, Fetch, FetchError, FetchRequest, Runtime};

/// Bytes read from a body at a time.
const CHUNK: u64 = 16 * 1024;
/// How many times a page may be preempted by the gate before it is given up.
const MAX_PREEMPTIONS: u32 = 64;

/// What a page task hands back.
pub(crate) struct PageResult {
    pub record: Record,
    /// Links to enqueue; `true` marks a redirect target.
    pub links: Vec<(Url, bool)>,
    /// Bytes still held (the record's), released once the record is stored.
    pub hold: Option<Reservation>,
}

impl PageResult {
    /// A record with no links to follow (an error, a non-HTML body, ...).
    fn record_only(record: Record) -> Self {
        PageResult {
            record,
            links: Vec::new(),
            hold: None,
        }
    }
}

enum Attempt {
    Done(Box<PageResult>),
    Retry(Failure, Option<Duration>),
    /// The gate took the page's bytes back; it is known to need this many.
    Preempted(u64),
}

/// A body read under the gate.
pub(crate) struct ReadBody {
    pub bytes: Vec<u8>,
    /// More than the cap was available: `bytes` holds the first `cap + 1`.
    pub truncated: bool,
}

pub(crate) enum ReadError {
    Fetch(FetchError),
    Gate(GateError),
}

/// Read at most `cap + 1` bytes of `body`, growing `hold` before each read.
pub(crate) async fn read_body(
    body: &mut dyn Body,
    hold: &mut Reservation,
    cap: u64,
    content_length: Option<u64>,
    stats: Option<&crate::stats::Stats>,
) -> Result<ReadBody, ReadError> {
    let limit = cap.saturating_add(1);
    // Bytes of the reservation set aside for the body: whatever was admitted
    // beyond the page overhead (a page retried after a preemption admits
    // what it is known to need at once).
    let mut reserved: u64 = hold.bytes().saturating_sub(PAGE_OVERHEAD).min(limit);
    if let Some(len) = content_length {
        // Content-Length counts encoded bytes: a hint, not a bound.
        let want = len.min(limit);
        if want > reserved {
            hold.grow(want - reserved).await.map_err(ReadError::Gate)?;
            reserved = want;
        }
    }
    // Only what the body is announced to need, when it is: the page may
    // have been admitted with more (the crawl's typical page).
    let capacity = content_length.map_or(reserved, |len| len.min(limit).min(reserved));
    let mut buf: Vec<u8> = Vec::with_capacity(capacity as usize);
    loop {
        if buf.len() as u64 == limit {
            return Ok(ReadBody {
                bytes: buf,
                truncated: true,
            });
        }
        if buf.len() as u64 == reserved {
            // Grow by half of what we hold (at least a chunk): few gate
            // round-trips for large bodies, little waste for small ones.
            let step = (reserved / 2).max(CHUNK).min(limit - reserved);
            hold.grow(step).await.map_err(ReadError::Gate)?;
            reserved += step;
            buf.reserve_exact((reserved as usize).saturating_sub(buf.len()));
        }
        let old = buf.len();
        let room = (reserved - old as u64).min(CHUNK) as usize;
        if buf.capacity() < old + room {
            // Past the announced length (it counts encoded bytes): grow
            // geometrically, never beyond what the gate granted.
            let want = (buf.capacity() * 2).max(old + room).min(reserved as usize);
            buf.reserve_exact(want - old);
        }
        buf.resize(old + room, 0);
        let n = match body.read(&mut buf[old..]).await {
            Ok(n) => n,
            Err(e) => {
                // Adapters report a stalled body as TimedOut and a corrupt one
                // (bad gzip, broken chunking) as InvalidData; anything else is
                // the connection dropping mid-body, which a retry may cure.
                let msg = format!("reading body: {e}");
                return Err(ReadError::Fetch(match e.kind() {
                    std::io::ErrorKind::TimedOut => FetchError::Timeout,
                    std::io::ErrorKind::InvalidData => FetchError::Protocol(msg),
                    _ => FetchError::Connect(msg),
                }));
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            return Ok(ReadBody {
                bytes: buf,
                truncated: false,
            });
        }
        if let Some(stats) = stats {
            stats.add_bytes(n as u64);
        }
    }
}

/// Fetch, parse and record one page, with retries.
pub(crate) async fn process<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    host: &HostLoad,
) -> PageResult {
    let fetched_at = ctx.runtime.unix_millis();
    let t0 = ctx.runtime.now();
    let mut retries = 0;
    let mut preempted = 0;
    // Admit the page with its overhead and a quarter of the crawl's typical
    // body. A page admitted small and grown later holds an open response
    // meanwhile, whose bytes pile up in the HTTP client's buffers (outside
    // the gate) while it waits for room: fewer such pages, less memory the
    // gate cannot see. Admitting the whole typical body would keep them
    // fewest but idle its bytes through the server's latency: on 1 MiB
    // pages under 64 MiB (200 ms late), admitting the whole body cut peak
    // RSS from 72-78 to 64-71 MiB but the crawl took 25% longer; a quarter
    // keeps the speed and most of the saving (71-76 MiB). Bytes admitted
    // beyond the body are given back when the page is done.
    // (At most a sixteenth of the budget: one huge page must not cut the
    // crawl's concurrency for long.)
    let typical = ctx
        .stats
        .typical_body()
        .min(ctx.config.max_body)
        .min(ctx.gate.budget() / 16);
    let mut need = PAGE_OVERHEAD + typical / 4;
    let mut result = loop {
        match attempt(ctx, entry, host, retries < ctx.config.retries, need).await {
            Attempt::Done(r) => break *r,
            Attempt::Retry(failure, retry_after) => {
                match ctx
                    .retry
                    .backoff(retries, &failure, retry_after, entry.url.as_str())
                {
                    Some(wait) => {
                        tracing::debug!(url = %entry.url, ?failure, ?wait, "retrying");
                        ctx.runtime.sleep(wait).await;
                        retries += 1;
                    }
                    None => {
                        let (kind, message) = match failure {
                            Failure::Fetch(e) => (fetch_error_kind(&e), e.to_string()),
                            Failure::Status(s) => (ErrorKind::Http, format!("HTTP {s}")),
                        };
                        break failed(entry, kind, message);
                    }
                }
            }
            Attempt::Preempted(known) => {
                tracing::debug!(url = %entry.url, known, "preempted by the byte gate");
                need = need.max(known);
                preempted += 1;
                if preempted > MAX_PREEMPTIONS {
                    break failed(
                        entry,
                        ErrorKind::OverBudget,
                        "preempted too often by the memory budget".into(),
                    );
                }
            }
        }
    };
    result.record.fetched_at = fetched_at;
    result.record.retries = retries;
    result.record.elapsed_ms = (ctx.runtime.now().saturating_sub(t0)).as_millis() as u64;
    result
}

fn fetch_error_kind(e: &FetchError) -> ErrorKind {
    match e {
        FetchError::Connect(_) => ErrorKind::Connect,
        FetchError::Timeout => ErrorKind::Timeout,
        FetchError::Protocol(_) => ErrorKind::Protocol,
        FetchError::Refused(_) => ErrorKind::Refused,
        FetchError::Tls(_) => ErrorKind::Tls,
    }
}

pub(crate) fn failed(entry: &Entry, kind: ErrorKind, message: String) -> PageResult {
    let mut record = normalize::base_record(entry);
    record.error = Some(crate::record::RecordError { kind, message });
    PageResult::record_only(record)
}

/// One request, raced against the deadline.
async fn attempt<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    host: &HostLoad,
    can_retry: bool,
    need: u64,
) -> Attempt {
    let mut hold = match ctx.gate.admit(need.min(ctx.gate.budget())).await {
        Ok(h) => h,
        Err(e) => {
            return Attempt::Done(Box::new(failed(
                entry,
                ErrorKind::OverBudget,
                e.to_string(),
            )))
        }
    };
    let fetching = Fetching::start(&ctx.stats, host);
    let probe = Probe {
        started: ctx.runtime.now(),
        in_flight: fetching.crawl,
        host_in_flight: fetching.host,
        host,
        sent: AtomicBool::new(false),
    };
    let outcome = {
        let work = std::pin::pin!(exchange(ctx, entry, &mut hold, can_retry, &probe));
        let deadline = ctx.runtime.sleep(ctx.config.timeout);
        match select(work, deadline).await {
            Either::Left((outcome, _)) => Some(outcome),
            Either::Right(_) => None,
        }
    };
    drop(fetching);
    if outcome.is_none() {
        probe.report(ctx, true);
    }
    match outcome {
        None => Attempt::Retry(Failure::Fetch(FetchError::Timeout), None),
        Some(Exchange::Failed(failure, retry_after)) => Attempt::Retry(failure, retry_after),
        Some(Exchange::Gate(GateError::Preempted)) => Attempt::Preempted(hold.wanted()),
        Some(Exchange::Gate(GateError::OverBudget)) => Attempt::Done(Box::new(failed(
            entry,
            ErrorKind::OverBudget,
            "the page does not fit in the memory budget".into(),
        ))),
        Some(Exchange::Done(mut result)) => {
            let keep = result.record.heap_size() as u64;
            hold.shrink_to(keep);
            result.hold = Some(hold);
            Attempt::Done(result)
        }
    }
}

/// The host a page is fetched from and its load, for the host's adaptive
/// limit (`--concurrency auto`).
pub(crate) struct HostLoad {
    /// The origin, as politeness keys it.
    pub origin: Arc<str>,
    /// Requests to the origin being fetched now, shared by its pages
    /// (`None` without a host limiter).
    pub fetching: Option<Arc<AtomicUsize>>,
}

/// A request being fetched, counted crawl-wide and for its host from the
/// moment the byte gate admitted it until it is done (or dropped: a
/// cancelled page must not leave the counts high).
///
/// These counts, not pages in the pipeline, are the limiters' load: a page
/// holding a permit while it waits on the byte gate has sent nothing, and
/// counting it would let a memory-bound crawl look like a server coping
/// with more requests, and the limit grow for nothing.
struct Fetching<'a> {
    stats: &'a crate::stats::Stats,
    host_count: Option<&'a AtomicUsize>,
    /// Requests being fetched crawl-wide when this one started, itself included.
    crawl: usize,
    /// The same, to its host (0 without a host limiter).
    host: usize,
}

impl<'a> Fetching<'a> {
    fn start(stats: &'a crate::stats::Stats, host: &'a HostLoad) -> Self {
        let crawl = stats.fetch_started() as usize;
        let host_count = host.fetching.as_deref();
        let host = host_count.map_or(0, |c| c.fetch_add(1, Ordering::Relaxed) + 1);
        Fetching {
            stats,
            host_count,
            crawl,
            host,
        }
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        self.stats.fetch_ended();
        if let Some(c) = self.host_count {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Times one request to its response head, for the adaptive limits.
struct Probe<'a> {
    started: Duration,
    /// Requests being fetched when this one was sent, itself included.
    in_flight: usize,
    /// The same, to its host.
    host_in_flight: usize,
    host: &'a HostLoad,
    sent: AtomicBool,
}

impl Probe<'_> {
    /// Feed the limiter once: the head arrived (`dropped`: 429/503) or the
    /// attempt failed (`dropped`: timeout or connect error).
    fn report<F: Fetch, R: Runtime>(&self, ctx: &Ctx<F, R>, dropped: bool) {
        let Some(samples) = &ctx.samples else {
            return;
        };
        if self.sent.swap(true, Ordering::Relaxed) {
            return;
        }
        let now = ctx.runtime.now();
        let _ = samples.unbounded_send(Outcome::Sample {
            origin: self.host.origin.clone(),
            host_in_flight: self.host_in_flight,
            sample: Sample {
                now,
                latency: now.saturating_sub(self.started),
                in_flight: self.in_flight,
                outcome: if dropped {
                    LimitOutcome::Dropped
                } else {
                    LimitOutcome::Ok
                },
            },
        });
    }
}

enum Exchange {
    Done(Box<PageResult>),
    Failed(Failure, Option<Duration>),
    Gate(GateError),
}

async fn exchange<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    hold: &mut Reservation,
    can_retry: bool,
    probe: &Probe<'_>,
) -> Exchange {
    let request = FetchRequest {
        url: entry.url.clone(),
        user_agent: ctx.config.user_agent.clone(),
        timeout: ctx.config.timeout,
    };
    let mut response = match ctx.fetch.fetch(request).await {
        Ok(r) => r,
        Err(e) => {
            probe.report(ctx, e.is_transient());
            return Exchange::Failed(Failure::Fetch(e), None);
        }
    };
    let status = response.status;
    probe.report(ctx, status == 429 || status == 503);
    if can_retry && Failure::Status(status).is_transient() {
        let retry_after = response
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, ctx.runtime.unix_millis()));
        return Exchange::Failed(Failure::Status(status), retry_after);
    }
    let mut record = normalize::base_record(entry);
    record.status = Some(status);
    record.final_url = Some(response.url.to_string());
    record.content_type = response.content_type.clone();

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
    if !body.truncated {
        ctx.stats.note_body(body.bytes.len() as u64);
    }
    if body.truncated {
        record.bytes = body.bytes.len() as u64;
        record.error = Some(crate::record::RecordError {
            kind: ErrorKind::BodyTooLarge,
            message: format!(
                "body larger than --max-body ({} bytes)",
                ctx.config.max_body
            ),
        });
        return Exchange::Done(Box::new(PageResult::record_only(record)));
    }
    record.bytes = body.bytes.len() as u64;
    record.sha256 = Some(hex(&Sha256::digest(&body.bytes)));
    if status >= 400 {
        record.error = Some(crate::record::RecordError {
            kind: ErrorKind::Http,
            message: format!("HTTP {status}"),
        });
        return Exchange::Done(Box::new(PageResult::record_only(record)));
    }
    let prefix = &body.bytes[..body.bytes.len().min(512)];
    if !is_html(record.content_type.as_deref(), prefix) {
        return Exchange::Done(Box::new(PageResult::record_only(record)));
    }
    // The parse tree costs a multiple of the body: reserve it first (part
    // of it may be reserved already, after a preemption).
    let parse_cost = ctx.extractor.parse_cost(body.bytes.len() as u64);
    let parse_need = PAGE_OVERHEAD + body.bytes.capacity() as u64 + parse_cost;
    if let Err(e) = hold.grow(parse_need.saturating_sub(hold.bytes())).await {
        if e == GateError::Preempted {
            return Exchange::Gate(e);
        }
        record.error = Some(crate::record::RecordError {
            kind: ErrorKind::OverBudget,
            message: format!(
                "a {}-byte page needs about {} bytes to parse, more than the memory budget",
                body.bytes.len(),
                body.bytes.len() as u64 + parse_cost
            ),
        });
        return Exchange::Done(Box::new(PageResult::record_only(record)));
    }
    let base = record
        .final_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| entry.url.clone());
    // Synchronous: the DOM is built and dropped inside this call.
    let page = ctx
        .extractor
        .parse(&body.bytes, record.content_type.as_deref(), &base);
    drop(body);
    let links = normalize::apply_page(&mut record, page, ctx.config.links);
    Exchange::Done(Box::new(PageResult {
        record,
        links: links.into_iter().map(|u| (u, false)).collect(),
        hold: None,
    }))
}

fn redirect<F: Fetch, R: Runtime>(
    ctx: &Ctx<F, R>,
    entry: &Entry,
    mut record: Record,
    from: &Url,
    location: Option<&str>,
) -> PageResult {
    let error = |kind, message: String| Some(crate::record::RecordError { kind, message });
    let target = location.and_then(|l| canon::resolve(from, l));
    let mut links = Vec::new();
    match target {
        None => {
            record.error = error(
                ErrorKind::BadRedirect,
                format!("redirect without a usable Location ({location:?})"),
            );
        }
        Some(target) => {
            record.final_url = Some(target.to_string());
            if entry.redirects >= ctx.config.max_redirects {
                record.error = error(
                    ErrorKind::TooManyRedirects,
                    format!("more than {} redirects in a row", ctx.config.max_redirects),
                );
            } else if !ctx.scope.allows(&target) {
                record.error = error(
                    ErrorKind::RedirectOutOfScope,
                    format!("redirect to {target}, outside the crawl's scope"),
                );
            } else {
                links.push((target, true));
            }
        }
    }
    PageResult {
        record,
        links,
        hold: None,
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
