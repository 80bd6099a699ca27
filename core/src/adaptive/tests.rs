//! The limiter's simulations: a client that keeps `limit()` requests in
//! flight against simulated servers, checked against what the module docs
//! promise.

use super::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const MS: Duration = Duration::from_millis(1);

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a simulated server does with a request sent at `now` with
/// `in_flight` requests in flight (itself included).
type Server<'a> = dyn FnMut(Duration, usize) -> (Duration, Outcome) + 'a;

/// Everything a simulation saw.
struct Run {
    /// (time, limit) after each sample.
    limits: Vec<(Duration, usize)>,
    changes: Vec<Change>,
    completed: u64,
    drops: u64,
}

impl Run {
    fn final_limit(&self) -> usize {
        self.limits.last().unwrap().1
    }
    /// The limit at `t`.
    fn at(&self, t: Duration) -> usize {
        self.limits
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(self.limits[0].1, |(_, l)| *l)
    }
    /// The limits seen within [from, to).
    fn between(&self, from: Duration, to: Duration) -> impl Iterator<Item = usize> + '_ {
        self.limits
            .iter()
            .filter(move |(t, _)| *t >= from && *t < to)
            .map(|(_, l)| *l)
    }
    /// The mean limit within [from, to), weighted by samples.
    fn mean_between(&self, from: Duration, to: Duration) -> f64 {
        let v: Vec<usize> = self.between(from, to).collect();
        v.iter().sum::<usize>() as f64 / v.len() as f64
    }
}

/// A request in flight: (end, sequence, latency, in flight when sent, dropped).
type InFlight = (Duration, u64, Duration, usize, bool);

/// A client that always keeps `limit()` requests in flight (a crawl with
/// a deep frontier), fed by a discrete-event simulation until `until`.
fn simulate(limiter: &mut Limiter, server: &mut Server<'_>, until: Duration) -> Run {
    // (end, seq, latency, in_flight at send, outcome)
    let mut heap: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut now = Duration::ZERO;
    let mut in_flight = 0;
    let mut seq = 0;
    let mut run = Run {
        limits: Vec::new(),
        changes: Vec::new(),
        completed: 0,
        drops: 0,
    };
    while now < until {
        while in_flight < limiter.limit() {
            in_flight += 1;
            let (latency, outcome) = server(now, in_flight);
            seq += 1;
            heap.push(Reverse((
                now + latency,
                seq,
                latency,
                in_flight,
                outcome == Outcome::Dropped,
            )));
        }
        let Reverse((end, _, latency, sent_with, dropped)) = heap.pop().unwrap();
        now = end;
        in_flight -= 1;
        let outcome = if dropped {
            run.drops += 1;
            Outcome::Dropped
        } else {
            run.completed += 1;
            Outcome::Ok
        };
        if let Some(change) = limiter.on_sample(Sample {
            now,
            latency,
            in_flight: sent_with,
            outcome,
        }) {
            assert_eq!(change.to, limiter.limit());
            run.changes.push(change);
        }
        let l = limiter.limit();
        let c = limiter.config();
        assert!(c.min <= l && l <= c.max, "limit {l} out of bounds");
        run.limits.push((now, l));
    }
    run
}

/// A server that serves `c` requests in parallel with latency `base` and
/// queues the rest: latency = base x max(1, in_flight / c).
fn queueing(c: usize, base: Duration) -> impl FnMut(Duration, usize) -> (Duration, Outcome) {
    move |_, n| (base.mul_f64((n as f64 / c as f64).max(1.0)), Outcome::Ok)
}

/// A thread-pool server: `workers` requests worked on at once, in order of
/// arrival, the rest waiting in its accept queue; a request is for a slow
/// page (`slow`, whatever the load) with probability `slow_share`, else it
/// takes `fast`. The shape of a small real server (Python's `http.server`, a
/// PHP-FPM pool): saturated from `workers` requests on, and a few pages
/// whose latency is no queue.
fn pool(
    workers: usize,
    fast: Duration,
    slow: Duration,
    slow_share: f64,
    seed: u64,
) -> impl FnMut(Duration, usize) -> (Duration, Outcome) {
    let mut free: BinaryHeap<Reverse<Duration>> =
        (0..workers).map(|_| Reverse(Duration::ZERO)).collect();
    let mut rng = Rng(seed);
    move |now, _| {
        // Requests arrive in time order: each takes the first worker free.
        let Reverse(at) = free.pop().unwrap();
        let service = if rng.unit() < slow_share { slow } else { fast };
        let end = at.max(now) + service;
        free.push(Reverse(end));
        (end - now, Outcome::Ok)
    }
}

