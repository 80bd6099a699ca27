//! The byte gate: a budget of bytes that pages in flight may hold.
//!
//! A count gate (a semaphore of N permits) bounds how many pages are in the
//! pipeline, but not how much memory they hold: one 10 MiB page weighs as much
//! as five hundred 20 KiB ones. The byte gate bounds the memory itself. A page
//! *admits* itself with a small [`Reservation`] before its request is sent,
//! [`grows`](Reservation::grow) it before it reads more of its body or builds
//! its parse tree, [`shrinks`](Reservation::shrink_to) it to the size of its
//! record after parsing, and releases it (by drop) once the record is stored.
//! The sum of all reservations never exceeds the budget: [`ByteGate::peak`] is
//! the high-water mark, and tests assert it.
//!
//! # Fairness
//!
//! Waiters are served strictly in order, and a large request at the head of a
//! queue is never overtaken by smaller ones behind it, so no page starves.
//! Pages already in flight come first: a waiting `grow` is served before any
//! waiting admission, oldest page first, because finishing a page is what
//! gives memory back.
//!
//! # Waiting, not refetching
//!
//! A page learns what it needs only once its response head arrives (the
//! `Content-Length`), after it was admitted with an estimate. When the rest
//! does not fit, the page must wait, and what it holds while it waits
//! matters: bytes it is not using yet (the unused part of its estimate)
//! would only keep older pages from finishing. So a page that knows its
//! whole need asks for it with [`Reservation::grow_or_park`]: if the bytes
//! do not fit at once, it *parks*, giving back everything above what its
//! open response costs ([`PAGE_OVERHEAD`]), and waits in the growers' queue
//! for the rest. Its response stays open, nothing it read is lost, and it
//! is not fetched again. While any page waits to grow no new page is
//! admitted, so the pages admitted are the ones the budget can take to
//! completion, one after the other, oldest first: finishing pages release
//! their bytes, and the oldest waiting page gets them first.
//!
//! # No deadlock
//!
//! Growing reservations can still deadlock: if every page holding bytes
//! waits to grow, none will ever release (pages that grow as they read,
//! without a known length, hold what they read; parked pages hold their
//! overhead). The gate detects exactly that state (every holder is a
//! waiting grower and the oldest cannot be served) and *preempts* the
//! youngest waiting page: its bytes are taken back and its `grow` returns
//! [`GateError::Preempted`], so the caller drops what it read and starts
//! the page again later. The oldest page is never preempted, so the crawl
//! always progresses. Parking makes this a rare last resort: it takes as
//! many parked pages as it takes overheads to fill the budget less the
//! oldest page's need. A single request larger than the whole budget fails
//! at once with [`GateError::OverBudget`] instead of waiting forever; the
//! pipeline records such a page as an `over_budget` error.
//!
//! Each waiter gets its own one-shot channel, so a grant and a cancellation
//! (a waiting future dropped by a timeout) cannot race: a grant that finds
//! its waiter gone is taken back under the same lock.
//!
//! ```
//! use semcrawl_core::ByteGate;
//! futures::executor::block_on(async {
//!     let gate = ByteGate::new(1000);
//!     let mut page = gate.admit(100).await.unwrap();
//!     page.grow(400).await.unwrap();
//!     assert_eq!(gate.held(), 500);
//!     page.shrink_to(50);
//!     drop(page);
//!     assert_eq!((gate.held(), gate.peak()), (0, 500));
//! });
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::oneshot;

/// Bytes reserved per page beyond its body: request and response heads, the
/// client's buffers, the record. Also the size of a page's first reservation,
/// taken before its request is sent.
///
/// Why 128 KiB: a page admitted and waiting to grow its body holds an open
/// response whose bytes keep arriving into the HTTP client's own buffers
/// (for isahc: curl's 16 KiB receive buffer and a pipe of four chunks of up
/// to 16 KiB each, plus the easy handle), which the gate cannot see.
/// Doubling it from 64 KiB took several MiB off the peak RSS of a crawl of
/// large pages at a high concurrency (`docs/bench/constants.md`).
pub const PAGE_OVERHEAD: u64 = 128 * 1024;

/// Why the gate refused bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateError {
    /// The request alone exceeds the whole budget.
    OverBudget,
    /// Every page holding bytes was waiting for more; this one, the youngest,
    /// gave its bytes back so the others can finish. Try the page again.
    Preempted,
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateError::OverBudget => f.write_str("the page does not fit in the memory budget"),
            GateError::Preempted => f.write_str("preempted to break a memory deadlock"),
        }
    }
}

