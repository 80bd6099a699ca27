//! The glue between the crawl and its adaptive limits.
//!
//! The limiter itself ([`crate::adaptive`]) is a pure state machine: samples
//! in, a limit out. This file is everything around it that the crawl needs,
//! so that the coordinator only says "here is a sample"
//! ([`Limits::on_sample`]) and asks "what is this host's limit" (the
//! host's [`Pace`](crate::politeness::Pace), which this file keeps
//! current): which limiters exist and how they are configured, how the
//! count gate's permits follow the crawl's limit, how the load of a
//! request is counted, and how a change is logged and summarized.
//!
//! # Per host and overall
//!
//! With adaptive concurrency there is one limiter for the crawl, which the
//! count gate's permits follow, and one per host, created when the host's
//! first page starts, bounded by `1..=per_host` and starting where the
//! crawl's limit starts (clamped to that). A host's limit is kept in its
//! pace: the host is ready while fewer of its requests than
//! `min(per_host, its limit)` are in flight. Each attempt's sample feeds
//! both limiters: the host's with the requests being fetched from that host
//! when it was sent, the crawl's with all requests being fetched then (both
//! itself included; counted from the byte gate's admission to the end of
//! the fetch, see [`Fetching`], so a page waiting on the gate, or sleeping
//! before a retry, is no load: a memory-bound crawl looks app-limited and
//! its limit does not grow for nothing). A page sleeping before a retry
//! still keeps its host's politeness slot, as it keeps its count permit.
//! The summary counts the hosts whose limit was lowered at least once, for
//! latency or failures (`hostsLimited`). A host's limiter is kept for the
//! rest of the crawl, like the rest of its record.
//!
//! The two answer different questions. A host's limiter finds what that
//! server takes, and answers its `503`s and timeouts at the first one (its
//! drop tolerance is the configured one, 0 by default). The crawl's limiter
//! finds what the crawl as a whole takes (our own network, CPU and the
//! servers together), and gets a drop tolerance of
//! [`CRAWL_DROP_TOLERANCE`] (5%): a window whose failures are at most that
//! share of its samples is judged on its latency alone. Without it, one
//! dead or rate-limiting host among many, failing a request or two every
//! round trip, would cut the crawl's limit by 10% each round trip and slow
//! every other host down, though its own limiter already holds it to a
//! request or two. When failures are more than a few percent of the
//! crawl's requests (one overloaded host crawled alone, or our own network
//! giving out), the crawl's limit still backs off, at the end of the window
//! instead of at the first failure; within one host the host's limiter has
//! answered already.
//!
//! # The log
//!
//! Each change is logged at debug level under the target
//! `semcrawl_core::limits`, as structured fields: `limit` (the new limit),
//! `previous`, `reason`, `rtt_ms`, `baseline_ms`, and `host` for a host's
//! limiter (the crawl's changes have none). Tests and scripts read those
//! fields, never a sentence.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_lock::{Semaphore, SemaphoreGuardArc};
use futures::channel::mpsc::UnboundedSender;

use super::messages::{LoadSample, Report};
use crate::adaptive::{Change, Limiter, LimiterConfig, Outcome, Reason, Sample};
use crate::config::Concurrency;
use crate::hosts::{Host, HostId, HostLimit, Hosts};
use crate::robots::Robots;
use crate::stats::Stats;

/// Crawl-wide drop tolerance of adaptive concurrency (see the module docs).
pub const CRAWL_DROP_TOLERANCE: f64 = 0.05;

/// The tracing target of limit changes (stable across file moves, so that
/// `--log-level semcrawl_core::limits=debug` keeps selecting them).
const LOG_TARGET: &str = "semcrawl_core::limits";

/// The crawl-wide limiter's settings: the user's, with a drop tolerance of
/// at least [`CRAWL_DROP_TOLERANCE`].
fn crawl_limiter(c: LimiterConfig) -> LimiterConfig {
    LimiterConfig {
        drop_tolerance: c.drop_tolerance.max(CRAWL_DROP_TOLERANCE),
        ..c
    }
}

/// A host's limiter settings: bounded by `1..=per_host`, starting where the
/// crawl's limit starts (clamped to those bounds), otherwise the crawl's
/// settings as given (no drop tolerance by default).
fn host_limiter(c: LimiterConfig, per_host: usize) -> LimiterConfig {
    let max = per_host.max(1);
    LimiterConfig {
        min: 1,
        max,
        initial: c.initial.clamp(c.min.max(1), c.max.max(1)).clamp(1, max),
        ..c
    }
}

