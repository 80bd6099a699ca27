//! Content decoding in the adapter, lazily, so that decoded bytes exist only
//! where the core meters them.
//!
//! Why not let curl decode: curl inflates a chunk as soon as it arrives. When
//! the reader falls behind, the transfer is paused, but the chunk in hand is
//! inflated all the same and its output held in curl's buffers, outside the
//! byte gate: a 16 KiB chunk of a gzip bomb is 16 MiB of output, and a crawl
//! with many such transfers paused grows by hundreds of MiB that the gate
//! never saw. So curl hands over the bytes as sent, and [`DecodingBody`]
//! inflates them only into the buffer the caller passes to `poll_read`, and
//! only as much of them as fits there. What stays outside the core's buffer is
//! bounded by sizes fixed here and in curl, whatever the body inflates to:
//!
//! * raw bytes in curl's receive buffer and isahc's pipe to us (curl pauses
//!   the transfer when the pipe is full), tens of KiB per transfer;
//! * [`RAW_BUFFER`] bytes of input waiting to be inflated, here;
//! * the inflater's state: a 32 KiB window and its tables.
//!
//! Only single-layer encodings are decoded (`gzip`/`x-gzip`, `deflate` in its
//! zlib form or, as some servers send it, raw, and `identity`). A stacked
//! encoding (`gzip, gzip`) is not something a web server sends by accident
//! but a way to multiply a bomb, so it is refused, as is an encoding we did
//! not advertise (`br`, `zstd`). Every such refusal, and a corrupt stream,
//! is an [`io::ErrorKind::InvalidData`] error from the body, which the core
//! reads as a protocol error: the server would send the same bytes again, so
//! it is not retried.

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use flate2::bufread::{DeflateDecoder, GzDecoder, ZlibDecoder};
use futures::io::AsyncRead;

/// The `Accept-Encoding` the fetcher sends: what [`DecodingBody`] decodes.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Raw bytes held here waiting to be inflated, per body.
const RAW_BUFFER: usize = 16 * 1024;

/// Raw bytes read after the end of a compressed stream, to let the
/// connection go back to the pool. Beyond that the body is dropped unread
/// and curl closes the connection.
const MAX_TRAILING: u64 = 64 * 1024;

