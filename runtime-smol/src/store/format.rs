//! [`Format`]: which file format an output target gets, from its extension
//! or from an explicit choice.
//!
//! Guessing is where outputs go wrong silently: `-o pages.csv` that writes
//! JSON, or `-o pages.parquet` that writes something no Parquet reader
//! opens. So the extension decides only when it is one this crate writes;
//! any other extension is refused with a message listing the formats, unless
//! the caller names the format ([`open_target`] with `Some(format)`, the
//! CLI's `--format`). A target with no extension at all (`-`, `/dev/null`,
//! `out`) is JSON Lines, the default format.

use std::path::Path;

use semcrawl_core::{Store, StoreError};

use super::{CsvStore, HttpSinkOptions, HttpSinkStore, JsonlStore, SqliteStore};

/// A file format semcrawl writes records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line ([`JsonlStore`]).
    Jsonl,
    /// One row per record under a fixed header ([`CsvStore`]).
    Csv,
    /// A `pages` table ([`SqliteStore`]).
    Sqlite,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Csv, Format::Sqlite];

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Sqlite => "sqlite",
        }
    }

    /// The file extensions (lowercase, without the dot) that select it.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Jsonl => &["jsonl", "ndjson"],
            Format::Csv => &["csv"],
            Format::Sqlite => &["sqlite", "sqlite3", "db"],
        }
    }

    /// The format of a file target, from its extension: `Ok(None)` when it
    /// has none (the caller's default applies), an error naming the
    /// extension and the known ones when it is not one of [`Format::ALL`]'s.
    ///
    /// ```
    /// use semcrawl_smol::store::Format;
    /// assert_eq!(Format::from_extension("out/pages.CSV").unwrap(), Some(Format::Csv));
    /// assert_eq!(Format::from_extension("/dev/null").unwrap(), None);
    /// let err = Format::from_extension("pages.parquet").unwrap_err();
    /// assert!(err.0.contains(".parquet") && err.0.contains("give the format"), "{err}");
    /// ```
    pub fn from_extension(target: &str) -> Result<Option<Format>, StoreError> {
        let Some(ext) = Path::new(target).extension().and_then(|e| e.to_str()) else {
            return Ok(None);
        };
        let lower = ext.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.extensions().contains(&lower.as_str()))
            .map(Some)
            .ok_or_else(|| {
                let known: Vec<String> = Format::ALL
                    .iter()
                    .map(|f| {
                        let exts: Vec<String> =
                            f.extensions().iter().map(|e| format!(".{e}")).collect();
                        format!("{} ({})", f.name(), exts.join(", "))
                    })
                    .collect();
                StoreError(format!(
                    "unknown output extension '.{ext}': semcrawl writes {}; name one of those, or give the format ({})",
                    known.join(", "),
                    Format::ALL.map(Format::name).join("|")
                ))
            })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown format '{s}': expected one of {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

/// Open the store for `target`: `-` is standard output, `http://`/`https://`
/// an [`HttpSinkStore`], anything else a file. `format` overrides the
/// extension (see the [module docs](self)); `fields` are the user field
/// names, which a CSV header lists.
///
/// ```
/// use semcrawl_smol::store::{open_target, Format};
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-{}.out", std::process::id()));
/// let target = path.to_str().unwrap();
/// assert!(open_target(target, None, &[]).is_err(), ".out is no known format");
/// let store = open_target(target, Some(Format::Csv), &["price".to_string()]).unwrap();
/// # drop(store);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn open_target(
    target: &str,
    format: Option<Format>,
    fields: &[String],
) -> Result<Box<dyn Store>, StoreError> {
    open(target, format, fields, false)
}

/// [`open_target`] for a crawl that goes on where an earlier run stopped:
/// what that run stored is kept. A JSON Lines file is appended to after its
/// torn last line (if a kill left one) is cut ([`JsonlStore::resume`]), a
/// CSV file likewise, under its existing header ([`CsvStore::resume`]); an
/// SQLite table is upserted into as always (one row per URL); standard
/// output and an HTTP sink have nothing to keep.
///
/// ```
/// use semcrawl_smol::store::reopen_target;
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-reopen-{}.jsonl", std::process::id()));
/// std::fs::write(&path, "{\"url\":\"https://a.test/\"}\n").unwrap();
/// let store = reopen_target(path.to_str().unwrap(), None, &[]).unwrap();
/// # drop(store);
/// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1, "kept");
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn reopen_target(
    target: &str,
    format: Option<Format>,
    fields: &[String],
) -> Result<Box<dyn Store>, StoreError> {
    open(target, format, fields, true)
}

fn open(
    target: &str,
    format: Option<Format>,
    fields: &[String],
    resume: bool,
) -> Result<Box<dyn Store>, StoreError> {
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Box::new(HttpSinkStore::new(
            target,
            HttpSinkOptions::default(),
        )?));
    }
    let stdout = target == "-";
    let format = match format {
        Some(f) => f,
        None if stdout => Format::Jsonl,
        None => Format::from_extension(target)?.unwrap_or(Format::Jsonl),
    };
    Ok(match (format, stdout) {
        (Format::Jsonl, true) => Box::new(JsonlStore::stdout()),
        (Format::Jsonl, false) if resume => Box::new(JsonlStore::resume(target)?),
        (Format::Jsonl, false) => Box::new(JsonlStore::create(target)?),
        (Format::Csv, true) => Box::new(CsvStore::stdout(fields)?),
        (Format::Csv, false) if resume => Box::new(CsvStore::resume(target, fields)?),
        (Format::Csv, false) => Box::new(CsvStore::create(target, fields)?),
        (Format::Sqlite, true) => {
            return Err(StoreError(
                "SQLite cannot be written to stdout: name a file".into(),
            ))
        }
        (Format::Sqlite, false) => Box::new(SqliteStore::open(target)?),
    })
}
