//! Live counters and the final summary. (STUB: being implemented.)
use std::collections::BTreeMap;
use serde::{Deserialize, Serialize};

/// Live counters, shared with progress displays. All reads are snapshots.
#[derive(Debug, Default)]
pub struct Stats {}

/// The end of a crawl, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Records stored without error.
    pub pages: u64,
    /// Error records stored.
    pub errors: u64,
    /// Error records by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// URLs skipped because robots.txt disallowed them.
    pub robots_skipped: u64,
    /// Decoded body bytes read.
    pub bytes: u64,
    /// Wall time of the crawl.
    pub elapsed_ms: u64,
    /// Most pages in flight at once (count permits in use).
    pub max_in_flight: u64,
    /// High-water mark of the byte gate.
    pub peak_bytes: u64,
    /// The byte budget.
    pub budget: u64,
    /// URLs still queued when the crawl ended (non-zero after a stop or --max-pages).
    pub queued: u64,
    /// Whether the crawl was stopped before it ran out of work.
    pub interrupted: bool,
}
