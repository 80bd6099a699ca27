//! The frontier: URLs waiting to be fetched, and every URL ever seen.
//!
//! Pending work lives here as plain data — a URL, its depth and its parent —
//! never as a task or a future. That is the first half of bounded memory: a
//! million queued URLs cost a few hundred bytes each, not a parked future
//! each.
//!
//! # The seam
//!
//! The frontier sits behind the [`Frontier`] trait so that other
//! implementations (on disk for crawls larger than memory, shared through a
//! network store for several crawler processes) replace [`MemoryFrontier`]
//! without touching the pipeline. The trait is shaped for the slowest of
//! them, a store across a network:
//!
//! * **async**: every call returns a [`BoxFuture`], so an implementation
//!   can do I/O (or hand blocking calls to a thread pool) without stalling
//!   the crawl's executor;
//! * **batch-oriented**: [`push`](Frontier::push) takes every link of a
//!   page at once and deduplicates them itself (the seen set is the
//!   frontier's), [`pop`](Frontier::pop) hands out up to `max` ready
//!   entries, one round trip for many URLs;
//! * **done acknowledged after the store**: an entry popped carries the id
//!   the frontier gave it ([`Entry::id`]); it stays owed to the frontier
//!   until [`done`](Frontier::done) is called with that id, which the crawl
//!   does only once the page's record is written to the store. A frontier
//!   that keeps popped-but-not-done entries (the disk one does) therefore
//!   never forgets a page whose record could still be lost.
//!
//! # Hosts
//!
//! A frontier keys its per-host queues by **origin** (`scheme://host[:port]`,
//! see [`origin`]), a string that means the same in every run and in every
//! process, and asks the crawl whether a host is ready by that string.
//! The crawl's own [`HostId`]s are small numbers made fresh each run, so
//! they never cross the seam: the crawl interns the origin of each entry it
//! pops.
//!
//! [`MemoryFrontier`] keeps one FIFO queue per origin and serves origins
//! round robin: breadth-first within a site, and one slow or rate-limited
//! site never blocks the others. Seen URLs are kept as 64-bit fingerprints
//! (SipHash of the canonical URL) rather than strings: 16 bytes of table per
//! URL instead of about a hundred, with a collision chance around 3e-8 at a
//! million URLs (a collision would skip one page).
//!
//! ```
//! use semcrawl_core::frontier::{Entry, Frontier, MemoryFrontier};
//! # futures::executor::block_on(async {
//! let mut f = MemoryFrontier::default();
//! let url: url::Url = "http://a.test/".parse().unwrap();
//! let pushed = f.push(vec![Entry::seed(url.clone()), Entry::seed(url)]).await.unwrap();
//! assert_eq!((pushed.queued, pushed.duplicates), (1, 1));
//! let popped = f.pop(8, &mut |_origin: &str| true).await.unwrap();
//! assert_eq!(popped[0].url.as_str(), "http://a.test/");
//! assert!(f.pop(8, &mut |_| true).await.unwrap().is_empty());
//! f.done(popped.iter().filter_map(|e| e.id).collect()).await.unwrap();
//! # });
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use crate::hosts::HostId;
use crate::runtime::{BoxFuture, MaybeSend};

/// URLs longer than this many bytes are never queued: they are counted in
/// the summary as `urlsTooLong`. Few servers accept longer ones, and a page
/// of ten thousand 7 KiB links would otherwise fill memory and disk with
/// them. Every frontier applies the same cap.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Most bytes a bounded frontier gets, whatever the budget.
///
/// What a disk frontier keeps in memory is a cache: the hot pages of its
/// indexes, recent fingerprints of the seen set, the heads of the queues.
/// Its working set does not grow with the budget: a crawl queues at the
/// tail of each host's queue and pops at its head, and repeated links are
/// mostly recent ones; the 10,000-page benchmark site's whole database fits
/// in a fraction of 16 MiB. A bigger share is only resident memory:
/// without `--memory` the budget is derived from the machine, and an
/// eighth of it gave SQLite a cache of hundreds of MiB, which it fills
/// (`docs/bench/frontier.md`).
pub const MAX_FRONTIER_SHARE: u64 = 16 << 20;

/// The share of the crawl's memory budget a bounded frontier gets: an
/// eighth, at least 2 MiB and at most [`MAX_FRONTIER_SHARE`] (and never more
/// than half the budget). The crawl takes it out of the pages' byte gate up
/// front (see [`Frontier::budget`]), so pages and frontier together stay
/// within `--memory` by construction.
///
/// ```
/// use semcrawl_core::frontier::frontier_share;
/// assert_eq!(frontier_share(64 << 20), 8 << 20);
/// assert_eq!(frontier_share(8 << 20), 2 << 20);
/// assert_eq!(frontier_share(2 << 20), 1 << 20);
/// assert_eq!(frontier_share(4 << 30), 16 << 20);
/// ```
pub fn frontier_share(memory: u64) -> u64 {
    (memory / 8)
        .clamp(2 << 20, MAX_FRONTIER_SHARE)
        .min(memory / 2)
}

