//! One HTTP exchange of a page: the request raced against its deadline,
//! the response head (status, redirects, content type, robots headers),
//! the body read under the byte gate, and the parse or the sitemap read
//! that makes the record.
//!
//! A page whose body length is announced reserves all it will need at its
//! head ([`completion_need`]); one whose length is unknown grows as it reads.
//! The parse tree is built synchronously (it is `!Send`) and dropped before
//! the next `.await`.

use super::handover::{links_hold, listed_reserve};
use super::limits::{Fetching, HostLoad, Probe};
use super::messages::Found;
use super::task::{Attempt, Ctx, PageResult};
use crate::body::{read_body, ReadError};
use crate::canon;
use crate::frontier::{Entry, MAX_URL_LEN};
use crate::gate::{GateError, Reservation, PAGE_OVERHEAD};
use crate::normalize;
use crate::parse::{is_html, robots_directives};
use crate::record::{ErrorKind, Record};
use crate::retry::{parse_retry_after, Failure};
use crate::runtime::{Fetch, FetchError, FetchRequest, Runtime};
use crate::sitemap::{self, Kind};
use futures::future::{select, Either};
use std::time::Duration;
use url::Url;

/// One request, raced against the deadline.
pub(super) async fn attempt<F: Fetch, R: Runtime>(
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

pub(super) enum Exchange {
    Done(Box<PageResult>),
    Failed(Failure, Option<Duration>),
    Gate(GateError),
}

impl Exchange {
    fn record(record: Record) -> Self {
        Exchange::Done(Box::new(PageResult::record_only(record)))
    }
}

pub(super) async fn exchange<F: Fetch, R: Runtime>(
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
    // gate's docs). A length the head does not give (a chunked or a
    // compressed body, whose decoded size no header states) is guessed
    // ([`unknown_length_guess`]): on a site of large such pages, pages then
    // park here, holding no body, instead of all growing together until
    // the gate preempts them and they are fetched again
    // (docs/bench/hostile.md). A body larger than the guess still grows as
    // it reads.
    let unknown_length = response.content_length.is_none();
    let length = response
        .content_length
        .or_else(|| match unknown_length_guess(ctx) {
            0 => None,
            guess => Some(guess.min(ctx.config.max_body)),
        });
    if let Some(need) = completion_need(ctx, length, &record) {
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
    if unknown_length {
        ctx.stats.note_unknown_length();
    }
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
        let why = || "the sitemap's URLs do not fit in the memory budget".into();
        record = match grow_to(hold, need, record, why).await {
            Ok(record) => record,
            Err(end) => return end,
        };
        return Exchange::Done(Box::new(read_sitemap(ctx, entry, record, &body.bytes)));
    }
    // The parse tree costs a multiple of the body: reserve it first (part
    // of it may be reserved already, after a preemption).
    let parse_cost = ctx.extractor.parse_cost(body.bytes.len() as u64);
    let parse_need = PAGE_OVERHEAD + body.bytes.capacity() as u64 + parse_cost;
    let why = || {
        format!(
            "a {}-byte page needs about {} bytes to parse, more than the memory budget",
            body.bytes.len(),
            body.bytes.len() as u64 + parse_cost
        )
    };
    record = match grow_to(hold, parse_need, record, why).await {
        Ok(record) => record,
        Err(end) => return end,
    };
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
    let why = || "the page's links do not fit in the memory budget".into();
    record = match grow_to(hold, need, record, why).await {
        Ok(record) => record,
        Err(end) => return end,
    };
    Exchange::Done(Box::new(PageResult {
        record,
        links: Vec::new(),
        raw: Some(raw),
        chunk,
        hold: None,
        sitemap: false,
    }))
}

/// Share of the budget a body of unknown length is taken to need before
/// the crawl has read one in full: a quarter, so that the first such pages
/// (a burst of a crawl's first links, all arriving together) go one or two
/// at a time and the rest park at their heads, holding no body, until one
/// has shown what such pages weigh. Guessing small instead lets them all
/// read at once until the gate preempts them and they are fetched again;
/// an eighth still let a body outgrow its guess and wait to grow with
/// every other page parked (docs/bench/hostile.md has the figures). On a
/// site of small chunked pages the seed is read in full before its links
/// go out, so the guess costs nothing past the seed.
const FIRST_UNKNOWN_LENGTH_SHARE: u64 = 4;

/// What a body of unknown length is taken to need at its head (0: no
/// guess, grow as it reads): the crawl's large bodies lately, once it has
/// read one such body in full; before, [`FIRST_UNKNOWN_LENGTH_SHARE`] of
/// the budget.
fn unknown_length_guess<F: Fetch, R: Runtime>(ctx: &Ctx<F, R>) -> u64 {
    if ctx.stats.unknown_length_read() {
        ctx.stats.large_body()
    } else {
        ctx.gate.budget() / FIRST_UNKNOWN_LENGTH_SHARE
    }
}

/// Grow `hold` to `need` bytes for the next step of `record`'s page. On a
/// refusal the exchange ends: a preempted page goes back to the gate (and
/// is fetched again later); one that can never fit is an `over_budget`
/// record saying `why`.
async fn grow_to(
    hold: &mut Reservation,
    need: u64,
    mut record: Record,
    why: impl FnOnce() -> String,
) -> Result<Record, Exchange> {
    match hold.grow(need.saturating_sub(hold.bytes())).await {
        Ok(()) => Ok(record),
        Err(GateError::Preempted) => Err(Exchange::Gate(GateError::Preempted)),
        Err(_) => {
            normalize::set_error(&mut record, ErrorKind::OverBudget, why());
            Err(Exchange::record(record))
        }
    }
}

/// A body that may be a sitemap: its URLs, when it is one (sitemaps for an
/// index, page URLs for a urlset); a plain record otherwise.
pub(super) fn read_sitemap<F: Fetch, R: Runtime>(
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
pub(super) fn completion_need<F: Fetch, R: Runtime>(
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

pub(super) fn redirect<F: Fetch, R: Runtime>(
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
