//! [`RedisFrontier`]: the core's `Frontier` seam over the shared state.
//!
//! Every call is one Lua script (see `scripts.rs`), run on smol's blocking
//! pool over a reconnecting connection (see `client.rs`). What stays in the
//! worker is small and bounded: the ids of its leases (renewed by a keeper
//! thread with a connection of its own) and, for a moment, one batch.
//!
//! A popped entry is leased, not removed: it stays the worker's until the
//! crawl acknowledges it with `done`, after the store has made its record
//! durable. A worker that dies stops renewing; its leases expire after the
//! lease time and the next worker to pop (or renew) requeues them. The
//! lease on an entry is also its host's slot: a host has at most
//! `--per-host` leases crawl-wide, so at most that many requests at once
//! whichever workers make them, and a slot comes free when its lease is
//! acknowledged or expires with its holder.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use semcrawl_core::frontier::{
    self, Entry, Frontier, FrontierError, KeptRobots, Pushed, Ready, MAX_URL_LEN,
};
use semcrawl_core::robots::Robots;
use semcrawl_core::BoxFuture;

use super::client::{Address, Client};
use super::codec::{decode, decode_robots, encode, encode_robots};
use super::keeper::{heartbeat, keep};
use super::options::prefix;
pub use super::options::{Joined, RedisOptions, WorkerFigures, DEFAULT_LEASE};
use super::scripts::Scripts;
use super::RedisError;
use crate::state::{fingerprint, CrawlIdentity, SINK_KEY};

/// How often a worker whose pop found nothing asks again (others push
/// links and free hosts' slots; dead workers' leases come back).
const POLL: Duration = Duration::from_millis(50);

/// A worker that found a host's slots all taken has the next free slot of
/// that host kept for it this long (see `scripts.rs`): three of its polls.
const FAIR_WAIT: Duration = Duration::from_millis(150);

/// An origin this worker's crawl refused (its robots.txt is being read) is
/// left out of pops for this long, so its entries are not leased and given
/// back over and over.
const SKIP_FOR: Duration = Duration::from_millis(100);

type Reporter = Box<dyn Fn() -> WorkerFigures + Send>;

/// What the frontier and its keeper share.
pub(super) struct Shared {
    pub(super) scripts: Scripts,
    pub(super) prefix: String,
    pub(super) options: RedisOptions,
    /// Ids of the leases this worker holds (popped, not acknowledged).
    pub(super) held: Mutex<HashSet<u64>>,
    /// Origins whose robots.txt this worker claimed and is fetching.
    pub(super) claims: Mutex<HashSet<String>>,
    pub(super) reporter: Mutex<Option<Reporter>>,
}

/// A [`Frontier`] in Redis, shared by every worker of a crawl (see the
/// [module docs](super)).
pub struct RedisFrontier {
    shared: Arc<Shared>,
    client: Arc<Mutex<Client>>,
    trips: Arc<AtomicU64>,
    /// Crawl-wide, as of the last round trip.
    queued: u64,
    leased: u64,
    /// Entries handed out crawl-wide and not given back (for `--max-pages`).
    started: u64,
    /// URLs this worker queued (new to the crawl).
    seen: u64,
    /// Origins the crawl refused lately, and when.
    skip: HashMap<String, Instant>,
    /// Dropped to stop the keeper thread.
    _keeper: mpsc::Sender<()>,
}

fn failed(e: redis::RedisError) -> FrontierError {
    FrontierError(format!("Redis: {e}"))
}

