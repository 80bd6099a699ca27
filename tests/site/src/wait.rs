//! Polling with a deadline: the one way a test of this workspace waits for
//! something to happen.
//!
//! A fixed sleep standing in for readiness is either too short on a loaded
//! machine (a flaky test) or too long everywhere else (a slow one). Polling
//! returns as soon as the condition holds, and the deadline turns a hang into
//! a failure that names what never happened.

use std::time::{Duration, Instant};

/// Poll `cond` until it returns `Some`, and return that value; panic naming
/// `what` once `timeout` has passed. Between checks it backs off from 1 ms to
/// 50 ms.
///
/// A condition with nothing to return is written `(...).then_some(())`.
///
/// ```
/// use std::time::Duration;
/// use semcrawl_site::wait_for;
///
/// let mut calls = 0;
/// let n = wait_for("the third call", Duration::from_secs(5), || {
///     calls += 1;
///     (calls == 3).then_some(calls)
/// });
/// assert_eq!(n, 3);
/// ```
///
/// # Panics
///
/// If `cond` still returns `None` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
