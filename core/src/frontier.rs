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
//! without touching the pipeline.
//!
//! [`MemoryFrontier`] keeps one FIFO queue per origin and serves origins round
//! robin: breadth-first within a site, and one slow or rate-limited site
//! never blocks the others. Seen URLs are kept as 64-bit fingerprints
//! (SipHash of the canonical URL) rather than strings: 16 bytes of table per
//! URL instead of about a hundred, with a collision chance around 3e-8 at a
//! million URLs (a collision would skip one page).
//!
//! ```
//! use semcrawl_core::frontier::{Entry, Frontier, MemoryFrontier};
//! let mut f = MemoryFrontier::default();
//! let url: url::Url = "http://a.test/".parse().unwrap();
//! assert!(f.mark_seen(&url));
//! assert!(!f.mark_seen(&url), "seen once");
//! f.push(Entry::seed(url));
//! let e = f.pop(&mut |_origin| true).unwrap();
//! assert_eq!(e.url.as_str(), "http://a.test/");
//! assert!(f.pop(&mut |_| true).is_none());
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use url::Url;

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
}

impl Entry {
    /// A seed: depth 0, no parent.
    pub fn seed(url: Url) -> Self {
        Entry {
            url,
            depth: 0,
            parent: None,
            redirects: 0,
        }
    }

    /// The origin (`scheme://host:port`) that politeness and robots.txt key on.
    pub fn origin(&self) -> String {
        origin_of(&self.url)
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Queue plus seen set.
pub trait Frontier: MaybeSend {
    /// Remember `url`; `false` if it was seen before.
    fn mark_seen(&mut self, url: &Url) -> bool;
    /// Queue an entry (already marked seen).
    fn push(&mut self, entry: Entry);
    /// Take the next entry whose origin `ready` accepts, or `None` if no
    /// queued origin is ready. `ready` is called at most once per origin.
    fn pop(&mut self, ready: &mut dyn FnMut(&str) -> bool) -> Option<Entry>;
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
    queues: HashMap<String, VecDeque<Entry>>,
    /// Origins with a non-empty queue, in round-robin order.
    ring: VecDeque<String>,
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
        let origin = entry.origin();
        let queue = self.queues.entry(origin.clone()).or_default();
        if queue.is_empty() {
            self.ring.push_back(origin);
        }
        queue.push_back(entry);
        self.len += 1;
    }

    fn pop(&mut self, ready: &mut dyn FnMut(&str) -> bool) -> Option<Entry> {
        for _ in 0..self.ring.len() {
            let origin = self.ring.pop_front()?;
            if !ready(&origin) {
                self.ring.push_back(origin);
                continue;
            }
            let queue = self.queues.get_mut(&origin)?;
            let entry = queue.pop_front();
            if queue.is_empty() {
                self.queues.remove(&origin);
            } else {
                self.ring.push_back(origin);
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

    fn entry(u: &str) -> Entry {
        Entry::seed(u.parse().unwrap())
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
        let e = f.pop(&mut |o| o == "http://b").unwrap();
        assert_eq!(e.url.as_str(), "http://b/1");
        assert!(f.pop(&mut |o| o == "http://b").is_none());
        let mut asked = 0;
        assert!(f
            .pop(&mut |_| {
                asked += 1;
                false
            })
            .is_none());
        assert_eq!(asked, 1, "each queued origin asked once");
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
