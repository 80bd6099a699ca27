//! Parse throughput of `Extractor::parse`, DOM path vs streaming path, per
//! core (single-threaded), on generated pages.
//!
//! ```text
//! cargo run --release -p semcrawl-core --example parse_speed
//! ```
//!
//! Each figure is the median of 5 runs of at least ~0.2 s each, so that
//! noise from other processes on the machine is damped.

use std::time::{Duration, Instant};

use semcrawl_core::parse::Extractor;
use semcrawl_core::FieldSpec;
use url::Url;

#[path = "common/pages.rs"]
mod pages;
use pages::{dense_page, typical_page};

/// Median (MB/s, pages/s) of `parse` on `body`.
fn speed(ex: &Extractor, body: &[u8]) -> (f64, f64) {
    let url = Url::parse("https://example.com/page").expect("static URL");
    let ct = Some("text/html; charset=utf-8");
    let mut runs: Vec<(f64, f64)> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut n = 0u32;
            while n == 0 || started.elapsed() < Duration::from_millis(200) {
                std::hint::black_box(ex.parse(std::hint::black_box(body), ct, &url));
                n += 1;
            }
            let secs = started.elapsed().as_secs_f64();
            let pages = f64::from(n) / secs;
            (pages * body.len() as f64 / 1e6, pages)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs[runs.len() / 2]
}

fn main() {
    let dom = Extractor::new(&[FieldSpec::parse("x=html@lang").expect("valid")], false)
        .expect("valid field");
    let stream = Extractor::new(&[], false).expect("no fields");
    println!(
        "{:<28} {:>22} {:>22} {:>8}",
        "page", "DOM MB/s  pages/s", "stream MB/s  pages/s", "speedup"
    );
    for (name, body) in [
        ("typical 20 KiB", typical_page(20 * 1024, "utf-8")),
        ("typical 1 MiB", typical_page(1024 * 1024, "utf-8")),
        ("dense table 20 KiB", dense_page(20 * 1024)),
        ("dense table 1 MiB", dense_page(1024 * 1024)),
    ] {
        let (dm, dp) = speed(&dom, body.as_bytes());
        let (sm, sp) = speed(&stream, body.as_bytes());
        println!(
            "{name:<28} {dm:>10.1} {dp:>10.1} {sm:>12.1} {sp:>10.1} {:>7.1}x",
            sm / dm
        );
    }
    // Nesting: the DOM path's time grows with depth (quadratically here),
    // so it gets one run on a smaller page; the stream path does not care.
    let url = Url::parse("https://example.com/").expect("static URL");
    for (mib, with_dom) in [(0.25, true), (5.0, false)] {
        let body = "<div>".repeat((mib * (1 << 20) as f64) as usize / 5);
        let time = |ex: &Extractor| {
            let started = Instant::now();
            std::hint::black_box(ex.parse(body.as_bytes(), None, &url));
            started.elapsed().as_secs_f64() * 1e3
        };
        let dom_ms = if with_dom {
            format!("{:.0} ms", time(&dom))
        } else {
            "-".into()
        };
        println!(
            "{mib} MiB of <div>: DOM {dom_ms}, stream {:.0} ms",
            time(&stream)
        );
    }
}
