//! The benchmark sites, the correctness check of a crawl's output, a tiny
//! HTTP client (to read pages for the parse benchmark) and a load test that
//! shows the site server is not the bottleneck.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use semcrawl_site::{ExpectOptions, SiteServer, SiteSpec, Traps};
use semcrawl_tests::pool_site::{PoolSite, PoolSpec};

/// The `fast` site: 10,000 pages of ~20 KiB, 10-20 links each, with the
/// traps a real crawl meets (fragments, `utm_` duplicates, 404 links,
/// off-site links, non-crawlable links, a robots.txt disallow). Quick: 300.
pub fn fast(quick: bool) -> SiteSpec {
    let mut spec = fast_without_traps(quick);
    spec.traps = Traps {
        url_variants: true,
        not_found: true,
        robots: true,
        offsite_links: true,
        non_crawlable: true,
        ..Traps::NONE
    };
    spec
}

/// The `fast` site without its traps: 10,000 plain pages of ~20 KiB, every
/// link a page, no robots.txt (quick: 300), as a static server such as nginx
/// serves a plain site. `bench --no-traps` crawls it in place of [`fast`],
/// so that no crawler's handling of duplicate spellings (which some peers
/// fetch again) skews a comparison of speed.
pub fn fast_without_traps(quick: bool) -> SiteSpec {
    let mut spec = SiteSpec::fast();
    if quick {
        spec.pages = 300;
    }
    spec
}

/// The `fast` site, with its traps unless `traps` is false.
pub fn fast_site(quick: bool, traps: bool) -> SiteSpec {
    if traps {
        fast(quick)
    } else {
        fast_without_traps(quick)
    }
}

/// The `slow` site: 2,000 plain pages of ~20 KiB, every response 50 ms late.
/// Quick: 100 pages.
pub fn slow(quick: bool) -> SiteSpec {
    let mut spec = SiteSpec::fast();
    spec.pages = if quick { 100 } else { 2000 };
    spec.latency = Duration::from_millis(50);
    spec
}

/// Workers of the `saturated` site's server.
pub const SATURATED_WORKERS: usize = 32;

/// The `saturated` site: the `slow` site's pages (2,000, every response
/// 50 ms late), served by a server with [`SATURATED_WORKERS`] workers
/// ([`SiteServer::set_workers`]): requests beyond 32 queue, so throughput is
/// flat above 32 concurrent requests (ideal 32 / 50 ms = 640 pages/s) and
/// latency grows with the queue. Serve it with [`start_saturated`].
/// Quick: 100 pages.
pub fn saturated(quick: bool) -> SiteSpec {
    slow(quick)
}

/// Set `server` up as the `saturated` site's server: [`SATURATED_WORKERS`]
/// workers.
pub fn start_saturated(server: &SiteServer) {
    server.set_workers(Some(SATURATED_WORKERS));
}

/// The `pool` site (only in the `--concurrency auto` sweep): a blog of 400
/// pages of ~4 KiB behind a thread-pool server of 8 workers, 20 ms of a
/// worker per page, 4 pages taking 2 s; requests beyond 8 wait in the
/// accept queue ([`PoolSpec::blog`]). The server a small real site runs:
/// saturated from 8 requests on, with a few slow pages that are no queue.
pub fn pool() -> PoolSite {
    PoolSite::start(PoolSpec::blog())
}

/// The `big` site: 300 plain pages of 1 MiB, every response 200 ms late.
/// Quick: 24 pages.
pub fn big(quick: bool) -> SiteSpec {
    let mut spec = SiteSpec::big_pages();
    if quick {
        spec.pages = 24;
    }
    spec
}

/// `--max-body` for the big site: its pages are 1 MiB (the default cap of
/// 10 MiB would make `--memory 32MiB` invalid, since the budget must hold
/// one `--max-body` + 128 KiB).
pub const BIG_MAX_BODY: u64 = 2 * 1024 * 1024;

/// The canonical URLs a correct crawl of `server` stores.
pub fn expected_urls(server: &SiteServer, max_body: u64) -> BTreeSet<String> {
    server
        .expected(&ExpectOptions {
            max_body,
            ..ExpectOptions::default()
        })
        .urls()
}

/// The pages a crawler that ignores robots.txt must fetch from `server`:
/// the successful records of a correct crawl without robots.txt (so not
/// the 404s, which a crawler may or may not list, nor the off-site links,
/// which are records of semcrawl's and never fetches). What the spider-rs
/// peer is checked against.
pub fn expected_pages_no_robots(server: &SiteServer, max_body: u64) -> BTreeSet<String> {
    server
        .expected(&ExpectOptions {
            max_body,
            obey_robots: false,
            ..ExpectOptions::default()
        })
        .records
        .into_iter()
        .filter(|(_, r)| r.error.is_none())
        .map(|(url, _)| url)
        .collect()
}