impl RedisFrontier {
    /// Connect to `address`, claim or join the crawl `options.name` for
    /// `identity`, and start the keeper thread that renews this worker's
    /// leases. Each worker writes its own output, so the identity compared
    /// leaves the output out.
    pub fn open(
        address: &Address,
        options: RedisOptions,
        identity: &CrawlIdentity,
    ) -> Result<(RedisFrontier, Joined), RedisError> {
        let trips = Arc::new(AtomicU64::new(0));
        let mut client =
            Client::connect(address, trips.clone()).map_err(RedisError::Unreachable)?;
        let scripts = Scripts::new();
        let prefix = prefix(&options.name);
        let ours = shared_identity(identity);
        let json = serde_json::to_string(&ours).map_err(|e| RedisError::Failed(e.to_string()))?;
        let (claimed, theirs): (i64, String) = client
            .call(|c| scripts.identity.arg(&prefix).arg(&json).invoke(c))
            .map_err(|e| RedisError::Failed(e.to_string()))?;
        let joined = if claimed == 1 {
            Joined::Started
        } else {
            let was: CrawlIdentity = serde_json::from_str(&theirs).map_err(|e| {
                RedisError::Refused(format!(
                    "the crawl '{}' in Redis has an unreadable identity: {e}",
                    options.name
                ))
            })?;
            if let Some(what) = was.difference(&ours) {
                return Err(RedisError::Refused(format!(
                    "Redis holds another crawl under the name '{}' ({what}); pick another --name",
                    options.name
                )));
            }
            Joined::Joined
        };
        let keeper_client =
            Client::connect(address, trips.clone()).map_err(RedisError::Unreachable)?;
        let shared = Arc::new(Shared {
            scripts,
            prefix,
            options,
            held: Mutex::new(HashSet::new()),
            claims: Mutex::new(HashSet::new()),
            reporter: Mutex::new(None),
        });
        let (stop, stopped) = mpsc::channel();
        let keeper = shared.clone();
        std::thread::Builder::new()
            .name("semcrawl-redis-leases".into())
            .spawn(move || keep(keeper, keeper_client, stopped))
            .map_err(|e| RedisError::Failed(format!("cannot start the lease thread: {e}")))?;
        let mut frontier = RedisFrontier {
            shared,
            client: Arc::new(Mutex::new(client)),
            trips,
            queued: 0,
            leased: 0,
            started: 0,
            seen: 0,
            skip: HashMap::new(),
            _keeper: stop,
        };
        if let Some(limit) = frontier.shared.options.max_pages {
            // For `status`: the limit of the last worker started with one.
            let key = format!("{}count", frontier.shared.prefix);
            frontier
                .lock()
                .call(|c| {
                    redis::cmd("HSET")
                        .arg(&key)
                        .arg("limit")
                        .arg(limit)
                        .query::<()>(c)
                })
                .map_err(|e| RedisError::Failed(e.to_string()))?;
        }
        // Learn the crawl-wide counts before the crawl asks `is_empty`.
        let counts: Vec<u64> = frontier
            .lock()
            .call(|c| {
                frontier
                    .shared
                    .scripts
                    .release
                    .arg(&frontier.shared.prefix)
                    .arg(0)
                    .invoke(c)
            })
            .map_err(|e| RedisError::Failed(e.to_string()))?;
        frontier.set_counts(&counts);
        Ok((frontier, joined))
    }

    /// The count of round trips to Redis this worker made, shared: read it
    /// after the crawl for the summary.
    pub fn round_trips(&self) -> Arc<AtomicU64> {
        self.trips.clone()
    }

