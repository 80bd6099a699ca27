//! An adaptive concurrency limit: how many requests may be in flight, found
//! from the latencies and failures the crawl observes instead of by trial and
//! error.
//!
//! A fixed `--concurrency` is either too small (a fast, parallel server
//! idles) or too large (a small server queues requests, latency climbs,
//! timeouts and `503`s follow). The right value is given by Little's law:
//! a server that completes `X` requests per second with no-load latency `L`
//! is kept busy by `X x L` requests in flight. Any more only wait in its
//! queue, making latency grow in proportion; any fewer leave it idle. The
//! limiter looks for that knee: it grows the limit while latency stays
//! near its no-load value and shrinks it when latency rises or requests
//! fail.
//!
//! [`Limiter`] is a pure state machine in the style of the rest of the core:
//! no clock, no I/O, no async. The pipeline feeds it one [`Sample`] per
//! finished request (when it finished, how long it took, how many requests
//! were in flight when it was sent, whether it was dropped) and reads
//! [`Limiter::limit`]; [`Limiter::on_sample`] returns a [`Change`] whenever the
//! limit moves, with its [`Reason`], for logs and for the summary's
//! [`Trajectory`]. The same type serves one host (a map of them) and the
//! crawl as a whole.
//!
//! ```
//! use std::time::Duration;
//! use semcrawl_core::limiter::{Limiter, LimiterConfig, Outcome, Sample};
//!
//! let config: LimiterConfig = "auto:4..64".parse().unwrap();
//! let mut limiter = Limiter::new(config);
//! assert_eq!(limiter.limit(), 16);
//! // A server whose latency stays at 20 ms however much it is asked: the limit grows.
//! let ms = Duration::from_millis;
//! for i in 1..=400u64 {
//!     let in_flight = limiter.limit();
//!     limiter.on_sample(Sample { now: ms(i * 2), latency: ms(20), in_flight, outcome: Outcome::Ok });
//! }
//! assert_eq!(limiter.limit(), 64); // its upper bound
//! assert_eq!(limiter.trajectory().max, 64);
//! ```
//!
//! # The algorithm
//!
//! It is a gradient limiter in the manner of Netflix's
//! [concurrency-limits](https://github.com/Netflix/concurrency-limits)
//! `Gradient2Limit`, with the slow start of TCP, the multiplicative decrease
//! of AIMD on failures, and the no-load latency probe of TCP BBR.
//!
//! **Windows.** Samples are gathered into windows; a window closes once it
//! holds `min(window_samples, limit)` samples *and* at least one round trip
//! (its own mean latency) has passed since the previous window closed. The
//! limit moves at most once per window, so once per round trip: a change has
//! time to show its effect before the next one, and one slow response does
//! not move anything on its own. The window's mean latency of successful
//! requests is the *short RTT*.
//!
//! **Baseline.** The no-load latency (Gradient2's "long RTT", Vegas's
//! `rtt_noload`) is the lowest short RTT seen. It only ever goes *down* by
//! itself. Gradient2 lets its long RTT follow the short one with a slow
//! average, which under a saturated server (latency up because *we* queue)
//! slowly accepts the queueing as normal and lets the limit creep up without
//! end. Here the baseline is raised only by a **probe**: when no window for
//! `probe_interval` windows has come close to the baseline (within half the
//! tolerance), the limit is halved until requests sent at that lower load
//! have come back, their mean latency becomes the baseline, and the limit is
//! restored. If the latency was ours (queueing), the probe confirms the old
//! baseline and the limit carries on shrinking to the knee; if the server got
//! slower for its own reasons, the probe measures its new no-load latency and
//! the limit grows again (in slow start) to reach the same Little's-law value
//! for the new latency. A probe costs about two round trips at half the
//! limit every `probe_interval` windows, only while latency is above the
//! baseline.
//!
//! **Each window** then does one of:
//!
//! * **Drop** — a request of the window failed in a way that says "too
//!   much" (timeout, connection error, `429`, `503`: [`Outcome::Dropped`]):
//!   the limit is multiplied by `drop_backoff` (0.9, the AIMD backoff ratio of
//!   concurrency-limits). With the default `drop_tolerance` of 0 the first
//!   drop is answered at once, without waiting for the window to close
//!   (as TCP answers a loss); with a tolerance, when the window closes with
//!   more drops than tolerated. As in TCP's fast recovery, failures of
//!   requests sent *before* the last decrease do not count again: they tell
//!   about the old limit, which has already been answered, so one burst of
//!   failures costs one decrease per round trip, not one per failure.
//! * **Slow start** — until latency first rises (or the first drop), the
//!   limit grows each window like TCP slow start, but by four while the
//!   short RTT is within a quarter of the tolerance of the baseline (x1.125:
//!   no queue at all), by two once it starts to stir (as HyStart++ slows
//!   down at the first RTT rise): from 16 to 512 in three round trips.
//!   Slow start ends when the short RTT exceeds the baseline by half the
//!   tolerance (x1.25), or at the first drop, which also undoes the last
//!   step (as TCP halves its window on a loss in slow start). A window
//!   holds requests sent before the last step, so the limit may by then
//!   have run four times ahead of the load that showed the rise: the
//!   **drain** below brings it back if the queue is real. Slow start
//!   resumes when latency falls back for two windows sent at the limit
//!   (as HyStart++ leaves its conservative rounds): within five windows of
//!   its end, quiet and below the RTT that ended it (one busy round trip of
//!   our own must not stop a ramp); later, flat (x1.125: a server at its
//!   knee is rarely that quiet, so the limit does not cycle). It also
//!   starts again when the baseline falls below `1 / tolerance` of itself
//!   (the server got much faster) or a probe raises it by more than the
//!   tolerance (the server got slower for its own reasons): in both cases
//!   the old limit was set for another server.
//! * **Gradient** — the *gradient* `tolerance x baseline / short RTT` (1.5 by
//!   default, as Gradient2's `rttTolerance`) says how far latency is from what
//!   is tolerated. At or above 1 (latency within 1.5 x the no-load value) the
//!   limit grows additively by `smoothing x sqrt(limit)` (Gradient2's default
//!   queue size is a square root; the smoothing is its 0.2), which is gentle
//!   where it matters, near the knee — except below a load already seen to
//!   be quiet since the last drop, where it closes half the gap per window
//!   (as CUBIC returns fast to its last good window): after a passing
//!   latency spike the limit comes back in a few round trips. Below 1 it moves towards `limit x
//!   gradient` by the smoothing factor, with the gradient floored at 0.5, so
//!   one window shrinks the limit by at most 10%: one noisy window cannot
//!   collapse it, while a sustained rise (20 ms to 200 ms) takes it down in a
//!   handful of round trips.
//! * **Throughput rising** — latency above the tolerance is not always a
//!   queue. A crawler whose own CPU handles bursts of responses, or a
//!   server with spare workers but some contention, shows latency growing
//!   *slower* than the load, and throughput (by Little's law, load /
//!   latency) still rising with it; a pure latency limiter would stop at
//!   1.5 x the no-load latency and leave pages on the table (on the `slow`
//!   benchmark site: 256 in flight instead of 512, 25% fewer pages per
//!   second). So the limiter remembers the throughput of recent windows
//!   with their load, and a window above the tolerance whose throughput beats
//!   *every* remembered window sent at 0.6 to 0.85 of its load — by a quarter
//!   of what a queue-free server would gain, and 10% at least — grows the
//!   limit by a quarter (as BBR probes for bandwidth) instead of shrinking it.
//!   Only windows at nearby loads count: a server with 32 workers serves more
//!   at 52 requests than at 26, but nothing more at 52 than at 40, so it
//!   still settles near its knee. The window must also have been sent at
//!   9/10 of the limit or more, so a step is judged by its own requests.
//! * **Drain** — the converse: latency above twice its no-load value with
//!   throughput no higher than at a lower load (within the noise) is a
//!   queue of our own making, and the limit comes back at once to
//!   `load x gradient` (the window's throughput times the tolerated
//!   latency: BBR's drain to its bandwidth-delay product) instead of 10% a
//!   round trip. On a server with 32 workers, slow start's overshoot to 256
//!   comes back to ~50 in one window. A server slower on its own serves
//!   far fewer pages at the same load: that is not drained.
//!
//! **Where it settles.** For a server that serves `C` requests at once with
//! latency `L`, and queues the rest (latency `L x n / C` with `n` in
//! flight), latency stays at `L` up to `n = C` and crosses the tolerance at
//! `n = 1.5 C`: the limit settles between `C` and `1.5 C` — at or a little
//! above the Little's-law value `throughput x no-load latency = C`, so the
//! server never idles and waits stay bounded (the unit tests simulate it).
//!
//! **App-limited.** When the window's requests were sent with fewer than
//! half the limit in flight (the crawl had nothing more to send: an empty
//! frontier, politeness, the byte gate), the latency says nothing about a
//! larger limit, so the limit does not grow (as in Gradient2); it still
//! shrinks on drops and on rising latency.
//!
//! **Bounds.** The limit is always within `min..=max`, probes included.
//!
//! # Feeding it
//!
//! * `latency`: from sending the request to receiving the response head
//!   (status and headers). The body's time depends on its size and on the
//!   byte gate, not on the server's queue, so it would only add noise.
//! * `in_flight`: how many requests counted by *this* limiter were in flight
//!   when this one was sent, itself included (for a per-host limiter: to
//!   that host; for the crawl's: all of them). Requests actually sent, not
//!   pages holding a permit: a page waiting on the byte gate has asked the
//!   server nothing, and a memory-bound crawl must look app-limited, or the
//!   limit would grow for nothing.
//! * `outcome`: [`Outcome::Dropped`] for timeouts, connection errors, `429`
//!   and `503`; everything else, `404` included, is [`Outcome::Ok`]. Each
//!   attempt of a retried request is a sample.
//! * `now`: when the response head (or the failure) arrived, on the
//!   runtime's monotonic clock.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::ConfigError;
use crate::setting::Setting;

