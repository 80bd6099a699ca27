//! [`DiskFrontier`]: the crawl's queue and seen set in SQLite, with a
//! bounded window of it in memory. The tables are described in `db.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::db::{self, bump, host_row, insert_seen, parent_row, DB_FILE};
use super::dir::StateDir;
use super::error::{engine, StateError};
use super::hosts::{Head, Hosts};
use super::rows::{DoneRows, PushRows};
pub use super::rows::{NewUrl, PushStats, Queued};
use super::seen::{seen_key, SeenCache};
pub use super::split::FrontierBudget;
use super::split::{Split, ENGINE_OVERHEAD};

/// URLs longer than this many bytes are not queued (counted in
/// [`PushStats::too_long`]): the crawl's one cap, from the core.
pub use semcrawl_core::frontier::MAX_URL_LEN;

/// Most URLs of one host read ahead into memory at once.
const HEAD_ROWS: usize = 32;
/// Most hosts whose heads one [`DiskFrontier::prefetch`] reads.
const PREFETCH_HOSTS: usize = 64;

/// The crawl frontier on disk: per-host FIFO queues served round robin, a
/// seen set, and URLs done acknowledged durably. See the
/// [module docs](super) for what survives a kill.
///
/// ```
/// use semcrawl_smol::state::{DiskFrontier, FrontierBudget, NewUrl, StateDir};
/// let dir = StateDir::temporary().unwrap();
/// let mut frontier = DiskFrontier::open(&dir, FrontierBudget { bytes: 4 << 20 }).unwrap();
/// let url = |u: &str, host: &str| NewUrl { url: u.into(), host: host.into(), depth: 1, parent: None, redirects: 0 };
/// let stats = frontier
///     .push_batch([url("http://a.test/1", "a.test"), url("http://a.test/2", "a.test"),
///                  url("http://b.test/1", "b.test"), url("http://a.test/1", "a.test")])
///     .unwrap();
/// assert_eq!((stats.queued, stats.duplicates), (3, 1));
/// // Round robin: one URL of each host in turn.
/// let popped = frontier.pop_batch(10, &mut |_host: &str| true).unwrap();
/// let urls: Vec<&str> = popped.iter().map(|q| q.url.as_str()).collect();
/// assert_eq!(urls, ["http://a.test/1", "http://b.test/1", "http://a.test/2"]);
/// assert_eq!(frontier.in_flight(), 3);
/// frontier.mark_done(&popped.iter().map(|q| q.id).collect::<Vec<_>>()).unwrap();
/// assert!(frontier.is_empty());
/// ```
pub struct DiskFrontier {
    pub(super) conn: Connection,
    // Keeps the directory (its lock, or a temporary one's files) alive.
    _dir: StateDir,
    pub(super) split: Split,
    pub(super) seen: SeenCache,
    hosts: Hosts,
    /// Handed out and not done: queue id -> host id.
    in_flight: HashMap<i64, i64>,
    next_id: i64,
    pending: u64,
    done: u64,
    /// Hosts with URLs pending, active or parked.
    hosts_pending: u64,
    /// Where the search for parked hosts goes on from (host id).
    park_cursor: i64,
}

impl std::fmt::Debug for DiskFrontier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskFrontier")
            .field("dir", &self._dir.path())
            .field("pending", &self.pending)
            .field("in_flight", &self.in_flight.len())
            .field("done", &self.done)
            .field("hosts", &self.hosts_pending)
            .finish()
    }
}

