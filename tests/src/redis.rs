//! A real Redis for the tests of shared crawls: Debian's `redis-server`,
//! started on a free 127.0.0.1 port with persistence off, stopped on drop.
//!
//! No mock: the point of those tests is what the Lua scripts, leases and
//! reconnects do against the server users run. `scripts/test.sh` installs
//! `redis-server` on a fresh machine. Under `CI=true` a missing
//! `redis-server` fails the test that needs it; elsewhere the test is
//! skipped with a printed reason ([`RedisServer::start_or_skip`]).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
