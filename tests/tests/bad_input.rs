//! (e) Usage errors: exit code 2, one clear line on stderr, no panic, and no
//! request sent.

use std::time::Duration;

use semcrawl_site::{Site, SiteServer, SiteSpec};
use semcrawl_tests::run;

fn usage_error(args: &[&str], names: &[&str]) {
    let done = run(args, Duration::from_secs(60));
    done.assert_code(2);
    let stderr = done.stderr.trim();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{args:?}: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: expected one line on stderr, got:\n{stderr}"
    );
    assert!(
        names.iter().any(|n| stderr.contains(n)),
        "{args:?}: the message does not name the problem ({names:?}): {stderr}"
    );
}

#[test]
fn bad_input_exits_with_code_2_and_one_line() {
    let server = SiteServer::start(Site::new(SiteSpec::plain(3, 1024)), 1).unwrap();
    let url = server.base_url().to_string();

    usage_error(&["crawl", "-q", "not a url"], &["not a url", "URL"]);
    usage_error(&["crawl", "-q", "ftp://127.0.0.1/"], &["ftp", "URL"]);
    usage_error(
        &["crawl", "-q", "--no-such-flag", &url],
        &["--no-such-flag"],
    );
    usage_error(&["crawl", "-q", "--memory", "1KiB", &url], &["--memory"]);
    usage_error(
        &["crawl", "-q", "--concurrency", "many", &url],
        &["--concurrency", "many"],
    );
    // A limit range this wide would allocate its way to gigabytes of permits.
    usage_error(
        &["crawl", "-q", "--concurrency", "auto:1..99999999999", &url],
        &["--concurrency", "99999999999"],
    );
    usage_error(
        &["crawl", "-q", "--out", "/nonexistent-dir/x.jsonl", &url],
        &["/nonexistent-dir"],
    );
    usage_error(
        &["crawl", "-q", "--select", "no-equals-sign", &url],
        &["--select", "no-equals-sign"],
    );
    usage_error(&["crawl", "-q", "--threads", "20000", &url], &["--threads"]);
    usage_error(
        &["crawl", "-q", "--user-agent", "bot\r\nX-Injected: 1", &url],
        &["--user-agent"],
    );
    usage_error(
        &["crawl", "-q", "--allow-domain", "", &url],
        &["--allow-domain"],
    );
    usage_error(
        &[
            "crawl",
            "-q",
            "--summary-json",
            "/nonexistent-dir/summary.json",
            &url,
        ],
        &["--summary-json"],
    );
    let dir = semcrawl_tests::TempDir::new("foreign-sqlite");
    let db = dir.join("theirs.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE pages (id INTEGER PRIMARY KEY, slug TEXT, body TEXT)")
        .unwrap();
    drop(conn);
    usage_error(
        &["crawl", "-q", "--out", db.to_str().unwrap(), &url],
        &["pages"],
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "an index was added to someone else's table");

    assert_eq!(
        server.total_requests(),
        0,
        "a usage error must be reported before any request: {:?}",
        server.requests()
    );
}
