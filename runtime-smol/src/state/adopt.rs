//! What a [`DiskFrontier`] takes over from a spilling frontier's memory
//! part (see [`spill`](super::spill)): the seen set without its URLs, and
//! the whole of its budget once the memory part is gone.

use super::db::{self, insert_seen};
use super::error::{engine, StateError};
use super::frontier::{DiskFrontier, FrontierBudget};
use super::seen::SeenCache;
use super::split::Split;

impl DiskFrontier {
    /// Add `keys` ([`seen_key`](super::seen_key)s) to the seen set, in one
    /// transaction; keys already there are ignored. Nothing is queued: a
    /// URL whose key is there is refused as a duplicate from now on.
    pub(super) fn adopt_seen(
        &mut self,
        keys: impl IntoIterator<Item = i64>,
    ) -> Result<(), StateError> {
        self.conn.execute_batch("BEGIN").map_err(engine)?;
        let result = keys
            .into_iter()
            .try_for_each(|fp| insert_seen(&self.conn, fp).map(|_| ()))
            .and_then(|()| self.conn.execute_batch("COMMIT").map_err(engine));
        if result.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// Share out `budget` anew (SQLite's page cache, the seen cache, heads
    /// and hosts): a spilling frontier opens its disk part within what its
    /// memory part leaves free and gives it the whole once that is gone.
    /// The seen cache starts empty (it is only a cache).
    pub(super) fn set_budget(&mut self, budget: FrontierBudget) -> Result<(), StateError> {
        let split = Split::of(budget);
        self.seen = SeenCache::with_bytes(0);
        db::configure(&self.conn, split.sqlite_cache)?;
        self.seen = SeenCache::with_bytes(split.seen);
        self.split = split;
        Ok(())
    }
}
