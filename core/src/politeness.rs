//! Per-host politeness: how many requests a host may have in flight, and how
//! long to wait between two requests to it.
//!
//! A crawler that is fast for itself can be a denial of service for a small
//! site. [`Politeness`] keeps, for each host, the requests in flight and the
//! earliest time the next one may start; the scheduler asks it whether a
//! host is ready and tells it when requests start and end. It is pure data:
//! time is passed in (as a [`Duration`] since the runtime's origin), so it is
//! tested without a clock.
//!
//! With `--concurrency auto`, each host also has an adaptive limit (one
//! [`Limiter`](crate::limiter::Limiter) per host, kept by the pipeline),
//! which the pipeline passes on with [`Politeness::set_host_limit`]: a host
//! is then ready while its requests in flight are below both `--per-host`
//! and that limit.
//!
//! State is kept for every host seen, for the whole crawl (a few dozen
//! bytes and the host's name each), as the robots.txt cache does.
//!
//! ```
//! use std::time::Duration;
//! use semcrawl_core::politeness::Politeness;
//! let mut p = Politeness::new(1, Duration::from_millis(100));
//! let t0 = Duration::ZERO;
//! assert!(p.ready("a.test", t0));
//! p.start("a.test", t0);
//! assert!(!p.ready("a.test", t0)); // one in flight
//! p.finish("a.test", Duration::from_millis(10));
//! assert!(!p.ready("a.test", Duration::from_millis(50))); // delay not over
//! assert!(p.ready("a.test", Duration::from_millis(110)));
//! ```

use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Default, Clone)]
struct Host {
    in_flight: usize,
    next_at: Duration,
    delay: Option<Duration>,
    /// An adaptive limit below `per_host` (`--concurrency auto`).
    limit: Option<usize>,
}

/// Per-host limits and schedule.
#[derive(Debug, Clone)]
pub struct Politeness {
    per_host: usize,
    delay: Duration,
    hosts: HashMap<String, Host>,
}

impl Politeness {
    /// At most `per_host` requests in flight per host, and `delay` between
    /// the end of one request and the start of the next one to that host
    /// (with a delay, requests to one host are also serialized).
    pub fn new(per_host: usize, delay: Duration) -> Self {
        Politeness {
            per_host: per_host.max(1),
            delay,
            hosts: HashMap::new(),
        }
    }

    /// Override the delay for one host (robots.txt `Crawl-delay`); the larger
    /// of the two wins.
    pub fn set_host_delay(&mut self, host: &str, delay: Duration) {
        self.hosts.entry(host.to_owned()).or_default().delay = Some(delay);
    }

    fn delay_of(&self, h: &Host) -> Duration {
        h.delay.map_or(self.delay, |d| d.max(self.delay))
    }

    /// Cap the requests in flight to one host at `limit` (at least 1), below
    /// the `per_host` given to [`Politeness::new`], which still applies: the
    /// host is ready while its requests in flight are below the smaller of
    /// the two. Setting it again replaces the previous value, up or down.
    ///
    /// ```
    /// use std::time::Duration;
    /// use semcrawl_core::politeness::Politeness;
    /// let mut p = Politeness::new(8, Duration::ZERO);
    /// p.set_host_limit("a.test", 1);
    /// p.start("a.test", Duration::ZERO);
    /// assert!(!p.ready("a.test", Duration::ZERO));
    /// assert!(p.ready("b.test", Duration::ZERO));
    /// assert_eq!(p.limit("a.test"), 1);
    /// ```
    pub fn set_host_limit(&mut self, host: &str, limit: usize) {
        self.hosts.entry(host.to_owned()).or_default().limit = Some(limit.max(1));
    }

    fn limit_of(&self, h: &Host) -> usize {
        if self.delay_of(h).is_zero() {
            h.limit.map_or(self.per_host, |l| l.min(self.per_host))
        } else {
            1
        }
    }

    /// How many requests to `host` may be in flight at once: `per_host`,
    /// lowered by [`Politeness::set_host_limit`], or 1 with a delay.
    pub fn limit(&self, host: &str) -> usize {
        match self.hosts.get(host) {
            Some(h) => self.limit_of(h),
            None if self.delay.is_zero() => self.per_host,
            None => 1,
        }
    }

    /// Whether a request to `host` may start at `now`.
    pub fn ready(&self, host: &str, now: Duration) -> bool {
        match self.hosts.get(host) {
            None => true,
            Some(h) => h.in_flight < self.limit_of(h) && now >= h.next_at,
        }
    }

