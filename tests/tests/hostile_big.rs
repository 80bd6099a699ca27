//! Big pages at a high concurrency against a small budget: every page is
//! fetched once (give or take a retry), not admitted, started and then
//! preempted and fetched again, and the byte gate's peak stays within the
//! budget.

use std::time::Duration;

use semcrawl_tests::hostile::BigSite;
use semcrawl_tests::{crawl_to_jsonl, error_kind, summary_u64, TempDir};

#[test]
fn big_pages_at_high_concurrency_are_fetched_once_each() {
    let pages = 40;
    let site = BigSite::start(pages, 512 * 1024, Duration::from_millis(20));
    let dir = TempDir::new("hostile-big");
    let (_, records, summary) = crawl_to_jsonl(
        &dir,
        &site.url("/p0"),
        &[
            "--concurrency",
            "64",
            "--memory",
            "8MiB",
            "--max-body",
            "2MiB",
        ],
        Duration::from_secs(240),
    );
    let ok = records.iter().filter(|r| error_kind(r).is_none()).count();
    assert_eq!(ok, pages, "every page stored without error: {summary}");
    let gets = site.page_requests();
    assert!(
        gets as f64 <= pages as f64 * 1.2,
        "{gets} GETs for {pages} pages (most for one page: {})",
        site.max_requests_per_page()
    );
    let (peak, budget) = (
        summary_u64(&summary, "peakBytes"),
        summary_u64(&summary, "budget"),
    );
    assert!(0 < peak && peak <= budget, "peak {peak}, budget {budget}");
}
