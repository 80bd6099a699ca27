//! Where a crawl's records go: `--out`, `--format` and `--post` turned into
//! one store, and what happens when standard output goes away.
//!
//! * `--out` picks the format from its extension (`.jsonl`, `.csv`,
//!   `.sqlite`, ...), or `--format` says it; an unknown extension is refused
//!   before the crawl (see `semcrawl_smol::store::Format`).
//! * `--out` and `--post` together write every record to both (a
//!   `TeeStore`); `--post` alone replaces the default stdout.
//! * A closed stdout (`semcrawl crawl URL | head -1`) is the reader saying
//!   "enough", as it is for `cat` or `rg`: the crawl stops as on Ctrl-C and
//!   exits 0 without a word, instead of failing on a broken pipe.
//!   [`StdoutGuard`] sees the store's write fail, checks that stdout's reader
//!   is gone (not a full disk, which stays an error), stops the crawl and
//!   drops the records still to come.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use semcrawl_core::{BoxFuture, Record, StopHandle, Store, StoreError};
use semcrawl_smol::store::{
    open_target, reopen_target, Bounded, Format, HttpSinkOptions, HttpSinkStore, ShutdownDeadline,
    TeeStore,
};
use url::Url;

use crate::Failure;

/// The store of a crawl, and whether its stdout was closed by the reader.
pub struct Output {
    /// Every record goes here.
    pub store: Box<dyn Store>,
    /// Set when stdout's reader went away; see the [module docs](self).
    pub stdout: StdoutState,
}

/// Shared between [`StdoutGuard`] and the code that runs the crawl.
#[derive(Debug, Clone, Default)]
pub struct StdoutState {
    closed: Arc<AtomicBool>,
    stop: Arc<OnceLock<StopHandle>>,
}

impl StdoutState {
    /// Stop `handle`'s crawl when stdout closes.
    pub fn stop_on_close(&self, handle: StopHandle) {
        let _ = self.stop.set(handle);
    }

    /// Whether stdout's reader went away during the crawl.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::Relaxed) {
            if let Some(stop) = self.stop.get() {
                stop.stop();
            }
        }
    }
}

/// Open the outputs: `out` (`None`: stdout, unless `post` is given) in
/// `format` (`None`: from the extension), and the `post` sink. `fields` are
/// the `--select` names (the CSV header lists them). With `resume`, an
/// earlier run's output file is kept and appended to
/// ([`reopen_target`]).
pub fn open(
    out: Option<&str>,
    format: Option<Format>,
    post: Option<&Url>,
    fields: &[String],
    deadline: &ShutdownDeadline,
    resume: bool,
) -> Result<Output, Failure> {
    let stdout = StdoutState::default();
    let mut stores: Vec<Box<dyn Store>> = Vec::new();
    let target = match (out, post) {
        (Some(out), _) => Some(out),
        (None, None) => Some("-"),
        (None, Some(_)) => None,
    };
    if let Some(target) = target {
        let url = ["http://", "https://"]
            .iter()
            .any(|p| target.to_ascii_lowercase().starts_with(p));
        if format.is_none() && target != "-" && !url {
            if let Err(e) = Format::from_extension(target) {
                return Err(Failure::Usage(format!(
                    "cannot open --out '{target}': {}; --format {} says what to write",
                    e.0,
                    Format::ALL.map(Format::name).join("|")
                )));
            }
        }
        let opened = if resume {
            reopen_target(target, format, fields)
        } else {
            open_target(target, format, fields)
        };
        let store =
            opened.map_err(|e| Failure::Usage(format!("cannot open --out '{target}': {}", e.0)))?;
        let lower = target.to_ascii_lowercase();
        stores.push(if target == "-" {
            Box::new(StdoutGuard {
                inner: store,
                state: stdout.clone(),
            })
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            Box::new(Bounded::new(store, target, deadline.clone()))
        } else {
            // A local file needs no deadline: cutting a slow disk's write
            // would lose records.
            store
        });
    } else if let Some(format) = format {
        return Err(Failure::Usage(format!(
            "--format {format} needs --out (with --post alone, records only go to the sink)"
        )));
    }
    if let Some(url) = post {
        let sink = HttpSinkStore::new(url.as_str(), HttpSinkOptions::default())
            .map_err(|e| Failure::Usage(format!("cannot use --post {url}: {}", e.0)))?;
        stores.push(Box::new(Bounded::new(sink, url.as_str(), deadline.clone())));
    }
    let store: Box<dyn Store> = if stores.len() == 1 {
        stores.pop().expect("one store")
    } else {
        Box::new(TeeStore::new(stores))
    };
    Ok(Output { store, stdout })
}

/// A store writing to stdout that turns "the reader went away" into a stop.
pub struct StdoutGuard {
    inner: Box<dyn Store>,
    state: StdoutState,
}

impl StdoutGuard {
    /// `Ok` (and a stop) if `result` failed because stdout is closed.
    fn check(&self, result: Result<(), StoreError>) -> Result<(), StoreError> {
        match result {
            Err(_) if stdout_reader_gone() => {
                self.state.close();
                Ok(())
            }
            other => other,
        }
    }
}

impl Store for StdoutGuard {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.state.closed() {
                return Ok(());
            }
            let result = self.inner.write(batch).await;
            self.check(result)
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if self.state.closed() {
                return Ok(());
            }
            let result = self.inner.flush().await;
            self.check(result)
        })
    }
}

/// Whether standard output is a pipe or socket whose reader has gone:
/// `poll` reports `POLLERR` (pipe) or `POLLHUP` (socket) on it.
#[cfg(unix)]
fn stdout_reader_gone() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

/// Elsewhere a failed write to stdout stays an error.
#[cfg(not(unix))]
fn stdout_reader_gone() -> bool {
    false
}
