//! Time of `Extractor::parse` on pages of deeply nested elements, DOM path
//! (`--text` and `--select`) vs streaming path: the figures behind
//! `MAX_DOM_DEPTH`, which the unit tests assert as a cap (node count and
//! depth), not as a time.
//!
//! ```text
//! cargo run --release -p semcrawl-core --example deep_dom
//! ```
//!
//! Before the cap, 100,000 nested `<div>`s took about 31 s on the DOM path
//! and 1,000,000 did not finish in two minutes; the streaming path took
//! 0.1 s.

use std::time::Instant;

use semcrawl_core::parse::Extractor;
use semcrawl_core::FieldSpec;
use url::Url;

fn main() {
    let url = Url::parse("https://example.com/deep").expect("static URL");
    let fields = [FieldSpec::parse("d=div a@href").expect("static field")];
    let paths = [
        ("stream", Extractor::new(&[], false).expect("no fields")),
        ("--text", Extractor::new(&[], true).expect("no fields")),
        (
            "--select",
            Extractor::new(&fields, false).expect("static field"),
        ),
    ];
    println!("| nested | path | seconds | cut |");
    println!("|---|---|---|---|");
    for depth in [1_000, 100_000, 1_000_000] {
        let body = format!(
            "{}<a href=/deep>deep</a>{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        for (name, ex) in &paths {
            let started = Instant::now();
            let page = ex.parse(body.as_bytes(), Some("text/html"), &url);
            let secs = started.elapsed().as_secs_f64();
            let cut = page
                .cut
                .map_or_else(|| "-".to_owned(), |c| format!("{c:?}"));
            println!("| {depth} | {name} | {secs:.3} | {cut} |");
        }
    }
    // Just under the cap, then a million stray end tags that each scan the
    // whole stack (the worst a page can do within the cap).
    let body = format!(
        "{}{}<a href=/deep>deep</a>",
        "<div>".repeat(500),
        "</address>".repeat(1_000_000)
    );
    for (name, ex) in &paths {
        let started = Instant::now();
        let page = ex.parse(body.as_bytes(), Some("text/html"), &url);
        let secs = started.elapsed().as_secs_f64();
        let cut = page
            .cut
            .map_or_else(|| "-".to_owned(), |c| format!("{c:?}"));
        println!("| 500 + 10 MB of stray end tags | {name} | {secs:.3} | {cut} |");
    }
}
