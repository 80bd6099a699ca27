//! Hostile servers on 127.0.0.1: canned bytes per path, and big pages.
//!
//! The generated site (`site`) always speaks correct HTTP; the faults a
//! crawler meets in the wild (a garbage status line, a broken chunk size, a
//! head too large to hold, a connection reset half-way, a peer that never
//! answers) need a server that can say anything. Each request line is read,
//! its path looked up, and the canned [`Act`] played; every request is
//! counted so tests can check what was retried.
//!
//! [`BigSite`] is the other kind of hostility: nothing wrong with its
//! HTTP, just pages large against the memory budget, many at once, with
//! the GETs of each counted, so that a test can tell a crawl that keeps
//! within its budget by fetching pages again from one that does not.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with a request for one path.
#[derive(Debug, Clone)]
pub enum Act {
    /// Write these bytes, then close the connection.
    Send(Vec<u8>),
    /// Write these bytes, then reset the connection (`SO_LINGER` 0: an RST,
    /// not a FIN).
    SendThenReset(Vec<u8>),
    /// Read the request (body included, by `Content-Length`), then close
    /// without a byte of answer.
    CloseSilently,
    /// Read the request, then hold the connection open and never answer.
    Hang,
    /// The first request gets the first act, the second the second, and so
    /// on; the last act repeats (a fault that passes, or one that starts).
    Then(Vec<Act>),
}

/// Requests seen per path.
type Seen = Arc<Mutex<BTreeMap<String, u64>>>;

/// A server playing canned [`Act`]s; unknown paths get `404`.
#[derive(Debug)]
pub struct HostileServer {
    addr: SocketAddr,
    seen: Seen,
}

impl HostileServer {
    /// Serve `acts` (path -> act) on a fresh port, one thread per connection.
    pub fn start(acts: BTreeMap<String, Act>) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let seen: Seen = Arc::default();
        let acts = Arc::new(acts);
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (acts, seen) = (acts.clone(), s.clone());
                std::thread::spawn(move || serve(stream, &acts, &seen));
            }
        });
        HostileServer { addr, seen }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests arrived for `path`.
    pub fn requests(&self, path: &str) -> u64 {
        self.seen.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// `HTTP/1.1 200` head with `headers`, `Content-Length` of `body`, then `body`.
pub fn response(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn serve(stream: TcpStream, acts: &BTreeMap<String, Act>, seen: &Mutex<BTreeMap<String, u64>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    // Keep-alive: answer requests on this connection until an act ends it.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let nth = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(path.clone()).or_default();
            *n += 1;
            *n as usize - 1
        };
        let mut act = acts.get(&path);
        while let Some(Act::Then(list)) = act {
            act = list.get(nth.min(list.len().saturating_sub(1)));
        }
        match act {
            Some(Act::Send(bytes)) => {
                let _ = writer.write_all(bytes);
                return;
            }
            Some(Act::SendThenReset(bytes)) => {
                let _ = writer.write_all(bytes);
                let _ = writer.flush();
                let _ = socket2::SockRef::from(&writer).set_linger(Some(Duration::ZERO));
                return;
            }
            Some(Act::CloseSilently | Act::Then(_)) => return,
            Some(Act::Hang) => {
                // Until the client gives up and closes.
                let mut sink = [0u8; 1024];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            None => {
                let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    }
}

/// A site of big pages that counts the GETs of each: `/p0` … `/p{n-1}`,
/// each `size` bytes of HTML linking to the next eight pages (so a crawl
/// from `/p0` finds them all), served after `latency`, `robots.txt` a 404.
///
/// The bodies are made on the fly from one shared filler, so that 300
/// pages of 5 MiB cost the test 5 MiB, not 1.5 GB.
#[derive(Debug)]
pub struct BigSite {
    addr: SocketAddr,
    seen: Seen,
    pages: usize,
}

impl BigSite {
    /// Serve `pages` pages of `size` bytes on a fresh port, one thread per
    /// connection (keep-alive).
    pub fn start(pages: usize, size: usize, latency: Duration) -> BigSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let seen: Seen = Arc::default();
        let filler: Arc<[u8]> = b"<p>lorem ipsum dolor sit amet, consectetur adipiscing</p>\n"
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect();
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, filler) = (s.clone(), filler.clone());
                std::thread::spawn(move || {
                    serve_big(stream, pages, &filler, latency, &seen);
                });
            }
        });
        BigSite { addr, seen, pages }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests arrived for `path`.
    pub fn requests(&self, path: &str) -> u64 {
        self.seen.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests for pages (not robots.txt), in all.
    pub fn page_requests(&self) -> u64 {
        let seen = self.seen.lock().unwrap();
        (0..self.pages)
            .map(|i| seen.get(&format!("/p{i}")).copied().unwrap_or(0))
            .sum()
    }

    /// The most requests any one page received.
    pub fn max_requests_per_page(&self) -> u64 {
        let seen = self.seen.lock().unwrap();
        (0..self.pages)
            .map(|i| seen.get(&format!("/p{i}")).copied().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }
}

/// Page `i` of a [`BigSite`]: its head and links, then filler up to `size`.
fn big_page(i: usize, pages: usize, filler: &[u8]) -> Vec<u8> {
    let mut head = String::from("<!doctype html><html><head><title>big</title></head><body>\n");
    for j in 1..=8 {
        head.push_str(&format!("<a href=\"/p{}\">next</a>\n", (i * 8 + j) % pages));
    }
    let tail = b"</body></html>\n";
    let fill = filler.len().saturating_sub(head.len() + tail.len());
    let mut out = head.into_bytes();
    out.extend_from_slice(&filler[..fill]);
    out.extend_from_slice(tail);
    out
}

fn serve_big(
    stream: TcpStream,
    pages: usize,
    filler: &[u8],
    latency: Duration,
    seen: &Mutex<BTreeMap<String, u64>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim_end().is_empty() {
                break;
            }
        }
        *seen.lock().unwrap().entry(path.clone()).or_default() += 1;
        std::thread::sleep(latency);
        let page = path
            .strip_prefix("/p")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < pages);
        let sent = match page {
            Some(i) => {
                let body = big_page(i, pages, filler);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                writer
                    .write_all(head.as_bytes())
                    .and_then(|()| writer.write_all(&body))
            }
            None => writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        };
        if sent.is_err() {
            return;
        }
    }
}
