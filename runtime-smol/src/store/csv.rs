//! [`CsvStore`]: records as rows of a CSV file, for spreadsheets and
//! `csvkit`/`xsv`/`duckdb` pipelines.
//!
//! A CSV file has one header, written before the first row, so every column
//! must be known when the store is opened: the columns are the record's
//! fields in the fixed order of [`COLUMNS`], then one `fields.NAME` column
//! per `--select` name, which the front end knows from the crawl's
//! configuration. A record's nested values are flattened so a spreadsheet can
//! show them: `links` joined with a single space (canonical URLs never hold a
//! raw space), `error` split into `error_kind` and `error_message`, absent
//! values as empty cells, a list field (`--select NAME[]=...`) as a JSON
//! array (`["a","b, c"]`: its values may hold spaces and commas). Quoting is the `csv` crate's (RFC 4180): a cell with
//! a comma, a quote or a newline (visible text has many) is quoted, so a
//! record is always one row to a CSV reader even when it spans lines.
//!
//! Like [`JsonlStore`](super::JsonlStore), the writer sits behind a mutex and
//! its I/O runs on `smol`'s blocking pool; [`Store::flush`] empties the
//! buffer and `fsync`s a regular file (not `/dev/null` or a pipe, which
//! cannot be synced and need not be).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use semcrawl_core::{BoxFuture, FieldValue, Record, Store, StoreError};

/// The columns every CSV output starts with, in order; `fields.NAME`
/// columns for the user's fields follow.
pub const COLUMNS: [&str; 21] = [
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
    "text",
    "content_type",
    "bytes",
    "sha256",
    "fetched_at",
    "elapsed_ms",
    "retries",
    "error_kind",
    "error_message",
    "noindex",
];

/// Writes each record as one CSV row under a fixed header.
///
/// ```
/// use semcrawl_core::{Record, Store};
/// use semcrawl_smol::store::CsvStore;
///
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-{}.csv", std::process::id()));
/// let mut store = CsvStore::create(&path, &["price".to_string()]).unwrap();
/// let mut record = Record::new("https://example.com/", 0, None);
/// record.fields.insert("price".into(), Some("3, or 4".into()));
/// smol::block_on(async {
///     store.write(&[record]).await.unwrap();
///     store.flush().await.unwrap();
/// });
/// let text = std::fs::read_to_string(&path).unwrap();
/// let mut lines = text.lines();
/// assert!(lines.next().unwrap().ends_with(",error_kind,error_message,noindex,fields.price"));
/// assert!(lines.next().unwrap().ends_with(",\"3, or 4\""));
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct CsvStore {
    sink: Arc<Mutex<Sink>>,
    fields: Arc<[String]>,
    name: Arc<str>,
}

/// The writer, and whether it can be synced to disk.
struct Sink {
    writer: csv::Writer<Box<dyn Write + Send>>,
    /// The file to `fsync` on flush: only a regular file.
    file: Option<File>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("syncs", &self.file.is_some())
            .finish_non_exhaustive()
    }
}

impl CsvStore {
    /// Create (or truncate) the file at `path` and write the header:
    /// [`COLUMNS`], then `fields.NAME` for each of `fields`.
    pub fn create(path: impl AsRef<Path>, fields: &[String]) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let err = |e: io::Error| StoreError(format!("cannot open output file '{name}': {e}"));
        let file = File::create(path).map_err(err)?;
        let regular = file.metadata().map_err(err)?.is_file();
        let sync = if regular {
            Some(file.try_clone().map_err(err)?)
        } else {
            None
        };
        Self::with_writer(Box::new(file), sync, fields, name)
    }

    /// Open the file at `path` to go on with an earlier crawl's output: a
    /// row torn by a kill in the middle of a write is cut off, then rows
    /// are appended under the header already there. A missing or empty
    /// file gets the header, as with [`create`](Self::create); a file whose
    /// header is not the one these `fields` give is refused, since its rows
    /// would not line up.
    ///
    /// ```
    /// use semcrawl_core::{Record, Store};
    /// use semcrawl_smol::store::CsvStore;
    ///
    /// let path = std::env::temp_dir().join(format!("semcrawl-doc-resume-{}.csv", std::process::id()));
    /// let mut first = CsvStore::create(&path, &[]).unwrap();
    /// smol::block_on(first.write(&[Record::new("https://a.test/", 0, None)])).unwrap();
    /// smol::block_on(first.flush()).unwrap();
    /// let mut again = CsvStore::resume(&path, &[]).unwrap();
    /// smol::block_on(again.write(&[Record::new("https://b.test/", 0, None)])).unwrap();
    /// smol::block_on(again.flush()).unwrap();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text.lines().filter(|l| l.starts_with("url,")).count(), 1, "one header");
    /// assert_eq!(text.lines().count(), 3);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn resume(path: impl AsRef<Path>, fields: &[String]) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let err = |e: io::Error| StoreError(format!("cannot resume output file '{name}': {e}"));
        super::jsonl::cut_torn_tail(path, last_row_end).map_err(err)?;
        let existing = header_of(path).map_err(err)?;
        let Some(existing) = existing else {
            return Self::create(path, fields);
        };
        let wanted: Vec<String> = header(fields).collect();
        if existing != wanted {
            return Err(StoreError(format!(
                "cannot resume output file '{name}': its columns differ from this crawl's (another --select?)"
            )));
        }
        let file = File::options().append(true).open(path).map_err(err)?;
        let regular = file.metadata().map_err(err)?.is_file();
        let sync = if regular {
            Some(file.try_clone().map_err(err)?)
        } else {
            None
        };
        Ok(CsvStore {
            sink: Arc::new(Mutex::new(Sink {
                writer: writer(Box::new(file)),
                file: sync,
            })),
            fields: fields.into(),
            name: name.into(),
        })
    }

    /// Write to standard output (the header first).
    pub fn stdout(fields: &[String]) -> Result<Self, StoreError> {
        Self::with_writer(Box::new(io::stdout()), None, fields, "stdout".into())
    }

    fn with_writer(
        writer: Box<dyn Write + Send>,
        file: Option<File>,
        fields: &[String],
        name: String,
    ) -> Result<Self, StoreError> {
        let mut writer = self::writer(writer);
        writer
            .write_record(header(fields))
            .map_err(|e| StoreError(format!("cannot write to '{name}': {e}")))?;
        Ok(CsvStore {
            sink: Arc::new(Mutex::new(Sink { writer, file })),
            fields: fields.into(),
            name: name.into(),
        })
    }

    /// What this store writes to: the file path, or `stdout`.
    pub fn target(&self) -> &str {
        &self.name
    }
}

