//! The rules a closed window is judged by, one function per rule, in the
//! order the [module docs](super) give them: drop, slow start, gradient,
//! throughput rising, drain, app-limited, bounds. [`Limiter::decide`] at the
//! top says which one sets the limit when several could.
//!
//! The constants below are the rules' tuning. Each says why it has its
//! value; the defaults a user can change live in
//! [`LimiterConfig`](super::LimiterConfig).

use std::time::Duration;

use super::window::Window;
use super::{Limiter, Reason};

/// Latency counts as *quiet* within this share of the tolerance above the
/// baseline (x1.25 with the default tolerance of 1.5): near enough to the
/// no-load value to say there is no queue to speak of.
const QUIET_SHARE: f64 = 0.5;
/// Latency counts as *flat* within this share of the quiet margin (x1.125):
/// no queue at all, so slow start may take its biggest steps.
const FLAT_SHARE_OF_QUIET: f64 = 0.5;
/// The shortest short RTT used to compute a throughput, in seconds: a
/// window of instant responses must not divide by zero.
const MIN_RTT: f64 = 1e-9;

/// Windows after slow start ended on a latency rise during which it resumes
/// as soon as latency is quiet and below the RTT that ended it: HyStart++'s
/// conservative rounds. Later it takes flat latency, which a server at its
/// knee rarely shows, so that the limit does not cycle.
const CONSERVATIVE_WINDOWS: u32 = 5;
/// Windows sent at the limit with latency fallen back before slow start
/// resumes: two, so that one lucky window does not restart it.
const RESUME_WINDOWS: u32 = 2;
/// Slow start's step while latency is flat: a deep frontier reaches 512
/// from 16 in under three round trips.
const SLOW_START_FLAT_STEP: f64 = 4.0;
/// Slow start's step once latency starts to stir, as HyStart++ slows its
/// slow start at the first RTT rise.
const SLOW_START_STIRRING_STEP: f64 = 2.0;

/// Share of the gap to the last known-good load closed per window when
/// latency is quiet again (as CUBIC returns fast to its last good window):
/// after a passing spike the limit is back in a few round trips.
const GOOD_GAP_CLOSED: f64 = 0.5;
/// The lowest gradient a shrinking step uses: with the smoothing of 0.2,
/// one window shrinks the limit by at most 10%, so one noisy window cannot
/// collapse it.
const GRADIENT_FLOOR: f64 = 0.5;

/// Windows whose throughput is remembered: enough to cover the loads of the
/// last few steps, few enough that an old server's figures age out.
const RATES_KEPT: usize = 32;
/// Remembered windows sent at `NEARBY_LOAD_MIN..=NEARBY_LOAD_MAX` of this
/// window's load are its comparison for throughput rising. Only nearby
/// loads count: a server with 32 workers serves more at 52 requests than at
/// 26 (all of the gain below 32), but nothing more at 52 than at 40.
const NEARBY_LOAD_MIN: f64 = 0.6;
/// See [`NEARBY_LOAD_MIN`]; also the top of the drain's comparison range:
/// a load within 15% of this one says too little either way.
const NEARBY_LOAD_MAX: f64 = 0.85;
/// Throughputs within 10% of each other are the same, within the noise:
/// rising must beat it, a queue stays within it.
const RATE_NOISE: f64 = 1.1;
/// The share of a queue-free server's gain (throughput in proportion to the
/// load) a window must show to count as rising: latency growing slower than
/// the load, not merely noise.
const RISE_SHARE_OF_IDEAL: f64 = 0.25;
/// A window judges a step only if it was sent at this share of the limit or
/// more: after a step up, the next window still holds requests sent before it.
const SENT_AT_LIMIT: f64 = 0.9;
/// The throughput-rising step, a quarter per round trip, as BBR probes for
/// bandwidth: bold enough to find the top, small enough not to overshoot far.
const THROUGHPUT_STEP: f64 = 1.25;

