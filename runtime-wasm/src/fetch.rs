//! The core's [`Fetch`] on the browser's `fetch()`.
//!
//! * The request carries an `AbortController` signal, and a `setTimeout`
//!   aborts it at the request's deadline; the abort also ends a body that is
//!   still streaming. Dropping the body early (the core stopped reading at
//!   the body cap) aborts the request too, so the browser frees the socket.
//! * Browsers follow redirects themselves (`redirect: "follow"`); the final
//!   URL is reported as [`Response::url`]. A request that carries extra
//!   headers ([`FetchRequest::headers`]) is sent with `redirect: "manual"`
//!   instead, so they never reach the redirect's target: Node hands the
//!   3xx to the core, which follows it with the target's own headers; a
//!   browser hides it, and the page is recorded as refused.
//! * The body is an [`AsyncRead`] over the `ReadableStream` reader: the core
//!   pulls chunks one at a time and charges them to its byte gate as they
//!   arrive, so a large page is never buffered whole outside the gate.
//! * Cross-origin requests are subject to CORS. A browser reports a blocked
//!   request exactly like a network failure (a `TypeError`), so a failure on
//!   another origin is reported as [`FetchError::Refused`] (not retried) and
//!   one on the page's own origin as [`FetchError::Connect`] (retried).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncRead;
use js_sys::{Function, Reflect, Uint8Array};
use semcrawl_core::{BoxFuture, Fetch, FetchError, FetchRequest, Response};
use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, ReadableStreamDefaultReader, RequestCache, RequestCredentials, RequestInit,
    RequestRedirect,
};

use crate::js;

/// Sends the core's GET requests with the global `fetch()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserFetch;

impl BrowserFetch {
    /// A fetcher for the current global (window, worker or Node).
    pub fn new() -> Self {
        BrowserFetch
    }
}

impl Fetch for BrowserFetch {
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Response, FetchError>> {
        Box::pin(fetch(request))
    }
}

/// Aborts a request at its deadline (a `setTimeout` calling the bound
/// `controller.abort`), or when dropped before the body was read to the end.
struct Deadline {
    controller: AbortController,
    timer: JsValue,
    finished: bool,
}

impl Deadline {
    fn start(timeout: std::time::Duration) -> Result<Self, FetchError> {
        let controller =
            AbortController::new().map_err(|e| FetchError::Refused(js::message(&e)))?;
        let abort: Function = Reflect::get(&controller, &"abort".into())
            .map_err(|e| FetchError::Refused(js::message(&e)))?
            .unchecked_into();
        let timer = js::set_timeout(&abort.bind0(&controller), js::timeout_ms(timeout));
        Ok(Deadline {
            controller,
            timer,
            finished: false,
        })
    }

    /// Whether the deadline passed (only the timer aborts a live request).
    fn fired(&self) -> bool {
        self.controller.signal().aborted()
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        js::clear_timeout(&self.timer);
        if !self.finished {
            self.controller.abort();
        }
    }
}

fn failure(error: &JsValue, deadline: &Deadline, url: &Url) -> FetchError {
    if deadline.fired() {
        return FetchError::Timeout;
    }
    let message = js::message(error);
    let same_origin = js::location_href()
        .and_then(|href| Url::parse(&href).ok())
        .is_none_or(|page| page.origin() == url.origin());
    if same_origin {
        FetchError::Connect(message)
    } else {
        FetchError::Refused(format!(
            "{message} (cross-origin: blocked by CORS, or unreachable)"
        ))
    }
}

