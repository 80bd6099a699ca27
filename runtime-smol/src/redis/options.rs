//! What a worker of a shared crawl is told ([`RedisOptions`]) and what it
//! tells the others ([`WorkerFigures`]); whether it started the crawl or
//! joined it ([`Joined`]).

use std::time::Duration;

use semcrawl_core::frontier;
use semcrawl_core::Config;

/// How long a lease lives without renewal: the time after which the pages
/// of a worker that died are handed to others.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// What a worker's frontier needs besides the address.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The crawl's name: its keys are `semcrawl:NAME:*`.
    pub name: String,
    /// Most requests one host gets at once, crawl-wide (`--per-host`).
    pub per_host: usize,
    /// Least time between two requests to one host, crawl-wide (`--delay`).
    pub delay: Duration,
    /// A lease's lifetime without renewal; renewed every fifth of it.
    pub lease: Duration,
    /// Bytes of memory the worker's part of the frontier stays within.
    pub budget: u64,
    /// This worker's name in `status` (default: host name and pid).
    pub worker: String,
    /// The crawl's user agent: which group of a robots.txt applies, for
    /// the `Crawl-delay` kept with it.
    pub user_agent: String,
    /// Most entries handed out crawl-wide (`--max-pages`, counted as on
    /// one machine: see `scripts.rs`); `None`: no limit.
    pub max_pages: Option<u64>,
}

impl RedisOptions {
    /// Options for the crawl `name`, with the default lease and this
    /// process's worker name.
    pub fn new(name: &str, per_host: usize, delay: Duration, budget: u64) -> RedisOptions {
        RedisOptions {
            name: name.to_owned(),
            per_host: per_host.max(1),
            delay,
            lease: DEFAULT_LEASE,
            budget,
            worker: worker_name(),
            user_agent: Config::default().user_agent,
            max_pages: None,
        }
    }

    /// The options of a worker of the crawl `name` run with `config`:
    /// its `--per-host`, `--delay`, user agent and `--max-pages`, and its
    /// frontier's share of `--memory`.
    pub fn for_crawl(name: &str, config: &Config) -> RedisOptions {
        let mut options = RedisOptions::new(
            name,
            config.per_host,
            config.delay,
            frontier::frontier_share(config.memory),
        );
        options.user_agent = config.user_agent.clone();
        options.max_pages = config.max_pages;
        options
    }
}

/// `HOST:PID`, from `/etc/hostname` or `$HOSTNAME` (a pod's name).
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".into());
    format!("{host}:{}", std::process::id())
}

/// The key prefix of the crawl `name`.
pub(crate) fn prefix(name: &str) -> String {
    format!("semcrawl:{name}:")
}

/// Whether a worker started a crawl or joined one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// This worker claimed the crawl: it seeds it.
    Started,
    /// The crawl existed with the same identity: this worker joins it.
    Joined,
}

/// This worker's figures, published with each lease renewal for `status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerFigures {
    /// Records stored without error.
    pub pages: u64,
    /// Error records stored.
    pub errors: u64,
}
