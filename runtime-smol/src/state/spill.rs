//! A frontier that stays in memory until it must spill to disk: the
//! frontier of a crawl whose state is a temporary directory.
//!
//! # Why
//!
//! A crawl without a state directory of its own needs no durability (a
//! rerun starts over), only bounded memory. The [`DiskFrontier`] gives
//! that, at a price on a CPU-bound crawl: its SQLite transactions, WAL
//! writes and thread hops cost about a fifth more CPU than an in-memory
//! frontier on the benchmark's 10,000-page site, whose whole frontier fits
//! in a few MiB. So a temporary crawl starts with a [`MemoryPart`] holding
//! at most half of the frontier's share of the budget, and only when a
//! push (or a robots.txt kept) would take it past that does it move
//! everything into a [`DiskFrontier`] in the same directory, once, and
//! delegate to it from then on. A crawl with `--state DIR` (it must resume
//! after a kill) and a crawl shared through Redis keep their frontiers.
//!
//! # Memory stays bounded
//!
//! The crawl takes the frontier's whole share out of the pages' byte gate
//! up front ([`Frontier::budget`]), as for a disk frontier. The memory
//! part never holds more than half of it (it counts its bytes and refuses
//! a push that would pass that, see [`memory`](super::memory)). The move
//! opens the disk frontier within the other half and drains the memory
//! part into it as it goes; once the memory part is gone the disk frontier
//! gets the whole share ([`DiskFrontier::set_budget`]). So the two together
//! stay within the share at every step, the move included (but for its
//! batches in transit, 1,024 URLs at a time).
//!
//! # What crosses over
//!
//! * Every queued entry, in round-robin order of its origin and FIFO within
//!   it: the disk frontier's hosts are numbered, and served, in the order
//!   the memory part's ring had them.
//! * The seen set, as keys: the memory part's fingerprints are
//!   [`seen_key`](super::seen_key)s, the disk seen table's keys, so a URL
//!   seen before the move is refused after it without its text being kept.
//! * The robots.txt files kept (the crawl asks for them when it meets a
//!   host again).
//! * Entries handed out before the move and acknowledged after it: their
//!   ids are the memory part's, from 2^62 up, so they never name a disk
//!   row, and acknowledging them needs nothing (nothing popped was kept);
//!   they are dropped from `done`, `skipped` and `push_and_done`.

use semcrawl_core::frontier::{Entry, Frontier, FrontierError, KeptRobots, Pushed, Ready};
use semcrawl_core::BoxFuture;

use super::adapter::SharedFrontier;
use super::dir::StateDir;
use super::error::StateError;
use super::frontier::{DiskFrontier, FrontierBudget, NewUrl};
use super::memory::{MemoryPart, MEMORY_IDS};

/// URLs moved to disk per transaction.
const MOVE_BATCH: usize = 1024;

/// Open the frontier of a crawl whose state is the temporary directory
/// `dir`: in memory within half of `share` bytes (counted from what it
/// allocates), then, from the first push that would pass that, moved once
/// into a [`DiskFrontier`] in `dir` within `share`, seen set included.
/// Nothing touches the disk until it spills. Its [`Frontier::budget`] is
/// `share` throughout. For a crawl that need not resume: entries handed
/// out before the move are not kept (the design: `state/spill.rs`).
///
/// ```
/// use semcrawl_smol::state::{open_spilling_frontier, StateDir};
/// let dir = StateDir::temporary().unwrap();
/// let frontier = open_spilling_frontier(&dir, 4 << 20);
/// assert!(frontier.is_empty());
/// assert_eq!(frontier.budget(), Some(4 << 20));
/// ```
pub fn open_spilling_frontier(dir: &StateDir, share: u64) -> Box<dyn Frontier> {
    Box::new(SpillFrontier::new(dir, share))
}

/// The frontier of a temporary crawl (see the [module docs](self)).
pub(super) struct SpillFrontier {
    state: State,
    dir: StateDir,
    share: u64,
    /// URLs seen before the move and not queued at it (handed out): the
    /// disk frontier's counters do not count them.
    seen_before: u64,
}

enum State {
    Memory(MemoryPart),
    /// Being moved (or the move failed).
    Moving,
    Disk(SharedFrontier),
}

fn moving() -> FrontierError {
    FrontierError("the frontier's move to disk failed or was interrupted".into())
}

/// The ids of `ids` that a disk frontier gave (see the module docs).
fn disk_ids(mut ids: Vec<u64>) -> Vec<u64> {
    ids.retain(|&id| id < MEMORY_IDS);
    ids
}

impl SpillFrontier {
    pub(super) fn new(dir: &StateDir, share: u64) -> SpillFrontier {
        SpillFrontier {
            state: State::Memory(MemoryPart::new(share / 2)),
            dir: dir.clone(),
            share,
            seen_before: 0,
        }
    }

    /// Whether it has moved to disk.
    #[cfg(test)]
    pub(super) fn spilled(&self) -> bool {
        matches!(self.state, State::Disk(_))
    }

    /// The memory part's bytes and limit, before the move.
    #[cfg(test)]
    pub(super) fn memory_bytes(&self) -> Option<(u64, u64)> {
        match &self.state {
            State::Memory(m) => Some((m.bytes(), m.limit())),
            _ => None,
        }
    }