/// Default lower bound of `auto`.
pub const DEFAULT_MIN: usize = 1;
/// Default upper bound of `auto`.
pub const DEFAULT_MAX: usize = 512;
/// Default starting limit (the default fixed `--concurrency`), clamped to the bounds.
pub const DEFAULT_INITIAL: usize = 16;

/// How a request ended, as far as the limiter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response arrived (whatever its status, except the ones below).
    Ok,
    /// A sign of overload: a timeout, a connection error, `429` or `503`.
    Dropped,
}

/// One finished request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When it finished (response head or failure), since the runtime's origin.
    pub now: Duration,
    /// From sending the request to its response head.
    pub latency: Duration,
    /// Requests in flight when it was sent, itself included.
    pub in_flight: usize,
    /// Whether it was dropped.
    pub outcome: Outcome,
}

/// Why the limit changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Latency stayed within the tolerance of the baseline: more requests fit.
    Grow,
    /// Latency rose above the tolerance: requests are queueing.
    LatencyRise,
    /// Requests were dropped (timeouts, connection errors, 429, 503).
    Drop,
    /// Latency rose above the tolerance, but throughput rose with the load:
    /// the latency buys pages, it is not a queue.
    Throughput,
    /// The limit is halved for a moment to measure the no-load latency again.
    Probe,
    /// The probe is over; the limit is back to its value before the probe.
    ProbeEnd,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Grow => "grow",
            Reason::LatencyRise => "latency rise",
            Reason::Drop => "drop",
            Reason::Throughput => "throughput rising",
            Reason::Probe => "probe",
            Reason::ProbeEnd => "probe end",
        })
    }
}

/// A change of the limit, for logs and trajectories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The limit before.
    pub from: usize,
    /// The limit after.
    pub to: usize,
    /// Why.
    pub reason: Reason,
    /// The short RTT of the window that decided it (zero if it had no
    /// successful request).
    pub rtt: Duration,
    /// The no-load latency estimate after the change (zero if none yet).
    pub baseline: Duration,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "limit {} -> {} ({}; rtt {:.1} ms, baseline {:.1} ms)",
            self.from,
            self.to,
            self.reason,
            self.rtt.as_secs_f64() * 1e3,
            self.baseline.as_secs_f64() * 1e3
        )
    }
}

/// The limits a limiter has taken: for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trajectory {
    /// Lowest limit so far (probes excluded: they are measurements, not decisions).
    pub min: usize,
    /// Highest limit so far.
    pub max: usize,
    /// The current limit.
    pub last: usize,
    /// Changes so far, probes included.
    pub changes: u64,
}

