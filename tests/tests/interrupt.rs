//! (d) Ctrl-C: SIGINT stops the crawl, the output stays consistent, and the
//! exit code is 130.

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::{wait_for, Site, SiteServer, SiteSpec};
use semcrawl_tests::{
    complete_lines, read_jsonl, read_summary, spawn, summary_u64, TempDir, QUIET,
};

#[test]
fn sigint_stops_the_crawl_with_consistent_output() {
    let spec = SiteSpec {
        latency: Duration::from_millis(200),
        ..SiteSpec::plain(300, 4096)
    };
    let server = SiteServer::start(Site::new(spec), 2).unwrap();
    let dir = TempDir::new("interrupt");
    let out = dir.join("out.jsonl");
    let summary = dir.join("summary.json");
    let mut args = vec!["crawl".to_string(), "--concurrency".into(), "4".into()];
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    args.extend(["--summary-json".into(), summary.display().to_string()]);
    args.push(server.base_url().to_string());
    let mut crawl = spawn(&args);

    wait_for(
        "some records in the output",
        Duration::from_secs(60),
        || {
            assert!(
                !crawl.has_exited(),
                "the crawl ended before it was interrupted"
            );
            (complete_lines(&out) >= 5).then_some(())
        },
    );
    kill(Pid::from_raw(crawl.pid() as i32), Signal::SIGINT).expect("send SIGINT");
    let done = crawl.wait(Duration::from_secs(30));
    done.assert_code(130);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);

    let records = read_jsonl(&out);
    let urls: BTreeSet<&str> = records
        .iter()
        .map(|r| r["url"].as_str().expect("url"))
        .collect();
    assert_eq!(urls.len(), records.len(), "a URL is stored twice");
    // Every record, interrupted or not, says when its fetch started: a real
    // time (after 2020), not the epoch.
    for r in &records {
        let at = r["fetched_at"].as_u64().expect("fetched_at");
        assert!(at > 1_577_836_800_000, "{r}");
    }
    assert!(
        records.len() < 302,
        "the crawl was not interrupted: {} records",
        records.len()
    );

    let summary = read_summary(&summary);
    assert_eq!(
        summary_u64(&summary, "pages") + summary_u64(&summary, "errors"),
        records.len() as u64,
        "summary does not count the stored lines: {summary}"
    );
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert!(summary_u64(&summary, "queued") > 0, "{summary}");
}