/// The gradient below which a confirmed queue is drained at once: 0.75 is
/// latency above twice its no-load value with the default tolerance (1.5 /
/// 2), a queue deeper than the 10%-a-round-trip steps should be left with.
const DRAIN_GRADIENT: f64 = 0.75;
/// The lowest load, as a share of this window's, whose throughput can
/// confirm a queue: lower loads differ too much to say the gain stopped.
const QUEUE_LOAD_MIN: f64 = 0.4;
/// A throughput this far below a lower load's says the server got slower on
/// its own: that is not our queue, and not ours to drain.
const SLOWER_SERVER_RATE: f64 = 0.6;

/// Windows sent with fewer than this share of the limit in flight are
/// app-limited: the crawl had nothing more to send, so their latency says
/// nothing about a larger limit.
const APP_LIMITED_SHARE: f64 = 0.5;

/// What a closed window measured, and the state it is judged against.
#[derive(Debug, Clone, Copy)]
struct Evidence {
    /// The limit (unrounded) when the window closed.
    limit: f64,
    /// Sent with too few requests in flight to judge a larger limit.
    app_limited: bool,
    /// The short RTT, in seconds.
    rtt: f64,
    /// The mean load its successful requests were sent at.
    load: f64,
    /// `tolerance x baseline / rtt`: at or above 1, latency is tolerated.
    gradient: f64,
    /// `gradient >= 1` (kept as computed, so that a NaN gradient shrinks).
    tolerated: bool,
    /// Latency within [`QUIET_SHARE`] of the tolerance above the baseline.
    quiet: bool,
    /// Latency within [`FLAT_SHARE_OF_QUIET`] of the quiet margin.
    flat: bool,
    /// Throughput beat every nearby lower load: more load buys pages.
    rising: bool,
    /// Throughput no higher than at a lower load: the signature of a queue.
    queued: bool,
}

impl Limiter {
    /// One decision per window: drops first; then, from the window's
    /// latency and throughput, the first of drain, throughput rising,
    /// app-limited, slow start and gradient that applies; then the bounds
    /// and, if latency stayed away from the baseline too long, a probe.
    pub(super) fn decide(&mut self, w: &Window, now: Duration) -> Option<Reason> {
        let app_limited = self.app_limited(w);
        if self.drop(w, now) {
            return Some(Reason::Drop);
        }
        let (rtt, load) = (w.rtt()?, w.load()?);
        self.last_rtt = Some(rtt);
        let limit = self.estimate;
        // Throughput by Little's law (load / latency, from the same samples
        // as the RTT: counting completions per window is far noisier).
        let rate = load / rtt.max(MIN_RTT);
        let rising = !app_limited && self.throughput_rises(load, rate, limit);
        let queued = !app_limited && self.throughput_flat(load, rate);
        if !app_limited {
            self.remember_rate(load, rate);
        }
        let quiet = 1.0 + (self.config.tolerance - 1.0) * QUIET_SHARE;
        let baseline = self.track_baseline(rtt, w.quiet_load(rtt * quiet));
        let flat = 1.0 + (quiet - 1.0) * FLAT_SHARE_OF_QUIET;
        let gradient = self.config.tolerance * baseline / rtt;
        let e = Evidence {
            limit,
            app_limited,
            rtt,
            load,
            gradient,
            tolerated: gradient >= 1.0,
            quiet: rtt <= baseline * quiet,
            flat: rtt <= baseline * flat,
            rising,
            queued,
        };
        self.slow_start(&e);
        self.note_staleness(e.quiet);
        if e.quiet {
            // The load the quiet requests were sent at, not the limit:
            // in slow start the limit runs ahead of the load.
            self.good = self.good.max(w.quiet_load(baseline * quiet) as f64);
        }
        let target = self
            .drain(&e)
            .or_else(|| self.throughput_rising(&e))
            .or_else(|| self.app_limited_hold(&e))
            .or_else(|| self.slow_start_step(&e))
            .unwrap_or_else(|| self.gradient_step(&e));
        let reason = if target < self.estimate {
            Reason::LatencyRise
        } else if e.rising && !e.quiet {
            Reason::Throughput
        } else {
            Reason::Grow
        };
        self.bound(target);
        if self.maybe_start_probe(now) {
            return Some(Reason::Probe);
        }
        Some(reason)
    }