/// Bounds and tuning of a [`Limiter`].
///
/// Parse the CLI form with [`FromStr`]: `auto` (defaults) or
/// `auto:MIN..MAX`, either bound optional (`auto:4..`, `auto:..256`);
/// `..=` is accepted too.
///
/// ```
/// use semcrawl_core::limiter::LimiterConfig;
/// let c: LimiterConfig = "auto:4..512".parse().unwrap();
/// assert_eq!((c.min, c.max, c.initial), (4, 512, 16));
/// let c: LimiterConfig = "auto:32..64".parse().unwrap();
/// assert_eq!(c.initial, 32); // the default start, clamped to the bounds
/// let err = "auto:9..4".parse::<LimiterConfig>().unwrap_err();
/// assert!(err.to_string().contains("'auto:9..4'"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConfig {
    /// Lowest limit (at least 1).
    pub min: usize,
    /// Highest limit (at least `min`).
    pub max: usize,
    /// Limit before any sample (clamped to `min..=max`).
    pub initial: usize,
    /// Latency tolerated before shrinking, as a multiple of the no-load
    /// latency (Gradient2's `rttTolerance`). Default 1.5.
    pub tolerance: f64,
    /// How far one window moves the limit (Gradient2's `smoothing`). Default 0.2.
    pub smoothing: f64,
    /// Factor applied to the limit on drops (AIMD's `backoffRatio`). Default 0.9.
    pub drop_backoff: f64,
    /// Fraction of a window's requests that may be dropped without shrinking
    /// the limit. Default 0: any drop counts. The crawl-wide limiter may want a
    /// few percent, so that one dead host does not slow every other one.
    pub drop_tolerance: f64,
    /// Samples a window needs before it closes (fewer if the limit is lower).
    /// Default 10.
    pub window_samples: usize,
    /// Windows without a latency close to the baseline before a probe
    /// re-measures it. Default 20.
    pub probe_interval: u32,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            min: DEFAULT_MIN,
            max: DEFAULT_MAX,
            initial: DEFAULT_INITIAL,
            tolerance: 1.5,
            smoothing: 0.2,
            drop_backoff: 0.9,
            drop_tolerance: 0.0,
            window_samples: 10,
            probe_interval: 20,
        }
    }
}

impl LimiterConfig {
    /// Defaults with the given bounds; the initial limit is
    /// [`DEFAULT_INITIAL`] clamped to them.
    pub fn with_bounds(min: usize, max: usize) -> Result<Self, ConfigError> {
        let spec = format!("auto:{min}..{max}");
        check_bounds(&spec, min, max)?;
        Ok(LimiterConfig {
            min,
            max,
            initial: DEFAULT_INITIAL.clamp(min, max),
            ..LimiterConfig::default()
        })
    }
}

fn check_bounds(spec: &str, min: usize, max: usize) -> Result<(), ConfigError> {
    if min == 0 {
        return Err(ConfigError::invalid(
            Setting::Concurrency,
            spec,
            "the minimum must be at least 1",
        ));
    }
    if min > max {
        return Err(ConfigError::invalid(
            Setting::Concurrency,
            spec,
            format_args!("the minimum {min} is above the maximum {max}"),
        ));
    }
    Ok(())
}

impl FromStr for LimiterConfig {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, ConfigError> {
        let s = spec.trim();
        let usage = || {
            ConfigError::invalid(
                Setting::Concurrency,
                spec,
                "expected auto or auto:MIN..MAX (like auto:4..512)",
            )
        };
        let range = match s.strip_prefix("auto") {
            Some("") => return Ok(LimiterConfig::default()),
            Some(rest) => rest.strip_prefix(':').ok_or_else(usage)?,
            None => return Err(usage()),
        };
        let (lo, hi) = range.split_once("..").ok_or_else(usage)?;
        let hi = hi.strip_prefix('=').unwrap_or(hi);
        let bound = |text: &str, default: usize, which: &str| -> Result<usize, ConfigError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(default);
            }
            text.parse().map_err(|_| {
                ConfigError::invalid(
                    Setting::Concurrency,
                    spec,
                    format_args!("the {which} '{text}' is not a whole number"),
                )
            })
        };
        let min = bound(lo, DEFAULT_MIN, "minimum")?;
        let max = bound(hi, DEFAULT_MAX.max(min), "maximum")?;
        check_bounds(spec, min, max)?;
        LimiterConfig::with_bounds(min, max)
    }
}

/// Samples of the window being gathered.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    /// When it started (the previous window's end).
    start: Option<Duration>,
    samples: usize,
    ok: usize,
    latency_sum: f64,
    /// Drops of requests sent after the last decrease.
    drops: usize,
    max_in_flight: usize,
    /// The same, of successful requests only.
    max_ok_in_flight: usize,
    /// Sum of the loads successful requests were sent at.
    ok_in_flight_sum: f64,
    /// The limit when the window began (before the previous window's
    /// decision), under which most of its requests were sent.
    sent_limit: Option<f64>,
}

/// A probe in progress: the limit is halved until requests sent at that
/// load have come back.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The limit to go back to.
    saved: f64,
    /// The limit while probing.
    limit: usize,
    started: Duration,
    /// Successful requests sent after the probe started, at the probe's load.
    count: usize,
    latency_sum: f64,
    first_at: Option<Duration>,
}

/// An adaptive concurrency limit (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Limiter {
    config: LimiterConfig,
    /// The limit, unrounded, so that small steps add up.
    estimate: f64,
    /// No-load latency estimate, in seconds.
    baseline: Option<f64>,
    /// Short RTT of the last window, in seconds.
    last_rtt: Option<f64>,
    slow_start: bool,
    /// Windows since one came close to the baseline.
    stale: u32,
    /// Windows in a row, out of slow start, with latency fallen back.
    flat_windows: u32,
    /// Windows since slow start last ended on a latency rise, and the RTT
    /// that ended it.
    exit_rtt: Option<(u32, f64)>,
    /// The limit before the last slow-start step.
    before_step: f64,
    /// The highest load (requests in flight) at which latency stayed quiet,
    /// since the last drop: a known-good operating point to return to
    /// quickly.
    good: f64,
    /// When the limit last went down for a drop.
    last_decrease: Option<Duration>,
    window: Window,
    probe: Option<Probe>,
    /// Throughput (successful responses per second) of recent windows
    /// that were not app-limited, with the load they were sent at: the
    /// evidence that more load still buys more pages.
    rates: Vec<(f64, f64)>,
    trajectory: Trajectory,
}

/// Windows whose throughput is remembered.
const RATES_KEPT: usize = 32;

