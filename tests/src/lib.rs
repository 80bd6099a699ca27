//! Helpers of the end-to-end tests: find (and build) the `semcrawl` binary,
//! run it with a deadline, and read its JSON Lines output and summary. The
//! site they crawl and `wait_for` (poll with a deadline) are in
//! `semcrawl-site`.
//!
//! # How the binary is found
//!
//! `env!("CARGO_BIN_EXE_semcrawl")` only exists in the integration tests of
//! the package that owns the binary (`semcrawl-cli`), not here. So
//! [`semcrawl_bin`] builds it once per test process (a `OnceLock`) with the
//! same cargo that runs the tests (`$CARGO`), into the same target directory
//! and profile as the test executable (found from `current_exe()`:
//! `target/<profile>/deps/<test>`), and uses `target/<profile>/semcrawl`.
//! The build is incremental, so it is a no-op when the binary is up to date;
//! it never uses a stale binary. Set `SEMCRAWL_BIN=/path/to/semcrawl` to test
//! a given binary instead (no build).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod fanout;
pub mod hostile;
pub mod pool_site;
pub mod redis;
pub mod tls;

/// The `semcrawl` binary, built on first use (see the crate docs).
///
/// # Panics
///
/// If the build fails (with cargo's output in the message).
pub fn semcrawl_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SEMCRAWL_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/<test-exe>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target dir");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        build_semcrawl(target_dir, profile).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Build the `semcrawl` binary with the cargo that runs us, into
/// `target_dir` with `profile`, and return its path. Incremental, so a
/// stale binary is never used. Shared by the tests and the bench harness.
pub fn build_semcrawl(target_dir: &Path, profile: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cargo"));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "semcrawl-cli",
            "--bin",
            "semcrawl",
        ])
        .env("CARGO_TARGET_DIR", target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo build for the semcrawl binary: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the semcrawl binary failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir
        .join(profile)
        .join(format!("semcrawl{}", std::env::consts::EXE_SUFFIX)))
}

/// A directory under the target directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory whose name contains `name`.
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().and_then(Path::parent).map(|p| p.join("e2e-tmp")))
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// `dir/file`.
    pub fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished `semcrawl` run left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

impl Finished {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panic with the output unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "semcrawl exited with {:?}, expected {code}\n--- stderr:\n{}\n--- stdout (first 2000 bytes):\n{}",
            self.status,
            self.stderr,
            &self.stdout[..self.stdout.len().min(2000)]
        );
        self
    }
}

/// A running `semcrawl` process; killed on drop if still running.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    })
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Wait for the exit, at most `timeout` (then kill it and panic).
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self
                    .stderr
                    .take()
                    .and_then(|h| h.join().ok())
                    .unwrap_or_default();
                panic!("semcrawl did not exit within {timeout:?}\n--- stderr:\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self
            .stdout
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Start `semcrawl ARGS...` with piped stdout and stderr, no stdin, no
/// colours and no progress bar.
pub fn spawn<I, S>(args: I) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = Command::new(semcrawl_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn semcrawl");
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    Running {
        child,
        stdout,
        stderr,
    }
}

/// Run `semcrawl ARGS...` to the end, at most `timeout`.
pub fn run<I, S>(args: I, timeout: Duration) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    spawn(args).wait(timeout)
}

/// The lines of a JSON Lines text, each parsed.
///
/// # Panics
///
/// On a line that is not a JSON object (naming the line).
pub fn parse_jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} is not valid JSON ({e}): {l:.300}", i + 1));
            assert!(
                v.is_object(),
                "line {} is not a JSON object: {l:.300}",
                i + 1
            );
            v
        })
        .collect()
}

/// [`parse_jsonl`] of a file.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_jsonl(&text)
}

/// Number of complete (newline-terminated) lines in a file that may still
/// be being written; 0 if it does not exist yet.
pub fn complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// The summary written by `--summary-json`.
pub fn read_summary(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read summary {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {text}"))
}

/// Records by `url`.
///
/// # Panics
///
/// If a record has no string `url`, or a URL appears twice.
pub fn by_url(records: &[Value]) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for r in records {
        let url = r["url"]
            .as_str()
            .unwrap_or_else(|| panic!("record without url: {r}"))
            .to_owned();
        if let Some(first) = map.insert(url.clone(), r.clone()) {
            panic!("URL stored twice: {url}\nfirst: {first}\nsecond: {r}");
        }
    }
    map
}

/// The error kind of a record (`None` for a success).
pub fn error_kind(record: &Value) -> Option<&str> {
    record["error"].get("kind").and_then(Value::as_str)
}

/// A `u64` field of a summary (panics if missing).
pub fn summary_u64(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no integer '{field}': {summary}"))
}

/// Describe the differences of two sets of URLs (for assertion messages).
pub fn set_diff<'a>(
    got: impl IntoIterator<Item = &'a String>,
    want: impl IntoIterator<Item = &'a String>,
) -> String {
    let got: std::collections::BTreeSet<_> = got.into_iter().collect();
    let want: std::collections::BTreeSet<_> = want.into_iter().collect();
    let extra: Vec<_> = got.difference(&want).collect();
    let missing: Vec<_> = want.difference(&got).collect();
    format!("unexpected: {extra:#?}\nmissing: {missing:#?}")
}

/// The usual flags of a test crawl: quiet, no progress bar.
pub const QUIET: [&str; 3] = ["-q", "--progress", "never"];

/// Run a crawl of `seed` writing JSON Lines to `dir/out.jsonl` and the
/// summary to `dir/summary.json`, with `extra` flags; returns the finished
/// process, the records and the summary.
pub fn crawl_to_jsonl(
    dir: &TempDir,
    seed: &str,
    extra: &[&str],
    timeout: Duration,
) -> (Finished, Vec<Value>, Value) {
    let out = dir.join("out.jsonl");
    let summary = dir.join("summary.json");
    let done = run(crawl_args(seed, &out, &summary, extra), timeout);
    // 3: the crawl ran but not one page could be fetched, which is what a
    // hostile server makes of every page; anything else is a failure.
    if done.code() != Some(3) {
        done.assert_code(0);
    }
    (done, read_jsonl(&out), read_summary(&summary))
}

/// The arguments of `semcrawl crawl SEED` quiet, writing JSON Lines to
/// `out` and the summary to `summary`, with `extra` flags (e.g.
/// `--state DIR`). Running the same arguments again is what resuming a
/// crawl means.
pub fn crawl_args(seed: &str, out: &Path, summary: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["crawl".into()];
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    args.extend(["--summary-json".into(), summary.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(seed.into());
    args
}
