//! A response's body, which owns its connection until it is read to the
//! end, and the errors of an exchange in the core's kinds.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::io::AsyncRead;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use semcrawl_core::FetchError;
use smol::Timer;

use super::{quiet, Conn, Lease};

/// A failed exchange (before the head) in the core's kinds.
pub(super) fn map_error(error: &hyper::Error) -> FetchError {
    let message = describe(error);
    if error.is_timeout() {
        FetchError::Timeout
    } else if error.is_parse() {
        // Not HTTP, or not within limits: the same bytes would come again.
        FetchError::Protocol(message)
    } else if error.is_user() {
        FetchError::Refused(message)
    } else {
        // Reset, closed before the head: another try may do.
        FetchError::Connect(message)
    }
}

/// hyper's message with its causes ("connection error: Connection reset by
/// peer").
pub(super) fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A body error in the kinds the core reads (see
/// [`semcrawl_core::classify_body_error`]): the head has come, so a body
/// that breaks off is the answer being broken ([`io::ErrorKind::InvalidData`]),
/// as the isahc client reports it too.
pub(super) fn body_error(error: &hyper::Error) -> io::Error {
    if error.is_timeout() {
        io::Error::new(io::ErrorKind::TimedOut, describe(error))
    } else {
        io::Error::new(io::ErrorKind::InvalidData, describe(error))
    }
}

pub(super) fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the request's deadline passed while reading the body",
    )
}

/// A response body (still encoded): read from the connection as it is
/// asked for, under the request's deadline.
pub(crate) struct H1Body {
    pub(super) incoming: Incoming,
    /// Received and not yet handed out.
    pub(super) chunk: Bytes,
    /// `None` once the exchange is over (given back or closed).
    pub(super) conn: Option<Conn>,
    pub(super) lease: Option<Lease>,
    pub(super) deadline: Instant,
    pub(super) timer: Option<Timer>,
    /// The end of the body was seen.
    pub(super) ended: bool,
    /// The exchange failed (of this kind).
    pub(super) failed: Option<io::ErrorKind>,
}

impl H1Body {
    /// The body was read to its end: the connection goes back to the pool if
    /// it can take another request, and the slots are freed.
    fn finish(&mut self) {
        self.ended = true;
        if let (Some(mut conn), Some(lease)) = (self.conn.take(), self.lease.take()) {
            // The dispatcher usually asked for the next request as it passed
            // the last bytes on; if not, let it see the end. Not with this
            // task's waker: the next request on this connection, from
            // another task, would wake this one.
            if !conn.reusable() {
                let _ = conn.drive(&mut quiet());
            }
            lease.client.put_idle(&lease.origin, conn);
        }
    }

    /// Stop the exchange: close the connection, free the slots. Later reads
    /// fail the same way (the closed connection would read as an end).
    fn abort(&mut self, error: io::Error) -> Poll<io::Result<usize>> {
        self.conn = None;
        self.lease = None;
        self.failed = Some(error.kind());
        Poll::Ready(Err(error))
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.deadline;
        let timer = self.timer.get_or_insert_with(|| Timer::at(deadline));
        Pin::new(timer).poll(cx).is_ready()
    }
}

impl AsyncRead for H1Body {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Each round looks for a received chunk, first without this task's
        // waker (the dispatcher, polled below on this task, would wake it
        // for nothing when it passes a chunk on), then drives the
        // dispatcher, then looks again with the waker, which is the one
        // left registered when nothing came.
        let mut driven = false;
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&this.chunk.split_to(n));
                return Poll::Ready(Ok(n));
            }
            if this.ended {
                return Poll::Ready(Ok(0));
            }
            if let Some(kind) = this.failed {
                return Poll::Ready(Err(io::Error::new(kind, "the exchange failed")));
            }
            if Instant::now() >= this.deadline {
                return this.abort(timed_out());
            }
            let received = if driven {
                Pin::new(&mut this.incoming).poll_frame(cx)
            } else {
                Pin::new(&mut this.incoming).poll_frame(&mut quiet())
            };
            match received {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.chunk = data;
                    }
                    if this.incoming.is_end_stream() {
                        // The last bytes are in: the connection is free now,
                        // whether or not the reader asks for the end.
                        this.finish();
                    }
                    continue;
                }
                Poll::Ready(Some(Err(e))) => return this.abort(body_error(&e)),
                Poll::Ready(None) => {
                    this.finish();
                    return Poll::Ready(Ok(0));
                }
                Poll::Pending => {}
            }
            // Nothing received: let the dispatcher read the socket, then look
            // again (once: after that the wake-up comes from the socket).
            if !driven {
                driven = true;
                if let Some(conn) = &mut this.conn {
                    let _ = conn.drive(cx);
                }
                continue;
            }
            if this.expired(cx) {
                return this.abort(timed_out());
            }
            return Poll::Pending;
        }
    }
}

/// The request body of a GET: none.
pub(crate) struct NoBody;

impl HttpBody for NoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(0)
    }
}
