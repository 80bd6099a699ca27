//! A crawl run natively, from its state to its summary: what a front end
//! (the `semcrawl` binary, or a program embedding a crawl) would otherwise
//! wire by hand.
//!
//! Two steps, in this order, because the order matters to the user:
//!
//! 1. [`CrawlState::open`] finds the crawl's state: a directory to resume
//!    from, a temporary one, or a crawl shared through Redis. It comes
//!    before the output is opened, so that a refused resume (other seeds,
//!    another format version, a directory in use) has neither truncated the
//!    output of the crawl it would have resumed nor sent a request; and
//!    [`CrawlState::appends`] then says whether the output is appended to.
//! 2. [`NativeCrawl::new`] builds the executor, the HTTP client and the
//!    core's [`Crawler`] on that state's frontier; [`NativeCrawl::run`]
//!    catches SIGINT and SIGTERM (see [`signals`](crate::signals)), runs
//!    the crawl into a store, and gives the [`Finished`] crawl.
//!
//! Errors name settings, never flags: the front end words them.
//!
//! ```no_run
//! use std::time::Duration;
//! use semcrawl_core::Config;
//! use semcrawl_smol::crawl::{CrawlState, NativeCrawl, Place};
//! use semcrawl_smol::state::CrawlIdentity;
//! use semcrawl_smol::{FetchOptions, JsonlStore};
//!
//! let mut config = Config::default();
//! config.seeds = vec!["https://example.com/".parse().unwrap()];
//! let state = CrawlState::open(Place::Temporary, &config, &CrawlIdentity::default()).unwrap();
//! let crawl = NativeCrawl::new(config, FetchOptions::default(), None, state).unwrap();
//! let store = JsonlStore::create("pages.jsonl").unwrap();
//! let finished = crawl.run(Box::new(store), Duration::from_secs(10), Default::default()).unwrap();
//! println!("{} pages", finished.summary.pages);
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use semcrawl_core::frontier::frontier_share;
use semcrawl_core::{Config, ConfigError, Crawler, Stats, StopHandle, Store, StoreError, Summary};

use crate::redis::{Address, Joined, RedisError, RedisFrontier, RedisOptions, WorkerFigures};
use crate::signals::{Interrupts, OnSignal};
use crate::state::{
    open_frontier, open_spilling_frontier, CrawlIdentity, Resume, StateDir, StateError,
};
use crate::store::ShutdownDeadline;
use crate::{FetchOptions, HttpFetcher, SmolRuntime};

/// Where a crawl's state lives.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// A temporary directory, removed at exit: the crawl is bounded all the
    /// same, but a rerun starts over.
    Temporary,
    /// A directory to keep it in and resume from.
    Dir(&'a Path),
    /// A Redis (`redis://HOST:PORT[/DB]`) holding the crawl `name`, shared
    /// by every worker that opens it.
    Redis {
        /// The address.
        url: &'a str,
        /// The crawl's name in that Redis.
        name: &'a str,
    },
}

/// Why a crawl's state could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The directory: refused (another crawl's, in use, another format
    /// version: [`StateError::is_usage`]) or failing.
    Dir(StateError),
    /// Not a Redis address (the message quotes it).
    Address(String),
    /// The Redis: its address, then what went wrong there.
    Redis(String, RedisError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Dir(e) => write!(f, "{e}"),
            OpenError::Address(e) => f.write_str(e),
            OpenError::Redis(url, e) => write!(f, "{url}: {}", one_line(&e.to_string())),
        }
    }
}

impl std::error::Error for OpenError {}

impl OpenError {
    /// Whether the user can fix it by changing the command (exit code 2):
    /// another crawl's state, a directory in use, no Redis at the address.
    pub fn is_usage(&self) -> bool {
        match self {
            OpenError::Dir(e) => e.is_usage(),
            OpenError::Address(_) => true,
            OpenError::Redis(_, e) => !matches!(e, RedisError::Failed(_)),
        }
    }
}

/// A crawl shared through Redis, started or joined by this worker.
struct SharedCrawl {
    address: Address,
    name: String,
    /// Until the crawler takes it.
    frontier: Option<RedisFrontier>,
    joined: Joined,
}

