//! (a) and (b): a crawl of the trap site stores exactly the expected records,
//! once each, in JSON Lines and in SQLite, and never requests a URL that is
//! out of scope or disallowed by robots.txt.

use std::collections::BTreeSet;
use std::time::Duration;

use semcrawl_site::{
    ExpectOptions, Expected, Site, SiteServer, SiteSpec, CP1252_TITLE, SJIS_TITLE,
};
use semcrawl_tests::{
    by_url, crawl_to_jsonl, error_kind, run, set_diff, summary_u64, TempDir, QUIET,
};

/// `--max-body 1MiB` (endless body and gzip bomb end as `body_too_large`)
/// and a timeout far above the slow page's 1.5 s.
const FLAGS: [&str; 8] = [
    "--max-body",
    "1MiB",
    "--timeout",
    "10s",
    "--concurrency",
    "16",
    "--memory",
    "64MiB",
];

fn expected(server: &SiteServer) -> Expected {
    server.expected(&ExpectOptions {
        max_body: 1 << 20,
        timeout: Duration::from_secs(10),
        ..ExpectOptions::default()
    })
}

/// What the server saw: nothing out of scope, nothing disallowed, no URL
/// variant, robots.txt once, every successful page once.
fn check_requests(server: &SiteServer, expected: &Expected) {
    let requests = server.requests();
    let robots = server.url("/robots.txt");
    assert_eq!(
        server.request_count("/robots.txt"),
        1,
        "robots.txt is fetched once per host"
    );
    // The site lists no sitemap: /sitemap.xml is guessed once, a 404 that
    // leaves no record.
    let sitemap = server.url("/sitemap.xml");
    assert_eq!(requests.get(&sitemap), Some(&1), "the guessed sitemap");
    for (url, count) in &requests {
        if *url == robots || *url == sitemap {
            continue;
        }
        assert!(
            expected.records.contains_key(url),
            "requested a URL that is not in the expected set: {url}"
        );
        assert!(
            !url.contains("utm_") && !url.contains('#') && !url.ends_with('?'),
            "non-canonical request {url}"
        );
        if expected.records[url].error.is_none() {
            assert_eq!(*count, 1, "{url} requested {count} times");
        }
    }
    for url in expected.robots_skipped.iter().chain(&expected.out_of_scope) {
        assert!(
            !requests.contains_key(url),
            "requested {url}, which must never be requested"
        );
    }
    assert!(
        !requests.keys().any(|u| u.contains("/private/")),
        "a robots-disallowed path was requested: {requests:#?}"
    );
    assert!(
        !requests.keys().any(|u| u.starts_with("http://localhost")),
        "the off-scope localhost alias was requested"
    );
}

#[test]
fn trap_site_jsonl_has_exactly_the_expected_records() {
    let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 2).unwrap();
    let expected = expected(&server);
    let dir = TempDir::new("trap-jsonl");
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        server.base_url().as_str(),
        &FLAGS,
        Duration::from_secs(120),
    );

    let got = by_url(&records);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        expected.records.keys().collect::<BTreeSet<_>>(),
        "{}",
        set_diff(got.keys(), expected.records.keys())
    );
    for (url, want) in &expected.records {
        let rec = &got[url];
        assert_eq!(
            error_kind(rec),
            want.error.map(|k| k.as_str()),
            "error of {url}: {rec}"
        );
        if let Some(status) = want.status {
            assert_eq!(
                rec["status"].as_u64(),
                Some(u64::from(status)),
                "status of {url}: {rec}"
            );
        }
        if want.error.is_none() {
            if let Some(final_url) = &want.final_url {
                assert_eq!(
                    rec["final_url"].as_str(),
                    Some(final_url.as_str()),
                    "final_url of {url}"
                );
            }
        }
        let depth = rec["depth"]
            .as_u64()
            .unwrap_or_else(|| panic!("no depth: {rec}"));
        assert!(
            depth >= u64::from(want.depth),
            "{url} stored at depth {depth} < {}",
            want.depth
        );
        if url != &server.url("/") {
            assert!(rec["parent"].is_string(), "{url} has no parent: {rec}");
        }
    }

    let rec = |p: &str| &got[&server.url(p)];
    assert_eq!(rec("/enc/cp1252.html")["title"], CP1252_TITLE);
    assert_eq!(rec("/enc/sjis.html")["title"], SJIS_TITLE);
    assert_eq!(rec("/canon/dup.html")["canonical"], server.url("/p/1.html"));
    assert_eq!(rec("/")["title"], "semcrawl test site");
    assert_eq!(rec("/p/0.html")["lang"], "en");
    assert!(rec("/p/0.html")["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert!(rec("/p/0.html")["sha256"]
        .as_str()
        .is_some_and(|h| h.len() == 64));
    // A .pdf link is not queued; a text file is recorded from its head.
    assert_eq!(server.request_count("/files/report.pdf"), 0);
    assert!(rec("/files/notes.txt")["content_type"]
        .as_str()
        .is_some_and(|c| c.starts_with("text/plain")));
    assert_eq!(rec("/files/notes.txt")["bytes"], 0);

    check_requests(&server, &expected);

    assert_eq!(
        summary_u64(&summary, "pages"),
        expected.pages(),
        "{summary}"
    );
    assert_eq!(
        summary_u64(&summary, "errors"),
        expected.errors(),
        "{summary}"
    );
    let by_kind: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(summary["errorsByKind"].clone())
            .expect("errorsByKind is a map of counts");
    assert_eq!(by_kind, expected.errors_by_kind());
    assert_eq!(
        summary_u64(&summary, "robotsSkipped"),
        expected.robots_skipped.len() as u64,
        "{summary}"
    );
    assert_eq!(summary_u64(&summary, "queued"), 0);
    assert_eq!(summary["interrupted"], false);
}

#[test]
fn trap_site_sqlite_has_exactly_the_expected_records() {
    let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 2).unwrap();
    let expected = expected(&server);
    let dir = TempDir::new("trap-sqlite");
    let db = dir.join("x.sqlite");
    let mut args = vec![
        "crawl".to_string(),
        "--out".into(),
        db.display().to_string(),
    ];
    args.extend(QUIET.iter().chain(&FLAGS).map(|s| s.to_string()));
    args.push(server.base_url().to_string());
    run(&args, Duration::from_secs(120)).assert_code(0);

    let conn = rusqlite::Connection::open(&db).expect("open the SQLite output");
    let mut stmt = conn
        .prepare("SELECT url FROM pages")
        .expect("table pages with a url column");
    let urls: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let set: BTreeSet<String> = urls.iter().cloned().collect();
    assert_eq!(set.len(), urls.len(), "a URL is stored twice");
    assert_eq!(
        set,
        expected.urls(),
        "{}",
        set_diff(&set, expected.records.keys())
    );
    check_requests(&server, &expected);
}