impl Limiter {
    /// A limiter starting at `config.initial`. Out-of-range settings are
    /// brought into range (`min >= 1`, `max >= min`, `tolerance >= 1`,
    /// fractions within `0..=1`) rather than refused: use
    /// [`LimiterConfig::with_bounds`] or [`FromStr`] to validate user input.
    pub fn new(config: LimiterConfig) -> Self {
        let mut c = config;
        c.min = c.min.max(1);
        c.max = c.max.max(c.min);
        c.initial = c.initial.clamp(c.min, c.max);
        c.tolerance = finite_or(c.tolerance, 1.5).max(1.0);
        c.smoothing = finite_or(c.smoothing, 0.2).clamp(0.01, 1.0);
        c.drop_backoff = finite_or(c.drop_backoff, 0.9).clamp(0.1, 1.0);
        c.drop_tolerance = finite_or(c.drop_tolerance, 0.0).clamp(0.0, 1.0);
        c.window_samples = c.window_samples.max(1);
        c.probe_interval = c.probe_interval.max(1);
        Limiter {
            config: c,
            estimate: c.initial as f64,
            baseline: None,
            last_rtt: None,
            slow_start: true,
            stale: 0,
            flat_windows: 0,
            exit_rtt: None,
            before_step: c.initial as f64,
            good: c.initial as f64,
            last_decrease: None,
            window: Window::default(),
            probe: None,
            rates: Vec::new(),
            trajectory: Trajectory {
                min: c.initial,
                max: c.initial,
                last: c.initial,
                changes: 0,
            },
        }
    }

    /// The settings in use (after [`Limiter::new`] brought them into range).
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    /// How many requests may be in flight now; always within `min..=max`.
    pub fn limit(&self) -> usize {
        match self.probe {
            Some(p) => p.limit,
            None => self.rounded(),
        }
    }

    fn rounded(&self) -> usize {
        (self.estimate.round() as usize).clamp(self.config.min, self.config.max)
    }

    /// The no-load latency estimate, once a window has closed.
    pub fn baseline(&self) -> Option<Duration> {
        self.baseline.map(Duration::from_secs_f64)
    }

