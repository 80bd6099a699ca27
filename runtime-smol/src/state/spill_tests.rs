//! The spilling frontier across its move to disk: nothing lost, nothing
//! twice, duplicates refused on both sides, acknowledgements of entries
//! handed out before the move harmless, the memory part within its limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use semcrawl_core::frontier::{Entry, Frontier, KeptRobots};
use smol::block_on;

use super::SpillFrontier;
use crate::state::memory::MEMORY_IDS;
use crate::state::StateDir;

const HOSTS: usize = 7;

fn url(n: usize) -> String {
    // Unequal lengths, several origins (one with a port).
    let host = n % HOSTS;
    let port = if host == 3 { ":8080" } else { "" };
    format!("http://h{host}.test{port}/page/{n}?{}", "q".repeat(n % 50))
}

fn entries(ns: impl IntoIterator<Item = usize>, parent: &Arc<str>) -> Vec<Entry> {
    ns.into_iter()
        .map(|n| {
            let mut e = Entry::seed(url(n).parse().unwrap());
            e.depth = 1;
            e.parent = Some(parent.clone());
            e
        })
        .collect()
}

fn origin_of(entry: &Entry) -> String {
    entry.url.origin().ascii_serialization()
}

struct Check {
    frontier: SpillFrontier,
    /// URL -> times popped.
    popped: BTreeMap<String, u32>,
    pushed: BTreeSet<String>,
    max_memory: u64,
}

impl Check {
    fn push(&mut self, ns: impl IntoIterator<Item = usize> + Clone, ids: Vec<u64>) {
        let parent: Arc<str> = Arc::from(format!("http://h0.test/parent/{}", self.pushed.len()));
        let batch = entries(ns.clone(), &parent);
        let new: BTreeSet<String> = batch
            .iter()
            .map(|e| e.url.to_string())
            .filter(|u| !self.pushed.contains(u))
            .collect();
        let pushed = block_on(self.frontier.push_and_done(batch.clone(), ids)).unwrap();
        assert_eq!(pushed.queued, new.len() as u64, "new URLs queued");
        assert_eq!(
            pushed.duplicates,
            (batch.len() - new.len()) as u64,
            "URLs seen before refused"
        );
        self.pushed.extend(new);
        self.watch();
    }

    fn pop(&mut self, max: usize) -> Vec<Entry> {
        let popped = block_on(self.frontier.pop(max, &mut |_| true)).unwrap();
        for e in &popped {
            *self.popped.entry(e.url.to_string()).or_default() += 1;
        }
        self.watch();
        popped
    }

    fn watch(&mut self) {
        if let Some((bytes, limit)) = self.frontier.memory_bytes() {
            assert!(bytes <= limit, "memory part at {bytes} of {limit} bytes");
            self.max_memory = self.max_memory.max(bytes);
        }
        assert_eq!(self.frontier.seen(), self.pushed.len() as u64, "seen");
    }
}

fn ids(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.id.unwrap()).collect()
}