fn limiter(min: usize, max: usize) -> Limiter {
    Limiter::new(LimiterConfig::with_bounds(min, max).unwrap())
}

#[test]
fn parses_the_cli_forms() {
    let d = LimiterConfig::default();
    assert_eq!("auto".parse::<LimiterConfig>().unwrap(), d);
    let c: LimiterConfig = " auto:4..512 ".parse().unwrap();
    assert_eq!((c.min, c.max, c.initial), (4, 512, 16));
    let c: LimiterConfig = "auto:2..=8".parse().unwrap();
    assert_eq!((c.min, c.max, c.initial), (2, 8, 8));
    let c: LimiterConfig = "auto:..100".parse().unwrap();
    assert_eq!((c.min, c.max), (DEFAULT_MIN, 100));
    let c: LimiterConfig = "auto:1000..".parse().unwrap();
    assert_eq!((c.min, c.max, c.initial), (1000, 1000, 1000));
    let c: LimiterConfig = "auto:4..".parse().unwrap();
    assert_eq!((c.min, c.max), (4, DEFAULT_MAX));

    for (bad, says) in [
        ("fast", "expected auto or auto:MIN..MAX"),
        ("auto4..8", "expected auto or auto:MIN..MAX"),
        ("auto:4-8", "expected auto or auto:MIN..MAX"),
        ("auto:x..8", "the minimum 'x' is not a whole number"),
        ("auto:4..-1", "the maximum '-1' is not a whole number"),
        ("auto:0..8", "at least 1"),
        ("auto:9..4", "the minimum 9 is above the maximum 4"),
    ] {
        let err = bad.parse::<LimiterConfig>().unwrap_err().to_string();
        assert!(err.contains(&format!("'{bad}'")), "{err}");
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn grows_while_latency_is_flat() {
    let mut l = limiter(1, 256);
    let run = simulate(&mut l, &mut |_, _| (20 * MS, Outcome::Ok), 2000 * MS);
    assert_eq!(run.final_limit(), 256);
    // Slow start: from 16 to 256 in two round trips (x4 while latency is flat).
    let reached = run.limits.iter().find(|(_, l)| *l == 256).unwrap().0;
    assert!(reached <= 80 * MS, "reached the max at {reached:?}");
    assert!(run.changes.iter().all(|c| c.reason == Reason::Grow));
}

#[test]
fn resumes_slow_start_after_a_passing_rise() {
    let mut l = limiter(1, 10_000);
    // A passing rise ends slow start; latency back to its no-load value:
    // no queue at all, so slow start resumes (HyStart++).
    let run = simulate(
        &mut l,
        &mut |now, _| {
            let rise = now > 100 * MS && now < 200 * MS;
            (if rise { 60 * MS } else { 20 * MS }, Outcome::Ok)
        },
        1000 * MS,
    );
    let low = run.between(150 * MS, 400 * MS).min().unwrap();
    assert!(low < 10_000, "the rise stopped slow start ({low})");
    assert_eq!(run.final_limit(), 10_000);
}

#[test]
fn settles_near_littles_law_for_a_saturated_server() {
    for (c, base) in [(32, 20 * MS), (8, 50 * MS), (100, 10 * MS), (4, 100 * MS)] {
        let mut l = limiter(1, 1024);
        let run = simulate(&mut l, &mut queueing(c, base), 60_000 * MS);
        // Little's law: throughput c / base times no-load latency base = c.
        let settled = run.mean_between(30_000 * MS, 60_000 * MS);
        let cf = c as f64;
        assert!(
            settled >= 0.8 * cf && settled <= 2.5 * cf,
            "C = {c}: settled at {settled:.1}"
        );
        let range: Vec<usize> = run.between(30_000 * MS, 60_000 * MS).collect();
        let (lo, hi) = (range.iter().min().unwrap(), range.iter().max().unwrap());
        assert!(
            *lo as f64 >= 0.3 * cf && *hi as f64 <= 2.5 * cf,
            "C = {c}: {lo}..{hi}"
        );
        // Nearly the server's full throughput: c / base requests per second.
        let best = 30.0 * cf / base.as_secs_f64();
        let done = run.limits.iter().filter(|(t, _)| *t >= 30_000 * MS).count() as f64;
        assert!(done >= 0.9 * best, "C = {c}: {done} of {best}");
    }
}

#[test]
fn keeps_growing_while_throughput_rises_with_latency() {
    // A client-bound crawl: latency grows with the load (b + k x n, here
    // twice the no-load latency at 256 in flight) but slower than the
    // load, so throughput n / (b + k n) still rises. A pure latency
    // limiter would stop at 1.5 x b (128); this one goes on while 4/5 of
    // the load serves 10% fewer pages, up to kn = 1.5 b (384).
    let (b, k) = (50.0e-3, 50.0e-3 / 256.0);
    let rate = |n: f64| n / (b + k * n);
    let mut l = limiter(1, 1024);
    let run = simulate(
        &mut l,
        &mut |_, n| (Duration::from_secs_f64(b + k * n as f64), Outcome::Ok),
        20_000 * MS,
    );
    let settled = run.mean_between(10_000 * MS, 20_000 * MS);
    assert!(settled >= 250.0, "settled at {settled:.0}");
    assert!(rate(settled) >= 0.85 * rate(512.0), "{settled:.0}");
    assert!(run.changes.iter().any(|c| c.reason == Reason::Throughput));
}

#[test]
fn drains_a_slow_start_overshoot_at_once() {
    // 32 workers at 50 ms: slow start's x4 steps judge each step by
    // requests sent before it, so the limit overshoots to 256 before
    // the queue shows. It must not take the 10%-a-round-trip path down
    // (some 15 round trips of a deep queue), but come back at once.
    for c in [32, 64] {
        let mut l = limiter(1, 512);
        let run = simulate(&mut l, &mut queueing(c, 50 * MS), 5_000 * MS);
        let peak = run.between(Duration::ZERO, 1_000 * MS).max().unwrap();
        let after = run.between(1_000 * MS, 5_000 * MS).max().unwrap();
        assert!(
            after <= 2 * c + c / 2,
            "C = {c}: peak {peak}, then up to {after}"
        );
    }
}

#[test]
fn shrinks_when_latency_jumps_and_recovers_when_it_falls() {
    let mut l = limiter(1, 128);
    let slow = |now: Duration| now >= 2_000 * MS && now < 5_000 * MS;
    let run = simulate(
        &mut l,
        &mut |now, _| (if slow(now) { 200 * MS } else { 20 * MS }, Outcome::Ok),
        8_000 * MS,
    );
    let before = run.between(1_500 * MS, 2_000 * MS).min().unwrap();
    assert_eq!(before, 128);
    // At most 10% a round trip: 200 ms.
    let after_1s = run.at(3_000 * MS);
    assert!((64..=110).contains(&after_1s), "{after_1s} after 1 s");
    let during = run.between(2_000 * MS, 5_000 * MS).min().unwrap();
    assert!(during <= 48, "shrank only to {during}");
    assert!(run.changes.iter().any(|c| c.reason == Reason::LatencyRise));
    // Back to 20 ms: the baseline never left it, so the limit grows back.
    let recovered = run.between(7_000 * MS, 8_000 * MS).min().unwrap();
    assert_eq!(recovered, 128);
}

#[test]
fn a_server_slower_for_good_is_probed_and_the_limit_grows_back() {
    // 20 ms, then 200 ms for good, whatever the load: not our queueing.
    let mut l = limiter(1, 128);
    let run = simulate(
        &mut l,
        &mut |now, _| {
            let latency = if now < 1_000 * MS { 20 * MS } else { 200 * MS };
            (latency, Outcome::Ok)
        },
        20_000 * MS,
    );
    let low = run.between(1_000 * MS, 10_000 * MS).min().unwrap();
    assert!(low < 64, "shrank only to {low}");
    let probe = run
        .changes
        .iter()
        .position(|c| c.reason == Reason::Probe)
        .expect("a probe");
    assert!(run.changes[probe..]
        .iter()
        .any(|c| c.reason == Reason::ProbeEnd));
    assert_eq!(l.baseline(), Some(200 * MS));
    assert_eq!(run.final_limit(), 128);
}

#[test]
fn shrinks_on_drops_and_hovers_below_the_threshold() {
    // A server that answers 503 at once to requests beyond 40 in flight.
    let threshold = 40;
    let mut l = limiter(1, 512);
    let run = simulate(
        &mut l,
        &mut |_, n| {
            if n > threshold {
                (20 * MS, Outcome::Dropped)
            } else {
                (20 * MS, Outcome::Ok)
            }
        },
        20_000 * MS,
    );
    assert!(run.changes.iter().any(|c| c.reason == Reason::Drop));
    let settled: Vec<usize> = run.between(10_000 * MS, 20_000 * MS).collect();
    let hi = *settled.iter().max().unwrap();
    let mean = settled.iter().sum::<usize>() as f64 / settled.len() as f64;
    assert!(hi <= 2 * threshold, "up to {hi}");
    assert!(mean >= 0.7 * threshold as f64, "mean {mean:.1}");
    assert!(
        run.drops * 10 < run.completed,
        "{} drops for {} pages",
        run.drops,
        run.completed
    );
}

#[test]
fn one_burst_of_drops_is_one_decrease() {
    let mut l = limiter(1, 100);
    let ms = |n: u32| n * MS;
    // Fill a first window with successes.
    for i in 1..=20 {
        l.on_sample(Sample {
            now: ms(i),
            latency: ms(10),
            in_flight: 16,
            outcome: Outcome::Ok,
        });
    }
    let before = l.limit();
    // Forty timeouts of requests all sent at t = 0.
    let mut decreases = 0;
    for i in 0..40 {
        let now = ms(100 + i);
        if let Some(c) = l.on_sample(Sample {
            now,
            latency: now,
            in_flight: before,
            outcome: Outcome::Dropped,
        }) {
            assert_eq!(c.reason, Reason::Drop);
            decreases += 1;
        }
    }
    assert_eq!(decreases, 1);
    assert!(l.limit() < before);
}

#[test]
fn drop_tolerance_ignores_rare_failures() {
    let config = LimiterConfig {
        drop_tolerance: 0.05,
        ..LimiterConfig::with_bounds(1, 64).unwrap()
    };
    let mut l = Limiter::new(config);
    let mut rng = Rng(7);
    let run = simulate(
        &mut l,
        &mut |_, _| {
            let outcome = if rng.unit() < 0.01 {
                Outcome::Dropped
            } else {
                Outcome::Ok
            };
            (20 * MS, outcome)
        },
        2_000 * MS,
    );
    assert_eq!(run.final_limit(), 64);
}

#[test]
fn does_not_grow_when_app_limited() {
    let mut l = limiter(1, 512);
    for i in 1..=2000u32 {
        // Only 3 requests ever in flight: the crawl has nothing more to send.
        l.on_sample(Sample {
            now: i * MS,
            latency: 10 * MS,
            in_flight: 3,
            outcome: Outcome::Ok,
        });
    }
    assert_eq!(l.limit(), 16);
}

#[test]
fn never_leaves_its_bounds_under_noise() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (min, max) = (2 + (seed as usize % 5), 20 + (seed as usize * 7) % 100);
        let mut l = limiter(min, max);
        let c = 1 + (rng.next() % 64) as usize;
        let run = simulate(
            &mut l,
            &mut |_, n| {
                // Heavy-tailed noise around a queueing server, and random drops.
                let jitter = 0.5 + rng.unit() + if rng.unit() < 0.05 { 5.0 } else { 0.0 };
                let base = 20.0 * (n as f64 / c as f64).max(1.0) * jitter;
                let outcome = if rng.unit() < 0.02 {
                    Outcome::Dropped
                } else {
                    Outcome::Ok
                };
                (Duration::from_secs_f64(base / 1e3), outcome)
            },
            5_000 * MS,
        );
        // `simulate` asserts the bounds after every sample.
        let t = l.trajectory();
        assert!(t.min >= min && t.max <= max, "seed {seed}: {t:?}");
        assert!(run.changes.iter().all(|c| c.from != c.to));
    }
}

