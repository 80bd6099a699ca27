//! (g) `--max-pages` and `--max-depth` are honoured.

use std::collections::BTreeSet;
use std::time::Duration;

use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::{by_url, crawl_to_jsonl, set_diff, summary_u64, TempDir};

fn server() -> SiteServer {
    SiteServer::start(Site::new(SiteSpec::plain(50, 2048)), 2).unwrap()
}

#[test]
fn max_pages_stops_after_n_pages() {
    let server = server();
    let dir = TempDir::new("max-pages");
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        server.base_url().as_str(),
        &["--max-pages", "10"],
        Duration::from_secs(60),
    );
    let got = by_url(&records);
    assert_eq!(got.len(), 10, "{:#?}", got.keys());
    let all = server.expected(&ExpectOptions::default()).urls();
    assert!(got.keys().all(|u| all.contains(u)));
    let fetched: u64 = server
        .requests()
        .iter()
        .filter(|(u, _)| !u.ends_with("/robots.txt"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        fetched <= 10,
        "{fetched} pages requested with --max-pages 10"
    );
    assert_eq!(
        summary_u64(&summary, "pages") + summary_u64(&summary, "errors"),
        10
    );
    assert!(summary_u64(&summary, "queued") > 0, "{summary}");
}

#[test]
fn max_depth_limits_link_distance() {
    let server = server();
    let at = |d: u32| {
        server.expected(&ExpectOptions {
            max_depth: Some(d),
            ..ExpectOptions::default()
        })
    };

    // Depth 1: the seed and its links, exactly.
    let dir = TempDir::new("max-depth-1");
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        server.base_url().as_str(),
        &["--max-depth", "1"],
        Duration::from_secs(60),
    );
    let got = by_url(&records);
    let want = at(1);
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        want.urls(),
        "{}",
        set_diff(got.keys(), want.records.keys())
    );
    for (url, rec) in &got {
        assert_eq!(
            rec["depth"].as_u64(),
            Some(u64::from(want.records[url].depth)),
            "{url}"
        );
    }

    // Depth 2: everything within two links; a concurrent crawl may find a
    // page first through a longer path, so only bounds are exact.
    let dir = TempDir::new("max-depth-2");
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        server.base_url().as_str(),
        &["--max-depth", "2"],
        Duration::from_secs(60),
    );
    let got = by_url(&records);
    let (one, two) = (at(1).urls(), at(2).urls());
    assert!(two.len() > one.len(), "the site must be deeper than 2");
    let got_urls: BTreeSet<String> = got.keys().cloned().collect();
    assert!(got_urls.is_superset(&one), "{}", set_diff(&got_urls, &one));
    assert!(got_urls.is_subset(&two), "{}", set_diff(&got_urls, &two));
    for (url, rec) in &got {
        assert!(
            rec["depth"].as_u64().is_some_and(|d| d <= 2),
            "{url}: {rec}"
        );
    }
}
