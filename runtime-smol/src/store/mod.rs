//! Where records go: JSON Lines, SQLite, or an HTTP endpoint.
//!
//! The CLI takes one `--output TARGET` string; [`open_store`] turns it into
//! a store so every front end reads the target the same way:
//!
//! | target                              | store                          |
//! |-------------------------------------|--------------------------------|
//! | `-`                                 | [`JsonlStore::stdout`]         |
//! | `http://…`, `https://…`             | [`HttpSinkStore`]              |
//! | ends in `.sqlite`, `.sqlite3`, `.db` | [`SqliteStore`]               |
//! | anything else                       | [`JsonlStore::create`] (a file) |
//!
//! [`Bounded`] wraps any of them so that its writes give up at a deadline
//! (the end of the grace period after Ctrl-C).
//!
//! [`open_store`] returns a [`DynStore`]: a boxed store that is itself a
//! [`Store`], so the core's generic `Crawler::run<S: Store>` accepts it.
//! (The core could equally provide `impl Store for Box<dyn Store>`; the
//! orphan rule keeps an adapter from writing that impl.)

mod deadline;
mod http;
mod jsonl;
mod sqlite;

pub use deadline::{Bounded, ShutdownDeadline, LAST_CHANCE};
pub use http::{HttpSinkOptions, HttpSinkStore};
pub use jsonl::JsonlStore;
pub use sqlite::{SqliteStore, SCHEMA};

use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// Any store, boxed. Implements [`Store`] by forwarding.
pub struct DynStore(pub Box<dyn Store>);

impl std::fmt::Debug for DynStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DynStore").finish_non_exhaustive()
    }
}

impl Store for DynStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.write(batch)
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.0.flush()
    }
}

/// Open the store named by `target` (see the table in the [module docs](self)).
///
/// ```
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-{}.sqlite", std::process::id()));
/// let store = semcrawl_smol::store::open_store(path.to_str().unwrap()).unwrap();
/// # drop(store);
/// # for ext in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{ext}", path.display())); }
/// ```
pub fn open_store(target: &str) -> Result<DynStore, StoreError> {
    let lower = target.to_ascii_lowercase();
    let store: Box<dyn Store> = if target == "-" {
        Box::new(JsonlStore::stdout())
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        Box::new(HttpSinkStore::new(target, HttpSinkOptions::default())?)
    } else if [".sqlite", ".sqlite3", ".db"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        Box::new(SqliteStore::open(target)?)
    } else {
        Box::new(JsonlStore::create(target)?)
    };
    Ok(DynStore(store))
}
