//! `spider-peer URL --concurrency N --out FILE`: crawl URL with the
//! `spider` crate (spider-rs), at most N requests at once, and write one
//! JSON line `{"url": ...}` per page it visited to FILE: the shape of
//! output the benchmark harness reads from its other crawlers, so it can
//! check that spider fetched every page of the site.
//!
//! It is the harness's fastest peer: kept as plain as spider's own
//! examples (`crawl`, then `get_all_links_visited`; the default
//! configuration, robots.txt not obeyed, which is spider's default) so the
//! comparison measures spider, not this wrapper. The visited set is
//! written after the crawl, as spider's examples do: a subscription would
//! clone every page (body included) into a broadcast channel, work and
//! memory spider does not need to crawl.
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
    let mut website = Website::new(&url);
    website.with_concurrency_limit(Some(concurrency));
    website.crawl().await;
    let visited = website.get_all_links_visited().await;
    let written = std::fs::File::create(&out).and_then(|file| {
        let mut w = std::io::BufWriter::new(file);
        for link in &visited {
            w.write_all(json_line(AsRef::<str>::as_ref(link)).as_bytes())?;
        }
        w.flush()
    });
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{out}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `{"url":"..."}` and a newline, with the URL escaped as a JSON string
/// (URLs are ASCII; only `"`, `\\` and control characters need escaping).
fn json_line(url: &str) -> String {
    let mut s = String::with_capacity(url.len() + 12);
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
    s.push_str("\"}\n");
    s
}