/// Write `url`'s origin (`scheme://host[:port]`, as
/// [`url::Origin::ascii_serialization`] spells it) into `out`: the key a
/// frontier queues `url` under and the string [`Frontier::pop`]'s `ready`
/// is asked about.
///
/// ```
/// let mut out = String::new();
/// semcrawl_core::frontier::origin(&"http://A.test:80/x?y".parse().unwrap(), &mut out);
/// assert_eq!(out, "http://a.test");
/// ```
pub fn origin(url: &Url, out: &mut String) {
    crate::hosts::write_origin(url, out)
}

/// A failing frontier (its store is gone, full or corrupt): the crawl stops
/// and reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontierError(pub String);

impl std::fmt::Display for FrontierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrontierError {}

/// A URL waiting to be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Canonical URL.
    pub url: Url,
    /// Link distance from the seeds.
    pub depth: u32,
    /// Canonical URL of the page it was found on (shared by siblings).
    pub parent: Option<Arc<str>>,
    /// Redirect hops that led here (0 for a link).
    pub redirects: u32,
    /// The id the frontier gave the entry when it was popped, to
    /// acknowledge it with [`Frontier::done`]; `None` before it is queued
    /// (and for a frontier that needs no acknowledgement).
    pub id: Option<u64>,
}

impl Entry {
    /// A seed: depth 0, no parent.
    pub fn seed(url: Url) -> Self {
        Entry {
            url,
            depth: 0,
            parent: None,
            redirects: 0,
            id: None,
        }
    }
}

/// What [`Frontier::push`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Entries queued (new to the crawl).
    pub queued: u64,
    /// Entries seen before (in this batch or earlier), dropped.
    pub duplicates: u64,
    /// Entries longer than [`MAX_URL_LEN`], dropped.
    pub too_long: u64,
}

/// A host's robots.txt as an earlier run kept it (see
/// [`Frontier::robots`]): a crawl resumed within
/// [`ROBOTS_MAX_AGE`](crate::robots::ROBOTS_MAX_AGE) of `fetched_at` uses
/// it instead of fetching the file again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRobots {
    /// The file's text; `None` when the host has none (a 4xx: everything
    /// is allowed). An unreachable robots.txt is never kept: it is asked
    /// for again.
    pub text: Option<String>,
    /// When it was fetched, in Unix milliseconds.
    pub fetched_at: u64,
}

/// A host-readiness question: is the origin ready for one more request?
/// Asked before each entry handed out, so the answer may count them.
/// `Send` on native targets, so a pop's future can be.
#[cfg(not(target_arch = "wasm32"))]
pub type Ready<'a> = dyn FnMut(&str) -> bool + Send + 'a;
/// A host-readiness question (see the native definition).
#[cfg(target_arch = "wasm32")]
pub type Ready<'a> = dyn FnMut(&str) -> bool + 'a;

