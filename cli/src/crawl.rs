//! One crawl from the command line: build the smol runtime, the HTTP client
//! and the store, open the crawl's state, wire SIGINT and SIGTERM to the
//! crawl's stop handle, show progress, and report.

use std::process::ExitCode;

use semcrawl_core::frontier::{frontier_share, Frontier};
use semcrawl_core::{Config, Crawler, Summary};
use semcrawl_smol::redis::{Joined, WorkerFigures};
use semcrawl_smol::state::{open_frontier, Resume, StateDir};
use semcrawl_smol::store::ShutdownDeadline;
use semcrawl_smol::{HttpFetcher, SmolRuntime};

use crate::args::{CrawlArgs, CrawlOptions};
use crate::output::{self, Output};
use crate::progress::Display;
use crate::{logging, seeds, state, summary, Failure};
use semcrawl_smol::signals::{Interrupts, OnSignal};
use semcrawl_smol::state::{identity, OutputTarget};

/// Exit code of a crawl in which not one page could be fetched.
pub const NOTHING_FETCHED: u8 = 3;

/// `semcrawl crawl`.
pub fn crawl_command(args: CrawlArgs) -> Result<ExitCode, Failure> {
    let mut urls = args.urls.clone();
    if let Some(path) = &args.input_file {
        urls.extend(seeds::read_seed_file(path).map_err(Failure::Usage)?);
    }
    let config = args
        .crawl
        .to_config(urls)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if args.crawl.explain {
        print!("{}", explain(&args.crawl, &config));
        return Ok(ExitCode::SUCCESS);
    }
    // Early, so that what opening the state and the output logs is shown.
    logging::init(args.crawl.log_level.as_deref(), args.crawl.quiet)?;
    // The state before the output: a refused resume leaves the earlier
    // run's output as it was.
    let target = OutputTarget {
        out: args.out.as_deref(),
        format: args.format,
        post: args.post.as_ref(),
    };
    let identity = identity(&config, &target);
    let shared = match state::redis_address(args.state.as_deref()) {
        Some(url) => Some(state::open_redis(url, &args.name, &config, &identity)?),
        None if args.name != crate::args::DEFAULT_NAME => {
            return Err(Failure::Usage(
                "--name names a crawl shared through Redis: it needs --state redis://HOST:PORT"
                    .into(),
            ))
        }
        None => None,
    };
    let (state_dir, resume) = match shared {
        // The frontier is in Redis: the directory is a temporary one.
        Some(_) => state::open(None, &identity)?,
        None => state::open(args.state.as_deref(), &identity)?,
    };
    // A worker joining a shared crawl (or rejoining it after a restart)
    // appends to its output: what it stored before is acknowledged.
    let append = resume.is_resumed() || shared.as_ref().is_some_and(|s| s.joined == Joined::Joined);
    let fields: Vec<String> = config.fields.iter().map(|f| f.name.clone()).collect();
    // A sink's retries can outlast any grace period (a minute per attempt):
    // after a stop signal its writes give up when --grace is over.
    let deadline = ShutdownDeadline::default();
    let output = output::open(
        args.out.as_deref(),
        args.format,
        args.post.as_ref(),
        &fields,
        &deadline,
        append,
    )?;
    run_until(
        config,
        output,
        &args.crawl,
        deadline,
        state_dir,
        resume,
        shared,
    )
}

/// Run a validated crawl into `output` with a temporary state; returns the
/// exit code.
pub fn run(config: Config, output: Output, options: &CrawlOptions) -> Result<ExitCode, Failure> {
    let (state_dir, resume) = state::open(None, &Default::default())?;
    run_until(
        config,
        output,
        options,
        ShutdownDeadline::default(),
        state_dir,
        resume,
        None,
    )
}

