//! One crawl on several workers through a real Redis (`--state redis://`),
//! against the real binary and a local site with latency:
//!
//! * three workers, one SIGKILLed early: the survivors finish, every page
//!   is stored across the outputs, the refetches are only the dead
//!   worker's leases, the host never sees more than `--per-host` requests
//!   at once, and each survivor did a real share;
//! * Redis stopped for a few seconds mid-crawl, then restarted: the worker
//!   waits, resumes, and nothing is lost;
//! * Redis absent at start, or holding another crawl: exit 2, one line;
//! * robots.txt `Crawl-delay` holds across the workers together: no two
//!   requests to the host start closer than the delay;
//! * robots.txt is fetched once for the whole crawl by workers started
//!   together, and obeyed by all;
//! * `--max-pages` counts crawl-wide: three workers store as many pages as
//!   one `--state DIR` crawl, and each exits 0.
//!
//! Each test starts its own `redis-server` (see `semcrawl_tests::redis`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::{wait_for, ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::redis::{free_port, LoggingSite, RedisServer};
use semcrawl_tests::{
    complete_lines, crawl_args, error_kind, read_jsonl, read_summary, run, spawn, summary_u64,
    Running, TempDir,
};
use serde_json::Value;

const PAGES: usize = 400;
const PER_HOST: usize = 4;
const DEADLINE: Duration = Duration::from_secs(180);
/// The documented bound on handing a dead worker's pages to others.
const RECLAIM_BOUND: Duration = Duration::from_secs(30);

fn site() -> SiteServer {
    let spec = SiteSpec {
        latency: Duration::from_millis(30),
        ..SiteSpec::plain(PAGES, 2048)
    };
    SiteServer::start(Site::new(spec), 8).unwrap()
}

/// A worker's command: the shared state, its own output and summary.
fn worker_args(server: &SiteServer, redis: &str, dir: &TempDir, n: usize) -> Vec<String> {
    let per_host = PER_HOST.to_string();
    crawl_args(
        server.base_url().as_str(),
        &dir.join(&format!("out{n}.jsonl")),
        &dir.join(&format!("summary{n}.json")),
        &[
            "--state",
            redis,
            "--name",
            "e2e",
            "--concurrency",
            "8",
            "--per-host",
            &per_host,
        ],
    )
}