/// The crawl's limits: the count gate's permits, the crawl's limiter and
/// the settings of the hosts' limiters (both `None` with a fixed limit).
pub(crate) struct Limits {
    crawl: Option<Limiter>,
    host_config: Option<LimiterConfig>,
    permits: Arc<Semaphore>,
    max: usize,
    /// Permits held back so that the permits in circulation match the
    /// limiter's limit: retired as they come back, released as it grows.
    retired: Vec<SemaphoreGuardArc>,
}

impl Limits {
    pub fn new(concurrency: Concurrency, per_host: usize) -> Self {
        let max = concurrency.max();
        let (crawl, host_config) = match concurrency {
            Concurrency::Auto(c) => (
                Some(Limiter::new(crawl_limiter(c))),
                Some(host_limiter(c, per_host)),
            ),
            Concurrency::Fixed(_) => (None, None),
        };
        Limits {
            crawl,
            host_config,
            permits: Arc::new(Semaphore::new(max)),
            max,
            retired: Vec::new(),
        }
    }

    /// The count gate: a page's permit is taken from here.
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    /// A page of `host` starts: give the host its limiter if it has none
    /// yet, and say what its page counts its load in.
    pub fn start_page(&self, id: HostId, host: &mut Host) -> HostLoad {
        if let (Some(config), None) = (self.host_config, &host.limit) {
            let limiter = Limiter::new(config);
            host.pace.set_limit(limiter.limit());
            host.limit = Some(HostLimit {
                limiter,
                reduced: false,
                fetching: Arc::new(AtomicUsize::new(0)),
            });
        }
        HostLoad {
            host: id,
            fetching: host.limit.as_ref().map(|l| l.fetching.clone()),
        }
    }

    /// Here is a sample: feed the host's limiter and the crawl's, and make
    /// the permits in circulation follow the crawl's limit.
    pub fn on_sample(&mut self, host: &mut Host, s: LoadSample, stats: &Stats) {
        let sample = Sample {
            now: s.at,
            latency: s.latency,
            in_flight: s.in_flight,
            outcome: if s.dropped {
                Outcome::Dropped
            } else {
                Outcome::Ok
            },
        };
        // The host's limiter was made when its first page started.
        if let Some(limit) = &mut host.limit {
            let host_sample = Sample {
                in_flight: s.host_in_flight,
                ..sample
            };
            if let Some(change) = limit.limiter.on_sample(host_sample) {
                host.pace.set_limit(limit.limiter.limit());
                log_change(Some(&host.origin), &change);
                let decided = matches!(change.reason, Reason::Drop | Reason::LatencyRise);
                if decided && change.to < change.from {
                    limit.reduced = true;
                }
            }
        }
        if let Some(change) = self.crawl.as_mut().and_then(|l| l.on_sample(sample)) {
            log_change(None, &change);
            self.follow(stats);
        }
    }

    /// Make the permits in circulation match the crawl's limit: release
    /// retired permits when it grows; retire free permits when it shrinks
    /// (permits in use are retired later, as they come back, so this is
    /// called at every turn of the coordinator's loop).
    pub fn follow(&mut self, stats: &Stats) {
        let Some(limiter) = &self.crawl else {
            stats.set_limit(self.max as u64);
            return;
        };
        let target = limiter.limit();
        while self.max - self.retired.len() < target {
            self.retired.pop();
        }
        while self.max - self.retired.len() > target {
            match self.permits.try_acquire_arc() {
                Some(p) => self.retired.push(p),
                None => break,
            }
        }
        stats.set_limit((self.max - self.retired.len()) as u64);
    }

    /// Put the limits' story in the summary: the crawl's trajectory, the
    /// hosts whose limit was lowered, and what bound the crawl.
    pub fn report(
        &self,
        hosts: &Hosts,
        stats: &Stats,
        memory_bound: Duration,
        limit_bound: Duration,
    ) {
        let trajectory = self.crawl.as_ref().map(|l| l.trajectory());
        let hosts_limited = self.host_config.map(|_| {
            hosts
                .iter()
                .filter(|h| h.limit.as_ref().is_some_and(|l| l.reduced))
                .count() as u64
        });
        stats.set_limits(trajectory, hosts_limited, memory_bound, limit_bound);
    }
}