impl std::error::Error for GateError {}

enum Grant {
    Granted,
    Preempted,
}

struct Waiter {
    /// Admission order of the page (growers) or of the request (admissions).
    ticket: u64,
    /// Bytes asked for.
    want: u64,
    /// Bytes the page already holds (growers): what a preemption takes back.
    holding: u64,
    tx: oneshot::Sender<Grant>,
}

#[derive(Default)]
struct State {
    budget: u64,
    held: u64,
    peak: u64,
    /// Reservations holding more than zero bytes.
    holders: usize,
    next_ticket: u64,
    /// Waiting growers, oldest page first.
    growers: VecDeque<Waiter>,
    /// Waiting admissions, first come first served.
    admissions: VecDeque<Waiter>,
}

impl State {
    fn take(&mut self, bytes: u64) {
        self.held += bytes;
        self.peak = self.peak.max(self.held);
    }

    /// Serve waiters in order while the head fits, then break a deadlock if
    /// there is one.
    fn dispatch(&mut self) {
        loop {
            // Growers first: finishing pages is what frees memory.
            while let Some(head) = self.growers.front() {
                if head.tx.is_canceled() {
                    self.growers.pop_front();
                    continue;
                }
                if self.held + head.want > self.budget {
                    break;
                }
                let w = self.growers.pop_front().expect("front exists");
                self.take(w.want);
                if w.holding == 0 {
                    self.holders += 1;
                }
                if w.tx.send(Grant::Granted).is_err() {
                    // The waiter left between the check and the send.
                    self.held -= w.want;
                    if w.holding == 0 {
                        self.holders -= 1;
                    }
                }
            }
            if self.growers.iter().all(|w| w.tx.is_canceled()) {
                self.growers.clear();
                while let Some(head) = self.admissions.front() {
                    if head.tx.is_canceled() {
                        self.admissions.pop_front();
                        continue;
                    }
                    if self.held + head.want > self.budget {
                        break;
                    }
                    let w = self.admissions.pop_front().expect("front exists");
                    self.take(w.want);
                    self.holders += 1;
                    if w.tx.send(Grant::Granted).is_err() {
                        self.held -= w.want;
                        self.holders -= 1;
                    }
                }
            }
            if !self.break_deadlock() {
                return;
            }
        }
    }

    /// If every holder waits to grow, preempt the youngest waiting grower
    /// (never the oldest). Returns whether anything changed.
    fn break_deadlock(&mut self) -> bool {
        self.growers.retain(|w| !w.tx.is_canceled());
        let waiting_holders = self.growers.iter().filter(|w| w.holding > 0).count();
        if self.growers.len() < 2 || waiting_holders < self.holders {
            return false;
        }
        // The head could not be served (dispatch stopped there) and nobody
        // else will release: take back the youngest page's bytes.
        let victim = self.growers.pop_back().expect("at least two growers");
        if victim.tx.send(Grant::Preempted).is_ok() {
            self.held -= victim.holding;
            if victim.holding > 0 {
                self.holders -= 1;
            }
        }
        true
    }
}

/// A budget of bytes shared by all pages of a crawl. Cheap to clone.
#[derive(Clone)]
pub struct ByteGate {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for ByteGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("ByteGate")
            .field("budget", &s.budget)
            .field("held", &s.held)
            .field("peak", &s.peak)
            .finish()
    }
}

