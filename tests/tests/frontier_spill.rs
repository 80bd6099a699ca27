//! A crawl without `--state` keeps its frontier in memory until it passes
//! half of its share of `--memory`, then moves it to disk once: the crawl
//! that spills stores every URL of the site exactly once, as one that
//! never spills does.

use std::collections::BTreeMap;
use std::time::Duration;

use semcrawl_tests::fanout::{serve, Shape};
use semcrawl_tests::{crawl_to_jsonl, TempDir};

/// The site: `/` links to 4 pages, each with 500 links of about 1 KiB (a
/// `<base href>` of 1,024 bytes): 2,000 URLs queued, about 2.5 MiB of
/// frontier in memory. They answer 404, which is quick.
const PAGES: usize = 4;
const LINKS: usize = 500;
const BASE_LEN: usize = 1024;

fn crawl(memory: &str) -> String {
    let seed = serve(Shape::LongUrls {
        pages: PAGES,
        links: LINKS,
        base_len: BASE_LEN,
    });
    let dir = TempDir::new("frontier-spill");
    let (done, records, _) = crawl_to_jsonl(
        &dir,
        &seed,
        &[
            "--memory",
            memory,
            "--max-body",
            "1MiB",
            "--log-level",
            "info",
        ],
        Duration::from_secs(600),
    );
    let mut stored: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for r in &records {
        let url = r["url"].as_str().unwrap().to_owned();
        let status = r["status"].as_u64().unwrap_or(0);
        stored.entry(url).or_insert((0, status)).0 += 1;
    }
    let mut expected = vec![(seed.clone(), 200)];
    let base = format!("{seed}{}", "x".repeat(BASE_LEN));
    for n in 0..PAGES {
        expected.push((format!("{seed}l/{n}"), 200));
        for i in 0..LINKS {
            expected.push((format!("{base}/{n}-{i}"), 404));
        }
    }
    for (url, status) in &expected {
        let got = stored.get(url);
        assert_eq!(got, Some(&(1, *status)), "{url} stored once");
    }
    assert_eq!(stored.len(), expected.len(), "nothing else stored");
    done.stderr
}

#[test]
fn a_crawl_that_spills_stores_every_url_once() {
    // An 8 MiB budget: the frontier's share is 2 MiB, half of it in memory.
    let stderr = crawl("8MiB");
    assert!(
        stderr.contains("moved to disk"),
        "the frontier spilled:\n{stderr}"
    );
}

#[test]
fn a_crawl_within_the_memory_part_never_spills() {
    // 256 MiB: a 16 MiB share, 8 MiB of it in memory: more than this site.
    let stderr = crawl("256MiB");
    assert!(
        !stderr.contains("moved to disk"),
        "the frontier stayed in memory:\n{stderr}"
    );
}