/// Stored records without error, by URL, with how often each is stored.
fn ok_counts(paths: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for path in paths {
        if !path.exists() {
            continue;
        }
        for r in read_jsonl(path).iter().filter(|r| error_kind(r).is_none()) {
            *counts
                .entry(r["url"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

/// Requests for pages: not robots.txt, nor the guessed `/sitemap.xml`
/// (the site has none: it leaves no record).
fn page_requests(server: &SiteServer) -> u64 {
    let requests = server.requests();
    let robots = server.url("/robots.txt");
    let sitemap = server.url("/sitemap.xml");
    requests
        .iter()
        .filter(|(url, _)| **url != robots && **url != sitemap)
        .map(|(_, n)| n)
        .sum()
}

fn status(redis: &str) -> Value {
    let done = run(
        ["status", "--state", redis, "--name", "e2e", "--json"],
        Duration::from_secs(30),
    );
    done.assert_code(0);
    serde_json::from_str(&done.stdout).expect("status --json is JSON")
}

fn expected(server: &SiteServer) -> BTreeSet<String> {
    server.expected(&ExpectOptions::default()).urls()
}

#[test]
fn three_workers_one_killed_the_survivors_finish_the_crawl() {
    let Some(redis) = RedisServer::start_or_skip("three_workers_one_killed") else {
        return;
    };
    let server = site();
    let dir = TempDir::new("redis-kill");
    let url = redis.url();
    let workers: Vec<Running> = (0..3)
        .map(|n| spawn(worker_args(&server, &url, &dir, n)))
        .collect();
    // Early: the victim has stored a few pages, and has more in flight. It
    // is the first worker to get that far (on a loaded machine, one may
    // start much later than the others).
    let victim = wait_for("a worker's first records", DEADLINE, || {
        (0..3).find(|n| complete_lines(&dir.join(&format!("out{n}.jsonl"))) >= 5)
    });
    let victim_pid = workers[victim].pid();
    kill(Pid::from_raw(victim_pid as i32), Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    let leased_at_kill = status(&url)["leased"].as_u64().unwrap();
    // The dead worker's leases come back within the lease time. (It may
    // have held none at the kill: the host's slots are shared by all three,
    // and then the crawl finishes with nothing to reclaim.)
    let reclaimed_after = wait_for("the dead worker's leases reclaimed", DEADLINE, || {
        let now = status(&url);
        let reclaimed = now["reclaimed"].as_u64().unwrap() > 0;
        (reclaimed || now["finished"] == true).then(|| killed_at.elapsed())
    });
    let survivors: Vec<usize> = (0..3).filter(|&n| n != victim).collect();
    for (n, worker) in workers.into_iter().enumerate() {
        if n == victim {
            continue;
        }
        worker.wait(DEADLINE).assert_code(0);
        let summary = read_summary(&dir.join(&format!("summary{n}.json")));
        assert!(summary_u64(&summary, "redisRoundTrips") > 0);
    }
    let outputs: Vec<PathBuf> = (0..3).map(|n| dir.join(&format!("out{n}.jsonl"))).collect();
    let stored = ok_counts(&outputs);
    let want = expected(&server);
    let got: BTreeSet<String> = stored.keys().cloned().collect();
    assert_eq!(got, want, "{}", semcrawl_tests::set_diff(&got, &want));
    let last = status(&url);
    let reclaimed = last["reclaimed"].as_u64().unwrap();
    let requests = page_requests(&server);
    let refetches = requests - want.len() as u64;
    eprintln!(
        "kill: {leased_at_kill} leased at the kill, {reclaimed} reclaimed after {reclaimed_after:?}, \
         {refetches} refetches of {} pages, max {} requests at once",
        want.len(),
        server.max_in_flight()
    );
    if reclaimed > 0 {
        assert!(reclaimed_after <= RECLAIM_BOUND, "{reclaimed_after:?}");
    }
    // Only a lease that expired can be fetched twice.
    assert!(
        refetches <= reclaimed,
        "{refetches} refetches, {reclaimed} leases reclaimed"
    );
    assert!(
        reclaimed <= leased_at_kill,
        "{reclaimed} > {leased_at_kill}"
    );
    assert!(
        server.max_in_flight() <= PER_HOST,
        "the host saw {} requests at once, --per-host {PER_HOST}",
        server.max_in_flight()
    );
    assert_eq!(last["finished"], true, "{last}");
    assert_eq!(last["queued"], 0);
    // Each survivor did a real share of the work.
    for out in survivors.iter().map(|&n| &outputs[n]) {
        let own = ok_counts(std::slice::from_ref(out)).len();
        assert!(
            own >= PAGES / 10,
            "{} stored only {own} pages",
            out.display()
        );
    }
}

#[test]
fn redis_restarted_mid_crawl_loses_nothing() {
    let Some(mut redis) = RedisServer::start_or_skip("redis_restarted_mid_crawl") else {
        return;
    };
    let server = site();
    let dir = TempDir::new("redis-restart");
    let url = redis.url();
    let mut worker = spawn(worker_args(&server, &url, &dir, 0));
    let out = dir.join("out0.jsonl");
    wait_for("a quarter of the pages", DEADLINE, || {
        assert!(
            !worker.has_exited(),
            "the crawl ended before Redis was stopped"
        );
        (complete_lines(&out) >= PAGES / 4).then_some(())
    });
    redis.stop_saving();
    // The outage itself: the worker must ride it out, not exit.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !worker.has_exited(),
        "the worker gave up while Redis was down"
    );
    redis.restart();
    let done = worker.wait(DEADLINE);
    done.assert_code(0);
    assert!(
        done.stderr.contains("Redis unreachable") || done.stderr.is_empty(),
        "{}",
        done.stderr
    );
    let stored = ok_counts(&[out]);
    let got: BTreeSet<String> = stored.keys().cloned().collect();
    let want = expected(&server);
    assert_eq!(got, want, "{}", semcrawl_tests::set_diff(&got, &want));
    assert_eq!(status(&url)["finished"], true);
}

#[test]
fn redis_absent_at_start_is_exit_2_naming_the_address() {
    let dir = TempDir::new("redis-absent");
    let address = format!("redis://127.0.0.1:{}", free_port());
    let done = run(
        crawl_args(
            "http://127.0.0.1:9/",
            &dir.join("out.jsonl"),
            &dir.join("summary.json"),
            &["--state", &address],
        ),
        Duration::from_secs(60),
    );
    done.assert_code(2);
    let lines: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", done.stderr);
    assert!(lines[0].contains(&address), "{}", lines[0]);
    assert!(!dir.join("out.jsonl").exists(), "the output was opened");
}

#[test]
fn a_crawl_with_other_seeds_is_refused() {
    let Some(redis) = RedisServer::start_or_skip("a_crawl_with_other_seeds_is_refused") else {
        return;
    };
    let server = site();
    let dir = TempDir::new("redis-refused");
    let url = redis.url();
    run(worker_args(&server, &url, &dir, 0), DEADLINE).assert_code(0);
    // The same command again joins the finished crawl: nothing to do.
    let again = run(worker_args(&server, &url, &dir, 1), DEADLINE);
    again.assert_code(0);
    let mut other = worker_args(&server, &url, &dir, 2);
    *other.last_mut().unwrap() = server.url("/p/1.html");
    let refused = run(other, DEADLINE);
    refused.assert_code(2);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("seeds differ"),
        "{}",
        refused.stderr
    );
    let text = run(
        ["status", "--state", &url, "--name", "e2e"],
        Duration::from_secs(30),
    );
    text.assert_code(0);
    assert!(text.stdout.contains("finished"), "{}", text.stdout);
    // Every page, and the guessed /sitemap.xml (queued and acknowledged
    // once for the whole crawl, though it leaves no record).
    assert!(
        text.stdout
            .contains(&format!("done      {}", expected(&server).len() + 1)),
        "{}",
        text.stdout
    );
}

/// One row of the scaling table: `workers` workers on the latency site,
/// sharing `state` (a Redis URL, or a directory for the one-worker
/// baseline).
struct Row {
    label: String,
    workers: usize,
    secs: f64,
    pages: usize,
    round_trips: u64,
}

fn bench_row(label: &str, workers: usize, redis: Option<&RedisServer>) -> Row {
    let spec = SiteSpec {
        latency: Duration::from_millis(50),
        ..SiteSpec::plain(2_000, 2048)
    };
    let server = SiteServer::start(Site::new(spec), 8).unwrap();
    let dir = TempDir::new("redis-bench");
    let name = format!("bench-{label}");
    let args = |n: usize| {
        let state = match redis {
            Some(r) => r.url(),
            None => dir.join("state").display().to_string(),
        };
        let mut extra = vec!["--state", &state, "--concurrency", "16", "--per-host", "64"];
        if redis.is_some() {
            extra.extend(["--name", &name]);
        }
        crawl_args(
            server.base_url().as_str(),
            &dir.join(&format!("out{n}.jsonl")),
            &dir.join(&format!("summary{n}.json")),
            &extra,
        )
    };
    let start = Instant::now();
    let running: Vec<Running> = (0..workers).map(|n| spawn(args(n))).collect();
    for worker in running {
        worker.wait(Duration::from_secs(600)).assert_code(0);
    }
    let secs = start.elapsed().as_secs_f64();
    let outputs: Vec<PathBuf> = (0..workers)
        .map(|n| dir.join(&format!("out{n}.jsonl")))
        .collect();
    let pages = ok_counts(&outputs).len();
    assert_eq!(pages, expected(&server).len(), "{label}: pages missing");
    let round_trips = (0..workers)
        .map(|n| {
            read_summary(&dir.join(&format!("summary{n}.json")))["redisRoundTrips"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    Row {
        label: label.to_owned(),
        workers,
        secs,
        pages,
        round_trips,
    }
}

/// The scaling table of `docs/bench/redis.md`: `scripts/bench-redis.sh`
/// runs it (release build). Not a test: timing on a shared machine is
/// noise, so it only prints.
#[test]
#[ignore = "a benchmark: scripts/bench-redis.sh"]
fn bench_scaling() {
    let Some(redis) = RedisServer::start_or_skip("bench_scaling") else {
        return;
    };
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    // The first spawn of a test process builds the binary (`cargo build`,
    // a no-op only when it is up to date): do it before any row's clock
    // starts, or the first row times a build (minutes on a loaded
    // machine, after a change to the sources).
    let built = Instant::now();
    semcrawl_tests::semcrawl_bin();
    eprintln!(
        "semcrawl binary ready in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    for run in 0..runs {
        rows.push(bench_row(&format!("dir-{run}"), 1, None));
        for workers in [1, 2, 4] {
            rows.push(bench_row(
                &format!("redis{workers}-{run}"),
                workers,
                Some(&redis),
            ));
        }
    }
    println!("| state | workers | pages | seconds | pages/s | Redis round trips | per page |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        let kind = if r.label.starts_with("dir") {
            "--state DIR"
        } else {
            "redis://"
        };
        println!(
            "| {kind} | {} | {} | {:.2} | {:.0} | {} | {:.2} |",
            r.workers,
            r.pages,
            r.secs,
            r.pages as f64 / r.secs,
            r.round_trips,
            r.round_trips as f64 / r.pages as f64
        );
    }
}

/// Workers of the crawl `name` of `seed` on `redis`, started together,
/// each with its own output, `extra` flags after the shared ones.
fn start_workers(
    seed: &str,
    redis: &str,
    name: &str,
    dir: &TempDir,
    extra: &[&str],
) -> Vec<Running> {
    let args: Vec<Vec<String>> = (0..3)
        .map(|n| {
            let mut flags = vec!["--state", redis, "--name", name, "--concurrency", "4"];
            flags.extend(extra);
            crawl_args(
                seed,
                &dir.join(&format!("out{n}.jsonl")),
                &dir.join(&format!("summary{n}.json")),
                &flags,
            )
        })
        .collect();
    // Built first (the first spawn may build the binary): then the three
    // start within milliseconds of each other.
    semcrawl_tests::semcrawl_bin();
    args.into_iter().map(spawn).collect()
}

fn outputs(dir: &TempDir) -> Vec<PathBuf> {
    (0..3).map(|n| dir.join(&format!("out{n}.jsonl"))).collect()
}

#[test]
fn crawl_delay_holds_across_all_workers_together() {
    let Some(redis) = RedisServer::start_or_skip("crawl_delay_holds_across_workers") else {
        return;
    };
    const PAGES: usize = 16;
    const DELAY: Duration = Duration::from_millis(300);
    // The server logs a request when its head has arrived: the crawler
    // starts it a moment before, so a little less than the delay is fine.
    const TOLERANCE: Duration = Duration::from_millis(30);
    let site = LoggingSite::start(PAGES, "User-agent: *\nCrawl-delay: 0.3\n", Duration::ZERO);
    let dir = TempDir::new("redis-paced");
    let workers = start_workers(&site.seed(), &redis.url(), "paced", &dir, &[]);
    for worker in workers {
        worker.wait(DEADLINE).assert_code(0);
    }
    let requests: Vec<_> = (site.requests().into_iter())
        .filter(|(path, _)| path != "/robots.txt")
        .collect();
    let gaps: Vec<Duration> = requests
        .windows(2)
        .map(|w| w[1].1.duration_since(w[0].1))
        .collect();
    let min = gaps.iter().min().copied().unwrap_or(Duration::MAX);
    let stored = ok_counts(&outputs(&dir));
    let shares: Vec<usize> = (outputs(&dir).iter())
        .map(|out| ok_counts(std::slice::from_ref(out)).len())
        .collect();
    eprintln!(
        "Crawl-delay 0.3s, 3 workers: {} requests, min gap {min:?}, pages per worker {shares:?}",
        requests.len()
    );
    assert!(
        min + TOLERANCE >= DELAY,
        "two requests {min:?} apart, Crawl-delay {DELAY:?}: {:?}",
        requests
            .iter()
            .map(|(p, at)| (p, at.duration_since(requests[0].1)))
            .collect::<Vec<_>>()
    );
    let got: BTreeSet<String> = stored.keys().cloned().collect();
    let want: BTreeSet<String> = site.pages(PAGES).into_iter().collect();
    assert_eq!(got, want, "{}", semcrawl_tests::set_diff(&got, &want));
    assert!(
        stored.values().all(|&n| n == 1),
        "a page stored twice: {stored:?}"
    );
    // The host's pace is the crawl's, not one worker's: still shared.
    assert!(
        shares.iter().filter(|&&n| n > 0).count() >= 2,
        "one worker did all the work: {shares:?}"
    );
}

#[test]
fn robots_txt_is_fetched_once_for_the_whole_crawl() {
    let Some(redis) = RedisServer::start_or_skip("robots_txt_is_fetched_once") else {
        return;
    };
    const PAGES: usize = 12;
    // Slow to answer: every worker wants it while it is on its way.
    let site = LoggingSite::start(
        PAGES,
        "User-agent: *\nDisallow: /p/3\n",
        Duration::from_millis(500),
    );
    let dir = TempDir::new("redis-robots");
    let workers = start_workers(&site.seed(), &redis.url(), "robots", &dir, &[]);
    for worker in workers {
        worker.wait(DEADLINE).assert_code(0);
    }
    let robots = site.count("/robots.txt");
    eprintln!(
        "robots.txt: {robots} GET(s) for 3 workers; {} requests in all",
        site.requests().len()
    );
    assert_eq!(robots, 1, "{:?}", site.requests());
    // Every worker obeys it, whichever fetched it.
    assert_eq!(site.count("/p/3"), 0);
    let got: BTreeSet<String> = ok_counts(&outputs(&dir)).into_keys().collect();
    let want: BTreeSet<String> = (site.pages(PAGES).into_iter())
        .filter(|u| !u.ends_with("/p/3"))
        .collect();
    assert_eq!(got, want, "{}", semcrawl_tests::set_diff(&got, &want));
}

/// Every record stored (pages and errors), by URL.
fn all_counts(paths: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for path in paths.iter().filter(|p| p.exists()) {
        for r in read_jsonl(path) {
            *counts
                .entry(r["url"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn max_pages_counts_across_all_workers_together() {
    let Some(redis) = RedisServer::start_or_skip("max_pages_counts_across_workers") else {
        return;
    };
    let server = site();
    let seed = server.base_url().to_string();
    // One machine, one worker: the figure to match.
    let one = TempDir::new("redis-max-one");
    let state = one.join("state").display().to_string();
    run(
        crawl_args(
            &seed,
            &one.join("out.jsonl"),
            &one.join("summary.json"),
            &["--state", &state, "--concurrency", "4", "--max-pages", "50"],
        ),
        DEADLINE,
    )
    .assert_code(0);
    let alone = read_jsonl(&one.join("out.jsonl")).len();
    let requests_alone = page_requests(&server);
    let dir = TempDir::new("redis-max");
    let url = redis.url();
    let workers = start_workers(&seed, &url, "e2e", &dir, &["--max-pages", "50"]);
    for worker in workers {
        worker.wait(DEADLINE).assert_code(0);
    }
    let stored = all_counts(&outputs(&dir));
    let shares: Vec<usize> = (outputs(&dir).iter())
        .map(|out| read_jsonl(out).len())
        .collect();
    let total: u64 = stored.values().sum();
    let state = status(&url);
    eprintln!(
        "--max-pages 50: one worker stored {alone} records; three stored {total} ({shares:?}); \
         status: started {}, queued {}",
        state["started"], state["queued"]
    );
    assert_eq!(total, alone as u64, "{shares:?}");
    assert!(stored.values().all(|&n| n == 1), "a page stored twice");
    assert_eq!(state["started"], 50, "{state}");
    assert_eq!(state["maxPages"], 50, "{state}");
    assert_eq!(state["leased"], 0, "{state}");
    assert!(state["queued"].as_u64().unwrap() > 0, "{state}");
    let requests = page_requests(&server) - requests_alone;
    assert!(requests <= 50, "{requests} page requests");
}
