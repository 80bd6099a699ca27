//! `state::StateDir` and `state::DiskFrontier` on real files: dedup, round
//! robin, the URL cap, resume, refusals, the lock, and a `kill -9` mid-crawl.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use semcrawl_smol::state::{
    CrawlIdentity, DiskFrontier, FrontierBudget, NewUrl, Queued, Resume, StateDir, StateError,
    MAX_URL_LEN,
};

/// A directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "semcrawl-state-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn identity() -> CrawlIdentity {
    CrawlIdentity {
        seeds: vec!["https://a.test/".into()],
        scope: "host".into(),
        max_depth: Some(3),
        obey_robots: true,
        output_kind: "jsonl".into(),
        output_path: "/out/a.jsonl".into(),
        ..Default::default()
    }
}

const BUDGET: FrontierBudget = FrontierBudget { bytes: 4 << 20 };

fn open(path: &Path) -> (DiskFrontier, Resume) {
    let (dir, resume) = StateDir::open(path, &identity()).unwrap();
    (DiskFrontier::open(&dir, BUDGET).unwrap(), resume)
}

fn new_url(host: &str, path: &str) -> NewUrl {
    NewUrl {
        url: format!("http://{host}/{path}"),
        host: host.into(),
        depth: 1,
        parent: Some(format!("http://{host}/").into()),
        redirects: 0,
    }
}

fn always(_: &str) -> bool {
    true
}

