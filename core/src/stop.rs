//! The stop signal: a one-way flag that async code can wait for.
//!
//! A crawl is stopped from outside (Ctrl-C, a browser's `AbortSignal`)
//! through a [`StopHandle`], and its coordinator also fires a [`Signal`] of
//! its own when the grace period is over, to cancel the pages still in
//! flight. Both need the same thing: a flag that is cheap to check in a
//! loop, and a future that resolves once it is set, on any executor. That
//! is all this file is, so that the crawl loop does not carry it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use event_listener::Event;

/// A one-way flag that async code can wait for.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    fired: AtomicBool,
    event: Event,
}

impl Signal {
    /// Set the flag and wake every waiter (again and again is harmless).
    pub(crate) fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Resolve once the flag is set (at once if it is already).
    pub(crate) async fn wait(&self) {
        loop {
            if self.is_fired() {
                return;
            }
            // Listen, then check again: a `fire` between the first check
            // and `listen` would otherwise be missed.
            let listener = self.event.listen();
            if self.is_fired() {
                return;
            }
            listener.await;
        }
    }
}

/// Asks a running crawl to stop taking new URLs. Cheap to clone.
///
/// ```
/// let stop = semcrawl_core::StopHandle::default();
/// assert!(!stop.is_stopped());
/// stop.clone().stop();
/// assert!(stop.is_stopped());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    signal: Arc<Signal>,
}

impl StopHandle {
    /// Request a stop: no new URL is started; in-flight pages finish within
    /// the grace period or are recorded as interrupted; the store is flushed.
    pub fn stop(&self) {
        self.signal.fire();
    }

    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.signal.is_fired()
    }

    pub(crate) async fn wait(&self) {
        self.signal.wait().await
    }
}
