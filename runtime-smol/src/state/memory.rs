//! [`MemoryPart`]: the in-memory start of a [spilling frontier](super::spill),
//! which counts the bytes it holds and refuses a push that would take it
//! past its limit.
//!
//! It queues like the core's `MemoryFrontier` (a FIFO per origin, origins
//! round robin, `ready` asked before each entry) but is built to be moved
//! into a [`DiskFrontier`](super::DiskFrontier) in one go:
//!
//! * its seen set holds [`seen_key`](super::seen_key)s, the disk seen
//!   table's own keys, so it is copied there without the URLs;
//! * its ids start at [`MEMORY_IDS`], far above any id a disk frontier
//!   gives, so an entry popped before the move and acknowledged after it is
//!   told apart (and needs nothing: nothing popped is kept here).
//!
//! # What is counted
//!
//! Everything it allocates, from the capacities actually held: each queue's
//! slots (`capacity × size_of::<Slot>()`, a deque's doubling slack
//! included), each queued URL's bytes (kept as an exact-size `Box<str>`),
//! each parent URL once per run of siblings in a queue (the `Arc<str>` the
//! siblings share, with its counts), each origin's name, the hash tables
//! (buckets at their load factor, a control byte each) and the ring. A push
//! is planned first: what its tables and queues will reserve is computed
//! before anything is inserted, and a push that would pass the limit is
//! handed back whole, untouched, for the caller to spill. So
//! [`bytes`](MemoryPart::bytes) never exceeds the limit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;
use std::mem::size_of;
use std::sync::Arc;

use semcrawl_core::frontier::{origin, Entry, FrontierError, KeptRobots, Pushed, MAX_URL_LEN};
use url::Url;

use super::seen::{seen_key, IdentityHasher};

/// The first id the memory part gives (then 2^62 + 1, ...): a disk
/// frontier's ids count up from 1 and never get near it.
pub(super) const MEMORY_IDS: u64 = 1 << 62;

/// Bytes of an `Arc<str>`'s allocation besides the text: its two counts.
const ARC_HEADER: u64 = 16;
/// Bytes charged per kept robots.txt besides its texts: the map's entry.
const ROBOTS_ENTRY: u64 = 64;

type FpSet = HashSet<i64, BuildHasherDefault<IdentityHasher>>;

/// A queued URL.
pub(super) struct Slot {
    pub(super) url: Box<str>,
    pub(super) depth: u32,
    pub(super) redirects: u32,
    pub(super) parent: Option<Arc<str>>,
    /// The parent's bytes charged to this slot (0: a sibling before it in
    /// the queue carries them).
    parent_bytes: u32,
}

/// A queue, what the move to disk takes out of the memory part.
pub(super) struct Queue {
    pub(super) origin: Arc<str>,
    pub(super) slots: VecDeque<Slot>,
}

/// The in-memory part (see the [module docs](self)).
pub(super) struct MemoryPart {
    seen: FpSet,
    queues: HashMap<Arc<str>, VecDeque<Slot>>,
    /// Origins with a non-empty queue, in round-robin order.
    ring: VecDeque<Arc<str>>,
    robots: HashMap<String, KeptRobots>,
    len: u64,
    next_id: u64,
    /// Bytes held outside the hash tables and the ring: slots, URLs,
    /// parents, origin names, robots texts.
    held: u64,
    limit: u64,
    /// A reused buffer for the origin being looked up.
    key: String,
}

/// Bytes of a hash table of `capacity` (as `capacity()` reports it) with
/// entries of `entry` bytes: its buckets (`capacity` is 7/8 of them, or one
/// less below 8) and a control byte each, plus a group of control bytes.
fn table_bytes(capacity: usize, entry: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 7 {
        capacity + 1
    } else {
        capacity / 7 * 8
    };
    (buckets * (entry + 1) + 16) as u64
}

/// The capacity a hash table reports once it has reserved room for
/// `items` (std's `HashMap` grows to a power of two of buckets).
fn table_capacity_for(capacity: usize, items: usize) -> usize {
    if items <= capacity {
        return capacity;
    }
    let buckets = match items {
        0..=3 => 4,
        4..=7 => 8,
        _ => (items * 8).div_ceil(7).next_power_of_two(),
    };
    if buckets < 8 {
        buckets - 1
    } else {
        buckets / 8 * 7
    }
}

/// The capacity a deque has after `reserve(additional)` (it grows to at
/// least twice its capacity, and to at least 4).
fn deque_capacity_for(capacity: usize, len: usize, additional: usize) -> usize {
    if len + additional <= capacity {
        capacity
    } else {
        (len + additional).max(capacity * 2).max(4)
    }
}

fn arc_bytes(s: &str) -> u64 {
    s.len() as u64 + ARC_HEADER
}