/// Pop until nothing is left for ready hosts.
fn drain(frontier: &mut DiskFrontier) -> Vec<Queued> {
    let mut all = Vec::new();
    loop {
        let batch = frontier.pop_batch(100, &mut always).unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

fn ids(queued: &[Queued]) -> Vec<u64> {
    queued.iter().map(|q| q.id).collect()
}

#[test]
fn duplicates_are_dropped_within_a_batch_across_batches_and_after_done() {
    let tmp = TempDir::new("dedup");
    let (mut frontier, resume) = open(&tmp.0);
    assert_eq!(resume, Resume::Fresh);
    let stats = frontier
        .push_batch([
            new_url("a.test", "1"),
            new_url("a.test", "2"),
            new_url("a.test", "1"),
        ])
        .unwrap();
    assert_eq!((stats.queued, stats.duplicates, stats.too_long), (2, 1, 0));
    let stats = frontier
        .push_batch([new_url("a.test", "2"), new_url("a.test", "3")])
        .unwrap();
    assert_eq!((stats.queued, stats.duplicates), (1, 1));
    assert_eq!(frontier.len(), 3);

    let popped = drain(&mut frontier);
    assert_eq!(popped.len(), 3);
    assert_eq!(popped[0].parent.as_deref(), Some("http://a.test/"));
    frontier.mark_done(&ids(&popped)).unwrap();
    assert!(frontier.is_empty());
    // Done URLs stay seen, in this run and the next (where the in-memory
    // cache is empty, so the database answers).
    let stats = frontier.push_batch([new_url("a.test", "1")]).unwrap();
    assert_eq!(stats.duplicates, 1);
    drop(frontier);
    let (mut frontier, resume) = open(&tmp.0);
    assert_eq!(
        resume,
        Resume::Resumed {
            done: 3,
            pending: 0
        }
    );
    let stats = frontier
        .push_batch([new_url("a.test", "3"), new_url("a.test", "4")])
        .unwrap();
    assert_eq!((stats.queued, stats.duplicates), (1, 1));
}

#[test]
fn hosts_are_served_round_robin_fifo_within_each_and_only_when_ready() {
    let tmp = TempDir::new("rr");
    let (mut frontier, _) = open(&tmp.0);
    let mut batch = vec![];
    for (host, n) in [("a.test", 3), ("b.test", 1), ("c.test", 2)] {
        for i in 1..=n {
            batch.push(new_url(host, &i.to_string()));
        }
    }
    frontier.push_batch(batch).unwrap();
    assert_eq!(frontier.hosts(), 3);
    assert_eq!(
        frontier.top_hosts(2).unwrap(),
        [("a.test".to_string(), 3), ("c.test".to_string(), 2)]
    );

    // b.test is not ready: skipped, not lost.
    let popped = frontier.pop_batch(10, &mut |h| h != "b.test").unwrap();
    let urls: Vec<&str> = popped.iter().map(|q| q.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://a.test/1",
            "http://c.test/1",
            "http://a.test/2",
            "http://c.test/2",
            "http://a.test/3"
        ]
    );
    assert_eq!(frontier.in_flight(), 5);
    // `ready` is asked per URL, so it can allow one more and then stop.
    let mut allowed = 1;
    let popped = frontier
        .pop_batch(10, &mut |_| {
            allowed -= 1;
            allowed >= 0
        })
        .unwrap();
    assert_eq!(popped.len(), 1);
    assert_eq!(popped[0].url, "http://b.test/1");
    assert!(frontier.pop_batch(10, &mut always).unwrap().is_empty());
    assert_eq!(frontier.len(), 6);
    assert_eq!(frontier.in_flight(), 6);
}

#[test]
fn four_hundred_hosts_and_one_huge_one_share_the_pops() {
    let tmp = TempDir::new("mix");
    let (mut frontier, _) = open(&tmp.0);
    // The huge host is pushed first, as a crawl of one big site that then
    // links out would.
    let huge: Vec<NewUrl> = (0..5000)
        .map(|i| new_url("huge.test", &i.to_string()))
        .collect();
    frontier.push_batch(huge).unwrap();
    let mut small = vec![];
    for h in 0..400 {
        for i in 0..(h % 7 + 1) {
            small.push(new_url(&format!("h{h}.test"), &i.to_string()));
        }
    }
    let small_total = small.len();
    frontier.push_batch(small).unwrap();
    assert_eq!(frontier.hosts(), 401);

    // The first turn of the ring gives each host one URL.
    let first = frontier.pop_batch(401, &mut always).unwrap();
    let hosts: HashSet<&str> = first.iter().map(|q| q.host.as_str()).collect();
    assert_eq!(hosts.len(), 401);
    // Every small host is finished within 7 turns: the huge one had 7 URLs.
    let mut popped = first;
    while popped.iter().filter(|q| q.host != "huge.test").count() < small_total {
        let batch = frontier.pop_batch(401, &mut always).unwrap();
        assert!(!batch.is_empty());
        popped.extend(batch);
    }
    let huge_served = popped.iter().filter(|q| q.host == "huge.test").count();
    assert!(huge_served <= 7, "{huge_served}");
    // Within each host, FIFO.
    let mut last: HashMap<&str, u64> = HashMap::new();
    for q in &popped {
        let n: u64 = q.url.rsplit('/').next().unwrap().parse().unwrap();
        if let Some(prev) = last.insert(q.host.as_str(), n) {
            assert!(n > prev, "{} after {prev}", q.url);
        }
    }
    frontier.mark_done(&ids(&popped)).unwrap();
    // Small hosts with nothing left are gone from the host count.
    assert_eq!(frontier.hosts(), 1);
    assert_eq!(frontier.len(), 5000 - huge_served as u64);
}

#[test]
fn many_hosts_beyond_the_active_cap_all_get_served_within_the_budget() {
    let tmp = TempDir::new("park");
    let (dir, _) = StateDir::open(&tmp.0, &identity()).unwrap();
    let budget = FrontierBudget { bytes: 2 << 20 };
    let mut frontier = DiskFrontier::open(&dir, budget).unwrap();
    // More hosts than a 2 MiB budget keeps in memory: most are parked.
    let hosts = 3000;
    for chunk in (0..hosts).collect::<Vec<_>>().chunks(500) {
        let batch = chunk.iter().flat_map(|h| {
            (0..3).map(move |i| new_url(&format!("h{h}.test"), &format!("{i}/{}", "x".repeat(200))))
        });
        frontier.push_batch(batch).unwrap();
        assert!(
            frontier.memory_bytes() <= budget.bytes,
            "{}",
            frontier.memory_bytes()
        );
    }
    assert_eq!(frontier.hosts(), hosts);
    let mut seen = HashSet::new();
    loop {
        let batch = frontier.pop_batch(64, &mut always).unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(
            frontier.memory_bytes() <= budget.bytes,
            "{}",
            frontier.memory_bytes()
        );
        for q in &batch {
            assert!(seen.insert(q.url.clone()), "{} twice", q.url);
        }
        frontier.mark_done(&ids(&batch)).unwrap();
    }
    assert_eq!(seen.len() as u64, hosts * 3);
    assert!(frontier.is_empty());
    assert_eq!(frontier.hosts(), 0);
}

#[test]
fn urls_over_8_kib_are_counted_not_queued() {
    let tmp = TempDir::new("cap");
    let (mut frontier, _) = open(&tmp.0);
    let prefix = "http://a.test/";
    let at_cap = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
    let over = format!("{at_cap}b");
    assert_eq!(MAX_URL_LEN, 8192);
    let url = |u: &str| NewUrl {
        url: u.into(),
        host: "a.test".into(),
        depth: 0,
        parent: None,
        redirects: 0,
    };
    let stats = frontier.push_batch([url(&at_cap), url(&over)]).unwrap();
    assert_eq!((stats.queued, stats.too_long), (1, 1));
    let popped = drain(&mut frontier);
    assert_eq!(popped.len(), 1);
    assert_eq!(popped[0].url, at_cap);
}

#[test]
fn reopening_queues_again_exactly_what_was_pushed_and_not_done() {
    let tmp = TempDir::new("resume");
    let (mut frontier, _) = open(&tmp.0);
    let batch: Vec<NewUrl> = (0..100)
        .map(|i| new_url(&format!("h{}.test", i % 3), &i.to_string()))
        .collect();
    frontier.push_batch(batch).unwrap();
    let popped = frontier.pop_batch(30, &mut always).unwrap();
    assert_eq!(popped.len(), 30);
    let done: Vec<u64> = ids(&popped[..10]);
    frontier.mark_done(&done).unwrap();
    let done_urls: HashSet<String> = popped[..10].iter().map(|q| q.url.clone()).collect();
    let in_flight_urls: HashSet<String> = popped[10..].iter().map(|q| q.url.clone()).collect();
    drop(frontier);

    let (mut frontier, resume) = open(&tmp.0);
    assert_eq!(
        resume,
        Resume::Resumed {
            done: 10,
            pending: 90
        }
    );
    assert_eq!(
        (frontier.len(), frontier.done(), frontier.in_flight()),
        (90, 10, 0)
    );
    let again = drain(&mut frontier);
    assert_eq!(again.len(), 90);
    let again_urls: HashSet<String> = again.iter().map(|q| q.url.clone()).collect();
    assert_eq!(again_urls.len(), 90);
    assert!(again_urls.is_disjoint(&done_urls));
    assert!(in_flight_urls.is_subset(&again_urls));
    // What was in flight comes first again: each host restarts at its oldest.
    for host in ["h0.test", "h1.test", "h2.test"] {
        let of = |qs: &[Queued]| -> Vec<String> {
            qs.iter()
                .filter(|q| q.host == host)
                .map(|q| q.url.clone())
                .collect()
        };
        let before = of(&popped[10..]);
        assert_eq!(of(&again)[..before.len()], before[..], "{host}");
    }
}

#[test]
fn another_identity_is_refused_naming_the_first_difference() {
    let tmp = TempDir::new("identity");
    drop(StateDir::open(&tmp.0, &identity()).unwrap());

    let mut other = identity();
    other.seeds = vec!["https://b.test/".into()];
    let err = StateDir::open(&tmp.0, &other).unwrap_err();
    assert!(err.is_usage());
    match &err {
        StateError::Mismatch { what } => assert_eq!(
            what,
            "the seeds differ: was https://a.test/, now https://b.test/"
        ),
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains("the seeds differ"), "{err}");

    let mut other = identity();
    other.max_depth = None;
    other.exclude = vec!["/private".into()];
    match StateDir::open(&tmp.0, &other).unwrap_err() {
        StateError::Mismatch { what } => {
            assert_eq!(what, "the exclude filters differ: was none, now /private")
        }
        e => panic!("{e:?}"),
    }

    // Options are free to change, and the latest are recorded.
    let mut other = identity();
    other.options.insert("concurrency".into(), "64".into());
    let (_dir, resume) = StateDir::open(&tmp.0, &other).unwrap();
    assert!(resume.is_resumed());
    let text = std::fs::read_to_string(tmp.0.join("state.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], 2);
    assert_eq!(json["identity"]["options"]["concurrency"], "64");
    assert_eq!(json["identity"]["seeds"][0], "https://a.test/");
}

#[test]
fn another_format_version_is_refused() {
    // Format 1 (its seen set keyed by SHA-256) is the previous release's.
    let tmp = TempDir::new("version");
    drop(StateDir::open(&tmp.0, &identity()).unwrap());
    let path = tmp.0.join("state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"format\": 2", "\"format\": 1", 1)).unwrap();
    let err = StateDir::open(&tmp.0, &identity()).unwrap_err();
    assert!(err.is_usage());
    assert!(
        matches!(
            err,
            StateError::Version {
                found: 1,
                expected: 2
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_directory_in_use_or_holding_other_files_is_refused() {
    let tmp = TempDir::new("lock");
    let (dir, _) = StateDir::open(&tmp.0, &identity()).unwrap();
    // flock locks belong to an open file, so a second open in the same
    // process conflicts just as another process would.
    match StateDir::open(&tmp.0, &identity()).unwrap_err() {
        StateError::Locked { pid, .. } => assert_eq!(pid, Some(std::process::id())),
        e => panic!("{e:?}"),
    }
    let frontier = DiskFrontier::open(&dir, BUDGET).unwrap();
    drop(dir);
    // The frontier keeps the directory locked.
    assert!(matches!(
        StateDir::open(&tmp.0, &identity()),
        Err(StateError::Locked { .. })
    ));
    drop(frontier);
    assert!(StateDir::open(&tmp.0, &identity()).is_ok());

    let foreign = TempDir::new("foreign");
    std::fs::create_dir_all(&foreign.0).unwrap();
    std::fs::write(foreign.0.join("notes.txt"), "mine").unwrap();
    let err = StateDir::open(&foreign.0, &identity()).unwrap_err();
    assert!(matches!(err, StateError::NotState { .. }), "{err:?}");
    assert!(!foreign.0.join("state.json").exists());
}

#[test]
fn a_temporary_directory_is_removed_when_its_last_user_is_dropped() {
    let dir = StateDir::temporary().unwrap();
    assert!(dir.is_temporary());
    let path = dir.path().to_path_buf();
    let mut frontier = DiskFrontier::open(&dir, BUDGET).unwrap();
    frontier.push_batch([new_url("a.test", "1")]).unwrap();
    drop(dir);
    assert!(path.join("frontier.sqlite").exists());
    drop(frontier);
    assert!(!path.exists());
}

#[test]
fn the_frontier_and_the_directory_can_move_to_another_thread() {
    // The crawl runs SQLite calls on a blocking pool: both must be `Send`.
    fn send<T: Send>() {}
    send::<DiskFrontier>();
    send::<StateDir>();
}

const CHILD_ENV: &str = "SEMCRAWL_STATE_KILL_CHILD";

/// The child of `kill_9_mid_crawl_loses_nothing_and_repeats_nothing_done`:
/// pushes, pops and marks done in a loop, logging each step after it
/// returns, until it is killed. Without the environment variable (a normal
/// test run) it does nothing.
#[test]
fn kill_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let (dir, _) = StateDir::open(&path.join("state"), &identity()).unwrap();
    let mut frontier = DiskFrontier::open(&dir, BUDGET).unwrap();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path.join("log"))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = 0u64;
    while Instant::now() < deadline {
        // 20 new URLs over 5 hosts, and 5 already pushed.
        let mut batch: Vec<NewUrl> = (next..next + 20)
            .map(|n| new_url(&format!("h{}.test", n % 5), &n.to_string()))
            .collect();
        batch.extend(
            (next / 2..next / 2 + 5).map(|n| new_url(&format!("h{}.test", n % 5), &n.to_string())),
        );
        next += 20;
        let lines: String = batch.iter().map(|u| format!("P {}\n", u.url)).collect();
        frontier.push_batch(batch).unwrap();
        log.write_all(lines.as_bytes()).unwrap();

        let popped = frontier.pop_batch(12, &mut always).unwrap();
        let lines: String = popped.iter().map(|q| format!("B {}\n", q.url)).collect();
        log.write_all(lines.as_bytes()).unwrap();
        frontier.mark_done(&ids(&popped)).unwrap();
        let lines: String = popped.iter().map(|q| format!("D {}\n", q.url)).collect();
        log.write_all(lines.as_bytes()).unwrap();
    }
}

#[test]
fn kill_9_mid_crawl_loses_nothing_and_repeats_nothing_done() {
    let tmp = TempDir::new("kill");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let log_path = tmp.0.join("log");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &tmp.0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_lines = |text: &str| text.lines().filter(|l| l.starts_with("D ")).count();
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if done_lines(&text) >= 600 {
            break;
        }
        assert!(Instant::now() < deadline, "the child made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the child exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Only whole lines count: the kill may cut the last one.
    let text = std::fs::read_to_string(&log_path).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let mut pushed = HashSet::new();
    let mut done = HashSet::new();
    let mut begun = HashSet::new();
    for line in whole.lines() {
        let (kind, url) = line.split_at(2);
        match kind {
            "P " => pushed.insert(url.to_string()),
            "B " => begun.insert(url.to_string()),
            "D " => done.insert(url.to_string()),
            _ => panic!("{line}"),
        };
    }
    // Marked done, maybe, without the log knowing: the last batch begun.
    let maybe_done: HashSet<&String> = begun.difference(&done).collect();
    assert!(maybe_done.len() <= 12);

    let (mut frontier, resume) = open(&tmp.0.join("state"));
    let Resume::Resumed {
        done: done_count,
        pending,
    } = resume
    else {
        panic!("{resume:?}")
    };
    let total_done = done_count as usize;
    assert!(
        (done.len()..=done.len() + maybe_done.len()).contains(&total_done),
        "{total_done} done, log says {} (+{})",
        done.len(),
        maybe_done.len()
    );
    let queued = drain(&mut frontier);
    assert_eq!(queued.len() as u64, pending);
    let queued: HashSet<String> = queued.into_iter().map(|q| q.url).collect();
    assert_eq!(queued.len() as u64, pending, "a URL is queued twice");
    // Nothing marked done is queued again.
    assert!(queued.is_disjoint(&done));
    // Nothing pushed is lost: each is queued, or done.
    let lost: Vec<&String> = pushed
        .iter()
        .filter(|u| !queued.contains(*u) && !done.contains(*u) && !maybe_done.contains(u))
        .collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    // And every URL pushed is still seen.
    let again = frontier
        .push_batch(pushed.iter().map(|u| {
            let host = u.trim_start_matches("http://").split('/').next().unwrap();
            NewUrl {
                url: u.clone(),
                host: host.into(),
                depth: 1,
                parent: None,
                redirects: 0,
            }
        }))
        .unwrap();
    assert_eq!(again.queued, 0);
}
