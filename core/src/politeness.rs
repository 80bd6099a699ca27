//! Per-host politeness: how many requests a host may have in flight, and how
//! long to wait between two requests to it.
//!
//! A crawler that is fast for itself can be a denial of service for a small
//! site. Each host has a [`Pace`] (its requests in flight, the earliest time
//! the next one may start, its `Crawl-delay` and adaptive limit), kept in the
//! crawl's table of hosts next to the host's robots.txt and limiter;
//! [`Politeness`] holds the crawl-wide rules (`--per-host`, `--delay`) and
//! answers, for one host's pace, whether a request may start. Both are pure
//! data: time is passed in (as a [`Duration`] since the runtime's origin), so
//! they are tested without a clock and without a table of hosts.
//!
//! With adaptive concurrency each host also has a limit of its own (see
//! `crawl/limits.rs`), set with [`Pace::set_limit`]: a host is then ready
//! while its requests in flight are below both the per-host maximum and
//! that limit.
//!
//! ```
//! use std::time::Duration;
//! use semcrawl_core::politeness::{Pace, Politeness};
//! let p = Politeness::new(1, Duration::from_millis(100));
//! let mut a = Pace::default();
//! let t0 = Duration::ZERO;
//! assert!(p.ready(&a, t0));
//! p.start(&mut a, t0);
//! assert!(!p.ready(&a, t0)); // one in flight
//! p.finish(&mut a, Duration::from_millis(10));
//! assert!(!p.ready(&a, Duration::from_millis(50))); // delay not over
//! assert!(p.ready(&a, Duration::from_millis(110)));
//! ```

use std::time::Duration;

/// One host's schedule: a few dozen bytes, kept for the whole crawl.
#[derive(Debug, Default, Clone)]
pub struct Pace {
    in_flight: usize,
    next_at: Duration,
    delay: Option<Duration>,
    /// An adaptive limit below `per_host`.
    limit: Option<usize>,
}

impl Pace {
    /// Override the delay for this host (robots.txt `Crawl-delay`); the
    /// larger of it and the crawl's delay wins.
    pub fn set_delay(&mut self, delay: Duration) {
        self.delay = Some(delay);
    }

    /// Cap the requests in flight to this host at `limit` (at least 1),
    /// below the crawl's `per_host`, which still applies: the host is ready
    /// while its requests in flight are below the smaller of the two.
    /// Setting it again replaces the previous value, up or down.
    ///
    /// ```
    /// use std::time::Duration;
    /// use semcrawl_core::politeness::{Pace, Politeness};
    /// let p = Politeness::new(8, Duration::ZERO);
    /// let (mut a, b) = (Pace::default(), Pace::default());
    /// a.set_limit(1);
    /// p.start(&mut a, Duration::ZERO);
    /// assert!(!p.ready(&a, Duration::ZERO));
    /// assert!(p.ready(&b, Duration::ZERO));
    /// assert_eq!(p.limit(&a), 1);
    /// ```
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = Some(limit.max(1));
    }

    /// Requests in flight to this host.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The host's own delay (robots.txt `Crawl-delay`), if it set one.
    pub fn crawl_delay(&self) -> Option<Duration> {
        self.delay
    }
}

/// The crawl-wide politeness rules.
#[derive(Debug, Clone)]
pub struct Politeness {
    per_host: usize,
    delay: Duration,
}

impl Politeness {
    /// At most `per_host` requests in flight per host, and `delay` between
    /// the end of one request and the start of the next one to that host
    /// (with a delay, requests to one host are also serialized).
    pub fn new(per_host: usize, delay: Duration) -> Self {
        Politeness {
            per_host: per_host.max(1),
            delay,
        }
    }

    fn delay_of(&self, h: &Pace) -> Duration {
        h.delay.map_or(self.delay, |d| d.max(self.delay))
    }

    /// The pause between two requests to the host: the larger of the
    /// crawl's delay and the host's `Crawl-delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use semcrawl_core::politeness::{Pace, Politeness};
    /// let p = Politeness::new(4, Duration::from_millis(250));
    /// let mut a = Pace::default();
    /// assert_eq!(p.delay(&a), Duration::from_millis(250));
    /// a.set_delay(Duration::from_secs(2));
    /// assert_eq!(p.delay(&a), Duration::from_secs(2));
    /// ```
    pub fn delay(&self, h: &Pace) -> Duration {
        self.delay_of(h)
    }

    /// How many requests to the host may be in flight at once: `per_host`,
    /// lowered by [`Pace::set_limit`], or 1 with a delay.
    pub fn limit(&self, h: &Pace) -> usize {
        if self.delay_of(h).is_zero() {
            h.limit.map_or(self.per_host, |l| l.min(self.per_host))
        } else {
            1
        }
    }

    /// Whether a request to the host may start at `now`.
    pub fn ready(&self, h: &Pace, now: Duration) -> bool {
        h.in_flight < self.limit(h) && now >= h.next_at
    }

