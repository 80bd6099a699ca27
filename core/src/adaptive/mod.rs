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
//! [`Trajectory`]. A [`Change`]'s fields and [`Reason::as_str`] are meant for
//! structured logs; its `Display` is for people. The same type serves one
//! host (a map of them) and the crawl as a whole.
//!
//! ```
//! use std::time::Duration;
//! use semcrawl_core::adaptive::{Limiter, LimiterConfig, Outcome, Sample};
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
//! of AIMD on failures, and the no-load latency probe of TCP BBR. The code
//! follows the rules below in their order: `window.rs` keeps the windows,
//! the baseline and the probes; `rules.rs` has one function per rule from
//! *Drop* on; `config.rs` the settings and their defaults.
//!
//! 1. **Windows.** Samples are gathered into windows; a window closes once
//!    it holds `min(window_samples, limit)` samples *and* at least one round
//!    trip (its own short RTT) has passed since the previous window
//!    closed. The limit moves at most once per window, so once per round
//!    trip: a change has time to show its effect before the next one, and
//!    one slow response does not move anything on its own. The window's
//!    *short RTT* is the mean latency of its fastest four fifths of
//!    successful requests (a trimmed mean): a queue delays every request
//!    that waits in it, so it shows there as in the plain mean, while a
//!    slow page (an archive that takes 2 s however idle the server is) is
//!    left out instead of passing for a queue eleven times the no-load
//!    latency. Probes measure the same way.
//!
//! 2. **Baseline and probes.** The no-load latency (Gradient2's "long
//!    RTT", Vegas's `rtt_noload`) is the lowest short RTT seen. It only ever
//!    goes *down* by itself. Gradient2 lets its long RTT follow the short
//!    one with a slow average, which under a saturated server (latency up
//!    because *we* queue) slowly accepts the queueing as normal and lets the
//!    limit creep up without end. Here the baseline is raised only by a
//!    **probe**: when no window for `probe_interval` windows has come close
//!    to the baseline (within half the tolerance), the limit is halved until
//!    requests sent at that lower load have come back, their mean latency
//!    becomes the baseline, and the limit is restored. If the latency was
//!    ours (queueing), the probe confirms the old baseline and the limit
//!    carries on shrinking to the knee; if the server got slower for its own
//!    reasons, the probe measures its new no-load latency and the limit
//!    grows again (in slow start) to reach the same Little's-law value for
//!    the new latency. A probe costs about two round trips at half the limit
//!    every `probe_interval` windows, only while latency is above the
//!    baseline.
//!
//! 3. **Drop.** A request of the window failed in a way that says "too
//!    much" (timeout, connection error, `429`, `503`: [`Outcome::Dropped`]):
//!    the limit is multiplied by `drop_backoff` (0.9, the AIMD backoff ratio
//!    of concurrency-limits). With the default `drop_tolerance` of 0 the
//!    first drop is answered at once, without waiting for the window to
//!    close (as TCP answers a loss); with a tolerance, when the window
//!    closes with more drops than tolerated. As in TCP's fast recovery,
//!    failures of requests sent *before* the last decrease do not count
//!    again: they tell about the old limit, which has already been
//!    answered, so one burst of failures costs one decrease per round trip,
//!    not one per failure. A drop decides the window alone.
//!
//! 4. **Slow start.** Until latency first rises (or the first drop), the
//!    limit grows each window like TCP slow start, but by four while the
//!    short RTT is within a quarter of the tolerance of the baseline
//!    (x1.125: no queue at all), by two once it starts to stir (as HyStart++
//!    slows down at the first RTT rise): from 16 to 512 in three round
//!    trips. Slow start ends when the short RTT exceeds the baseline by half
//!    the tolerance (x1.25), or at the first drop, which also undoes the
//!    last step (as TCP halves its window on a loss in slow start). A window
//!    holds requests sent before the last step, so the limit may by then
//!    have run four times ahead of the load that showed the rise: the
//!    **drain** below brings it back if the queue is real. Slow start
//!    resumes when latency falls back for two windows sent at the limit
//!    (their mean load at 9/10 of it at least: after a probe or a drain,
//!    windows of requests sent at a lower load are quiet for that reason) (as
//!    HyStart++ leaves its conservative rounds): within five windows of its
//!    end, quiet and below the RTT that ended it (one busy round trip of our
//!    own must not stop a ramp); later, flat (x1.125: a server at its knee
//!    is rarely that quiet, so the limit does not cycle). It also starts
//!    again when the baseline falls below `1 / tolerance` of itself (the
//!    server got much faster) or a probe raises it by more than the
//!    tolerance (the server got slower for its own reasons): in both cases
//!    the old limit was set for another server.
//!
//! 5. **Gradient.** The *gradient* `tolerance x baseline / short RTT` (1.5
//!    by default, as Gradient2's `rttTolerance`) says how far latency is
//!    from what is tolerated. At or above 1 (latency within 1.5 x the
//!    no-load value) the limit grows additively by `smoothing x sqrt(limit)`
//!    (Gradient2's default queue size is a square root; the smoothing is its
//!    0.2), which is gentle where it matters, near the knee — except below a
//!    load already seen to be quiet since the last drop (the highest load
//!    at which a request came back within the quiet margin: not the
//!    window's highest, which after a drain is a load whose requests were
//!    anything but quiet), where it closes
//!    half the gap per window (as CUBIC returns fast to its last good
//!    window): after a passing latency spike the limit comes back in a few
//!    round trips. Below 1 it moves towards `limit x gradient` by the
//!    smoothing factor, with the gradient floored at 0.5, so one window
//!    shrinks the limit by at most 10%: one noisy window cannot collapse
//!    it, while a sustained rise (20 ms to 200 ms) takes it down in a
//!    handful of round trips.
//!
//! 6. **Throughput rising.** Latency above the tolerance is not always a
//!    queue. A crawler whose own CPU handles bursts of responses, or a
//!    server with spare workers but some contention, shows latency growing
//!    *slower* than the load, and throughput (by Little's law, load /
//!    latency) still rising with it; a pure latency limiter would stop at
//!    1.5 x the no-load latency and leave pages on the table (on the `slow`
//!    benchmark site: 256 in flight instead of 512, 25% fewer pages per
//!    second). So the limiter remembers the throughput of recent windows
//!    with their load, and a window above quiet latency whose throughput
//!    beats *every* remembered window sent at 0.6 to 0.85 of its load — by a
//!    quarter of what a queue-free server would gain, and 10% at least —
//!    grows the limit by a quarter (as BBR probes for bandwidth) instead of
//!    following the gradient. Only windows at nearby loads count: a server
//!    with 32 workers serves more at 52 requests than at 26, but nothing
//!    more at 52 than at 40, so it still settles near its knee. The window
//!    must also have been sent at 9/10 of the limit or more, so a step is
//!    judged by its own requests.
//!
//! 7. **Drain.** The converse: latency above twice its no-load value with
//!    throughput no higher than at a lower load (within the noise) is a
//!    queue of our own making, and the limit comes back at once to `load x
//!    gradient` (the window's throughput times the tolerated latency: BBR's
//!    drain to its bandwidth-delay product) instead of 10% a round trip. On
//!    a server with 32 workers, slow start's overshoot to 256 comes back to
//!    ~50 in one window. A server slower on its own serves far fewer pages
//!    at the same load: that is not drained.
//!
//! 8. **App-limited.** When the window's requests were sent with fewer than
//!    half the limit in flight (the crawl had nothing more to send: an empty
//!    frontier, politeness, the byte gate), the latency says nothing about a
//!    larger limit, so the limit does not grow (as in Gradient2); it still
//!    shrinks on drops and on rising latency.
//!
//! 9. **Bounds.** The limit is always within `min..=max`, probes included.
//!
//! When several rules could set the limit, a drop decides alone; otherwise
//! drain and throughput rising (whose evidence excludes each other) come
//! before the rest, and app-limited holds the limit where slow start or the
//! gradient would grow it.
//!
//! **Where it settles.** For a server that serves `C` requests at once with
//! latency `L`, and queues the rest (latency `L x n / C` with `n` in
//! flight), latency stays at `L` up to `n = C` and crosses the tolerance at
//! `n = 1.5 C`: the limit settles between `C` and `1.5 C` — at or a little
//! above the Little's-law value `throughput x no-load latency = C`, so the
//! server never idles and waits stay bounded (the unit tests simulate it).
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
use std::time::Duration;

