//! Window and probe bookkeeping: gathering samples into windows of about one
//! round trip, tracking the no-load latency, and scheduling the probes that
//! re-measure it.
//!
//! This is the part of the limiter that decides *when* a decision is due and
//! what it is judged against; [`rules`](super::rules) decides *what* it is.

use std::time::Duration;

use super::{Limiter, Outcome, Reason, Sample};

/// The share of the limit a probe keeps: low enough that the server's queue
/// (if it is ours) empties, so the latency measured is the no-load one.
const PROBE_SHARE: f64 = 0.5;
/// Round trips after which a probe that could not measure gives up: the
/// load never came down (the crawl kept more requests in flight), and
/// holding the limit down longer would only cost pages.
const PROBE_GIVE_UP_RTTS: f64 = 8.0;
/// The shortest round trip a probe waits on, in seconds: without a latency
/// known yet, a probe still gets a few milliseconds before it gives up.
const PROBE_MIN_RTT: f64 = 1e-3;
/// The share of a window's latencies, the fastest, whose mean is its short
/// RTT: a trimmed mean. A slow page (an archive, a search, that takes
/// seconds however idle the server is) is one high latency, and the plain
/// mean reads it as a queue: one 2 s page among nine of 20 ms makes a mean
/// of 218 ms, eleven times the no-load latency, and the limit collapses
/// while the server idles. Leaving out the slowest fifth ignores up to two
/// such pages in ten. A queue delays every request that waits in it, so it
/// still shows in the fastest four fifths. Not a low percentile: while the
/// limit moves, a window mixes requests sent at several loads, and its
/// lower quartile is the requests sent at the lowest: the queue of a slow
/// start's overshoot went unseen (on a 32-worker server the limit stayed
/// near 400 instead of coming back to 64).
const RTT_KEPT: f64 = 0.8;

