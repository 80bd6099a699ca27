//! Where records go: JSON Lines, CSV, SQLite, or an HTTP endpoint.
//!
//! The CLI takes one `--out TARGET` string; [`open_target`] (and
//! [`open_store`], its short form) turns it into a store so every front end
//! reads the target the same way:
//!
//! | target                              | store                          |
//! |-------------------------------------|--------------------------------|
//! | `-`                                 | [`JsonlStore::stdout`]         |
//! | `http://…`, `https://…`             | [`HttpSinkStore`]              |
//! | ends in `.sqlite`, `.sqlite3`, `.db` | [`SqliteStore`]               |
//! | ends in `.csv`                      | [`CsvStore`]                   |
//! | ends in `.jsonl`, `.ndjson`, or has no extension | [`JsonlStore::create`] (a file) |
//! | any other extension                 | refused, unless a [`Format`] is given |
//!
//! [`reopen_target`] opens the same targets for a resumed crawl: files are
//! appended to (a record torn by a kill cut off first), not truncated.
//!
//! [`StdoutGuard`] turns a closed stdout into a stop. [`TeeStore`] writes every record to several of them. [`Bounded`] wraps
//! any of them so that its writes give up at a deadline (the end of the grace
//! period after Ctrl-C).
//!
//! [`open_store`] returns a `Box<dyn Store>`: the core implements [`Store`]
//! for any boxed store, so the generic `Crawler::run<S: Store>` takes it
//! as it is.

mod csv;
mod deadline;
mod format;
mod http;
mod jsonl;
mod outputs;
mod sqlite;
mod stdout;
mod tee;

pub use self::csv::{CsvStore, COLUMNS as CSV_COLUMNS};
pub use deadline::{Bounded, ShutdownDeadline, LAST_CHANCE};
pub use format::{open_target, reopen_target, Format};
pub use http::{HttpSinkOptions, HttpSinkStore};
pub use jsonl::JsonlStore;
pub use outputs::{check_writable, OutputError, OutputSpec, Outputs};
pub use sqlite::{SqliteStore, SCHEMA};
pub use stdout::{StdoutGuard, StdoutState};
pub use tee::TeeStore;

use semcrawl_core::{Store, StoreError};

/// Open the store named by `target` (see the table in the [module docs](self)).
///
/// ```
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-{}.sqlite", std::process::id()));
/// let store = semcrawl_smol::store::open_store(path.to_str().unwrap()).unwrap();
/// # drop(store);
/// # for ext in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{ext}", path.display())); }
/// ```
pub fn open_store(target: &str) -> Result<Box<dyn Store>, StoreError> {
    open_target(target, None, &[])
}
