//! How a memory budget divides, worked out before a crawl so that a front
//! end can explain it (`--explain` in the CLI): the frontier's share, what
//! one page holds at each step of its way, and how many pages fit at once.
//!
//! The figures are the byte gate's own arithmetic, not estimates of it: a
//! page is admitted with [`PAGE_OVERHEAD`], grows by its body, then by its
//! parse cost, which depends on the parse (streaming, or a DOM for user
//! fields and text).
//!
//! ```
//! use semcrawl_core::{Config, MemoryPlan};
//!
//! let config = Config { memory: 64 << 20, ..Config::default() };
//! let plan = MemoryPlan::new(&config);
//! assert_eq!(plan.frontier_share, 8 << 20);
//! assert_eq!(plan.pages_budget(), 56 << 20);
//! assert!(plan.pages_at_once(20 * 1024) > plan.pages_at_once(1 << 20));
//! ```

use crate::frontier::frontier_share;
use crate::parse::{Extractor, PARSE_COST_RATIO};
use crate::{Config, PAGE_OVERHEAD};

/// The division of one crawl's memory budget.
pub struct MemoryPlan {
    /// The whole budget.
    pub budget: u64,
    /// What the frontier keeps in memory; the pages get the rest.
    pub frontier_share: u64,
    /// What a page holds before its request.
    pub page_overhead: u64,
    /// Whether pages are parsed into a DOM (user fields or text) rather
    /// than streamed.
    pub dom_parse: bool,
    extractor: Option<Extractor>,
}

impl MemoryPlan {
    /// The plan of `config`'s budget.
    pub fn new(config: &Config) -> MemoryPlan {
        MemoryPlan {
            budget: config.memory,
            frontier_share: frontier_share(config.memory),
            page_overhead: PAGE_OVERHEAD,
            dom_parse: !config.fields.is_empty() || config.text,
            extractor: Extractor::new(&config.fields, config.text).ok(),
        }
    }

    /// What the pages in flight may hold together.
    pub fn pages_budget(&self) -> u64 {
        self.budget - self.frontier_share
    }

    /// The parse cost of a body of `body` bytes.
    pub fn parse_cost(&self, body: u64) -> u64 {
        (self.extractor.as_ref()).map_or(body * PARSE_COST_RATIO, |e| e.parse_cost(body))
    }

    /// The most a page of `body` bytes holds: overhead, body, parse.
    pub fn page_cost(&self, body: u64) -> u64 {
        self.page_overhead + body + self.parse_cost(body)
    }

    /// How many pages of `body` bytes the budget lets be parsed at once.
    pub fn pages_at_once(&self, body: u64) -> u64 {
        self.budget / self.page_cost(body)
    }
}
