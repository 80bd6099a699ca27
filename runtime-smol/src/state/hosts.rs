//! The frontier's in-memory part: the active hosts, their round-robin ring
//! and the heads of their queues.
//!
//! Only *active* hosts live here: hosts with URLs pending (queued or in
//! flight), up to a cap derived from the byte budget. A host whose last URL
//! is done is evicted at once; hosts beyond the cap wait on disk ("parked")
//! until an active host is evicted. Each active host keeps at most a few of
//! its next URLs in memory (its queue's head), read from the database in
//! small batches so popping does not cost a query per URL.
//!
//! The ring serves hosts in turn. Evicting a host would mean finding it in
//! the ring; instead each admission gets a ticket, and ring entries whose
//! ticket is no longer the host's are dropped when the ring reaches them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// One queued URL read from the database, not yet handed out.
#[derive(Debug)]
pub(crate) struct Head {
    pub id: i64,
    pub depth: u32,
    pub redirects: u32,
    pub url: String,
    pub parent: Option<String>,
}

impl Head {
    /// Bytes the head costs in memory: its strings plus the struct.
    pub fn bytes(&self) -> usize {
        self.url.capacity() + self.parent.as_ref().map_or(0, String::capacity) + 64
    }
}

/// An active host.
#[derive(Debug)]
pub(crate) struct Host {
    pub name: Arc<str>,
    /// URLs of this host pushed and not done (mirrors the `hosts` table).
    pub pending: u64,
    /// URLs of this host handed out and not done.
    pub in_flight: u64,
    /// The highest queue id read into `heads` or handed out: the next read
    /// starts after it (ids grow with every push, so this is FIFO order).
    pub cursor: i64,
    pub heads: VecDeque<Head>,
    ticket: u64,
}

impl Host {
    /// URLs of this host still on disk past the cursor.
    pub fn unread(&self) -> u64 {
        self.pending - self.in_flight - self.heads.len() as u64
    }

    /// Whether this host has a URL to hand out.
    pub fn has_waiting(&self) -> bool {
        self.pending > self.in_flight
    }
}

/// Fixed bytes per active host: the entry in both maps, the ring slot, the
/// struct and its empty deque.
const HOST_OVERHEAD: usize = 200;

/// The active hosts (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Hosts {
    by_id: HashMap<i64, Host>,
    by_name: HashMap<Arc<str>, i64>,
    ring: VecDeque<(i64, u64)>,
    next_ticket: u64,
    heads_bytes: usize,
    names_bytes: usize,
}

impl Hosts {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn id_of(&self, name: &str) -> Option<i64> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, id: i64) -> Option<&Host> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut Host> {
        self.by_id.get_mut(&id)
    }

    /// Make a parked host active, at the end of the ring. It has nothing in
    /// flight (in-flight hosts are never evicted), so its queue is read from
    /// the start.
    pub fn admit(&mut self, id: i64, name: &str, pending: u64) {
        debug_assert!(!self.by_id.contains_key(&id));
        let name: Arc<str> = name.into();
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.names_bytes += name.len();
        self.by_name.insert(name.clone(), id);
        self.by_id.insert(
            id,
            Host {
                name,
                pending,
                in_flight: 0,
                cursor: 0,
                heads: VecDeque::new(),
                ticket,
            },
        );
        self.ring.push_back((id, ticket));
    }

    /// Forget a host with nothing pending; its ring entry goes stale.
    pub fn evict(&mut self, id: i64) {
        if let Some(host) = self.by_id.remove(&id) {
            debug_assert!(host.heads.is_empty() && host.in_flight == 0);
            self.by_name.remove(&host.name);
            self.names_bytes -= host.name.len();
            self.heads_bytes -= host.heads.iter().map(Head::bytes).sum::<usize>();
        }
        // Keep the ring from filling up with stale entries when many hosts
        // come and go between two pops.
        if self.ring.len() > 2 * self.by_id.len() + 64 {
            let by_id = &self.by_id;
            self.ring
                .retain(|(id, ticket)| by_id.get(id).is_some_and(|h| h.ticket == *ticket));
        }
    }

    /// The next host in the ring, which moves to the back: round robin.
    /// Stale entries are dropped on the way. `None` if no host is active.
    pub fn next_in_ring(&mut self) -> Option<i64> {
        while let Some((id, ticket)) = self.ring.pop_front() {
            if self.by_id.get(&id).is_some_and(|h| h.ticket == ticket) {
                self.ring.push_back((id, ticket));
                return Some(id);
            }
        }
        None
    }

    /// Entries in the ring, stale ones included: visiting this many with
    /// [`next_in_ring`](Self::next_in_ring) visits every active host.
    pub fn ring_len(&self) -> usize {
        self.ring.len()
    }

    /// Append rows read from the database to a host's head.
    pub fn extend_heads(&mut self, id: i64, rows: Vec<Head>) {
        if let Some(host) = self.by_id.get_mut(&id) {
            for row in rows {
                host.cursor = host.cursor.max(row.id);
                self.heads_bytes += row.bytes();
                host.heads.push_back(row);
            }
        }
    }

    /// Take the first URL of a host's head.
    pub fn pop_head(&mut self, id: i64) -> Option<Head> {
        let head = self.by_id.get_mut(&id)?.heads.pop_front()?;
        self.heads_bytes -= head.bytes();
        Some(head)
    }

    /// Drop a row from a host's head (it was marked done without being
    /// handed out); whether it was there.
    pub fn remove_head(&mut self, id: i64, row: i64) -> bool {
        let Some(host) = self.by_id.get_mut(&id) else {
            return false;
        };
        let Some(at) = host.heads.iter().position(|h| h.id == row) else {
            return false;
        };
        let head = host.heads.remove(at).expect("position is in range");
        self.heads_bytes -= head.bytes();
        true
    }

    /// Active hosts with URLs to hand out and fewer than `rows` of them in
    /// memory, in round-robin order, at most `n`.
    pub fn short_of_heads(&self, rows: usize, n: usize) -> Vec<i64> {
        let live = |(id, ticket): &(i64, u64)| {
            let host = self.by_id.get(id)?;
            let short = host.ticket == *ticket && host.unread() > 0 && host.heads.len() < rows;
            short.then_some(*id)
        };
        self.ring.iter().filter_map(live).take(n).collect()
    }

    /// Bytes held by queue heads.
    pub fn heads_bytes(&self) -> usize {
        self.heads_bytes
    }

    /// Bytes held by the hosts themselves, without their heads.
    pub fn hosts_bytes(&self) -> usize {
        self.by_id.capacity() * (HOST_OVERHEAD / 2)
            + self.by_name.capacity() * 24
            + self.ring.capacity() * 16
            + self.names_bytes
    }
}