/// How a crawl's JSON Lines output compares with the expected URL set.
#[derive(Debug, Clone, Default)]
pub struct Check {
    pub records: u64,
    pub missing: u64,
    pub extra: u64,
    pub duplicates: u64,
    /// Records with an `error` other than the expected 404s.
    pub example: Option<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.duplicates == 0 && self.records > 0
    }

    pub fn describe(&self) -> String {
        if self.ok() {
            "ok".into()
        } else {
            format!(
                "{} records: {} missing, {} unexpected, {} duplicated{}",
                self.records,
                self.missing,
                self.extra,
                self.duplicates,
                self.example
                    .as_deref()
                    .map(|e| format!(" (e.g. {e})"))
                    .unwrap_or_default()
            )
        }
    }
}

/// Read the `url` of every record in `path` and compare with `expected`:
/// every expected URL exactly once, nothing else.
pub fn check_output(path: &Path, expected: &BTreeSet<String>) -> Check {
    let mut check = Check::default();
    let Ok(file) = std::fs::File::open(path) else {
        check.missing = expected.len() as u64;
        check.example = Some(format!("no output file {}", path.display()));
        return check;
    };
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        check.records += 1;
        let url = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("<bad line {}>", check.records));
        *counts.entry(url).or_insert(0) += 1;
    }
    for (url, n) in &counts {
        if *n > 1 {
            check.duplicates += 1;
            check.example.get_or_insert_with(|| format!("{url} x{n}"));
        }
        if !expected.contains(url) {
            check.extra += 1;
            check
                .example
                .get_or_insert_with(|| format!("unexpected {url}"));
        }
    }
    for url in expected {
        if !counts.contains_key(url) {
            check.missing += 1;
            check
                .example
                .get_or_insert_with(|| format!("missing {url}"));
        }
    }
    check
}

/// Like [`check_output`] for a crawler that stores URLs as it fetched them
/// (spider-rs): each URL is put in canonical form first (fragment and
/// `utm_*` parameters dropped, scheme and host lowercased, ...: the form
/// `expected` is in), and a page fetched in several spellings counts once.
/// `records` is the number of lines, `duplicates` stays 0, and URLs outside
/// `expected` are not counted (a crawler may list the 404s it met): every
/// expected page fetched at least once is complete.
pub fn check_output_canonical(path: &Path, expected: &BTreeSet<String>) -> Check {
    let mut check = Check::default();
    let Ok(file) = std::fs::File::open(path) else {
        check.missing = expected.len() as u64;
        check.example = Some(format!("no output file {}", path.display()));
        return check;
    };
    let mut got = BTreeSet::new();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        check.records += 1;
        let raw = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let canonical = url::Url::parse(&raw)
            .ok()
            .and_then(|u| semcrawl_core::canon::canonicalize(&u))
            .map_or(raw, |u| u.to_string());
        got.insert(canonical);
    }
    for url in expected {
        if !got.contains(url) {
            check.missing += 1;
            check
                .example
                .get_or_insert_with(|| format!("missing {url}"));
        }
    }
    check
}

/// GET `path` from `addr` over a new connection; the body of a 200.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)?;
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no response head"))?;
    if !all.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("GET {path}: not a 200")));
    }
    Ok(all.split_off(split + 4))
}

/// Result of the load test of a site server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    pub clients: usize,
    pub requests: u64,
    pub bytes: u64,
    pub secs: f64,
    /// CPU seconds of this process (server threads + load clients).
    pub cpu: f64,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs.max(1e-9)
    }
}

/// Hammer `server` with `clients` blocking keep-alive clients, each asking
/// for the site's pages in turn, for `secs` seconds. The clients run in this
/// process on the same two cores, so the figure is a lower bound of what the
/// server alone can do.
pub fn load_test(server: &SiteServer, clients: usize, secs: f64) -> std::io::Result<Load> {
    let pages = server.site().spec().pages;
    let addr = server.addr();
    let cpu0 = crate::measure::self_cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            std::thread::spawn(move || -> std::io::Result<(u64, u64)> {
                let mut s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                let mut r = BufReader::with_capacity(64 * 1024, s.try_clone()?);
                let (mut n, mut bytes) = (0u64, 0u64);
                let mut i = c;
                let mut line = String::new();
                let mut body = Vec::new();
                while Instant::now() < deadline {
                    write!(
                        s,
                        "GET /p/{}.html HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                        i % pages
                    )?;
                    i += clients;
                    let mut len = 0usize;
                    loop {
                        line.clear();
                        r.read_line(&mut line)?;
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                        if let Some(v) = line
                            .split_once(':')
                            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        {
                            len = v.1.trim().parse().unwrap_or(0);
                        }
                    }
                    body.resize(len, 0);
                    r.read_exact(&mut body)?;
                    n += 1;
                    bytes += len as u64;
                }
                Ok((n, bytes))
            })
        })
        .collect();
    let mut load = Load {
        clients,
        ..Load::default()
    };
    for h in handles {
        let (n, b) = h.join().map_err(|_| std::io::Error::other("panic"))??;
        load.requests += n;
        load.bytes += b;
    }
    load.secs = started.elapsed().as_secs_f64();
    load.cpu = crate::measure::self_cpu() - cpu0;
    Ok(load)
}
