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

use semcrawl_core::config::FieldSpec;
use semcrawl_core::parse::{Extractor, PARSE_COST_RATIO};
use url::Url;

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

/// Deterministic word source (xorshift), so runs are comparable.
struct Words(u64);

impl Words {
    fn next(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "the",
            "crawler",
            "memory",
            "bounded",
            "page",
            "parse",
            "network",
            "of",
            "and",
            "request",
            "response",
            "server",
            "a",
            "to",
            "in",
            "document",
            "element",
            "link",
            "text",
            "content",
            "is",
            "with",
            "for",
            "budget",
            "semantic",
            "structure",
        ];
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        WORDS[(self.0 % WORDS.len() as u64) as usize]
    }

    fn sentence(&mut self, n: usize, out: &mut String) {
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(self.next());
        }
        out.push('.');
    }
}

/// A blog/news-like page: head with meta, CSS and a script, a nav bar,
/// then articles in nested layout `div`s with paragraphs, lists and
/// about 15 links per 20 KiB.
fn typical_page(target: usize, charset: &str) -> String {
    let mut w = Words(0x2545_f491_4f6c_dd1d);
    let mut s = String::with_capacity(target + 4096);
    s.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"{charset}\">\
         <title>Semcrawl test page</title>\
         <meta name=\"description\" content=\"A generated page for measuring parse cost.\">\
         <link rel=\"canonical\" href=\"https://example.com/page\">\
         <style>body{{font-family:sans-serif}} .post{{margin:1em}} .meta{{color:#666}}</style>\
         <script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}</script>\
         </head><body><header class=\"site-header\"><nav><ul>"
    ));
    for i in 0..8 {
        s.push_str(&format!(
            "<li class=\"nav-item\"><a href=\"/section/{i}\">Section {i}</a></li>"
        ));
    }
    s.push_str("</ul></nav></header><main class=\"container\"><div class=\"row\">");
    let mut post = 0;
    while s.len() < target.saturating_sub(600) {
        post += 1;
        s.push_str(&format!(
            "<div class=\"col-md-8\"><article class=\"post\" id=\"post-{post}\"><div class=\"post-header\">\
             <h2 class=\"title\"><a href=\"/posts/{post}\">"
        ));
        w.sentence(6, &mut s);
        s.push_str("</a></h2><div class=\"meta\"><span class=\"author\">Jane Doe</span> <time datetime=\"2024-01-01\">Jan 1</time></div></div><div class=\"post-body\">");
        for p in 0..4 {
            s.push_str("<p>");
            w.sentence(18, &mut s);
            s.push(' ');
            if p == 1 {
                s.push_str(&format!("<a href=\"/posts/{post}/ref\" class=\"ref\">"));
                w.sentence(3, &mut s);
                s.push_str("</a> ");
            }
            s.push_str("<em>");
            w.sentence(4, &mut s);
            s.push_str("</em> ");
            w.sentence(22, &mut s);
            s.push_str("</p>");
        }
        s.push_str("<ul class=\"tags\">");
        for t in 0..3 {
            s.push_str(&format!("<li><span class=\"tag\">tag{t}</span></li>"));
        }
        s.push_str("</ul></div></article></div>");
    }
    s.push_str("</div></main><footer><p>&copy; 2024 Example</p><a href=\"/about\">About</a> <a href=\"/contact\">Contact</a></footer></body></html>\n");
    s
}

/// A tag-dense page: short elements with attributes and little text, like
/// a big data table or a page of widgets. A realistic worst case.
fn dense_page(target: usize) -> String {
    let mut s = String::from("<!DOCTYPE html><html><head><title>dense</title></head><body><table>");
    let mut i = 0;
    while s.len() < target {
        i += 1;
        s.push_str(&format!(
            "<tr class=\"r\"><td><a href=\"/i/{i}\">{i}</a></td><td><span class=\"v\">x</span></td><td><b>y</b></td></tr>"
        ));
    }
    s.push_str("</table></body></html>");
    s
}

/// Hostile pages, each built to maximize DOM size per byte; they are cut
/// by `semcrawl_core::parse::node_budget`.
fn hostile_pages(target: usize) -> Vec<(&'static str, String)> {
    let fill = |unit: &str| {
        let mut s = String::with_capacity(target + unit.len());
        while s.len() < target {
            s.push_str(unit);
        }
        s
    };
    // Misnested formatting elements with distinct attributes: every `<p>x`
    // clones all of them again (quadratic in the HTML algorithm).
    let mut quadratic = String::with_capacity(target);
    for i in 0..2000 {
        quadratic.push_str(&format!("<i id={i}>"));
    }
    while quadratic.len() < target {
        quadratic.push_str("<p>x");
    }
    vec![
        ("<p><i>", fill("<p><i>")),
        ("<a>", fill("<a>")),
        ("x<br>", fill("x<br>")),
        ("stray </x>", fill("</x>")),
        ("quadratic <i id=N>..<p>x", quadratic),
    ]
}

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
        "{name:<40} body {:>9} B  peak +{:>10} B  ratio {ratio:>6.2}  links {:>5}  {:>7.1} ms  node budget {:>7}",
        body.len(),
        peak,
        page.links.len(),
        elapsed.as_secs_f64() * 1e3,
        semcrawl_core::parse::node_budget(body.len()),
    );
    drop(page);
    ratio
}

fn main() {
    let plain = Extractor::new(&[], false).expect("no fields");
    let fields = [
        FieldSpec::parse("h=article h2").expect("valid"),
        FieldSpec::parse("author=.meta .author").expect("valid"),
        FieldSpec::parse("first_ref=a.ref@href").expect("valid"),
    ];
    let full = Extractor::new(&fields, true).expect("valid fields");
    let html = Some("text/html; charset=utf-8");

    let mut typical_max: f64 = 0.0;
    let mut overall_max: f64 = 0.0;
    let mut hostile_max: f64 = 0.0;
    for (label, size) in [("20 KiB", 20 * 1024), ("1 MiB", 1024 * 1024)] {
        let page = typical_page(size, "utf-8");
        for (mode, ex) in [("plain", &plain), ("text+fields", &full)] {
            let r = measure(
                &format!("typical {label} utf-8 {mode}"),
                ex,
                page.as_bytes(),
                html,
            );
            typical_max = typical_max.max(r);
        }
        // Same page declared windows-1252 (forces a decoding copy).
        let latin = typical_page(size, "windows-1252");
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&latin);
        let r = measure(
            &format!("typical {label} windows-1252 text+fields"),
            &full,
            &bytes,
            None,
        );
        typical_max = typical_max.max(r);

        let dense = dense_page(size);
        for (mode, ex) in [("plain", &plain), ("text+fields", &full)] {
            let r = measure(&format!("dense {label} {mode}"), ex, dense.as_bytes(), html);
            overall_max = overall_max.max(r);
        }
        for (name, page) in hostile_pages(size) {
            let r = measure(
                &format!("hostile {name} {label}"),
                &full,
                page.as_bytes(),
                html,
            );
            hostile_max = hostile_max.max(r);
        }
    }
    overall_max = overall_max.max(typical_max);
    println!();
    println!("typical pages: peak ratio {typical_max:.2}");
    println!("all counted pages (typical + dense): peak ratio {overall_max:.2}");
    println!(
        "PARSE_COST_RATIO is {PARSE_COST_RATIO} (should be >= {:.0})",
        overall_max.ceil()
    );
}
