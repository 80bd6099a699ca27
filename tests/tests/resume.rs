//! `--state DIR`, resume and SIGTERM, against the real binary: a crawl
//! killed (`kill -9`) or stopped (SIGTERM) half-way is run again with the
//! same command and ends with every page stored; a rerun that is not the
//! same crawl is refused before any request.
//!
//! The site: 2,000 pages answering after 50 ms, crawled at `-c 16`, so a
//! crawl lasts several seconds and is stopped well inside it.
//!
//! The two resume tests need the disk frontier behind `--state` (pages done
//! are not fetched again); the refusals and the SIGTERM exit status do not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::{wait_for, ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::{
    crawl_args, error_kind, read_jsonl, read_summary, run, spawn, summary_u64, Running, TempDir,
};
use serde_json::Value;

const PAGES: usize = 2_000;
const CONCURRENCY: u64 = 16;
/// Records the core hands the store at most at once (its default batch).
const STORE_BATCH: u64 = 256;
const DEADLINE: Duration = Duration::from_secs(120);

fn site() -> SiteServer {
    let spec = SiteSpec {
        latency: Duration::from_millis(50),
        ..SiteSpec::plain(PAGES, 2048)
    };
    SiteServer::start(Site::new(spec), 2).unwrap()
}

fn expected_urls(server: &SiteServer) -> BTreeSet<String> {
    server.expected(&ExpectOptions::default()).urls()
}

/// The crawl's arguments: `-c 16`, with `--state` if given.
fn args(server: &SiteServer, dir: &TempDir, state: Option<&Path>) -> Vec<String> {
    let state = state.map(|s| s.display().to_string());
    let mut extra = vec!["--concurrency", "16"];
    if let Some(state) = &state {
        extra.extend(["--state", state.as_str()]);
    }
    crawl_args(
        server.base_url().as_str(),
        &dir.join("out.jsonl"),
        &dir.join("summary.json"),
        &extra,
    )
}

/// Wait until `out` holds `n` complete lines, the crawl still running.
fn wait_for_lines(crawl: &mut Running, out: &Path, n: usize) {
    wait_for(&format!("{n} records"), DEADLINE, || {
        assert!(!crawl.has_exited(), "the crawl ended before it was stopped");
        (semcrawl_tests::complete_lines(out) >= n).then_some(())
    });
}

fn signal(crawl: &Running, signal: Signal) {
    kill(Pid::from_raw(crawl.pid() as i32), signal).expect("send the signal");
}

/// Requests of pages (robots.txt aside) by URL.
fn page_requests(server: &SiteServer) -> BTreeMap<String, u64> {
    let mut requests = server.requests();
    requests.remove(&server.url("/robots.txt"));
    requests
}

