//! Serve a [`BigSite`] until killed, for measuring a release binary by hand
//! (`docs/bench/hostile.md`): `big_site PAGES SIZE_BYTES LATENCY_MS`.
//! Prints the seed URL, then, on each line read from stdin, the GETs so far
//! (`pages`, `gets`, `max per page`).
#![forbid(unsafe_code)]

use std::time::Duration;

use semcrawl_tests::hostile::BigSite;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: PAGES SIZE_BYTES LATENCY_MS"))
        .collect();
    let [pages, size, latency] = args[..] else {
        eprintln!("usage: big_site PAGES SIZE_BYTES LATENCY_MS");
        std::process::exit(2);
    };
    let site = BigSite::start(
        pages as usize,
        size as usize,
        Duration::from_millis(latency),
    );
    println!("{}", site.url("/p0"));
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {
        println!(
            "pages {pages} gets {} max per page {}",
            site.page_requests(),
            site.max_requests_per_page()
        );
        line.clear();
    }
}
