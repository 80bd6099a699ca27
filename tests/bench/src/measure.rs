//! Measuring one child process: wall time, user+sys CPU and peak RSS.
//!
//! `getrusage(RUSAGE_CHILDREN)` reports the *largest* peak RSS of all the
//! children a process has waited for, so a process that runs many children
//! cannot tell their peaks apart. Each measured command therefore runs under
//! a fresh copy of this binary in measurer mode (`bench __measure ...`): it
//! spawns the command, waits for it (killing it at a deadline), and reads
//! `RUSAGE_CHILDREN`, which then describes exactly that one command. The
//! measurer prints one JSON line that [`run`] parses. All of this is safe
//! code: `std::process` to spawn and wait, `nix` for `getrusage` and `kill`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// What one measured run cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Wall seconds from spawn to exit.
    pub wall: f64,
    /// User CPU seconds.
    pub user: f64,
    /// System CPU seconds.
    pub sys: f64,
    /// Peak resident set size, bytes.
    pub max_rss: u64,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Killed at the deadline.
    pub timed_out: bool,
}

impl Usage {
    /// User + system CPU seconds.
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

/// Where a measured command's output goes.
pub struct Io {
    pub stdout: Option<PathBuf>,
    pub stderr: PathBuf,
}

/// Run `argv` under a measurer (a child copy of this binary) and return its
/// usage. Fails only if the measurer itself cannot run.
pub fn run(argv: &[String], io: &Io, timeout: Duration) -> Result<Usage, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(me);
    cmd.arg("__measure")
        .arg("--timeout-ms")
        .arg(timeout.as_millis().to_string())
        .arg("--stderr")
        .arg(&io.stderr);
    if let Some(out) = &io.stdout {
        cmd.arg("--stdout").arg(out);
    }
    cmd.arg("--").args(argv);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the measurer: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("measurer printed {text:?} ({e}) for {argv:?}"))?;
    if let Some(err) = v.get("error").and_then(Value::as_str) {
        return Err(format!("{err} ({argv:?})"));
    }
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    Ok(Usage {
        wall: f("wall"),
        user: f("user"),
        sys: f("sys"),
        max_rss: f("max_rss") as u64,
        code: v.get("code").and_then(Value::as_i64).unwrap_or(-1) as i32,
        timed_out: v.get("timed_out").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The measurer: `__measure --timeout-ms T --stderr PATH [--stdout PATH] -- CMD ARGS...`.
/// Prints one JSON line; never returns.
pub fn measurer_main(args: &[String]) -> ! {
    let result = measure(args);
    let line = match result {
        Ok(u) => json!({
            "wall": u.wall, "user": u.user, "sys": u.sys, "max_rss": u.max_rss,
            "code": u.code, "timed_out": u.timed_out,
        }),
        Err(e) => json!({ "error": e }),
    };
    println!("{line}");
    std::process::exit(0)
}

fn measure(args: &[String]) -> Result<Usage, String> {
    let mut timeout = Duration::from_secs(600);
    let mut stdout: Option<&Path> = None;
    let mut stderr: Option<&Path> = None;
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let value = args.get(i + 1).ok_or("measurer: missing value")?;
        match args[i].as_str() {
            "--timeout-ms" => {
                timeout = Duration::from_millis(value.parse().map_err(|_| "bad --timeout-ms")?)
            }
            "--stdout" => stdout = Some(Path::new(value)),
            "--stderr" => stderr = Some(Path::new(value)),
            other => return Err(format!("measurer: unknown option {other}")),
        }
        i += 2;
    }
    let argv = args
        .get(i + 1..)
        .filter(|a| !a.is_empty())
        .ok_or("measurer: no command")?;
    let file = |p: Option<&Path>| -> Result<Stdio, String> {
        match p {
            Some(p) => std::fs::File::create(p)
                .map(Stdio::from)
                .map_err(|e| format!("cannot create {}: {e}", p.display())),
            None => Ok(Stdio::null()),
        }
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(file(stdout)?)
        .stderr(file(stderr)?);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let pid = Pid::from_raw(child.id() as i32);
    // Watchdog: SIGKILL at the deadline unless told the child is done.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || match done_rx.recv_timeout(timeout) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = kill(pid, Signal::SIGKILL);
            true
        }
        _ => false,
    });
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let ru = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage: {e}"))?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(Usage {
        wall,
        user: secs(ru.user_time()),
        sys: secs(ru.system_time()),
        // Linux reports kibibytes.
        max_rss: ru.max_rss().max(0) as u64 * 1024,
        code: status.code().unwrap_or(-1),
        timed_out,
    })
}

/// CPU seconds (user + sys) used by this process so far: the in-process
/// site servers' threads, mostly, since the main thread only waits.
pub fn self_cpu() -> f64 {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(ru) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            secs(ru.user_time()) + secs(ru.system_time())
        }
        Err(_) => 0.0,
    }
}
