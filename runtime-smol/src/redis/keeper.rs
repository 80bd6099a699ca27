//! The keeper thread: on a connection of its own, it renews this worker's
//! leases and robots.txt claims, publishes its figures for `status`, and
//! requeues the expired leases of dead workers, every fifth of the lease
//! time, so that a worker busy parsing never loses its pages.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::client::Client;
use super::frontier::{lock, Shared};
use super::options::WorkerFigures;

/// Renew this worker's leases, say it is alive (with its figures), and
/// requeue expired leases of dead workers; for at most `retry_for` while
/// Redis is unreachable. Returns the number of leases already gone.
pub(super) fn heartbeat(
    shared: &Shared,
    client: &mut Client,
    retry_for: Duration,
) -> redis::RedisResult<u64> {
    let ids: Vec<u64> = lock(&shared.held).iter().copied().collect();
    let mut claims = String::new();
    for origin in lock(&shared.claims).iter() {
        claims.push_str(origin);
        claims.push('\n');
    }
    let figures = lock(&shared.reporter)
        .as_ref()
        .map_or_else(WorkerFigures::default, |f| f());
    let info = format!("{} {}", figures.pages, figures.errors);
    let ttl = shared.options.lease.as_millis() as u64;
    client.call_for(retry_for, |c| {
        shared
            .scripts
            .renew
            .arg(&shared.prefix)
            .arg(ttl)
            .arg(&shared.options.worker)
            .arg(&info)
            .arg(&claims)
            .arg(&ids)
            .invoke::<u64>(c)
    })
}

/// The keeper thread: a heartbeat at once and then every fifth of the
/// lease time. Ends when the frontier is dropped.
pub(super) fn keep(shared: Arc<Shared>, mut client: Client, stopped: mpsc::Receiver<()>) {
    let every = shared.options.lease / 5;
    let mut first = true;
    loop {
        if !first {
            match stopped.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
        first = false;
        match heartbeat(&shared, &mut client, super::RETRY_FOR) {
            Ok(0) => {}
            Ok(lost) => tracing::warn!(
                lost,
                "leases expired before renewal (Redis or this worker stalled): their pages may be fetched twice"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot renew leases"),
        }
    }
}
