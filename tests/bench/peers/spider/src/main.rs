//! `spider-peer URL --concurrency N --out FILE`: crawl URL with the
//! `spider` crate (spider-rs), at most N requests at once, and write one
//! JSON line `{"url": ..., "status": ...}` per page fetched to FILE: the
//! same shape of output the benchmark harness checks for its other
//! crawlers, so the harness can count what spider fetched.
//!
//! It is the harness's fastest peer: kept as plain as spider's own
//! examples (the default configuration, robots.txt not obeyed, which is
//! spider's default) so the comparison measures spider, not this wrapper.
#![forbid(unsafe_code)]

use std::io::Write;

use spider::tokio;
use spider::website::Website;

const USAGE: &str = "usage: spider-peer URL --concurrency N --out FILE";

fn parse_args() -> Result<(String, usize, String), String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(USAGE)?;
    let (mut concurrency, mut out) = (None, None);
    while let Some(a) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        match a.as_str() {
            "--concurrency" => concurrency = value.parse().ok(),
            "--out" => out = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    Ok((url, concurrency.ok_or(USAGE)?, out.ok_or(USAGE)?))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (url, concurrency, out) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let file = match std::fs::File::create(&out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{out}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut website = Website::new(&url);
    website.with_concurrency_limit(Some(concurrency));
    // Every page as it arrives, written by one task: its URL and status.
    let mut pages = website.subscribe(1024).expect("subscribe before the crawl");
    let writer = tokio::spawn(async move {
        let mut w = std::io::BufWriter::new(file);
        while let Ok(page) = pages.recv().await {
            let line = serde_json_line(page.get_url(), page.status_code.as_u16());
            if w.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        w.flush()
    });
    website.crawl().await;
    website.unsubscribe();
    match writer.await {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        _ => std::process::ExitCode::FAILURE,
    }
}

/// `{"url":"...","status":N}` and a newline, with the URL escaped as a
/// JSON string (URLs are ASCII; only `"` and `\` need escaping).
fn serde_json_line(url: &str, status: u16) -> String {
    let mut s = String::with_capacity(url.len() + 32);
    s.push_str("{\"url\":\"");
    for c in url.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str(&format!("\",\"status\":{status}}}\n"));
    s
}