    /// **Drop**: more new drops than tolerated multiply the limit by
    /// `drop_backoff`; in slow start, back to the limit before the last
    /// step at least (as TCP halves its window on a loss in slow start,
    /// which undoes its last doubling). Whether it applied.
    fn drop(&mut self, w: &Window, now: Duration) -> bool {
        let c = self.config;
        let dropped = w.drops > 0 && w.drops as f64 > c.drop_tolerance * w.samples as f64;
        if !dropped {
            return false;
        }
        let mut target = self.estimate * c.drop_backoff;
        if self.slow_start {
            target = target.min(self.before_step);
        }
        self.slow_start = false;
        self.last_decrease = Some(now);
        if let Some(rtt) = w.rtt() {
            self.last_rtt = Some(rtt);
        }
        self.bound(target);
        self.good = self.estimate;
        true
    }

    /// **Slow start**, its phase: it ends when latency is no longer quiet,
    /// and resumes when latency falls back for [`RESUME_WINDOWS`] windows
    /// sent at the limit (as HyStart++ goes back to slow start when the RTT
    /// falls again): otherwise a limit stopped at 256 by one busy round
    /// trip of our own would creep up by 3 a window with the server idle.
    /// Falling back means: within [`CONSERVATIVE_WINDOWS`] of its end,
    /// quiet and below the RTT that ended it; later, flat.
    fn slow_start(&mut self, e: &Evidence) {
        let fell_back = match self.exit_rtt {
            Some((windows, exit_rtt)) if windows < CONSERVATIVE_WINDOWS => {
                e.quiet && e.rtt < exit_rtt
            }
            _ => e.flat,
        };
        if let Some((windows, _)) = self.exit_rtt.as_mut() {
            *windows += 1;
        }
        // Sent at the limit: after a probe, or a drain, the windows still
        // hold requests sent at a lower load, whose quiet latency says
        // nothing of the limit's.
        let at_limit = e.load >= SENT_AT_LIMIT * e.limit;
        self.flat_windows = if fell_back && at_limit && !e.app_limited && !self.slow_start {
            self.flat_windows + 1
        } else {
            0
        };
        if self.flat_windows >= RESUME_WINDOWS && self.last_decrease.is_none() {
            self.flat_windows = 0;
            self.exit_rtt = None;
            self.slow_start = true;
        }
        if !e.quiet {
            if self.slow_start {
                self.exit_rtt = Some((0, e.rtt));
            }
            self.slow_start = false;
        }
    }

    /// **Slow start**, its step: while latency is tolerated, x4 per window
    /// when flat, x2 once it stirs.
    fn slow_start_step(&mut self, e: &Evidence) -> Option<f64> {
        if !(e.tolerated && self.slow_start) {
            return None;
        }
        self.before_step = e.limit;
        Some(if e.flat {
            e.limit * SLOW_START_FLAT_STEP
        } else {
            e.limit * SLOW_START_STIRRING_STEP
        })
    }

    /// **Gradient**: latency tolerated, grow by `smoothing x sqrt(limit)`
    /// (Gradient2's square-root queue), or close half the gap to the last
    /// known-good load when latency is quiet again; latency above the
    /// tolerance, move towards `limit x gradient` by the smoothing factor.
    fn gradient_step(&self, e: &Evidence) -> f64 {
        let c = &self.config;
        let limit = e.limit;
        if e.tolerated {
            let step = c.smoothing * limit.sqrt().max(1.0);
            let gap = if e.quiet {
                (self.good - limit) * GOOD_GAP_CLOSED
            } else {
                0.0
            };
            limit + step.max(gap)
        } else {
            limit * (1.0 - c.smoothing) + limit * e.gradient.max(GRADIENT_FLOOR) * c.smoothing
        }
    }

