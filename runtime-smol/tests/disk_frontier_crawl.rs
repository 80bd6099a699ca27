//! A real crawl (smol runtime, HTTP client, a server on 127.0.0.1) with the
//! disk frontier behind the core's seam: every page fetched once, redirects
//! followed, and every page acknowledged as done in the state directory
//! once the crawl is over.

mod common;

use std::collections::BTreeMap;

use common::{Reply, TestServer};
use semcrawl_core::MemoryStore;
use semcrawl_core::{Config, Crawler};
use semcrawl_smol::state::{open_frontier, DiskFrontier, FrontierBudget, StateDir};
use semcrawl_smol::{FetchOptions, HttpFetcher, SmolRuntime};

/// Pages `/p/0` … `/p/(PAGES-1)`, a binary tree of links; `/p/0` also
/// links to `/moved`, a redirect to `/p/1`.
const PAGES: usize = 300;

fn site(path: &str) -> Reply {
    if path == "/moved" {
        return Reply::Full {
            status: 301,
            headers: vec![("Location".into(), "/p/1".into())],
            body: Vec::new(),
        };
    }
    let Some(n) = path
        .strip_prefix("/p/")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return Reply::status(404);
    };
    let mut body = format!("<title>{n}</title>");
    for child in [2 * n + 1, 2 * n + 2] {
        if child < PAGES {
            body.push_str(&format!("<a href='/p/{child}'>c</a>"));
        }
    }
    if n == 0 {
        body.push_str("<a href='/moved'>moved</a>");
    }
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: body.into_bytes(),
    }
}

#[test]
fn a_crawl_on_the_disk_frontier_fetches_each_page_once_and_acknowledges_all() {
    let server = TestServer::start(|seen| site(&seen.path));
    let mut config = Config::default();
    config.seeds.push(server.url("/p/0").parse().unwrap());
    config.memory = 32 << 20;
    config.batch_size = 7;
    let dir = StateDir::temporary().unwrap();
    let frontier = open_frontier(&dir, 4 << 20).unwrap();
    let runtime = SmolRuntime::with_threads(2).unwrap();
    let fetcher = HttpFetcher::new(FetchOptions::from_config(&config)).unwrap();
    let crawler = Crawler::new(config, fetcher, runtime.clone())
        .unwrap()
        .with_frontier(frontier);
    let store = MemoryStore::default();
    let summary = runtime.block_on(crawler.run(store.clone())).unwrap();

    let mut records = BTreeMap::new();
    for r in store.records() {
        assert!(records.insert(r.url.clone(), r).is_none(), "stored twice");
    }
    // The pages, the redirect, robots.txt aside.
    assert_eq!(records.len(), PAGES + 1, "{summary:?}");
    assert_eq!(summary.pages, PAGES as u64 + 1);
    let moved = &records[&server.url("/moved")];
    assert_eq!(moved.status, Some(301));
    let fetched: Vec<String> = (server.seen().into_iter())
        .map(|s| s.path)
        .filter(|p| p != "/robots.txt")
        .collect();
    // The pages, the redirect, and the guessed /sitemap.xml (a 404: no
    // record, but a frontier entry all the same).
    assert_eq!(fetched.len(), PAGES + 2, "each page fetched once");
    assert_eq!(fetched.iter().filter(|p| *p == "/sitemap.xml").count(), 1);
    // The frontier's budget came out of the pages' share.
    assert_eq!(summary.budget, 32 << 20);
    assert!(summary.peak_bytes <= (32 << 20) - (4 << 20));

    // Every page was acknowledged as done: nothing left to resume.
    let reopened = DiskFrontier::open(&dir, FrontierBudget { bytes: 4 << 20 }).unwrap();
    assert!(reopened.is_empty(), "{reopened:?}");
    assert_eq!(reopened.done(), PAGES as u64 + 2);
}
