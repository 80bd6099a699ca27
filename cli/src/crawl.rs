//! One crawl from the command line: the options turned into a
//! [`NativeCrawl`] on its state and outputs, with progress and the summary;
//! the native wiring itself is `semcrawl_smol::crawl`'s.

use std::process::ExitCode;

use semcrawl_core::Config;
use semcrawl_smol::crawl::{CrawlState, Finished, NativeCrawl, Place, StartError};
use semcrawl_smol::state::{identity, CrawlIdentity, OutputTarget};
use semcrawl_smol::store::{check_writable, OutputError, OutputSpec, Outputs, ShutdownDeadline};

use crate::args::{CrawlArgs, CrawlOptions};
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
    // Early, so that what opening the state and the output logs is shown.
    logging::init(args.crawl.log_level.as_deref(), args.crawl.quiet)?;
    let state_flag = args.state.as_deref().map(|p| p.to_string_lossy());
    let place = match state_flag.as_deref() {
        Some(url) if url.starts_with("redis://") => Place::Redis {
            url,
            name: &args.name,
        },
        _ if args.name != crate::args::DEFAULT_NAME => {
            return Err(Failure::Usage(
                "--name names a crawl shared through Redis: it needs --state redis://HOST:PORT"
                    .into(),
            ))
        }
        Some(_) => Place::Dir(args.state.as_deref().expect("a --state")),
        None => Place::Temporary,
    };
    let target = OutputTarget {
        out: args.out.as_deref(),
        format: args.format,
        post: args.post.as_ref(),
    };
    // The state before the output: a refused resume leaves the earlier
    // run's output as it was.
    let state = open_state(place, &config, &identity(&config, &target))?;
    let fields: Vec<String> = config.fields.iter().map(|f| f.name.clone()).collect();
    let spec = OutputSpec {
        out: args.out.as_deref(),
        format: args.format,
        sink: args.post.as_ref(),
        fields: &fields,
        append: state.appends(),
    };
    // A sink's retries can outlast any grace period (a minute per attempt):
    // after a stop signal its writes give up when --grace is over.
    let deadline = ShutdownDeadline::default();
    let outputs = open_outputs(&spec, &deadline)?;
    run_until(config, outputs, &args.crawl, deadline, state)
}

/// Open the crawl's state at `place`; a refusal the user can fix (another
/// crawl's state, one in use, no Redis there) is a usage error naming the flag.
fn open_state(
    place: Place<'_>,
    config: &Config,
    identity: &CrawlIdentity,
) -> Result<CrawlState, Failure> {
    CrawlState::open(place, config, identity).map_err(|e| {
        let msg = match place {
            Place::Temporary => format!("cannot create a state directory: {e}"),
            Place::Dir(dir) => format!("--state '{}': {e}", dir.display()),
            Place::Redis { .. } => format!("--state {e}"),
        };
        if e.is_usage() {
            Failure::Usage(msg)
        } else {
            Failure::Runtime(msg)
        }
    })
}

/// Open the outputs; a bad one is a usage error naming its flag.
pub fn open_outputs(
    spec: &OutputSpec<'_>,
    deadline: &ShutdownDeadline,
) -> Result<Outputs, Failure> {
    Outputs::open(spec, deadline).map_err(|e| {
        Failure::Usage(match e {
            OutputError::Target(target, why) => format!("cannot open --out '{target}': {why}"),
            OutputError::UnknownExtension(target, why) => format!(
                "cannot open --out '{target}': {why}; --format {} says what to write",
                semcrawl_smol::store::Format::ALL
                    .map(|f| f.name())
                    .join("|")
            ),
            OutputError::FormatWithoutTarget(format) => format!(
                "--format {format} needs --out (with --post alone, records only go to the sink)"
            ),
            OutputError::Sink(url, why) => format!("cannot use --post {url}: {why}"),
        })
    })
}

/// Run a validated crawl into `outputs` with a temporary state; returns the
/// exit code.
pub fn run(config: Config, outputs: Outputs, options: &CrawlOptions) -> Result<ExitCode, Failure> {
    let state = open_state(Place::Temporary, &config, &Default::default())?;
    run_until(config, outputs, options, ShutdownDeadline::default(), state)
}

