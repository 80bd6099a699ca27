//! The semcrawl benchmark harness.
//!
//! ```text
//! cargo run --release -p semcrawl-bench --bin bench -- [--quick] [--only SECTION]... [--runs N] [--out DIR]
//! ```
//!
//! Sections (all by default): `fast`, `slow`, `big`, `matrix`, `frontier`,
//! `parse`, `limit`. It serves generated sites on 127.0.0.1 from this process
//! ([`SiteServer`]), builds the release `semcrawl` binary (`cargo build
//! --release -p semcrawl-cli`, a no-op when up to date; `--semcrawl PATH` or
//! `SEMCRAWL_BIN` to use a given binary), installs the Python reference peer
//! (`tests/bench/crawler.py`, the seed article's asyncio recipe) into a
//! virtualenv under `target/bench-venv`, and runs both crawlers as child
//! processes, alternating, each under a measurer that reports wall time, CPU
//! time and peak RSS from `getrusage(RUSAGE_CHILDREN)`. Every run's output is
//! checked: every URL a correct crawl stores, exactly once, nothing else.
//!
//! Results go to `--out` (default `docs/bench`, or `target/bench-quick` with
//! `--quick`): `results.md`, `results.json`, and SVG plots. See
//! `docs/bench/README.md`.
#![forbid(unsafe_code)]

mod frontier;
mod limit;
mod measure;
mod parse;
mod peer;
mod report;
mod sites;
mod stats;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use semcrawl_site::{Site, SiteServer, SiteSpec};
use serde_json::Value;

use report::{Cell, Crawler, FrontierRow, Machine, Results, Run};

const USAGE: &str = "\
usage: bench [--quick] [--only fast|slow|big|matrix|frontier|parse|limit]... [--runs N] [--out DIR]
             [--concurrency N]... [--semcrawl PATH] [--no-python] [--spider PATH] [--no-traps]

  --quick          tiny sites, one run, no warm-up (CI smoke test, < 1 minute)
  --only SECTION   run only these sections (repeatable, or comma-separated)
  --runs N         measured runs per cell after one warm-up (default 3)
  --concurrency N  crawl the fast and slow sites at these concurrencies only (repeatable,
                   or comma-separated; default 16, 64, 256)
  --out DIR        where results.md, results.json and the SVG plots go
                   (default docs/bench; target/bench-quick with --quick)
  --semcrawl PATH  the semcrawl binary to measure (default: build target/release/semcrawl)
  --no-python      skip the Python reference peer
  --spider PATH    the spider-rs peer to run too (default: tests/bench/peers/spider's
                   release build if there is one; never built by the harness)
  --no-traps       the fast site (and the limit measured on it) without its traps: plain
                   pages only, so that a peer that fetches `?utm_` spellings again does
                   not skew the comparison

The `limit` section measures what the machine allows on the `fast` site: its server alone
under `wrk` at concurrency 64 (skipped when `wrk` is not installed), and the parse path alone
on its pages; the report sets semcrawl's `fast` c64 rate against the two together.

The same-run table against spider-rs and the limit, on one line:
  cargo run --release -p semcrawl-bench --bin bench -- --only fast,limit --concurrency 64 --out DIR";

const SECTIONS: [&str; 7] = [
    "fast", "slow", "big", "matrix", "frontier", "parse", "limit",
];

/// Site server executor threads.
const SERVER_THREADS: usize = 2;

#[derive(Debug, Clone)]
struct Opts {
    quick: bool,
    only: BTreeSet<String>,
    runs: usize,
    /// Concurrencies of the `fast` and `slow` sections (empty: the default).
    concurrency: Vec<usize>,
    out: Option<PathBuf>,
    semcrawl: Option<PathBuf>,
    python: bool,
    spider: Option<PathBuf>,
    /// Crawl the `fast` site without its traps (`--no-traps`).
    no_traps: bool,
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        only: BTreeSet::new(),
        runs: 3,
        concurrency: Vec::new(),
        out: None,
        semcrawl: std::env::var_os("SEMCRAWL_BIN").map(PathBuf::from),
        python: true,
        spider: None,
        no_traps: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-python" => o.python = false,
            "--no-traps" => o.no_traps = true,
            "--only" => {
                for s in value()?.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !SECTIONS.contains(&s) {
                        return Err(format!("unknown section '{s}' (one of {SECTIONS:?})"));
                    }
                    o.only.insert(s.to_owned());
                }
            }
            "--runs" => {
                o.runs = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--runs takes a number >= 1")?
            }
            "--concurrency" => {
                for c in value()?.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    o.concurrency.push(
                        c.parse()
                            .ok()
                            .filter(|&n: &usize| n > 0)
                            .ok_or("--concurrency takes numbers >= 1")?,
                    );
                }
            }
            "--out" => o.out = Some(PathBuf::from(value()?)),
            "--semcrawl" => o.semcrawl = Some(PathBuf::from(value()?)),
            "--spider" => o.spider = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.quick {
        o.runs = 1;
    }
    Ok(o)
}

