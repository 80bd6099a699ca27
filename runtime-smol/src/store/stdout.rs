//! A store on standard output that stops the crawl when stdout's reader
//! goes away.
//!
//! A closed stdout (`semcrawl crawl URL | head -1`) is the reader saying
//! "enough", as it is for `cat` or `rg`: the crawl should stop as on Ctrl-C
//! and end quietly, instead of failing on a broken pipe. [`StdoutGuard`]
//! sees the inner store's write fail, checks that stdout's reader is gone
//! (not a full disk, which stays an error), stops the crawl and drops the
//! records still to come.
//!
//! ```
//! use semcrawl_smol::store::{JsonlStore, StdoutGuard, StdoutState};
//! let state = StdoutState::default();
//! let store = StdoutGuard::new(Box::new(JsonlStore::stdout()), state.clone());
//! # drop(store);
//! assert!(!state.closed());
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use semcrawl_core::{BoxFuture, Record, StopHandle, Store, StoreError};

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

/// A store writing to stdout that turns "the reader went away" into a stop.
pub struct StdoutGuard {
    inner: Box<dyn Store>,
    state: StdoutState,
}

impl StdoutGuard {
    /// Guard `inner`, a store writing to stdout, reporting through `state`.
    pub fn new(inner: Box<dyn Store>, state: StdoutState) -> Self {
        StdoutGuard { inner, state }
    }

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
