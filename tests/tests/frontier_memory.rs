//! The frontier under `--memory`: crawls that queue hundreds of thousands
//! of URLs, or very long ones, keep their peak RSS within the budget plus a
//! small fixed overhead, because the frontier lives on disk with only its
//! share of `--memory` in RAM.
//!
//! Full size (a million URLs queued, 400,000 URLs of 7 KiB) these take
//! minutes in a debug build: the tests run a smaller crawl of each shape
//! with the same per-page load (ten thousand links a page, all resolved at
//! once, would be 70 MiB a page); `SEMCRAWL_FULL_SIZE=1` runs the full one.

use std::time::Duration;

use semcrawl_tests::fanout::{serve, Shape};
use semcrawl_tests::{crawl_to_jsonl, summary_u64, TempDir};

const MIB: u64 = 1024 * 1024;

fn full_size() -> bool {
    std::env::var_os("SEMCRAWL_FULL_SIZE").is_some()
}

#[test]
fn a_thousand_new_links_a_page_stay_within_the_budget() {
    let pages: u64 = if full_size() { 1001 } else { 201 };
    let seed = serve(Shape::Fanout { links: 1000 });
    let dir = TempDir::new("frontier-fanout");
    let max = pages.to_string();
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        &seed,
        &["--memory", "48MiB", "--max-pages", &max],
        Duration::from_secs(600),
    );
    assert_eq!(records.len() as u64, pages);
    assert_eq!(summary_u64(&summary, "pages"), pages);
    let queued = summary_u64(&summary, "queued");
    assert!(queued >= pages * 1000 - pages, "{queued} queued");
    let rss = summary_u64(&summary, "peakRssBytes");
    eprintln!("{pages} pages, {queued} queued: peak RSS {} MiB", rss / MIB);
    assert!(rss <= 64 * MIB, "peak RSS {} MiB", rss / MIB);
}

/// Ten thousand links under a 7 KiB `<base href>` resolve to 70 MiB a page:
/// a page's links are resolved and queued a chunk at a time, each chunk
/// charged to the page in the byte gate (before, two such pages in flight
/// were already past the budget; ten peaked at 589 MiB).
#[test]
fn long_urls_stay_within_the_budget() {
    let pages = if full_size() { 40 } else { 2 };
    let seed = serve(Shape::LongUrls {
        pages,
        links: 10_000,
        base_len: 7 * 1024,
    });
    let dir = TempDir::new("frontier-long-urls");
    let max = (pages + 1).to_string();
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        &seed,
        &["--memory", "32MiB", "--max-pages", &max],
        Duration::from_secs(600),
    );
    assert_eq!(records.len(), pages + 1);
    let queued = summary_u64(&summary, "queued");
    let rss = summary_u64(&summary, "peakRssBytes");
    eprintln!("{queued} long URLs queued: peak RSS {} MiB", rss / MIB);
    assert!(queued >= (pages * 10_000) as u64, "{queued} queued");
    assert!(rss <= 64 * MIB, "peak RSS {} MiB", rss / MIB);
}