    /// Move to disk, once (see the module docs).
    async fn spill(&mut self) -> Result<&mut SharedFrontier, FrontierError> {
        if let State::Memory(_) = self.state {
            let State::Memory(memory) = std::mem::replace(&mut self.state, State::Moving) else {
                unreachable!()
            };
            let (bytes, queued, seen) = (memory.bytes(), memory.len(), memory.seen());
            let (dir, share) = (self.dir.clone(), self.share);
            let disk = smol::unblock(move || move_to_disk(&dir, memory, share))
                .await
                .map_err(|e| FrontierError(format!("cannot move the frontier to disk: {e}")))?;
            tracing::info!(
                "the frontier outgrew half of its {share}-byte share in memory ({bytes} bytes \
                 held): moved to disk, {queued} URLs queued and {seen} seen"
            );
            self.seen_before = seen - queued;
            self.state = State::Disk(SharedFrontier::new(disk, share));
        }
        match &mut self.state {
            State::Disk(disk) => Ok(disk),
            _ => Err(moving()),
        }
    }
}

/// The move itself, on the blocking pool: the queues in round-robin order
/// (each FIFO), then the seen keys, then the robots.txt files kept, the
/// memory part freed as it goes.
fn move_to_disk(
    dir: &StateDir,
    memory: MemoryPart,
    share: u64,
) -> Result<DiskFrontier, StateError> {
    let limit = memory.limit();
    let mut parts = memory.into_parts();
    let mut disk = DiskFrontier::open(
        dir,
        FrontierBudget {
            bytes: share - limit,
        },
    )?;
    let mut batch = Vec::with_capacity(MOVE_BATCH);
    while let Some(queue) = parts.queues.pop_front() {
        for slot in queue.slots {
            batch.push(NewUrl {
                url: slot.url.into(),
                host: queue.origin.to_string(),
                depth: slot.depth,
                parent: slot.parent,
                redirects: slot.redirects,
            });
            if batch.len() == MOVE_BATCH {
                let n = batch.len() as u64;
                let stats = disk.push_batch(std::mem::take(&mut batch))?;
                debug_assert_eq!(stats.queued, n, "queued entries are unique");
            }
        }
    }
    disk.push_batch(batch)?;
    disk.adopt_seen(parts.seen)?;
    for (origin, robots) in parts.robots {
        disk.keep_robots(&origin, robots.text.as_deref(), robots.fetched_at)?;
    }
    disk.set_budget(FrontierBudget { bytes: share })?;
    Ok(disk)
}

impl Frontier for SpillFrontier {
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        self.push_and_done(entries, Vec::new())
    }

    fn push_and_done(
        &mut self,
        entries: Vec<Entry>,
        ids: Vec<u64>,
    ) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        // Before the move, nothing popped is kept: `ids` need nothing.
        let entries = match &mut self.state {
            State::Memory(memory) => match memory.push(entries) {
                Ok(pushed) => return Box::pin(std::future::ready(Ok(pushed))),
                Err(entries) => entries,
            },
            _ => entries,
        };
        Box::pin(async move {
            let disk = self.spill().await?;
            disk.push_and_done(entries, disk_ids(ids)).await
        })
    }

    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>> {
        match &mut self.state {
            State::Memory(memory) => Box::pin(std::future::ready(memory.pop(max, ready))),
            State::Disk(disk) => disk.pop(max, ready),
            State::Moving => Box::pin(std::future::ready(Err(moving()))),
        }
    }

    fn done(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        let ids = disk_ids(ids);
        match &mut self.state {
            State::Disk(disk) if !ids.is_empty() => disk.done(ids),
            _ => Box::pin(std::future::ready(Ok(()))),
        }
    }

    fn skipped(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        let ids = disk_ids(ids);
        match &mut self.state {
            State::Disk(disk) if !ids.is_empty() => disk.skipped(ids),
            _ => Box::pin(std::future::ready(Ok(()))),
        }
    }

    fn len(&self) -> u64 {
        match &self.state {
            State::Memory(memory) => memory.len(),
            State::Disk(disk) => disk.len(),
            State::Moving => 0,
        }
    }

    fn seen(&self) -> u64 {
        match &self.state {
            State::Memory(memory) => memory.seen(),
            State::Disk(disk) => disk.seen() + self.seen_before,
            State::Moving => self.seen_before,
        }
    }

    fn robots(&mut self, origin: &str) -> BoxFuture<'_, Result<Option<KeptRobots>, FrontierError>> {
        match &mut self.state {
            State::Memory(memory) => Box::pin(std::future::ready(Ok(memory.robots(origin)))),
            State::Disk(disk) => disk.robots(origin),
            State::Moving => Box::pin(std::future::ready(Err(moving()))),
        }
    }

    fn keep_robots(
        &mut self,
        origin: &str,
        robots: KeptRobots,
    ) -> BoxFuture<'_, Result<(), FrontierError>> {
        let robots = match &mut self.state {
            State::Memory(memory) => match memory.keep_robots(origin, robots) {
                Ok(()) => return Box::pin(std::future::ready(Ok(()))),
                Err(robots) => robots,
            },
            _ => robots,
        };
        let origin = origin.to_owned();
        Box::pin(async move {
            let disk = self.spill().await?;
            disk.keep_robots(&origin, robots).await
        })
    }

    fn claim_robots(&mut self, origin: &str) -> BoxFuture<'_, Result<bool, FrontierError>> {
        match &mut self.state {
            State::Disk(disk) => disk.claim_robots(origin),
            _ => Box::pin(std::future::ready(Ok(true))),
        }
    }

    fn robots_fetched(&mut self, origin: &str) -> BoxFuture<'_, Result<(), FrontierError>> {
        match &mut self.state {
            State::Disk(disk) => disk.robots_fetched(origin),
            _ => Box::pin(std::future::ready(Ok(()))),
        }
    }

    fn budget(&self) -> Option<u64> {
        Some(self.share)
    }
}

#[cfg(test)]
#[path = "spill_tests.rs"]
mod tests;
