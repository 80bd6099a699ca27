//! Results: the data model, the markdown report, `results.json` and the SVG
//! plots (plotters, SVG backend only).

use std::path::Path;
use std::process::Command;

use plotters::prelude::*;
use serde_json::{json, Value};

use crate::limit::Limit;
use crate::parse::ParseRate;
use crate::sites::Load;
use crate::stats::{mib, size_label, utc_now, Spread, MIB};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crawler {
    Semcrawl,
    Python,
    /// spider-rs (`tests/bench/peers/spider`), when built.
    Spider,
}

impl Crawler {
    pub fn name(self) -> &'static str {
        match self {
            Crawler::Semcrawl => "semcrawl",
            Crawler::Python => "python",
            Crawler::Spider => "spider-rs",
        }
    }
}

/// One measured crawl.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub wall: f64,
    pub cpu: f64,
    pub rss: u64,
    pub records: u64,
    pub ok: bool,
    pub check: String,
    /// The byte gate's high-water mark (semcrawl's summary).
    pub peak_bytes: Option<u64>,
    pub budget: Option<u64>,
    /// CPU seconds the in-process site server used during the run.
    pub server_cpu: f64,
    /// Requests the site server received (robots.txt and refetches included).
    pub requests: u64,
    /// The one-minute load average right after the run.
    pub load1: f64,
}

/// The runs of one crawler on one site at one setting.
#[derive(Debug, Clone)]
pub struct Cell {
    pub site: &'static str,
    pub crawler: Crawler,
    pub concurrency: usize,
    /// semcrawl's `--memory`, when set.
    pub memory: Option<u64>,
    pub expected: usize,
    pub runs: Vec<Run>,
}

impl Cell {
    pub fn new(
        site: &'static str,
        crawler: Crawler,
        concurrency: usize,
        memory: Option<u64>,
        expected: usize,
    ) -> Cell {
        Cell {
            site,
            crawler,
            concurrency,
            memory,
            expected,
            runs: Vec::new(),
        }
    }
    fn spread(&self, f: impl Fn(&Run) -> f64) -> Spread {
        Spread::of(self.runs.iter().filter(|r| r.wall > 0.0).map(f))
    }
    pub fn wall(&self) -> Spread {
        self.spread(|r| r.wall)
    }
    pub fn cpu(&self) -> Spread {
        self.spread(|r| r.cpu)
    }
    pub fn rss(&self) -> Spread {
        self.spread(|r| r.rss as f64 / MIB)
    }
    pub fn pages_per_s(&self) -> Spread {
        self.spread(|r| r.records as f64 / r.wall)
    }
    pub fn cpu_ms_per_page(&self) -> Spread {
        self.spread(|r| 1000.0 * r.cpu / r.records.max(1) as f64)
    }
    pub fn requests(&self) -> Spread {
        self.spread(|r| r.requests as f64)
    }
    pub fn load1(&self) -> Spread {
        self.spread(|r| r.load1)
    }
    pub fn gate_peak(&self) -> Spread {
        self.spread(|r| r.peak_bytes.unwrap_or(0) as f64 / MIB)
    }
    pub fn correct(&self) -> String {
        let ok = self.runs.iter().filter(|r| r.ok).count();
        if ok == self.runs.len() && ok > 0 {
            format!("{ok}/{ok} ok")
        } else {
            let bad = self
                .runs
                .iter()
                .find(|r| !r.ok)
                .map(|r| r.check.clone())
                .unwrap_or_default();
            format!("{ok}/{} ok: {bad}", self.runs.len())
        }
    }
}

/// Per-round ratio `a / b` of a metric (runs alternate, so round i of `a`
/// and round i of `b` ran back to back).
pub fn ratio(a: &Cell, b: &Cell, f: impl Fn(&Run) -> f64) -> Spread {
    Spread::of(
        a.runs
            .iter()
            .zip(&b.runs)
            .filter(|(x, y)| x.wall > 0.0 && y.wall > 0.0)
            .map(|(x, y)| f(x) / f(y)),
    )
}

#[derive(Debug, Clone, Default)]
pub struct FrontierRow {
    pub urls: u64,
    pub records: u64,
    pub wall: f64,
    pub cpu: f64,
    pub rss: u64,
    pub peak_bytes: u64,
}

/// What the benchmark ran on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub date: String,
    pub cores: usize,
    pub cpu: String,
    pub memory: String,
    pub kernel: String,
    pub loadavg: String,
    /// The load average when the run ended (set by the harness).
    pub loadavg_end: String,
    /// The harness's command line, as given.
    pub command: String,
    /// The spider-rs peer's program, when it ran.
    pub spider: Option<String>,
    pub rustc: String,
    pub commit: String,
    pub semcrawl: String,
    pub peer: Option<String>,
}

