//! Parse microbenchmark: `semcrawl_core::parse::Extractor::parse` (decode,
//! HTML parse, title/meta/links extraction, link canonicalization) on the
//! generated pages, read from the site servers over HTTP.

use std::time::{Duration, Instant};

use semcrawl_core::parse::Extractor;
use url::Url;

/// One parse measurement.
#[derive(Debug, Clone, Default)]
pub struct ParseRate {
    pub name: String,
    pub pages: usize,
    pub mean_page_bytes: f64,
    /// One thread.
    pub mb_per_s: f64,
    pub pages_per_s: f64,
    /// `threads` threads at once (the whole machine).
    pub threads: usize,
    pub mb_per_s_all: f64,
    pub pages_per_s_all: f64,
    /// Links found per page (sanity check that the parse does its work).
    pub links_per_page: f64,
}

/// Parse `bodies` (fetched from `urls`) on one thread for at least `secs`.
fn run_for(bodies: &[(Url, Vec<u8>)], secs: f64) -> (u64, u64, f64, u64) {
    let ex = Extractor::new(&[], false).expect("no fields");
    let started = Instant::now();
    let min = Duration::from_secs_f64(secs);
    let (mut pages, mut bytes, mut links) = (0u64, 0u64, 0u64);
    loop {
        for (url, body) in bodies {
            let page = ex.parse(body, Some("text/html; charset=utf-8"), url);
            links += page.links.len() as u64;
            pages += 1;
            bytes += body.len() as u64;
        }
        if started.elapsed() >= min {
            break;
        }
    }
    (pages, bytes, started.elapsed().as_secs_f64(), links)
}

/// Single-thread and all-threads parse rates over `bodies`.
pub fn measure(name: &str, bodies: &[(Url, Vec<u8>)], secs: f64, threads: usize) -> ParseRate {
    // Warm-up (allocator, caches).
    let _ = run_for(&bodies[..bodies.len().min(5)], 0.0);
    let (pages, bytes, t, links) = run_for(bodies, secs);
    let all: Vec<(u64, u64, f64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| run_for(bodies, secs)))
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("parse thread"))
            .collect()
    });
    let wall = all.iter().map(|r| r.2).fold(0.0, f64::max);
    let (pa, ba) = all
        .iter()
        .fold((0u64, 0u64), |(p, b), r| (p + r.0, b + r.1));
    let total: u64 = bodies.iter().map(|b| b.1.len() as u64).sum();
    ParseRate {
        name: name.into(),
        pages: bodies.len(),
        mean_page_bytes: total as f64 / bodies.len() as f64,
        mb_per_s: bytes as f64 / t / 1e6,
        pages_per_s: pages as f64 / t,
        threads,
        mb_per_s_all: ba as f64 / wall / 1e6,
        pages_per_s_all: pa as f64 / wall,
        links_per_page: links as f64 / pages as f64,
    }
}