    /// Publish `figures()` with every lease renewal, for `status`.
    pub fn report_with(&self, figures: impl Fn() -> WorkerFigures + Send + 'static) {
        *lock(&self.shared.reporter) = Some(Box::new(figures));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Client> {
        lock(&self.client)
    }

    fn set_counts(&mut self, counts: &[u64]) {
        if let [queued, leased, started, ..] = counts {
            self.queued = *queued;
            self.leased = *leased;
            self.started = *started;
        }
    }

    /// Whether the crawl-wide count of pages reached this worker's
    /// `--max-pages`: nothing more is handed out to it.
    fn limit_reached(&self) -> bool {
        (self.shared.options.max_pages).is_some_and(|m| self.started >= m)
    }

    /// Acknowledge leases, `skipped` or done (see the `ACK` script).
    async fn ack(&mut self, ids: Vec<u64>, skipped: bool) -> Result<(), FrontierError> {
        if ids.is_empty() {
            return Ok(());
        }
        {
            let mut held = lock(&self.shared.held);
            for id in &ids {
                held.remove(id);
            }
        }
        let counts: Vec<u64> = self
            .unblock(move |client, shared| {
                let delay = shared.options.delay.as_millis() as u64;
                client.call(|c| {
                    (shared.scripts.ack.arg(&shared.prefix).arg(delay))
                        .arg(u8::from(skipped))
                        .arg(&ids)
                        .invoke(c)
                })
            })
            .await?;
        self.set_counts(&counts);
        Ok(())
    }

    /// Run `f` with the connection on the blocking pool.
    async fn unblock<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client, &Shared) -> redis::RedisResult<T> + Send + 'static,
    ) -> Result<T, FrontierError> {
        let client = self.client.clone();
        let shared = self.shared.clone();
        smol::unblock(move || f(&mut lock(&client), &shared))
            .await
            .map_err(failed)
    }

    fn skipped_origins(&mut self) -> String {
        let now = Instant::now();
        self.skip.retain(|_, at| now.duration_since(*at) < SKIP_FOR);
        let mut list = String::new();
        for origin in self.skip.keys() {
            list.push_str(origin);
            list.push('\n');
        }
        list
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding it leaves nothing half-done on our side: the
    // state is in Redis.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The identity every worker must share: the output is each worker's own.
fn shared_identity(identity: &CrawlIdentity) -> CrawlIdentity {
    let mut ours = identity.clone();
    ours.output_kind.clear();
    ours.output_path.clear();
    ours.other.remove(SINK_KEY);
    ours
}

impl Frontier for RedisFrontier {
    fn push(&mut self, entries: Vec<Entry>) -> BoxFuture<'_, Result<Pushed, FrontierError>> {
        Box::pin(async move {
            let mut pushed = Pushed::default();
            let mut args: Vec<Vec<u8>> = Vec::with_capacity(entries.len() * 3);
            // Duplicates within the batch never reach Redis.
            let mut batch = HashSet::new();
            let mut key = String::new();
            for entry in &entries {
                let url = entry.url.as_str();
                if url.len() > MAX_URL_LEN {
                    pushed.too_long += 1;
                    continue;
                }
                let fp = fingerprint(url).to_be_bytes();
                if !batch.insert(fp) {
                    pushed.duplicates += 1;
                    continue;
                }
                frontier::origin(&entry.url, &mut key);
                args.push(fp.to_vec());
                args.push(key.as_bytes().to_vec());
                args.push(encode(entry).into_bytes());
            }
            if args.is_empty() {
                return Ok(pushed);
            }
            let counts: Vec<u64> = self
                .unblock(move |client, shared| {
                    client.call(|c| shared.scripts.push.arg(&shared.prefix).arg(&args).invoke(c))
                })
                .await?;
            if let [queued, duplicates, ..] = counts[..] {
                pushed.queued = queued;
                pushed.duplicates += duplicates;
                self.seen += queued;
            }
            self.set_counts(counts.get(2..).unwrap_or(&[]));
            Ok(pushed)
        })
    }

    fn pop<'a>(
        &'a mut self,
        max: usize,
        ready: &'a mut Ready<'_>,
    ) -> BoxFuture<'a, Result<Vec<Entry>, FrontierError>> {
        Box::pin(async move {
            let skip = self.skipped_origins();
            let reply: Vec<String> = self
                .unblock(move |client, shared| {
                    let o = &shared.options;
                    client.call(|c| {
                        shared
                            .scripts
                            .pop
                            .arg(&shared.prefix)
                            .arg(max)
                            .arg(o.per_host)
                            .arg(o.delay.as_millis() as u64)
                            .arg(o.lease.as_millis() as u64)
                            .arg(&skip)
                            .arg(&o.worker)
                            .arg(FAIR_WAIT.as_millis() as u64)
                            .arg(o.max_pages.map_or(-1, |m| m.min(i64::MAX as u64) as i64))
                            .invoke(c)
                    })
                })
                .await?;
            let counts: Vec<u64> = reply
                .iter()
                .take(3)
                .filter_map(|n| n.parse().ok())
                .collect();
            self.set_counts(&counts);
            let mut out = Vec::new();
            let mut back = Vec::new();
            let mut key = String::new();
            for pair in reply.get(3..).unwrap_or(&[]).chunks(2) {
                let [id, text] = pair else { break };
                let id: u64 = id
                    .parse()
                    .map_err(|_| FrontierError(format!("bad lease id {id}")))?;
                let entry = decode(id, text)?;
                frontier::origin(&entry.url, &mut key);
                if ready(&key) {
                    out.push(entry);
                } else {
                    back.push(id);
                    self.skip.insert(key.clone(), Instant::now());
                }
            }
            lock(&self.shared.held).extend(out.iter().filter_map(|e| e.id));
            if !back.is_empty() {
                let counts: Vec<u64> = self
                    .unblock(move |client, shared| {
                        client.call(|c| {
                            shared
                                .scripts
                                .release
                                .arg(&shared.prefix)
                                .arg(1)
                                .arg(&back)
                                .invoke(c)
                        })
                    })
                    .await?;
                self.set_counts(&counts);
            }
            Ok(out)
        })
    }

    fn done(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        Box::pin(self.ack(ids, false))
    }

    /// Entries robots.txt disallowed: acknowledged, their hosts' pacing
    /// undone, and no longer counted as started.
    fn skipped(&mut self, ids: Vec<u64>) -> BoxFuture<'_, Result<(), FrontierError>> {
        Box::pin(self.ack(ids, true))
    }

    /// Entries queued crawl-wide, as of the last round trip.
    fn len(&self) -> u64 {
        self.queued
    }

    /// The whole crawl is finished: nothing leased anywhere, and nothing
    /// queued or nothing more to hand out (the crawl-wide count reached
    /// `--max-pages`).
    fn is_empty(&self) -> bool {
        self.leased == 0 && (self.queued == 0 || self.limit_reached())
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(POLL)
    }

    /// The robots.txt a worker of this crawl kept for `origin`: workers
    /// share it, and the first to need it claims its fetch (see
    /// `claim_robots`), so a host's file is fetched once for the crawl.
    fn robots(&mut self, origin: &str) -> BoxFuture<'_, Result<Option<KeptRobots>, FrontierError>> {
        let origin = origin.to_owned();
        Box::pin(async move {
            let kept: Option<Vec<u8>> = self
                .unblock(move |client, shared| {
                    let key = format!("{}robots", shared.prefix);
                    client.call(|c| redis::cmd("HGET").arg(&key).arg(&origin).query(c))
                })
                .await?;
            Ok(kept.as_deref().and_then(decode_robots))
        })
    }

    /// Keep the file with its `Crawl-delay` (for this crawl's user
    /// agent), which from then on paces the host crawl-wide. The claim is
    /// left to expire (see the `CLAIM` script).
    fn keep_robots(
        &mut self,
        origin: &str,
        robots: KeptRobots,
    ) -> BoxFuture<'_, Result<(), FrontierError>> {
        lock(&self.shared.claims).remove(origin);
        let crawl_delay = (robots.text.as_deref())
            .and_then(|text| Robots::parse(text, &self.shared.options.user_agent).crawl_delay())
            .map_or(0, |d| d.as_millis() as u64);
        let origin = origin.to_owned();
        let value = encode_robots(&robots);
        Box::pin(async move {
            self.unblock(move |client, shared| {
                client.call(|c| {
                    (shared.scripts.keep_robots.arg(&shared.prefix).arg(&origin))
                        .arg(&value)
                        .arg(crawl_delay)
                        .invoke::<()>(c)
                })
            })
            .await
        })
    }

    /// Claim the fetch of `origin`'s robots.txt for this worker: `false`
    /// while another worker holds the claim. A claim lives as long as this
    /// worker renews it with its leases: one that dies leaves it to expire
    /// within the lease time, and another worker takes it over.
    fn claim_robots(&mut self, origin: &str) -> BoxFuture<'_, Result<bool, FrontierError>> {
        let origin = origin.to_owned();
        Box::pin(async move {
            let key = origin.clone();
            let claimed: u8 = self
                .unblock(move |client, shared| {
                    let ttl = shared.options.lease.as_millis() as u64;
                    client.call(|c| {
                        (shared.scripts.claim.arg(&shared.prefix).arg(&key))
                            .arg(&shared.options.worker)
                            .arg(ttl)
                            .invoke(c)
                    })
                })
                .await?;
            if claimed == 1 {
                lock(&self.shared.claims).insert(origin);
            }
            Ok(claimed == 1)
        })
    }

    /// A claimed file that was not kept (unreachable) is given up at once,
    /// for another worker to try.
    fn robots_fetched(&mut self, origin: &str) -> BoxFuture<'_, Result<(), FrontierError>> {
        let given_up = lock(&self.shared.claims).remove(origin);
        let origin = origin.to_owned();
        Box::pin(async move {
            if !given_up {
                return Ok(());
            }
            self.unblock(move |client, shared| {
                client.call(|c| {
                    (shared.scripts.unclaim.arg(&shared.prefix))
                        .arg(&shared.options.worker)
                        .arg(&origin)
                        .invoke::<()>(c)
                })
            })
            .await
        })
    }

    fn seen(&self) -> u64 {
        self.seen
    }

    fn budget(&self) -> Option<u64> {
        Some(self.shared.options.budget)
    }
}

impl Drop for RedisFrontier {
    /// Give the leases still held back at once (a stopped crawl's popped
    /// pages), rather than leaving them to expire: another worker takes
    /// them now. Best effort, a second at most.
    fn drop(&mut self) {
        let shared = &self.shared;
        let ids: Vec<u64> = lock(&shared.held).drain().collect();
        let claims: Vec<String> = lock(&shared.claims).drain().collect();
        // The last figures, for `status`.
        let _ = heartbeat(shared, &mut lock(&self.client), Duration::from_secs(1));
        if !claims.is_empty() {
            let _ = lock(&self.client).call_for(Duration::from_secs(1), |c| {
                (shared.scripts.unclaim.arg(&shared.prefix))
                    .arg(&shared.options.worker)
                    .arg(&claims)
                    .invoke::<()>(c)
            });
        }
        if ids.is_empty() {
            return;
        }
        let _ = lock(&self.client).call_for(Duration::from_secs(1), |c| {
            shared
                .scripts
                .release
                .arg(&shared.prefix)
                // Some were in flight: their requests were made.
                .arg(0)
                .arg(&ids)
                .invoke::<Vec<u64>>(c)
        });
    }
}