fn cmd_out(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    pub fn probe(semcrawl: &Path, peer: Option<String>) -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
        let mem_kib: u64 = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let dirty = !cmd_out("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Machine {
            date: utc_now(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            memory: format!("{:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            loadavg: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            rustc: cmd_out("rustc", &["--version"]),
            commit: format!(
                "{}{}",
                cmd_out("git", &["rev-parse", "--short", "HEAD"]),
                if dirty {
                    " (with uncommitted changes)"
                } else {
                    ""
                }
            ),
            semcrawl: cmd_out(&semcrawl.display().to_string(), &["--version"]),
            peer,
            ..Machine::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Results {
    pub machine: Machine,
    pub quick: bool,
    pub runs: usize,
    pub cells: Vec<Cell>,
    pub load: Option<Load>,
    /// The machine's limit on the `fast` site (the `limit` section).
    pub limit: Option<Limit>,
    pub frontier: Vec<FrontierRow>,
    pub parse: Vec<ParseRate>,
    pub minutes: f64,
    pub failures: Vec<String>,
    /// What each site is, by name.
    pub sites: std::collections::BTreeMap<&'static str, String>,
    /// Each site's number of regular pages (the 20 KiB pages of `fast`).
    pub site_pages: std::collections::BTreeMap<&'static str, usize>,
}

impl Results {
    fn find(&self, site: &str, who: Crawler, c: usize, memory: Option<u64>) -> Option<&Cell> {
        self.cells.iter().find(|x| {
            x.site == site
                && x.crawler == who
                && x.concurrency == c
                && (memory.is_none() || x.memory == memory)
        })
    }

    fn concurrencies(&self, site: &str) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .cells
            .iter()
            .filter(|c| c.site == site)
            .map(|c| c.concurrency)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn memories(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.cells.iter().filter_map(|c| c.memory).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Write `results.md`, `results.json` and the plots to `dir`; return the
/// markdown.
pub fn write(results: &Results, dir: &Path) -> Result<String, String> {
    let mut plots = Vec::new();
    if let Err(e) = throughput_plot(results, &dir.join("throughput.svg")) {
        eprintln!("bench: throughput plot: {e}");
    } else if results.cells.iter().any(|c| c.site != "big") {
        plots.push("throughput.svg");
    }
    if let Err(e) = memory_plot(results, &dir.join("memory.svg")) {
        eprintln!("bench: memory plot: {e}");
    } else if results.cells.iter().any(|c| c.site == "big") {
        plots.push("memory.svg");
    }
    let md = markdown(results, &plots);
    let io = |p: &Path, b: &[u8]| std::fs::write(p, b).map_err(|e| format!("{}: {e}", p.display()));
    io(&dir.join("results.md"), md.as_bytes())?;
    let js = serde_json::to_vec_pretty(&to_json(results)).map_err(|e| e.to_string())?;
    io(&dir.join("results.json"), &js)?;
    Ok(md)
}

fn markdown(r: &Results, plots: &[&str]) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let mut line = |t: String| {
        s.push_str(&t);
        s.push('\n');
    };
    line(format!(
        "# semcrawl benchmark{}\n",
        if r.quick {
            " (quick smoke run: tiny sites, not figures)"
        } else {
            ""
        }
    ));
    line(format!("- **Date**: {}", m.date));
    line(format!("- **Command**: `{}`", m.command));
    line(format!(
        "- **Machine**: {} cores ({}), {} memory, Linux {}; load average at start {}, at the end {}. \
         The machine is shared with other jobs, and the site servers run in the harness on the same cores, \
         so absolute figures are noisy: compare the ratios, taken from alternating runs.",
        m.cores, m.cpu, m.memory, m.kernel, m.loadavg, m.loadavg_end
    ));
    line(format!(
        "- **semcrawl**: {} at commit {}, {}",
        m.semcrawl, m.commit, m.rustc
    ));
    if let Some(p) = &m.spider {
        line(format!(
            "- **spider-rs peer**: `tests/bench/peers/spider` (the `spider` crate 2.53.9, its default \
             configuration and `with_concurrency_limit(N)`; robots.txt not obeyed, spider's default), run as `{p}`"
        ));
    }
    if let Some(p) = &m.peer {
        line(format!(
            "- **Reference peer**: the seed article's recipe (`tests/bench/crawler.py`: asyncio, aiohttp, \
             `asyncio.BoundedSemaphore(N)`, lxml, a seen-set of canonical URLs), {p}"
        ));
    }
    line(format!(
        "- **Method**: {} measured run(s) per cell{}, semcrawl and the peer alternating; each figure is \
         the median (min–max). Wall time, CPU (user+sys) and peak RSS of each crawler process come from \
         `getrusage(RUSAGE_CHILDREN)`. Every run's output is checked: every URL a correct crawl stores, \
         exactly once, nothing else. The whole run took {:.1} minutes.",
        r.runs,
        if r.quick { "" } else { " after one warm-up" },
        r.minutes
    ));
    line(String::new());

    targets(r, &mut line);
    same_run(r, &mut line);

    for site in ["fast", "slow"] {
        let cs = r.concurrencies(site);
        if cs.is_empty() {
            continue;
        }
        let about = r.sites.get(site).cloned().unwrap_or_default();
        let expected = r
            .cells
            .iter()
            .find(|c| c.site == site)
            .map_or(0, |c| c.expected);
        line(format!(
            "## `{site}` site\n\n{about}; {expected} records expected.\n"
        ));
        line("| concurrency | crawler | wall s | CPU s | peak RSS MiB | pages/s | CPU ms/page | correct |".into());
        line("|---:|---|---:|---:|---:|---:|---:|---|".into());
        for &c in &cs {
            for who in [Crawler::Semcrawl, Crawler::Spider, Crawler::Python] {
                if let Some(cell) = r.find(site, who, c, None) {
                    line(format!(
                        "| {c} | {} | {} | {} | {} | {} | {} | {} |",
                        who.name(),
                        cell.wall().show(2),
                        cell.cpu().show(2),
                        cell.rss().show(1),
                        cell.pages_per_s().show(0),
                        cell.cpu_ms_per_page().show(3),
                        cell.correct()
                    ));
                }
            }
        }
        line(String::new());
        for peer in [Crawler::Python, Crawler::Spider] {
            if !cs.iter().any(|&c| r.find(site, peer, c, None).is_some()) {
                continue;
            }
            line(format!(
                "Ratios on `{site}`, {} / semcrawl per alternating round (above 1: semcrawl is better):\n",
                peer.name()
            ));
            line("| concurrency | wall | CPU | peak RSS |".into());
            line("|---:|---:|---:|---:|".into());
            for &c in &cs {
                if let (Some(s), Some(p)) = (
                    r.find(site, Crawler::Semcrawl, c, None),
                    r.find(site, peer, c, None),
                ) {
                    line(format!(
                        "| {c} | {} | {} | {} |",
                        ratio(p, s, |x| x.wall).show(2),
                        ratio(p, s, |x| x.cpu).show(2),
                        ratio(p, s, |x| x.rss as f64).show(2)
                    ));
                }
            }
            line(String::new());
        }
        if site == "slow" {
            line("Ideal wall time = records x 50 ms / concurrency (every response waits 50 ms; nothing else counted):\n".into());
            line(
                "| concurrency | ideal s | semcrawl wall s | semcrawl / ideal | peer / ideal |"
                    .into(),
            );
            line("|---:|---:|---:|---:|---:|".into());
            for &c in &cs {
                if let Some(sc) = r.find(site, Crawler::Semcrawl, c, None) {
                    let ideal = sc.expected as f64 * 0.05 / c as f64;
                    let py = r
                        .find(site, Crawler::Python, c, None)
                        .map_or("–".into(), |p| format!("{:.2}", p.wall().median / ideal));
                    line(format!(
                        "| {c} | {ideal:.2} | {} | {:.2} | {py} |",
                        sc.wall().show(2),
                        sc.wall().median / ideal
                    ));
                }
            }
            line(String::new());
        }
    }

    let cs = r.concurrencies("big");
    if !cs.is_empty() {
        let expected = r
            .cells
            .iter()
            .find(|c| c.site == "big")
            .map_or(0, |c| c.expected);
        line(format!(
            "## `big` site: memory matrix\n\n{}; {expected} records expected. \
             semcrawl runs with `--max-body 2MiB` (the default cap of 10 MiB would make `--memory 32MiB` invalid: \
             the budget must hold one `--max-body` plus 128 KiB). Peak RSS of the process next to the peak bytes \
             held that the byte gate reports (`peakBytes`), and the peer's peak RSS at the same concurrency.\n",
            r.sites.get("big").cloned().unwrap_or_default()
        ));
        let ms = r.memories();
        let mut head = "| concurrency |".to_owned();
        let mut rule = "|---:|".to_owned();
        for &mm in &ms {
            head.push_str(&format!(
                " semcrawl `--memory {}`: RSS (gate peak) MiB |",
                size_label(mm)
            ));
            rule.push_str("---:|");
        }
        head.push_str(" peer RSS MiB |");
        rule.push_str("---:|");
        line(head);
        line(rule);
        for &c in &cs {
            let mut row = format!("| {c} |");
            for &mm in &ms {
                row.push_str(&match r.find("big", Crawler::Semcrawl, c, Some(mm)) {
                    Some(cell) => format!(
                        " {}; gate {} |",
                        cell.rss().show(1),
                        mib(cell.gate_peak().max * MIB)
                    ),
                    None => " – |".into(),
                });
            }
            row.push_str(&match r.find("big", Crawler::Python, c, None) {
                Some(p) => format!(" {} |", p.rss().show(1)),
                None => " – |".into(),
            });
            line(row);
        }
        line(String::new());
        line("Wall time, CPU and correctness of the same runs:\n".into());
        line("| concurrency | crawler | `--memory` | wall s | CPU s | pages/s | requests per record | correct |".into());
        line("|---:|---|---|---:|---:|---:|---:|---|".into());
        for &c in &cs {
            for cell in r
                .cells
                .iter()
                .filter(|x| x.site == "big" && x.concurrency == c)
            {
                line(format!(
                    "| {c} | {} | {} | {} | {} | {} | {} | {} |",
                    cell.crawler.name(),
                    cell.memory.map_or("–".into(), size_label),
                    cell.wall().show(2),
                    cell.cpu().show(2),
                    cell.pages_per_s().show(0),
                    cell.spread(|r| r.requests as f64 / r.records.max(1) as f64)
                        .show(2),
                    cell.correct()
                ));
            }
        }
        line(String::new());
    }

    if !r.frontier.is_empty() {
        line(format!(
            "## Frontier scale\n\nA crawl of a generated link graph through the real pipeline (`Crawler` on `SmolRuntime`, \
             concurrency 64) with an in-memory fetcher and a store that only counts: node i is a ~{} B HTML page \
             linking to 2i+1, 2i+2 and {} pseudo-random nodes, so the queue fills fast (the worst case for the \
             frontier). Run in a child process; its peak RSS is the frontier, the seen set and the program.\n",
            170 + 30 * crate::frontier::LINKS,
            crate::frontier::LINKS - 2
        ));
        line("| URLs | records | wall s | CPU s | pages/s | peak RSS MiB | RSS / URL | growth / URL vs previous row |".into());
        line("|---:|---:|---:|---:|---:|---:|---:|---:|".into());
        let mut prev: Option<&FrontierRow> = None;
        for f in &r.frontier {
            let growth = prev.map_or("–".into(), |p| {
                format!(
                    "{:.0} B",
                    (f.rss as f64 - p.rss as f64) / (f.urls as f64 - p.urls as f64)
                )
            });
            line(format!(
                "| {} | {} | {:.1} | {:.1} | {:.0} | {} | {:.0} B | {growth} |",
                f.urls,
                f.records,
                f.wall,
                f.cpu,
                f.records as f64 / f.wall,
                mib(f.rss as f64),
                f.rss as f64 / f.urls as f64
            ));
            prev = Some(f);
        }
        line(String::new());
    }

    if !r.parse.is_empty() {
        line("## Parse microbenchmark\n\n`semcrawl_core::parse::Extractor::parse` (decode, HTML5 parse, title/description/lang/canonical, links resolved and canonicalized) on the generated pages, read from the site server. One thread, then one thread per core at once.\n".into());
        line("| pages | mean size | MB/s, 1 core | pages/s, 1 core | MB/s, all cores | pages/s, all cores | links/page |".into());
        line("|---|---:|---:|---:|---:|---:|---:|".into());
        for p in &r.parse {
            line(format!(
                "| {} | {:.1} KiB | {:.1} | {:.0} | {:.1} ({} threads) | {:.0} | {:.1} |",
                p.name,
                p.mean_page_bytes / 1024.0,
                p.mb_per_s,
                p.pages_per_s,
                p.mb_per_s_all,
                p.threads,
                p.pages_per_s_all,
                p.links_per_page
            ));
        }
        line(String::new());
        if let (Some(p), Some(fast)) = (
            r.parse.first(),
            r.cells.iter().find(|c| {
                c.site == "fast" && c.crawler == Crawler::Semcrawl && c.concurrency == 64
            }),
        ) {
            let ceiling = m.cores as f64 * p.pages_per_s;
            let got = fast.pages_per_s().median;
            line(format!(
                "Ceiling of a loopback crawl of the `fast` site: {} cores x {:.0} pages/s = **{ceiling:.0} pages/s** \
                 (measured with all cores at once: {:.0}). semcrawl at concurrency 64 reached {got:.0} pages/s, \
                 **{:.0}%** of the ceiling ({:.0}% of the measured all-cores rate; the rest goes to HTTP, the site \
                 server on the same cores, the store).\n",
                m.cores,
                p.pages_per_s,
                p.pages_per_s_all,
                100.0 * got / ceiling,
                100.0 * got / p.pages_per_s_all.max(1.0)
            ));
        }
    }

    if let Some(l) = &r.load {
        let server_cpu: f64 = r
            .cells
            .iter()
            .filter(|c| c.site == "fast" && c.crawler == Crawler::Semcrawl)
            .flat_map(|c| c.runs.iter())
            .map(|x| x.server_cpu / x.wall.max(1e-9))
            .fold(0.0, f64::max);
        line(format!(
            "## The site server is not the bottleneck\n\nLoad test of the `fast` site's server ({} blocking keep-alive clients in the harness, \
             on the same cores): **{:.0} requests/s**, {:.0} MiB/s, using {:.2} CPU-s per second. During the `fast` crawls the \
             server used at most {:.2} CPU-s per second of crawl.\n",
            l.clients,
            l.rps(),
            l.bytes as f64 / l.secs / MIB,
            l.cpu / l.secs,
            server_cpu
        ));
    }

    if !plots.is_empty() {
        line("## Plots\n".into());
        for p in plots {
            line(format!("![{p}]({p})\n"));
        }
    }
    if !r.failures.is_empty() {
        line("## Failures\n".into());
        for f in &r.failures {
            line(format!("- {f}"));
        }
        line(String::new());
    }
    s
}

/// The concurrency of the same-run comparison and of the limit.
const SAME_RUN_C: usize = 64;

/// semcrawl's `fast` rate in the site's regular pages per second (the
/// 20 KiB pages: the records of 404s and the like are not counted, so the
/// rate is comparable with the limit's), and that as a share of the limit.
fn share_of_limit(r: &Results) -> Option<(f64, f64, f64)> {
    let s = r.find("fast", Crawler::Semcrawl, SAME_RUN_C, None)?;
    let limit = r.limit.as_ref()?.together()?;
    let pages = *r.site_pages.get("fast")? as f64;
    let rate = pages / s.wall().median;
    Some((rate, limit, 100.0 * rate / limit))
}

/// The `fast` site at concurrency 64: the three crawlers of one run and the
/// machine's limit, in one table.
fn same_run(r: &Results, line: &mut impl FnMut(String)) {
    let c = SAME_RUN_C;
    let cells: Vec<&Cell> = [Crawler::Semcrawl, Crawler::Spider, Crawler::Python]
        .into_iter()
        .filter_map(|who| r.find("fast", who, c, None))
        .collect();
    if cells.is_empty() && r.limit.is_none() {
        return;
    }
    line(format!(
        "## Same run: the `fast` site at concurrency {c}, and the machine's limit
"
    ));
    line(format!(
        "{}; crawled by each crawler in turn, the order reversed every round \
         (semcrawl, spider-rs, python; then python, spider-rs, semcrawl), {} measured round(s). \
         Medians (min–max). *Requests* is what the site's server answered (every fetch, robots.txt \
         and refetches included); *complete* checks the output: for semcrawl and python every record \
         of a correct crawl exactly once, for spider-rs (which ignores robots.txt and keeps URLs as \
         linked) every page of the site fetched at least once, counted in canonical form. *Load* \
         is the one-minute load average after each run.\n",
        r.sites.get("fast").cloned().unwrap_or_default(),
        r.runs
    ));
    line("| | wall s | CPU s | peak RSS MiB | requests | pages/s | load | complete |".into());
    line("|---|---:|---:|---:|---:|---:|---:|---|".into());
    let pages = r.site_pages.get("fast").copied().unwrap_or(0) as f64;
    for cell in &cells {
        let name = match cell.crawler {
            Crawler::Python => "asyncio recipe (python)",
            other => other.name(),
        };
        line(format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            cell.wall().show(2),
            cell.cpu().show(2),
            cell.rss().show(1),
            cell.requests().show(0),
            cell.spread(|x| pages / x.wall).show(0),
            cell.load1().show(1),
            cell.correct()
        ));
    }
    if let Some(l) = &r.limit {
        match l.server_rps {
            Some(rps) => line(format!(
                "| limit: the server alone under `wrk -t2 -c{}` ({} s) | – | {:.1} µs/request (+ wrk {:.1}) | – | – | {rps:.0} | {:.1} | {:.0} MB/s |",
                l.connections,
                l.secs,
                1e6 * l.server_cpu_per_request,
                1e6 * l.client_cpu_per_request,
                l.load1_server,
                l.server_mb_s
            )),
            None => line(format!(
                "| limit: the server alone | – | – | – | – | – | – | {} |",
                l.note.as_deref().unwrap_or("not measured")
            )),
        }
        if let Some(p) = &l.parse {
            line(format!(
                "| limit: the parse path alone, {} threads | – | {:.1} µs/page (one core) | – | – | {:.0} | {:.1} | |",
                p.threads,
                1e6 / p.pages_per_s.max(1e-9),
                p.pages_per_s_all,
                l.load1_parse
            ));
        }
        if let Some(t) = l.together() {
            line(format!(
                "| **limit: both together**, 1 / (1/server + 1/parse) | – | – | – | – | **{t:.0}** | | |"
            ));
        }
    }
    line(String::new());
    let sem = r.find("fast", Crawler::Semcrawl, c, None);
    let spider = r.find("fast", Crawler::Spider, c, None);
    if let (Some(s), Some(p)) = (sem, spider) {
        line(format!(
            "semcrawl / spider-rs, per round: wall **{}**, CPU **{}**, peak RSS {} (the goal: wall and CPU <= 0.67).\n",
            ratio(s, p, |x| x.wall).show(2),
            ratio(s, p, |x| x.cpu).show(2),
            ratio(s, p, |x| x.rss as f64).show(2)
        ));
    }
    if let Some((rate, limit, pct)) = share_of_limit(r) {
        line(format!(
            "semcrawl crawled the site's {pages:.0} pages at {rate:.0} pages/s (median): **{pct:.0}%** of \
             the {limit:.0} pages/s the server and the parse path allow together (the aim: 75%).\n"
        ));
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**missed**"
    }
}

fn targets(r: &Results, line: &mut impl FnMut(String)) {
    let mut rows = Vec::new();
    let fast = (
        r.find("fast", Crawler::Semcrawl, 64, None),
        r.find("fast", Crawler::Python, 64, None),
    );
    if let (Some(s), Some(p)) = fast {
        let w = ratio(p, s, |x| x.wall).median;
        rows.push(format!(
            "| `fast` c64: semcrawl wall <= 1/3 of the peer's | peer / semcrawl = {w:.2} | {} |",
            verdict(w >= 3.0)
        ));
        rows.push(format!(
            "| `fast` c64: aim, wall <= 1/6 of the peer's | {w:.2} | {} |",
            verdict(w >= 6.0)
        ));
        let c = ratio(p, s, |x| x.cpu / x.records.max(1) as f64).median;
        rows.push(format!(
            "| `fast` c64: CPU s per page <= 1/3 of the peer's | peer / semcrawl = {c:.2} ({:.3} vs {:.3} ms/page) | {} |",
            p.cpu_ms_per_page().median,
            s.cpu_ms_per_page().median,
            verdict(c >= 3.0)
        ));
    }
    if let Some(s) = fast.0 {
        let rss = s.rss().max;
        rows.push(format!(
            "| `fast` c64: peak RSS < 48 MiB | {rss:.1} MiB (max of runs) | {} |",
            verdict(rss < 48.0)
        ));
    }
    if let (Some(s), Some(p)) = (
        r.find("fast", Crawler::Semcrawl, SAME_RUN_C, None),
        r.find("fast", Crawler::Spider, SAME_RUN_C, None),
    ) {
        let w = ratio(s, p, |x| x.wall).median;
        let c = ratio(s, p, |x| x.cpu).median;
        rows.push(format!(
            "| `fast` c64: semcrawl wall <= 0.67 x spider-rs's | {w:.2} x | {} |",
            verdict(w <= 0.67)
        ));
        rows.push(format!(
            "| `fast` c64: semcrawl CPU <= 0.67 x spider-rs's | {c:.2} x | {} |",
            verdict(c <= 0.67)
        ));
        let rss = s.rss().max;
        rows.push(format!(
            "| `fast` c64: peak RSS <= 24 MiB | {rss:.1} MiB (max of runs) | {} |",
            verdict(rss <= 24.0)
        ));
    }
    if let Some((_, _, pct)) = share_of_limit(r) {
        rows.push(format!(
            "| `fast` c64: at least 75% of the machine's limit | {pct:.0}% | {} |",
            verdict(pct >= 75.0)
        ));
    }
    if let Some(s) = r.find("slow", Crawler::Semcrawl, 64, None) {
        let ideal = s.expected as f64 * 0.05 / 64.0;
        let x = s.wall().median / ideal;
        rows.push(format!(
            "| `slow` c64: wall <= 1.15 x ideal ({ideal:.2} s) | {:.2} s = {x:.2} x ideal | {} |",
            s.wall().median,
            verdict(x <= 1.15)
        ));
    }
    let m64: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.site == "big" && c.memory == Some(64 << 20))
        .collect();
    if !m64.is_empty() {
        let worst = m64.iter().map(|c| c.rss().max).fold(0.0, f64::max);
        let at: Vec<String> = m64
            .iter()
            .map(|c| format!("c{} {:.1}", c.concurrency, c.rss().max))
            .collect();
        rows.push(format!(
            "| `big`, `--memory 64MiB`: peak RSS <= 80 MiB at every concurrency | worst {worst:.1} MiB ({}) | {} |",
            at.join(", "),
            verdict(worst <= 80.0)
        ));
    }
    let py: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.site == "big" && c.crawler == Crawler::Python)
        .collect();
    if py.len() >= 2 {
        let first = py.first().map_or(0.0, |c| c.rss().median);
        let last = py.last().map_or(0.0, |c| c.rss().median);
        rows.push(format!(
            "| `big`: the peer's peak RSS grows with concurrency | c{} {first:.1} MiB -> c{} {last:.1} MiB | {} |",
            py[0].concurrency,
            py[py.len() - 1].concurrency,
            if last > first * 1.2 { "yes" } else { "no" }
        ));
    }
    if let Some(f) = r.frontier.last() {
        rows.push(format!(
            "| frontier: {} URLs (reported, no target yet) | peak RSS {} MiB, {:.0} B per URL | reported |",
            f.urls,
            mib(f.rss as f64),
            f.rss as f64 / f.urls as f64
        ));
    }
    if rows.is_empty() {
        return;
    }
    line("## Targets\n".into());
    line("| target | figure | status |".into());
    line("|---|---|---|".into());
    for row in rows {
        line(row);
    }
    line(String::new());
}

fn to_json(r: &Results) -> Value {
    let m = &r.machine;
    let run = |x: &Run| {
        json!({
            "wall_s": x.wall, "cpu_s": x.cpu, "peak_rss_bytes": x.rss, "records": x.records,
            "correct": x.ok, "check": x.check, "gate_peak_bytes": x.peak_bytes,
            "budget_bytes": x.budget, "server_cpu_s": x.server_cpu, "requests": x.requests,
            "load1": x.load1,
        })
    };
    json!({
        "machine": {
            "date": m.date, "cores": m.cores, "cpu": m.cpu, "memory": m.memory,
            "kernel": m.kernel, "loadavg": m.loadavg, "loadavg_end": m.loadavg_end,
            "command": m.command, "spider": m.spider, "rustc": m.rustc, "commit": m.commit,
            "semcrawl": m.semcrawl, "peer": m.peer,
        },
        "quick": r.quick,
        "runs_per_cell": r.runs,
        "minutes": r.minutes,
        "cells": r.cells.iter().map(|c| json!({
            "site": c.site, "crawler": c.crawler.name(), "concurrency": c.concurrency,
            "memory_bytes": c.memory, "expected_records": c.expected,
            "runs": c.runs.iter().map(run).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "server_load_test": r.load.map(|l| json!({
            "clients": l.clients, "requests": l.requests, "bytes": l.bytes, "secs": l.secs,
            "cpu_s": l.cpu, "requests_per_s": l.rps(),
        })),
        "limit": r.limit.as_ref().map(|l| json!({
            "wrk_connections": l.connections, "wrk_secs": l.secs,
            "server_requests_per_s": l.server_rps, "server_mb_per_s": l.server_mb_s,
            "server_cpu_s_per_request": l.server_cpu_per_request,
            "wrk_cpu_s_per_request": l.client_cpu_per_request,
            "parse_pages_per_s_all": l.parse.as_ref().map(|p| p.pages_per_s_all),
            "parse_pages_per_s_one_core": l.parse.as_ref().map(|p| p.pages_per_s),
            "parse_threads": l.parse.as_ref().map(|p| p.threads),
            "together_pages_per_s": l.together(),
            "load1_server": l.load1_server, "load1_parse": l.load1_parse, "note": l.note,
        })),
        "frontier": r.frontier.iter().map(|f| json!({
            "urls": f.urls, "records": f.records, "wall_s": f.wall, "cpu_s": f.cpu,
            "peak_rss_bytes": f.rss, "gate_peak_bytes": f.peak_bytes,
        })).collect::<Vec<_>>(),
        "parse": r.parse.iter().map(|p| json!({
            "pages": p.name, "distinct_pages": p.pages, "mean_page_bytes": p.mean_page_bytes,
            "mb_per_s_one_core": p.mb_per_s, "pages_per_s_one_core": p.pages_per_s,
            "threads": p.threads, "mb_per_s_all": p.mb_per_s_all,
            "pages_per_s_all": p.pages_per_s_all, "links_per_page": p.links_per_page,
        })).collect::<Vec<_>>(),
        "failures": r.failures,
    })
}

/// One line of a plot.
struct Series {
    name: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(127, 127, 127);

fn plot(path: &Path, title: &str, y_desc: &str, series: &[Series]) -> Result<(), String> {
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    if xs.is_empty() {
        return Ok(());
    }
    // Concurrencies are powers of two: plot them on a log2 axis, labelled
    // with the concurrency itself.
    let lx = |x: f64| x.log2();
    let xmin = xs.iter().copied().map(lx).fold(f64::INFINITY, f64::min);
    let xmax = xs.iter().copied().map(lx).fold(f64::NEG_INFINITY, f64::max);
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        * 1.15;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((xmin - 0.5)..(xmax + 0.5), 0.0..ymax.max(1.0))
        .map_err(|x| e(&x))?;
    let ticks: Vec<f64> = xs.iter().copied().map(lx).collect();
    chart
        .configure_mesh()
        .x_desc("concurrency")
        .y_desc(y_desc)
        .x_labels(((xmax - xmin) as usize + 2).max(2))
        .x_label_formatter(&|x| {
            if ticks.iter().any(|t| (t - x).abs() < 0.01) {
                format!("{:.0}", x.exp2())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE)
        .draw()
        .map_err(|x| e(&x))?;
    for s in series {
        let color = s.color;
        let style = color.stroke_width(2);
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (lx(x), y)).collect();
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(points.clone(), 8, 6, style))
                .map_err(|x| e(&x))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        } else {
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(|x| e(&x))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|x| e(&x))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

fn throughput_plot(r: &Results, path: &Path) -> Result<(), String> {
    let mut series = Vec::new();
    let colors = [
        (Crawler::Semcrawl, BLUE, GREEN),
        (Crawler::Python, ORANGE, RED),
        (Crawler::Spider, MAGENTA, CYAN),
    ];
    for site in ["fast", "slow"] {
        for (who, c_fast, c_slow) in colors {
            let points: Vec<(f64, f64)> = r
                .concurrencies(site)
                .into_iter()
                .filter_map(|c| r.find(site, who, c, None))
                .map(|cell| (cell.concurrency as f64, cell.pages_per_s().median))
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{} on {site}", who.name()),
                    color: if site == "fast" { c_fast } else { c_slow },
                    dashed: false,
                    points,
                });
            }
        }
    }
    // The machine's limit on `fast`, across the concurrencies crawled.
    let fast_cs = r.concurrencies("fast");
    if let (Some(t), Some(&lo), Some(&hi)) = (
        r.limit.as_ref().and_then(Limit::together),
        fast_cs.first(),
        fast_cs.last(),
    ) {
        series.push(Series {
            name: "limit on fast (server + parse alone)".into(),
            color: GREY,
            dashed: true,
            points: vec![(lo as f64, t), (hi as f64, t)],
        });
    }
    plot(
        path,
        "pages/s per crawler and concurrency (median of runs)",
        "pages/s",
        &series,
    )
}

fn memory_plot(r: &Results, path: &Path) -> Result<(), String> {
    let cs = r.concurrencies("big");
    let (Some(&lo), Some(&hi)) = (cs.first(), cs.last()) else {
        return Ok(());
    };
    let palette = [BLUE, GREEN, PURPLE, GREY];
    let mut series = Vec::new();
    for (i, &m) in r.memories().iter().enumerate() {
        let color = palette[i % palette.len()];
        let points: Vec<(f64, f64)> = cs
            .iter()
            .filter_map(|&c| r.find("big", Crawler::Semcrawl, c, Some(m)))
            .map(|cell| (cell.concurrency as f64, cell.rss().median))
            .collect();
        series.push(Series {
            name: format!("semcrawl --memory {}: peak RSS", size_label(m)),
            color,
            dashed: false,
            points,
        });
        series.push(Series {
            name: format!("budget {}", size_label(m)),
            color,
            dashed: true,
            points: vec![(lo as f64, m as f64 / MIB), (hi as f64, m as f64 / MIB)],
        });
    }
    let points: Vec<(f64, f64)> = cs
        .iter()
        .filter_map(|&c| r.find("big", Crawler::Python, c, None))
        .map(|cell| (cell.concurrency as f64, cell.rss().median))
        .collect();
    if !points.is_empty() {
        series.push(Series {
            name: "python peer: peak RSS".into(),
            color: ORANGE,
            dashed: false,
            points,
        });
    }
    plot(
        path,
        "big site (1 MiB pages, 200 ms): peak RSS vs concurrency",
        "peak RSS, MiB",
        &series,
    )
}