#[test]
fn noise_does_not_make_it_oscillate() {
    let mut rng = Rng(42);
    let mut l = limiter(1, 1024);
    let mut queue = queueing(32, 20 * MS);
    let run = simulate(
        &mut l,
        &mut |now, n| {
            let (lat, o) = queue(now, n);
            (lat.mul_f64(0.8 + 0.4 * rng.unit()), o)
        },
        30_000 * MS,
    );
    let settled: Vec<usize> = run.between(15_000 * MS, 30_000 * MS).collect();
    let (lo, hi) = (
        *settled.iter().min().unwrap(),
        *settled.iter().max().unwrap(),
    );
    assert!(lo >= 16 && hi <= 80, "between {lo} and {hi}");
}

#[test]
fn trajectory_and_changes_tell_the_story() {
    let mut l = limiter(4, 64);
    let run = simulate(&mut l, &mut queueing(16, 10 * MS), 3_000 * MS);
    let t = l.trajectory();
    assert_eq!(t.last, l.limit());
    assert_eq!(t.changes, run.changes.len() as u64);
    assert!(t.min >= 4 && t.max <= 64 && t.min <= t.last && t.last <= t.max);
    let first = run.changes[0];
    assert_eq!((first.from, first.reason), (16, Reason::Grow));
    let text = first.to_string();
    assert!(text.starts_with("limit 16 -> "), "{text}");
    assert!(text.contains("grow"), "{text}");
}

