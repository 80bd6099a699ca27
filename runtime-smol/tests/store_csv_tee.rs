//! `CsvStore` (quoting, column order, read back by a CSV reader), `TeeStore`
//! (both outputs get every batch; a failing one is reported, the other is
//! still written) and `open_target` (formats by extension, refusals).

mod common;

use common::{full_record, remove, temp_path};
use semcrawl_core::{BoxFuture, Record, Store, StoreError};
use semcrawl_smol::store::{open_target, CsvStore, Format, JsonlStore, TeeStore, CSV_COLUMNS};

fn write_all(store: &mut impl Store, batch: &[Record]) -> Result<(), StoreError> {
    smol::block_on(async {
        store.write(batch).await?;
        store.flush().await
    })
}

#[test]
fn csv_rows_read_back_cell_for_cell() {
    let path = temp_path("pages.csv");
    let fields = [
        "price".to_string(),
        "missing".to_string(),
        "absent".to_string(),
        "imgs".to_string(),
    ];
    let mut ok = full_record("https://example.com/a,b");
    ok.error = None;
    let failed = full_record("https://example.com/failed");
    write_all(
        &mut CsvStore::create(&path, &fields).unwrap(),
        &[ok.clone(), failed],
    )
    .unwrap();

    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut want: Vec<String> = CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
    want.extend(fields.iter().map(|f| format!("fields.{f}")));
    assert_eq!(header, want);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        2,
        "a newline inside a cell does not split a record"
    );
    let cell = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap()].to_owned()
    };
    let row = &rows[0];
    assert_eq!(cell(row, "url"), "https://example.com/a,b");
    assert_eq!(cell(row, "title"), "Title \"quoted\"");
    assert_eq!(cell(row, "description"), "line one\nline two");
    assert_eq!(cell(row, "status"), "200");
    assert_eq!(
        cell(row, "links"),
        "https://example.com/a https://example.com/b"
    );
    assert_eq!(cell(row, "fields.price"), "3 €");
    assert_eq!(cell(row, "fields.missing"), "");
    assert_eq!(cell(row, "fields.absent"), "");
    // A list field: a JSON array in its cell.
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&cell(row, "fields.imgs")).unwrap(),
        ["https://example.com/a.png", "b, \"c\""]
    );
    assert_eq!(cell(row, "error_kind"), "");
    assert_eq!(cell(&rows[1], "error_kind"), "http");
    assert_eq!(cell(&rows[1], "error_message"), "HTTP 404");
    remove(&path);
}

/// A store whose writes always fail.
struct Broken;

impl Store for Broken {
    fn write<'a>(&'a mut self, _: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError("disk on fire".into())) })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[test]
fn a_tee_writes_everything_everywhere_and_reports_a_failure() {
    let (a, b) = (temp_path("tee-a.jsonl"), temp_path("tee-b.jsonl"));
    let batch = [
        full_record("https://example.com/1"),
        full_record("https://example.com/2"),
    ];
    let mut tee = TeeStore::new(vec![
        Box::new(JsonlStore::create(&a).unwrap()),
        Box::new(JsonlStore::create(&b).unwrap()),
    ]);
    write_all(&mut tee, &batch).unwrap();
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert_eq!(text, std::fs::read_to_string(&b).unwrap());

    let mut tee = TeeStore::new(vec![
        Box::new(Broken),
        Box::new(JsonlStore::create(&a).unwrap()),
    ]);
    let err = smol::block_on(tee.write(&batch)).unwrap_err();
    assert!(err.0.contains("disk on fire"), "{err}");
    smol::block_on(tee.flush()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&a).unwrap().lines().count(),
        2,
        "the healthy output still has the batch"
    );
    remove(&a);
    remove(&b);
}

#[test]
fn open_target_follows_the_extension_or_the_format() {
    let csv = temp_path("by-ext.CSV");
    let mut store = open_target(csv.to_str().unwrap(), None, &[]).unwrap();
    write_all(&mut store, &[full_record("https://example.com/")]).unwrap();
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("url,final_url,"));
    remove(&csv);

    let odd = temp_path("pages.parquet");
    let err = open_target(odd.to_str().unwrap(), None, &[]).err().unwrap();
    assert!(
        err.0.contains("'.parquet'") && err.0.contains("give the format"),
        "{err}"
    );
    assert!(!odd.exists(), "a refused target is not created");
    let mut store = open_target(odd.to_str().unwrap(), Some(Format::Jsonl), &[]).unwrap();
    write_all(&mut store, &[full_record("https://example.com/")]).unwrap();
    assert_eq!(std::fs::read_to_string(&odd).unwrap().lines().count(), 1);
    remove(&odd);

    let mut devnull = open_target("/dev/null", None, &[]).unwrap();
    write_all(&mut devnull, &[full_record("https://example.com/")]).unwrap();
    let mut devnull = open_target("/dev/null", Some(Format::Csv), &[]).unwrap();
    write_all(&mut devnull, &[full_record("https://example.com/")]).unwrap();
    assert!(open_target("-", Some(Format::Sqlite), &[]).is_err());
}
