//! A hostile server: canned bytes per path, on 127.0.0.1.
//!
//! The generated site (`site`) always speaks correct HTTP; the faults a
//! crawler meets in the wild (a garbage status line, a broken chunk size, a
//! head too large to hold, a connection reset half-way, a peer that never
//! answers) need a server that can say anything. Each request line is read,
//! its path looked up, and the canned [`Act`] played; every request is
//! counted so tests can check what was retried.

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
