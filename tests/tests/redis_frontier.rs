//! `RedisFrontier` itself, two workers' frontiers on one real Redis: the
//! atomic "mark seen and enqueue", crawl-wide per-host slots, leases given
//! back by a worker that stops, and "finished" meaning nothing queued and
//! nothing leased anywhere.

use std::time::Duration;

use semcrawl_core::frontier::{Entry, Frontier};
use semcrawl_smol::redis::{Address, RedisFrontier, RedisOptions};
use semcrawl_smol::state::CrawlIdentity;
use semcrawl_smol::SmolRuntime;
use semcrawl_tests::redis::RedisServer;

fn worker(redis: &RedisServer, per_host: usize) -> RedisFrontier {
    let address = Address::parse(&redis.url()).unwrap();
    let mut options = RedisOptions::new("unit", per_host, Duration::ZERO, 2 << 20);
    options.worker = format!("w{}", rand_suffix());
    let identity = CrawlIdentity {
        seeds: vec!["http://a.test/".into()],
        ..Default::default()
    };
    RedisFrontier::open(&address, options, &identity).unwrap().0
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn entries(urls: impl IntoIterator<Item = String>) -> Vec<Entry> {
    urls.into_iter()
        .map(|u| Entry::seed(u.parse().unwrap()))
        .collect()
}

fn pop_all(rt: &SmolRuntime, f: &mut RedisFrontier, max: usize) -> Vec<Entry> {
    rt.block_on(f.pop(max, &mut |_| true)).unwrap()
}

#[test]
fn two_workers_never_queue_a_url_twice() {
    let Some(redis) = RedisServer::start_or_skip("two_workers_never_queue_a_url_twice") else {
        return;
    };
    let rt = SmolRuntime::new().unwrap();
    let urls = |from: usize| (from..from + 600).map(|i| format!("http://h{}.test/{i}", i % 7));
    let (mut a, mut b) = (worker(&redis, 8), worker(&redis, 8));
    // Overlapping batches, pushed at the same time from two threads.
    let (pa, pb) = std::thread::scope(|s| {
        let ta = s.spawn(|| {
            SmolRuntime::new()
                .unwrap()
                .block_on(a.push(entries(urls(0))))
        });
        let tb = s.spawn(|| {
            SmolRuntime::new()
                .unwrap()
                .block_on(b.push(entries(urls(300))))
        });
        (ta.join().unwrap().unwrap(), tb.join().unwrap().unwrap())
    });
    assert_eq!(pa.queued + pb.queued, 900, "{pa:?} {pb:?}");
    assert_eq!(pa.duplicates + pb.duplicates, 300);
    let mut popped = Vec::new();
    loop {
        let batch = pop_all(&rt, &mut a, 64);
        if batch.is_empty() {
            break;
        }
        rt.block_on(a.done(batch.iter().filter_map(|e| e.id).collect()))
            .unwrap();
        popped.extend(batch.into_iter().map(|e| e.url.to_string()));
    }
    let unique: std::collections::BTreeSet<_> = popped.iter().collect();
    assert_eq!((popped.len(), unique.len()), (900, 900));
    assert!(a.is_empty(), "all done: finished");
}

#[test]
fn a_hosts_slots_are_crawl_wide_and_come_back_with_the_leases() {
    let Some(redis) = RedisServer::start_or_skip("a_hosts_slots_are_crawl_wide") else {
        return;
    };
    let rt = SmolRuntime::new().unwrap();
    let (mut a, mut b) = (worker(&redis, 2), worker(&redis, 2));
    let urls = (0..6).map(|i| format!("http://one.test/{i}"));
    rt.block_on(a.push(entries(urls))).unwrap();
    let first = pop_all(&rt, &mut a, 16);
    assert_eq!(first.len(), 2, "--per-host 2 crawl-wide");
    assert!(
        pop_all(&rt, &mut b, 16).is_empty(),
        "the host's slots are taken"
    );
    assert!(!a.is_empty(), "leased entries: the crawl is not finished");
    // A worker that stops gives its leases (and the host's slots) back.
    drop(a);
    let mut again = Vec::new();
    for _ in 0..50 {
        again.extend(pop_all(&rt, &mut b, 16));
        if again.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let got: Vec<_> = again.iter().map(|e| e.url.as_str()).collect();
    let want: Vec<_> = first.iter().map(|e| e.url.as_str()).collect();
    assert_eq!(got, want, "given back to the front of the queue");
    // Acknowledging frees the slots.
    rt.block_on(b.done(again.iter().filter_map(|e| e.id).collect()))
        .unwrap();
    let mut rest = Vec::new();
    while rest.len() < 4 {
        let batch = pop_all(&rt, &mut b, 16);
        assert!(!batch.is_empty(), "a slot is free");
        rt.block_on(b.done(batch.iter().filter_map(|e| e.id).collect()))
            .unwrap();
        rest.extend(batch);
    }
    assert!(b.is_empty(), "nothing queued, nothing leased: finished");
}

#[test]
fn another_identity_is_refused() {
    let Some(redis) = RedisServer::start_or_skip("another_identity_is_refused") else {
        return;
    };
    let _first = worker(&redis, 1);
    let address = Address::parse(&redis.url()).unwrap();
    let options = RedisOptions::new("unit", 1, Duration::ZERO, 2 << 20);
    let other = CrawlIdentity {
        seeds: vec!["http://b.test/".into()],
        ..Default::default()
    };
    let Err(e) = RedisFrontier::open(&address, options, &other) else {
        panic!("another crawl's identity was accepted");
    };
    assert!(e.to_string().contains("seeds differ"), "{e}");
}
