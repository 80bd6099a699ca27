//! The frontier's SQLite database: layout, opening, and the statements
//! shared by pushes and pops.
//!
//! # Tables (`frontier.sqlite`)
//!
//! * `seen(fp)`: the 64-bit fingerprint of every URL ever pushed (see
//!   [`seen_key`](super::seen_key)); kept when the URL is done.
//! * `queue(id, host, depth, url, parent, redirects)`: URLs pushed and not done. `id`
//!   grows with every push, so `(host, id)` order (an index) is each host's
//!   FIFO. A row is deleted when marked done; popping writes nothing, so
//!   after a kill everything not done is queued again.
//! * `hosts(id, host, pending)`: one row per host ever seen; `pending` counts
//!   its rows in `queue`. A partial index over `pending > 0` finds the parked
//!   hosts (those with work but no place among the active ones in memory).
//! * `parents(id, url)`: a page's links share its URL as their parent, so it
//!   is stored once and referenced.
//! * `robots(host, text, fetched_at)`: each host's robots.txt as last
//!   fetched (`text` NULL: the host has none), reused by a resumed crawl
//!   within its maximum age.
//! * `meta(key, value)`: the `done` and `pending` counters, kept in the same
//!   transactions as the rows they count, so a resume reads them at once.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::error::{engine, StateError};

/// The database's file name in the state directory.
pub(crate) const DB_FILE: &str = "frontier.sqlite";
/// The database layout version, in SQLite's `user_version`. 2: the seen
/// set's keys are [`seen_key`](super::seen_key)s (SHA-256 prefixes in 1).
pub(crate) const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('done', 0), ('pending', 0);
CREATE TABLE IF NOT EXISTS seen (fp INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS hosts (
    id      INTEGER PRIMARY KEY,
    host    TEXT    NOT NULL UNIQUE,
    pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hosts_pending ON hosts(id) WHERE pending > 0;
CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS queue (
    id     INTEGER PRIMARY KEY,
    host   INTEGER NOT NULL,
    depth  INTEGER NOT NULL,
    url    TEXT    NOT NULL,
    parent INTEGER,
    redirects INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_host ON queue(host, id);
CREATE TABLE IF NOT EXISTS robots (
    host       TEXT PRIMARY KEY,
    text       TEXT,
    fetched_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Set the durability, cache and I/O settings of a frontier's connection.
pub(crate) fn configure(conn: &Connection, cache_bytes: u64) -> Result<(), StateError> {
    // WAL + NORMAL: a commit survives the process dying (see the module
    // docs for power loss). The log is truncated back after checkpoints
    // so a large batch does not leave a large file behind.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(engine)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(engine)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(engine)?;
    // Negative: KiB rather than pages.
    let cache_kib = (cache_bytes / 1024) as i64;
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(engine)?;
    // Memory-mapped I/O would put the file's pages in our RSS.
    conn.pragma_update(None, "mmap_size", 0).map_err(engine)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(())
}

/// Open the database of a state directory, creating its tables if new;
/// `None` if it does not exist and `create` is false.
pub(crate) fn open(dir: &Path, create: bool) -> Result<Option<Connection>, StateError> {
    let path = dir.join(DB_FILE);
    if !create && !path.exists() {
        return Ok(None);
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(&path, flags).map_err(engine)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(engine)?;
    match version {
        0 => {
            conn.execute_batch(SCHEMA).map_err(engine)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(engine)?;
        }
        SCHEMA_VERSION => {}
        other => {
            return Err(StateError::Corrupt {
                path,
                reason: format!("database layout {other}, expected {SCHEMA_VERSION}"),
            })
        }
    }
    Ok(Some(conn))
}

/// A counter of the `meta` table.
pub(crate) fn counter(conn: &Connection, key: &str) -> Result<u64, StateError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
        r.get::<_, i64>(0)
    })
    .map(|v| v as u64)
    .map_err(engine)
}

/// The `done` and `pending` counters of a state directory's frontier, or
/// zeros if it has none yet.
pub(crate) fn stored_counts(dir: &Path) -> Result<(u64, u64), StateError> {
    match open(dir, false)? {
        Some(conn) => Ok((counter(&conn, "done")?, counter(&conn, "pending")?)),
        None => Ok((0, 0)),
    }
}

/// Add a fingerprint to the seen set; whether it was new.
pub(crate) fn insert_seen(tx: &Connection, fp: i64) -> Result<bool, StateError> {
    tx.prepare_cached("INSERT OR IGNORE INTO seen (fp) VALUES (?1)")
        .and_then(|mut s| s.execute([fp]))
        .map(|changed| changed == 1)
        .map_err(engine)
}

/// The id of a host's row and its pending count, adding the row if new.
pub(crate) fn host_row(tx: &Connection, host: &str) -> Result<(i64, u64), StateError> {
    let found = tx
        .prepare_cached("SELECT id, pending FROM hosts WHERE host = ?1")
        .and_then(|mut s| {
            s.query_row([host], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
                .optional()
        })
        .map_err(engine)?;
    if let Some(row) = found {
        return Ok(row);
    }
    tx.prepare_cached("INSERT INTO hosts (host) VALUES (?1)")
        .and_then(|mut s| s.execute([host]))
        .map_err(engine)?;
    Ok((tx.last_insert_rowid(), 0))
}

/// The id of a parent URL's row, adding the row if new.
pub(crate) fn parent_row(tx: &Connection, url: &str) -> Result<i64, StateError> {
    tx.prepare_cached("INSERT OR IGNORE INTO parents (url) VALUES (?1)")
        .and_then(|mut s| s.execute([url]))
        .map_err(engine)?;
    tx.prepare_cached("SELECT id FROM parents WHERE url = ?1")
        .and_then(|mut s| s.query_row([url], |r| r.get(0)))
        .map_err(engine)
}

/// Add `by` to a counter of the `meta` table.
pub(crate) fn bump(tx: &Connection, key: &str, by: i64) -> Result<(), StateError> {
    if by != 0 {
        tx.prepare_cached("UPDATE meta SET value = value + ?1 WHERE key = ?2")
            .and_then(|mut s| s.execute(params![by, key]))
            .map_err(engine)?;
    }
    Ok(())
}