/// [`run`], setting `deadline` to the end of the grace period on a stop
/// signal, with the crawl's state in `state_dir`.
fn run_until(
    config: Config,
    output: Output,
    options: &CrawlOptions,
    deadline: ShutdownDeadline,
    state_dir: StateDir,
    resume: Resume,
    shared: Option<state::Shared>,
) -> Result<ExitCode, Failure> {
    logging::init(options.log_level.as_deref(), options.quiet)?;
    if let Some(path) = &options.summary_json {
        check_writable(path).map_err(|e| {
            Failure::Usage(format!(
                "cannot write --summary-json '{}': {e}",
                path.display()
            ))
        })?;
    }
    let runtime = match options.threads {
        Some(n) => SmolRuntime::with_threads(n),
        None => SmolRuntime::new(),
    }
    .map_err(|e| Failure::Runtime(format!("cannot start worker threads: {e}")))?;
    let fetch_options = options.fetch_options(&config).map_err(Failure::Usage)?;
    if fetch_options.insecure && !options.quiet {
        eprintln!("semcrawl: warning: --insecure: TLS certificates are not checked; any server can pose as any site");
    }
    let fetcher = HttpFetcher::new(fetch_options)
        .map_err(|e| Failure::Usage(format!("cannot set up the HTTP client: {e}")))?;
    let memory = config.memory;
    let crawler = Crawler::new(config, fetcher, runtime.clone())
        .map_err(|e| Failure::Usage(crate::args::usage_message(&e)))?;
    let mut round_trips = None;
    let mut shared_crawl = None;
    let crawler = match shared {
        Some(state::Shared {
            address,
            name,
            frontier,
            joined,
        }) => {
            let stats = crawler.stats();
            let start = std::time::Instant::now();
            frontier.report_with(move || {
                let now = stats.snapshot(start.elapsed().as_millis() as u64);
                WorkerFigures {
                    pages: now.pages,
                    errors: now.errors,
                }
            });
            round_trips = Some(frontier.round_trips());
            tracing::info!(
                "{} the shared crawl '{name}' in {}",
                if joined == Joined::Joined {
                    "joining"
                } else {
                    "starting"
                },
                address.as_str()
            );
            shared_crawl = Some((address, name));
            crawler.with_frontier(Box::new(frontier))
        }
        None => match frontier(&state_dir, memory)? {
            Some(frontier) => crawler.with_frontier(frontier),
            None => crawler,
        },
    };
    if resume.is_resumed() {
        tracing::info!(
            "resuming the crawl in {}: {resume:?}",
            state_dir.path().display()
        );
    }

    let stop = crawler.stop_handle();
    output.stdout.stop_on_close(stop.clone());
    let interrupts = Interrupts::install(OnSignal {
        stop,
        deadline,
        grace: options.grace,
        temporary: state_dir
            .is_temporary()
            .then(|| state_dir.path().to_path_buf()),
    });

    let display = Display::start(crawler.stats(), options.progress, options.quiet);
    let result = runtime.block_on(crawler.run(output.store));
    display.finish();

    let mut summary = result.map_err(|e| Failure::Runtime(format!("the store failed: {e}")))?;
    if let Resume::Resumed { done, .. } = resume {
        summary.resumed = true;
        summary.resumed_from = done;
    }
    // A worker of a shared crawl that stored nothing itself is fine when the
    // crawl as a whole did.
    let crawl_done = match &shared_crawl {
        Some((address, name)) => semcrawl_smol::redis::status(address, name)
            .map(|s| s.done)
            .unwrap_or(0),
        None => 0,
    };
    let extra: Vec<(&str, serde_json::Value)> = match &round_trips {
        Some(trips) => vec![(
            "redisRoundTrips",
            trips.load(std::sync::atomic::Ordering::Relaxed).into(),
        )],
        None => Vec::new(),
    };
    // The reader of stdout has what it wanted: no summary, no complaint.
    let stdout_closed = output.stdout.closed();
    if !options.quiet && !stdout_closed {
        eprint!("{}", summary::render(&summary));
    }
    if let Some(path) = &options.summary_json {
        summary::write_json(&summary, &extra, path).map_err(|e| {
            Failure::Runtime(format!(
                "cannot write --summary-json '{}': {e}",
                path.display()
            ))
        })?;
    }
    // Held (locked) until the summary is out; dropping it removes a
    // temporary directory.
    drop(state_dir);
    Ok(exit_code(&summary, stdout_closed, &interrupts, crawl_done))
}

/// The crawl's frontier: on disk in the crawl's state directory (`--state`,
/// else a temporary one removed at exit), within its share of `--memory` (`None`: the core's in-memory one,
/// with `SEMCRAWL_FRONTIER=memory`, for comparisons).
fn frontier(dir: &StateDir, memory: u64) -> Result<Option<Box<dyn Frontier>>, Failure> {
    if std::env::var_os("SEMCRAWL_FRONTIER").is_some_and(|v| v == "memory") {
        return Ok(None);
    }
    let frontier = open_frontier(dir, frontier_share(memory))
        .map_err(|e| Failure::Runtime(format!("cannot open the crawl's frontier: {e}")))?;
    Ok(Some(frontier))
}