async fn fetch(request: FetchRequest) -> Result<Response, FetchError> {
    let mut deadline = Deadline::start(request.timeout)?;
    let init = RequestInit::new();
    init.set_method("GET");
    // A request with extra headers (a token, credentials) must not carry
    // them to where a redirect points: the core follows it instead, as a
    // request of its own (Node hands the 3xx and its Location over; a
    // browser hides both, see `hidden_redirect`).
    let carries_headers = !request.headers.is_empty();
    init.set_redirect(if carries_headers {
        RequestRedirect::Manual
    } else {
        RequestRedirect::Follow
    });
    if carries_headers {
        let headers = web_sys::Headers::new().map_err(|e| FetchError::Refused(js::message(&e)))?;
        for (name, value) in request.headers.iter() {
            headers
                .set(name, value)
                .map_err(|e| FetchError::Refused(format!("header {name}: {}", js::message(&e))))?;
        }
        init.set_headers(&headers);
    }
    // The crawler wants what the server says now, and the HTTP cache would
    // hold bodies outside the byte gate.
    init.set_cache(RequestCache::NoStore);
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_signal(Some(&deadline.controller.signal()));
    // No User-Agent header: browsers set their own, and a custom header would
    // turn every cross-origin GET into a CORS preflight.
    let js_request = web_sys::Request::new_with_str_and_init(request.url.as_str(), &init)
        .map_err(|e| FetchError::Refused(js::message(&e)))?;
    let response: web_sys::Response = match JsFuture::from(js::fetch_request(&js_request)).await {
        Ok(value) => value.unchecked_into(),
        Err(error) => return Err(failure(&error, &deadline, &request.url)),
    };
    if response.type_() == web_sys::ResponseType::Opaqueredirect {
        return Err(hidden_redirect());
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let url = Url::parse(&response.url()).unwrap_or_else(|_| request.url.clone());
    let content_type = header("content-type");
    let content_length = header("content-length").and_then(|v| v.trim().parse().ok());
    let retry_after = header("retry-after");
    // Readable only when the server exposes it to the page (CORS).
    let robots_tag = header("x-robots-tag");
    let reader = match response.body() {
        Some(stream) => Some(
            stream
                .get_reader()
                .dyn_into::<ReadableStreamDefaultReader>()
                .map_err(|e| FetchError::Protocol(js::message(&e)))?,
        ),
        None => {
            deadline.finished = true;
            None
        }
    };
    Ok(Response {
        status: response.status(),
        url,
        content_type,
        content_length,
        location: header("location"),
        retry_after,
        robots_tag,
        body: Box::new(StreamBody {
            reader,
            deadline,
            read: None,
            chunk: None,
        }),
    })
}

/// A browser answers a `redirect: "manual"` request that was redirected
/// with an opaque response: no status, no `Location`. The headers must not
/// follow it blindly, so the page is an error that says why.
fn hidden_redirect() -> FetchError {
    FetchError::Refused(
        "redirected, and the browser hides where to: a request with extra headers does not follow it"
            .into(),
    )
}

/// A response body as an [`AsyncRead`] over a `ReadableStream` reader.
///
/// Dropped before its end, it aborts the request (through its [`Deadline`]),
/// which ends the stream and frees the connection.
///
/// At most one chunk (as the browser cut it, typically up to 64 KiB) is held
/// between two reads, and it stays in JS memory: bytes enter the wasm heap
/// only when the core reads them into its own (metered) buffer.
struct StreamBody {
    reader: Option<ReadableStreamDefaultReader>,
    deadline: Deadline,
    read: Option<JsFuture>,
    chunk: Option<Uint8Array>,
}

impl StreamBody {
    fn error(&self, error: &JsValue) -> io::Error {
        if self.deadline.fired() {
            io::Error::new(io::ErrorKind::TimedOut, "timed out reading the body")
        } else {
            io::Error::other(js::message(error))
        }
    }

    fn finish(&mut self) {
        self.deadline.finished = true;
        self.reader = None;
    }
}

impl AsyncRead for StreamBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.chunk.take() {
                let len = chunk.length() as usize;
                let n = len.min(buf.len());
                chunk.subarray(0, n as u32).copy_to(&mut buf[..n]);
                if n < len {
                    this.chunk = Some(chunk.subarray(n as u32, len as u32));
                }
                return Poll::Ready(Ok(n));
            }
            let Some(reader) = &this.reader else {
                return Poll::Ready(Ok(0));
            };
            let read = this
                .read
                .get_or_insert_with(|| JsFuture::from(reader.read()));
            let result = match Pin::new(read).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    this.read = None;
                    result
                }
            };
            let result = match result {
                Ok(result) => result,
                Err(error) => {
                    let error = this.error(&error);
                    this.reader = None;
                    return Poll::Ready(Err(error));
                }
            };
            if Reflect::get(&result, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                == Some(true)
            {
                this.finish();
                return Poll::Ready(Ok(0));
            }
            match Reflect::get(&result, &"value".into()).map(JsCast::dyn_into::<Uint8Array>) {
                Ok(Ok(chunk)) if chunk.length() > 0 => this.chunk = Some(chunk),
                Ok(Ok(_)) => {}
                _ => {
                    this.reader = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the body stream yielded something other than bytes",
                    )));
                }
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
        }
    }
}
