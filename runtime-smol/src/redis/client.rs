//! One connection to Redis that outlives the server's restarts.
//!
//! A shared crawl must not stop because Redis went away for a few seconds
//! (a restart, a failover, a network blip): [`Client::call`] retries a
//! failed command on a fresh connection with exponential backoff, logs the
//! outage once and its end once, and gives up only after
//! [`RETRY_FOR`]. Every command it sends is one round trip, counted, so a
//! crawl can report what the shared state cost it.
//!
//! Retrying is safe because every write the frontier makes is idempotent or
//! self-healing: a push that did reach the server finds its URLs seen the
//! second time (duplicates, nothing lost); an acknowledgement repeated finds
//! no lease; a pop whose reply was lost leaves leases that nobody renews,
//! which expire and are queued again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisError, RedisResult};

/// How long a command is retried while Redis cannot be reached, before the
/// crawl is stopped with an error.
pub const RETRY_FOR: Duration = Duration::from_secs(300);

/// How long connecting (and each read or write) may take before it counts
/// as a failure.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A Redis address, as given: `redis://HOST:PORT[/DB]`.
#[derive(Debug, Clone)]
pub struct Address {
    url: String,
    client: redis::Client,
}

impl Address {
    /// Parse `redis://HOST:PORT[/DB]` (any URL redis-rs accepts).
    ///
    /// ```
    /// use semcrawl_smol::redis::Address;
    /// assert!(Address::parse("redis://127.0.0.1:6379/2").is_ok());
    /// assert!(Address::parse("http://127.0.0.1/").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Address, String> {
        if !url.starts_with("redis://") {
            return Err(format!("not a redis:// address: {url}"));
        }
        let client =
            redis::Client::open(url).map_err(|e| format!("bad Redis address {url}: {e}"))?;
        Ok(Address {
            url: url.to_owned(),
            client,
        })
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    fn connect(&self) -> RedisResult<redis::Connection> {
        let conn = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(conn)
    }
}

/// A connection that reconnects, with a shared count of round trips.
pub struct Client {
    address: Address,
    conn: Option<redis::Connection>,
    trips: Arc<AtomicU64>,
}

/// Whether `e` means the server (or the way to it) is gone, rather than a
/// command it refused.
fn is_outage(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain
        )
}

impl Client {
    /// Connect now, once, and check that the server answers: a worker
    /// started against an address where no Redis listens fails at once.
    pub fn connect(address: &Address, trips: Arc<AtomicU64>) -> Result<Client, String> {
        let mut conn = address
            .connect()
            .map_err(|e| format!("cannot reach Redis at {}: {e}", address.as_str()))?;
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map_err(|e| format!("cannot reach Redis at {}: {e}", address.as_str()))?;
        trips.fetch_add(1, Ordering::Relaxed);
        Ok(Client {
            address: address.clone(),
            conn: Some(conn),
            trips,
        })
    }

    /// Run `f` (one command or script) until it gets an answer, reconnecting
    /// with backoff while the server is unreachable (see the module docs),
    /// for at most `retry_for`.
    pub fn call_for<T>(
        &mut self,
        retry_for: Duration,
        mut f: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut outage = false;
        loop {
            let attempt = match self.conn.as_mut() {
                Some(conn) => {
                    self.trips.fetch_add(1, Ordering::Relaxed);
                    f(conn)
                }
                None => match self.address.connect() {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match attempt {
                Ok(v) => {
                    if outage {
                        tracing::warn!(address = self.address.as_str(), "Redis is back");
                    }
                    return Ok(v);
                }
                Err(e) if is_outage(&e) && start.elapsed() < retry_for => {
                    if !outage {
                        tracing::warn!(
                            address = self.address.as_str(),
                            error = %e,
                            "Redis unreachable: retrying with backoff"
                        );
                        outage = true;
                    }
                    self.conn = None;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`call_for`](Client::call_for) for [`RETRY_FOR`].
    pub fn call<T>(
        &mut self,
        f: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> RedisResult<T> {
        self.call_for(RETRY_FOR, f)
    }
}
