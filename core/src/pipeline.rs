//! The crawl loop. (STUB: being implemented.)
use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::runtime::{Fetch, Runtime, Store, StoreError};
use crate::stats::{Stats, Summary};

/// Asks a running crawl to stop taking new URLs. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {}

impl StopHandle {
    /// Request a stop: no new URL is started; in-flight pages finish within
    /// the grace period or are recorded as interrupted; the store is flushed.
    pub fn stop(&self) {}
    /// Whether a stop was requested.
    pub fn is_stopped(&self) -> bool {
        false
    }
}

/// A configured crawl, ready to run.
pub struct Crawler<F: Fetch, R: Runtime> {
    _p: std::marker::PhantomData<(F, R)>,
}

impl<F: Fetch, R: Runtime> Crawler<F, R> {
    /// Validate `config` and set up the crawl.
    pub fn new(config: Config, fetch: F, runtime: R) -> Result<Self, ConfigError> {
        let _ = (config, fetch, runtime);
        todo!()
    }
    /// Live counters for progress displays.
    pub fn stats(&self) -> Arc<Stats> {
        todo!()
    }
    /// A handle to stop the crawl from elsewhere (Ctrl-C, an AbortSignal).
    pub fn stop_handle(&self) -> StopHandle {
        todo!()
    }
    /// Crawl until the frontier is empty, a limit is reached or a stop is
    /// requested; write every record to `store`; flush it; summarize.
    pub async fn run<S: Store>(self, store: S) -> Result<Summary, StoreError> {
        let _ = store;
        todo!()
    }
}