/// Queue plus seen set, behind an async, batch-oriented seam (see the
/// [module docs](self)).
pub trait Frontier: MaybeSend {
    /// Queue the entries not seen before (the frontier deduplicates, within
    /// the batch and against everything ever pushed), dropping those longer
    /// than [`MAX_URL_LEN`].
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>>;
    /// Hand out up to `max` entries, round robin over the origins `ready`
    /// accepts (asked before each entry), each with its [`Entry::id`]. An
    /// empty batch: nothing is queued for a ready origin. `ready` runs
    /// while the future is polled, on the caller's thread.
    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>>;
    /// Acknowledge entries as done: their records are stored. They are
    /// never handed out again.
    fn done(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>>;
    /// [`push`](Frontier::push) `entries`, then acknowledge `ids` as
    /// [`done`](Frontier::done), as one step: the crawl hands over the
    /// links of the pages that finished since its last call together with
    /// the ids of the pages stored since, so a frontier can make it one
    /// round trip and one transaction instead of two. The pushes come
    /// first: a page among `ids` may have its links in `entries`, and must
    /// not be acknowledged without them. The default calls the two in
    /// turn.
    fn push_and_done(
        &mut self,
        entries: Vec<Entry>,
        ids: Vec<u64>,
    ) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        Box::pin(async move {
            let pushed = if entries.is_empty() {
                Pushed::default()
            } else {
                self.push(entries).await?
            };
            if !ids.is_empty() {
                self.done(ids).await?;
            }
            Ok(pushed)
        })
    }
    /// Acknowledge entries handed out and never fetched (robots.txt
    /// disallowed them): like [`done`](Self::done), but no request was
    /// made. A frontier that counts pages or paces hosts for several
    /// processes does not count these (the default: `done`).
    fn skipped(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        self.done(ids)
    }
    /// Entries queued and not handed out.
    fn len(&self) -> u64;
    /// Whether nothing is queued. The crawl ends when this holds and none
    /// of its own pages is in flight, so a frontier shared by several
    /// processes answers for the whole crawl: nothing queued and nothing
    /// handed out (leased) to any process, as of its last round trip.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// How soon to ask [`pop`](Frontier::pop) again after it handed out
    /// nothing, while `is_empty` is false. `None` (the default): only this
    /// crawl's own events (a page done, a robots.txt read) can make an
    /// entry ready, so the crawl waits for one of them. A frontier shared
    /// by several processes returns an interval, because what makes an
    /// entry ready happens elsewhere: another process pushes links, frees a
    /// host's slot, or dies and its leased entries come back. Without it
    /// such a crawl would either end early or wait forever.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }
    /// URLs seen so far (by this process).
    fn seen(&self) -> u64;
    /// The robots.txt kept for `origin` by [`keep_robots`](Self::keep_robots),
    /// in this run or an earlier one on the same state; `None` when none is
    /// (the default: a frontier that keeps nothing across runs).
    fn robots(&mut self, origin: &str) -> BoxFuture<'_, Result<Option<KeptRobots>, FrontierError>> {
        let _ = origin;
        Box::pin(std::future::ready(Ok(None)))
    }
    /// Keep `origin`'s robots.txt with the crawl's state, so that a resumed
    /// crawl need not fetch it again (the default keeps nothing).
    fn keep_robots(
        &mut self,
        origin: &str,
        robots: KeptRobots,
    ) -> BoxFuture<'_, Result<(), FrontierError>> {
        let _ = (origin, robots);
        Box::pin(std::future::ready(Ok(())))
    }
    /// Ask to fetch `origin`'s robots.txt, none being kept (see
    /// [`robots`](Self::robots)). `true` (the default): fetch it, then call
    /// [`robots_fetched`](Self::robots_fetched). `false`: another process
    /// of a shared crawl is fetching it; the crawl asks again, kept file
    /// first, when it next meets the host, so the file is fetched once for
    /// the whole crawl.
    fn claim_robots(&mut self, origin: &str) -> BoxFuture<'_, Result<bool, FrontierError>> {
        let _ = origin;
        Box::pin(std::future::ready(Ok(true)))
    }
    /// The fetch of `origin`'s robots.txt claimed with
    /// [`claim_robots`](Self::claim_robots) is over, kept (after
    /// [`keep_robots`](Self::keep_robots)) or not (unreachable): a claim
    /// not kept is given up, for another process to try (the default does
    /// nothing).
    fn robots_fetched(&mut self, origin: &str) -> BoxFuture<'_, Result<(), FrontierError>> {
        let _ = origin;
        Box::pin(std::future::ready(Ok(())))
    }
    /// The bytes of memory this frontier promises to stay within, which the
    /// crawl takes out of the pages' budget; `None` for a frontier that
    /// grows with the crawl (the in-memory one).
    fn budget(&self) -> Option<u64> {
        None
    }
}

/// An in-memory [`Frontier`]: unbounded, for the browser, tests and small
/// crawls. Its futures are ready at once.
#[derive(Debug, Default)]
pub struct MemoryFrontier {
    seen: HashSet<u64>,
    queues: HashMap<Arc<str>, VecDeque<Entry>>,
    /// Origins with a non-empty queue, in round-robin order.
    ring: VecDeque<Arc<str>>,
    len: usize,
    next_id: u64,
    /// A reused buffer for the origin being looked up.
    key: String,
}

fn fingerprint(url: &Url) -> u64 {
    // DefaultHasher::new() uses fixed keys: stable within a process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.as_str().hash(&mut h);
    h.finish()
}

impl MemoryFrontier {
    fn push_now(&mut self, entries: Vec<Entry>) -> Pushed {
        let mut pushed = Pushed::default();
        for entry in entries {
            if entry.url.as_str().len() > MAX_URL_LEN {
                pushed.too_long += 1;
                continue;
            }
            if !self.seen.insert(fingerprint(&entry.url)) {
                pushed.duplicates += 1;
                continue;
            }
            origin(&entry.url, &mut self.key);
            let queue = match self.queues.get_mut(self.key.as_str()) {
                Some(q) => q,
                None => {
                    let key: Arc<str> = Arc::from(self.key.as_str());
                    self.ring.push_back(key.clone());
                    self.queues.entry(key).or_default()
                }
            };
            queue.push_back(entry);
            self.len += 1;
            pushed.queued += 1;
        }
        pushed
    }

