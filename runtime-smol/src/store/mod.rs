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
//! [`open_store`] returns a `Box<dyn Store>`: the core implements [`Store`]
//! for any boxed store, so the generic `Crawler::run<S: Store>` takes it
//! as it is.

mod http;
mod jsonl;
mod sqlite;

pub use http::{HttpSinkOptions, HttpSinkStore};
pub use jsonl::JsonlStore;
pub use sqlite::{SqliteStore, SCHEMA};

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
    Ok(store)
}