    /// When the host will be ready if only time stands in the way; `None`
    /// if it waits for a request to finish (or is ready now).
    pub fn ready_at(&self, h: &Pace, now: Duration) -> Option<Duration> {
        (h.in_flight < self.limit(h) && now < h.next_at).then_some(h.next_at)
    }

    /// A request to the host starts at `now`.
    pub fn start(&self, h: &mut Pace, now: Duration) {
        h.in_flight += 1;
        h.next_at = h.next_at.max(now);
    }

    /// A request started with [`start`](Self::start) is not made after
    /// all (robots.txt disallowed it): as if it had never started.
    pub fn cancel(&self, h: &mut Pace) {
        h.in_flight = h.in_flight.saturating_sub(1);
    }

    /// A request to the host ended at `now`.
    pub fn finish(&self, h: &mut Pace, now: Duration) {
        h.in_flight = h.in_flight.saturating_sub(1);
        h.next_at = now + self.delay_of(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn per_host_limit_without_delay() {
        let p = Politeness::new(2, Duration::ZERO);
        let (mut a, b) = (Pace::default(), Pace::default());
        p.start(&mut a, MS);
        p.start(&mut a, MS);
        assert!(!p.ready(&a, MS));
        assert!(p.ready(&b, MS), "hosts are independent");
        p.finish(&mut a, 2 * MS);
        assert!(p.ready(&a, 2 * MS));
        assert_eq!(a.in_flight(), 1);
        assert_eq!(p.ready_at(&a, 2 * MS), None);
    }

    #[test]
    fn delay_serializes_and_spaces_requests() {
        let p = Politeness::new(8, 100 * MS);
        let mut a = Pace::default();
        p.start(&mut a, Duration::ZERO);
        assert!(!p.ready(&a, Duration::ZERO), "with a delay, one at a time");
        p.finish(&mut a, 20 * MS);
        assert_eq!(p.ready_at(&a, 30 * MS), Some(120 * MS));
        assert!(!p.ready(&a, 119 * MS));
        assert!(p.ready(&a, 120 * MS));
    }

    #[test]
    fn crawl_delay_only_raises_the_delay() {
        let p = Politeness::new(4, 100 * MS);
        let (mut a, mut b) = (Pace::default(), Pace::default());
        a.set_delay(10 * MS);
        b.set_delay(500 * MS);
        p.start(&mut a, Duration::ZERO);
        p.finish(&mut a, Duration::ZERO);
        p.start(&mut b, Duration::ZERO);
        p.finish(&mut b, Duration::ZERO);
        assert!(p.ready(&a, 100 * MS));
        assert!(!p.ready(&b, 100 * MS));
        assert!(p.ready(&b, 500 * MS));
    }

    #[test]
    fn a_host_limit_lowers_per_host_for_that_host_only() {
        let p = Politeness::new(4, Duration::ZERO);
        let (mut a, mut b) = (Pace::default(), Pace::default());
        a.set_limit(2);
        for _ in 0..2 {
            assert!(p.ready(&a, MS));
            p.start(&mut a, MS);
            p.start(&mut b, MS);
        }
        assert!(!p.ready(&a, MS), "a is at its limit of 2");
        assert!(p.ready(&b, MS), "b keeps per_host = 4");
        assert_eq!((p.limit(&a), p.limit(&b)), (2, 4));
        assert_eq!(p.ready_at(&a, MS), None, "a waits for a request to end");
        p.finish(&mut a, 2 * MS);
        assert!(p.ready(&a, 2 * MS));
    }

    #[test]
    fn a_host_limit_moves_both_ways_but_never_above_per_host_nor_below_one() {
        let p = Politeness::new(3, Duration::ZERO);
        let mut a = Pace::default();
        p.start(&mut a, MS);
        p.start(&mut a, MS);
        a.set_limit(1);
        assert!(!p.ready(&a, MS), "lowered below the requests in flight");
        a.set_limit(3);
        assert!(p.ready(&a, MS), "raised again");
        a.set_limit(100);
        assert_eq!(p.limit(&a), 3, "per_host still caps it");
        p.start(&mut a, MS);
        assert!(!p.ready(&a, MS));
        a.set_limit(0);
        assert_eq!(p.limit(&a), 1, "at least one request");
        for _ in 0..3 {
            p.finish(&mut a, 2 * MS);
        }
        assert!(p.ready(&a, 2 * MS));
    }

    #[test]
    fn a_delay_still_serializes_a_host_with_a_limit() {
        let p = Politeness::new(8, 100 * MS);
        let mut a = Pace::default();
        a.set_limit(4);
        assert_eq!(p.limit(&a), 1);
        p.start(&mut a, Duration::ZERO);
        assert!(!p.ready(&a, Duration::ZERO));
    }
}
