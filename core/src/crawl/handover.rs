//! Handing a page's links to the frontier without holding them all.
//!
//! A parse hands over raw `href`s ([`RawLinks`]): what they resolve to is
//! not bounded by the body (short relative links under a long base), so
//! they are resolved and queued a chunk at a time, each chunk charged to
//! the page's reservation in the byte gate.

use super::messages::{Chunk, Found, Report as Message};
use super::task::{Ctx, PageResult, Report};
use crate::frontier::{Entry, MAX_URL_LEN};
use crate::normalize;
use crate::parse::RawLinks;
use crate::record::{Record, MAX_RECORD_LINKS_BYTES};
use crate::runtime::{Fetch, Runtime};
use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;
use std::sync::Arc;
use url::Url;

/// Fewest bytes of resolved links a page hands over at a time.
pub(super) const MIN_CHUNK: usize = 16 * 1024;

/// Most bytes of resolved links a page hands over at a time, as a fraction
/// of the pages' budget: a 32 MiB crawl moves a page's links in chunks of
/// under half a MiB, so sixteen pages doing it at once stay a quarter of
/// the budget.
pub(super) const CHUNK_DIVISOR: u64 = 64;

/// Resolve the page's links (`result.raw`) and queue them, without ever
/// holding more than `result.chunk` bytes of them: they go with the page's
/// last report when they fit, else chunk by chunk, each queued by the
/// coordinator before the next is resolved. A page of ten thousand links
/// resolving to 7 KiB each is 70 MiB of URLs, four hundred times its body:
/// resolved at once, pages like it would hold memory the byte gate never
/// saw. The chunk's bytes are part of the page's reservation (see
/// [`links_hold`]); once the links are handed over it shrinks to the
/// record and the last chunk, which wait for the store.
pub(super) async fn hand_over<F: Fetch, R: Runtime>(
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
pub(super) fn links_hold(
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

/// What [`links_hold`] sets aside for the record's list of links.
pub(super) fn listed_reserve<F: Fetch, R: Runtime>(ctx: &Ctx<F, R>, raw: &RawLinks) -> usize {
    if ctx.config.links {
        MAX_RECORD_LINKS_BYTES.min(raw.resolved_bound())
    } else {
        0
    }
}
