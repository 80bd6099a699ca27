//! The frontier: URLs waiting to be fetched, and every URL ever seen.
//!
//! Pending work lives here as plain data — a URL, its depth and its parent —
//! never as a task or a future. That is the first half of bounded memory: a
//! million queued URLs cost a few hundred bytes each, not a parked future
//! each.
//!
//! The frontier sits behind the [`Frontier`] trait so that other
//! implementations (disk-backed for crawls larger than memory, shared through
//! Redis for several crawler processes) can replace [`MemoryFrontier`]
//! without touching the pipeline. It keeps only URLs: what is known about
//! a host (robots.txt, politeness, limits) is in the crawl's table of
//! hosts, and an entry names its host by a [`HostId`] given when the URL
//! was first queued, so a frontier never builds or hashes origin strings.
//!
//! [`MemoryFrontier`] keeps one FIFO queue per host and serves hosts round
//! robin: breadth-first within a site, and one slow or rate-limited site
//! never blocks the others. Seen URLs are kept as 64-bit fingerprints
//! (SipHash of the canonical URL) rather than strings: 16 bytes of table per
//! URL instead of about a hundred, with a collision chance around 3e-8 at a
//! million URLs (a collision would skip one page).
//!
//! ```
//! use semcrawl_core::frontier::{Entry, Frontier, HostId, MemoryFrontier};
//! let mut f = MemoryFrontier::default();
//! let url: url::Url = "http://a.test/".parse().unwrap();
//! assert!(f.mark_seen(&url));
//! assert!(!f.mark_seen(&url), "seen once");
//! f.push(Entry::seed(url, HostId::new(0)));
//! let e = f.pop(&mut |_host| true).unwrap();
//! assert_eq!(e.url.as_str(), "http://a.test/");
//! assert!(f.pop(&mut |_| true).is_none());
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use url::Url;

pub use crate::hosts::HostId;
use crate::runtime::MaybeSend;

/// A URL waiting to be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Canonical URL.
    pub url: Url,
    /// Link distance from the seeds.
    pub depth: u32,
    /// Canonical URL of the page it was found on (shared by siblings).
    pub parent: Option<Arc<str>>,
    /// Redirect hops that led here (0 for a link).
    pub redirects: u32,
    /// The URL's origin, as the crawl's table of hosts numbers it.
    pub host: HostId,
}

impl Entry {
    /// A seed of `host`: depth 0, no parent.
    pub fn seed(url: Url, host: HostId) -> Self {
        Entry {
            url,
            depth: 0,
            parent: None,
            redirects: 0,
            host,
        }
    }
}

/// Queue plus seen set.
pub trait Frontier: MaybeSend {
    /// Remember `url`; `false` if it was seen before.
    fn mark_seen(&mut self, url: &Url) -> bool;
    /// Queue an entry (already marked seen).
    fn push(&mut self, entry: Entry);
    /// Take the next entry whose host `ready` accepts, or `None` if no
    /// queued host is ready. `ready` is called at most once per host.
    fn pop(&mut self, ready: &mut dyn FnMut(HostId) -> bool) -> Option<Entry>;
    /// Entries queued.
    fn len(&self) -> usize;
    /// Whether nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// URLs seen so far.
    fn seen(&self) -> usize;
}

/// An in-memory [`Frontier`].
#[derive(Debug, Default)]
pub struct MemoryFrontier {
    seen: HashSet<u64>,
    queues: HashMap<HostId, VecDeque<Entry>>,
    /// Hosts with a non-empty queue, in round-robin order.
    ring: VecDeque<HostId>,
    len: usize,
}

fn fingerprint(url: &Url) -> u64 {
    // DefaultHasher::new() uses fixed keys: stable within a process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.as_str().hash(&mut h);
    h.finish()
}

impl Frontier for MemoryFrontier {
    fn mark_seen(&mut self, url: &Url) -> bool {
        self.seen.insert(fingerprint(url))
    }

    fn push(&mut self, entry: Entry) {
        let host = entry.host;
        let queue = self.queues.entry(host).or_default();
        if queue.is_empty() {
            self.ring.push_back(host);
        }
        queue.push_back(entry);
        self.len += 1;
    }

    fn pop(&mut self, ready: &mut dyn FnMut(HostId) -> bool) -> Option<Entry> {
        for _ in 0..self.ring.len() {
            let host = self.ring.pop_front()?;
            if !ready(host) {
                self.ring.push_back(host);
                continue;
            }
            let queue = self.queues.get_mut(&host)?;
            let entry = queue.pop_front();
            if queue.is_empty() {
                self.queues.remove(&host);
            } else {
                self.ring.push_back(host);
            }
            self.len -= 1;
            return entry;
        }
        None
    }

    fn len(&self) -> usize {
        self.len
    }

    fn seen(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry whose host id is the host's first letter (`a` is 0).
    fn entry(u: &str) -> Entry {
        let url: Url = u.parse().unwrap();
        let host = url.host_str().unwrap().as_bytes()[0] - b'a';
        Entry::seed(url, HostId::new(host.into()))
    }

    #[test]
    fn round_robin_across_origins_fifo_within() {
        let mut f = MemoryFrontier::default();
        for u in [
            "http://a/1",
            "http://a/2",
            "http://b/1",
            "http://a/3",
            "http://b/2",
        ] {
            f.push(entry(u));
        }
        assert_eq!(f.len(), 5);
        let order: Vec<String> = std::iter::from_fn(|| f.pop(&mut |_| true))
            .map(|e| e.url.to_string())
            .collect();
        assert_eq!(
            order,
            [
                "http://a/1",
                "http://b/1",
                "http://a/2",
                "http://b/2",
                "http://a/3"
            ]
        );
        assert!(f.is_empty());
    }

    #[test]
    fn unready_origins_are_skipped_not_lost() {
        let mut f = MemoryFrontier::default();
        f.push(entry("http://a/1"));
        f.push(entry("http://b/1"));
        let b = HostId::new(1);
        let e = f.pop(&mut |h| h == b).unwrap();
        assert_eq!(e.url.as_str(), "http://b/1");
        assert!(f.pop(&mut |h| h == b).is_none());
        let mut asked = 0;
        assert!(f
            .pop(&mut |_| {
                asked += 1;
                false
            })
            .is_none());
        assert_eq!(asked, 1, "each queued host asked once");
        assert_eq!(f.pop(&mut |_| true).unwrap().url.as_str(), "http://a/1");
    }

    #[test]
    fn dedup_by_canonical_string() {
        let mut f = MemoryFrontier::default();
        assert!(f.mark_seen(&"http://a/x".parse().unwrap()));
        assert!(f.mark_seen(&"http://a/y".parse().unwrap()));
        assert!(!f.mark_seen(&"http://a/x".parse().unwrap()));
        assert_eq!(f.seen(), 2);
    }
}
