//! A crawl without `--state` keeps its frontier in memory until it passes
//! half of its share of `--memory`, then moves it to disk once: the crawl
//! that spills stores every page of the site exactly once, as one that
//! never spills does.

use std::collections::BTreeMap;
use std::time::Duration;

use semcrawl_tests::fanout::{serve, Shape};
use semcrawl_tests::{crawl_to_jsonl, summary_u64, TempDir};

/// The site: `/f/0` links to 100 pages, each of them to 100 more; two
/// levels deep that is 10,101 pages, 10,000 of them queued at once after
/// the first 101 (about 1 MiB of frontier in memory).
const LINKS: usize = 100;
const PAGES: usize = 1 + LINKS + LINKS * LINKS;

fn crawl(memory: &str) -> (String, BTreeMap<String, u32>) {
    let seed = serve(Shape::Fanout { links: LINKS });
    let dir = TempDir::new("frontier-spill");
    let (done, records, summary) = crawl_to_jsonl(
        &dir,
        &seed,
        &[
            "--memory",
            memory,
            "--max-body",
            "256KiB",
            "--max-depth",
            "2",
            "--log-level",
            "info",
        ],
        Duration::from_secs(600),
    );
    assert_eq!(summary_u64(&summary, "pages"), PAGES as u64);
    let mut stored: BTreeMap<String, u32> = BTreeMap::new();
    for r in &records {
        assert_eq!(r["status"], 200, "{r}");
        *stored
            .entry(r["url"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let base = seed.trim_end_matches("/f/0");
    for n in 0..PAGES {
        let url = format!("{base}/f/{n}");
        assert_eq!(stored.get(&url), Some(&1), "{url} stored once");
    }
    assert_eq!(stored.len(), PAGES, "nothing else stored");
    (done.stderr, stored)
}

#[test]
fn a_crawl_that_spills_stores_every_page_once() {
    // A 2 MiB budget: the frontier's share is 1 MiB, half of it in memory.
    let (stderr, _) = crawl("2MiB");
    assert!(
        stderr.contains("moved to disk"),
        "the frontier spilled:\n{stderr}"
    );
}

#[test]
fn a_crawl_within_the_memory_part_never_spills() {
    // 256 MiB: a 16 MiB share, 8 MiB in memory, far more than this site.
    let (stderr, _) = crawl("256MiB");
    assert!(
        !stderr.contains("moved to disk"),
        "the frontier stayed in memory:\n{stderr}"
    );
}