    /// The mean latency of the last closed window.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.last_rtt.map(Duration::from_secs_f64)
    }

    /// Whether a probe is halving the limit right now.
    pub fn is_probing(&self) -> bool {
        self.probe.is_some()
    }

    /// The limits taken so far.
    pub fn trajectory(&self) -> Trajectory {
        self.trajectory
    }

    /// Feed one finished request; returns the change of [`Limiter::limit`],
    /// if any.
    pub fn on_sample(&mut self, sample: Sample) -> Option<Change> {
        let before = self.limit();
        let reason = match self.probe {
            Some(_) => self.probe_sample(&sample),
            None => self.window_sample(&sample),
        }?;
        let after = self.limit();
        if after == before {
            return None;
        }
        let t = &mut self.trajectory;
        t.last = after;
        t.changes += 1;
        if reason != Reason::Probe {
            t.min = t.min.min(after);
            t.max = t.max.max(after);
        }
        Some(Change {
            from: before,
            to: after,
            reason,
            rtt: self.last_rtt().unwrap_or_default(),
            baseline: self.baseline().unwrap_or_default(),
        })
    }

    /// Gather a sample into the window; decide when the window closes.
    fn window_sample(&mut self, s: &Sample) -> Option<Reason> {
        let sent_at = s.now.saturating_sub(s.latency);
        let need = self.config.window_samples.min(self.rounded());
        let w = &mut self.window;
        let start = *w.start.get_or_insert(sent_at);
        w.samples += 1;
        w.max_in_flight = w.max_in_flight.max(s.in_flight);
        match s.outcome {
            Outcome::Ok => {
                w.ok += 1;
                w.max_ok_in_flight = w.max_ok_in_flight.max(s.in_flight);
                w.ok_in_flight_sum += s.in_flight as f64;
                w.latency_sum += s.latency.as_secs_f64();
            }
            // A drop of a request sent before the last decrease was already answered.
            Outcome::Dropped => {
                if self.last_decrease.is_none_or(|at| sent_at >= at) {
                    w.drops += 1;
                }
            }
        }
        // With no drop tolerated, a new drop is answered at once, as TCP
        // answers a loss: waiting for the window to close would only let
        // more requests fail. It is still once per round trip, since drops of
        // requests sent before this decrease will not count.
        if w.drops > 0 && self.config.drop_tolerance == 0.0 {
            let w = std::mem::take(&mut self.window);
            self.window.start = Some(s.now);
            self.window.sent_limit = Some(self.estimate);
            return self.close_window(&w, s.now);
        }
        // A round trip: this window's mean latency, else the last window's
        // (not a failure's: a timeout would hold the window open for its
        // whole length), else this sample's.
        let rtt = if w.ok > 0 {
            w.latency_sum / w.ok as f64
        } else {
            self.last_rtt.unwrap_or(s.latency.as_secs_f64())
        };
        let elapsed = s.now.saturating_sub(start).as_secs_f64();
        if w.samples < need || elapsed < rtt {
            return None;
        }
        let w = std::mem::take(&mut self.window);
        self.window.start = Some(s.now);
        self.window.sent_limit = Some(self.estimate);
        self.close_window(&w, s.now)
    }

    /// One decision per window.
    fn close_window(&mut self, w: &Window, now: Duration) -> Option<Reason> {
        let c = self.config;
        let mut limit = self.estimate;
        // Most of a window's requests were sent before it began, under the
        // limit of then: after a step up, measure the load against that one.
        let sent_limit = w.sent_limit.map_or(limit, |l| l.min(limit));
        let app_limited = (w.max_in_flight as f64) < sent_limit / 2.0;

        if w.drops > 0 && w.drops as f64 > c.drop_tolerance * w.samples as f64 {
            let mut target = limit * c.drop_backoff;
            if self.slow_start {
                // The first drop in slow start says the last step went too
                // far: back to the limit before it (as TCP halves its window
                // on a loss in slow start, which undoes its last doubling).
                target = target.min(self.before_step);
            }
            self.slow_start = false;
            self.last_decrease = Some(now);
            if w.ok > 0 {
                self.last_rtt = Some(w.latency_sum / w.ok as f64);
            }
            self.set_estimate(target);
            self.good = self.estimate;
            return Some(Reason::Drop);
        }
        if w.ok == 0 {
            return None;
        }
        let rtt = w.latency_sum / w.ok as f64;
        self.last_rtt = Some(rtt);
        let quiet = 1.0 + (c.tolerance - 1.0) / 2.0;
        // Throughput by Little's law (load / latency, from the same samples
        // as the RTT: counting completions per window is far noisier), and
        // whether it still rises with the load: compared with every window
        // sent at between 0.6 and 0.85 of this load, it must have gained at
        // least a quarter of what a server with no queue would, and 10% at
        // least, above the noise. Windows at a much lower load say nothing:
        // a server with 32 workers serves 25% more at 52 requests than at 26,
        // but all of it comes from below 32: at 52 it serves no more than at
        // 40.
        let load = w.ok_in_flight_sum / w.ok as f64;
        let rate = load / rtt.max(1e-9);
        // Only a window sent at (nearly) the current limit judges it: after
        // a step up, the next window still holds requests sent before it.
        let mut nearby = self
            .rates
            .iter()
            .filter(|(l, _)| *l >= 0.6 * load && *l <= 0.85 * load)
            .peekable();
        let rising = !app_limited
            && load >= 0.9 * limit
            && nearby.peek().is_some()
            && nearby.all(|(l, r)| rate >= r * (1.0 + 0.25 * (load / l - 1.0)).max(1.1));
        // The opposite evidence: throughput the same as at a lower load
        // (within the noise, which is large while the load is changing:
        // a window fills with the requests that came back fastest), the
        // signature of a queue. (Far lower says the server got slower on
        // its own: that is not ours to drain.)
        let flat_rate = !app_limited
            && self.rates.iter().any(|(l, r)| {
                *l >= 0.4 * load && *l <= 0.85 * load && rate < 1.1 * r && rate >= 0.6 * r
            });
        if !app_limited {
            if self.rates.len() == RATES_KEPT {
                self.rates.remove(0);
            }
            self.rates.push((load, rate));
        }
        let baseline = match self.baseline {
            Some(b) if rtt < b => {
                if rtt * c.tolerance < b {
                    // Much faster than the baseline: the limit was set for
                    // a slower server; find the new knee quickly.
                    self.slow_start = true;
                    self.rates.clear();
                }
                self.baseline = Some(rtt);
                // Earlier quiet windows were judged against a baseline now
                // known to be too high.
                self.good = w.max_ok_in_flight as f64;
                rtt
            }
            Some(b) => b,
            None => {
                self.baseline = Some(rtt);
                rtt
            }
        };
        let is_quiet = rtt <= baseline * quiet;
        let flat = rtt <= baseline * (1.0 + (quiet - 1.0) / 2.0);
        // Slow start that ended on a passing rise (a burst of responses
        // that our own CPU took a moment to handle) resumes when latency
        // falls back for two windows sent at the limit, as HyStart++ goes
        // back to slow start when the RTT falls again. Otherwise a limit
        // stopped at 256 by one busy round trip would creep up by 3 a window
        // with the server idle. Falling back means: within the five windows
        // after slow start ended (HyStart++'s conservative rounds), quiet
        // and below the RTT that ended it; at any later time, flat (no
        // queue at all: a server at its knee is rarely that quiet, so the
        // limit does not cycle through slow start and back).
        let fell_back = match self.exit_rtt {
            Some((windows, exit_rtt)) if windows < 5 => is_quiet && rtt < exit_rtt,
            _ => flat,
        };
        if let Some((windows, _)) = self.exit_rtt.as_mut() {
            *windows += 1;
        }
        self.flat_windows = if fell_back && !app_limited && !self.slow_start {
            self.flat_windows + 1
        } else {
            0
        };
        if self.flat_windows >= 2 && self.last_decrease.is_none() {
            self.flat_windows = 0;
            self.exit_rtt = None;
            self.slow_start = true;
        }
        if is_quiet {
            self.stale = 0;
            // The load the quiet requests were sent at, not the limit:
            // in slow start the limit runs ahead of the load.
            self.good = self.good.max(w.max_ok_in_flight as f64);
        } else {
            self.stale += 1;
            if self.slow_start {
                self.exit_rtt = Some((0, rtt));
            }
            self.slow_start = false;
        }

        let gradient = c.tolerance * baseline / rtt;
        // A deep queue (latency above twice its no-load value) that the
        // throughput confirms as ours (no more pages than at a lower load:
        // the extra requests only wait) is drained at once, back to what
        // the load tolerates (load x gradient: the window's throughput times
        // the tolerated latency, BBR's drain to its bandwidth-delay
        // product), rather than left to the 10%-a-round-trip steps: after
        // slow start's x4 steps, judged by requests sent before each step,
        // a server may face four times the load it can take. Without that
        // evidence (a burst of responses our own CPU took a moment to
        // handle looks the same in latency; a server slower on its own
        // serves fewer pages) the gradient's gentle steps decide.
        let drain = gradient < 0.75 && flat_rate && !rising;
        if drain {
            limit = limit.min(load * gradient).max(c.min as f64);
        }
        let target = if drain {
            limit
        } else if rising && !is_quiet {
            // Latency is up, but so is throughput: more load still buys
            // pages (a client or server whose latency grows slower than its
            // load, not a queue). Keep probing upwards, as BBR probes for
            // bandwidth, by a quarter per round trip.
            limit * 1.25
        } else if gradient >= 1.0 {
            if app_limited {
                limit
            } else if self.slow_start {
                // Four times the load per round trip while latency shows
                // no queue at all (a deep frontier reaches 512 from 16 in
                // under three round trips), twice once it starts to stir
                // (as HyStart++ slows its slow start on the first RTT rise).
                self.before_step = limit;
                if flat {
                    limit * 4.0
                } else {
                    limit * 2.0
                }
            } else {
                let step = c.smoothing * limit.sqrt().max(1.0);
                // Below a limit known to be quiet, latency being quiet
                // again: halve the gap each window (as CUBIC returns fast
                // to its last good window) instead of crawling back.
                let gap = if is_quiet {
                    (self.good - limit) / 2.0
                } else {
                    0.0
                };
                limit + step.max(gap)
            }
        } else {
            limit * (1.0 - c.smoothing) + limit * gradient.max(0.5) * c.smoothing
        };
        let reason = if target < self.estimate {
            Reason::LatencyRise
        } else if rising && !is_quiet {
            Reason::Throughput
        } else {
            Reason::Grow
        };
        self.set_estimate(target);

        if self.stale >= c.probe_interval {
            self.stale = 0;
            let probe_limit = ((self.estimate / 2.0).round() as usize).clamp(c.min, c.max);
            self.probe = Some(Probe {
                saved: self.estimate,
                limit: probe_limit,
                started: now,
                count: 0,
                latency_sum: 0.0,
                first_at: None,
            });
            return Some(Reason::Probe);
        }
        Some(reason)
    }

    /// During a probe, only requests sent after it began, at its load, count.
    fn probe_sample(&mut self, s: &Sample) -> Option<Reason> {
        let c = self.config;
        let p = self.probe.as_mut()?;
        let sent_at = s.now.saturating_sub(s.latency);
        if s.outcome == Outcome::Ok && sent_at >= p.started && s.in_flight <= p.limit {
            p.count += 1;
            p.latency_sum += s.latency.as_secs_f64();
            p.first_at.get_or_insert(s.now);
        }
        let reference = self
            .last_rtt
            .unwrap_or(0.0)
            .max(self.baseline.unwrap_or(0.0));
        let mean = (p.count > 0).then(|| p.latency_sum / p.count as f64);
        let measured = mean.is_some_and(|m| {
            p.count >= c.window_samples.min(p.limit)
                && p.first_at
                    .is_some_and(|at| s.now.saturating_sub(at).as_secs_f64() >= m)
        });
        // A probe that cannot measure (the load never came down) gives up
        // after a few round trips rather than holding the limit down.
        let too_long = s.now.saturating_sub(p.started).as_secs_f64() > 8.0 * reference.max(1e-3);
        if !measured && !too_long {
            return None;
        }
        let (saved, p) = (p.saved, *p);
        self.probe = None;
        if let Some(m) = mean {
            if self.baseline.is_some_and(|b| m > b * c.tolerance) {
                // The server got slower on its own: the old limit was set for another one.
                self.slow_start = true;
                self.rates.clear();
                self.good = saved;
            } else if self.baseline.is_none_or(|b| m < b) {
                // Earlier quiet windows were judged against a baseline too high.
                self.good = self.good.min(p.limit as f64);
            }
            self.baseline = Some(m);
            self.last_rtt = Some(m);
        }
        self.estimate = saved;
        self.window = Window {
            start: Some(s.now),
            ..Window::default()
        };
        Some(Reason::ProbeEnd)
    }

    fn set_estimate(&mut self, value: f64) {
        let (lo, hi) = (self.config.min as f64, self.config.max as f64);
        self.estimate = value.clamp(lo, hi);
    }
}

