//! How a [`DiskFrontier`](super::DiskFrontier)'s memory budget is shared
//! out between SQLite's page cache and the frontier's own in-memory parts.

/// Memory SQLite uses besides its page cache (schema, prepared statements,
/// lookaside buffers), charged as a fixed amount.
pub(super) const ENGINE_OVERHEAD: u64 = 512 * 1024;
/// The smallest budget a frontier works with.
const MIN_BUDGET: u64 = 2 * 1024 * 1024;
/// Bytes budgeted per active host (its entry, ring slot and name).
const BYTES_PER_HOST: usize = 512;

/// The frontier's memory budget in bytes: its in-memory part plus SQLite's
/// page cache stay within it (at least 2 MiB is used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontierBudget {
    /// Bytes.
    pub bytes: u64,
}

/// How the budget is split: the page cache keeps the hot parts of the
/// indexes in memory, the seen cache answers repeated links, heads and hosts
/// serve the round robin.
#[derive(Debug, Clone, Copy)]
pub(super) struct Split {
    pub sqlite_cache: u64,
    pub seen: usize,
    pub heads: usize,
    pub max_hosts: usize,
}

impl Split {
    pub(super) fn of(budget: FrontierBudget) -> Split {
        let usable = budget.bytes.max(MIN_BUDGET) - ENGINE_OVERHEAD;
        let part = |percent: u64| usable / 100 * percent;
        Split {
            sqlite_cache: part(40),
            seen: part(25) as usize,
            heads: part(20) as usize,
            max_hosts: (part(15) as usize / BYTES_PER_HOST).max(16),
        }
    }
}