fn same_parent(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// What a push found new, per origin: planned before anything changes.
struct Group {
    origin: String,
    /// Indices into the batch of its new entries.
    entries: Vec<usize>,
}

impl MemoryPart {
    /// An empty memory part that holds at most `limit` bytes.
    pub(super) fn new(limit: u64) -> MemoryPart {
        MemoryPart {
            seen: FpSet::default(),
            queues: HashMap::new(),
            ring: VecDeque::new(),
            robots: HashMap::new(),
            len: 0,
            next_id: MEMORY_IDS,
            held: 0,
            limit,
            key: String::new(),
        }
    }

    /// Bytes held now (see the [module docs](self)); never above the limit.
    pub(super) fn bytes(&self) -> u64 {
        self.held
            + table_bytes(self.seen.capacity(), size_of::<i64>())
            + table_bytes(
                self.queues.capacity(),
                size_of::<(Arc<str>, VecDeque<Slot>)>(),
            )
            + table_bytes(self.robots.capacity(), size_of::<(String, KeptRobots)>())
            + (self.ring.capacity() * size_of::<Arc<str>>()) as u64
    }

    /// The most bytes it may hold.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Entries queued and not handed out.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// URLs seen (queued, handed out or done).
    pub(super) fn seen(&self) -> u64 {
        self.seen.len() as u64
    }

    /// Queue the entries not seen before; `Err` hands the batch back,
    /// untouched, when queuing it would take the part past its limit.
    pub(super) fn push(&mut self, entries: Vec<Entry>) -> Result<Pushed, Vec<Entry>> {
        let mut pushed = Pushed::default();
        let mut keys: Vec<Option<i64>> = Vec::with_capacity(entries.len());
        let mut fresh = FpSet::default();
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let url = entry.url.as_str();
            if url.len() > MAX_URL_LEN {
                pushed.too_long += 1;
                keys.push(None);
                continue;
            }
            let fp = seen_key(url);
            if self.seen.contains(&fp) || !fresh.insert(fp) {
                pushed.duplicates += 1;
                keys.push(None);
                continue;
            }
            keys.push(Some(fp));
            origin(&entry.url, &mut self.key);
            let g = match group_of.get(self.key.as_str()) {
                Some(&g) => g,
                None => {
                    group_of.insert(self.key.clone(), groups.len());
                    groups.push(Group {
                        origin: self.key.clone(),
                        entries: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[g].entries.push(i);
        }
        pushed.queued = fresh.len() as u64;
        if pushed.queued == 0 {
            return Ok(pushed);
        }
        if self.planned_bytes(&entries, &groups, fresh.len()) > self.limit {
            return Err(entries);
        }
        self.insert(entries, keys, groups, fresh.len());
        Ok(pushed)
    }

    /// The bytes held once `groups` are queued (see [`push`](Self::push)).
    fn planned_bytes(&self, entries: &[Entry], groups: &[Group], new: usize) -> u64 {
        let slot = size_of::<Slot>();
        let new_origins = groups
            .iter()
            .filter(|g| !self.queues.contains_key(g.origin.as_str()))
            .count();
        let mut held = self.held;
        for g in groups {
            let queue = self.queues.get(g.origin.as_str());
            let (capacity, len) = queue.map_or((0, 0), |q| (q.capacity(), q.len()));
            held += ((deque_capacity_for(capacity, len, g.entries.len()) - capacity) * slot) as u64;
            if queue.is_none() {
                held += arc_bytes(&g.origin);
            }
            let mut last = queue.and_then(|q| q.back()).and_then(|s| s.parent.clone());
            for &i in &g.entries {
                let entry = &entries[i];
                held += entry.url.as_str().len() as u64;
                if let Some(parent) = &entry.parent {
                    if !same_parent(Some(parent), last.as_ref()) {
                        held += arc_bytes(parent);
                    }
                }
                last = entry.parent.clone();
            }
        }
        let seen = table_capacity_for(self.seen.capacity(), self.seen.len() + new);
        // Emptied queues leave tombstones in the map, which can make it
        // grow on a reserve below its capacity: assume it does whenever
        // more than half full.
        let (capacity, items) = (self.queues.capacity(), self.queues.len() + new_origins);
        let queues = if new_origins > 0 && items > capacity / 2 {
            table_capacity_for(capacity, items.max(capacity + 1))
        } else {
            capacity
        };
        let ring = deque_capacity_for(self.ring.capacity(), self.ring.len(), new_origins);
        held + table_bytes(seen, size_of::<i64>())
            + table_bytes(queues, size_of::<(Arc<str>, VecDeque<Slot>)>())
            + table_bytes(self.robots.capacity(), size_of::<(String, KeptRobots)>())
            + (ring * size_of::<Arc<str>>()) as u64
    }

    /// Queue what [`push`](Self::push) planned.
    fn insert(
        &mut self,
        entries: Vec<Entry>,
        keys: Vec<Option<i64>>,
        groups: Vec<Group>,
        new: usize,
    ) {
        self.seen.reserve(new);
        let new_origins = groups
            .iter()
            .filter(|g| !self.queues.contains_key(g.origin.as_str()))
            .count();
        self.queues.reserve(new_origins);
        self.ring.reserve(new_origins);
        let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
        for g in groups {
            let queue = match self.queues.get_mut(g.origin.as_str()) {
                Some(q) => q,
                None => {
                    let name: Arc<str> = Arc::from(g.origin.as_str());
                    self.held += arc_bytes(&name);
                    self.ring.push_back(name.clone());
                    self.queues.entry(name).or_default()
                }
            };
            let before = queue.capacity();
            queue.reserve(g.entries.len());
            self.held += ((queue.capacity() - before) * size_of::<Slot>()) as u64;
            for i in g.entries {
                let entry = entries[i].take().expect("each entry is in one group");
                self.seen.insert(keys[i].expect("a new entry has its key"));
                let parent_bytes = match &entry.parent {
                    Some(p)
                        if !same_parent(Some(p), queue.back().and_then(|s| s.parent.as_ref())) =>
                    {
                        arc_bytes(p)
                    }
                    _ => 0,
                };
                let url = String::from(entry.url).into_boxed_str();
                self.held += url.len() as u64 + parent_bytes;
                queue.push_back(Slot {
                    url,
                    depth: entry.depth,
                    redirects: entry.redirects,
                    parent: entry.parent,
                    parent_bytes: parent_bytes as u32,
                });
                self.len += 1;
            }
        }
    }

    /// Hand out up to `max` entries, round robin over the origins `ready`
    /// accepts (asked before each entry), as the core's `MemoryFrontier`.
    pub(super) fn pop(
        &mut self,
        max: usize,
        ready: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Vec<Entry>, FrontierError> {
        let mut out = Vec::new();
        // A full turn of the ring without handing anything out ends it.
        let mut idle = 0;
        while out.len() < max && idle < self.ring.len() {
            let Some(origin) = self.ring.pop_front() else {
                break;
            };
            if !ready(&origin) {
                self.ring.push_back(origin);
                idle += 1;
                continue;
            }
            let queue = self.queues.get_mut(&origin).expect("the ring names queues");
            let slot = queue.pop_front().expect("queues in the ring are not empty");
            self.held -= slot.url.len() as u64;
            match queue.front_mut() {
                // The next sibling holds the parent now.
                Some(next) if same_parent(next.parent.as_ref(), slot.parent.as_ref()) => {
                    next.parent_bytes += slot.parent_bytes;
                }
                _ => self.held -= u64::from(slot.parent_bytes),
            }
            if queue.is_empty() {
                let queue = self.queues.remove(&origin).expect("there");
                self.held -= (queue.capacity() * size_of::<Slot>()) as u64 + arc_bytes(&origin);
            } else {
                self.ring.push_back(origin);
            }
            self.len -= 1;
            self.next_id += 1;
            let url = Url::parse(&slot.url).map_err(|e| {
                FrontierError(format!("a queued URL does not parse ({e}): {}", slot.url))
            })?;
            out.push(Entry {
                url,
                depth: slot.depth,
                parent: slot.parent,
                redirects: slot.redirects,
                id: Some(self.next_id),
            });
            idle = 0;
        }
        Ok(out)
    }

    /// The robots.txt kept for `origin`.
    pub(super) fn robots(&self, origin: &str) -> Option<KeptRobots> {
        self.robots.get(origin).cloned()
    }

    /// Keep `origin`'s robots.txt; `Err` hands it back when that would take
    /// the part past its limit.
    pub(super) fn keep_robots(
        &mut self,
        origin: &str,
        robots: KeptRobots,
    ) -> Result<(), KeptRobots> {
        let bytes = |o: &str, r: &KeptRobots| {
            ROBOTS_ENTRY + o.len() as u64 + r.text.as_ref().map_or(0, |t| t.len() as u64)
        };
        let old = self.robots.get(origin).map_or(0, |r| bytes(origin, r));
        let capacity = table_capacity_for(self.robots.capacity(), self.robots.len() + 1);
        let tables = table_bytes(capacity, size_of::<(String, KeptRobots)>())
            - table_bytes(self.robots.capacity(), size_of::<(String, KeptRobots)>());
        if self.bytes() + tables + bytes(origin, &robots) - old > self.limit {
            return Err(robots);
        }
        self.held += bytes(origin, &robots);
        self.held -= old;
        self.robots.insert(origin.to_owned(), robots);
        Ok(())
    }

    /// Take everything out for the move to disk: the queues in round-robin
    /// order (each FIFO), the seen keys, the kept robots.txt files.
    pub(super) fn into_parts(self) -> Parts {
        let MemoryPart {
            seen,
            mut queues,
            ring,
            robots,
            ..
        } = self;
        let queues = ring
            .into_iter()
            .map(|origin| Queue {
                slots: queues.remove(&origin).expect("the ring names queues"),
                origin,
            })
            .collect();
        Parts {
            queues,
            seen,
            robots,
        }
    }
}

/// A memory part taken apart (see [`MemoryPart::into_parts`]).
pub(super) struct Parts {
    pub(super) queues: VecDeque<Queue>,
    pub(super) seen: FpSet,
    pub(super) robots: HashMap<String, KeptRobots>,
}