#[test]
fn a_spill_loses_nothing_and_queues_nothing_twice() {
    let dir = StateDir::temporary().unwrap();
    // A 256 KiB share: the memory part holds at most 128 KiB.
    let share = 256 << 10;
    let mut c = Check {
        frontier: SpillFrontier::new(&dir, share),
        popped: BTreeMap::new(),
        pushed: BTreeSet::new(),
        max_memory: 0,
    };
    block_on(c.frontier.keep_robots(
        "http://h1.test",
        KeptRobots {
            text: Some("User-agent: *\nDisallow: /x\n".into()),
            fetched_at: 42,
        },
    ))
    .unwrap();

    // Before the move: pages popped and done, others left in flight.
    c.push(0..200, vec![]);
    let first = c.pop(50);
    assert_eq!(first.len(), 50);
    let hosts: BTreeSet<String> = first[..HOSTS].iter().map(origin_of).collect();
    assert_eq!(hosts.len(), HOSTS, "round robin over the origins");
    let (done_early, in_flight) = first.split_at(20);
    c.push(150..300, ids(done_early));
    assert!(!c.frontier.spilled());

    // Push until it spills, duplicates of every kind in each batch.
    let mut next = 300;
    while !c.frontier.spilled() {
        c.push((next - 100)..(next + 200), vec![]);
        next += 200;
        assert!(next < 1_000_000, "never spilled");
    }
    assert!(
        c.max_memory > share / 4,
        "the memory part was used: {} bytes",
        c.max_memory
    );

    // After: duplicates of queued, done and in-flight URLs are refused.
    c.push((0..next).step_by(7), vec![]);
    // In-flight ids of the memory part are acknowledged harmlessly, with a
    // push, alone, or as skipped.
    let (a, b) = in_flight.split_at(10);
    let (b, d) = b.split_at(10);
    c.push(next..next + 50, ids(a));
    block_on(c.frontier.done(ids(b))).unwrap();
    block_on(c.frontier.skipped(ids(d))).unwrap();
    next += 50;

    // The kept robots.txt crossed over.
    let kept = block_on(c.frontier.robots("http://h1.test"))
        .unwrap()
        .unwrap();
    assert_eq!(kept.fetched_at, 42);

    // A host that is not ready is skipped, not lost.
    let only_h2 = block_on(c.frontier.pop(20, &mut |o| o == "http://h2.test")).unwrap();
    assert!(!only_h2.is_empty());
    assert!(only_h2.iter().all(|e| origin_of(e) == "http://h2.test"));
    for e in &only_h2 {
        *c.popped.entry(e.url.to_string()).or_default() += 1;
    }
    block_on(c.frontier.done(ids(&only_h2))).unwrap();

    // Round robin goes on over the disk frontier.
    let batch = c.pop(HOSTS);
    let hosts: BTreeSet<String> = batch.iter().map(origin_of).collect();
    assert_eq!(hosts.len(), HOSTS, "round robin after the move");
    assert!(ids(&batch).iter().all(|&id| id < MEMORY_IDS));
    block_on(c.frontier.done(ids(&batch))).unwrap();

    // Drain it, acknowledging as it goes.
    loop {
        let batch = c.pop(64);
        if batch.is_empty() {
            break;
        }
        block_on(c.frontier.done(ids(&batch))).unwrap();
    }
    assert!(c.frontier.is_empty());
    assert_eq!(c.frontier.seen(), next as u64);
    let pushed: BTreeSet<String> = (0..next).map(url).collect();
    assert_eq!(c.pushed, pushed);
    let popped: BTreeSet<String> = c.popped.keys().cloned().collect();
    assert_eq!(popped, pushed, "every URL pushed was popped");
    let twice: Vec<_> = c.popped.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "popped more than once: {twice:?}");
}

#[test]
fn a_small_crawl_never_touches_the_disk() {
    let dir = StateDir::temporary().unwrap();
    let mut f = SpillFrontier::new(&dir, 2 << 20);
    let parent: Arc<str> = Arc::from("http://h0.test/");
    block_on(f.push(entries(0..1000, &parent))).unwrap();
    let popped = block_on(f.pop(usize::MAX, &mut |_| true)).unwrap();
    assert_eq!(popped.len(), 1000);
    assert!(ids(&popped).iter().all(|&id| id > MEMORY_IDS));
    assert!(!f.spilled());
    assert!(!dir.file("frontier.sqlite").exists(), "no database");
}

#[test]
fn a_robots_txt_too_big_for_memory_spills_too() {
    let dir = StateDir::temporary().unwrap();
    let mut f = SpillFrontier::new(&dir, 64 << 10);
    let big = KeptRobots {
        text: Some("#".repeat(40 << 10)),
        fetched_at: 1,
    };
    block_on(f.keep_robots("http://a.test", big.clone())).unwrap();
    assert!(f.spilled());
    assert_eq!(block_on(f.robots("http://a.test")).unwrap(), Some(big));
}

#[test]
fn origins_that_come_and_go_stay_within_the_limit() {
    // Queues emptied and made again, hundreds of origins: the count stays
    // within the limit, nothing is lost or handed out twice.
    let dir = StateDir::temporary().unwrap();
    let mut f = SpillFrontier::new(&dir, 512 << 10);
    let (mut pushed, mut popped) = (0, BTreeSet::new());
    let mut pop = |f: &mut SpillFrontier, max| {
        let batch = block_on(f.pop(max, &mut |_| true)).unwrap();
        for e in &batch {
            assert!(popped.insert(e.url.to_string()), "{} twice", e.url);
        }
        block_on(f.done(ids(&batch))).unwrap();
        batch.len()
    };
    while !f.spilled() {
        let batch: Vec<Entry> = (pushed..pushed + 300)
            .map(|i| Entry::seed(format!("http://o{}.test/{i}", i / 2).parse().unwrap()))
            .collect();
        pushed += 300;
        block_on(f.push(batch)).unwrap();
        for _ in 0..2 {
            if let Some((bytes, limit)) = f.memory_bytes() {
                assert!(bytes <= limit, "memory part at {bytes} of {limit} bytes");
            }
            pop(&mut f, 100);
        }
        assert!(pushed < 1_000_000, "never spilled");
    }
    while pop(&mut f, 256) > 0 {}
    assert_eq!(popped.len(), pushed);
    assert_eq!(f.seen(), pushed as u64);
}