#[test]
fn silly_settings_are_brought_into_range() {
    let l = Limiter::new(LimiterConfig {
        min: 0,
        max: 0,
        initial: 99,
        tolerance: f64::NAN,
        smoothing: 7.0,
        drop_backoff: -1.0,
        drop_tolerance: 2.0,
        window_samples: 0,
        probe_interval: 0,
    });
    assert_eq!(l.limit(), 1);
    let c = l.config();
    assert_eq!((c.min, c.max, c.tolerance, c.smoothing), (1, 1, 1.5, 1.0));
}

#[test]
fn reasons_have_stable_snake_case_names() {
    let all = [
        Reason::Grow,
        Reason::LatencyRise,
        Reason::Drop,
        Reason::Throughput,
        Reason::Probe,
        Reason::ProbeEnd,
    ];
    let names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "grow",
            "latency_rise",
            "drop",
            "throughput_rising",
            "probe",
            "probe_end"
        ]
    );
    for (reason, name) in all.iter().zip(&names) {
        // The human form is the same words with spaces.
        assert_eq!(reason.to_string().replace(' ', "_"), *name);
    }
}

#[test]
fn changes_carry_structured_fields() {
    let mut l = limiter(1, 256);
    let run = simulate(&mut l, &mut |_, _| (20 * MS, Outcome::Ok), 200 * MS);
    let first = run.changes[0];
    assert_eq!((first.from, first.reason.as_str()), (16, "grow"));
    assert!(first.to > first.from);
    assert_eq!(first.rtt_ms(), 20.0);
    assert_eq!(first.baseline_ms(), 20.0);
}

