//! `JsonlStore`, `SqliteStore` and `open_store`: write, read back, reopen.

mod common;

use common::{full_record, remove, temp_path};
use rusqlite::Connection;
use semcrawl_core::{Record, Store};
use semcrawl_smol::store::{open_store, JsonlStore, SqliteStore};

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut r = full_record(&format!("https://example.com/page/{i}"));
            if i % 2 == 0 {
                r.error = None;
                r.links = None;
                r.text = None;
            }
            r
        })
        .collect()
}

fn write_all(store: &mut impl Store, batches: &[&[Record]]) {
    smol::block_on(async {
        for batch in batches {
            store.write(batch).await.unwrap();
        }
        store.flush().await.unwrap();
    });
}

#[test]
fn jsonl_writes_one_line_per_record_and_reads_back_equal() {
    let path = temp_path("out.jsonl");
    let recs = records(5);
    let mut store = JsonlStore::create(&path).unwrap();
    write_all(&mut store, &[&recs[..2], &recs[2..]]);
    let text = std::fs::read_to_string(&path).unwrap();
    let back: Vec<Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, recs, "newlines inside fields must not split records");
    remove(&path);
}

#[test]
fn jsonl_create_truncates_and_append_keeps() {
    let path = temp_path("append.jsonl");
    let recs = records(2);
    write_all(&mut JsonlStore::create(&path).unwrap(), &[&recs]);
    write_all(&mut JsonlStore::append(&path).unwrap(), &[&recs[..1]]);
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    write_all(&mut JsonlStore::create(&path).unwrap(), &[&recs[..1]]);
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    remove(&path);
}

#[test]
fn jsonl_unwritable_path_names_the_path() {
    let path = temp_path("no-such-dir").join("out.jsonl");
    let error = JsonlStore::create(&path).unwrap_err();
    assert!(error.0.contains(&path.display().to_string()), "{error}");
}

#[test]
fn sqlite_stores_every_field_and_survives_a_reopen() {
    let path = temp_path("pages.sqlite");
    let recs = records(4);
    let mut store = SqliteStore::open(&path).unwrap();
    write_all(&mut store, &[&recs[..3], &recs[3..]]);
    drop(store);

    let db = Connection::open(&path).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let count: i64 = db
        .query_row("SELECT count(*) FROM pages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 4);
    let (status, depth, title, fields, links, kind, error, bytes, fetched_at): (
        u16,
        u32,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
    ) = db
        .query_row(
            "SELECT status, depth, title, fields, links, error_kind, error, bytes, fetched_at
             FROM pages WHERE url = ?1",
            [&recs[1].url],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        (status, depth, title.as_str()),
        (200, 2, "Title \"quoted\"")
    );
    let fields = serde_json::from_str::<serde_json::Value>(&fields).unwrap();
    assert_eq!(fields["price"], "3 €");
    assert_eq!(
        fields["imgs"],
        serde_json::json!(["https://example.com/a.png", "b, \"c\""])
    );
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&links).unwrap(),
        recs[1].links.clone().unwrap()
    );
    assert_eq!(kind, "http");
    assert_eq!(
        serde_json::from_str::<semcrawl_core::RecordError>(&error).unwrap(),
        recs[1].error.clone().unwrap()
    );
    assert_eq!((bytes, fetched_at), (1234, 1_700_000_000_000));
    let ok_kind: Option<String> = db
        .query_row(
            "SELECT error_kind FROM pages WHERE url = ?1",
            [&recs[0].url],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ok_kind, None);
    drop(db);

    // Reopen through the store: more rows add up, a known URL is replaced.
    let mut again = SqliteStore::open(&path).unwrap();
    let mut changed = recs[0].clone();
    changed.title = Some("second crawl".into());
    let extra = records(6).pop().unwrap();
    write_all(&mut again, &[&[changed, extra]]);
    let db = Connection::open(&path).unwrap();
    let count: i64 = db
        .query_row("SELECT count(*) FROM pages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 5);
    let title: String = db
        .query_row(
            "SELECT title FROM pages WHERE url = ?1",
            [&recs[0].url],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(title, "second crawl");
    remove(&path);
}

#[test]
fn sqlite_flush_checkpoints_the_wal() {
    let path = temp_path("wal.db");
    let mut store = SqliteStore::open(&path).unwrap();
    write_all(&mut store, &[&records(50)]);
    let wal = std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "flush truncates the WAL into the main file");
    remove(&path);
}

#[test]
fn sqlite_unwritable_path_names_the_path() {
    let path = temp_path("no-such-dir").join("pages.sqlite");
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(error.0.contains(&path.display().to_string()), "{error}");
}

#[test]
fn open_store_picks_the_store_from_the_target() {
    let recs = records(2);
    let db = temp_path("pick.db");
    write_all(&mut open_store(db.to_str().unwrap()).unwrap(), &[&recs]);
    let count: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM pages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
    remove(&db);

    let file = temp_path("pick.jsonl");
    write_all(&mut open_store(file.to_str().unwrap()).unwrap(), &[&recs]);
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
    remove(&file);

    assert!(open_store("-").is_ok());
    assert!(
        open_store("http://127.0.0.1:9/sink").is_ok(),
        "a sink connects on first write"
    );
    let bad = temp_path("missing-dir").join("x.sqlite3");
    assert!(open_store(bad.to_str().unwrap()).is_err());
}
