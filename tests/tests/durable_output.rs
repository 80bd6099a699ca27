//! JSON Lines output is written through batch by batch: a crawl killed with
//! SIGKILL loses only the pages in flight, and a slow crawl's file grows
//! while it runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::wait_for;
use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::{complete_lines, parse_jsonl, spawn, TempDir, QUIET};

/// The complete lines of a file a killed process was writing (a last,
/// unterminated line is the write the kill cut short).
fn complete_records(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    parse_jsonl(&text[..end])
}

/// Pages (not robots.txt, nor the guessed /sitemap.xml, a 404 that leaves
/// no record) the server has been asked for.
fn pages_requested(server: &SiteServer) -> u64 {
    server
        .requests()
        .iter()
        .filter(|(u, _)| !u.ends_with("/robots.txt") && !u.ends_with("/sitemap.xml"))
        .map(|(_, n)| n)
        .sum()
}

fn crawl_args(server: &SiteServer, out: &Path, concurrency: usize) -> Vec<String> {
    let mut args = vec![
        "crawl".to_string(),
        "--concurrency".into(),
        concurrency.to_string(),
    ];
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    args.push(server.base_url().to_string());
    args
}

#[test]
fn sigkill_loses_only_the_pages_in_flight() {
    let spec = SiteSpec {
        latency: Duration::from_millis(30),
        ..SiteSpec::plain(400, 4096)
    };
    let server = SiteServer::start(Site::new(spec), 4).unwrap();
    let dir = TempDir::new("sigkill");
    let out = dir.join("out.jsonl");
    let concurrency = 4;
    let mut crawl = spawn(crawl_args(&server, &out, concurrency));

    wait_for("60 pages requested", Duration::from_secs(60), || {
        assert!(!crawl.has_exited(), "the crawl ended before the kill");
        (pages_requested(&server) >= 60).then_some(())
    });
    kill(Pid::from_raw(crawl.pid() as i32), Signal::SIGKILL).expect("send SIGKILL");
    let done = crawl.wait(Duration::from_secs(30));
    assert_eq!(done.code(), None, "killed by a signal");

    let requested = pages_requested(&server);
    let records = complete_records(&out);
    let urls: BTreeSet<&str> = records.iter().filter_map(|r| r["url"].as_str()).collect();
    assert_eq!(urls.len(), records.len(), "a URL is stored twice");
    // A page's permit is returned only once its record is stored, so at
    // most `concurrency` pages can be requested and not yet written.
    assert!(
        records.len() as u64 + concurrency as u64 >= requested,
        "{} records on disk for {requested} pages requested: more than the {concurrency} in flight lost",
        records.len()
    );
}

#[test]
fn a_slow_crawl_writes_records_as_it_goes() {
    let spec = SiteSpec {
        latency: Duration::from_millis(250),
        ..SiteSpec::plain(30, 1024)
    };
    let server = SiteServer::start(Site::new(spec), 2).unwrap();
    let dir = TempDir::new("slow-output");
    let out = dir.join("out.jsonl");
    let mut crawl = spawn(crawl_args(&server, &out, 1));

    // 30 pages at 250 ms each take over 7 s: the first records must show
    // up long before that.
    wait_for("records in the file", Duration::from_secs(60), || {
        assert!(
            !crawl.has_exited(),
            "the crawl ended with nothing in the file while it ran"
        );
        (complete_lines(&out) >= 2).then_some(())
    });
    let done = crawl.wait(Duration::from_secs(60));
    done.assert_code(0);
    let expected = server.expected(&ExpectOptions::default()).urls().len();
    assert_eq!(complete_lines(&out), expected);
}