impl Opts {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.contains(section)
    }
}

/// The workspace root (this crate is `tests/bench/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/bench/ has a grandparent")
        .to_path_buf()
}

/// `target/` (this binary is `target/<profile>/bench`) and the profile name.
fn target_dir() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().expect("exe dir").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release")
        .to_owned();
    let target = profile_dir
        .parent()
        .map_or_else(|| workspace().join("target"), Path::to_path_buf);
    (target, profile)
}

/// The semcrawl binary: given, or built with the cargo that runs us into
/// the same target directory and profile as this binary.
fn semcrawl_binary(opts: &Opts) -> Result<PathBuf, String> {
    if let Some(p) = &opts.semcrawl {
        return Ok(p.clone());
    }
    let (target, profile) = target_dir();
    eprintln!("bench: cargo build --release -p semcrawl-cli (the binary measured)");
    let bin = semcrawl_tests::build_semcrawl(&target, &profile)?;
    if profile == "debug" {
        eprintln!("bench: warning: a debug build is measured; use --release");
    }
    Ok(bin)
}

/// The spider-rs peer: given with `--spider`, or its release build in its
/// own project (`tests/bench/peers/spider`, built by hand: CI never builds
/// spider's dependencies) or in this target directory. Optional: `None`
/// when not built.
fn spider_binary(opts: &Opts) -> Option<PathBuf> {
    if let Some(p) = &opts.spider {
        return Some(p.clone());
    }
    let (target, _) = target_dir();
    [
        workspace().join("tests/bench/peers/spider/target/release/spider-peer"),
        target.join("release/spider-peer"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

struct Ctx {
    opts: Opts,
    semcrawl: PathBuf,
    peer: Option<peer::Peer>,
    spider: Option<PathBuf>,
    /// What the spider-rs peer must fetch on the site being crawled
    /// ([`sites::expected_pages_no_robots`]).
    spider_expected: BTreeSet<String>,
    tmp: PathBuf,
    seq: usize,
    failures: Vec<String>,
}

impl Ctx {
    fn timeout(&self) -> Duration {
        Duration::from_secs(if self.opts.quick { 120 } else { 900 })
    }

    fn next_paths(&mut self) -> (PathBuf, PathBuf, PathBuf) {
        self.seq += 1;
        let n = self.seq;
        (
            self.tmp.join(format!("out-{n}.jsonl")),
            self.tmp.join(format!("summary-{n}.json")),
            self.tmp.join(format!("stderr-{n}.txt")),
        )
    }

    /// One measured crawl, checked against `expected`.
    #[allow(clippy::too_many_arguments)]
    fn crawl(
        &mut self,
        server: &SiteServer,
        who: Crawler,
        url: &str,
        concurrency: usize,
        extra: &[String],
        expected: &BTreeSet<String>,
        label: &str,
    ) -> Run {
        let (out, summary, stderr) = self.next_paths();
        let argv = match who {
            Crawler::Semcrawl => {
                let mut v = vec![
                    self.semcrawl.display().to_string(),
                    "crawl".into(),
                    url.into(),
                    "--out".into(),
                    out.display().to_string(),
                    "-q".into(),
                    "--summary-json".into(),
                    summary.display().to_string(),
                    "--concurrency".into(),
                    concurrency.to_string(),
                ];
                v.extend(extra.iter().cloned());
                v
            }
            Crawler::Python => match &self.peer {
                Some(p) => p.argv(url, concurrency, &out),
                None => return Run::default(),
            },
            Crawler::Spider => match &self.spider {
                Some(p) => peer::spider_argv(p, url, concurrency, &out),
                None => return Run::default(),
            },
        };
        server.reset_counters();
        let cpu0 = measure::self_cpu();
        let io = measure::Io {
            stdout: None,
            stderr: stderr.clone(),
        };
        let usage = match measure::run(&argv, &io, self.timeout()) {
            Ok(u) => u,
            Err(e) => {
                self.failures.push(format!("{label}: {e}"));
                return Run::default();
            }
        };
        let server_cpu = measure::self_cpu() - cpu0;
        let check = if who == Crawler::Spider {
            sites::check_output_canonical(&out, &self.spider_expected)
        } else {
            sites::check_output(&out, expected)
        };
        let sj: Option<Value> = std::fs::read(&summary)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let get = |k: &str| sj.as_ref().and_then(|v| v.get(k)).and_then(Value::as_u64);
        let run = Run {
            wall: usage.wall,
            cpu: usage.cpu(),
            rss: usage.max_rss,
            records: check.records,
            ok: check.ok() && usage.code == 0 && !usage.timed_out,
            check: if usage.timed_out {
                "timed out".into()
            } else if usage.code != 0 {
                format!("exit code {}", usage.code)
            } else {
                check.describe()
            },
            peak_bytes: get("peakBytes"),
            budget: get("budget"),
            server_cpu,
            requests: server.total_requests(),
            load1: stats::load1(),
        };
        eprintln!(
            "  {label} {}: {:.2} s wall, {:.2} CPU-s, {} MiB peak RSS{}, {} records, {} requests, {}",
            who.name(),
            run.wall,
            run.cpu,
            stats::mib(run.rss as f64),
            run.peak_bytes
                .map(|b| format!(" (gate peak {} MiB)", stats::mib(b as f64)))
                .unwrap_or_default(),
            run.records,
            run.requests,
            run.check
        );
        if !run.ok {
            let tail = std::fs::read_to_string(&stderr).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(8).collect();
            self.failures.push(format!(
                "{label} {}: {} [{}]",
                who.name(),
                run.check,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        for p in [&out, &summary, &stderr] {
            let _ = std::fs::remove_file(p);
        }
        run
    }
}

/// One line about a site, for the report.
fn describe(spec: &SiteSpec) -> String {
    let t = &spec.traps;
    let traps = if t.url_variants || t.robots {
        ", with traps (fragments, `utm_` duplicates, 404 links, off-site and `mailto:` links, a robots.txt disallow)"
    } else {
        ""
    };
    let size = if spec.page_size >= 1 << 20 {
        format!("{} MiB", spec.page_size >> 20)
    } else {
        format!("~{} KiB", spec.page_size >> 10)
    };
    let latency = if spec.latency.is_zero() {
        "no latency".to_owned()
    } else {
        format!("every response {} ms late", spec.latency.as_millis())
    };
    format!(
        "{} pages of {size}, {}-{} links each{traps}, {latency}",
        spec.pages, spec.links_min, spec.links_max
    )
}

fn start(spec: SiteSpec) -> SiteServer {
    SiteServer::start(Site::new(spec), SERVER_THREADS).expect("start the site server")
}

/// A crawl section: `site` at each concurrency, semcrawl and the peer
/// alternating (one warm-up each first, unless quick).
fn crawl_section(ctx: &mut Ctx, results: &mut Results, name: &'static str, spec: SiteSpec) {
    let concurrencies: Vec<usize> = if !ctx.opts.concurrency.is_empty() {
        ctx.opts.concurrency.clone()
    } else if ctx.opts.quick {
        vec![64]
    } else {
        vec![16, 64, 256]
    };
    results.sites.insert(name, describe(&spec));
    results.site_pages.insert(name, spec.pages);
    let server = start(spec);
    let url = server.base_url().to_string();
    let expected = sites::expected_urls(&server, semcrawl_core::DEFAULT_MAX_BODY);
    ctx.spider_expected = sites::expected_pages_no_robots(&server, semcrawl_core::DEFAULT_MAX_BODY);
    eprintln!(
        "bench: {name}: {} pages, {} records expected, at {url}",
        server.site().spec().pages,
        expected.len()
    );
    if name == "fast" {
        let secs = if ctx.opts.quick { 0.5 } else { 3.0 };
        match sites::load_test(&server, 4, secs) {
            Ok(load) => {
                eprintln!(
                    "  server load test: {:.0} requests/s, {:.0} MiB/s ({} keep-alive clients in this process)",
                    load.rps(),
                    load.bytes as f64 / load.secs / stats::MIB,
                    load.clients
                );
                results.load = Some(load);
            }
            Err(e) => ctx.failures.push(format!("load test: {e}")),
        }
    }
    let python = ctx.peer.is_some();
    let spider = ctx.spider.is_some();
    for &c in &concurrencies {
        let label = format!("{name} c{c}");
        if !ctx.opts.quick {
            ctx.crawl(
                &server,
                Crawler::Semcrawl,
                &url,
                c,
                &[],
                &expected,
                &format!("{label} warm-up"),
            );
            if python {
                ctx.crawl(
                    &server,
                    Crawler::Python,
                    &url,
                    c,
                    &[],
                    &expected,
                    &format!("{label} warm-up"),
                );
            }
            if spider {
                ctx.crawl(
                    &server,
                    Crawler::Spider,
                    &url,
                    c,
                    &[],
                    &expected,
                    &format!("{label} warm-up"),
                );
            }
        }
        let mut sem = Cell::new(name, Crawler::Semcrawl, c, None, expected.len());
        let mut py = Cell::new(name, Crawler::Python, c, None, expected.len());
        let mut sp = Cell::new(name, Crawler::Spider, c, None, expected.len());
        for r in 0..ctx.opts.runs {
            let order = if r % 2 == 0 {
                [Crawler::Semcrawl, Crawler::Spider, Crawler::Python]
            } else {
                [Crawler::Python, Crawler::Spider, Crawler::Semcrawl]
            };
            for who in order {
                if (who == Crawler::Python && !python) || (who == Crawler::Spider && !spider) {
                    continue;
                }
                let run = ctx.crawl(&server, who, &url, c, &[], &expected, &label);
                match who {
                    Crawler::Semcrawl => sem.runs.push(run),
                    Crawler::Python => py.runs.push(run),
                    Crawler::Spider => sp.runs.push(run),
                }
            }
        }
        results.cells.push(sem);
        if python {
            results.cells.push(py);
        }
        if spider {
            results.cells.push(sp);
        }
    }
}

/// The memory matrix on the big site: concurrency x --memory (semcrawl,
/// with `--max-body 2MiB`) and the peer at each concurrency.
fn matrix_section(ctx: &mut Ctx, results: &mut Results, concurrencies: &[usize], memories: &[u64]) {
    let spec = sites::big(ctx.opts.quick);
    results.sites.insert("big", describe(&spec));
    let server = start(spec);
    let url = server.base_url().to_string();
    let expected = sites::expected_urls(&server, sites::BIG_MAX_BODY);
    eprintln!(
        "bench: big: {} pages of 1 MiB, 200 ms latency, {} records expected",
        server.site().spec().pages,
        expected.len()
    );
    let args = |m: u64| {
        vec![
            "--memory".to_owned(),
            stats::size_label(m),
            "--max-body".into(),
            stats::size_label(sites::BIG_MAX_BODY),
        ]
    };
    let python = ctx.peer.is_some();
    if !ctx.opts.quick {
        let m = *memories.last().expect("a memory size");
        ctx.crawl(
            &server,
            Crawler::Semcrawl,
            &url,
            64,
            &args(m),
            &expected,
            "big warm-up",
        );
        if python {
            ctx.crawl(
                &server,
                Crawler::Python,
                &url,
                64,
                &[],
                &expected,
                "big warm-up",
            );
        }
    }
    for &c in concurrencies {
        let mut sem: Vec<Cell> = memories
            .iter()
            .map(|&m| Cell::new("big", Crawler::Semcrawl, c, Some(m), expected.len()))
            .collect();
        let mut py = Cell::new("big", Crawler::Python, c, None, expected.len());
        let slots = memories.len() + usize::from(python);
        for r in 0..ctx.opts.runs {
            for k in 0..slots {
                let slot = (k + r) % slots;
                if slot < memories.len() {
                    let m = memories[slot];
                    let label = format!("big c{c} m{}", stats::size_label(m));
                    let run = ctx.crawl(
                        &server,
                        Crawler::Semcrawl,
                        &url,
                        c,
                        &args(m),
                        &expected,
                        &label,
                    );
                    sem[slot].runs.push(run);
                } else {
                    let label = format!("big c{c}");
                    py.runs.push(ctx.crawl(
                        &server,
                        Crawler::Python,
                        &url,
                        c,
                        &[],
                        &expected,
                        &label,
                    ));
                }
            }
        }
        results.cells.extend(sem);
        if python {
            results.cells.push(py);
        }
    }
}

fn frontier_section(ctx: &mut Ctx, results: &mut Results) {
    let sizes: &[u64] = if ctx.opts.quick {
        &[10_000]
    } else {
        &[100_000, 1_000_000]
    };
    let me = std::env::current_exe().expect("current_exe");
    for &n in sizes {
        let (out, _, stderr) = ctx.next_paths();
        let argv = vec![
            me.display().to_string(),
            "__frontier".into(),
            n.to_string(),
            "64".into(),
        ];
        eprintln!(
            "bench: frontier: {n} URLs, {} links per page",
            frontier::LINKS
        );
        let io = measure::Io {
            stdout: Some(out.clone()),
            stderr: stderr.clone(),
        };
        match measure::run(&argv, &io, ctx.timeout()) {
            Ok(u) => {
                let v: Value = std::fs::read(&out)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                let records = v.get("records").and_then(Value::as_u64).unwrap_or(0);
                let row = FrontierRow {
                    urls: n,
                    records,
                    wall: u.wall,
                    cpu: u.cpu(),
                    rss: u.max_rss,
                    peak_bytes: v.get("peak_bytes").and_then(Value::as_u64).unwrap_or(0),
                };
                eprintln!(
                    "  {records} records in {:.1} s, {:.1} CPU-s, peak RSS {} MiB ({:.0} B/URL)",
                    row.wall,
                    row.cpu,
                    stats::mib(row.rss as f64),
                    row.rss as f64 / n as f64
                );
                if records != n || u.code != 0 {
                    ctx.failures.push(format!(
                        "frontier {n}: {records} records, exit code {}: {}",
                        u.code,
                        std::fs::read_to_string(&stderr).unwrap_or_default()
                    ));
                }
                results.frontier.push(row);
            }
            Err(e) => ctx.failures.push(format!("frontier {n}: {e}")),
        }
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&stderr);
    }
}

fn parse_section(ctx: &mut Ctx, results: &mut Results) {
    let quick = ctx.opts.quick;
    let secs = if quick { 0.3 } else { 3.0 };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let sets: [(&str, SiteSpec, usize); 2] = [
        (
            "fast (~20 KiB)",
            sites::fast(true),
            if quick { 40 } else { 200 },
        ),
        ("big (1 MiB)", sites::big(true), if quick { 2 } else { 8 }),
    ];
    for (name, mut spec, count) in sets {
        spec.latency = Duration::ZERO;
        let server = start(spec);
        let mut bodies = Vec::new();
        for i in 0..count {
            let path = format!("/p/{i}.html");
            match sites::http_get(server.addr(), &path) {
                Ok(b) => bodies.push((url::Url::parse(&server.url(&path)).expect("valid URL"), b)),
                Err(e) => {
                    ctx.failures.push(format!("parse: GET {path}: {e}"));
                    return;
                }
            }
        }
        let rate = parse::measure(name, &bodies, secs, threads);
        eprintln!(
            "bench: parse {name}: {:.1} MB/s on one core ({:.0} pages/s), {:.1} MB/s on {threads} threads, {:.1} links/page",
            rate.mb_per_s, rate.pages_per_s, rate.mb_per_s_all, rate.links_per_page
        );
        results.parse.push(rate);
    }
}

/// The `limit` section: the `fast` site's server alone under `wrk` at
/// concurrency 64, then the parse path alone on its pages (see
/// [`limit`]). `wrk` is optional: without it the section records why and
/// measures the parse path only.
fn limit_section(ctx: &mut Ctx, results: &mut Results) {
    const CONNECTIONS: usize = 64;
    let quick = ctx.opts.quick;
    let secs = if quick { 1.0 } else { 5.0 };
    let server = start(sites::fast_site(quick, !ctx.opts.no_traps));
    let url = server.base_url().to_string();
    let pages = server.site().spec().pages;
    let script = workspace().join("tests/bench/peers/wrk-pages.lua");
    let mut lim = limit::Limit {
        connections: CONNECTIONS,
        secs,
        ..limit::Limit::default()
    };
    eprintln!("bench: limit: the fast site's server alone under wrk -c{CONNECTIONS}, {secs} s");
    if !quick {
        // Warm-up: connections, the server's page cache, CPU frequency.
        let _ = limit::run_wrk(&script, &url, pages, CONNECTIONS, 1.0, &ctx.tmp);
    }
    server.reset_counters();
    let cpu0 = measure::self_cpu();
    match limit::run_wrk(&script, &url, pages, CONNECTIONS, secs, &ctx.tmp) {
        Ok((wrk, client_cpu)) => {
            let server_cpu = measure::self_cpu() - cpu0;
            let requests = server.total_requests().max(1) as f64;
            lim.server_rps = Some(wrk.rps);
            lim.server_mb_s = wrk.mb_s;
            lim.server_cpu_per_request = server_cpu / requests;
            lim.client_cpu_per_request = client_cpu / requests;
            eprintln!(
                "  {:.0} requests/s, {:.0} MB/s; CPU per request: server {:.1} µs, wrk {:.1} µs",
                wrk.rps,
                wrk.mb_s,
                1e6 * lim.server_cpu_per_request,
                1e6 * lim.client_cpu_per_request
            );
            if wrk.bad > 0 {
                ctx.failures
                    .push(format!("limit: {} wrk responses were not 2xx", wrk.bad));
            }
        }
        Err(e) => {
            eprintln!("  skipped: {e}");
            lim.note = Some(format!("server alone not measured: {e}"));
        }
    }
    lim.load1_server = stats::load1();
    let count = if quick { 40 } else { 200 };
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count {
        let path = format!("/p/{i}.html");
        match sites::http_get(server.addr(), &path) {
            Ok(b) => bodies.push((url::Url::parse(&server.url(&path)).expect("valid URL"), b)),
            Err(e) => {
                ctx.failures.push(format!("limit: GET {path}: {e}"));
                results.limit = Some(lim);
                return;
            }
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let rate = parse::measure(
        "fast (~20 KiB)",
        &bodies,
        if quick { 0.3 } else { 3.0 },
        threads,
    );
    eprintln!(
        "  parse alone: {:.0} pages/s on {threads} threads ({:.0} on one)",
        rate.pages_per_s_all, rate.pages_per_s
    );
    lim.parse = Some(rate);
    lim.load1_parse = stats::load1();
    if let Some(t) = lim.together() {
        eprintln!("  together: {t:.0} pages/s");
    }
    results.limit = Some(lim);
}

/// `__serve fast|slow|saturated|big|pool [SECONDS] [--trace FILE]`: serve a
/// benchmark site and print its URL, for profiling a crawl by hand (`perf
/// record semcrawl crawl URL ...`) and for `scripts/sweep-auto.sh`. With
/// `--trace`, every 10 ms append `UNIX_SECONDS IN_FLIGHT WORKING` to FILE
/// (requests received and not yet answered, and those of them holding a
/// worker): what the server sees of a crawl's concurrency over time.
/// `pool` is the thread-pool blog site of [`sites::pool`], served by the
/// tests' [`PoolSite`](semcrawl_tests::pool_site::PoolSite).
fn serve(args: &[String]) -> ExitCode {
    const SERVE_USAGE: &str =
        "usage: bench __serve fast|fast-plain|slow|saturated|big|pool [SECONDS] [--trace FILE]";
    let mut trace = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--trace" {
            let Some(path) = it.next() else {
                eprintln!("{SERVE_USAGE}");
                return ExitCode::from(2);
            };
            trace = Some(PathBuf::from(path));
        } else {
            rest.push(a.as_str());
        }
    }
    let name = rest.first().copied();
    let secs: u64 = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(600);
    if name == Some("pool") {
        let site = sites::pool();
        println!("{}", site.url("/"));
        // Said as it grows, so that a server killed after the crawl has
        // already told its figure.
        let told = std::cell::Cell::new(0);
        let counters = || {
            let max = site.max_in_flight();
            if max > told.replace(max) {
                eprintln!("at most {max} in flight");
            }
            (site.in_flight(), site.working())
        };
        let ok = serve_for(secs, trace.as_deref(), counters);
        eprintln!(
            "served {} requests, at most {} in flight",
            site.total_requests(),
            site.max_in_flight()
        );
        return ok;
    }
    let spec = match name {
        Some("fast") => sites::fast(false),
        Some("fast-plain") => sites::fast_without_traps(false),
        Some("slow") => sites::slow(false),
        Some("saturated") => sites::saturated(false),
        Some("big") => sites::big(false),
        _ => {
            eprintln!("{SERVE_USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = start(spec);
    if name == Some("saturated") {
        sites::start_saturated(&server);
    }
    println!("{}", server.base_url());
    let ok = serve_for(secs, trace.as_deref(), || {
        (server.in_flight(), server.working())
    });
    eprintln!(
        "served {} requests, at most {} at once ({} in flight)",
        server.total_requests(),
        server.max_working(),
        server.max_in_flight()
    );
    ok
}

/// Keep serving for `secs` seconds, reading `counters` every 10 ms; with a
/// `trace` file, append `UNIX_SECONDS IN_FLIGHT WORKING` to it each time.
fn serve_for(secs: u64, trace: Option<&Path>, counters: impl Fn() -> (usize, usize)) -> ExitCode {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut file = match trace.map(std::fs::File::create) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    while Instant::now() < end {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let (in_flight, working) = counters();
        if let Some(f) = file.as_mut() {
            // One write per line: the file is complete whenever the server is killed.
            let line = format!("{t:.4} {in_flight} {working}\n");
            if f.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__measure") => measure::measurer_main(&args[1..]),
        Some("__frontier") => frontier::child_main(&args[1..]),
        Some("__serve") => return serve(&args[1..]),
        _ => {}
    }
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (target, _) = target_dir();
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        if opts.quick {
            target.join("bench-quick")
        } else {
            workspace().join("docs/bench")
        }
    });
    let semcrawl = match semcrawl_binary(&opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let peer = if opts.python {
        match peer::setup(&workspace(), &target.join("bench-venv")) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("bench: cannot set up the Python peer (use --no-python to skip it): {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let tmp = target
        .join("bench-tmp")
        .join(std::process::id().to_string());
    if let Err(e) = std::fs::create_dir_all(&tmp).and_then(|()| std::fs::create_dir_all(&out_dir)) {
        eprintln!("bench: {e}");
        return ExitCode::FAILURE;
    }
    let started = std::time::Instant::now();
    let mut results = Results {
        machine: Machine::probe(&semcrawl, peer.as_ref().map(|p| p.describe.clone())),
        quick: opts.quick,
        runs: opts.runs,
        ..Results::default()
    };
    let spider = spider_binary(&opts);
    results.machine.command = std::iter::once("bench".to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    results.machine.spider = spider.as_ref().map(|p| p.display().to_string());
    match &spider {
        Some(p) => eprintln!("bench: the spider-rs peer: {}", p.display()),
        None => eprintln!(
            "bench: no spider-rs peer (build tests/bench/peers/spider or pass --spider PATH to add it)"
        ),
    }
    let mut ctx = Ctx {
        opts: opts.clone(),
        semcrawl,
        peer,
        spider,
        spider_expected: BTreeSet::new(),
        tmp: tmp.clone(),
        seq: 0,
        failures: Vec::new(),
    };
    let quick = opts.quick;
    if opts.wants("limit") {
        limit_section(&mut ctx, &mut results);
    }
    if opts.wants("fast") {
        crawl_section(
            &mut ctx,
            &mut results,
            "fast",
            sites::fast_site(quick, !opts.no_traps),
        );
    }
    if opts.wants("slow") {
        crawl_section(&mut ctx, &mut results, "slow", sites::slow(quick));
    }
    const MIB: u64 = 1 << 20;
    if opts.wants("matrix") {
        let (cs, ms): (&[usize], &[u64]) = if quick {
            (&[16, 1024], &[32 * MIB, 64 * MIB])
        } else {
            (&[16, 64, 256, 1024], &[32 * MIB, 64 * MIB, 256 * MIB])
        };
        matrix_section(&mut ctx, &mut results, cs, ms);
    } else if opts.wants("big") {
        matrix_section(&mut ctx, &mut results, &[64], &[64 * MIB, 256 * MIB]);
    }
    if opts.wants("frontier") {
        frontier_section(&mut ctx, &mut results);
    }
    if opts.wants("parse") {
        parse_section(&mut ctx, &mut results);
    }
    results.minutes = started.elapsed().as_secs_f64() / 60.0;
    results.machine.loadavg_end = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    results.failures = ctx.failures.clone();
    let _ = std::fs::remove_dir_all(&tmp);

    match report::write(&results, &out_dir) {
        Ok(md) => {
            println!("{md}");
            eprintln!("bench: results written to {}", out_dir.display());
        }
        Err(e) => {
            eprintln!("bench: cannot write the results: {e}");
            return ExitCode::FAILURE;
        }
    }
    if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("bench: {} failures:", results.failures.len());
        for f in &results.failures {
            eprintln!("  {f}");
        }
        ExitCode::FAILURE
    }
}