/// How a body is encoded, from its `Content-Encoding` header(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// No encoding, or only `identity`.
    Identity,
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate`: zlib, or raw deflate (told apart by the first two bytes).
    Deflate,
    /// Not decodable here; the message says why.
    Refused(String),
}

impl Encoding {
    /// The encoding named by the values of every `Content-Encoding` header
    /// of a response, in order (a list may span several header lines).
    pub(crate) fn from_headers<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Encoding {
        let mut codings = Vec::new();
        for value in values {
            let value = String::from_utf8_lossy(value);
            for token in value.split(',') {
                let token = token.trim().to_ascii_lowercase();
                if !token.is_empty() && token != "identity" {
                    codings.push(token);
                }
            }
        }
        match codings.as_slice() {
            [] => Encoding::Identity,
            [one] => match one.as_str() {
                "gzip" | "x-gzip" => Encoding::Gzip,
                "deflate" => Encoding::Deflate,
                _ => Encoding::Refused(format!(
                    "unsupported Content-Encoding '{}' (sent Accept-Encoding: {ACCEPT_ENCODING})",
                    cap(one)
                )),
            },
            many => Encoding::Refused(format!(
                "stacked Content-Encoding '{}' is not decoded",
                cap(&many.join(", "))
            )),
        }
    }

    /// Whether the body's bytes are sent as they will be read (so a
    /// `Content-Length` counts the bytes the core will read).
    pub(crate) fn is_identity(&self) -> bool {
        matches!(self, Encoding::Identity)
    }
}

/// A header value as quoted in an error, cut short: a hostile server may
/// send a long one.
fn cap(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// The raw bytes read from the connection and not yet inflated: a
/// [`BufRead`] whose `fill_buf` says [`io::ErrorKind::WouldBlock`] when it
/// is empty, so that flate2's decoders (which keep their state across
/// `WouldBlock`) can be driven from `poll_read`.
struct Feed {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The raw body has ended: `fill_buf` returns an empty slice.
    eof: bool,
}

impl Feed {
    fn new() -> Self {
        Feed {
            buf: vec![0; RAW_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Read more raw bytes from `raw` after those pending.
    fn poll_fill<R: AsyncRead + Unpin>(
        &mut self,
        raw: &mut R,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = match Pin::new(raw).poll_read(cx, &mut self.buf[self.end..]) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Poll::Ready(Ok(()))
    }
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let pending = self.fill_buf()?;
            let n = pending.len().min(out.len());
            out[..n].copy_from_slice(&pending[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Feed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(self.pending())
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
    }
}

/// Where a body's decoding stands.
enum State {
    /// `deflate`, before its first two bytes tell zlib from raw deflate.
    Sniff(Feed),
    Gzip(GzDecoder<Feed>),
    Zlib(ZlibDecoder<Feed>),
    Deflate(DeflateDecoder<Feed>),
    /// The decoded stream has ended; the raw body's rest is read and
    /// dropped (up to [`MAX_TRAILING`] bytes) so that the connection can be
    /// reused.
    Trailing(Feed, u64),
    /// Nothing more to read.
    Done,
    /// Decoding is refused: every read fails with this message.
    Refused(String),
}

/// A decoded body over a raw one: inflates `R`'s bytes only as far as the
/// caller's buffer asks (see the module docs). An identity body is passed
/// through untouched.
pub(crate) struct DecodingBody<R> {
    raw: R,
    /// `None` for an identity body.
    state: Option<State>,
}

impl<R> DecodingBody<R> {
    pub(crate) fn new(raw: R, encoding: Encoding) -> Self {
        let state = match encoding {
            Encoding::Identity => None,
            Encoding::Gzip => Some(State::Gzip(GzDecoder::new(Feed::new()))),
            Encoding::Deflate => Some(State::Sniff(Feed::new())),
            Encoding::Refused(message) => Some(State::Refused(message)),
        };
        DecodingBody { raw, state }
    }
}

/// Whether two bytes start a zlib stream (RFC 1950: method 8, a window of at
/// most 32 KiB, and a header check that makes them a multiple of 31).
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// A decoder's error as the core reads it: the stream is corrupt.
fn corrupt(error: io::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt compressed body: {error}"),
    )
}

impl<R: AsyncRead + Unpin> AsyncRead for DecodingBody<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(state) = &mut this.state else {
            return Pin::new(&mut this.raw).poll_read(cx, out);
        };
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let decoded = match state {
                State::Refused(message) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        message.clone(),
                    )))
                }
                State::Done => return Poll::Ready(Ok(0)),
                State::Sniff(feed) => {
                    let pending = feed.pending();
                    if pending.len() >= 2 || feed.eof {
                        let zlib = pending.len() >= 2 && is_zlib_header(pending[0], pending[1]);
                        let feed = std::mem::replace(feed, Feed::new());
                        *state = if zlib {
                            State::Zlib(ZlibDecoder::new(feed))
                        } else {
                            State::Deflate(DeflateDecoder::new(feed))
                        };
                        continue;
                    }
                    Err(io::ErrorKind::WouldBlock.into())
                }
                State::Gzip(d) => d.read(out),
                State::Zlib(d) => d.read(out),
                State::Deflate(d) => d.read(out),
                State::Trailing(feed, read) => {
                    *read += feed.pending().len() as u64;
                    feed.consume(feed.pending().len());
                    if feed.eof || *read > MAX_TRAILING {
                        *state = State::Done;
                        continue;
                    }
                    Err(io::ErrorKind::WouldBlock.into())
                }
            };
            match decoded {
                Ok(0) => {
                    // The compressed stream ended (a decoder reports the
                    // end only once its trailer checked out).
                    let feed = match std::mem::replace(state, State::Done) {
                        State::Gzip(d) => d.into_inner(),
                        State::Zlib(d) => d.into_inner(),
                        State::Deflate(d) => d.into_inner(),
                        other => {
                            *state = other;
                            return Poll::Ready(Ok(0));
                        }
                    };
                    *state = State::Trailing(feed, 0);
                }
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let feed = match state {
                        State::Sniff(f) | State::Trailing(f, _) => f,
                        State::Gzip(d) => d.get_mut(),
                        State::Zlib(d) => d.get_mut(),
                        State::Deflate(d) => d.get_mut(),
                        State::Done | State::Refused(_) => unreachable!("never blocks"),
                    };
                    match feed.poll_fill(&mut this.raw, cx) {
                        Poll::Ready(Ok(())) => {}
                        // The raw body's own errors are the connection's
                        // (already in the kinds the core reads).
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) => {
                    *state = State::Done;
                    return Poll::Ready(Err(corrupt(e)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::AsyncReadExt;
    use std::io::Write;

    /// A raw body that yields its bytes a few at a time, pending in between,
    /// as a slow connection would.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
        ready: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if !self.ready {
                self.ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = false;
            let n = self.step.min(out.len()).min(self.data.len() - self.at);
            let at = self.at;
            out[..n].copy_from_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }

    fn trickle(data: Vec<u8>, step: usize) -> Trickle {
        Trickle {
            data,
            at: 0,
            step,
            ready: false,
        }
    }

    fn decode(data: Vec<u8>, encoding: Encoding, step: usize) -> io::Result<Vec<u8>> {
        let mut body = DecodingBody::new(trickle(data, step), encoding);
        let mut out = Vec::new();
        smol::block_on(body.read_to_end(&mut out))?;
        Ok(out)
    }

    fn text() -> Vec<u8> {
        (0..3_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect()
    }

    #[test]
    fn every_encoding_decodes_however_the_bytes_arrive() {
        let text = text();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        let z = z.finish().unwrap();
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        for step in [1, 7, 4096, 1 << 20] {
            // (A step of one byte costs a poll per byte: a short text.)
            assert_eq!(decode(gz.clone(), Encoding::Gzip, step).unwrap(), text);
            assert_eq!(decode(z.clone(), Encoding::Deflate, step).unwrap(), text);
            assert_eq!(decode(raw.clone(), Encoding::Deflate, step).unwrap(), text);
            assert_eq!(
                decode(text.clone(), Encoding::Identity, step).unwrap(),
                text
            );
        }
    }

    #[test]
    fn a_corrupt_or_truncated_stream_is_invalid_data() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text()).unwrap();
        let mut gz = gz.finish().unwrap();
        let truncated = gz[..gz.len() / 2].to_vec();
        let len = gz.len();
        gz[len - 6] ^= 0xff; // the CRC
        for bad in [gz, truncated, b"\x1f\x8b\x08\x00 not deflate".to_vec()] {
            let e = decode(bad, Encoding::Gzip, 100).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        }
        let e = decode(vec![0xff; 100], Encoding::Deflate, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn content_encoding_is_parsed_and_stacking_refused() {
        let parse = |values: &[&str]| Encoding::from_headers(values.iter().map(|v| v.as_bytes()));
        assert_eq!(parse(&[]), Encoding::Identity);
        assert_eq!(parse(&["identity"]), Encoding::Identity);
        assert_eq!(parse(&[" GZip "]), Encoding::Gzip);
        assert_eq!(parse(&["x-gzip"]), Encoding::Gzip);
        assert_eq!(parse(&["identity, deflate"]), Encoding::Deflate);
        for refused in [
            &["gzip, gzip"][..],
            &["gzip", "gzip"],
            &["br"],
            &["zstd"],
            &["\u{1}garbage"],
        ] {
            assert!(
                matches!(parse(refused), Encoding::Refused(_)),
                "{refused:?}"
            );
        }
        let long = "x".repeat(100_000);
        let Encoding::Refused(message) = parse(&[&long]) else {
            panic!("refused")
        };
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn a_refused_encoding_fails_every_read_as_invalid_data() {
        let e = decode(b"abc".to_vec(), Encoding::Refused("no".into()), 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_bomb_is_inflated_only_as_far_as_asked() {
        let bomb = semcrawl_site::gzip_bomb().to_vec();
        let mut raw = trickle(bomb, 1 << 20);
        raw.ready = true;
        let mut body = DecodingBody::new(raw, Encoding::Gzip);
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while total < 1 << 20 {
            let n = smol::block_on(body.read(&mut buf)).unwrap();
            assert!(n > 0 && n <= buf.len());
            total += n;
        }
        // Only a small part of the raw input was taken from the connection:
        // the decoder pulls as it is asked for output.
        assert!(
            body.raw.at <= 2 * RAW_BUFFER,
            "{} raw bytes read",
            body.raw.at
        );
    }
}
