//! The disk frontier behind the core's [`Frontier`] seam.
//!
//! [`DiskFrontier`] is synchronous (SQLite calls block) and `Send` but not
//! `Sync`; the crawl's coordinator is async. So the frontier sits in a
//! mutex, and every call that may touch the database runs on smol's
//! blocking thread pool ([`smol::unblock`]), never on the executor:
//! pushes, acknowledgements, and the read-ahead of a pop
//! ([`DiskFrontier::prefetch`]). Each hop costs two thread switches, which
//! on a CPU-bound crawl weigh as much as the SQLite work itself, so a
//! crawl's turn makes one: its pushes and acknowledgements go in one
//! transaction ([`Frontier::push_and_done`]), followed on the same thread
//! by the read-ahead when one is due. The pop itself asks the coordinator's
//! `ready` question per URL, which borrows the coordinator's state and so
//! cannot leave its thread: it runs on the caller's thread, over the heads
//! the read-ahead just brought into memory (it reads the database itself
//! only for a host whose head ran out within the batch).
//!
//! Hosts are named by origin (`scheme://host[:port]`): that string is the
//! disk frontier's host key, the same in every run, which is what lets a
//! resumed crawl find its queues again.

use std::sync::{Arc, Mutex, MutexGuard};

use semcrawl_core::frontier::{self, Entry, Frontier, FrontierError, KeptRobots, Pushed, Ready};
use semcrawl_core::BoxFuture;
use url::Url;

use super::dir::StateDir;
use super::error::StateError;
use super::frontier::{DiskFrontier, FrontierBudget, NewUrl, Queued};

/// Open the disk frontier of `dir` for a crawl, within `budget_bytes` of
/// memory (see [`frontier_share`](semcrawl_core::frontier::frontier_share)
/// for the share of `--memory` a crawl gives it). Whatever was pushed and
/// not done in an earlier run on `dir` is queued again.
///
/// ```
/// use semcrawl_smol::state::{open_frontier, StateDir};
/// let dir = StateDir::temporary().unwrap();
/// let frontier = open_frontier(&dir, 4 << 20).unwrap();
/// assert!(frontier.is_empty());
/// assert_eq!(frontier.budget(), Some(4 << 20));
/// ```
pub fn open_frontier(dir: &StateDir, budget_bytes: u64) -> Result<Box<dyn Frontier>, StateError> {
    let disk = DiskFrontier::open(
        dir,
        FrontierBudget {
            bytes: budget_bytes,
        },
    )?;
    Ok(Box::new(SharedFrontier::new(disk, budget_bytes)))
}

/// A [`DiskFrontier`] usable from async code (see the module docs).
pub(super) struct SharedFrontier {
    inner: Arc<Mutex<DiskFrontier>>,
    budget: u64,
    /// Counts as of the last call, for the synchronous `len` and `seen`.
    waiting: u64,
    seen: u64,
}

fn failed(e: StateError) -> FrontierError {
    FrontierError(e.to_string())
}

impl SharedFrontier {
    /// `disk` behind the async seam, reporting `budget` as its share.
    pub(super) fn new(disk: DiskFrontier, budget: u64) -> SharedFrontier {
        SharedFrontier {
            waiting: disk.len() - disk.in_flight() as u64,
            seen: disk.len() + disk.done(),
            inner: Arc::new(Mutex::new(disk)),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, DiskFrontier> {
        // A panic while holding the lock left the database as committed:
        // its in-memory part may be stale, but the next call finds out.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the frontier on the blocking pool.
    async fn unblock<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut DiskFrontier) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, FrontierError> {
        let inner = self.inner.clone();
        let (result, waiting, seen) = smol::unblock(move || {
            let mut disk = inner.lock().unwrap_or_else(|e| e.into_inner());
            let result = f(&mut disk);
            let waiting = disk.len() - disk.in_flight() as u64;
            (result, waiting, disk.len() + disk.done())
        })
        .await;
        self.waiting = waiting;
        self.seen = seen;
        result.map_err(failed)
    }
}

fn to_new(entry: Entry, key: &mut String) -> NewUrl {
    frontier::origin(&entry.url, key);
    NewUrl {
        host: key.clone(),
        url: entry.url.into(),
        depth: entry.depth,
        parent: entry.parent,
        redirects: entry.redirects,
    }
}

fn to_entry(q: Queued) -> Result<Entry, FrontierError> {
    let url = Url::parse(&q.url)
        .map_err(|e| FrontierError(format!("a queued URL does not parse ({e}): {}", q.url)))?;
    Ok(Entry {
        url,
        depth: q.depth,
        parent: q.parent.map(Arc::from),
        redirects: q.redirects,
        id: Some(q.id),
    })
}

impl Frontier for SharedFrontier {
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        self.push_and_done(entries, Vec::new())
    }

    fn push_and_done(
        &mut self,
        entries: Vec<Entry>,
        ids: Vec<u64>,
    ) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        Box::pin(async move {
            let mut key = String::new();
            let urls: Vec<NewUrl> = entries.into_iter().map(|e| to_new(e, &mut key)).collect();
            let stats = self
                .unblock(move |disk| {
                    let stats = disk.push_and_done(urls, &ids)?;
                    // Already on the pool: read ahead for the next pop now
                    // rather than in a hop of its own.
                    if disk.wants_prefetch() {
                        disk.prefetch()?;
                    }
                    Ok(stats)
                })
                .await?;
            Ok(Pushed {
                queued: stats.queued,
                duplicates: stats.duplicates,
                too_long: stats.too_long,
            })
        })
    }

    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>> {
        Box::pin(async move {
            // The hop to the thread pool only when the read-ahead has
            // something to read.
            if self.lock().wants_prefetch() {
                self.unblock(|disk| disk.prefetch()).await?;
            }
            let popped = {
                let mut disk = self.lock();
                let popped = disk.pop_batch(max, &mut |host| ready(host));
                let waiting = disk.len() - disk.in_flight() as u64;
                drop(disk);
                self.waiting = waiting;
                popped.map_err(failed)?
            };
            popped.into_iter().map(to_entry).collect()
        })
    }

    fn done(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        Box::pin(async move { self.push_and_done(Vec::new(), ids).await.map(|_| ()) })
    }

    fn robots(&mut self, origin: &str) -> BoxFuture<'_, Result<Option<KeptRobots>, FrontierError>> {
        let origin = origin.to_owned();
        Box::pin(async move {
            let kept = self.unblock(move |disk| disk.robots(&origin)).await?;
            Ok(kept.map(|(text, fetched_at)| KeptRobots { text, fetched_at }))
        })
    }

    fn keep_robots(
        &mut self,
        origin: &str,
        robots: KeptRobots,
    ) -> BoxFuture<'_, Result<(), FrontierError>> {
        let origin = origin.to_owned();
        Box::pin(async move {
            self.unblock(move |disk| {
                disk.keep_robots(&origin, robots.text.as_deref(), robots.fetched_at)
            })
            .await
        })
    }

    fn len(&self) -> u64 {
        self.waiting
    }

    fn seen(&self) -> u64 {
        self.seen
    }

    fn budget(&self) -> Option<u64> {
        Some(self.budget)
    }
}
