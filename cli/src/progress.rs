//! The progress display on stderr: a live bar on a terminal, plain lines
//! otherwise (with `--progress always`), nothing with `--progress never`.
//!
//! It runs on its own thread and only reads the crawl's atomic counters, so
//! drawing never slows the crawl.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use semcrawl_core::format_bytes;
use semcrawl_core::{Progress, Stats};

use crate::args::ProgressMode;

/// A running display; [`finish`](Display::finish) clears it.
pub struct Display {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn line(p: &Progress, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let mut line = format!(
        "{} pages ({} errors) | {} in flight (limit {}) | {} queued | {} / {} held | {:.0} pages/s",
        p.pages + p.errors,
        p.errors,
        p.in_flight,
        p.limit,
        p.queued,
        format_bytes(p.bytes_held),
        format_bytes(p.budget),
        (p.pages + p.errors) as f64 / secs
    );
    // A delay caps a host's rate whatever the concurrency: say which, or
    // a slow crawl looks stuck.
    if let Some(slowest) = &p.slowest_paced {
        line.push_str(" | paced: ");
        if p.paced_hosts > 1 {
            line.push_str(&format!("{} hosts, slowest ", p.paced_hosts));
        }
        line.push_str(&crate::summary::pace(slowest));
    }
    line
}

impl Display {
    /// Start showing `stats` according to `mode` (and `quiet`).
    pub fn start(stats: Arc<Stats>, mode: ProgressMode, quiet: bool) -> Display {
        let done = Arc::new(AtomicBool::new(false));
        let terminal = std::io::stderr().is_terminal();
        let thread = match (mode, terminal, quiet) {
            (_, _, true) | (ProgressMode::Never, _, _) | (ProgressMode::Auto, false, _) => None,
            (_, true, _) => {
                let done = done.clone();
                Some(std::thread::spawn(move || {
                    let bar =
                        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg}").expect("valid template"),
                    );
                    let started = Instant::now();
                    while !done.load(Ordering::Relaxed) {
                        bar.set_message(line(&stats.snapshot(0), started));
                        bar.tick();
                        std::thread::park_timeout(Duration::from_millis(125));
                    }
                    bar.finish_and_clear();
                }))
            }
            (ProgressMode::Always, false, _) => {
                let done = done.clone();
                Some(std::thread::spawn(move || {
                    let started = Instant::now();
                    while !done.load(Ordering::Relaxed) {
                        std::thread::park_timeout(Duration::from_secs(1));
                        eprintln!("{}", line(&stats.snapshot(0), started));
                    }
                }))
            }
        };
        Display { done, thread }
    }

    /// Stop and clear the display.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
