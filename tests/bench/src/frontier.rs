//! Frontier scale: a crawl of a generated link graph of N URLs through the
//! real pipeline (`semcrawl_core::Crawler` on `SmolRuntime`), with an
//! in-memory fetcher and a store that only counts, so what grows with N is
//! the frontier and the seen set.
//!
//! Node `i` (`http://graph.test/n/i`) is a small HTML page linking to
//! `2i+1` and `2i+2` (so every node is reachable) and to `K-2` pseudo-random
//! nodes (so most links are duplicates, and the queue fills up fast: the
//! worst case for the frontier). It runs in a child process
//! (`bench __frontier`) so its peak RSS is its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::io::Cursor;
use semcrawl_core::{
    BoxFuture, Concurrency, Config, Crawler, Fetch, FetchError, FetchRequest, Record, Response,
    Store, StoreError,
};
use semcrawl_smol::SmolRuntime;
use serde_json::json;

/// Links per page.
pub const LINKS: u64 = 10;

struct Graph {
    n: u64,
    k: u64,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Graph {
    fn page(&self, i: u64) -> Vec<u8> {
        let mut s = String::with_capacity(120 + 40 * self.k as usize);
        s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><title>Node ");
        s.push_str(&i.to_string());
        s.push_str("</title></head>\n<body><ul>\n");
        let mut link = |j: u64| {
            s.push_str("<li><a href=\"/n/");
            s.push_str(&j.to_string());
            s.push_str("\">node</a></li>\n");
        };
        for j in [2 * i + 1, 2 * i + 2] {
            if j < self.n {
                link(j);
            }
        }
        for r in 2..self.k {
            link(mix(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ r) % self.n);
        }
        s.push_str("</ul></body></html>\n");
        s.into_bytes()
    }
}

impl Fetch for Graph {
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Response, FetchError>> {
        let node = request
            .url
            .path()
            .strip_prefix("/n/")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&i| i < self.n);
        let (status, body) = match node {
            Some(i) => (200, self.page(i)),
            None => (404, b"not found".to_vec()),
        };
        Box::pin(async move {
            Ok(Response {
                status,
                url: request.url,
                content_type: Some("text/html; charset=utf-8".into()),
                content_length: Some(body.len() as u64),
                location: None,
                retry_after: None,
                robots_tag: None,
                body: Box::new(Cursor::new(body)),
            })
        })
    }
}

/// A store that counts records and drops them.
#[derive(Clone, Default)]
struct Count(Arc<AtomicU64>);

impl Store for Count {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// `__frontier N CONCURRENCY`: crawl the graph, print one JSON line.
pub fn child_main(args: &[String]) -> ! {
    let n: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let config = Config {
        seeds: vec!["http://graph.test/n/0".parse().expect("valid seed")],
        concurrency: Concurrency::Fixed(concurrency),
        per_host: concurrency,
        obey_robots: false,
        ..Config::default()
    };
    let runtime = SmolRuntime::new().expect("worker threads");
    let store = Count::default();
    let crawler = Crawler::new(config, Graph { n, k: LINKS }, runtime.clone()).expect("config");
    let started = Instant::now();
    let summary = runtime
        .block_on(crawler.run(store.clone()))
        .expect("the counting store never fails");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "urls": n,
            "records": store.0.load(Ordering::Relaxed),
            "pages": summary.pages,
            "errors": summary.errors,
            "secs": secs,
            "vm_hwm": vm_hwm(),
            "peak_bytes": summary.peak_bytes,
        })
    );
    std::process::exit(0)
}
