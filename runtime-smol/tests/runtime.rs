//! `SmolRuntime`: threads, timers, clocks, shutdown.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use semcrawl_core::Runtime;
use semcrawl_smol::SmolRuntime;

/// Wait for `rx` with a deadline (no test may hang).
fn recv_within<T>(
    rt: &SmolRuntime,
    rx: &smol::channel::Receiver<T>,
    timeout: Duration,
) -> Option<T> {
    rt.block_on(smol::future::or(async { rx.recv().await.ok() }, async {
        smol::Timer::after(timeout).await;
        None
    }))
}

#[test]
fn cpu_bound_tasks_run_in_parallel_on_the_worker_threads() {
    let rt = SmolRuntime::with_threads(2).unwrap();
    assert_eq!(rt.threads(), 2);
    let started = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = smol::channel::unbounded();
    for _ in 0..2 {
        let (started, tx) = (started.clone(), tx.clone());
        // Each task spins (never yields) until both are running: that only
        // happens if two threads poll tasks at once.
        rt.spawn(Box::pin(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(10);
            while started.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            tx.send((started.load(Ordering::SeqCst), name))
                .await
                .unwrap();
        }));
    }
    let mut names = Vec::new();
    for _ in 0..2 {
        let (seen, name) = recv_within(&rt, &rx, Duration::from_secs(20)).unwrap();
        assert_eq!(seen, 2, "the two tasks never ran at the same time");
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["semcrawl-smol-0", "semcrawl-smol-1"]);
}

#[test]
fn sleep_waits_and_now_is_monotonic() {
    let rt = SmolRuntime::with_threads(1).unwrap();
    let before = rt.now();
    rt.block_on(rt.sleep(Duration::from_millis(50)));
    let after = rt.now();
    assert!(
        after - before >= Duration::from_millis(50),
        "{:?}",
        after - before
    );
    assert!(after - before < Duration::from_secs(5));
}

#[test]
fn unix_millis_is_wall_clock_time() {
    let rt = SmolRuntime::with_threads(1).unwrap();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let ours = rt.unix_millis();
    assert!(ours.abs_diff(wall) < 1000, "{ours} vs {wall}");
}

#[test]
fn block_on_accepts_futures_that_are_not_send() {
    let rt = SmolRuntime::with_threads(1).unwrap();
    let local = std::rc::Rc::new(41);
    let got = rt.block_on(async move { *local + 1 });
    assert_eq!(got, 42);
}

#[test]
fn spawn_task_returns_the_output() {
    let rt = SmolRuntime::with_threads(1).unwrap();
    let task = rt.spawn_task(async { 6 * 7 });
    assert_eq!(rt.block_on(task), 42);
}

#[test]
fn dropping_the_runtime_stops_its_threads_and_drops_pending_tasks() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let rt = SmolRuntime::with_threads(2).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let (tx, rx) = smol::channel::bounded(1);
    let flag = Flag(dropped.clone());
    rt.spawn(Box::pin(async move {
        let _flag = flag;
        tx.send(()).await.unwrap();
        std::future::pending::<()>().await;
    }));
    recv_within(&rt, &rx, Duration::from_secs(10)).unwrap();
    assert!(!dropped.load(Ordering::SeqCst));
    // Drop joins the worker threads, then the executor and its tasks go.
    drop(rt);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the pending task outlived the runtime"
    );
}

#[test]
fn the_last_handle_may_be_dropped_by_a_task_on_a_worker_thread() {
    let rt = SmolRuntime::with_threads(2).unwrap();
    let (go_tx, go_rx) = smol::channel::bounded::<()>(1);
    let (done_tx, done_rx) = smol::channel::bounded::<()>(1);
    let inner = rt.clone();
    rt.spawn(Box::pin(async move {
        let _ = go_rx.recv().await;
        // This drops the last handle: Drop runs on this worker thread and
        // must not try to join it.
        drop(inner);
        let _ = done_tx.send(()).await;
    }));
    drop(rt);
    smol::block_on(go_tx.send(())).unwrap();
    let done = smol::block_on(smol::future::or(
        async { done_rx.recv().await.ok() },
        async {
            smol::Timer::after(Duration::from_secs(10)).await;
            None
        },
    ));
    assert!(
        done.is_some(),
        "the task did not finish after dropping the last handle"
    );
}