/// [`run`], setting `deadline` to the end of the grace period on a stop
/// signal, with the crawl's state in `state`.
fn run_until(
    config: Config,
    outputs: Outputs,
    options: &CrawlOptions,
    deadline: ShutdownDeadline,
    state: CrawlState,
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
    let fetch_options = options.fetch_options(&config).map_err(Failure::Usage)?;
    if fetch_options.insecure && !options.quiet {
        eprintln!("semcrawl: warning: --insecure: TLS certificates are not checked; any server can pose as any site");
    }
    let crawl =
        NativeCrawl::new(config, fetch_options, options.threads, state).map_err(|e| match e {
            StartError::Config(e) => Failure::Usage(crate::args::usage_message(&e)),
            StartError::Client(_) => Failure::Usage(e.to_string()),
            _ => Failure::Runtime(e.to_string()),
        })?;
    outputs.stdout.stop_on_close(crawl.stop_handle());
    let display = Display::start(crawl.stats(), options.progress, options.quiet);
    let result = crawl.run(outputs.store, options.grace, deadline);
    display.finish();
    let finished = result.map_err(|e| Failure::Runtime(format!("the store failed: {e}")))?;

    let extra: Vec<(&str, serde_json::Value)> = (finished.round_trips.iter())
        .map(|trips| ("redisRoundTrips", (*trips).into()))
        .collect();
    // The reader of stdout has what it wanted: no summary, no complaint.
    let stdout_closed = outputs.stdout.closed();
    if !options.quiet && !stdout_closed {
        eprint!("{}", summary::render(&finished.summary));
    }
    if let Some(path) = &options.summary_json {
        summary::write_json(&finished.summary, &extra, path).map_err(|e| {
            Failure::Runtime(format!(
                "cannot write --summary-json '{}': {e}",
                path.display()
            ))
        })?;
    }
    Ok(exit_code(&finished, stdout_closed))
}

/// The exit status of a crawl that ran (see EXIT STATUS in `crawl --help`).
fn exit_code(finished: &Finished, stdout_closed: bool) -> ExitCode {
    let summary = &finished.summary;
    // A resumed crawl with nothing left to do stored its pages in the
    // earlier runs (or, shared, other workers did): that is a finished
    // crawl, not a failed one.
    let nothing =
        summary.pages == 0 && summary.resumed_from == 0 && finished.crawl_done.unwrap_or(0) == 0;
    if stdout_closed {
        ExitCode::SUCCESS
    } else if summary.interrupted {
        ExitCode::from(finished.signal_exit)
    } else if nothing {
        eprintln!("semcrawl: error: {}", summary.why_nothing());
        ExitCode::from(NOTHING_FETCHED)
    } else {
        ExitCode::SUCCESS
    }
}