    fn pop_now(&mut self, max: usize, ready: &mut Ready<'_>) -> Vec<Entry> {
        let mut out = Vec::new();
        // A full turn of the ring without handing anything out ends it.
        let mut idle = 0;
        while out.len() < max && idle < self.ring.len() {
            let Some(host) = self.ring.pop_front() else {
                break;
            };
            if !ready(&host) {
                self.ring.push_back(host);
                idle += 1;
                continue;
            }
            let queue = self.queues.get_mut(&host).expect("the ring names queues");
            let mut entry = queue.pop_front().expect("queues in the ring are not empty");
            if queue.is_empty() {
                self.queues.remove(&host);
            } else {
                self.ring.push_back(host);
            }
            self.len -= 1;
            self.next_id += 1;
            entry.id = Some(self.next_id);
            out.push(entry);
            idle = 0;
        }
        out
    }
}

impl Frontier for MemoryFrontier {
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        let pushed = self.push_now(entries);
        Box::pin(std::future::ready(Ok(pushed)))
    }

    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>> {
        let popped = self.pop_now(max, ready);
        Box::pin(std::future::ready(Ok(popped)))
    }

    fn done(&mut self, _ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        // Nothing popped is kept: nothing to forget.
        Box::pin(std::future::ready(Ok(())))
    }

    fn len(&self) -> u64 {
        self.len as u64
    }

    fn seen(&self) -> u64 {
        self.seen.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn entries(urls: &[&str]) -> Vec<Entry> {
        urls.iter()
            .map(|u| Entry::seed(u.parse().unwrap()))
            .collect()
    }

    fn pop_all(f: &mut MemoryFrontier) -> Vec<String> {
        block_on(f.pop(usize::MAX, &mut |_| true))
            .unwrap()
            .into_iter()
            .map(|e| e.url.to_string())
            .collect()
    }

    #[test]
    fn round_robin_across_origins_fifo_within() {
        let mut f = MemoryFrontier::default();
        let urls = [
            "http://a/1",
            "http://a/2",
            "http://b/1",
            "http://a/3",
            "http://b/2",
        ];
        block_on(f.push(entries(&urls))).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(
            pop_all(&mut f),
            [
                "http://a/1",
                "http://b/1",
                "http://a/2",
                "http://b/2",
                "http://a/3"
            ]
        );
        assert!(f.is_empty());
    }

    #[test]
    fn unready_origins_are_skipped_not_lost() {
        let mut f = MemoryFrontier::default();
        block_on(f.push(entries(&["http://a/1", "http://b/1"]))).unwrap();
        let b = |o: &str| o == "http://b";
        let popped = block_on(f.pop(8, &mut |o| b(o))).unwrap();
        assert_eq!(popped.len(), 1);
        assert_eq!(popped[0].url.as_str(), "http://b/1");
        let mut asked = 0;
        let none = block_on(f.pop(8, &mut |_| {
            asked += 1;
            false
        }))
        .unwrap();
        assert!(none.is_empty());
        assert_eq!(asked, 1, "each queued origin asked once");
        assert_eq!(pop_all(&mut f), ["http://a/1"]);
    }

    #[test]
    fn ready_is_asked_before_each_entry_so_it_can_count() {
        let mut f = MemoryFrontier::default();
        block_on(f.push(entries(&["http://a/1", "http://a/2", "http://a/3"]))).unwrap();
        let mut budget = 2;
        let popped = block_on(f.pop(8, &mut |_| {
            budget -= 1;
            budget >= 0
        }))
        .unwrap();
        assert_eq!(popped.len(), 2);
        assert_ne!(popped[0].id, popped[1].id, "ids are distinct");
    }

    #[test]
    fn dedup_by_canonical_string_and_cap_on_length() {
        let mut f = MemoryFrontier::default();
        let long = format!("http://a/{}", "x".repeat(MAX_URL_LEN));
        let urls = ["http://a/x", "http://a/y", "http://a/x", long.as_str()];
        let pushed = block_on(f.push(entries(&urls))).unwrap();
        assert_eq!(
            pushed,
            Pushed {
                queued: 2,
                duplicates: 1,
                too_long: 1
            }
        );
        assert_eq!(f.seen(), 2);
    }
}