    /// When `host` will be ready if only time stands in the way; `None` if it
    /// waits for a request to finish (or is ready now).
    pub fn ready_at(&self, host: &str, now: Duration) -> Option<Duration> {
        let h = self.hosts.get(host)?;
        (h.in_flight < self.limit_of(h) && now < h.next_at).then_some(h.next_at)
    }

    /// A request to `host` starts at `now`.
    pub fn start(&mut self, host: &str, now: Duration) {
        let h = self.hosts.entry(host.to_owned()).or_default();
        h.in_flight += 1;
        h.next_at = h.next_at.max(now);
    }

    /// A request to `host` ended at `now`.
    pub fn finish(&mut self, host: &str, now: Duration) {
        let delay = self
            .hosts
            .get(host)
            .map(|h| self.delay_of(h))
            .unwrap_or(self.delay);
        if let Some(h) = self.hosts.get_mut(host) {
            h.in_flight = h.in_flight.saturating_sub(1);
            h.next_at = now + delay;
        }
    }

    /// Requests in flight to `host`.
    pub fn in_flight(&self, host: &str) -> usize {
        self.hosts.get(host).map_or(0, |h| h.in_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn per_host_limit_without_delay() {
        let mut p = Politeness::new(2, Duration::ZERO);
        p.start("a", MS);
        p.start("a", MS);
        assert!(!p.ready("a", MS));
        assert!(p.ready("b", MS), "hosts are independent");
        p.finish("a", 2 * MS);
        assert!(p.ready("a", 2 * MS));
        assert_eq!(p.in_flight("a"), 1);
        assert_eq!(p.ready_at("a", 2 * MS), None);
    }

    #[test]
    fn delay_serializes_and_spaces_requests() {
        let mut p = Politeness::new(8, 100 * MS);
        p.start("a", Duration::ZERO);
        assert!(!p.ready("a", Duration::ZERO), "with a delay, one at a time");
        p.finish("a", 20 * MS);
        assert_eq!(p.ready_at("a", 30 * MS), Some(120 * MS));
        assert!(!p.ready("a", 119 * MS));
        assert!(p.ready("a", 120 * MS));
    }

    #[test]
    fn crawl_delay_only_raises_the_delay() {
        let mut p = Politeness::new(4, 100 * MS);
        p.set_host_delay("a", 10 * MS);
        p.set_host_delay("b", 500 * MS);
        p.start("a", Duration::ZERO);
        p.finish("a", Duration::ZERO);
        p.start("b", Duration::ZERO);
        p.finish("b", Duration::ZERO);
        assert!(p.ready("a", 100 * MS));
        assert!(!p.ready("b", 100 * MS));
        assert!(p.ready("b", 500 * MS));
    }

    #[test]
    fn a_host_limit_lowers_per_host_for_that_host_only() {
        let mut p = Politeness::new(4, Duration::ZERO);
        p.set_host_limit("a", 2);
        for _ in 0..2 {
            assert!(p.ready("a", MS));
            p.start("a", MS);
            p.start("b", MS);
        }
        assert!(!p.ready("a", MS), "a is at its limit of 2");
        assert!(p.ready("b", MS), "b keeps per_host = 4");
        assert_eq!((p.limit("a"), p.limit("b")), (2, 4));
        assert_eq!(p.ready_at("a", MS), None, "a waits for a request to end");
        p.finish("a", 2 * MS);
        assert!(p.ready("a", 2 * MS));
    }

    #[test]
    fn a_host_limit_moves_both_ways_but_never_above_per_host_nor_below_one() {
        let mut p = Politeness::new(3, Duration::ZERO);
        p.start("a", MS);
        p.start("a", MS);
        p.set_host_limit("a", 1);
        assert!(!p.ready("a", MS), "lowered below the requests in flight");
        p.set_host_limit("a", 3);
        assert!(p.ready("a", MS), "raised again");
        p.set_host_limit("a", 100);
        assert_eq!(p.limit("a"), 3, "per_host still caps it");
        p.start("a", MS);
        assert!(!p.ready("a", MS));
        p.set_host_limit("a", 0);
        assert_eq!(p.limit("a"), 1, "at least one request");
        for _ in 0..3 {
            p.finish("a", 2 * MS);
        }
        assert!(p.ready("a", 2 * MS));
    }

    #[test]
    fn a_delay_still_serializes_a_host_with_a_limit() {
        let mut p = Politeness::new(8, 100 * MS);
        p.set_host_limit("a", 4);
        assert_eq!(p.limit("a"), 1);
        p.start("a", Duration::ZERO);
        assert!(!p.ready("a", Duration::ZERO));
    }
}
