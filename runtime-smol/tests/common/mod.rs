//! Test helpers: a canned HTTP/1.1 server on 127.0.0.1, temp paths. The gzip
//! bomb and `wait_for` are `semcrawl-site`'s.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Index of the TCP connection it came on (0, 1, ...).
    pub connection: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
pub enum Reply {
    /// A complete response; `Content-Length` is added. The connection is kept.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Head (with the given `Content-Length`) then `len` bytes of `fill`,
    /// written until done or the client goes away.
    Stream {
        headers: Vec<(String, String)>,
        len: u64,
        fill: u8,
    },
    /// Write these raw bytes, then hold the connection open until the client
    /// closes it.
    Stall(Vec<u8>),
    /// Write these raw bytes and close.
    Raw(Vec<u8>),
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: vec![],
            body: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A server that answers each request with the handler's [`Reply`].
pub struct TestServer {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (c, s) = (connections.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let (handler, seen) = (handler.clone(), s.clone());
                std::thread::spawn(move || serve(stream, index, &*handler, &seen));
            }
        });
        TestServer {
            addr,
            connections,
            seen,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, connection: usize, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader, &mut writer, connection) else {
            return;
        };
        seen.lock().unwrap().push(request.clone());
        match handler(&request) {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::Stream { headers, len, fill } => {
                let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n");
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                if writer.write_all(out.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![fill; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if writer.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            }
            Reply::Stall(bytes) => {
                let _ = writer.write_all(&bytes);
                // Hold on until the client hangs up.
                let mut sink = [0u8; 1024];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            Reply::Raw(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
        }
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    connection: usize,
) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut request = Seen {
        method,
        path,
        headers,
        body: Vec::new(),
        connection,
    };
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    request.body = body;
    Some(request)
}

/// A fresh path in the temp dir (not created).
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("semcrawl-smol-{}-{n}-{name}", std::process::id()))
}

/// Remove a file and its SQLite companions, ignoring errors.
pub fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Resident set size of this process, in bytes (Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A record with every field set, so round trips check them all.
pub fn full_record(url: &str) -> semcrawl_core::Record {
    use semcrawl_core::{ErrorKind, Record, RecordError};
    let mut r = Record::new(url, 2, Some("https://example.com/"));
    r.final_url = Some(format!("{url}?final"));
    r.status = Some(200);
    r.title = Some("Title \"quoted\"".into());
    r.description = Some("line one\nline two".into());
    r.lang = Some("en".into());
    r.canonical = Some(url.into());
    r.links_count = 2;
    r.links = Some(vec![
        "https://example.com/a".into(),
        "https://example.com/b".into(),
    ]);
    r.fields.insert("price".into(), Some("3 €".into()));
    r.fields.insert("missing".into(), None);
    r.fields.insert(
        "imgs".into(),
        Some(semcrawl_core::FieldValue::All(vec![
            "https://example.com/a.png".into(),
            "b, \"c\"".into(),
        ])),
    );
    r.text = Some("visible\ttext".into());
    r.content_type = Some("text/html; charset=utf-8".into());
    r.bytes = 1234;
    r.sha256 = Some("ab".repeat(32));
    r.fetched_at = 1_700_000_000_000;
    r.elapsed_ms = 42;
    r.retries = 1;
    r.error = Some(RecordError {
        kind: ErrorKind::Http,
        message: "HTTP 404".into(),
    });
    r
}