fn writer(out: Box<dyn Write + Send>) -> csv::Writer<Box<dyn Write + Send>> {
    csv::WriterBuilder::new()
        .buffer_capacity(64 * 1024)
        .from_writer(out)
}

/// The header row: [`COLUMNS`], then `fields.NAME` for each of `fields`.
fn header(fields: &[String]) -> impl Iterator<Item = String> + '_ {
    COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(fields.iter().map(|f| format!("fields.{f}")))
}

/// The first row of the CSV file at `path`; `None` if it is missing or
/// empty (or not a regular file, which has nothing to read back).
fn header_of(path: &Path) -> io::Result<Option<Vec<String>>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(io::Error::from)?;
    let mut row = csv::StringRecord::new();
    if !reader.read_record(&mut row).map_err(io::Error::from)? {
        return Ok(None);
    }
    Ok(Some(row.iter().map(str::to_owned).collect()))
}

/// The length of the complete rows of `file`: up to and including the last
/// newline outside quotes. A quoted cell may hold newlines (visible text
/// has many), so the last newline alone is not enough: a `"` toggles
/// "inside quotes" (an escaped `""` toggles twice). Reads the file in
/// blocks, front to back, so memory stays small however large it is.
fn last_row_end(file: &mut File) -> io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut offset, mut end, mut quoted) = (0u64, 0u64, false);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(end);
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            match b {
                b'"' => quoted = !quoted,
                b'\n' if !quoted => end = offset + i as u64 + 1,
                _ => {}
            }
        }
        offset += n as u64;
    }
}

/// The cells of one record, in header order.
pub fn row(record: &Record, fields: &[String]) -> Vec<String> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut cells = vec![
        record.url.clone(),
        opt(&record.final_url),
        num(record.status.map(u64::from)),
        record.depth.to_string(),
        opt(&record.parent),
        opt(&record.title),
        opt(&record.description),
        opt(&record.lang),
        opt(&record.canonical),
        record.links_count.to_string(),
        record
            .links
            .as_ref()
            .map(|l| l.join(" "))
            .unwrap_or_default(),
        opt(&record.text),
        opt(&record.content_type),
        record.bytes.to_string(),
        opt(&record.sha256),
        record.fetched_at.to_string(),
        record.elapsed_ms.to_string(),
        record.retries.to_string(),
        record
            .error
            .as_ref()
            .map(|e| e.kind.as_str().to_owned())
            .unwrap_or_default(),
        record
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default(),
        record.noindex.to_string(),
    ];
    cells.extend(fields.iter().map(|f| {
        match record.fields.get(f).and_then(Option::as_ref) {
            None => String::new(),
            Some(FieldValue::One(text)) => text.clone(),
            // Values may hold spaces and commas (text does): a JSON array
            // keeps them apart, and every CSV consumer can read one.
            Some(list @ FieldValue::All(_)) => {
                serde_json::to_string(list).expect("strings serialize")
            }
        }
    }));
    cells
}

impl CsvStore {
    async fn run(
        &self,
        what: &'static str,
        job: impl FnOnce(&mut Sink) -> io::Result<()> + Send + 'static,
    ) -> Result<(), StoreError> {
        let sink = Arc::clone(&self.sink);
        smol::unblock(move || job(&mut sink.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| StoreError(format!("cannot {what} '{}': {e}", self.name)))
    }
}

impl Store for CsvStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let rows: Vec<Vec<String>> = batch.iter().map(|r| row(r, &self.fields)).collect();
            self.run("write to", move |sink| {
                for cells in rows {
                    sink.writer.write_record(&cells).map_err(io::Error::from)?;
                }
                Ok(())
            })
            .await
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.run("flush", |sink| {
            sink.writer.flush()?;
            match &sink.file {
                Some(file) => file.sync_all(),
                None => Ok(()),
            }
        }))
    }
}