impl DiskFrontier {
    /// Open the frontier of a state directory, creating it if needed.
    /// Everything pushed and not done before is queued again.
    pub fn open(dir: &StateDir, budget: FrontierBudget) -> Result<DiskFrontier, StateError> {
        let conn = db::open(dir.path(), true)?.expect("created");
        let split = Split::of(budget);
        db::configure(&conn, split.sqlite_cache)?;

        let next_id: i64 = conn
            .query_row("SELECT coalesce(max(id), 0) + 1 FROM queue", [], |r| {
                r.get(0)
            })
            .map_err(engine)?;
        let hosts_pending: i64 = conn
            .query_row("SELECT count(*) FROM hosts WHERE pending > 0", [], |r| {
                r.get(0)
            })
            .map_err(engine)?;
        let mut frontier = DiskFrontier {
            pending: db::counter(&conn, "pending")?,
            done: db::counter(&conn, "done")?,
            conn,
            _dir: dir.clone(),
            split,
            seen: SeenCache::with_bytes(split.seen),
            hosts: Hosts::default(),
            in_flight: HashMap::new(),
            next_id,
            hosts_pending: hosts_pending as u64,
            park_cursor: 0,
        };
        frontier.admit_parked()?;
        Ok(frontier)
    }

    /// The robots.txt kept for `host` by [`keep_robots`](Self::keep_robots):
    /// its text (`None`: the host has none) and when it was fetched (Unix
    /// milliseconds).
    pub fn robots(&mut self, host: &str) -> Result<Option<(Option<String>, u64)>, StateError> {
        self.conn
            .prepare_cached("SELECT text, fetched_at FROM robots WHERE host = ?1")
            .and_then(|mut s| {
                s.query_row([host], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
                    .optional()
            })
            .map_err(engine)
    }

    /// Keep `host`'s robots.txt (`text`, `None` for none) fetched at
    /// `fetched_at` (Unix milliseconds), replacing what was kept.
    pub fn keep_robots(
        &mut self,
        host: &str,
        text: Option<&str>,
        fetched_at: u64,
    ) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO robots (host, text, fetched_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![host, text, fetched_at as i64]))
            .map_err(engine)?;
        Ok(())
    }

    /// Queue the URLs not seen before, in one transaction. URLs longer than
    /// [`MAX_URL_LEN`] are dropped; duplicates (of earlier pushes, done or
    /// not, or within the batch) are counted and dropped.
    pub fn push_batch(
        &mut self,
        urls: impl IntoIterator<Item = NewUrl>,
    ) -> Result<PushStats, StateError> {
        self.push_and_done(urls, &[])
    }

    /// [`push_batch`](Self::push_batch) then [`mark_done`](Self::mark_done),
    /// in one transaction: a crawl acknowledges the pages stored together
    /// with the links of the pages that finished meanwhile, one commit
    /// rather than two. The pushes come first, so a page whose links are in
    /// `urls` may be among `ids`: a kill leaves both or neither.
    pub fn push_and_done(
        &mut self,
        urls: impl IntoIterator<Item = NewUrl>,
        ids: &[u64],
    ) -> Result<PushStats, StateError> {
        let first_id = self.next_id;
        self.conn.execute_batch("BEGIN").map_err(engine)?;
        let result = self.push_rows(urls).and_then(|pushed| {
            let done = self.done_rows(ids)?;
            self.conn.execute_batch("COMMIT").map_err(engine)?;
            Ok((pushed, done))
        });
        match result {
            Ok((pushed, done)) => {
                let stats = pushed.stats;
                self.apply_push(pushed);
                self.apply_done(done);
                Ok(stats)
            }
            Err(e) => {
                // Nothing was committed (a failed COMMIT rolls back too):
                // the cache may name URLs that were not.
                let _ = self.conn.execute_batch("ROLLBACK");
                self.seen.clear();
                self.next_id = first_id;
                Err(e)
            }
        }
    }

    /// The rows of a push, inside the caller's transaction; what memory
    /// must learn once it commits.
    fn push_rows(
        &mut self,
        urls: impl IntoIterator<Item = NewUrl>,
    ) -> Result<PushRows, StateError> {
        let mut stats = PushStats::default();
        // Per host touched: (pending before this batch, URLs added).
        let mut added: HashMap<i64, (u64, u64)> = HashMap::new();
        let mut names: HashMap<String, i64> = HashMap::new();
        let mut last_parent: Option<(Arc<str>, i64)> = None;
        let tx = &self.conn;
        for new in urls {
            if new.url.len() > MAX_URL_LEN {
                stats.too_long += 1;
                continue;
            }
            let fp = seen_key(&new.url);
            if self.seen.contains(fp) || !insert_seen(tx, fp)? {
                self.seen.insert(fp);
                stats.duplicates += 1;
                continue;
            }
            self.seen.insert(fp);
            let host = match self
                .hosts
                .id_of(&new.host)
                .or(names.get(&new.host).copied())
            {
                Some(id) => id,
                None => {
                    let (id, before) = host_row(tx, &new.host)?;
                    names.insert(new.host.clone(), id);
                    added.insert(id, (before, 0));
                    id
                }
            };
            let parent = match new.parent {
                None => None,
                Some(url) => match &last_parent {
                    Some((last, id)) if *last == url => Some(*id),
                    _ => {
                        let id = parent_row(tx, &url)?;
                        last_parent = Some((url, id));
                        Some(id)
                    }
                },
            };
            tx.prepare_cached(
                "INSERT INTO queue (id, host, depth, url, parent, redirects)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.next_id,
                    host,
                    new.depth,
                    new.url,
                    parent,
                    new.redirects
                ])
            })
            .map_err(engine)?;
            self.next_id += 1;
            let before = self.hosts.get(host).map_or(0, |h| h.pending);
            added.entry(host).or_insert((before, 0)).1 += 1;
            stats.queued += 1;
        }
        for (&host, &(_, n)) in &added {
            if n > 0 {
                tx.prepare_cached("UPDATE hosts SET pending = pending + ?1 WHERE id = ?2")
                    .and_then(|mut s| s.execute(params![n as i64, host]))
                    .map_err(engine)?;
            }
        }
        bump(tx, "pending", stats.queued as i64)?;
        Ok(PushRows {
            stats,
            added,
            names,
        })
    }

    /// A push committed: bring the memory in line.
    fn apply_push(&mut self, pushed: PushRows) {
        let PushRows {
            stats,
            added,
            names,
        } = pushed;
        self.pending += stats.queued;
        for (&id, &(_, n)) in &added {
            if let Some(host) = self.hosts.get_mut(id) {
                host.pending += n;
            }
        }
        // `names` holds only hosts that were not active. In order of first
        // appearance (host ids grow), so the ring order does not depend on
        // a hash map's.
        let mut names: Vec<(String, i64)> = names.into_iter().collect();
        names.sort_unstable_by_key(|&(_, id)| id);
        for (name, id) in names {
            let (before, n) = added[&id];
            if n == 0 {
                continue;
            }
            if before == 0 {
                self.hosts_pending += 1;
            }
            if self.hosts.len() < self.split.max_hosts {
                self.hosts.admit(id, &name, before + n);
            }
        }
    }

    /// Hand out up to `max` URLs, one per host in turn (round robin over
    /// the hosts for which `ready` returns true), oldest first within a
    /// host. `ready` is asked before each URL of a host, so it can count
    /// what it lets through. The URLs stay queued until
    /// [`mark_done`](Self::mark_done); an empty result means nothing is
    /// waiting for a ready host.
    pub fn pop_batch(
        &mut self,
        max: usize,
        ready: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<Queued>, StateError> {
        self.admit_parked()?;
        let mut out = Vec::new();
        // A full turn of the ring without handing anything out ends the batch.
        let mut idle = 0;
        while out.len() < max && idle < self.hosts.ring_len() {
            let Some(id) = self.hosts.next_in_ring() else {
                break;
            };
            let host = self.hosts.get(id).expect("the ring names active hosts");
            if !host.has_waiting() || !ready(&host.name) {
                idle += 1;
                continue;
            }
            if host.heads.is_empty() {
                self.read_heads(id)?;
            }
            let head = self.hosts.pop_head(id).ok_or_else(|| StateError::Corrupt {
                path: self._dir.file(DB_FILE),
                reason: "a host's pending count is above its queued rows".into(),
            })?;
            let host = self.hosts.get_mut(id).expect("still active");
            host.in_flight += 1;
            self.in_flight.insert(head.id, id);
            out.push(Queued {
                id: head.id as u64,
                url: head.url,
                host: host.name.to_string(),
                depth: head.depth,
                parent: head.parent,
                redirects: head.redirects,
            });
            idle = 0;
        }
        Ok(out)
    }

    /// Read ahead, for the next [`pop_batch`](Self::pop_batch): bring parked
    /// hosts in, and read the queues of active hosts short of URLs in
    /// memory. A pop then seldom touches the database, so a caller that
    /// must not block (an async executor) runs this on a thread pool and
    /// the pop on its own thread.
    pub fn prefetch(&mut self) -> Result<(), StateError> {
        self.admit_parked()?;
        for id in self.hosts.short_of_heads(HEAD_ROWS / 2, PREFETCH_HOSTS) {
            if self.hosts.heads_bytes() >= self.split.heads {
                break;
            }
            self.read_heads(id)?;
        }
        Ok(())
    }

    /// Whether [`prefetch`](Self::prefetch) has anything to do: parked
    /// hosts to bring in, or an active host short of URLs in memory with
    /// room for them. Answered from memory, so a caller can skip the hop
    /// to a thread pool when the heads are full (most pops of a crawl).
    pub fn wants_prefetch(&self) -> bool {
        let parked =
            self.hosts.len() < self.split.max_hosts && self.hosts_pending > self.hosts.len() as u64;
        parked
            || (self.hosts.heads_bytes() < self.split.heads
                && !self.hosts.short_of_heads(HEAD_ROWS / 2, 1).is_empty())
    }

    /// Read the next rows of a host's queue into its head: up to
    /// [`HEAD_ROWS`], fewer when heads are over their share of the budget,
    /// always at least one.
    fn read_heads(&mut self, id: i64) -> Result<(), StateError> {
        let host = self.hosts.get(id).expect("active");
        let room = self.split.heads.saturating_sub(self.hosts.heads_bytes());
        let limit = host.unread().min(HEAD_ROWS as u64) as i64;
        let mut rows = Vec::new();
        let mut bytes = 0;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT q.id, q.depth, q.url, p.url, q.redirects FROM queue q
                 LEFT JOIN parents p ON p.id = q.parent
                 WHERE q.host = ?1 AND q.id > ?2 ORDER BY q.id LIMIT ?3",
            )
            .map_err(engine)?;
        let mut cursor = stmt
            .query(params![id, host.cursor, limit])
            .map_err(engine)?;
        while let Some(row) = cursor.next().map_err(engine)? {
            let head = Head {
                id: row.get(0).map_err(engine)?,
                depth: row.get(1).map_err(engine)?,
                url: row.get(2).map_err(engine)?,
                parent: row.get(3).map_err(engine)?,
                redirects: row.get(4).map_err(engine)?,
            };
            bytes += head.bytes();
            rows.push(head);
            if bytes >= room {
                break;
            }
        }
        drop(cursor);
        drop(stmt);
        self.hosts.extend_heads(id, rows);
        Ok(())
    }

    /// Mark URLs done, in one transaction that is durable (against the
    /// process dying) when this returns: they are never queued again. Call
    /// it only once their records are durable in the output. Unknown or
    /// already done ids are ignored.
    pub fn mark_done(&mut self, ids: &[u64]) -> Result<(), StateError> {
        self.push_and_done(std::iter::empty(), ids).map(|_| ())
    }

    /// The rows of a [`mark_done`](Self::mark_done), inside the caller's
    /// transaction; what memory must learn once it commits.
    fn done_rows(&mut self, ids: &[u64]) -> Result<DoneRows, StateError> {
        let mut rows = DoneRows::default();
        if ids.is_empty() {
            return Ok(rows);
        }
        let tx = &self.conn;
        for &id in ids {
            let host: Option<i64> = tx
                .prepare_cached("DELETE FROM queue WHERE id = ?1 RETURNING host")
                .and_then(|mut s| s.query_row([id as i64], |r| r.get(0)).optional())
                .map_err(engine)?;
            if let Some(host) = host {
                rows.per_host.entry(host).or_default().0 += 1;
                rows.done.push((id as i64, host));
            }
        }
        for (&host, entry) in rows.per_host.iter_mut() {
            let left: i64 = tx
                .prepare_cached(
                    "UPDATE hosts SET pending = pending - ?1 WHERE id = ?2 RETURNING pending",
                )
                .and_then(|mut s| s.query_row(params![entry.0 as i64, host], |r| r.get(0)))
                .map_err(engine)?;
            entry.1 = left as u64;
        }
        let n = rows.done.len() as i64;
        bump(tx, "done", n)?;
        bump(tx, "pending", -n)?;
        Ok(rows)
    }

    /// URLs marked done, committed: bring the memory in line.
    fn apply_done(&mut self, rows: DoneRows) {
        let n = rows.done.len() as u64;
        self.done += n;
        self.pending -= n;
        for (id, host) in rows.done {
            let was_in_flight = self.in_flight.remove(&id).is_some();
            if !was_in_flight {
                self.hosts.remove_head(host, id);
            }
            if let Some(h) = self.hosts.get_mut(host) {
                h.in_flight -= u64::from(was_in_flight);
                h.pending -= 1;
            }
        }
        for (host, (_, left)) in rows.per_host {
            if left == 0 {
                self.hosts_pending -= 1;
                self.hosts.evict(host);
            }
        }
    }

    /// Bring parked hosts (with URLs pending but not in memory) in while
    /// there is room, continuing round the `hosts` table from where the
    /// last search stopped so that every parked host gets its turn.
    fn admit_parked(&mut self) -> Result<(), StateError> {
        let mut wrapped = false;
        while self.hosts.len() < self.split.max_hosts
            && self.hosts_pending > self.hosts.len() as u64
        {
            let room = (self.split.max_hosts - self.hosts.len()) as i64;
            let rows: Vec<(i64, String, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT id, host, pending FROM hosts WHERE pending > 0 AND id > ?1
                     ORDER BY id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![self.park_cursor, room], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(engine)?;
            if rows.is_empty() {
                if wrapped || self.park_cursor == 0 {
                    break;
                }
                wrapped = true;
                self.park_cursor = 0;
                continue;
            }
            for (id, name, pending) in rows {
                self.park_cursor = id;
                if self.hosts.get(id).is_none() {
                    self.hosts.admit(id, &name, pending as u64);
                }
            }
        }
        Ok(())
    }

    /// URLs pushed and not done: waiting or in flight.
    pub fn len(&self) -> u64 {
        self.pending
    }

    /// Whether nothing is waiting and nothing is in flight: the crawl is over.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// URLs handed out by [`pop_batch`](Self::pop_batch) and not done.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// URLs marked done, by this run and the earlier ones on the directory.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Hosts with URLs pending (in memory or parked on disk).
    pub fn hosts(&self) -> u64 {
        self.hosts_pending
    }

    /// The `n` hosts with most URLs pending, with their counts, most first.
    pub fn top_hosts(&self, n: usize) -> Result<Vec<(String, u64)>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT host, pending FROM hosts WHERE pending > 0
                 ORDER BY pending DESC, id LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([n as i64], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect()
            })
            .map_err(engine)
    }

    /// This frontier's estimate of the memory it holds, in bytes: SQLite's
    /// page cache at its cap plus its fixed overhead, the seen cache, queue
    /// heads, active hosts and the in-flight table. Stays within the budget
    /// given at open (heads may pass their share by one row).
    pub fn memory_bytes(&self) -> u64 {
        let own = self.seen.memory_bytes()
            + self.hosts.heads_bytes()
            + self.hosts.hosts_bytes()
            + self.in_flight.capacity() * 24;
        self.split.sqlite_cache + ENGINE_OVERHEAD + own as u64
    }
}