/// The URLs of the records in `records` that are not errors, and how many
/// times each is stored.
fn ok_counts(records: &[Value]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in records.iter().filter(|r| error_kind(r).is_none()) {
        *counts
            .entry(r["url"].as_str().expect("url").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

#[test]
fn kill_9_then_resume_stores_every_page_and_refetches_little() {
    let server = site();
    let dir = TempDir::new("resume-kill");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state"));
    let args = args(&server, &dir, Some(&state));

    let mut crawl = spawn(&args);
    wait_for_lines(&mut crawl, &out, 300);
    signal(&crawl, Signal::SIGKILL);
    let killed = crawl.wait(DEADLINE);
    assert_eq!(killed.code(), None, "killed by the signal");

    let done = run(&args, DEADLINE);
    done.assert_code(0);
    // Every line parses: a line torn by the kill was cut before appending.
    let records = read_jsonl(&out);
    let stored: BTreeSet<String> = records
        .iter()
        .map(|r| r["url"].as_str().unwrap().to_owned())
        .collect();
    let want = expected_urls(&server);
    assert_eq!(stored, want, "{}", semcrawl_tests::set_diff(&stored, &want));
    // What the state says is done is not fetched again: only what was in
    // flight or not yet acknowledged by the store at the kill.
    let refetched: u64 = page_requests(&server).values().map(|n| n - 1).sum();
    assert!(
        refetched <= CONCURRENCY + STORE_BATCH,
        "{refetched} pages fetched twice; at most {} expected",
        CONCURRENCY + STORE_BATCH
    );
    let duplicates = records.len() as u64 - stored.len() as u64;
    assert!(duplicates <= refetched, "{duplicates} records stored twice");
    let summary = read_summary(&dir.join("summary.json"));
    assert_eq!(summary["resumed"], true, "{summary}");
    assert!(summary_u64(&summary, "resumedFrom") > 0, "{summary}");
}

#[test]
fn sigterm_then_resume_stores_one_ok_record_per_page() {
    let server = site();
    let dir = TempDir::new("resume-term");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state"));
    let args = args(&server, &dir, Some(&state));

    let mut crawl = spawn(&args);
    wait_for_lines(&mut crawl, &out, 300);
    signal(&crawl, Signal::SIGTERM);
    crawl.wait(DEADLINE).assert_code(143);
    let first = read_summary(&dir.join("summary.json"));
    assert_eq!(first["interrupted"], true, "{first}");
    let stored_first = summary_u64(&first, "pages");

    run(&args, DEADLINE).assert_code(0);
    let records = read_jsonl(&out);
    let counts = ok_counts(&records);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} pages stored more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    let stored: BTreeSet<String> = counts.into_keys().collect();
    let want = expected_urls(&server);
    assert_eq!(stored, want, "{}", semcrawl_tests::set_diff(&stored, &want));
    let summary = read_summary(&dir.join("summary.json"));
    assert_eq!(summary["resumed"], true, "{summary}");
    assert_eq!(
        summary_u64(&summary, "resumedFrom"),
        stored_first,
        "{summary}"
    );
    assert_eq!(
        summary_u64(&summary, "pages") + stored_first,
        want.len() as u64,
        "{summary}"
    );
}

#[test]
fn sigterm_exits_143_with_a_record_for_every_page_fetched() {
    let server = site();
    let dir = TempDir::new("sigterm");
    let out = dir.join("out.jsonl");
    let mut crawl = spawn(args(&server, &dir, None));
    wait_for_lines(&mut crawl, &out, 100);
    signal(&crawl, Signal::SIGTERM);
    let done = crawl.wait(DEADLINE);
    done.assert_code(143);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);

    let records = read_jsonl(&out);
    let stored: BTreeMap<String, &Value> = records
        .iter()
        .map(|r| (r["url"].as_str().unwrap().to_owned(), r))
        .collect();
    assert_eq!(stored.len(), records.len(), "a URL is stored twice");
    // Pages in flight at the signal finish within --grace (10 s, against
    // 50 ms of latency): every page the server answered has its record,
    // and none was cut short.
    let fetched: BTreeSet<String> = page_requests(&server).into_keys().collect();
    let missing: Vec<_> = fetched
        .iter()
        .filter(|u| !stored.contains_key(*u))
        .collect();
    assert!(missing.is_empty(), "fetched but not stored: {missing:?}");
    assert!(
        records.iter().all(|r| error_kind(r).is_none()),
        "an error record after a clean stop"
    );
    assert!(records.len() < PAGES, "the crawl was not stopped");
    let summary = read_summary(&dir.join("summary.json"));
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert_eq!(summary["resumed"], false, "{summary}");
    assert_eq!(
        summary_u64(&summary, "pages") + summary_u64(&summary, "errors"),
        records.len() as u64,
        "{summary}"
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let server = site();
    let dir = TempDir::new("second-signal");
    let (out, summary) = (dir.join("out.jsonl"), dir.join("summary.json"));
    let mut args = args(&server, &dir, None);
    args.splice(1..1, ["--grace".to_string(), "120s".to_string()]);
    let mut crawl = spawn(&args);
    wait_for_lines(&mut crawl, &out, 50);
    // From now on every page takes 15 s: after the first signal, the crawl
    // would wait that long for the pages in flight (the server, dropped at
    // the end, waits too: longer would only slow the test).
    server.set_latency(Duration::from_secs(15));
    let before = server.total_requests();
    wait_for("a request to the slow server", DEADLINE, || {
        (server.total_requests() > before).then_some(())
    });
    let sent = std::time::Instant::now();
    signal(&crawl, Signal::SIGTERM);
    signal(&crawl, Signal::SIGINT);
    let done = crawl.wait(Duration::from_secs(10));
    // Both may be read at once, in either order: the exit status is the
    // second one's.
    assert!(
        matches!(done.code(), Some(130 | 143)),
        "{:?}\n{}",
        done.status,
        done.stderr
    );
    assert!(
        done.stderr.contains("exiting without waiting"),
        "{}",
        done.stderr
    );
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "not at once: {:?}",
        sent.elapsed()
    );
    assert!(!summary.exists(), "no summary after an exit at once");
}

/// A small site: the refusals need a finished crawl, not a long one.
fn small_site() -> SiteServer {
    SiteServer::start(Site::new(SiteSpec::plain(20, 1024)), 1).unwrap()
}

/// Run once to the end with `--state`, then again with `changed`
/// arguments: exit 2, one line on stderr containing `says`, no request,
/// the output untouched.
fn refused(changed: impl FnOnce(&SiteServer, &TempDir, Vec<String>) -> Vec<String>, says: &str) {
    let server = small_site();
    let dir = TempDir::new("resume-refused");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state"));
    let args = args(&server, &dir, Some(&state));
    run(&args, DEADLINE).assert_code(0);
    let before = std::fs::read(&out).unwrap();
    let requests = server.total_requests();

    let again = run(changed(&server, &dir, args), DEADLINE);
    again.assert_code(2);
    let lines: Vec<&str> = again.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", again.stderr);
    assert!(lines[0].contains("--state"), "{}", lines[0]);
    assert!(lines[0].contains(says), "{}", lines[0]);
    assert_eq!(server.total_requests(), requests, "a request was sent");
    assert_eq!(std::fs::read(&out).unwrap(), before, "the output changed");
}

#[test]
fn other_seeds_on_the_same_state_are_refused() {
    refused(
        |server, _, mut args| {
            *args.last_mut().unwrap() = server.url("/p/1.html");
            args
        },
        "the seeds differ",
    );
}

#[test]
fn another_scope_on_the_same_state_is_refused() {
    refused(
        |_, _, mut args| {
            args.splice(1..1, ["--scope".to_string(), "any".to_string()]);
            args
        },
        "the scopes differ",
    );
}

#[test]
fn a_state_of_another_format_version_is_refused() {
    refused(
        |_, dir, args| {
            let file = dir.join("state").join("state.json");
            let text = std::fs::read_to_string(&file).unwrap();
            let mut state: Value = serde_json::from_str(&text).unwrap();
            state["format"] = 999.into();
            std::fs::write(&file, state.to_string()).unwrap();
            args
        },
        "format 999",
    );
}

#[test]
fn a_state_in_use_is_refused() {
    let server = small_site();
    let dir = TempDir::new("resume-locked");
    let state = dir.join("state");
    let identity = semcrawl_smol::state::CrawlIdentity::default();
    let (_held, _) = semcrawl_smol::state::StateDir::open(&state, &identity).unwrap();
    let again = run(args(&server, &dir, Some(&state)), DEADLINE);
    again.assert_code(2);
    assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
    assert!(again.stderr.contains("in use"), "{}", again.stderr);
    assert_eq!(server.total_requests(), 0, "a request was sent");
}

#[test]
fn a_resumed_crawl_appends_after_cutting_a_torn_line() {
    // Without the disk frontier the rerun fetches everything again; what
    // this checks is the output: kept, the torn tail cut, then appended.
    let server = small_site();
    let dir = TempDir::new("resume-append");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state"));
    let args = args(&server, &dir, Some(&state));
    run(&args, DEADLINE).assert_code(0);
    let first = read_jsonl(&out).len();
    assert!(first > 0);
    let mut text = std::fs::read(&out).unwrap();
    text.extend_from_slice(b"{\"url\":\"http://torn");
    std::fs::write(&out, &text).unwrap();

    run(&args, DEADLINE).assert_code(0);
    let records = read_jsonl(&out);
    assert!(records.len() >= first, "the earlier records were kept");
    assert!(
        records[..first]
            .iter()
            .zip(read_jsonl_prefix(&text, first))
            .all(|(a, b)| *a == b),
        "the earlier records changed"
    );
    let summary = read_summary(&dir.join("summary.json"));
    assert_eq!(summary["resumed"], true, "{summary}");
}

/// The first `n` records of a JSON Lines text.
fn read_jsonl_prefix(text: &[u8], n: usize) -> Vec<Value> {
    String::from_utf8_lossy(text)
        .lines()
        .take(n)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// robots.txt is kept in the state directory with its fetch time: a crawl
/// resumed within its maximum age (24 hours) does not fetch it again.
#[test]
fn a_resumed_crawl_reuses_the_robots_txt_kept_in_the_state() {
    let server = site();
    let dir = TempDir::new("resume-robots");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state"));
    let args = args(&server, &dir, Some(&state));
    let robots = server.url("/robots.txt");
    let fetched = || server.requests().get(&robots).copied().unwrap_or(0);

    let mut crawl = spawn(&args);
    wait_for_lines(&mut crawl, &out, 300);
    signal(&crawl, Signal::SIGTERM);
    crawl.wait(DEADLINE).assert_code(143);
    assert_eq!(fetched(), 1, "robots.txt fetched once by the first run");

    run(&args, DEADLINE).assert_code(0);
    assert_eq!(fetched(), 1, "robots.txt fetched again on resume");
    let stored: BTreeSet<String> = ok_counts(&read_jsonl(&out)).into_keys().collect();
    let want = expected_urls(&server);
    assert_eq!(stored, want, "{}", semcrawl_tests::set_diff(&stored, &want));
}
