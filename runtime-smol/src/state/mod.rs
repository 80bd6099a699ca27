//! A crawl's state on disk: the frontier, the seen set and what the crawl
//! was started with, in one directory.
//!
//! # Why
//!
//! * **Bounded memory.** A frontier held in memory grows with every link
//!   found: a site whose pages each link to a thousand new URLs queues a
//!   million of them after a thousand pages, and long URLs make each one
//!   kilobytes. [`DiskFrontier`] keeps the queues and the seen set in an
//!   embedded database and holds in memory only a bounded window of them,
//!   sized from a byte budget ([`FrontierBudget`]) that the crawl charges to
//!   its memory budget.
//! * **Resume after a kill.** A crawl killed by an OOM killer, a rolling
//!   restart or `kill -9` goes on where it stopped when started again on the
//!   same directory, instead of starting over from the seeds.
//!
//! # Layout of a state directory
//!
//! | file              | what                                                      |
//! |-------------------|-----------------------------------------------------------|
//! | `lock`            | held with `flock(2)` by the one process using the directory; holds its pid |
//! | `state.json`      | `{"format": 2, "identity": {...}}`: the [`CrawlIdentity`] |
//! | `frontier.sqlite` | queue, seen set, hosts, counters (SQLite, WAL)            |
//! | `frontier.sqlite-wal`, `-shm` | SQLite's write-ahead log and its index        |
//!
//! Other parts of a crawl keep their own files next to these
//! ([`StateDir::file`]).
//!
//! # What a kill can lose
//!
//! A URL is pushed in one transaction with the rest of its batch, and marked
//! done in one transaction with the rest of its batch; popping writes
//! nothing. Rows are deleted only when marked done. So after `kill -9` at any
//! instant, reopening the directory queues again exactly what was pushed and
//! not marked done, which includes what was popped (in flight) at the kill:
//! that is refetched. Nothing marked done is queued again and nothing pushed
//! is lost. The caller marks a page done only after its record is durable in
//! the output, so the output and the state agree.
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous=NORMAL`: a commit appends
//! to the write-ahead log without `fsync`, which is then done at checkpoints.
//! A committed transaction is in the operating system's page cache when the
//! call returns, so it survives the death of the process, however it dies.
//! A power loss or a kernel crash can lose the transactions committed since
//! the last checkpoint; because the log is checksummed frame by frame and
//! replayed in order, what survives is always a consistent prefix of the
//! commits, never a torn state. Losing a suffix means pages marked done in it
//! are fetched again and URLs pushed in it are found again when their parents
//! are refetched — duplicates, not holes, as long as the caller pushes a
//! page's links before it marks the page done.
//! `synchronous=FULL` would close that window at the cost of an `fsync` per
//! batch; a crawl is rerun cheaply, so the cheaper setting is the default.
//!
//! # In a crawl
//!
//! [`open_frontier`] puts a [`DiskFrontier`] behind the core's async
//! `Frontier` seam: its SQLite calls run on smol's blocking pool, its host
//! key is the URL's origin, and the crawl acknowledges a page as done only
//! after the store has its record. A crawl with a temporary directory
//! (no `--state`) needs no resume, so [`open_spilling_frontier`] keeps its
//! frontier in memory until it passes half of its share, and only then
//! moves it into a [`DiskFrontier`] (see `spill.rs`).
//!
//! # The engine
//!
//! SQLite (bundled, already used for output) sits behind this module's own
//! small API: nothing SQLite-specific is public, so another embedded store
//! can replace it without changing callers.

mod adapter;
mod adopt;
mod db;
mod dir;
mod error;
mod frontier;
mod hosts;
mod identity;
mod memory;
mod rows;
mod seen;
mod spill;
mod split;

pub use adapter::open_frontier;
pub use dir::{CrawlIdentity, Resume, StateDir, STATE_FORMAT};
pub use error::StateError;
pub use frontier::{DiskFrontier, FrontierBudget, NewUrl, PushStats, Queued, MAX_URL_LEN};
pub use identity::{identity, OutputTarget, SINK_KEY};
pub use seen::{fingerprint, seen_key};
pub use spill::open_spilling_frontier;
