//! `RedisFrontier` itself, two workers' frontiers on one real Redis: the
//! atomic "mark seen and enqueue", crawl-wide per-host slots, leases given
//! back by a worker that stops, and "finished" meaning nothing queued and
//! nothing leased anywhere; robots.txt claimed by one worker and its
//! `Crawl-delay` pacing the host crawl-wide; `--max-pages` counted
//! crawl-wide.

use std::time::{Duration, Instant};

use semcrawl_core::frontier::{Entry, Frontier, KeptRobots};
use semcrawl_smol::redis::{Address, RedisFrontier, RedisOptions};
use semcrawl_smol::state::CrawlIdentity;
use semcrawl_smol::SmolRuntime;
use semcrawl_tests::redis::RedisServer;

fn worker(redis: &RedisServer, per_host: usize) -> RedisFrontier {
    worker_with(redis, per_host, |_| {})
}

fn worker_with(
    redis: &RedisServer,
    per_host: usize,
    set: impl FnOnce(&mut RedisOptions),
) -> RedisFrontier {
    let address = Address::parse(&redis.url()).unwrap();
    let mut options = RedisOptions::new("unit", per_host, Duration::ZERO, 2 << 20);
    options.worker = format!("w{}", rand_suffix());
    set(&mut options);
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
    // Given back to the front of the queue: the next ones popped (in
    // either order: each lease is given back on its own).
    let mut got: Vec<_> = again.iter().map(|e| e.url.as_str()).collect();
    let mut want: Vec<_> = first.iter().map(|e| e.url.as_str()).collect();
    got.sort_unstable();
    want.sort_unstable();
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

#[test]
fn a_robots_txt_kept_by_one_worker_is_read_by_another() {
    let Some(redis) = RedisServer::start_or_skip("a_robots_txt_kept_by_one_worker") else {
        return;
    };
    let rt = SmolRuntime::new().unwrap();
    let (mut a, mut b) = (worker(&redis, 4), worker(&redis, 4));
    let origin = "http://a.test";
    assert_eq!(rt.block_on(b.robots(origin)).unwrap(), None);
    let kept = KeptRobots {
        text: Some("User-agent: *\nDisallow: /private\n".into()),
        fetched_at: 1_700_000_000_000,
    };
    rt.block_on(a.keep_robots(origin, kept.clone())).unwrap();
    assert_eq!(rt.block_on(b.robots(origin)).unwrap(), Some(kept));
    // A host without a robots.txt (a 4xx) is kept as such.
    let none = KeptRobots {
        text: None,
        fetched_at: 1_700_000_000_001,
    };
    rt.block_on(b.keep_robots("http://b.test", none.clone()))
        .unwrap();
    assert_eq!(rt.block_on(a.robots("http://b.test")).unwrap(), Some(none));
}

fn ids(batch: &[Entry]) -> Vec<u64> {
    batch.iter().filter_map(|e| e.id).collect()
}

#[test]
fn max_pages_counts_the_entries_handed_out_crawl_wide() {
    let Some(redis) = RedisServer::start_or_skip("max_pages_counts_crawl_wide") else {
        return;
    };
    let rt = SmolRuntime::new().unwrap();
    let limit = |o: &mut RedisOptions| o.max_pages = Some(3);
    let (mut a, mut b) = (worker_with(&redis, 8, limit), worker_with(&redis, 8, limit));
    let urls = (0..10).map(|i| format!("http://h{}.test/{i}", i % 5));
    rt.block_on(a.push(entries(urls))).unwrap();
    let first = pop_all(&rt, &mut a, 2);
    assert_eq!(first.len(), 2);
    let second = pop_all(&rt, &mut b, 16);
    assert_eq!(second.len(), 1, "the third of --max-pages 3, crawl-wide");
    assert!(pop_all(&rt, &mut a, 16).is_empty(), "the limit is reached");
    assert!(!a.is_empty(), "pages leased: not finished");
    // An entry robots.txt disallowed was no page: its count comes back.
    rt.block_on(b.skipped(ids(&second))).unwrap();
    let third = pop_all(&rt, &mut b, 16);
    assert_eq!(third.len(), 1, "one more after a skipped entry");
    rt.block_on(a.done(ids(&first))).unwrap();
    rt.block_on(b.done(ids(&third))).unwrap();
    assert!(b.is_empty(), "the limit reached, nothing leased: finished");
    assert_eq!(b.len(), 6, "still queued, never handed out");
}

#[test]
fn robots_txt_is_claimed_once_and_its_crawl_delay_paces_the_host_crawl_wide() {
    let Some(redis) = RedisServer::start_or_skip("robots_txt_is_claimed_once") else {
        return;
    };
    let rt = SmolRuntime::new().unwrap();
    let (mut a, mut b) = (worker(&redis, 4), worker(&redis, 4));
    let origin = "http://one.test";
    assert!(rt.block_on(a.claim_robots(origin)).unwrap());
    assert!(
        !rt.block_on(b.claim_robots(origin)).unwrap(),
        "a fetches it"
    );
    assert!(
        rt.block_on(a.claim_robots(origin)).unwrap(),
        "a's own claim"
    );
    // a could not fetch it (unreachable): b may try at once.
    rt.block_on(a.robots_fetched(origin)).unwrap();
    assert!(rt.block_on(b.claim_robots(origin)).unwrap());
    let kept = KeptRobots {
        text: Some("User-agent: *\nCrawl-delay: 0.4\n".into()),
        fetched_at: 1,
    };
    rt.block_on(b.keep_robots(origin, kept.clone())).unwrap();
    rt.block_on(b.robots_fetched(origin)).unwrap();
    // A worker that found no file a moment ago still finds the claim
    // taken, and reads the file instead.
    assert!(!rt.block_on(a.claim_robots(origin)).unwrap());
    assert_eq!(rt.block_on(a.robots(origin)).unwrap(), Some(kept));

    let urls = (0..4).map(|i| format!("{origin}/{i}"));
    rt.block_on(a.push(entries(urls))).unwrap();
    let first = pop_all(&rt, &mut a, 16);
    assert_eq!(first.len(), 1, "a host with a delay: one request at a time");
    assert!(pop_all(&rt, &mut b, 16).is_empty(), "not before the delay");
    rt.block_on(a.done(ids(&first))).unwrap();
    let acked = Instant::now();
    assert!(
        pop_all(&rt, &mut b, 16).is_empty(),
        "the delay runs from the end"
    );
    let deadline = acked + Duration::from_secs(10);
    let second = loop {
        // Either worker: the pace is the host's, not a worker's.
        let batch = pop_all(&rt, &mut b, 16);
        if !batch.is_empty() {
            break batch;
        }
        assert!(Instant::now() < deadline, "the host never came back");
        std::thread::sleep(Duration::from_millis(10));
    };
    let waited = acked.elapsed();
    assert!(waited >= Duration::from_millis(380), "{waited:?}");
    // An entry robots.txt disallowed made no request: the host is not
    // held back for it. (b, which waited for the host, comes first for a
    // moment after its time: see the fairness of the pop script.)
    rt.block_on(b.skipped(ids(&second))).unwrap();
    assert_eq!(pop_all(&rt, &mut b, 16).len(), 1, "ready at once");
}