/// A crawl's state, opened: a directory (kept, or temporary), what it
/// resumes from, and for a shared crawl its Redis frontier.
pub struct CrawlState {
    dir: StateDir,
    resume: Resume,
    shared: Option<SharedCrawl>,
}

impl CrawlState {
    /// Open the state of the crawl `identity` at `place` (see the
    /// [module docs](self) for why before the output). A crawl shared
    /// through Redis keeps a temporary directory for what stays local.
    pub fn open(
        place: Place<'_>,
        config: &Config,
        identity: &CrawlIdentity,
    ) -> Result<CrawlState, OpenError> {
        let shared = match place {
            Place::Redis { url, name } => Some(join(url, name, config, identity)?),
            _ => None,
        };
        let (dir, resume) = match place {
            Place::Dir(path) => StateDir::open(path, identity).map_err(OpenError::Dir)?,
            _ => (
                StateDir::temporary().map_err(OpenError::Dir)?,
                Resume::Fresh,
            ),
        };
        Ok(CrawlState {
            dir,
            resume,
            shared,
        })
    }

    /// Whether the output is appended to rather than started anew: a
    /// resumed crawl, or a worker joining a shared crawl (or rejoining it
    /// after a restart), keeps what it stored before.
    pub fn appends(&self) -> bool {
        self.resume.is_resumed()
            || (self.shared.as_ref()).is_some_and(|s| s.joined == Joined::Joined)
    }

    /// What the crawl resumes from.
    pub fn resume(&self) -> &Resume {
        &self.resume
    }
}

