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
    // `buf[..filled]` is the body read so far; `buf[filled..]` is zeroed
    // room that the next read fills. Room is zeroed once (safe code cannot
    // read into uninitialized memory), not again after every short read:
    // re-zeroing after each read was a few percent of a fast crawl's CPU.
    let mut filled = 0usize;
    let done = |mut buf: Vec<u8>, filled: usize, truncated: bool| {
        buf.truncate(filled);
        Ok(ReadBody {
            bytes: buf,
            truncated,
        })
    };
    loop {
        if filled as u64 == limit {
            return done(buf, filled, true);
        }
        if filled as u64 == reserved {
            // Grow by half of what we hold (at least a chunk): few gate
            // round-trips for large bodies, little waste for small ones.
            let step = (reserved / 2).max(CHUNK).min(limit - reserved);
            hold.grow(step).await.map_err(ReadError::Gate)?;
            reserved += step;
            buf.reserve_exact((reserved as usize).saturating_sub(buf.len()));
        }
        if filled == buf.len() {
            let mut room = (reserved - filled as u64).min(CHUNK) as usize;
            if buf.capacity() > filled {
                // Fill what is allocated before allocating more.
                room = room.min(buf.capacity() - filled);
            }
            if buf.capacity() < filled + room {
                // Past the announced length (it counts encoded bytes): grow
                // geometrically, never beyond what the gate granted.
                let want = (buf.capacity() * 2)
                    .max(filled + room)
                    .min(reserved as usize);
                buf.reserve_exact(want - filled);
            }
            buf.resize(filled + room, 0);
        }
        let n = body
            .read(&mut buf[filled..])
            .await
            .map_err(|e| ReadError::Fetch(classify_body_error(&e)))?;
        if n == 0 {
            return done(buf, filled, false);
        }
        filled += n;
        if let Some(stats) = stats {
            stats.add_bytes(n as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::executor::block_on;
    use futures::io::AsyncRead;

    use super::*;
    use crate::gate::ByteGate;

    /// A body served `step` bytes per read, counting the reads.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        step: usize,
        reads: usize,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.reads += 1;
            let n = out.len().min(self.step).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }

    fn read(len: usize, step: usize, announced: Option<u64>, cap: u64) -> (ReadBody, usize) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut body = Pieces {
            data,
            at: 0,
            step,
            reads: 0,
        };
        let gate = ByteGate::new(64 << 20);
        let mut hold = block_on(gate.admit(PAGE_OVERHEAD + 4096)).unwrap();
        let read = block_on(read_body(&mut body, &mut hold, cap, announced, None));
        let Ok(read) = read else {
            panic!("the body could not be read")
        };
        let n = read.bytes.len();
        assert_eq!(read.bytes[..], body.data[..n], "the bytes, in order");
        assert!(
            hold.bytes() >= read.bytes.capacity() as u64,
            "capacity within the gate"
        );
        (read, body.reads)
    }

    #[test]
    fn an_announced_body_is_read_whole_without_growing_at_its_end() {
        let (got, reads) = read(20_000, 4096, Some(20_000), 1 << 20);
        assert_eq!(got.bytes.len(), 20_000);
        assert!(!got.truncated);
        // Read into `len + 1` bytes: the read that finds the end has room.
        assert_eq!(got.bytes.capacity(), 20_001, "no growth to read the end");
        // 5 reads of the body, then the one that finds its end.
        assert_eq!(reads, 6);
    }

    #[test]
    fn a_body_longer_than_announced_is_read_on() {
        // Content-Length counts encoded bytes: the decoded body is longer.
        let (got, _) = read(50_000, 3000, Some(20_000), 1 << 20);
        assert_eq!(got.bytes.len(), 50_000);
        assert!(!got.truncated);
    }

    #[test]
    fn a_body_shorter_than_announced_or_unannounced_ends_at_its_end() {
        for (len, announced) in [
            (7_000, Some(20_000)),
            (30_000, None),
            (0, Some(0)),
            (0, None),
        ] {
            let (got, _) = read(len, 1000, announced, 1 << 20);
            assert_eq!(got.bytes.len(), len, "{len} bytes, {announced:?} announced");
            assert!(!got.truncated);
        }
    }

    #[test]
    fn a_body_past_the_cap_is_cut_at_cap_plus_one() {
        for announced in [None, Some(100_000), Some(10_000)] {
            let (got, _) = read(100_000, 7000, announced, 10_000);
            assert_eq!(got.bytes.len(), 10_001, "{announced:?}");
            assert!(got.truncated);
        }
    }
}