/// The short RTT of `latencies`: the mean of the fastest [`RTT_KEPT`] of
/// them, at least one (`None` if empty).
pub(super) fn short_rtt(latencies: &[f64]) -> Option<f64> {
    if latencies.is_empty() {
        return None;
    }
    let keep = ((RTT_KEPT * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
    let mut v = latencies.to_vec();
    if keep < v.len() {
        v.select_nth_unstable_by(keep - 1, f64::total_cmp);
    }
    Some(v[..keep].iter().sum::<f64>() / keep as f64)
}

/// Samples of the window being gathered.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    /// When it started (the previous window's end).
    start: Option<Duration>,
    pub(super) samples: usize,
    /// Latencies of its successful requests, in seconds.
    latencies: Vec<f64>,
    /// The load each of them was sent at, in the same order.
    loads: Vec<usize>,
    /// The short RTT when last computed: until that much time has passed
    /// since the window began, it cannot close, so the percentile is not
    /// computed again on every sample.
    close_after: Option<f64>,
    /// Drops of requests sent after the last decrease.
    pub(super) drops: usize,
    pub(super) max_in_flight: usize,
    /// Sum of the loads successful requests were sent at.
    ok_in_flight_sum: f64,
    /// The limit when the window began (before the previous window's
    /// decision), under which most of its requests were sent.
    pub(super) sent_limit: Option<f64>,
}

impl Window {
    /// An empty window beginning at `now`, under the limit `sent_limit`.
    fn starting(now: Duration, sent_limit: Option<f64>) -> Window {
        Window {
            start: Some(now),
            sent_limit,
            ..Window::default()
        }
    }

    /// Count one sample sent at `sent_at`; `new_drop` says whether a drop
    /// of it is news (sent after the last decrease). Returns when the
    /// window started.
    fn add(&mut self, s: &Sample, sent_at: Duration, new_drop: bool) -> Duration {
        let start = *self.start.get_or_insert(sent_at);
        self.samples += 1;
        self.max_in_flight = self.max_in_flight.max(s.in_flight);
        match s.outcome {
            Outcome::Ok => {
                self.ok_in_flight_sum += s.in_flight as f64;
                self.latencies.push(s.latency.as_secs_f64());
                self.loads.push(s.in_flight);
            }
            Outcome::Dropped => {
                if new_drop {
                    self.drops += 1;
                }
            }
        }
        start
    }

    /// The short RTT: the mean of the fastest [`RTT_KEPT`] of the
    /// latencies of its successful requests, in seconds (`None` without one).
    pub(super) fn rtt(&self) -> Option<f64> {
        short_rtt(&self.latencies)
    }

    /// The mean load its successful requests were sent at (`None` without one).
    pub(super) fn load(&self) -> Option<f64> {
        let ok = self.latencies.len();
        (ok > 0).then(|| self.ok_in_flight_sum / ok as f64)
    }

    /// The highest load at which a successful request of the window came
    /// back within `quiet` seconds (0 if none did). Not the highest load
    /// of the window: after a drain, a window holds requests sent before
    /// it at the old load, and however quiet the window's RTT, theirs were
    /// not.
    pub(super) fn quiet_load(&self, quiet: f64) -> usize {
        self.latencies
            .iter()
            .zip(&self.loads)
            .filter(|(l, _)| **l <= quiet)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// Whether a round trip has passed `elapsed` seconds into the window:
    /// its short RTT, else `fallback`. The RTT is computed again only once
    /// `elapsed` has passed the last one computed.
    fn round_trip_passed(&mut self, elapsed: f64, fallback: f64) -> bool {
        if self.close_after.is_some_and(|t| elapsed < t) {
            return false;
        }
        let rtt = self.rtt().unwrap_or(fallback);
        self.close_after = Some(rtt);
        elapsed >= rtt
    }
}

/// A probe in progress: the limit is halved until requests sent at that
/// load have come back.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    /// The limit to go back to.
    saved: f64,
    /// The limit while probing.
    pub(super) limit: usize,
    started: Duration,
    /// Latencies of the successful requests sent after the probe started,
    /// at the probe's load, in seconds.
    latencies: Vec<f64>,
    first_at: Option<Duration>,
}

impl Limiter {
    /// Gather a sample into the window; close the window (and decide) once
    /// it holds enough samples and a round trip has passed.
    pub(super) fn window_sample(&mut self, s: &Sample) -> Option<Reason> {
        let sent_at = s.now.saturating_sub(s.latency);
        let need = self.config.window_samples.min(self.rounded());
        // A drop of a request sent before the last decrease was already answered.
        let new_drop = self.last_decrease.is_none_or(|at| sent_at >= at);
        let start = self.window.add(s, sent_at, new_drop);
        // With no drop tolerated, a new drop is answered at once, as TCP
        // answers a loss: waiting for the window to close would only let
        // more requests fail. It is still once per round trip, since drops of
        // requests sent before this decrease will not count.
        if self.window.drops > 0 && self.config.drop_tolerance == 0.0 {
            return self.close_window(s.now);
        }
        // A round trip: this window's short RTT, else the last window's
        // (not a failure's: a timeout would hold the window open for its
        // whole length), else this sample's.
        if self.window.samples < need {
            return None;
        }
        let fallback = self.last_rtt.unwrap_or(s.latency.as_secs_f64());
        let elapsed = s.now.saturating_sub(start).as_secs_f64();
        if !self.window.round_trip_passed(elapsed, fallback) {
            return None;
        }
        self.close_window(s.now)
    }

    /// Start the next window at `now` and decide on the one that closed.
    fn close_window(&mut self, now: Duration) -> Option<Reason> {
        let next = Window::starting(now, Some(self.estimate));
        let closed = std::mem::replace(&mut self.window, next);
        self.decide(&closed, now)
    }

    /// The no-load latency after a window whose short RTT is `rtt`; its
    /// requests that came back within `quiet` times that RTT were sent with
    /// up to `quiet_load` in flight. It only ever goes down here (up only by a probe): letting
    /// it follow the short RTT would accept our own queueing as normal.
    pub(super) fn track_baseline(&mut self, rtt: f64, quiet_load: usize) -> f64 {
        match self.baseline {
            Some(b) if rtt < b => {
                if rtt * self.config.tolerance < b {
                    // Much faster than the baseline: the limit was set for
                    // a slower server; find the new knee quickly.
                    self.slow_start = true;
                    self.rates.clear();
                }
                self.baseline = Some(rtt);
                // Earlier quiet windows were judged against a baseline now
                // known to be too high.
                self.good = quiet_load as f64;
                rtt
            }
            Some(b) => b,
            None => {
                self.baseline = Some(rtt);
                rtt
            }
        }
    }

    /// Count the windows whose latency stayed away from the baseline (not
    /// `quiet`): enough of them in a row call for a probe.
    pub(super) fn note_staleness(&mut self, quiet: bool) {
        if quiet {
            self.stale = 0;
        } else {
            self.stale += 1;
        }
    }

    /// Start a probe at `now` if `probe_interval` windows in a row stayed
    /// away from the baseline; whether one started.
    pub(super) fn maybe_start_probe(&mut self, now: Duration) -> bool {
        let c = self.config;
        if self.stale < c.probe_interval {
            return false;
        }
        self.stale = 0;
        let limit = ((self.estimate * PROBE_SHARE).round() as usize).clamp(c.min, c.max);
        self.probe = Some(Probe {
            saved: self.estimate,
            limit,
            started: now,
            latencies: Vec::new(),
            first_at: None,
        });
        true
    }

    /// During a probe, only requests sent after it began, at its load, count.
    /// The probe ends once they measured a round trip (or it gave up); their
    /// short RTT becomes the baseline and the limit is restored.
    pub(super) fn probe_sample(&mut self, s: &Sample) -> Option<Reason> {
        let c = self.config;
        let p = self.probe.as_mut()?;
        let sent_at = s.now.saturating_sub(s.latency);
        if s.outcome == Outcome::Ok && sent_at >= p.started && s.in_flight <= p.limit {
            p.latencies.push(s.latency.as_secs_f64());
            p.first_at.get_or_insert(s.now);
        }
        let reference = self
            .last_rtt
            .unwrap_or(0.0)
            .max(self.baseline.unwrap_or(0.0));
        // As a window's: one slow page measured during the probe must not
        // pass for a slower server.
        let measured_rtt = short_rtt(&p.latencies);
        let measured = measured_rtt.is_some_and(|m| {
            p.latencies.len() >= c.window_samples.min(p.limit)
                && p.first_at
                    .is_some_and(|at| s.now.saturating_sub(at).as_secs_f64() >= m)
        });
        let too_long = s.now.saturating_sub(p.started).as_secs_f64()
            > PROBE_GIVE_UP_RTTS * reference.max(PROBE_MIN_RTT);
        if !measured && !too_long {
            return None;
        }
        let p = self.probe.take()?;
        if let Some(m) = measured_rtt {
            self.probe_measured(m, &p);
        }
        self.estimate = p.saved;
        self.window = Window::starting(s.now, None);
        Some(Reason::ProbeEnd)
    }

    /// A probe measured the no-load latency `m`: it becomes the baseline,
    /// whichever way it moved.
    fn probe_measured(&mut self, m: f64, p: &Probe) {
        if self.baseline.is_some_and(|b| m > b * self.config.tolerance) {
            // The server got slower on its own: the old limit was set for another one.
            self.slow_start = true;
            self.rates.clear();
            self.good = p.saved;
        } else if self.baseline.is_none_or(|b| m < b) {
            // Earlier quiet windows were judged against a baseline too high.
            self.good = self.good.min(p.limit as f64);
        }
        self.baseline = Some(m);
        self.last_rtt = Some(m);
    }
}