#[test]
fn a_thread_pool_with_a_few_slow_pages_is_neither_starved_nor_flooded() {
    // A pool of 8 or 16 workers at 20 ms a page; 1% of the pages take 2 s
    // and hold a worker all that time. A slow page is no queue: read as
    // one, it collapsed the limit to 1 or 2 (a 2 s page then holds up the
    // crawl) and the next quiet windows sent it back up to 250.
    for workers in [8, 16] {
        for seed in 1..=3u64 {
            let server = || pool(workers, 20 * MS, 2_000 * MS, 0.01, seed);
            let mut l = limiter(1, 512);
            let run = simulate(&mut l, &mut server(), 60_000 * MS);
            let mut fixed = limiter(workers, workers);
            let best = simulate(&mut fixed, &mut server(), 60_000 * MS).completed;
            let told = format!("{workers} workers, seed {seed}");
            // Nearly the pages of a fixed limit at the pool's size.
            assert!(
                run.completed as f64 >= 0.93 * best as f64,
                "{told}: {} pages, {best} at a fixed {workers}",
                run.completed
            );
            let late: Vec<usize> = run.between(5_000 * MS, 60_000 * MS).collect();
            let low = *late.iter().min().unwrap();
            assert!(low >= workers / 2, "{told}: down to {low}");
            let mean = run.mean_between(5_000 * MS, 60_000 * MS);
            let w = workers as f64;
            assert!(mean >= w && mean <= 2.0 * w, "{told}: mean {mean:.1}");
            let flooded = late.iter().filter(|&&n| n > 4 * workers).count();
            assert!(
                flooded * 100 <= late.len(),
                "{told}: {flooded} of {} samples above {}",
                late.len(),
                4 * workers
            );
        }
    }
}

#[test]
fn a_few_slow_pages_on_an_idle_server_are_not_a_queue() {
    // A server with room for everyone, 1% of whose pages take 2 s: the
    // limit goes to its maximum and stays there.
    for seed in 1..=3u64 {
        let mut l = limiter(1, 512);
        let run = simulate(
            &mut l,
            &mut pool(100_000, 20 * MS, 2_000 * MS, 0.01, seed),
            30_000 * MS,
        );
        let late = run.mean_between(5_000 * MS, 30_000 * MS);
        assert!(late >= 0.95 * 512.0, "seed {seed}: mean {late:.0}");
    }
}