fn finite_or(value: f64, default: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    const MS: Duration = Duration::from_millis(1);

    /// A tiny deterministic PRNG (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// What a simulated server does with a request sent at `now` with
    /// `in_flight` requests in flight (itself included).
    type Server<'a> = dyn FnMut(Duration, usize) -> (Duration, Outcome) + 'a;

    /// Everything a simulation saw.
    struct Run {
        /// (time, limit) after each sample.
        limits: Vec<(Duration, usize)>,
        changes: Vec<Change>,
        completed: u64,
        drops: u64,
    }

    impl Run {
        fn final_limit(&self) -> usize {
            self.limits.last().unwrap().1
        }
        /// The limit at `t`.
        fn at(&self, t: Duration) -> usize {
            self.limits
                .iter()
                .take_while(|(at, _)| *at <= t)
                .last()
                .map_or(self.limits[0].1, |(_, l)| *l)
        }
        /// The limits seen within [from, to).
        fn between(&self, from: Duration, to: Duration) -> impl Iterator<Item = usize> + '_ {
            self.limits
                .iter()
                .filter(move |(t, _)| *t >= from && *t < to)
                .map(|(_, l)| *l)
        }
        /// The mean limit within [from, to), weighted by samples.
        fn mean_between(&self, from: Duration, to: Duration) -> f64 {
            let v: Vec<usize> = self.between(from, to).collect();
            v.iter().sum::<usize>() as f64 / v.len() as f64
        }
    }

    /// A request in flight: (end, sequence, latency, in flight when sent, dropped).
    type InFlight = (Duration, u64, Duration, usize, bool);

    /// A client that always keeps `limit()` requests in flight (a crawl with
    /// a deep frontier), fed by a discrete-event simulation until `until`.
    fn simulate(limiter: &mut Limiter, server: &mut Server<'_>, until: Duration) -> Run {
        // (end, seq, latency, in_flight at send, outcome)
        let mut heap: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
        let mut now = Duration::ZERO;
        let mut in_flight = 0;
        let mut seq = 0;
        let mut run = Run {
            limits: Vec::new(),
            changes: Vec::new(),
            completed: 0,
            drops: 0,
        };
        while now < until {
            while in_flight < limiter.limit() {
                in_flight += 1;
                let (latency, outcome) = server(now, in_flight);
                seq += 1;
                heap.push(Reverse((
                    now + latency,
                    seq,
                    latency,
                    in_flight,
                    outcome == Outcome::Dropped,
                )));
            }
            let Reverse((end, _, latency, sent_with, dropped)) = heap.pop().unwrap();
            now = end;
            in_flight -= 1;
            let outcome = if dropped {
                run.drops += 1;
                Outcome::Dropped
            } else {
                run.completed += 1;
                Outcome::Ok
            };
            if let Some(change) = limiter.on_sample(Sample {
                now,
                latency,
                in_flight: sent_with,
                outcome,
            }) {
                assert_eq!(change.to, limiter.limit());
                run.changes.push(change);
            }
            let l = limiter.limit();
            let c = limiter.config();
            assert!(c.min <= l && l <= c.max, "limit {l} out of bounds");
            run.limits.push((now, l));
        }
        run
    }

    /// A server that serves `c` requests in parallel with latency `base` and
    /// queues the rest: latency = base x max(1, in_flight / c).
    fn queueing(c: usize, base: Duration) -> impl FnMut(Duration, usize) -> (Duration, Outcome) {
        move |_, n| (base.mul_f64((n as f64 / c as f64).max(1.0)), Outcome::Ok)
    }

    fn limiter(min: usize, max: usize) -> Limiter {
        Limiter::new(LimiterConfig::with_bounds(min, max).unwrap())
    }

    #[test]
    fn parses_the_cli_forms() {
        let d = LimiterConfig::default();
        assert_eq!("auto".parse::<LimiterConfig>().unwrap(), d);
        let c: LimiterConfig = " auto:4..512 ".parse().unwrap();
        assert_eq!((c.min, c.max, c.initial), (4, 512, 16));
        let c: LimiterConfig = "auto:2..=8".parse().unwrap();
        assert_eq!((c.min, c.max, c.initial), (2, 8, 8));
        let c: LimiterConfig = "auto:..100".parse().unwrap();
        assert_eq!((c.min, c.max), (DEFAULT_MIN, 100));
        let c: LimiterConfig = "auto:1000..".parse().unwrap();
        assert_eq!((c.min, c.max, c.initial), (1000, 1000, 1000));
        let c: LimiterConfig = "auto:4..".parse().unwrap();
        assert_eq!((c.min, c.max), (4, DEFAULT_MAX));

        for (bad, says) in [
            ("fast", "expected auto or auto:MIN..MAX"),
            ("auto4..8", "expected auto or auto:MIN..MAX"),
            ("auto:4-8", "expected auto or auto:MIN..MAX"),
            ("auto:x..8", "the minimum 'x' is not a whole number"),
            ("auto:4..-1", "the maximum '-1' is not a whole number"),
            ("auto:0..8", "at least 1"),
            ("auto:9..4", "the minimum 9 is above the maximum 4"),
        ] {
            let err = bad.parse::<LimiterConfig>().unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn grows_while_latency_is_flat() {
        let mut l = limiter(1, 256);
        let run = simulate(&mut l, &mut |_, _| (20 * MS, Outcome::Ok), 2000 * MS);
        assert_eq!(run.final_limit(), 256);
        // Slow start: from 16 to 256 in two round trips (x4 while latency is flat).
        let reached = run.limits.iter().find(|(_, l)| *l == 256).unwrap().0;
        assert!(reached <= 80 * MS, "reached the max at {reached:?}");
        assert!(run.changes.iter().all(|c| c.reason == Reason::Grow));
    }

    #[test]
    fn resumes_slow_start_after_a_passing_rise() {
        let mut l = limiter(1, 10_000);
        // A passing rise ends slow start; latency back to its no-load value:
        // no queue at all, so slow start resumes (HyStart++).
        let run = simulate(
            &mut l,
            &mut |now, _| {
                let rise = now > 100 * MS && now < 200 * MS;
                (if rise { 60 * MS } else { 20 * MS }, Outcome::Ok)
            },
            1000 * MS,
        );
        let low = run.between(150 * MS, 400 * MS).min().unwrap();
        assert!(low < 10_000, "the rise stopped slow start ({low})");
        assert_eq!(run.final_limit(), 10_000);
    }

    #[test]
    fn settles_near_littles_law_for_a_saturated_server() {
        for (c, base) in [(32, 20 * MS), (8, 50 * MS), (100, 10 * MS), (4, 100 * MS)] {
            let mut l = limiter(1, 1024);
            let run = simulate(&mut l, &mut queueing(c, base), 60_000 * MS);
            // Little's law: throughput c / base times no-load latency base = c.
            let settled = run.mean_between(30_000 * MS, 60_000 * MS);
            let cf = c as f64;
            assert!(
                settled >= 0.8 * cf && settled <= 2.5 * cf,
                "C = {c}: settled at {settled:.1}"
            );
            let range: Vec<usize> = run.between(30_000 * MS, 60_000 * MS).collect();
            let (lo, hi) = (range.iter().min().unwrap(), range.iter().max().unwrap());
            assert!(
                *lo as f64 >= 0.3 * cf && *hi as f64 <= 2.5 * cf,
                "C = {c}: {lo}..{hi}"
            );
            // Nearly the server's full throughput: c / base requests per second.
            let best = 30.0 * cf / base.as_secs_f64();
            let done = run.limits.iter().filter(|(t, _)| *t >= 30_000 * MS).count() as f64;
            assert!(done >= 0.9 * best, "C = {c}: {done} of {best}");
        }
    }

    #[test]
    fn keeps_growing_while_throughput_rises_with_latency() {
        // A client-bound crawl: latency grows with the load (b + k x n, here
        // twice the no-load latency at 256 in flight) but slower than the
        // load, so throughput n / (b + k n) still rises. A pure latency
        // limiter would stop at 1.5 x b (128); this one goes on while 4/5 of
        // the load serves 10% fewer pages, up to kn = 1.5 b (384).
        let (b, k) = (50.0e-3, 50.0e-3 / 256.0);
        let rate = |n: f64| n / (b + k * n);
        let mut l = limiter(1, 1024);
        let run = simulate(
            &mut l,
            &mut |_, n| (Duration::from_secs_f64(b + k * n as f64), Outcome::Ok),
            20_000 * MS,
        );
        let settled = run.mean_between(10_000 * MS, 20_000 * MS);
        assert!(settled >= 250.0, "settled at {settled:.0}");
        assert!(rate(settled) >= 0.85 * rate(512.0), "{settled:.0}");
        assert!(run.changes.iter().any(|c| c.reason == Reason::Throughput));
    }

    #[test]
    fn drains_a_slow_start_overshoot_at_once() {
        // 32 workers at 50 ms: slow start's x4 steps judge each step by
        // requests sent before it, so the limit overshoots to 256 before
        // the queue shows. It must not take the 10%-a-round-trip path down
        // (some 15 round trips of a deep queue), but come back at once.
        for c in [32, 64] {
            let mut l = limiter(1, 512);
            let run = simulate(&mut l, &mut queueing(c, 50 * MS), 5_000 * MS);
            let peak = run.between(Duration::ZERO, 1_000 * MS).max().unwrap();
            let after = run.between(1_000 * MS, 5_000 * MS).max().unwrap();
            assert!(
                after <= 2 * c + c / 2,
                "C = {c}: peak {peak}, then up to {after}"
            );
        }
    }

    #[test]
    fn shrinks_when_latency_jumps_and_recovers_when_it_falls() {
        let mut l = limiter(1, 128);
        let slow = |now: Duration| now >= 2_000 * MS && now < 5_000 * MS;
        let run = simulate(
            &mut l,
            &mut |now, _| (if slow(now) { 200 * MS } else { 20 * MS }, Outcome::Ok),
            8_000 * MS,
        );
        let before = run.between(1_500 * MS, 2_000 * MS).min().unwrap();
        assert_eq!(before, 128);
        // At most 10% a round trip: 200 ms.
        let after_1s = run.at(3_000 * MS);
        assert!((64..=110).contains(&after_1s), "{after_1s} after 1 s");
        let during = run.between(2_000 * MS, 5_000 * MS).min().unwrap();
        assert!(during <= 48, "shrank only to {during}");
        assert!(run.changes.iter().any(|c| c.reason == Reason::LatencyRise));
        // Back to 20 ms: the baseline never left it, so the limit grows back.
        let recovered = run.between(7_000 * MS, 8_000 * MS).min().unwrap();
        assert_eq!(recovered, 128);
    }

    #[test]
    fn a_server_slower_for_good_is_probed_and_the_limit_grows_back() {
        // 20 ms, then 200 ms for good, whatever the load: not our queueing.
        let mut l = limiter(1, 128);
        let run = simulate(
            &mut l,
            &mut |now, _| {
                let latency = if now < 1_000 * MS { 20 * MS } else { 200 * MS };
                (latency, Outcome::Ok)
            },
            20_000 * MS,
        );
        let low = run.between(1_000 * MS, 10_000 * MS).min().unwrap();
        assert!(low < 64, "shrank only to {low}");
        let probe = run
            .changes
            .iter()
            .position(|c| c.reason == Reason::Probe)
            .expect("a probe");
        assert!(run.changes[probe..]
            .iter()
            .any(|c| c.reason == Reason::ProbeEnd));
        assert_eq!(l.baseline(), Some(200 * MS));
        assert_eq!(run.final_limit(), 128);
    }

    #[test]
    fn shrinks_on_drops_and_hovers_below_the_threshold() {
        // A server that answers 503 at once to requests beyond 40 in flight.
        let threshold = 40;
        let mut l = limiter(1, 512);
        let run = simulate(
            &mut l,
            &mut |_, n| {
                if n > threshold {
                    (20 * MS, Outcome::Dropped)
                } else {
                    (20 * MS, Outcome::Ok)
                }
            },
            20_000 * MS,
        );
        assert!(run.changes.iter().any(|c| c.reason == Reason::Drop));
        let settled: Vec<usize> = run.between(10_000 * MS, 20_000 * MS).collect();
        let hi = *settled.iter().max().unwrap();
        let mean = settled.iter().sum::<usize>() as f64 / settled.len() as f64;
        assert!(hi <= 2 * threshold, "up to {hi}");
        assert!(mean >= 0.7 * threshold as f64, "mean {mean:.1}");
        assert!(
            run.drops * 10 < run.completed,
            "{} drops for {} pages",
            run.drops,
            run.completed
        );
    }

    #[test]
    fn one_burst_of_drops_is_one_decrease() {
        let mut l = limiter(1, 100);
        let ms = |n: u32| n * MS;
        // Fill a first window with successes.
        for i in 1..=20 {
            l.on_sample(Sample {
                now: ms(i),
                latency: ms(10),
                in_flight: 16,
                outcome: Outcome::Ok,
            });
        }
        let before = l.limit();
        // Forty timeouts of requests all sent at t = 0.
        let mut decreases = 0;
        for i in 0..40 {
            let now = ms(100 + i);
            if let Some(c) = l.on_sample(Sample {
                now,
                latency: now,
                in_flight: before,
                outcome: Outcome::Dropped,
            }) {
                assert_eq!(c.reason, Reason::Drop);
                decreases += 1;
            }
        }
        assert_eq!(decreases, 1);
        assert!(l.limit() < before);
    }

    #[test]
    fn drop_tolerance_ignores_rare_failures() {
        let config = LimiterConfig {
            drop_tolerance: 0.05,
            ..LimiterConfig::with_bounds(1, 64).unwrap()
        };
        let mut l = Limiter::new(config);
        let mut rng = Rng(7);
        let run = simulate(
            &mut l,
            &mut |_, _| {
                let outcome = if rng.unit() < 0.01 {
                    Outcome::Dropped
                } else {
                    Outcome::Ok
                };
                (20 * MS, outcome)
            },
            2_000 * MS,
        );
        assert_eq!(run.final_limit(), 64);
    }

    #[test]
    fn does_not_grow_when_app_limited() {
        let mut l = limiter(1, 512);
        for i in 1..=2000u32 {
            // Only 3 requests ever in flight: the crawl has nothing more to send.
            l.on_sample(Sample {
                now: i * MS,
                latency: 10 * MS,
                in_flight: 3,
                outcome: Outcome::Ok,
            });
        }
        assert_eq!(l.limit(), 16);
    }

    #[test]
    fn never_leaves_its_bounds_under_noise() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let (min, max) = (2 + (seed as usize % 5), 20 + (seed as usize * 7) % 100);
            let mut l = limiter(min, max);
            let c = 1 + (rng.next() % 64) as usize;
            let run = simulate(
                &mut l,
                &mut |_, n| {
                    // Heavy-tailed noise around a queueing server, and random drops.
                    let jitter = 0.5 + rng.unit() + if rng.unit() < 0.05 { 5.0 } else { 0.0 };
                    let base = 20.0 * (n as f64 / c as f64).max(1.0) * jitter;
                    let outcome = if rng.unit() < 0.02 {
                        Outcome::Dropped
                    } else {
                        Outcome::Ok
                    };
                    (Duration::from_secs_f64(base / 1e3), outcome)
                },
                5_000 * MS,
            );
            // `simulate` asserts the bounds after every sample.
            let t = l.trajectory();
            assert!(t.min >= min && t.max <= max, "seed {seed}: {t:?}");
            assert!(run.changes.iter().all(|c| c.from != c.to));
        }
    }

    #[test]
    fn noise_does_not_make_it_oscillate() {
        let mut rng = Rng(42);
        let mut l = limiter(1, 1024);
        let mut queue = queueing(32, 20 * MS);
        let run = simulate(
            &mut l,
            &mut |now, n| {
                let (lat, o) = queue(now, n);
                (lat.mul_f64(0.8 + 0.4 * rng.unit()), o)
            },
            30_000 * MS,
        );
        let settled: Vec<usize> = run.between(15_000 * MS, 30_000 * MS).collect();
        let (lo, hi) = (
            *settled.iter().min().unwrap(),
            *settled.iter().max().unwrap(),
        );
        assert!(lo >= 16 && hi <= 80, "between {lo} and {hi}");
    }

    #[test]
    fn trajectory_and_changes_tell_the_story() {
        let mut l = limiter(4, 64);
        let run = simulate(&mut l, &mut queueing(16, 10 * MS), 3_000 * MS);
        let t = l.trajectory();
        assert_eq!(t.last, l.limit());
        assert_eq!(t.changes, run.changes.len() as u64);
        assert!(t.min >= 4 && t.max <= 64 && t.min <= t.last && t.last <= t.max);
        let first = run.changes[0];
        assert_eq!((first.from, first.reason), (16, Reason::Grow));
        let text = first.to_string();
        assert!(text.starts_with("limit 16 -> "), "{text}");
        assert!(text.contains("grow"), "{text}");
    }

    #[test]
    fn silly_settings_are_brought_into_range() {
        let l = Limiter::new(LimiterConfig {
            min: 0,
            max: 0,
            initial: 99,
            tolerance: f64::NAN,
            smoothing: 7.0,
            drop_backoff: -1.0,
            drop_tolerance: 2.0,
            window_samples: 0,
            probe_interval: 0,
        });
        assert_eq!(l.limit(), 1);
        let c = l.config();
        assert_eq!((c.min, c.max, c.tolerance, c.smoothing), (1, 1, 1.5, 1.0));
    }
}
