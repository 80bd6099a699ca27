//! [`Bounded`]: a store whose writes give up at a deadline set from outside.
//!
//! After Ctrl-C, `--grace` bounds how long pages in flight may take; a
//! store that hangs (an HTTP sink that accepts the connection and never
//! answers, with its minute-long timeout and five retries) would otherwise
//! hold the exit for many minutes. The front end wraps such a store in
//! [`Bounded`] and, on the interrupt, sets the shared [`ShutdownDeadline`]:
//! a write still running then is abandoned at the deadline and fails with a
//! [`StoreError`], so the core stops, counts the records that were not
//! written, and reports them. A write that *starts* after the deadline (the
//! records of pages cut off by the grace period) still gets
//! [`LAST_CHANCE`]: a healthy store takes them in milliseconds.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use semcrawl_core::{Record, Store};
//! use semcrawl_smol::store::{Bounded, ShutdownDeadline};
//!
//! /// A store that never finishes a write.
//! struct Stuck;
//! impl Store for Stuck {
//!     fn write<'a>(&'a mut self, _: &'a [Record]) -> semcrawl_core::BoxFuture<'a, Result<(), semcrawl_core::StoreError>> {
//!         Box::pin(futures::future::pending())
//!     }
//!     fn flush(&mut self) -> semcrawl_core::BoxFuture<'_, Result<(), semcrawl_core::StoreError>> {
//!         Box::pin(async { Ok(()) })
//!     }
//! }
//!
//! let deadline = ShutdownDeadline::default();
//! let mut store = Bounded::new(Stuck, "stuck", deadline.clone());
//! deadline.set(Instant::now());
//! let error = smol::block_on(store.write(&[Record::new("https://example.com/", 0, None)]));
//! assert!(error.unwrap_err().0.contains("stuck"));
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures::future::{select, Either};
use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// How long a write that starts after the deadline may still take.
pub const LAST_CHANCE: Duration = Duration::from_secs(1);

/// When a shutdown must be over. Cheap to clone; set once (the first
/// [`ShutdownDeadline::set`] wins).
#[derive(Debug, Clone, Default)]
pub struct ShutdownDeadline {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    at: Mutex<Option<Instant>>,
    changed: Event,
}

impl ShutdownDeadline {
    /// Writes running at `at` are abandoned then. Safe to call from a
    /// signal-handling thread.
    pub fn set(&self, at: Instant) {
        let mut slot = self.shared.at.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(at);
            drop(slot);
            self.shared.changed.notify(usize::MAX);
        }
    }

    fn get(&self) -> Option<Instant> {
        *self.shared.at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when a write that started at `started` must give up.
    async fn passed(&self, started: Instant) {
        let at = loop {
            if let Some(at) = self.get() {
                break at;
            }
            let listener = self.shared.changed.listen();
            if let Some(at) = self.get() {
                break at;
            }
            listener.await;
        };
        smol::Timer::at(at.max(started + LAST_CHANCE)).await;
    }
}

/// A store whose writes and flushes give up at a [`ShutdownDeadline`].
pub struct Bounded<S> {
    inner: S,
    name: String,
    deadline: ShutdownDeadline,
}

impl<S> std::fmt::Debug for Bounded<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded")
            .field("name", &self.name)
            .field("deadline", &self.deadline.get())
            .finish_non_exhaustive()
    }
}

impl<S: Store> Bounded<S> {
    /// Wrap `inner`; `name` (a URL, a path) goes into the timeout error.
    pub fn new(inner: S, name: impl Into<String>, deadline: ShutdownDeadline) -> Self {
        Bounded {
            inner,
            name: name.into(),
            deadline,
        }
    }
}

impl<S: Store> Store for Bounded<S> {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            let passed = Box::pin(self.deadline.passed(started));
            match select(self.inner.write(batch), passed).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(StoreError(format!(
                    "'{}' did not take a batch of {} records before the shutdown deadline",
                    self.name,
                    batch.len()
                ))),
            }
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let passed = Box::pin(self.deadline.passed(Instant::now()));
            match select(self.inner.flush(), passed).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(StoreError(format!(
                    "'{}' was not flushed before the shutdown deadline",
                    self.name
                ))),
            }
        })
    }
}
