//! Measures `DiskFrontier` at scale: push rate with dedup, pop rate, disk
//! bytes per URL and peak RSS. Prints figures, asserts no timings. Ignored by
//! default; run in release, alone in its process so the peak RSS is its own:
//!
//! ```text
//! SEMCRAWL_FRONTIER_N=1000000 nice cargo test --release -p semcrawl-smol \
//!     --test state_measure -- --ignored --nocapture
//! ```
//!
//! `SEMCRAWL_FRONTIER_N` URLs are queued (default 1M) out of twice as many
//! pushed: like a site whose pages each link to 1,000 URLs, half of them new
//! and half seen before (a quarter recent, as menus are, a quarter anywhere
//! earlier). `SEMCRAWL_FRONTIER_BUDGET` is the byte budget (default 32 MiB).

use std::time::Instant;

use semcrawl_smol::state::{DiskFrontier, FrontierBudget, NewUrl, StateDir};

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// xorshift64: a deterministic stream without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn url(i: u64) -> String {
    format!(
        "https://www.example-shop.test/catalog/{}/product-{i}?ref=list",
        i % 997
    )
}

#[test]
#[ignore = "a measurement: run it by hand in release"]
fn measure_disk_frontier() {
    let n = env_u64("SEMCRAWL_FRONTIER_N", 1_000_000);
    let budget = FrontierBudget {
        bytes: env_u64("SEMCRAWL_FRONTIER_BUDGET", 32 << 20),
    };
    let hwm_start = status_kib("VmHWM:");
    let dir = StateDir::temporary().unwrap();
    let mut frontier = DiskFrontier::open(&dir, budget).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // A progress line every tenth of N (at least every 500 batches).
    let step = (n / 10).clamp(500, 1_000_000) / 500 * 500;
    let started = Instant::now();
    let (mut next, mut pushed, mut page) = (0u64, 0u64, 0u64);
    while next < n {
        let parent: std::sync::Arc<str> =
            format!("https://www.example-shop.test/page/{page}").into();
        page += 1;
        let mut batch = Vec::with_capacity(1000);
        for k in 0..1000u64 {
            let i = if k % 2 == 0 && next < n {
                next += 1;
                next - 1
            } else if k % 4 == 1 || next == 0 {
                next.saturating_sub(1 + rng.below(10_000.min(next.max(1))))
            } else {
                rng.below(next)
            };
            batch.push(NewUrl {
                url: url(i),
                host: "https://www.example-shop.test".into(),
                depth: 2,
                parent: Some(parent.clone()),
                redirects: 0,
            });
        }
        pushed += batch.len() as u64;
        frontier.push_batch(batch).unwrap();
        if next % step == 0 && next < n {
            // Progress, so that a run stopped early still gives a rate.
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  pushed {pushed} ({next} queued) in {secs:.1} s = {:.0} URLs/s; disk {:.1} MiB; VmRSS {:.1} MiB",
                pushed as f64 / secs,
                dir_bytes(dir.path()) as f64 / 1048576.0,
                status_kib("VmRSS:") as f64 / 1024.0
            );
        }
    }
    let push_secs = started.elapsed().as_secs_f64();
    let disk = dir_bytes(dir.path());
    println!(
        "push: {pushed} URLs ({} queued, {} duplicates) in {push_secs:.1} s = {:.0} URLs/s",
        frontier.len(),
        pushed - frontier.len(),
        pushed as f64 / push_secs
    );
    println!(
        "disk: {:.1} MiB = {:.0} B per queued URL (URLs average {} B)",
        disk as f64 / 1048576.0,
        disk as f64 / frontier.len() as f64,
        url(n / 2).len()
    );
    println!(
        "memory: frontier estimate {:.1} MiB (budget {:.1} MiB), VmRSS {:.1} MiB",
        frontier.memory_bytes() as f64 / 1048576.0,
        budget.bytes as f64 / 1048576.0,
        status_kib("VmRSS:") as f64 / 1024.0
    );

    let started = Instant::now();
    let (mut popped, mut done_secs) = (0u64, 0.0);
    loop {
        let batch = frontier.pop_batch(256, &mut |_| true).unwrap();
        if batch.is_empty() {
            break;
        }
        let before = popped;
        popped += batch.len() as u64;
        let ids: Vec<u64> = batch.iter().map(|q| q.id).collect();
        let t = Instant::now();
        frontier.mark_done(&ids).unwrap();
        done_secs += t.elapsed().as_secs_f64();
        if popped / step > before / step && popped < n {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  popped and done {popped} in {secs:.1} s = {:.0} URLs/s",
                popped as f64 / secs
            );
        }
    }
    let total = started.elapsed().as_secs_f64();
    assert_eq!(popped, n);
    assert!(frontier.is_empty());
    println!(
        "pop: {popped} URLs in {:.1} s = {:.0} URLs/s; mark_done {:.1} s = {:.0} URLs/s; both {:.0} URLs/s",
        total - done_secs,
        popped as f64 / (total - done_secs),
        done_secs,
        popped as f64 / done_secs,
        popped as f64 / total
    );
    println!(
        "peak RSS (VmHWM): {:.1} MiB (at start {:.1} MiB)",
        status_kib("VmHWM:") as f64 / 1024.0,
        hwm_start as f64 / 1024.0
    );
}