/// What `--explain` prints: where the budget comes from and what it allows.
pub fn explain(options: &CrawlOptions, config: &Config) -> String {
    use semcrawl_core::{format_bytes as b, Concurrency, MemoryPlan};
    let plan = MemoryPlan::new(config);
    let mut out = match options.budget().1 {
        Some(report) => format!(
            "memory budget (no --memory given):\n  {}\n",
            report.to_string().trim_end().replace('\n', "\n  ")
        ),
        None => format!("memory budget: {} (--memory)\n", b(config.memory)),
    };
    out += &format!(
        "the frontier holds {} of it in memory (an eighth, at least 2 MiB, at most 16 MiB); pages get the other {}\n",
        b(plan.frontier_share),
        b(plan.pages_budget())
    );
    out += "  without --state it stays in memory up to half of that, then moves to disk once; with --state DIR it is on disk from the start\n";
    out += &format!(
        "each page holds {} before its request, then its body (up to --max-body {}), then its parse cost ({} for a 1 MiB page, {})\n",
        b(plan.page_overhead),
        b(config.max_body),
        b(plan.parse_cost(1 << 20)),
        if plan.dom_parse { "DOM parse for --select/--text" } else { "streaming parse" }
    );
    for body in [20 * 1024, 1024 * 1024] {
        let n = plan.pages_at_once(body);
        out += &format!(
            "  pages of {} being parsed at once within the budget: {n}\n",
            b(body)
        );
    }
    if plan.page_cost(config.max_body) > config.memory {
        out += &format!(
            "  a page of --max-body {} cannot be parsed within the budget: it would be recorded as over_budget\n",
            b(config.max_body)
        );
    }
    out + &match config.concurrency {
        Concurrency::Fixed(n) => format!("concurrency: {n} pages in the pipeline at most\n"),
        Concurrency::Auto(c) => format!(
            "concurrency: auto: starts at {}, moves within {}..{} with latency and errors, always within the budget\n",
            c.initial.clamp(c.min, c.max),
            c.min,
            c.max
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::args::{Cli, Command};
    use clap::Parser;
    use semcrawl_smol::state::{identity, CrawlIdentity, OutputTarget};

    fn identity_of(argv: &[&str]) -> CrawlIdentity {
        let cli = Cli::try_parse_from(["semcrawl", "crawl"].iter().chain(argv)).unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        let config = args.crawl.to_config(args.urls.clone()).unwrap();
        let target = OutputTarget {
            out: args.out.as_deref(),
            format: args.format,
            post: args.post.as_ref(),
        };
        identity(&config, &target)
    }

    #[test]
    fn the_identity_holds_what_decides_the_pages_and_where_they_go() {
        let id = identity_of(&[
            "HTTP://A.test:80/x#frag",
            "-o",
            "out/pages.csv",
            "--max-depth",
            "3",
            "--memory",
            "64MiB",
        ]);
        assert_eq!(id.seeds, ["http://a.test/x"]);
        assert_eq!(id.scope, "host");
        assert_eq!(id.max_depth, Some(3));
        assert!(id.obey_robots);
        assert_eq!(id.output_kind, "csv");
        assert!(
            Path::new(&id.output_path).is_absolute(),
            "{}",
            id.output_path
        );
        assert!(id.output_path.ends_with("out/pages.csv"));
        assert_eq!(id.options["memory"], (64u64 << 20).to_string());
    }

    #[test]
    fn other_options_may_change_between_runs() {
        let base = ["http://a.test/", "-o", "p.jsonl", "--memory", "64MiB"];
        let was = identity_of(&base);
        let mut argv = base.to_vec();
        argv.extend(["--concurrency", "64", "--timeout", "5s"]);
        assert_eq!(was.difference(&identity_of(&argv)), None);
        argv.extend(["--scope", "domain"]);
        let what = was.difference(&identity_of(&argv)).unwrap();
        assert!(what.starts_with("the scopes differ"), "{what}");
        let post = identity_of(&[&base[..], &["--post", "http://sink.test/"]].concat());
        assert!(was.difference(&post).unwrap().contains("post"));
    }

    #[test]
    fn which_urls_are_crawled_is_part_of_the_identity() {
        let base = ["http://a.test/", "-o", "p.jsonl", "--memory", "64MiB"];
        let was = identity_of(&base);
        let with = |extra: &[&str]| identity_of(&[&base[..], extra].concat());
        for (extra, says) in [
            (
                &["--exclude", "[?&]ref="][..],
                "the exclude filters differ: was none, now [?&]ref=",
            ),
            (&["--include", "/blog/"], "the include filters differ"),
            (&["--follow-nofollow"], "the nofollow settings differ"),
            (&["--no-sitemaps"], "the sitemaps settings differ"),
            (
                &["--accept-type", "application/pdf"],
                "the content types settings differ",
            ),
            (&["--all-types"], "the content types settings differ"),
        ] {
            let what = was.difference(&with(extra)).unwrap_or_default();
            assert!(what.starts_with(says), "{extra:?}: {what}");
        }
        assert_eq!(
            with(&["--exclude", "x"]).difference(&with(&["--exclude", "x"])),
            None
        );
    }
}