fn join(
    url: &str,
    name: &str,
    config: &Config,
    identity: &CrawlIdentity,
) -> Result<SharedCrawl, OpenError> {
    let address = Address::parse(url).map_err(OpenError::Address)?;
    let options = RedisOptions::for_crawl(name, config);
    let (frontier, joined) = RedisFrontier::open(&address, options, identity)
        .map_err(|e| OpenError::Redis(url.to_owned(), e))?;
    Ok(SharedCrawl {
        address,
        name: name.to_owned(),
        frontier: Some(frontier),
        joined,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a crawl could not start.
#[derive(Debug)]
pub enum StartError {
    /// The worker threads.
    Threads(std::io::Error),
    /// The HTTP client refused its options.
    Client(String),
    /// The configuration (the core's own check).
    Config(ConfigError),
    /// The frontier in the state directory.
    Frontier(StateError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Threads(e) => write!(f, "cannot start worker threads: {e}"),
            StartError::Client(e) => write!(f, "cannot set up the HTTP client: {e}"),
            StartError::Config(e) => write!(f, "{e}"),
            StartError::Frontier(e) => write!(f, "cannot open the crawl's frontier: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A crawl ready to run natively: the executor, the HTTP client, and the
/// core's crawler on its state's frontier.
pub struct NativeCrawl {
    runtime: SmolRuntime,
    crawler: Crawler<HttpFetcher, SmolRuntime>,
    state: CrawlState,
    round_trips: Option<Arc<AtomicU64>>,
}

/// A crawl that ran to its end, or to a stop.
#[derive(Debug)]
pub struct Finished {
    /// The core's summary, with what the crawl resumed from.
    pub summary: Summary,
    /// The exit status of the stop signal, for an interrupted crawl: 130
    /// for SIGINT (or a stop from elsewhere), 143 for SIGTERM.
    pub signal_exit: u8,
    /// For a shared crawl, the pages stored by every worker together.
    pub crawl_done: Option<u64>,
    /// For a shared crawl, this worker's round trips to Redis.
    pub round_trips: Option<u64>,
}

impl NativeCrawl {
    /// Build the crawl of `config` on `threads` worker threads (`None`: one
    /// per core), fetching with `fetch`, its frontier in `state`: in Redis
    /// for a shared crawl; on disk within its share of the budget for a
    /// state directory of its own; for a temporary state, in memory until
    /// it passes half of that share, then on disk
    /// ([`open_spilling_frontier`]). For comparisons, the environment's
    /// `SEMCRAWL_FRONTIER=memory` picks the core's unbounded in-memory
    /// frontier and `SEMCRAWL_FRONTIER=disk` the disk frontier from the
    /// start.
    pub fn new(
        config: Config,
        fetch: FetchOptions,
        threads: Option<usize>,
        mut state: CrawlState,
    ) -> Result<NativeCrawl, StartError> {
        let runtime = match threads {
            Some(n) => SmolRuntime::with_threads(n),
            None => SmolRuntime::new(),
        }
        .map_err(StartError::Threads)?;
        let fetcher = HttpFetcher::new(fetch).map_err(|e| StartError::Client(e.to_string()))?;
        let memory = config.memory;
        let crawler = Crawler::new(config, fetcher, runtime.clone()).map_err(StartError::Config)?;
        let mut round_trips = None;
        let shared = (state.shared.as_mut()).and_then(|s| Some((s.frontier.take()?, &*s)));
        let crawler = match shared {
            Some((frontier, shared)) => {
                let stats = crawler.stats();
                let start = Instant::now();
                frontier.report_with(move || {
                    let now = stats.snapshot(start.elapsed().as_millis() as u64);
                    WorkerFigures {
                        pages: now.pages,
                        errors: now.errors,
                    }
                });
                round_trips = Some(frontier.round_trips());
                tracing::info!(
                    "{} the shared crawl '{}' in {}",
                    match shared.joined {
                        Joined::Joined => "joining",
                        Joined::Started => "starting",
                    },
                    shared.name,
                    shared.address.as_str()
                );
                crawler.with_frontier(Box::new(frontier))
            }
            None => {
                let share = frontier_share(memory);
                let kind = std::env::var("SEMCRAWL_FRONTIER").ok();
                match kind.as_deref() {
                    Some("memory") => crawler,
                    // A temporary state needs no resume: in memory until
                    // the frontier must spill.
                    Some("disk") => crawler.with_frontier(
                        open_frontier(&state.dir, share).map_err(StartError::Frontier)?,
                    ),
                    _ if state.dir.is_temporary() => {
                        crawler.with_frontier(open_spilling_frontier(&state.dir, share))
                    }
                    _ => crawler.with_frontier(
                        open_frontier(&state.dir, share).map_err(StartError::Frontier)?,
                    ),
                }
            }
        };
        if state.resume.is_resumed() {
            tracing::info!(
                "resuming the crawl in {}: {:?}",
                state.dir.path().display(),
                state.resume
            );
        }
        Ok(NativeCrawl {
            runtime,
            crawler,
            state,
            round_trips,
        })
    }

    /// The crawl's live figures, for a progress display.
    pub fn stats(&self) -> Arc<Stats> {
        self.crawler.stats()
    }

    /// A handle that stops the crawl as a signal would.
    pub fn stop_handle(&self) -> StopHandle {
        self.crawler.stop_handle()
    }

    /// Run the crawl into `store` to its end. The first SIGINT or SIGTERM
    /// stops it, gives pages in flight `grace`, and sets `deadline` (which
    /// the store's network writes obey) to its end; a second exits at once.
    pub fn run(
        self,
        store: Box<dyn Store>,
        grace: Duration,
        deadline: ShutdownDeadline,
    ) -> Result<Finished, StoreError> {
        let NativeCrawl {
            runtime,
            crawler,
            state,
            round_trips,
        } = self;
        let interrupts = Interrupts::install(OnSignal {
            stop: crawler.stop_handle(),
            deadline,
            grace,
            temporary: (state.dir.is_temporary()).then(|| state.dir.path().to_path_buf()),
        });
        let mut summary = runtime.block_on(crawler.run(store))?;
        if let Resume::Resumed { done, .. } = state.resume {
            summary.resumed = true;
            summary.resumed_from = done;
        }
        let crawl_done = (state.shared.as_ref()).map(|s| {
            crate::redis::status(&s.address, &s.name)
                .map(|s| s.done)
                .unwrap_or(0)
        });
        // The directory is held (locked) to here; dropping it removes a
        // temporary one.
        drop(state);
        Ok(Finished {
            summary,
            signal_exit: interrupts.exit_code(),
            crawl_done,
            round_trips: round_trips.map(|t| t.load(Ordering::Relaxed)),
        })
    }
}
