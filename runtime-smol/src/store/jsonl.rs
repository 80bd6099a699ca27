//! [`JsonlStore`]: records as JSON Lines, to a file or to stdout.
//!
//! One record per line is the format that survives anything: a crawl killed
//! half-way leaves a file whose complete lines are all valid records, and
//! `wc -l` counts pages. Each batch is written through to the file (or
//! stdout) as soon as the core hands it over, in one `write`: a crawl killed
//! with `kill -9` loses only the pages still in flight, and `tail -f` shows
//! records as they come, even on a slow crawl. Nothing is held in a user-space
//! buffer between batches (the core already groups records into batches, so
//! this costs one system call per batch). [`Store::flush`] `fsync`s the file
//! so what was reported stored survives a power cut too.
//!
//! File I/O is blocking, so stdout (a pipe whose reader may stall) and
//! large batches go through `smol`'s blocking pool ([`smol::unblock`]),
//! never blocking the executor threads that parse pages. A batch of at most
//! [`INLINE_MAX`] bytes to a regular file is written in place instead: it
//! only copies into the operating system's cache (microseconds), while the
//! hop to a pool thread and back cost two thread wake-ups per batch, about
//! 2% of a fast crawl's CPU (`docs/bench/perf.md`). The writer sits behind
//! a mutex rather than being moved into the blocking job: if the core drops
//! a `write` future half-way, the job still finishes and the writer is not
//! lost.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// Writes each record as one line of JSON.
///
/// ```
/// use semcrawl_core::{Record, Store};
/// use semcrawl_smol::store::JsonlStore;
///
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-{}.jsonl", std::process::id()));
/// let mut store = JsonlStore::create(&path).unwrap();
/// smol::block_on(async {
///     store.write(&[Record::new("https://example.com/", 0, None)]).await.unwrap();
///     store.flush().await.unwrap();
/// });
/// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct JsonlStore {
    sink: Arc<Mutex<Sink>>,
    name: Arc<str>,
    /// The sink is a regular file: small batches are written in place.
    regular: bool,
}

/// The largest batch written to a regular file in place, without the
/// blocking pool (see the module docs).
const INLINE_MAX: usize = 256 * 1024;

#[derive(Debug)]
enum Sink {
    File(File),
    Stdout(io::Stdout),
}

impl JsonlStore {
    /// Create (or truncate) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), false)
    }

    /// Open the file at `path` for appending, creating it if needed.
    pub fn append(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), true)
    }

    /// Open the file at `path` to go on with an earlier crawl's output:
    /// a last line without its newline (torn by a kill in the middle of a
    /// write) is cut off first, then records are appended. A missing file
    /// is created.
    ///
    /// ```
    /// use semcrawl_core::{Record, Store};
    /// use semcrawl_smol::store::JsonlStore;
    ///
    /// let path = std::env::temp_dir().join(format!("semcrawl-doc-resume-{}.jsonl", std::process::id()));
    /// std::fs::write(&path, "{\"url\":\"https://a.test/\"}\n{\"url\":\"https://a.te").unwrap();
    /// let mut store = JsonlStore::resume(&path).unwrap();
    /// smol::block_on(store.write(&[Record::new("https://b.test/", 0, None)])).unwrap();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text.lines().count(), 2);
    /// assert!(text.lines().all(|l| l.ends_with('}')), "{text}");
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn resume(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        cut_torn_tail(path, last_line_end).map_err(|e| {
            StoreError(format!(
                "cannot resume output file '{}': {e}",
                path.display()
            ))
        })?;
        Self::open_with(path, true)
    }

    /// Write to standard output.
    pub fn stdout() -> Self {
        JsonlStore {
            sink: Arc::new(Mutex::new(Sink::Stdout(io::stdout()))),
            name: "stdout".into(),
            regular: false,
        }
    }

    fn open_with(path: &Path, append: bool) -> Result<Self, StoreError> {
        let mut options = File::options();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(path).map_err(|e| {
            StoreError(format!("cannot open output file '{}': {e}", path.display()))
        })?;
        // `/dev/null`, a FIFO or a terminal may block or be slow: pool.
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        Ok(JsonlStore {
            sink: Arc::new(Mutex::new(Sink::File(file))),
            name: PathBuf::from(path).display().to_string().into(),
            regular,
        })
    }

    /// What this store writes to: the file path, or `stdout`.
    pub fn target(&self) -> &str {
        &self.name
    }

    async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        job: impl FnOnce(&mut Sink) -> io::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let sink = Arc::clone(&self.sink);
        smol::unblock(move || job(&mut sink.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| StoreError(format!("cannot {what} '{}': {e}", self.name)))
    }
}

/// The length of the complete lines of `file`: up to and including its
/// last newline (JSON Lines never holds a raw newline inside a record, so
/// every newline ends one). Reads backwards from the end, a block at a
/// time, so a large output is not read whole.
fn last_line_end(file: &mut File) -> io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: u64 = 64 * 1024;
    let mut end = file.metadata()?.len();
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let block = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(block)?;
        if let Some(i) = block.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Truncate the regular file at `path` to the length `complete` finds in
/// it: what a kill in the middle of a write left after the last whole
/// record goes. A missing file, or one that is not a regular file
/// (`/dev/null`, a FIFO), is left alone.
pub(crate) fn cut_torn_tail(
    path: &Path,
    complete: fn(&mut File) -> io::Result<u64>,
) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut file = File::options().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let keep = complete(&mut file)?;
    if keep < len {
        tracing::warn!(
            "{}: cutting the last {} bytes, a record torn by the previous run",
            path.display(),
            len - keep
        );
        file.set_len(keep)?;
        file.sync_all()?;
    }
    Ok(())
}

/// Serialize `batch` as JSON Lines.
pub(crate) fn to_lines(batch: &[Record]) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(batch.len() * 512);
    for record in batch {
        serde_json::to_writer(&mut buf, record)
            .map_err(|e| StoreError(format!("cannot serialize record for {}: {e}", record.url)))?;
        buf.push(b'\n');
    }
    Ok(buf)
}

impl Store for JsonlStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let lines = to_lines(batch)?;
            // Written through: the batch is in the file (the OS's cache)
            // when `write` returns, so a killed process cannot lose it.
            if self.regular && lines.len() <= INLINE_MAX {
                let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
                if let Sink::File(f) = &mut *sink {
                    return f
                        .write_all(&lines)
                        .map_err(|e| StoreError(format!("cannot write to '{}': {e}", self.name)));
                }
            }
            self.run("write to", move |sink| match sink {
                Sink::File(f) => f.write_all(&lines),
                Sink::Stdout(out) => {
                    let mut out = out.lock();
                    out.write_all(&lines)?;
                    out.flush()
                }
            })
            .await
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.run("flush", |sink| match sink {
            Sink::File(f) => {
                // `/dev/null`, a FIFO or a terminal cannot be fsynced
                // (EINVAL) and has nothing to make durable.
                if f.metadata()?.is_file() {
                    f.sync_all()
                } else {
                    Ok(())
                }
            }
            Sink::Stdout(out) => out.flush(),
        }))
    }
}
