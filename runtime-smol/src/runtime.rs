//! [`SmolRuntime`]: the core's [`Runtime`] on a multi-threaded `smol` executor.
//!
//! The core spawns one task per page and parses HTML *inside* that task, so
//! parsing is CPU work on whatever thread polls the task. A single-threaded
//! executor would parse one page at a time; instead one shared
//! [`smol::Executor`] is run by N OS threads (N = the machine's available
//! parallelism unless told otherwise), and any idle thread steals ready tasks.
//! No separate CPU pool or channel hop is needed.
//!
//! The threads stop when the last clone of the runtime is dropped. A detached
//! task that holds a clone keeps the runtime alive until it finishes, which is
//! what a detached task expects; the core awaits its own tasks before
//! [`Crawler::run`](semcrawl_core::Crawler::run) returns, so after a crawl the
//! caller's handle is the last one.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use semcrawl_core::{BoxFuture, Runtime};
use smol::channel::{Receiver, Sender};
use smol::Executor;

/// The core's [`Runtime`] on a shared `smol` executor run by worker threads.
///
/// Cheap to clone: clones share the executor, the threads and the clock.
///
/// ```
/// use semcrawl_core::Runtime;
/// use semcrawl_smol::SmolRuntime;
///
/// let rt = SmolRuntime::with_threads(2).unwrap();
/// let (tx, rx) = smol::channel::bounded(1);
/// rt.spawn(Box::pin(async move { tx.send(6 * 7).await.unwrap() }));
/// assert_eq!(rt.block_on(rx.recv()).unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct SmolRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    executor: Arc<Executor<'static>>,
    origin: Instant,
    threads: usize,
    /// Closed (by dropping it) to tell the workers to return.
    stop: Option<Sender<()>>,
    workers: Mutex<Vec<(ThreadId, JoinHandle<()>)>>,
}

impl SmolRuntime {
    /// A runtime with one worker thread per available core.
    pub fn new() -> io::Result<Self> {
        Self::with_threads(default_threads())
    }

    /// A runtime with `threads` worker threads (at least one).
    pub fn with_threads(threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let executor = Arc::new(Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let executor = Arc::clone(&executor);
            let stopped: Receiver<()> = stopped.clone();
            let spawned = thread::Builder::new()
                .name(format!("semcrawl-smol-{i}"))
                .spawn(move || {
                    // `recv` fails once every sender is gone: that is the stop signal.
                    smol::block_on(executor.run(async { stopped.recv().await.ok() }));
                });
            match spawned {
                Ok(handle) => workers.push((handle.thread().id(), handle)),
                Err(e) => {
                    // Stop the threads already started before reporting.
                    drop(stop);
                    for (_, handle) in workers {
                        let _ = handle.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(SmolRuntime {
            shared: Arc::new(Shared {
                executor,
                origin: Instant::now(),
                threads,
                stop: Some(stop),
                workers: Mutex::new(workers),
            }),
        })
    }

    /// Number of worker threads running the executor.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Run `future` to completion on the calling thread while the worker
    /// threads run spawned tasks. The future need not be `Send`.
    ///
    /// Do not call this from inside a task of this runtime: it would block a
    /// worker thread.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    /// Spawn a future and get a handle to its output (dropping the handle
    /// cancels the task; [`Runtime::spawn`] detaches instead).
    pub fn spawn_task<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> smol::Task<T> {
        self.shared.executor.spawn(future)
    }
}

impl std::fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmolRuntime")
            .field("threads", &self.shared.threads)
            .finish_non_exhaustive()
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.shared.executor.spawn(future).detach();
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }

    fn now(&self) -> Duration {
        self.shared.origin.elapsed()
    }

    fn unix_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        drop(self.stop.take());
        let me = thread::current().id();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for (id, handle) in workers {
            // The last handle may be dropped by a task on a worker thread:
            // that thread returns by itself once the task's poll ends.
            if id != me {
                let _ = handle.join();
            }
        }
    }
}

/// The default number of worker threads: the machine's available parallelism.
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}
