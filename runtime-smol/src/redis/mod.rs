//! A crawl's state shared through Redis: one crawl, many workers.
//!
//! # Why
//!
//! One machine's network, CPU and politeness budget run out. With
//! `--state redis://HOST:PORT[/DB]` any number of workers, on any machines,
//! run the same command and share one frontier: the first seeds the crawl,
//! the others join it, each writes its own output, and each exits 0 when
//! the **whole** crawl is finished (nothing queued, nothing leased).
//!
//! Three things a shared queue alone gets wrong are handled here:
//!
//! * **No loss on a crash.** A popped URL is *leased* with a time to live
//!   ([`DEFAULT_LEASE`], 10 s), renewed every 2 s by the worker's keeper
//!   thread while the page is worked on, and acknowledged only after the
//!   worker's store made the record durable. A worker killed by SIGKILL
//!   stops renewing; its leases expire and the next pop or renewal of any
//!   worker requeues them: other workers have them back within the lease
//!   time plus one poll (100 ms) — well under 30 s. Refetches are bounded
//!   by the dead worker's leases: its pages in flight, its popped batch and
//!   its records stored but not yet acknowledged.
//! * **Politeness across the crawl.** A lease is also its host's slot: the
//!   pop script hands out an entry only while its host has fewer than
//!   `--per-host` leases crawl-wide, and keeps a next-allowed time per host
//!   for its delay, the larger of `--delay` and its robots.txt
//!   `Crawl-delay` (kept in Redis with the file). Slots expire with their
//!   holder's leases. A host's robots.txt is fetched once for the crawl:
//!   the first worker to need it claims the fetch, the others read the
//!   file it keeps.
//! * **One page count.** `--max-pages` counts the entries handed out
//!   crawl-wide (see `scripts.rs` for exactly what), in the pop script.
//! * **Bounded memory.** A worker holds the ids of its leases and one batch
//!   at a time; the queues and the seen set are in Redis.
//!
//! # Cost in Redis
//!
//! Each URL ever queued costs one member of the `seen` set: an 8-byte
//! fingerprint (the first bytes of the SHA-256 of its canonical URL), about
//! 40 bytes with Redis's set overhead. Each queued URL also costs its entry
//! in its host's list: the URL, the parent URL, depth and redirects,
//! separated by one byte each, plus about 10 bytes of list overhead.
//! A lease adds the entry again (in the `lease` hash) and a member of the
//! `expiry` sorted set, about 100 bytes more, for as long as it lives.
//!
//! # Round trips
//!
//! One per pushed page (its links), one per pop batch of up to 16 URLs, one
//! per acknowledgement batch, two per host and worker for its robots.txt
//! (read the kept file, claim the fetch), plus a renewal every 2 s per
//! worker: one to three per page (the crawl's summary JSON reports the
//! exact count as `redisRoundTrips`).
//!
//! # Faults
//!
//! Redis unreachable at start: [`RedisFrontier::open`] fails with
//! [`RedisError::Unreachable`], naming the address. Redis lost during the
//! crawl: every call is retried with backoff on a fresh connection (see
//! `client.rs`) for up to [`RETRY_FOR`], and the crawl resumes when it is
//! back. Every write is idempotent or heals itself (see there), so nothing
//! is lost; persistence across a restart of Redis itself is Redis's
//! (`appendonly yes` for a crawl that must survive one).
//!
//! ```no_run
//! use semcrawl_smol::redis::{Address, RedisFrontier, RedisOptions};
//! use semcrawl_smol::state::CrawlIdentity;
//! let address = Address::parse("redis://127.0.0.1:6379").unwrap();
//! let options = RedisOptions::new("example", 2, std::time::Duration::ZERO, 2 << 20);
//! let identity = CrawlIdentity { seeds: vec!["https://example.com/".into()], ..Default::default() };
//! let (frontier, joined) = RedisFrontier::open(&address, options, &identity).unwrap();
//! ```

mod client;
mod codec;
mod frontier;
mod keeper;
mod options;
mod scripts;
mod status;

pub use client::{Address, RETRY_FOR};
pub use frontier::{Joined, RedisFrontier, RedisOptions, WorkerFigures, DEFAULT_LEASE};
pub use status::{status, Status, Worker, ALIVE_WITHIN_MS, TOP_HOSTS};

/// Check a crawl's name: 1 to 100 letters, digits, `-`, `_` and `.`, so
/// that its keys (`semcrawl:NAME:*`) are plain to read and to match.
///
/// ```
/// assert!(semcrawl_smol::redis::check_name("shop-2026.v1").is_ok());
/// assert!(semcrawl_smol::redis::check_name("a b").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    match ok {
        true => Ok(()),
        false => Err("a name is 1 to 100 letters, digits, '-', '_' or '.'".into()),
    }
}

/// Why a shared crawl could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisError {
    /// No Redis answers at the address (the message names it).
    Unreachable(String),
    /// Redis holds another crawl under that name.
    Refused(String),
    /// Redis answered with an error.
    Failed(String),
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::Unreachable(m) | RedisError::Refused(m) | RedisError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for RedisError {}
