//! Reading a response body under the byte gate, for pages and robots.txt.
//!
//! Bounded memory needs the gate to count what a body really holds, so the
//! body is read in chunks and every chunk's bytes are reserved from the
//! [`ByteGate`](crate::gate::ByteGate) *before* they are read, with the
//! buffer's capacity kept equal to the reservation. Pages and robots.txt
//! files are read by the same code so that both are bounded the same way,
//! and so that there is one answer to "what does a broken body mean":
//! [`classify_body_error`], used here and by the adapters' tests.

use std::io;

use futures::io::AsyncReadExt;

use crate::gate::{GateError, Reservation, PAGE_OVERHEAD};
use crate::runtime::{Body, FetchError};
use crate::stats::Stats;

/// Bytes read from a body at a time.
const CHUNK: u64 = 16 * 1024;

/// A body read under the gate.
pub(crate) struct ReadBody {
    pub bytes: Vec<u8>,
    /// More than the cap was available: `bytes` holds the first `cap + 1`.
    pub truncated: bool,
}

/// Why a body could not be read to its end.
pub(crate) enum ReadError {
    /// The connection failed (see [`classify_body_error`]).
    Fetch(FetchError),
    /// The gate would not grant the bytes (preempted, or over budget).
    Gate(GateError),
}

/// The fetch error that an I/O error met while reading a body stands for.
///
/// Adapters report a stalled body as [`io::ErrorKind::TimedOut`] and a
/// corrupt one (bad gzip, broken chunking) as [`io::ErrorKind::InvalidData`];
/// anything else is the connection dropping mid-body, which a retry may
/// cure, so it is a connect error.
///
/// ```
/// use semcrawl_core::{classify_body_error, FetchError};
/// let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "stalled");
/// assert_eq!(classify_body_error(&e), FetchError::Timeout);
/// let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad gzip");
/// assert!(matches!(classify_body_error(&e), FetchError::Protocol(_)));
/// ```
pub fn classify_body_error(error: &io::Error) -> FetchError {
    let msg = format!("reading body: {error}");
    match error.kind() {
        io::ErrorKind::TimedOut => FetchError::Timeout,
        io::ErrorKind::InvalidData => FetchError::Protocol(msg),
        _ => FetchError::Connect(msg),
    }
}

/// Read at most `cap + 1` bytes of `body`, growing `hold` before each read;
/// decoded bytes are counted in `stats` when given.
pub(crate) async fn read_body(
    body: &mut dyn Body,
    hold: &mut Reservation,
    cap: u64,
    content_length: Option<u64>,
    stats: Option<&Stats>,
) -> Result<ReadBody, ReadError> {
    let limit = cap.saturating_add(1);
    // Bytes of the reservation set aside for the body: whatever was admitted
    // beyond the page overhead (a page retried after a preemption admits
    // what it is known to need at once).
    let mut reserved: u64 = hold.bytes().saturating_sub(PAGE_OVERHEAD).min(limit);
    // An announced body is read into `len + 1` bytes: the one past the end
    // is where the read that finds the end goes, so a body that keeps its
    // word never grows its buffer (growing by half, to look for an end that
    // is not coming, would hold half as much again as the page).
    let announced = content_length.map(|len| len.saturating_add(1).min(limit));
    if let Some(want) = announced {
        // Content-Length is a hint, not a bound (adapters pass it only for
        // bodies they do not decode, but a server may still lie).
        if want > reserved {
            hold.grow(want - reserved).await.map_err(ReadError::Gate)?;
            reserved = want;
        }
    }
    // Only what the body is announced to need, when it is: the page may
    // have been admitted with more (the crawl's typical page), or have
    // reserved its parse as well.
    let capacity = announced.map_or(reserved, |want| want.min(reserved));
    let mut buf: Vec<u8> = Vec::with_capacity(capacity as usize);
    loop {
        if buf.len() as u64 == limit {
            return Ok(ReadBody {
                bytes: buf,
                truncated: true,
            });
        }
        if buf.len() as u64 == reserved {
            // Grow by half of what we hold (at least a chunk): few gate
            // round-trips for large bodies, little waste for small ones.
            let step = (reserved / 2).max(CHUNK).min(limit - reserved);
            hold.grow(step).await.map_err(ReadError::Gate)?;
            reserved += step;
            buf.reserve_exact((reserved as usize).saturating_sub(buf.len()));
        }
        let old = buf.len();
        let mut room = (reserved - old as u64).min(CHUNK) as usize;
        if buf.capacity() > old {
            // Fill what is allocated before allocating more.
            room = room.min(buf.capacity() - old);
        }
        if buf.capacity() < old + room {
            // Past the announced length (it counts encoded bytes): grow
            // geometrically, never beyond what the gate granted.
            let want = (buf.capacity() * 2).max(old + room).min(reserved as usize);
            buf.reserve_exact(want - old);
        }
        buf.resize(old + room, 0);
        let n = body
            .read(&mut buf[old..])
            .await
            .map_err(|e| ReadError::Fetch(classify_body_error(&e)))?;
        buf.truncate(old + n);
        if n == 0 {
            return Ok(ReadBody {
                bytes: buf,
                truncated: false,
            });
        }
        if let Some(stats) = stats {
            stats.add_bytes(n as u64);
        }
    }
}
