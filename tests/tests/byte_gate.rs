//! (c) The byte gate holds: big pages at high concurrency and a small
//! memory budget never take more than the budget, and every page is stored.

use std::time::Duration;

use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, summary_u64, TempDir};

#[test]
fn big_pages_stay_within_the_memory_budget() {
    let spec = SiteSpec {
        latency: Duration::from_millis(50),
        ..SiteSpec::plain(40, 1024 * 1024)
    };
    let server = SiteServer::start(Site::new(spec), 2).unwrap();
    let expected = server.expected(&ExpectOptions {
        max_body: 2 << 20,
        ..ExpectOptions::default()
    });
    assert_eq!(expected.records.len(), 42, "home, known page and 40 pages");

    let dir = TempDir::new("byte-gate");
    let flags = [
        "--concurrency",
        "64",
        "--memory",
        "8MiB",
        "--max-body",
        "2MiB",
    ];
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        server.base_url().as_str(),
        &flags,
        Duration::from_secs(180),
    );

    let got = by_url(&records);
    assert_eq!(
        got.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        expected.urls()
    );
    for (url, rec) in &got {
        assert_eq!(error_kind(rec), None, "{url}: {rec}");
    }
    let big = &got[&server.url("/p/7.html")];
    assert!(
        big["bytes"].as_u64().is_some_and(|b| b > 900 * 1024),
        "{big}"
    );

    let budget = summary_u64(&summary, "budget");
    let peak = summary_u64(&summary, "peakBytes");
    assert_eq!(budget, 8 << 20, "{summary}");
    assert!(peak > 0, "peakBytes is 0: {summary}");
    assert!(peak <= budget, "peakBytes {peak} > budget {budget}");
    assert_eq!(summary_u64(&summary, "pages"), 42);
    assert!(summary_u64(&summary, "bytes") >= 40 << 20, "{summary}");
}
