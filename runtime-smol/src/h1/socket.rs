//! Connecting: name resolution, the TCP handshake and hyper's, under one
//! deadline; and the adapter that lets hyper read and write smol's sockets.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};
use hyper::client::conn::http1;
use hyper::rt::ReadBufCursor;
use semcrawl_core::FetchError;
use smol::{Async, Timer};
use url::Host;

use super::{Conn, READ_CHUNK};

thread_local! {
    /// Where sockets are read into before hyper's buffer: filling hyper's
    /// (uninitialized) buffer in place needs `unsafe`, which this crate
    /// forbids. One per thread rather than one per connection: a read uses
    /// it only for the length of the call.
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Resolve and connect (each address in turn) by `by`.
pub(super) async fn connect(host: &Host<&str>, port: u16, by: Instant) -> Result<Conn, FetchError> {
    let dial = async {
        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::from((*ip, port))],
            Host::Ipv6(ip) => vec![SocketAddr::from((*ip, port))],
            Host::Domain(name) => smol::net::resolve((*name, port))
                .await
                .map_err(|e| FetchError::Connect(format!("could not resolve host {name}: {e}")))?,
        };
        let mut last = None;
        for addr in &addrs {
            match Async::<TcpStream>::connect(*addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(format!("could not connect to {addr}: {e}")),
            }
        }
        Err(FetchError::Connect(last.unwrap_or_else(|| {
            format!("could not resolve host {host}: no address")
        })))
    };
    let expired = async {
        Timer::at(by).await;
        Err(FetchError::Timeout)
    };
    let stream = smol::future::or(dial, expired).await?;
    let _ = stream.get_ref().set_nodelay(true);
    let io = Io { stream };
    let (sender, driver) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    Ok(Conn {
        sender,
        driver,
        finished: false,
        idle_since: Instant::now(),
    })
}

/// A smol TCP socket as hyper's I/O.
pub(super) struct Io {
    stream: Async<TcpStream>,
}

impl hyper::rt::Read for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = &mut self.get_mut().stream;
        SCRATCH.with_borrow_mut(|scratch| {
            let room = buf.remaining().min(scratch.len());
            let n = ready!(Pin::new(stream).poll_read(cx, &mut scratch[..room]))?;
            buf.put_slice(&scratch[..n]);
            Poll::Ready(Ok(()))
        })
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}