fn log_change(host: Option<&str>, change: &Change) {
    let reason = change.reason.to_string();
    let reason = reason.as_str();
    // Tenths of a millisecond: what a reader or a plot can use.
    let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
    let (limit, previous) = (change.to, change.from);
    let (rtt_ms, baseline_ms) = (ms(change.rtt), ms(change.baseline));
    match host {
        Some(host) => tracing::debug!(
            target: LOG_TARGET,
            host,
            limit,
            previous,
            reason,
            rtt_ms,
            baseline_ms,
            "limit changed"
        ),
        None => tracing::debug!(
            target: LOG_TARGET,
            limit,
            previous,
            reason,
            rtt_ms,
            baseline_ms,
            "limit changed"
        ),
    }
}

/// The host a page is fetched from and what its load is counted in.
pub(crate) struct HostLoad {
    pub host: HostId,
    /// Requests to the host being fetched now, shared by its pages
    /// (`None` without a host limiter).
    pub fetching: Option<Arc<AtomicUsize>>,
}

/// A request being fetched, counted crawl-wide and for its host from the
/// moment the byte gate admitted it until it is done (or dropped: a
/// cancelled page must not leave the counts high).
///
/// These counts, not pages in the pipeline, are the limiters' load: a page
/// holding a permit while it waits on the byte gate has sent nothing, and
/// counting it would let a memory-bound crawl look like a server coping
/// with more requests, and the limit grow for nothing.
pub(crate) struct Fetching<'a> {
    stats: &'a Stats,
    host_count: Option<&'a AtomicUsize>,
    /// Requests being fetched crawl-wide when this one started, itself included.
    crawl: usize,
    /// The same, to its host (0 without a host limiter).
    host: usize,
}

impl<'a> Fetching<'a> {
    pub fn start(stats: &'a Stats, load: &'a HostLoad) -> Self {
        let crawl = stats.fetch_started() as usize;
        let host_count = load.fetching.as_deref();
        let host = host_count.map_or(0, |c| c.fetch_add(1, Ordering::Relaxed) + 1);
        Fetching {
            stats,
            host_count,
            crawl,
            host,
        }
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        self.stats.fetch_ended();
        if let Some(c) = self.host_count {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Times one request to its response head, and reports it once.
pub(crate) struct Probe<'a> {
    started: Duration,
    in_flight: usize,
    host_in_flight: usize,
    host: HostId,
    samples: Option<&'a UnboundedSender<Report<HostId, Robots>>>,
    sent: AtomicBool,
}

impl<'a> Probe<'a> {
    /// A request sent at `now` with the load `fetching` counted; samples go
    /// to `samples` (`None` with a fixed limit: nothing is sent).
    pub fn new(
        now: Duration,
        fetching: &Fetching<'_>,
        load: &HostLoad,
        samples: Option<&'a UnboundedSender<Report<HostId, Robots>>>,
    ) -> Self {
        Probe {
            started: now,
            in_flight: fetching.crawl,
            host_in_flight: fetching.host,
            host: load.host,
            samples,
            sent: AtomicBool::new(false),
        }
    }

    /// Report once, at `now`: the head arrived (`dropped`: 429/503) or the
    /// attempt failed (`dropped`: timeout or connect error).
    pub fn report(&self, now: Duration, dropped: bool) {
        let Some(samples) = self.samples else {
            return;
        };
        if self.sent.swap(true, Ordering::Relaxed) {
            return;
        }
        let _ = samples.unbounded_send(Report::Sample {
            host: self.host,
            sample: LoadSample {
                at: now,
                latency: now.saturating_sub(self.started),
                in_flight: self.in_flight,
                host_in_flight: self.host_in_flight,
                dropped,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_limiter_is_bounded_by_per_host_and_starts_with_the_crawl() {
        let c = LimiterConfig {
            min: 2,
            max: 256,
            initial: 16,
            ..LimiterConfig::default()
        };
        let h = host_limiter(c, 4);
        assert_eq!((h.min, h.max, h.initial), (1, 4, 4));
        assert_eq!(host_limiter(c, 64).initial, 16);
        assert!(crawl_limiter(c).drop_tolerance >= CRAWL_DROP_TOLERANCE);
    }

    #[test]
    fn a_host_gets_a_limiter_at_its_first_page_only_when_adaptive() {
        let mut hosts = Hosts::default();
        let id = hosts.intern(&"http://a.test/".parse().unwrap());
        let fixed = Limits::new(Concurrency::Fixed(8), 4);
        assert!(fixed.start_page(id, hosts.get_mut(id)).fetching.is_none());
        assert!(hosts.get(id).limit.is_none());
        let auto = Limits::new("auto".parse().unwrap(), 4);
        let load = auto.start_page(id, hosts.get_mut(id));
        assert!(load.fetching.is_some());
        let limiter = &hosts.get(id).limit.as_ref().unwrap().limiter;
        assert!(limiter.limit() <= 4);
    }
}
