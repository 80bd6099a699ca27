//! When to try a failed request again, and after how long.
//!
//! Transient failures — a refused or reset connection, a timeout, `429 Too
//! Many Requests`, a 5xx — often pass. The policy retries them with
//! exponential backoff (base x 2^attempt, capped, with a deterministic
//! jitter so that pages failing together do not retry together), and honours
//! the server's `Retry-After` when it gives one (capped too: a crawl should
//! not sleep for an hour because a server asked it to). Everything else — a
//! 404, a body too large, a protocol error — is final.
//!
//! The policy is pure: it is fed the failure and returns a decision; the
//! pipeline does the sleeping.
//!
//! ```
//! use std::time::Duration;
//! use semcrawl_core::retry::{Failure, RetryPolicy};
//! let policy = RetryPolicy::new(2);
//! let first = policy.backoff(0, &Failure::Status(503), None, "http://a/").unwrap();
//! assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
//! assert_eq!(policy.backoff(2, &Failure::Status(503), None, "http://a/"), None); // out of retries
//! assert_eq!(policy.backoff(0, &Failure::Status(404), None, "http://a/"), None); // not transient
//! ```

use std::time::Duration;

use crate::runtime::FetchError;

/// A failure the policy may retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No response (connect error, timeout, ...).
    Fetch(FetchError),
    /// An HTTP status.
    Status(u16),
}

impl Failure {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Fetch(e) => e.is_transient(),
            Failure::Status(s) => *s == 408 || *s == 429 || (500..600).contains(s) && *s != 501,
        }
    }
}

/// Retry budget and backoff shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Backoff before the first retry (halved to doubled by jitter... see [`RetryPolicy::backoff`]).
    pub base: Duration,
    /// Longest wait between two attempts, `Retry-After` included.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// `max_retries` retries, starting at 500 ms, waits capped at 30 s.
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }

    /// How long to wait before retry number `attempt + 1` (0-based `attempt`
    /// counts retries already made), or `None` to give up.
    ///
    /// `retry_after` is the server's `Retry-After` header, already turned
    /// into a duration with [`parse_retry_after`]. `key` (the URL) seeds the
    /// jitter, which lies in `[backoff/2, backoff]`.
    pub fn backoff(
        &self,
        attempt: u32,
        failure: &Failure,
        retry_after: Option<Duration>,
        key: &str,
    ) -> Option<Duration> {
        if attempt >= self.max_retries || !failure.is_transient() {
            return None;
        }
        if let Some(wait) = retry_after {
            return Some(wait.min(self.max_wait));
        }
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_wait);
        // Deterministic jitter in [exp/2, exp]: FNV-1a of key and attempt.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes().chain(attempt.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let frac = (h % 1000) as f64 / 1000.0;
        Some(exp.mul_f64(0.5 + 0.5 * frac))
    }
}

/// Parse a `Retry-After` value: delay-seconds, or an HTTP date (the
/// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete RFC 850 and
/// asctime forms servers still send) compared with `now_unix_ms`. Dates are
/// read by the `httpdate` crate, which checks every field.
///
/// ```
/// use std::time::Duration;
/// use semcrawl_core::retry::parse_retry_after;
/// assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
/// // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", 784_111_777_000), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", 0), None);
/// ```
pub fn parse_retry_after(value: &str, now_unix_ms: u64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(Duration::from_millis(
        u64::try_from(at.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_sub(now_unix_ms),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_kinds() {
        assert!(Failure::Status(429).is_transient());
        assert!(Failure::Status(503).is_transient());
        assert!(!Failure::Status(501).is_transient());
        assert!(!Failure::Status(404).is_transient());
        assert!(Failure::Fetch(FetchError::Timeout).is_transient());
        assert!(Failure::Fetch(FetchError::Connect("refused".into())).is_transient());
        assert!(!Failure::Fetch(FetchError::Protocol("bad".into())).is_transient());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(20);
        let f = Failure::Status(500);
        let mut last_max = Duration::ZERO;
        for attempt in 0..20 {
            let d = p.backoff(attempt, &f, None, "k").unwrap();
            let exp = p.base.saturating_mul(1 << attempt.min(16)).min(p.max_wait);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?}");
            assert!(d <= p.max_wait);
            last_max = last_max.max(d);
        }
        assert!(last_max >= p.max_wait / 2);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::new(3);
        let f = Failure::Status(429);
        assert_eq!(
            p.backoff(0, &f, Some(Duration::from_secs(2)), "k"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.backoff(0, &f, Some(Duration::from_secs(3600)), "k"),
            Some(p.max_wait)
        );
    }

    #[test]
    fn http_dates() {
        let at = |v| parse_retry_after(v, 784_111_777_000);
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(
            at("Sun, 06 Nov 1994 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        // The obsolete forms a server may still send.
        assert_eq!(
            at("Sunday, 06-Nov-94 08:50:37 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            at("Sun Nov  6 08:50:37 1994"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(at("Sun, 06 Nov 1994 08:49 GMT"), None);
        assert_eq!(at("Sun, 31 Feb 1994 08:49:37 GMT"), None);
        // A date in the past means: now.
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 5_000),
            Some(Duration::ZERO)
        );
    }
}
