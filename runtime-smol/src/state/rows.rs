//! What goes into the disk frontier ([`NewUrl`]) and comes out of it
//! ([`Queued`], [`PushStats`]); and the rows a change wrote, which memory
//! follows only once they are committed ([`PushRows`], [`DoneRows`]).

use std::collections::HashMap;
use std::sync::Arc;

#[cfg(doc)]
use super::frontier::DiskFrontier;
#[cfg(doc)]
use semcrawl_core::frontier::MAX_URL_LEN;

/// A URL to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUrl {
    /// The URL, canonical (it is deduplicated as text).
    pub url: String,
    /// Its origin or host: the queue it joins and the unit of round robin.
    pub host: String,
    /// Link distance from a seed.
    pub depth: u32,
    /// The page it was found on (shared by its siblings: a page's ten
    /// thousand links must not copy its URL ten thousand times).
    pub parent: Option<Arc<str>>,
    /// Redirect hops that led to it (0 for a link).
    pub redirects: u32,
}

/// What [`DiskFrontier::push_batch`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// URLs queued (new to the crawl).
    pub queued: u64,
    /// URLs already seen, in this batch or before.
    pub duplicates: u64,
    /// URLs longer than [`MAX_URL_LEN`], dropped.
    pub too_long: u64,
}

/// A URL handed out by [`DiskFrontier::pop_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its id, for [`DiskFrontier::mark_done`].
    pub id: u64,
    /// The URL.
    pub url: String,
    /// Its host (as pushed).
    pub host: String,
    /// Link distance from a seed.
    pub depth: u32,
    /// The page it was found on.
    pub parent: Option<String>,
    /// Redirect hops that led to it (0 for a link).
    pub redirects: u32,
}

/// The rows a push wrote, for memory to follow once they are committed.
pub(super) struct PushRows {
    pub(super) stats: PushStats,
    /// Per host touched: (pending before the push, URLs added).
    pub(super) added: HashMap<i64, (u64, u64)>,
    /// Hosts that were not active, by name.
    pub(super) names: HashMap<String, i64>,
}

/// The rows a `mark_done` deleted, for memory to follow once committed.
#[derive(Default)]
pub(super) struct DoneRows {
    /// (queue id, host id) of each URL done.
    pub(super) done: Vec<(i64, i64)>,
    /// Per host: (URLs done, pending after).
    pub(super) per_host: HashMap<i64, (u64, u64)>,
}
