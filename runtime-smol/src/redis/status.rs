//! `semcrawl status`: the crawl-wide figures of a shared crawl, read in one
//! script (a consistent snapshot) without joining the crawl.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::Serialize;

use super::client::{Address, Client};
use super::options::prefix;
use super::scripts::Scripts;
use super::RedisError;

/// How recently a worker must have renewed its leases to count as alive.
pub const ALIVE_WITHIN_MS: u64 = 60_000;

/// Hosts listed in [`Status::top_hosts`].
pub const TOP_HOSTS: usize = 10;

/// One worker as the crawl last heard of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// `HOST:PID`.
    pub name: String,
    /// Milliseconds since it last renewed its leases.
    pub last_seen_ms_ago: u64,
    /// Records it stored without error (as of then).
    pub pages: u64,
    /// Error records it stored.
    pub errors: u64,
}

/// The crawl-wide figures of a shared crawl.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The crawl's name.
    pub name: String,
    /// Whether Redis holds a crawl of that name at all.
    pub exists: bool,
    /// URLs queued, not handed out.
    pub queued: u64,
    /// URLs handed out to a worker and not yet acknowledged.
    pub leased: u64,
    /// URLs acknowledged: their records are stored.
    pub done: u64,
    /// Records stored with an error (the sum of every worker's figure).
    pub errors: u64,
    /// Leases that expired with their holder and were requeued.
    pub reclaimed: u64,
    /// Acknowledgements that came after their lease had expired.
    pub late: u64,
    /// URLs ever queued (the size of the seen set).
    pub seen: u64,
    /// Entries handed out and not given back: what `--max-pages` counts
    /// (pages, error pages and sitemaps started; not robots.txt files, nor
    /// URLs robots.txt disallowed).
    pub started: u64,
    /// The `--max-pages` of the last worker started with one, if any.
    pub max_pages: Option<u64>,
    /// Workers that renewed their leases within the last minute.
    pub workers_alive: u64,
    /// Every worker ever heard of, most recent first.
    pub workers: Vec<Worker>,
    /// The longest host queues: (origin, queued), longest first.
    pub top_hosts: Vec<(String, u64)>,
    /// Whether the crawl is over: it exists, nothing queued, nothing leased.
    pub finished: bool,
}

/// Read the figures of the crawl `name` at `address`.
pub fn status(address: &Address, name: &str) -> Result<Status, RedisError> {
    let mut client =
        Client::connect(address, Arc::new(AtomicU64::new(0))).map_err(RedisError::Unreachable)?;
    let scripts = Scripts::new();
    let p = prefix(name);
    type Reply = (
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        u64,
        i64,
        Vec<String>,
        Vec<(String, u64)>,
    );
    let (now, queued, leased, done, reclaimed, late, seen, started, limit, workers, hosts): Reply =
        client
            .call(|c| scripts.status.arg(&p).invoke(c))
            .map_err(|e| RedisError::Failed(e.to_string()))?;
    let exists: bool = client
        .call(|c| redis::cmd("EXISTS").arg(format!("{p}identity")).query(c))
        .map_err(|e| RedisError::Failed(e.to_string()))?;
    let mut list: Vec<Worker> = workers
        .chunks(2)
        .filter_map(|pair| {
            let [name, info] = pair else { return None };
            let mut f = info.split(' ').map(|n| n.parse::<u64>().unwrap_or(0));
            let (seen_at, pages, errors) = (f.next()?, f.next()?, f.next()?);
            Some(Worker {
                name: name.clone(),
                last_seen_ms_ago: now.saturating_sub(seen_at),
                pages,
                errors,
            })
        })
        .collect();
    list.sort_by_key(|w| w.last_seen_ms_ago);
    let mut top_hosts = hosts;
    top_hosts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_hosts.truncate(TOP_HOSTS);
    Ok(Status {
        name: name.to_owned(),
        exists,
        queued,
        leased,
        done,
        errors: list.iter().map(|w| w.errors).sum(),
        reclaimed,
        late,
        seen,
        started,
        max_pages: u64::try_from(limit).ok(),
        workers_alive: list
            .iter()
            .filter(|w| w.last_seen_ms_ago <= ALIVE_WITHIN_MS)
            .count() as u64,
        workers: list,
        top_hosts,
        finished: exists && queued == 0 && leased == 0,
    })
}

impl std::fmt::Display for Status {
    /// The human form `semcrawl status` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.exists {
            return writeln!(f, "no crawl named '{}' in this Redis", self.name);
        }
        writeln!(
            f,
            "crawl '{}': {}",
            self.name,
            if self.finished { "finished" } else { "running" }
        )?;
        writeln!(f, "  queued    {}", self.queued)?;
        writeln!(f, "  leased    {}", self.leased)?;
        writeln!(f, "  done      {}", self.done)?;
        writeln!(f, "  errors    {}", self.errors)?;
        writeln!(f, "  seen      {}", self.seen)?;
        match self.max_pages {
            Some(limit) => writeln!(f, "  started   {} of --max-pages {limit}", self.started)?,
            None => writeln!(f, "  started   {}", self.started)?,
        }
        writeln!(
            f,
            "  reclaimed {} (leases of stopped workers requeued), late acks {}",
            self.reclaimed, self.late
        )?;
        writeln!(
            f,
            "  workers seen in the last minute: {}",
            self.workers_alive
        )?;
        for w in self
            .workers
            .iter()
            .filter(|w| w.last_seen_ms_ago <= ALIVE_WITHIN_MS)
        {
            writeln!(
                f,
                "    {} ({:.1}s ago): {} pages, {} errors",
                w.name,
                w.last_seen_ms_ago as f64 / 1000.0,
                w.pages,
                w.errors
            )?;
        }
        if !self.top_hosts.is_empty() {
            writeln!(f, "  top hosts by queue length:")?;
            for (host, n) in &self.top_hosts {
                writeln!(f, "    {n:>8}  {host}")?;
            }
        }
        Ok(())
    }
}