    /// **Throughput rising**, its evidence: compared with every remembered
    /// window sent at [`NEARBY_LOAD_MIN`] to [`NEARBY_LOAD_MAX`] of this
    /// load, this window's throughput gained at least [`RISE_SHARE_OF_IDEAL`]
    /// of what a server with no queue would, and [`RATE_NOISE`] at least.
    fn throughput_rises(&self, load: f64, rate: f64, limit: f64) -> bool {
        let mut nearby = self
            .rates
            .iter()
            .filter(|(l, _)| *l >= NEARBY_LOAD_MIN * load && *l <= NEARBY_LOAD_MAX * load)
            .peekable();
        load >= SENT_AT_LIMIT * limit
            && nearby.peek().is_some()
            && nearby.all(|(l, r)| {
                rate >= r * (1.0 + RISE_SHARE_OF_IDEAL * (load / l - 1.0)).max(RATE_NOISE)
            })
    }

    /// Remember a window's throughput with its load, for the evidence of
    /// the windows to come.
    fn remember_rate(&mut self, load: f64, rate: f64) {
        if self.rates.len() == RATES_KEPT {
            self.rates.remove(0);
        }
        self.rates.push((load, rate));
    }

    /// **Throughput rising**, its step: latency is above quiet, but more
    /// load still buys pages (a client or server whose latency grows slower
    /// than its load, not a queue): keep probing upwards.
    fn throughput_rising(&self, e: &Evidence) -> Option<f64> {
        (e.rising && !e.quiet).then_some(e.limit * THROUGHPUT_STEP)
    }

    /// **Drain**, its evidence: throughput the same as at a lower load
    /// (within the noise, which is large while the load is changing: a
    /// window fills with the requests that came back fastest). Far lower
    /// says the server got slower on its own.
    fn throughput_flat(&self, load: f64, rate: f64) -> bool {
        self.rates.iter().any(|(l, r)| {
            *l >= QUEUE_LOAD_MIN * load
                && *l <= NEARBY_LOAD_MAX * load
                && rate < RATE_NOISE * r
                && rate >= SLOWER_SERVER_RATE * r
        })
    }

    /// **Drain**, its step: a deep queue that the throughput confirms as
    /// ours goes at once, back to `load x gradient` (the window's
    /// throughput times the tolerated latency: BBR's drain to its
    /// bandwidth-delay product), rather than 10% a round trip: after slow
    /// start's x4 steps, judged by requests sent before each step, a server
    /// may face four times the load it can take.
    fn drain(&self, e: &Evidence) -> Option<f64> {
        (e.gradient < DRAIN_GRADIENT && e.queued && !e.rising)
            .then(|| e.limit.min(e.load * e.gradient).max(self.config.min as f64))
    }

    /// **App-limited**, its evidence: fewer than [`APP_LIMITED_SHARE`] of
    /// the limit in flight. Most of a window's requests were sent before it
    /// began, under the limit of then: after a step up, the load is
    /// measured against that one.
    fn app_limited(&self, w: &Window) -> bool {
        let limit = self.estimate;
        let sent_limit = w.sent_limit.map_or(limit, |l| l.min(limit));
        (w.max_in_flight as f64) < sent_limit * APP_LIMITED_SHARE
    }

    /// **App-limited**, its step: where latency would let the limit grow,
    /// it holds (it still shrinks on drops and rising latency).
    fn app_limited_hold(&self, e: &Evidence) -> Option<f64> {
        (e.tolerated && e.app_limited).then_some(e.limit)
    }

    /// **Bounds**: the limit is always within `min..=max`.
    pub(super) fn bound(&mut self, value: f64) {
        let (lo, hi) = (self.config.min as f64, self.config.max as f64);
        self.estimate = value.clamp(lo, hi);
    }
}