mod config;
mod rules;
#[cfg(test)]
mod tests;
mod window;

pub use config::{LimiterConfig, DEFAULT_INITIAL, DEFAULT_MAX, DEFAULT_MIN};

use window::{Probe, Window};

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
///
/// `Display` is for people ("latency rise"); [`Reason::as_str`] is a stable
/// name for structured logs and scripts.
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

impl Reason {
    /// A stable snake_case name, for structured logs: `grow`,
    /// `latency_rise`, `drop`, `throughput_rising`, `probe`, `probe_end`.
    ///
    /// ```
    /// use semcrawl_core::adaptive::Reason;
    /// assert_eq!(Reason::LatencyRise.as_str(), "latency_rise");
    /// assert_eq!(Reason::LatencyRise.to_string(), "latency rise");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Grow => "grow",
            Reason::LatencyRise => "latency_rise",
            Reason::Drop => "drop",
            Reason::Throughput => "throughput_rising",
            Reason::Probe => "probe",
            Reason::ProbeEnd => "probe_end",
        }
    }
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
///
/// Its fields are public so that a logger can emit them as structured
/// fields (with [`Reason::as_str`], [`Change::rtt_ms`] and
/// [`Change::baseline_ms`]); `Display` gives one line for people.
///
/// ```
/// use std::time::Duration;
/// use semcrawl_core::adaptive::{Change, Reason};
/// let c = Change {
///     from: 16,
///     to: 64,
///     reason: Reason::Grow,
///     rtt: Duration::from_millis(20),
///     baseline: Duration::from_millis(20),
/// };
/// assert_eq!((c.from, c.to, c.reason.as_str(), c.rtt_ms()), (16, 64, "grow", 20.0));
/// assert_eq!(c.to_string(), "limit 16 -> 64 (grow; rtt 20.0 ms, baseline 20.0 ms)");
/// ```
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

impl Change {
    /// [`Change::rtt`] in milliseconds, as logs give it.
    pub fn rtt_ms(&self) -> f64 {
        self.rtt.as_secs_f64() * 1e3
    }

    /// [`Change::baseline`] in milliseconds, as logs give it.
    pub fn baseline_ms(&self) -> f64 {
        self.baseline.as_secs_f64() * 1e3
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "limit {} -> {} ({}; rtt {:.1} ms, baseline {:.1} ms)",
            self.from,
            self.to,
            self.reason,
            self.rtt_ms(),
            self.baseline_ms()
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

impl Limiter {
    /// A limiter starting at `config.initial`. Out-of-range settings are
    /// brought into range (`min >= 1`, `max >= min`, `tolerance >= 1`,
    /// fractions within `0..=1`) rather than refused: use
    /// [`LimiterConfig::with_bounds`] or [`FromStr`](std::str::FromStr) to
    /// validate user input.
    pub fn new(config: LimiterConfig) -> Self {
        let c = config.normalized();
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
        match &self.probe {
            Some(p) => p.limit,
            None => self.rounded(),
        }
    }

    /// The limit outside a probe, rounded and within the bounds.
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
        // Probes are measurements, not decisions about the load.
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
}
