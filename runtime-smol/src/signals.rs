//! SIGINT (Ctrl-C) and SIGTERM: stop a crawl cleanly, and tell which one
//! did it, for the exit status.
//!
//! Both mean "stop": a person at a terminal presses Ctrl-C, Kubernetes (and
//! systemd, and `docker stop`) sends SIGTERM before it kills. The first one
//! stops taking work, gives pages in flight a grace period to finish (after
//! which they are recorded as interrupted), flushes the store and keeps the
//! crawl's state for a resume. The exit status is the shell's `128 + signal
//! number`: 130 for SIGINT, 143 for SIGTERM, so a supervisor sees which
//! one ended the crawl. A second signal of either kind exits at once.
//!
//! On Unix the signals are read by `signal-hook`'s iterator on a thread of
//! its own: unlike `ctrlc`, it tells SIGINT from SIGTERM, and the handler
//! itself only writes to a pipe, so the work (messages, the stop) runs on
//! an ordinary thread. Elsewhere `ctrlc` catches Ctrl-C.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::ShutdownDeadline;
use semcrawl_core::StopHandle;

/// The exit status of a crawl stopped by Ctrl-C (SIGINT).
pub const EXIT_SIGINT: u8 = 130;

/// What a stop signal does, and which signal came first.
#[derive(Debug, Clone)]
pub struct Interrupts {
    /// The number of the first signal received; 0 before any.
    first: Arc<AtomicI32>,
}

/// What to act on when a signal arrives.
pub struct OnSignal {
    /// Stopped by the first signal.
    pub stop: StopHandle,
    /// Set to the end of the grace period by the first signal.
    pub deadline: ShutdownDeadline,
    /// How long pages in flight may take after the first signal.
    pub grace: Duration,
    /// A temporary state directory to remove when a second signal exits at
    /// once (nothing else would: destructors do not run).
    pub temporary: Option<PathBuf>,
}

impl Interrupts {
    /// Catch SIGINT and SIGTERM from now on (see the [module docs](self)).
    /// Failing to install is a warning: the crawl still runs, and the
    /// signals keep their default action (exit at once).
    ///
    /// ```
    /// use std::time::Duration;
    /// use semcrawl_core::{Config, Crawler};
    /// use semcrawl_smol::signals::{Interrupts, OnSignal, EXIT_SIGINT};
    /// use semcrawl_smol::{FetchOptions, HttpFetcher, SmolRuntime};
    ///
    /// let runtime = SmolRuntime::new().unwrap();
    /// let fetcher = HttpFetcher::new(FetchOptions::default()).unwrap();
    /// let mut config = Config::default();
    /// config.seeds = vec!["http://127.0.0.1:9/".parse().unwrap()];
    /// let crawler = Crawler::new(config, fetcher, runtime).unwrap();
    /// let interrupts = Interrupts::install(OnSignal {
    ///     stop: crawler.stop_handle(),
    ///     deadline: Default::default(),
    ///     grace: Duration::from_secs(10),
    ///     temporary: None,
    /// });
    /// // No signal yet: a stop from elsewhere reads as Ctrl-C.
    /// assert_eq!(interrupts.exit_code(), EXIT_SIGINT);
    /// ```
    pub fn install(on: OnSignal) -> Interrupts {
        let interrupts = Interrupts {
            first: Arc::new(AtomicI32::new(0)),
        };
        if let Err(e) = listen(interrupts.clone(), on) {
            tracing::warn!("cannot catch Ctrl-C and SIGTERM: {e}");
        }
        interrupts
    }

    /// The exit status for a crawl that was interrupted: that of the first
    /// signal, or 130 if the stop came from elsewhere.
    pub fn exit_code(&self) -> u8 {
        match self.first.load(Ordering::Relaxed) {
            0 => EXIT_SIGINT,
            signal => status(signal),
        }
    }

    /// Act on `signal`: the first one stops the crawl, a second exits.
    fn received(&self, signal: i32, on: &OnSignal) {
        let name = name(signal);
        if self
            .first
            .compare_exchange(0, signal, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            eprintln!("semcrawl: {name} again: exiting without waiting");
            if let Some(dir) = &on.temporary {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(i32::from(status(signal)));
        }
        eprintln!(
            "semcrawl: {name}: finishing pages in flight for at most {:?} (again to quit at once)",
            on.grace
        );
        on.deadline.set(Instant::now() + on.grace);
        on.stop.stop();
    }
}

/// `128 + signal`, the shell's convention.
fn status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(EXIT_SIGINT)
}

#[cfg(unix)]
fn name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "interrupted",
    }
}

#[cfg(unix)]
fn listen(interrupts: Interrupts, on: OnSignal) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("semcrawl-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                interrupts.received(signal, &on);
            }
        })?;
    Ok(())
}

#[cfg(not(unix))]
fn name(_signal: i32) -> &'static str {
    "interrupted"
}

#[cfg(not(unix))]
fn listen(interrupts: Interrupts, on: OnSignal) -> std::io::Result<()> {
    const SIGINT: i32 = 2;
    ctrlc::set_handler(move || interrupts.received(SIGINT, &on)).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXIT_SIGTERM: u8 = 143;

    #[test]
    fn statuses_follow_the_shell() {
        assert_eq!(status(2), EXIT_SIGINT);
        assert_eq!(status(15), EXIT_SIGTERM);
        let none = Interrupts {
            first: Arc::new(AtomicI32::new(0)),
        };
        assert_eq!(none.exit_code(), EXIT_SIGINT, "a stop from elsewhere");
        none.first.store(15, Ordering::Relaxed);
        assert_eq!(none.exit_code(), EXIT_SIGTERM);
    }
}
