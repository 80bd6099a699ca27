//! A real Redis for the tests of shared crawls: Debian's `redis-server`,
//! started on a free 127.0.0.1 port with persistence off, stopped on drop.
//!
//! No mock: the point of those tests is what the Lua scripts, leases and
//! reconnects do against the server users run. `scripts/test.sh` installs
//! `redis-server` on a fresh machine. Under `CI=true` a missing
//! `redis-server` fails the test that needs it; elsewhere the test is
//! skipped with a printed reason ([`RedisServer::start_or_skip`]).
//!
//! [`LoggingSite`] is the site of the politeness tests: it logs when each
//! request arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::TempDir;

/// How long a start or a stop may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// A `redis-server` of our own.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Its working directory: where `SHUTDOWN SAVE` writes the dump that a
    /// restart reads back.
    dir: TempDir,
    bin: PathBuf,
}

/// The `redis-server` on `PATH`, if any.
pub fn redis_server_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

/// A port free now on 127.0.0.1 (the kernel's pick).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RedisServer {
    /// Start one, or `None` with the reason printed when `redis-server` is
    /// not installed and this is not CI.
    ///
    /// # Panics
    ///
    /// Under `CI=true` when `redis-server` is missing; when it does not
    /// answer `PING` within 20 s.
    pub fn start_or_skip(test: &str) -> Option<RedisServer> {
        let Some(bin) = redis_server_bin() else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "{test}: redis-server is not installed (scripts/test.sh installs it)"
            );
            eprintln!(
                "{test}: SKIPPED: redis-server is not installed (apt-get install -y redis-server)"
            );
            return None;
        };
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: TempDir::new("redis"),
            bin,
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + DEADLINE;
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Send one command and read the first line of the reply (`None`: no
    /// server answers). Enough for `PING`, `SHUTDOWN` and integer replies.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(req.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).ok()? == 1 {
            if byte[0] == b'\n' {
                break;
            }
            reply.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&reply).trim_end().to_owned();
        (!line.is_empty()).then_some(line)
    }

    /// Stop the server, saving its data to its directory first (as an
    /// orderly restart of a persistent Redis would), and wait for its exit.
    pub fn stop_saving(&mut self) {
        let _ = self.command(&["SHUTDOWN", "SAVE"]);
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + DEADLINE;
            while child.try_wait().ok().flatten().is_none() {
                assert!(Instant::now() < deadline, "redis-server did not stop");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Start it again on the same port and directory: it loads what
    /// [`stop_saving`](Self::stop_saving) saved.
    pub fn restart(&mut self) {
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A small site that logs when each request arrived, for the tests of
/// politeness across workers: `/` links to `/p/1` ... `/p/N-1`, which link
/// back to `/`; `/robots.txt` is the text given, answered after a pause
/// (so that workers started together all want it while it is on its way);
/// anything else is a 404. One thread per connection, `Connection: close`.
pub struct LoggingSite {
    port: u16,
    log: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl LoggingSite {
    /// Serve `pages` pages (`/` and `/p/1` ...) and `robots` as
    /// `/robots.txt`, answered `robots_pause` after it was asked for.
    pub fn start(pages: usize, robots: &str, robots_pause: Duration) -> LoggingSite {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("local_addr").port();
        let log: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let robots: Arc<str> = Arc::from(robots);
        let logger = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, robots) = (logger.clone(), robots.clone());
                std::thread::spawn(move || serve(stream, pages, &robots, robots_pause, &log));
            }
        });
        LoggingSite { port, log }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn seed(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Every request so far: its path, and when its head arrived, in
    /// order of arrival.
    pub fn requests(&self) -> Vec<(String, Instant)> {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        log.sort_by_key(|(_, at)| *at);
        log
    }

    /// Requests for `path`.
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|(p, _)| p == path).count()
    }

    /// The URLs of the site's pages.
    pub fn pages(&self, pages: usize) -> Vec<String> {
        let mut urls = vec![self.seed()];
        urls.extend((1..pages).map(|i| format!("{}p/{i}", self.seed())));
        urls
    }
}

fn serve(
    stream: TcpStream,
    pages: usize,
    robots: &str,
    robots_pause: Duration,
    log: &Mutex<Vec<(String, Instant)>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let arrived = Instant::now();
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((path.clone(), arrived));
    let page = |body: String| ("200 OK", "text/html", body);
    let (status, kind, body) = match path.as_str() {
        "/robots.txt" => {
            std::thread::sleep(robots_pause);
            ("200 OK", "text/plain", robots.to_owned())
        }
        "/" => page(
            (1..pages)
                .map(|i| format!("<a href=\"/p/{i}\">{i}</a>"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        p => match p.strip_prefix("/p/").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if (1..pages).contains(&n) => {
                page(format!("<title>page {n}</title><a href=\"/\">home</a>"))
            }
            _ => ("404 Not Found", "text/plain", String::new()),
        },
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = (&stream).write_all(reply.as_bytes());
}
