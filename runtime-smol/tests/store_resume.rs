//! `reopen_target`: the output of a resumed crawl keeps what the earlier run
//! stored, loses only a record torn by a kill, and gets the new records
//! after it (JSON Lines and CSV appended, SQLite upserted).

mod common;

use common::{full_record, remove, temp_path};
use rusqlite::Connection;
use semcrawl_core::{Record, Store};
use semcrawl_smol::store::{open_target, reopen_target, CsvStore, Format, JsonlStore};

fn write_all(store: &mut dyn Store, batch: &[Record]) {
    smol::block_on(async {
        store.write(batch).await.unwrap();
        store.flush().await.unwrap();
    })
}

fn urls_of_jsonl(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a whole record ({e}): {l:.80}"));
            v["url"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn jsonl_resume_cuts_a_torn_line_longer_than_a_read_block() {
    let path = temp_path("torn.jsonl");
    let mut store = JsonlStore::create(&path).unwrap();
    write_all(&mut store, &[Record::new("https://a.test/1", 0, None)]);
    drop(store);
    // Half a record of 200 KiB: the backward scan crosses several blocks
    // before it finds the newline that ends the last whole record.
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"{\"url\":\"https://a.test/2\",\"text\":\"");
    text.extend(std::iter::repeat_n(b'x', 200 * 1024));
    std::fs::write(&path, &text).unwrap();

    let mut store = reopen_target(path.to_str().unwrap(), None, &[]).unwrap();
    write_all(store.as_mut(), &[Record::new("https://a.test/3", 0, None)]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        urls_of_jsonl(&text),
        ["https://a.test/1", "https://a.test/3"]
    );
    remove(&path);
}

#[test]
fn jsonl_resume_of_a_file_with_only_a_torn_line_empties_it_first() {
    let path = temp_path("only-torn.jsonl");
    std::fs::write(&path, b"{\"url\":\"https://a.te").unwrap();
    let mut store = JsonlStore::resume(&path).unwrap();
    write_all(&mut store, &[Record::new("https://a.test/1", 0, None)]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(urls_of_jsonl(&text), ["https://a.test/1"]);
    remove(&path);
}

#[test]
fn resume_creates_a_missing_file() {
    for (name, format) in [("new.jsonl", Format::Jsonl), ("new.csv", Format::Csv)] {
        let path = temp_path(name);
        let mut store = reopen_target(path.to_str().unwrap(), Some(format), &[]).unwrap();
        write_all(store.as_mut(), &[Record::new("https://a.test/1", 0, None)]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("https://a.test/1"), "{name}: {text}");
        remove(&path);
    }
}

#[test]
fn csv_resume_cuts_a_row_torn_inside_a_quoted_newline_and_keeps_one_header() {
    let path = temp_path("torn.csv");
    let fields = ["price".to_string()];
    let mut store = CsvStore::create(&path, &fields).unwrap();
    // Its description holds a newline, so its row spans two lines.
    write_all(&mut store, &[full_record("https://a.test/1")]);
    drop(store);
    let whole = std::fs::read(&path).unwrap();
    // A second row torn just after the newline inside its quoted cell: the
    // file ends with a newline, but not at the end of a row.
    let mut second = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut second);
        w.write_record(semcrawl_smol::store::CSV_COLUMNS.map(|_| "line one\nline two"))
            .unwrap();
    }
    let cut = second.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut text = whole.clone();
    text.extend_from_slice(&second[..cut]);
    std::fs::write(&path, &text).unwrap();

    let mut store = CsvStore::resume(&path, &fields).unwrap();
    write_all(&mut store, &[full_record("https://a.test/3")]);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let urls: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(0).unwrap().to_owned())
        .collect();
    assert_eq!(urls, ["https://a.test/1", "https://a.test/3"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("url,final_url").count(), 1, "one header");
    remove(&path);
}

#[test]
fn csv_resume_refuses_other_columns() {
    let path = temp_path("columns.csv");
    let mut store = CsvStore::create(&path, &["price".to_string()]).unwrap();
    write_all(&mut store, &[full_record("https://a.test/1")]);
    drop(store);
    let before = std::fs::read(&path).unwrap();
    let err = CsvStore::resume(&path, &["weight".to_string()]).unwrap_err();
    assert!(err.0.contains("columns differ"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "left as it was");
    remove(&path);
}

#[test]
fn sqlite_resume_upserts_one_row_per_url() {
    let path = temp_path("resume.sqlite");
    let target = path.to_str().unwrap();
    let mut first = open_target(target, None, &[]).unwrap();
    let mut old = Record::new("https://a.test/1", 0, None);
    old.title = Some("old".into());
    write_all(
        first.as_mut(),
        &[old, Record::new("https://a.test/2", 0, None)],
    );
    drop(first);
    let mut again = reopen_target(target, None, &[]).unwrap();
    let mut new = Record::new("https://a.test/1", 0, None);
    new.title = Some("new".into());
    write_all(again.as_mut(), &[new]);
    drop(again);
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(String, Option<String>)> = conn
        .prepare("SELECT url, title FROM pages ORDER BY url")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("https://a.test/1".to_string(), Some("new".to_string())),
            ("https://a.test/2".to_string(), None)
        ]
    );
    remove(&path);
}
