//! Compressed bodies are inflated under the byte gate: gzip bombs and many
//! big compressible pages at high concurrency keep the process near its
//! `--memory` budget, and a stacked encoding is one protocol error.
//!
//! The server here is a few lines of HTTP/1.1 with keep-alive: the generated
//! site serves only one bomb, and these tests need many bodies of one kind,
//! served with a `Content-Length` (the raw length) and a latency.
//!
//! `SEMCRAWL_DECODE_PAGES` sets the number of compressible pages (24 by
//! default; 300 for the figures in the docs, with a release binary through
//! `SEMCRAWL_BIN`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use semcrawl_site::gzip_bomb;
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, summary_u64, TempDir};

const MIB: u64 = 1 << 20;

/// Serves `/` (links to `/p/0` .. `/p/{pages - 1}`) and, at every `/p/N`,
/// the same `body` under `Content-Encoding: {encoding}`, each after `latency`.
struct EncodedSite {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl EncodedSite {
    fn start(pages: usize, body: Arc<[u8]>, encoding: &'static str, latency: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let index: Arc<[u8]> = (0..pages)
            .map(|i| format!("<a href=\"/p/{i}\">page {i}</a>\n"))
            .collect::<String>()
            .into_bytes()
            .into();
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (index, body, count) = (index.clone(), body.clone(), count.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &index, &body, encoding, latency, &count);
                });
            }
        });
        EncodedSite { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(
    stream: TcpStream,
    index: &[u8],
    body: &[u8],
    encoding: &str,
    latency: Duration,
    count: &AtomicU64,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
        }
        count.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(latency);
        let (status, encoding, body) = match path.as_str() {
            "/" => ("200 OK", None, index),
            p if p.starts_with("/p/") => ("200 OK", Some(encoding), body),
            _ => ("404 Not Found", None, &b"not found"[..]),
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(encoding) = encoding {
            head.push_str(&format!("Content-Encoding: {encoding}\r\n"));
        }
        head.push_str("\r\n");
        writer.write_all(head.as_bytes())?;
        writer.write_all(body)?;
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A 5 MiB page of highly compressible text (one paragraph over and over:
/// about 1000 to 1, so a 16 KiB chunk of it inflates to 16 MiB).
fn compressible_page() -> Vec<u8> {
    let mut page = b"<!DOCTYPE html><html><head><title>Big</title></head><body>\n".to_vec();
    while page.len() < 5 << 20 {
        page.extend_from_slice(b"<p>The quick brown fox jumps over the lazy dog.</p>\n");
    }
    page.extend_from_slice(b"</body></html>\n");
    page
}

/// Peak RSS of a run, from its summary, with the figure in the test log.
fn peak_rss(summary: &serde_json::Value, what: &str) -> u64 {
    let rss = summary_u64(summary, "peakRssBytes");
    eprintln!(
        "{what}: peak RSS {} MiB, peakBytes {} MiB",
        rss / MIB,
        summary_u64(summary, "peakBytes") / MIB
    );
    rss
}

#[test]
fn gzip_bombs_stay_near_the_memory_budget() {
    // 64 bombs of 1 MiB, with a Content-Length, each inflating to 1 GiB.
    let site = EncodedSite::start(64, gzip_bomb(), "gzip", Duration::ZERO);
    let dir = TempDir::new("decode-bombs");
    let flags = [
        "--memory",
        "32MiB",
        "--max-body",
        "8MiB",
        "-c",
        "64",
        "--retries",
        "0",
    ];
    let (_, records, summary) =
        crawl_to_jsonl(&dir, &site.url("/"), &flags, Duration::from_secs(300));
    let got = by_url(&records);
    assert_eq!(got.len(), 65, "the index and 64 bombs");
    for i in 0..64 {
        let rec = &got[&site.url(&format!("/p/{i}"))];
        assert_eq!(error_kind(rec), Some("body_too_large"), "{rec}");
    }
    let rss = peak_rss(&summary, "64 gzip bombs at -c 64");
    // With curl's own decoder this peaked at 481 MiB (release build);
    // decoding lazily, at 30 MiB (39 MiB with a debug build). The budget plus 16 MiB
    // is the aim; debug builds carry a bigger binary and slower code but
    // the same buffers.
    assert!(
        rss <= 48 * MIB,
        "peak RSS {} MiB > 48 MiB: {summary}",
        rss / MIB
    );
}

#[test]
fn many_compressible_pages_at_high_concurrency_stay_near_the_budget() {
    let pages: usize = std::env::var("SEMCRAWL_DECODE_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let page = compressible_page();
    let body: Arc<[u8]> = gzip(&page).into();
    assert!(body.len() < 1 << 20, "{} bytes compressed", body.len());
    let site = EncodedSite::start(pages, body, "gzip", Duration::from_millis(100));
    let dir = TempDir::new("decode-compressible");
    let flags = ["--memory", "32MiB", "-c", "256"];
    let (_, records, summary) =
        crawl_to_jsonl(&dir, &site.url("/"), &flags, Duration::from_secs(600));
    let got = by_url(&records);
    assert_eq!(got.len(), pages + 1, "the index and every page");
    for (url, rec) in &got {
        assert_eq!(error_kind(rec), None, "{url}: {rec}");
    }
    let page_rec = &got[&site.url("/p/0")];
    assert_eq!(
        page_rec["bytes"].as_u64(),
        Some(page.len() as u64),
        "{page_rec}"
    );
    let rss = peak_rss(
        &summary,
        &format!(
            "{pages} x 5 MiB gzip pages at -c 256 ({} requests)",
            site.requests()
        ),
    );
    // With curl's own decoder, 300 such pages peaked at 641 MiB (release
    // build); decoding lazily, at 45 MiB; with the first pages of unknown
    // length taken to be large, at 30-33 MiB. The bar: the budget
    // plus 16 MiB.
    assert!(
        rss <= 48 * MIB,
        "peak RSS {} MiB > 48 MiB: {summary}",
        rss / MIB
    );
    // Every page fetched once: the first pages of unknown length park at
    // their heads instead of reading together until the gate preempts
    // them. (24 pages took 30-42 requests when they were guessed small.)
    // The index, robots.txt and the guessed /sitemap.xml are the 3; a
    // twelfth more is the slack. With many more pages than fit (the 300 of
    // docs/bench/hostile.md), the pages parked at once can still outnumber
    // what their overheads leave room for, and some are fetched again: the
    // figure is printed above, not asserted.
    if pages <= 50 {
        let most = pages as u64 + 3 + pages as u64 / 12;
        assert!(
            site.requests() <= most,
            "{} requests for {pages} pages, more than {most}: {summary}",
            site.requests()
        );
    }
}

#[test]
fn a_stacked_encoding_is_one_protocol_error() {
    let page = b"<html><body><p>hello</p></body></html>".repeat(100);
    let site = EncodedSite::start(1, gzip(&gzip(&page)).into(), "gzip, gzip", Duration::ZERO);
    let dir = TempDir::new("decode-stacked");
    let (_, records, _) = crawl_to_jsonl(&dir, &site.url("/"), &[], Duration::from_secs(60));
    let got = by_url(&records);
    let rec = &got[&site.url("/p/0")];
    assert_eq!(error_kind(rec), Some("protocol"), "{rec}");
    assert!(
        rec["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("gzip, gzip")),
        "{rec}"
    );
    // The index, robots.txt, the guessed /sitemap.xml (not a sitemap: no
    // record) and the page once: a protocol error is not retried.
    assert_eq!(site.requests(), 4);
}