/// The exit status of a crawl that ran (see EXIT STATUS in `crawl --help`).
fn exit_code(
    summary: &Summary,
    stdout_closed: bool,
    interrupts: &Interrupts,
    crawl_done: u64,
) -> ExitCode {
    // A resumed crawl with nothing left to do stored its pages in the
    // earlier runs (or, shared, other workers did): that is a finished
    // crawl, not a failed one.
    let nothing = summary.pages == 0 && summary.resumed_from == 0 && crawl_done == 0;
    if stdout_closed {
        ExitCode::SUCCESS
    } else if summary.interrupted {
        ExitCode::from(interrupts.exit_code())
    } else if nothing {
        eprintln!("semcrawl: error: {}", nothing_fetched(summary));
        ExitCode::from(NOTHING_FETCHED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Why a crawl with no successful record is a failure, in one line.
fn nothing_fetched(summary: &Summary) -> String {
    if summary.errors == 0 {
        return "nothing was crawled: no seed could be fetched (out of scope, or disallowed by robots.txt)".into();
    }
    let kinds: Vec<String> = summary
        .errors_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!(
        "not one page could be fetched: {} error record{} ({})",
        summary.errors,
        if summary.errors == 1 { "" } else { "s" },
        kinds.join(", ")
    )
}

/// Fail now, not after the crawl, if `path` cannot be written: open it for
/// appending (which neither truncates an existing file nor changes it), and
/// remove it again if this created it.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// What `--explain` prints: where the budget comes from and what it allows.
pub fn explain(options: &CrawlOptions, config: &Config) -> String {
    use semcrawl_core::format_bytes;
    use semcrawl_core::PAGE_OVERHEAD;
    let mut out = String::new();
    match options.budget().1 {
        Some(report) => {
            out.push_str("memory budget (no --memory given):\n");
            for line in report.to_string().lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        None => out.push_str(&format!(
            "memory budget: {} (--memory)\n",
            format_bytes(config.memory)
        )),
    }
    let extractor = semcrawl_core::parse::Extractor::new(&config.fields, config.text).ok();
    let cost = |body: u64| {
        extractor
            .as_ref()
            .map_or(body * semcrawl_core::parse::PARSE_COST_RATIO, |e| {
                e.parse_cost(body)
            })
    };
    let share = semcrawl_core::frontier::frontier_share(config.memory);
    out.push_str(&format!(
        "the frontier (on disk) holds {} of it in memory (an eighth, at least 2 MiB); pages get the other {}\n",
        format_bytes(share),
        format_bytes(config.memory - share)
    ));
    let page = |body: u64| PAGE_OVERHEAD + body + cost(body);
    out.push_str(&format!(
        "each page holds {} before its request, then its body (up to --max-body {}), then its parse cost ({} for a 1 MiB page, {})\n",
        format_bytes(PAGE_OVERHEAD),
        format_bytes(config.max_body),
        format_bytes(cost(1 << 20)),
        if config.fields.is_empty() && !config.text { "streaming parse" } else { "DOM parse for --select/--text" }
    ));
    for body in [20 * 1024, 1024 * 1024] {
        out.push_str(&format!(
            "  pages of {} being parsed at once within the budget: {}\n",
            format_bytes(body),
            config.memory / page(body)
        ));
    }
    if page(config.max_body) > config.memory {
        out.push_str(&format!(
            "  a page of --max-body {} cannot be parsed within the budget: it would be recorded as over_budget\n",
            format_bytes(config.max_body)
        ));
    }
    out.push_str(&format!(
        "concurrency: {}\n",
        match config.concurrency {
            semcrawl_core::Concurrency::Fixed(n) => format!("{n} pages in the pipeline at most"),
            semcrawl_core::Concurrency::Auto(c) => format!(
                "auto: starts at {}, moves within {}..{} with latency and errors, always within the budget",
                c.initial.clamp(c.min, c.max),
                c.min,
                c.max
            ),
        }
    ));
    out
}