impl ByteGate {
    /// A gate holding at most `budget` bytes.
    pub fn new(budget: u64) -> Self {
        ByteGate {
            state: Arc::new(Mutex::new(State {
                budget,
                ..State::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters half
        // updated in a way that matters more than stopping the crawl would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The budget.
    pub fn budget(&self) -> u64 {
        self.lock().budget
    }

    /// Bytes reserved right now.
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.lock().peak
    }

    /// Pages waiting to be admitted or to grow.
    pub fn waiting(&self) -> usize {
        let s = self.lock();
        s.growers.len() + s.admissions.len()
    }

    /// Wait until `bytes` fit, then hold them. Admissions are served in
    /// arrival order, after every waiting `grow`.
    pub async fn admit(&self, bytes: u64) -> Result<Reservation, GateError> {
        let ticket = {
            let mut s = self.lock();
            if bytes > s.budget {
                return Err(GateError::OverBudget);
            }
            s.next_ticket += 1;
            s.next_ticket
        };
        let mut reservation = Reservation {
            gate: self.clone(),
            ticket,
            bytes: 0,
            wanted: 0,
        };
        reservation.request(bytes, Queue::Admissions, None).await?;
        Ok(reservation)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Queue {
    Admissions,
    Growers,
}

/// Bytes held by one page. Released when dropped.
#[must_use = "a reservation releases its bytes when dropped"]
pub struct Reservation {
    gate: ByteGate,
    ticket: u64,
    bytes: u64,
    /// What the last request asked to hold in all (see [`Reservation::wanted`]).
    wanted: u64,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("ticket", &self.ticket)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The total the last `grow` asked to hold (held + asked). After a
    /// [`GateError::Preempted`], this is the least the page is known to
    /// need: admitting that much at once next time means the page never
    /// has to grow (and so never to be preempted) for what it already knew.
    pub fn wanted(&self) -> u64 {
        self.wanted
    }

    /// Wait until `extra` more bytes fit, then hold them too.
    ///
    /// On [`GateError::Preempted`] the reservation holds nothing any more:
    /// the caller must drop what it had read and start the page again.
    /// If this future is dropped while waiting, the reservation is left as it
    /// was (or grown, if the grant raced the drop): never inconsistent.
    pub async fn grow(&mut self, extra: u64) -> Result<(), GateError> {
        self.request(extra, Queue::Growers, None).await
    }

    /// Like [`grow`](Reservation::grow), for a page that knows the rest of
    /// its need: if the `extra` bytes do not fit at once, first give back
    /// everything held above `park` (bytes the page holds but does not use
    /// yet), so that older pages can use them while this one waits (see
    /// the module docs). Once granted, the page holds `bytes() + extra`
    /// (counted before the call), as with `grow`.
    ///
    /// ```
    /// use semcrawl_core::ByteGate;
    /// futures::executor::block_on(async {
    ///     let gate = ByteGate::new(1000);
    ///     let mut page = gate.admit(300).await.unwrap();
    ///     page.grow_or_park(500, 100).await.unwrap(); // fits: no parking
    ///     assert_eq!(page.bytes(), 800);
    /// });
    /// ```
    pub async fn grow_or_park(&mut self, extra: u64, park: u64) -> Result<(), GateError> {
        self.request(extra, Queue::Growers, Some(park)).await
    }

    async fn request(
        &mut self,
        extra: u64,
        queue: Queue,
        park: Option<u64>,
    ) -> Result<(), GateError> {
        if extra == 0 {
            return Ok(());
        }
        let target = self.bytes + extra;
        self.wanted = target;
        let mut extra = extra;
        let rx = {
            let mut s = self.gate.lock();
            if target > s.budget {
                return Err(GateError::OverBudget);
            }
            let nobody_ahead =
                s.growers.is_empty() && (queue == Queue::Growers || s.admissions.is_empty());
            if nobody_ahead && s.held + extra <= s.budget {
                s.take(extra);
                if self.bytes == 0 {
                    s.holders += 1;
                }
                self.bytes += extra;
                return Ok(());
            }
            if let Some(park) = park.filter(|&p| p < self.bytes) {
                // Park: what is given back goes to older pages first (the
                // dispatch below), and the grant restores it with the rest.
                s.held -= self.bytes - park;
                if park == 0 {
                    s.holders -= 1;
                }
                self.bytes = park;
                extra = target - park;
            }
            let (tx, rx) = oneshot::channel();
            let waiter = Waiter {
                ticket: self.ticket,
                want: extra,
                holding: self.bytes,
                tx,
            };
            match queue {
                Queue::Admissions => s.admissions.push_back(waiter),
                Queue::Growers => {
                    // Oldest page first: keep the queue sorted by ticket.
                    let at = s.growers.partition_point(|w| w.ticket < self.ticket);
                    s.growers.insert(at, waiter);
                }
            }
            s.dispatch();
            rx
        };
        let mut guard = GrowGuard {
            reservation: self,
            rx: Some(rx),
            extra,
        };
        guard.wait().await
    }

    /// Give back everything above `bytes` (no-op if holding less).
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes >= self.bytes {
            return;
        }
        let mut s = self.gate.lock();
        s.held -= self.bytes - bytes;
        if bytes == 0 {
            s.holders -= 1;
        }
        self.bytes = bytes;
        s.dispatch();
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

/// Applies a grant to the reservation even if the waiting future is dropped.
struct GrowGuard<'a> {
    reservation: &'a mut Reservation,
    rx: Option<oneshot::Receiver<Grant>>,
    extra: u64,
}

impl GrowGuard<'_> {
    async fn wait(&mut self) -> Result<(), GateError> {
        let rx = self.rx.as_mut().expect("waited once");
        let grant = rx.await;
        self.rx = None;
        self.apply(grant.ok())
    }

    fn apply(&mut self, grant: Option<Grant>) -> Result<(), GateError> {
        match grant {
            Some(Grant::Granted) => {
                self.reservation.bytes += self.extra;
                Ok(())
            }
            Some(Grant::Preempted) | None => {
                // The gate already took these bytes back.
                self.reservation.bytes = 0;
                Err(GateError::Preempted)
            }
        }
    }
}

impl Drop for GrowGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // Hold the gate's lock so no grant is sent between close and read.
            let gate = self.reservation.gate.clone();
            let _s = gate.lock();
            rx.close();
            if let Ok(Some(grant)) = rx.try_recv() {
                drop(_s);
                let _ = self.apply(Some(grant));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::task::Poll;

    async fn yield_now() {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    #[test]
    fn over_budget_fails_at_once() {
        futures::executor::block_on(async {
            let gate = ByteGate::new(100);
            assert_eq!(gate.admit(101).await.unwrap_err(), GateError::OverBudget);
            let mut r = gate.admit(60).await.unwrap();
            assert_eq!(r.grow(41).await.unwrap_err(), GateError::OverBudget);
            assert_eq!(r.bytes(), 60);
        });
    }

    #[test]
    fn admissions_are_fifo_and_big_head_is_not_overtaken() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let order = Rc::new(RefCell::new(Vec::new()));
        let first = futures::executor::block_on(gate.admit(90)).unwrap();
        for (name, want) in [("big", 80u64), ("small1", 5), ("small2", 5)] {
            let gate = gate.clone();
            let order = order.clone();
            sp.spawn_local(async move {
                let r = gate.admit(want).await.unwrap();
                order.borrow_mut().push(name);
                // Hold until everyone is admitted.
                futures::future::pending::<()>().await;
                drop(r);
            })
            .unwrap();
        }
        pool.run_until_stalled();
        // 10 bytes are free and small1 would fit, but big is ahead of it.
        assert!(order.borrow().is_empty());
        drop(first);
        pool.run_until_stalled();
        assert_eq!(*order.borrow(), vec!["big", "small1", "small2"]);
        assert_eq!(gate.held(), 90);
        assert!(gate.peak() <= 100);
    }

    #[test]
    fn growers_go_before_admissions() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut a = futures::executor::block_on(gate.admit(50)).unwrap();
        let b = futures::executor::block_on(gate.admit(50)).unwrap();
        {
            let gate = gate.clone();
            let order = order.clone();
            sp.spawn_local(async move {
                let _r = gate.admit(10).await.unwrap();
                order.borrow_mut().push("admit");
            })
            .unwrap();
        }
        pool.run_until_stalled();
        let order2 = order.clone();
        sp.spawn_local(async move {
            a.grow(40).await.unwrap();
            order2.borrow_mut().push("grow");
            drop(a);
        })
        .unwrap();
        pool.run_until_stalled();
        assert!(order.borrow().is_empty());
        drop(b);
        pool.run_until_stalled();
        assert_eq!(*order.borrow(), vec!["grow", "admit"]);
        assert_eq!(gate.held(), 0);
        assert_eq!(gate.peak(), 100);
    }

    #[test]
    fn deadlock_preempts_the_youngest_and_the_oldest_finishes() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let results = Rc::new(RefCell::new(Vec::new()));
        let pages: Vec<_> = (0..3)
            .map(|_| futures::executor::block_on(gate.admit(30)).unwrap())
            .collect();
        for (i, mut page) in pages.into_iter().enumerate() {
            let results = results.clone();
            sp.spawn_local(async move {
                // Each wants 40 more: 3 x 70 > 100, so all three wait.
                let r = page.grow(40).await;
                results.borrow_mut().push((i, r, page.bytes()));
            })
            .unwrap();
        }
        pool.run_until_stalled();
        // Page 2 (youngest) was preempted, which let page 0 grow; page 1
        // waits for page 0 to finish and may be preempted in turn, never 0.
        let r = results.borrow().clone();
        assert!(r.contains(&(2, Err(GateError::Preempted), 0)), "{r:?}");
        assert!(r.contains(&(0, Ok(()), 70)), "{r:?}");
        assert!(gate.peak() <= 100);
        assert_eq!(gate.held(), 0, "all pages dropped their reservations");
    }

    #[test]
    fn parked_pages_wait_instead_of_being_preempted() {
        // The same shape as the deadlock above, but each page knows its
        // whole need and parks: nobody is preempted, all three finish, the
        // oldest first.
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let results = Rc::new(RefCell::new(Vec::new()));
        let pages: Vec<_> = (0..3)
            .map(|_| futures::executor::block_on(gate.admit(30)).unwrap())
            .collect();
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let mut release = Some(tx);
        let rx = futures::FutureExt::shared(rx);
        for (i, mut page) in pages.into_iter().enumerate() {
            let results = results.clone();
            let rx = rx.clone();
            sp.spawn_local(async move {
                let r = page.grow_or_park(40, 10).await;
                results.borrow_mut().push((i, r, page.bytes()));
                if i == 0 {
                    // The oldest holds its bytes until told to finish.
                    let _ = rx.await;
                }
            })
            .unwrap();
        }
        pool.run_until_stalled();
        // Pages 1 and 2 parked at 10 bytes each, which let page 0 grow.
        assert_eq!(*results.borrow(), vec![(0, Ok(()), 70)]);
        assert_eq!(gate.held(), 90);
        release.take().unwrap().send(()).unwrap();
        pool.run_until_stalled();
        let r = results.borrow().clone();
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r.iter().all(|(_, r, b)| r.is_ok() && *b == 70), "{r:?}");
        assert_eq!(r[1].0, 1, "the older parked page went first: {r:?}");
        assert!(gate.peak() <= 100);
        assert_eq!(gate.held(), 0);
    }

    #[test]
    fn a_dropped_parked_waiter_keeps_its_parked_bytes_only() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let full = futures::executor::block_on(gate.admit(60)).unwrap();
        let mut page = futures::executor::block_on(gate.admit(40)).unwrap();
        let handle = sp
            .spawn_local_with_handle(async move {
                let _ = page.grow_or_park(50, 10).await;
                futures::future::pending::<()>().await;
            })
            .unwrap();
        pool.run_until_stalled();
        assert_eq!(gate.held(), 70, "parked at 10");
        drop(handle);
        drop(full);
        pool.run_until_stalled();
        assert_eq!(gate.held(), 0, "the waiting page and its bytes are gone");
        assert_eq!(gate.waiting(), 0);
    }

    #[test]
    fn dropped_waiter_leaves_nothing_behind() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(100);
        let full = futures::executor::block_on(gate.admit(100)).unwrap();
        let handle = {
            let gate = gate.clone();
            sp.spawn_local_with_handle(async move {
                let _r = gate.admit(50).await;
            })
            .unwrap()
        };
        pool.run_until_stalled();
        assert_eq!(gate.waiting(), 1);
        drop(handle); // cancels the waiting admission
        drop(full);
        pool.run_until_stalled();
        assert_eq!(gate.held(), 0);
        assert_eq!(gate.waiting(), 0);
        // The gate still works.
        let r = futures::executor::block_on(gate.admit(100)).unwrap();
        assert_eq!(r.bytes(), 100);
    }

    #[test]
    fn many_pages_never_exceed_budget() {
        let mut pool = LocalPool::new();
        let sp = pool.spawner();
        let gate = ByteGate::new(10_000);
        let done = Rc::new(RefCell::new(0));
        for i in 0..200u64 {
            let gate = gate.clone();
            let done = done.clone();
            sp.spawn_local(async move {
                loop {
                    let mut r = gate.admit(100).await.unwrap();
                    let mut ok = true;
                    for step in 0..(i % 7) {
                        if r.grow(300 + step * 200).await.is_err() {
                            ok = false;
                            break;
                        }
                        yield_now().await;
                    }
                    if ok {
                        r.shrink_to(10);
                        yield_now().await;
                        *done.borrow_mut() += 1;
                        break;
                    }
                }
            })
            .unwrap();
        }
        pool.run();
        assert_eq!(*done.borrow(), 200);
        assert_eq!(gate.held(), 0);
        assert!(gate.peak() <= 10_000);
    }
}
