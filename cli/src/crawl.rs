//! One crawl from the command line: build the smol runtime, the HTTP client
//! and the store, wire Ctrl-C to the crawl's stop handle, show progress,
//! and report.

use std::process::ExitCode;

use semcrawl_core::{Config, Crawler, Summary};
use semcrawl_smol::store::ShutdownDeadline;
use semcrawl_smol::{FetchOptions, HttpFetcher, SmolRuntime};

use crate::args::{CrawlArgs, CrawlOptions};
use crate::output::{self, Output};
use crate::progress::Display;
use crate::{logging, seeds, summary, Failure};

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
    let fields: Vec<String> = config.fields.iter().map(|f| f.name.clone()).collect();
    // A sink's retries can outlast any grace period (a minute per attempt):
    // after Ctrl-C its writes give up when --grace is over.
    let deadline = ShutdownDeadline::default();
    let output = output::open(
        args.out.as_deref(),
        args.format,
        args.post.as_ref(),
        &fields,
        &deadline,
    )?;
    run_until(config, output, &args.crawl, deadline)
}

/// Run a validated crawl into `output`; returns the exit code.
pub fn run(config: Config, output: Output, options: &CrawlOptions) -> Result<ExitCode, Failure> {
    run_until(config, output, options, ShutdownDeadline::default())
}

/// [`run`], setting `deadline` to the end of the grace period on Ctrl-C.
fn run_until(
    config: Config,
    output: Output,
    options: &CrawlOptions,
    deadline: ShutdownDeadline,
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
    let fetcher = HttpFetcher::new(FetchOptions::from_config(&config))
        .map_err(|e| Failure::Runtime(format!("cannot set up the HTTP client: {e}")))?;
    let crawler = Crawler::new(config, fetcher, runtime.clone())
        .map_err(|e| Failure::Usage(crate::args::usage_message(&e)))?;

    let stop = crawler.stop_handle();
    output.stdout.stop_on_close(stop.clone());
    let grace = options.grace;
    // First Ctrl-C (or SIGTERM): stop taking work, finish what is in flight,
    // flush. Second: leave at once.
    let installed = ctrlc::set_handler(move || {
        if stop.is_stopped() {
            eprintln!("semcrawl: interrupted again: exiting without waiting");
            std::process::exit(130);
        }
        eprintln!(
            "semcrawl: interrupted: finishing pages in flight (Ctrl-C again to quit at once)"
        );
        deadline.set(std::time::Instant::now() + grace);
        stop.stop();
    });
    if let Err(e) = installed {
        tracing::warn!("cannot catch Ctrl-C: {e}");
    }

    let display = Display::start(crawler.stats(), options.progress, options.quiet);
    let result = runtime.block_on(crawler.run(output.store));
    display.finish();

    let summary = result.map_err(|e| Failure::Runtime(format!("the store failed: {e}")))?;
    // The reader of stdout has what it wanted: no summary, no complaint.
    let stdout_closed = output.stdout.closed();
    if !options.quiet && !stdout_closed {
        eprint!("{}", summary::render(&summary));
    }
    if let Some(path) = &options.summary_json {
        summary::write_json(&summary, path).map_err(|e| {
            Failure::Runtime(format!(
                "cannot write --summary-json '{}': {e}",
                path.display()
            ))
        })?;
    }
    Ok(exit_code(&summary, stdout_closed))
}

/// The exit status of a crawl that ran (see EXIT STATUS in `crawl --help`).
fn exit_code(summary: &Summary, stdout_closed: bool) -> ExitCode {
    if stdout_closed {
        ExitCode::SUCCESS
    } else if summary.interrupted {
        ExitCode::from(130)
    } else if summary.pages == 0 {
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
    use semcrawl_core::PAGE_OVERHEAD;
    use semcrawl_core::format_bytes;
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
