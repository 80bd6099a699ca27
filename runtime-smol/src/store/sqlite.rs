//! [`SqliteStore`]: records as rows of one SQLite table, `pages`.
//!
//! A crawl's output is usually queried ("which pages 404?", "titles of pages
//! under /docs"), and SQLite answers that without a loader. The layout is
//! one column per scalar field of [`Record`]; the nested ones (`fields`,
//! `links`, `error`) are JSON text that SQLite's `json_*` functions read, and
//! `error_kind` is split out so failures can be grouped with a plain
//! `GROUP BY`.
//!
//! * `url` is `UNIQUE`: writing a URL again (a second crawl into the same
//!   file) replaces its row, so the table holds the latest state per URL.
//! * Each batch is one transaction: a batch is stored entirely or not at all,
//!   which is what "a record counts as stored once `write` returns" needs,
//!   and it costs one `fsync` per batch rather than per row.
//! * WAL mode lets readers query the file while the crawl writes;
//!   [`Store::flush`] checkpoints the WAL back into the main file.
//!
//! * A file that already has a `pages` table with other columns is refused
//!   at open, before anything is written: it belongs to something else, and
//!   upserting into it (or adding our unique index to it) would damage it.
//!
//! SQLite calls block, so they run on `smol`'s blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection};
use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// The `pages` table and its unique index. Public so tools and tests can
/// rely on the exact layout.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pages (
    id           INTEGER PRIMARY KEY,
    url          TEXT    NOT NULL,
    final_url    TEXT,
    status       INTEGER,
    depth        INTEGER NOT NULL,
    parent       TEXT,
    title        TEXT,
    description  TEXT,
    lang         TEXT,
    canonical    TEXT,
    links_count  INTEGER NOT NULL,
    links        TEXT,
    fields       TEXT    NOT NULL,
    text         TEXT,
    content_type TEXT,
    bytes        INTEGER NOT NULL,
    sha256       TEXT,
    fetched_at   INTEGER NOT NULL,
    elapsed_ms   INTEGER NOT NULL,
    retries      INTEGER NOT NULL,
    error_kind   TEXT,
    error        TEXT,
    noindex      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS pages_url ON pages(url);
";

const UPSERT: &str = "
INSERT INTO pages (url, final_url, status, depth, parent, title, description, lang,
    canonical, links_count, links, fields, text, content_type, bytes, sha256,
    fetched_at, elapsed_ms, retries, error_kind, error, noindex)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
ON CONFLICT(url) DO UPDATE SET
    final_url = excluded.final_url, status = excluded.status, depth = excluded.depth,
    parent = excluded.parent, title = excluded.title, description = excluded.description,
    lang = excluded.lang, canonical = excluded.canonical, links_count = excluded.links_count,
    links = excluded.links, fields = excluded.fields, text = excluded.text,
    content_type = excluded.content_type, bytes = excluded.bytes, sha256 = excluded.sha256,
    fetched_at = excluded.fetched_at, elapsed_ms = excluded.elapsed_ms,
    retries = excluded.retries, error_kind = excluded.error_kind, error = excluded.error,
    noindex = excluded.noindex
";

/// Writes records into the `pages` table of an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    name: Arc<str>,
}

impl SqliteStore {
    /// Open (or create) the database at `path`, switch it to WAL and create
    /// the table if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let err =
            |e: rusqlite::Error| StoreError(format!("cannot open SQLite database '{name}': {e}"));
        let conn = Connection::open(path).map_err(err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "cannot open SQLite database '{name}': WAL mode refused (journal_mode = {mode})"
            )));
        }
        // FULL: a committed batch survives a power cut, not only a crash.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        check_layout(&conn)
            .map_err(|e| StoreError(format!("cannot use SQLite database '{name}': {e}")))?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            name: name.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        smol::unblock(move || job(&mut conn.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| {
                StoreError(format!(
                    "cannot {what} SQLite database '{}': {e}",
                    self.name
                ))
            })
    }
}

/// The columns of [`SCHEMA`]'s `pages` table, in order.
const COLUMNS: [&str; 23] = [
    "id",
    "url",
    "final_url",
    "status",
    "depth",
    "parent",
    "title",
    "description",
    "lang",
    "canonical",
    "links_count",
    "links",
    "fields",
    "text",
    "content_type",
    "bytes",
    "sha256",
    "fetched_at",
    "elapsed_ms",
    "retries",
    "error_kind",
    "error",
    "noindex",
];

/// `Ok` if the file has no `pages` table yet, or one with our columns;
/// otherwise why the table is not ours (its columns).
fn check_layout(conn: &Connection) -> Result<(), String> {
    let columns = (|| {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('pages')")?;
        let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
        names.collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| e.to_string())?;
    if columns.is_empty() || columns.iter().map(String::as_str).eq(COLUMNS) {
        return Ok(());
    }
    // A table written before `noindex` existed: it gains the column.
    if columns
        .iter()
        .map(String::as_str)
        .eq(COLUMNS[..COLUMNS.len() - 1].iter().copied())
    {
        return conn
            .execute_batch("ALTER TABLE pages ADD COLUMN noindex INTEGER NOT NULL DEFAULT 0")
            .map_err(|e| e.to_string());
    }
    // A few names are enough to recognize the table; keep the line short.
    let mut listed = columns
        .iter()
        .take(6)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if columns.len() > 6 {
        listed.push_str(", ...");
    }
    Err(format!(
        "it already has a table 'pages' with other columns ({listed}); use another file"
    ))
}

/// One row, ready to bind: the nested fields already JSON text.
struct Row {
    record: Record,
    links: Option<String>,
    fields: String,
    error_kind: Option<&'static str>,
    error: Option<String>,
}

fn to_row(record: &Record) -> Result<Row, StoreError> {
    let json = |r: serde_json::Result<String>| {
        r.map_err(|e| StoreError(format!("cannot serialize record for {}: {e}", record.url)))
    };
    Ok(Row {
        links: record
            .links
            .as_ref()
            .map(|l| json(serde_json::to_string(l)))
            .transpose()?,
        fields: json(serde_json::to_string(&record.fields))?,
        error_kind: record.error.as_ref().map(|e| e.kind.as_str()),
        error: record
            .error
            .as_ref()
            .map(|e| json(serde_json::to_string(e)))
            .transpose()?,
        record: record.clone(),
    })
}

fn insert(conn: &mut Connection, rows: &[Row]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(UPSERT)?;
        for row in rows {
            let r = &row.record;
            stmt.execute(params![
                r.url,
                r.final_url,
                r.status,
                r.depth,
                r.parent,
                r.title,
                r.description,
                r.lang,
                r.canonical,
                i64::try_from(r.links_count).unwrap_or(i64::MAX),
                row.links,
                row.fields,
                r.text,
                r.content_type,
                i64::try_from(r.bytes).unwrap_or(i64::MAX),
                r.sha256,
                i64::try_from(r.fetched_at).unwrap_or(i64::MAX),
                i64::try_from(r.elapsed_ms).unwrap_or(i64::MAX),
                r.retries,
                row.error_kind,
                row.error,
                r.noindex,
            ])?;
        }
    }
    tx.commit()
}

impl Store for SqliteStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let rows = batch.iter().map(to_row).collect::<Result<Vec<_>, _>>()?;
            self.run("write to", move |conn| insert(conn, &rows)).await
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.run("checkpoint", |conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        }))
    }
}
