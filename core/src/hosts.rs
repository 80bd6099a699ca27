//! One table for everything the crawl knows about a host.
//!
//! A host's robots.txt rules, its politeness schedule and its adaptive limit
//! are asked about together, every time the coordinator picks a URL: kept
//! in separate maps keyed by an origin string, each question hashed that
//! string again, and the string was built anew for every URL. Here a host
//! is one [`Host`] record in a `Vec`, found by a [`HostId`]: a small number
//! the [`Hosts`] interner gives an origin once, when the frontier first asks
//! whether it is ready. The frontier keys its queues by the origin string
//! (which outlives a run, unlike the id); the scheduling questions are
//! array lookups.
//!
//! Like the rest of the crawl's state, a host is kept until the crawl ends
//! (a few hundred bytes a host). It is plain data, tested without a network.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use url::Url;

use crate::adaptive::Limiter;
use crate::politeness::Pace;
use crate::robots::Robots;

/// A host (an origin, `scheme://host[:port]`) of this crawl, as a small
/// number: the index of its record in the crawl's table of hosts.
///
/// ```
/// use semcrawl_core::frontier::HostId;
/// assert_eq!(HostId::new(3).index(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(u32);

impl HostId {
    /// The id with this index.
    pub fn new(index: u32) -> Self {
        HostId(index)
    }

    /// The index of the host in its table.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Where a host's robots.txt stands.
#[derive(Debug, Default)]
pub(crate) enum RobotsState {
    /// Not asked for yet (or robots.txt is not obeyed).
    #[default]
    Unknown,
    /// Being fetched: the host's URLs wait.
    Pending,
    /// Known: the host's URLs are checked against these rules.
    Ready(Robots),
}

/// A host's adaptive limit, with adaptive concurrency (see `crawl/limits.rs`).
#[derive(Debug)]
pub(crate) struct HostLimit {
    pub limiter: Limiter,
    /// Whether its limit was lowered at least once (for latency or drops).
    pub reduced: bool,
    /// Requests to the host being fetched now (shared with its pages).
    pub fetching: Arc<AtomicUsize>,
}

/// Everything known about one host.
#[derive(Debug)]
pub(crate) struct Host {
    /// `scheme://host[:port]`, for logs.
    pub origin: Arc<str>,
    pub robots: RobotsState,
    /// Requests in flight and when the next one may start.
    pub pace: Pace,
    /// Made when the host's first page starts, with adaptive concurrency.
    pub limit: Option<HostLimit>,
    /// Whether its pace (a delay that holds it back) was reported.
    pub pace_reported: bool,
    /// What the host's sitemaps cost so far.
    pub sitemaps: SitemapCount,
}

/// A host's sitemaps so far, against the caps of `sitemap.rs`.
#[derive(Debug, Default)]
pub(crate) struct SitemapCount {
    /// Its sitemaps were looked for (robots.txt's, else `/sitemap.xml`).
    pub sought: bool,
    /// Sitemaps queued.
    pub docs: usize,
    /// URLs taken from its sitemaps.
    pub urls: usize,
}

/// The table of hosts, and the interner that gives each origin its id.
#[derive(Debug, Default)]
pub(crate) struct Hosts {
    ids: HashMap<Arc<str>, HostId>,
    hosts: Vec<Host>,
}

impl Hosts {
    /// The id of `url`'s origin, added to the table if it is new.
    #[cfg(test)]
    pub fn intern(&mut self, url: &Url) -> HostId {
        let mut key = String::new();
        write_origin(url, &mut key);
        self.intern_origin(&key)
    }

    /// The id of an origin (`scheme://host[:port]`, as a frontier names
    /// it), added to the table if it is new.
    pub fn intern_origin(&mut self, key: &str) -> HostId {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = HostId(self.hosts.len() as u32);
        let origin: Arc<str> = Arc::from(key);
        self.ids.insert(origin.clone(), id);
        self.hosts.push(Host {
            origin,
            robots: RobotsState::Unknown,
            pace: Pace::default(),
            limit: None,
            pace_reported: false,
            sitemaps: SitemapCount::default(),
        });
        id
    }

    pub fn get(&self, id: HostId) -> &Host {
        &self.hosts[id.0 as usize]
    }

    pub fn get_mut(&mut self, id: HostId) -> &mut Host {
        &mut self.hosts[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter()
    }
}

/// Write `url`'s origin as [`url::Origin::ascii_serialization`] does, into
/// `out`, without allocating for the usual schemes.
pub(crate) fn write_origin(url: &Url, out: &mut String) {
    out.clear();
    match (url.scheme(), url.host_str()) {
        ("http" | "https" | "ws" | "wss" | "ftp", Some(host)) => {
            // `host_str` is already ASCII (punycode) for these schemes, and
            // `port` is `None` for their default port: as the origin says.
            let _ = write!(out, "{}://{host}", url.scheme());
            if let Some(port) = url.port() {
                let _ = write!(out, ":{port}");
            }
        }
        _ => out.push_str(&url.origin().ascii_serialization()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_gets_one_id_and_one_record() {
        let mut hosts = Hosts::default();
        let a = hosts.intern(&"http://a.test/x".parse().unwrap());
        let b = hosts.intern(&"http://b.test/".parse().unwrap());
        assert_eq!(a, hosts.intern(&"http://a.test/y?q".parse().unwrap()));
        assert_ne!(a, hosts.intern(&"https://a.test/x".parse().unwrap()));
        assert_ne!(a, hosts.intern(&"http://a.test:8080/x".parse().unwrap()));
        assert_eq!(a, hosts.intern(&"http://a.test:80/z".parse().unwrap()));
        assert_ne!(a, b);
        assert_eq!(&*hosts.get(a).origin, "http://a.test");
        assert_eq!(hosts.iter().count(), 4);
    }

    #[test]
    fn per_host_state_is_kept_per_host() {
        let mut hosts = Hosts::default();
        let a = hosts.intern(&"http://a.test/".parse().unwrap());
        let b = hosts.intern(&"http://b.test/".parse().unwrap());
        hosts.get_mut(a).robots = RobotsState::Pending;
        hosts.get_mut(a).pace.set_limit(1);
        assert!(matches!(hosts.get(a).robots, RobotsState::Pending));
        assert!(matches!(hosts.get(b).robots, RobotsState::Unknown));
        assert!(hosts.get(b).limit.is_none());
    }

    #[test]
    fn origins_are_written_as_the_url_crate_serializes_them() {
        let mut key = String::new();
        for u in [
            "http://a.test/",
            "https://A.Test:443/x",
            "http://a.test:8080/",
            "http://[::1]:3000/",
            "http://127.0.0.1/",
            "https://bücher.example/",
            "ftp://f.test:21/",
            "data:text/plain,hi",
            "file:///tmp/x",
        ] {
            let url: Url = u.parse().unwrap();
            write_origin(&url, &mut key);
            assert_eq!(key, url.origin().ascii_serialization(), "{u}");
        }
    }
}
