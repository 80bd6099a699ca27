//! Measures the peak heap cost of `Extractor::parse` per body byte, which
//! sets `semcrawl_core::parse::PARSE_COST_RATIO`.
//!
//! A counting global allocator tracks live heap bytes; for each generated
//! page the peak *growth* during one `parse` call (decoded text, DOM,
//! extracted page; the caller's body buffer is excluded because the byte
//! gate charges it separately) is divided by the body length.
//!
//! ```text
//! cargo run --release -p semcrawl-core --example parse_cost
//! ```
//!
//! This is the one place in the crate that needs `unsafe`: implementing
//! `GlobalAlloc` is an unsafe trait. It only forwards to `System` and
//! updates two counters.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use semcrawl_core::parse::{Extractor, PARSE_COST_RATIO, STREAM_PARSE_COST_RATIO};
use semcrawl_core::FieldSpec;
use url::Url;

#[path = "common/pages.rs"]
mod pages;
use pages::{dense_page, hostile_pages, stream_hostile_pages, typical_page};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrink(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters never affect the returned pointers.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Count old and new as briefly coexisting (a moving realloc
            // copies), which is the conservative peak.
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn measure(name: &str, ex: &Extractor, body: &[u8], ct: Option<&str>) -> f64 {
    let url = Url::parse("https://example.com/page").expect("static URL");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let page = ex.parse(body, ct, &url);
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let ratio = peak as f64 / body.len() as f64;
    println!(
        "{name:<50} body {:>9} B  peak +{:>10} B  ratio {ratio:>6.2}  links {:>5}  {:>7.1} ms",
        body.len(),
        peak,
        page.links.len(),
        elapsed.as_secs_f64() * 1e3,
    );
    drop(page);
    ratio
}

fn main() {
    // The DOM path, as taken with `--select`/`--text`; a field that matches
    // the root at once (`html@lang`) forces it at almost no extraction cost.
    let dom = Extractor::new(&[FieldSpec::parse("x=html@lang").expect("valid")], false)
        .expect("valid field");
    let stream = Extractor::new(&[], false).expect("no fields");
    let fields = [
        FieldSpec::parse("h=article h2").expect("valid"),
        FieldSpec::parse("author=.meta .author").expect("valid"),
        FieldSpec::parse("first_ref=a.ref@href").expect("valid"),
    ];
    let full = Extractor::new(&fields, true).expect("valid fields");
    let html = Some("text/html; charset=utf-8");

    let mut dom_max: f64 = 0.0;
    let mut stream_max: f64 = 0.0;
    let mut stream_hostile_max: f64 = 0.0;
    for (label, size) in [("20 KiB", 20 * 1024), ("1 MiB", 1024 * 1024)] {
        println!("--- {label}");
        let page = typical_page(size, "utf-8");
        let latin = typical_page(size, "windows-1252");
        let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(&latin);
        let dense = dense_page(size);
        for (name, body, ct) in [
            ("typical utf-8", page.as_bytes(), html),
            ("typical windows-1252", &latin[..], None),
            ("dense table", dense.as_bytes(), html),
        ] {
            dom_max = dom_max.max(measure(&format!("DOM    {name}"), &dom, body, ct));
            dom_max = dom_max.max(measure(&format!("DOM+text+fields {name}"), &full, body, ct));
            stream_max = stream_max.max(measure(&format!("stream {name}"), &stream, body, ct));
        }
        for (name, page) in hostile_pages(size) {
            measure(
                &format!("DOM    hostile {name}"),
                &full,
                page.as_bytes(),
                html,
            );
            let r = measure(
                &format!("stream hostile {name}"),
                &stream,
                page.as_bytes(),
                html,
            );
            stream_hostile_max = stream_hostile_max.max(r);
        }
        for (name, page) in stream_hostile_pages(size) {
            let r = measure(
                &format!("stream hostile {name}"),
                &stream,
                page.as_bytes(),
                html,
            );
            stream_hostile_max = stream_hostile_max.max(r);
        }
    }
    println!();
    println!("DOM path (typical + dense): peak ratio {dom_max:.2}; PARSE_COST_RATIO is {PARSE_COST_RATIO}");
    println!("stream path (typical + dense): peak ratio {stream_max:.2}");
    println!("stream path (hostile): peak ratio {stream_hostile_max:.2}");
    println!(
        "STREAM_PARSE_COST_RATIO is {STREAM_PARSE_COST_RATIO} (should be >= {:.0})",
        stream_max.max(stream_hostile_max).ceil()
    );
}
