//! [`HttpFetcher`]: the core's [`Fetch`], on two clients.
//!
//! * Plain `http://` (no proxy set, by [`FetchOptions::proxy`] or curl's
//!   `http_proxy` / `all_proxy` variables, and no credentials in the URL):
//!   HTTP/1.1 on hyper over smol's sockets, with a pool of our own
//!   (`h1/`), driven by the task that awaits the response: no agent
//!   thread, no body pipe. It keeps every guarantee listed below for isahc
//!   (see its module docs); `docs/decisions.md`, "Plain http on hyper",
//!   has the measurements.
//! * Everything else (`https://`, proxies, URL credentials): isahc.
//!
//! Why isahc: its transfers run on libcurl's own event loop in a background
//! thread, so it works under any executor, and curl gives us what a crawler
//! needs and what was wrong in the alternatives (see
//! `docs/decisions.md`):
//!
//! * the request timeout covers the **whole** transfer, body included
//!   (`CURLOPT_TIMEOUT`), so a server that trickles a body cannot pin a
//!   socket past the deadline;
//! * a body dropped half-read aborts its transfer and the connection is
//!   closed, never handed back to the pool in an unknown state;
//! * content decoding is done here, not by curl, and *as the body is read*
//!   ([`crate::decode`]): bytes are inflated only into the buffer the core
//!   reads into, which it meters against `--max-body` and the byte gate, and
//!   when the core stops reading, curl pauses the transfer with at most its
//!   receive buffer of *compressed* bytes in hand. So a gzip bomb costs a few
//!   MiB at most, not the inflated size (curl's own decoder would inflate a
//!   whole received chunk into its buffers while paused, outside the gate);
//! * redirects are not followed ([`RedirectPolicy::None`]): the core follows
//!   them under its scope rules.
//!
//! Extra headers (a cookie, credentials) come with each request: the core
//! picks them per URL, so they are set on the request, never on the
//! client, and a redirect (followed by the core) gets its own.
//!
//! The pool is sized from the crawl: at most `max_connections` sockets in
//! total and `max_connections_per_host` per host; the same numbers bound the
//! cache of idle connections kept for reuse.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::AsyncRead;
use isahc::config::{Configurable, RedirectPolicy};
use isahc::error::ErrorKind as IsahcKind;
use isahc::http::header;
use isahc::tls::{TlsConfig, TrustStore};
use isahc::{AsyncBody, HttpClient, ResponseExt};
use semcrawl_core::{BoxFuture, Config, Fetch, FetchError, FetchRequest, Response};
use url::Url;

use crate::decode::{DecodingBody, Encoding, ACCEPT_ENCODING};
use crate::h1::{H1Client, H1Options};

/// How the HTTP client is set up. Build it from the crawl's [`Config`] with
/// [`FetchOptions::from_config`] so the pool follows the concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Most open connections in total (`0` = unlimited). Also the size of the
    /// idle-connection cache.
    pub max_connections: usize,
    /// Most open connections to one host (`0` = unlimited).
    pub max_connections_per_host: usize,
    /// Deadline for the TCP + TLS handshake (the whole-request deadline comes
    /// with each [`FetchRequest`]).
    pub connect_timeout: Duration,
    /// `User-Agent` sent when a request does not name one.
    pub user_agent: String,
    /// Send every request through this proxy (`http://`, `https://`,
    /// `socks5://`, `socks5h://`, with `user:password@` if it needs one).
    /// `None`: curl's defaults, which honour the `http_proxy`,
    /// `https_proxy`, `all_proxy` and `no_proxy` environment variables
    /// (`http_proxy` in lowercase only, as curl reads it).
    pub proxy: Option<String>,
    /// Trust the CA certificates of this PEM file instead of the built-in
    /// roots (as curl's `--cacert` does: the file replaces them).
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate (expired, self-signed, for another
    /// host). For testing only.
    pub insecure: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_connections: 16,
            max_connections_per_host: 16,
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("semcrawl/", env!("CARGO_PKG_VERSION")).to_owned(),
            proxy: None,
            ca_cert: None,
            insecure: false,
        }
    }
}

impl FetchOptions {
    /// Options that follow a crawl: the pool holds as many connections as
    /// pages may be in flight, per-host as many as `--per-host`, and the
    /// connect timeout is at most the request timeout.
    pub fn from_config(config: &Config) -> Self {
        FetchOptions {
            max_connections: config.concurrency.max(),
            max_connections_per_host: config.per_host,
            connect_timeout: config.timeout.min(Duration::from_secs(10)),
            user_agent: config.user_agent.clone(),
            ..FetchOptions::default()
        }
    }
}

/// Sends the core's GET requests: plain `http://` on hyper with a pool of
/// our own ([`crate::h1`]), `https://` and anything sent through a proxy on
/// isahc. Cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    curl: Arc<Curl>,
    /// The client of plain-http requests; `None` when a proxy is set (by
    /// [`FetchOptions::proxy`] or curl's environment variables): then curl
    /// sends everything, so that its proxy rules (`no_proxy`, ...) apply.
    h1: Option<Arc<H1Client>>,
    user_agent: String,
}

/// isahc's client, made on first use (see [`HttpFetcher::new`]).
#[derive(Debug)]
struct Curl {
    options: FetchOptions,
    client: OnceLock<Result<HttpClient, FetchError>>,
}

impl Curl {
    fn client(&self) -> Result<&HttpClient, FetchError> {
        self.client
            .get_or_init(|| isahc_client(&self.options))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// isahc's client for `options`, with its own connection pool.
fn isahc_client(options: &FetchOptions) -> Result<HttpClient, FetchError> {
    let mut builder = HttpClient::builder();
    if let Some(proxy) = &options.proxy {
        let uri = proxy
            .parse::<isahc::http::Uri>()
            .map_err(|e| FetchError::Refused(format!("invalid proxy URL '{proxy}': {e}")))?;
        builder = builder.proxy(Some(uri));
    }
    if options.ca_cert.is_some() || options.insecure {
        let mut tls = TlsConfig::builder();
        if let Some(path) = &options.ca_cert {
            tls = tls.trust_store(TrustStore::from_file(path.clone()));
        }
        tls = tls.danger_accept_invalid_certs(options.insecure);
        builder = builder.tls_config(tls.build());
    }
    builder
        .max_connections(options.max_connections)
        .max_connections_per_host(options.max_connections_per_host)
        .connection_cache_size(options.max_connections.max(1))
        .connect_timeout(options.connect_timeout)
        .redirect_policy(RedirectPolicy::None)
        // Decoded lazily by `DecodingBody` instead (see the module docs);
        // the request advertises what it decodes.
        .automatic_decompression(false)
        .tcp_nodelay()
        .build()
        .map_err(|e| FetchError::Refused(format!("cannot set up the HTTP client: {e}")))
}

/// Whether curl would send plain-http requests through a proxy named by the
/// environment (it reads `http_proxy` in lowercase only, and `all_proxy` in
/// either case).
fn proxy_in_env() -> bool {
    ["http_proxy", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// A [`FetchOptions`] value that curl would only trip over at the first
/// request (and then on every page): found by [`FetchOptions::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// The proxy, and what is wrong with it.
    Proxy(String, String),
    /// The CA file, and what is wrong with it.
    CaCert(PathBuf, String),
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::Proxy(p, why) => write!(f, "invalid proxy '{}': {why}", p.escape_debug()),
            OptionError::CaCert(p, why) => write!(f, "cannot use '{}': {why}", p.display()),
        }
    }
}

impl std::error::Error for OptionError {}

impl FetchOptions {
    /// Check the proxy (a URL with a host, of a scheme curl speaks to
    /// proxies) and the CA file (readable, holding a PEM certificate).
    ///
    /// ```
    /// use semcrawl_smol::FetchOptions;
    ///
    /// let socks = FetchOptions { proxy: Some("socks5h://127.0.0.1:1080".into()), ..Default::default() };
    /// assert!(socks.check().is_ok());
    /// let ftp = FetchOptions { proxy: Some("ftp://127.0.0.1/".into()), ..Default::default() };
    /// assert!(ftp.check().unwrap_err().to_string().contains("unsupported scheme 'ftp'"));
    /// ```
    pub fn check(&self) -> Result<(), OptionError> {
        if let Some(proxy) = &self.proxy {
            let problem = match url::Url::parse(proxy) {
                Err(e) => Some(e.to_string()),
                Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("no host".into()),
                Ok(url) => match url.scheme() {
                    "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h" => None,
                    other => Some(format!(
                        "unsupported scheme '{other}' (http, https, socks4, socks4a, socks5, socks5h)"
                    )),
                },
            };
            if let Some(problem) = problem {
                return Err(OptionError::Proxy(proxy.clone(), problem));
            }
        }
        if let Some(path) = &self.ca_cert {
            let failed = |why: String| OptionError::CaCert(path.clone(), why);
            let bytes = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
            if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
                return Err(failed(
                    "no PEM certificate in it (-----BEGIN CERTIFICATE-----)".into(),
                ));
            }
        }
        Ok(())
    }
}

impl HttpFetcher {
    /// Build a client with its own connection pools.
    ///
    /// isahc's client (and its agent thread) is made at the first request
    /// that needs it when plain http goes to hyper: a crawl of an http site
    /// never starts it. With a proxy it sends everything, so it is made
    /// here and a bad proxy URL fails here.
    pub fn new(options: FetchOptions) -> Result<Self, FetchError> {
        let h1 = (options.proxy.is_none() && !proxy_in_env()).then(|| {
            Arc::new(H1Client::new(H1Options {
                max_connections: options.max_connections,
                max_connections_per_host: options.max_connections_per_host,
                connect_timeout: options.connect_timeout,
            }))
        });
        let user_agent = options.user_agent.clone();
        let curl = Arc::new(Curl {
            options,
            client: OnceLock::new(),
        });
        if h1.is_none() {
            curl.client()?;
        }
        Ok(HttpFetcher {
            curl,
            h1,
            user_agent,
        })
    }

    async fn get(&self, request: FetchRequest) -> Result<Response, FetchError> {
        let scheme = request.url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(FetchError::Refused(format!(
                "unsupported scheme '{scheme}'"
            )));
        }
        let user_agent = if request.user_agent.is_empty() {
            &self.user_agent
        } else {
            &request.user_agent
        };
        // Credentials in the URL are curl's to send (as it does, Basic).
        let plain = scheme == "http"
            && request.url.username().is_empty()
            && request.url.password().is_none();
        if let (Some(h1), true) = (&self.h1, plain) {
            let (head, body) = h1.fetch(&request, user_agent).await?;
            let headers = &head.headers;
            let fields = HeadFields::from_lookup(|name| {
                headers.get_all(name).iter().map(|v| v.as_bytes()).collect()
            });
            return Ok(fields.response(head.status.as_u16(), request.url, body));
        }
        let mut http_request = isahc::Request::get(request.url.as_str())
            .header(header::USER_AGENT, user_agent.as_str())
            .header(header::ACCEPT_ENCODING, ACCEPT_ENCODING)
            .timeout(request.timeout)
            .body(())
            .map_err(|e| FetchError::Refused(format!("invalid request: {e}")))?;
        // The core chose these for this URL: they replace a header of ours
        // of the same name (a user's User-Agent, say) rather than doubling it.
        for (name, value) in request.headers.iter() {
            let name = header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| FetchError::Refused(format!("invalid header name '{name}': {e}")))?;
            let value = header::HeaderValue::from_str(value)
                .map_err(|e| FetchError::Refused(format!("invalid value of header {name}: {e}")))?;
            http_request.headers_mut().insert(name, value);
        }
        let response = self
            .curl
            .client()?
            .send_async(http_request)
            .await
            .map_err(map_error)?;

        let url = response
            .effective_uri()
            .and_then(|uri| Url::parse(&uri.to_string()).ok())
            .unwrap_or(request.url);
        let headers = response.headers();
        let fields = HeadFields::from_lookup(|name| {
            headers.get_all(name).iter().map(|v| v.as_bytes()).collect()
        });
        let status = response.status().as_u16();
        Ok(fields.response(status, url, NormalizedBody(response.into_body())))
    }
}

/// The fields of a response head that the core reads, from either client's
/// header map (`lookup` gives every value of a header, by lowercase name).
struct HeadFields {
    content_type: Option<String>,
    content_length: Option<u64>,
    location: Option<String>,
    retry_after: Option<String>,
    robots_tag: Option<String>,
    encoding: Encoding,
}

impl HeadFields {
    fn from_lookup<'a>(lookup: impl Fn(&str) -> Vec<&'a [u8]>) -> Self {
        // The first value of a header, as text. Non-UTF-8 bytes (seen in the
        // wild in `Location`) are replaced rather than dropping the header.
        let first = |name: &str| {
            lookup(name)
                .first()
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let encoding = Encoding::from_headers(lookup("content-encoding"));
        // The length of the bytes the core will read, so only for a body
        // that is not decoded: the core reserves it from the gate at once,
        // and a compressed length says nothing of the decoded size.
        let content_length = first("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|_| encoding.is_identity());
        // Several X-Robots-Tag headers add up: joined, they read as one.
        let robots_tag = lookup("x-robots-tag")
            .into_iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect::<Vec<_>>()
            .join(", ");
        HeadFields {
            content_type: first("content-type"),
            content_length,
            location: first("location"),
            retry_after: first("retry-after"),
            robots_tag: (!robots_tag.is_empty()).then_some(robots_tag),
            encoding,
        }
    }

    /// The core's response, its body decoded as it is read.
    fn response<B: AsyncRead + Unpin + Send + 'static>(
        self,
        status: u16,
        url: Url,
        raw: B,
    ) -> Response {
        Response {
            status,
            url,
            content_type: self.content_type,
            content_length: self.content_length,
            location: self.location,
            retry_after: self.retry_after,
            robots_tag: self.robots_tag,
            body: Box::new(DecodingBody::new(raw, self.encoding)),
        }
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Response, FetchError>> {
        Box::pin(self.get(request))
    }
}

/// Map an isahc error (before the head arrived) to the core's kinds.
///
/// isahc's own kinds lump together faults a crawler must tell apart: a
/// malformed answer (a bad chunk size, a head too large to hold) comes back
/// as "unknown" or "I/O", which would read as a connection error and be
/// retried, though the server will send the same bytes again. So the curl
/// error underneath is classified first, by its code; isahc's kind is the
/// fallback for errors that did not come from curl.
pub fn map_error(error: isahc::Error) -> FetchError {
    let curl = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<curl::Error>());
    let message = match curl {
        Some(c) => curl_message(c),
        None => error.to_string(),
    };
    if let Some(kind) = curl.and_then(|c| classify_curl(c.code())) {
        return kind(message);
    }
    match error.kind() {
        IsahcKind::Timeout => FetchError::Timeout,
        IsahcKind::ConnectionFailed | IsahcKind::NameResolution | IsahcKind::Io => {
            FetchError::Connect(message)
        }
        IsahcKind::BadServerCertificate
        | IsahcKind::BadClientCertificate
        | IsahcKind::TlsEngine
        | IsahcKind::InvalidTlsConfiguration => FetchError::Tls(message),
        IsahcKind::ProtocolViolation
        | IsahcKind::InvalidContentEncoding
        | IsahcKind::TooManyRedirects => FetchError::Protocol(message),
        IsahcKind::InvalidRequest
        | IsahcKind::ClientInitialization
        | IsahcKind::InvalidCredentials
        | IsahcKind::RequestBodyNotRewindable => FetchError::Refused(message),
        // Unknown: isahc says a later request will likely succeed.
        _ => FetchError::Connect(message),
    }
}

/// curl's description of an error, with the detail it gives (the detail
/// says *what* was wrong: "Illegal or missing hexadecimal sequence", ...).
fn curl_message(error: &curl::Error) -> String {
    match error.extra_description() {
        Some(extra) if !extra.is_empty() => format!("{} ({extra})", error.description()),
        _ => error.description().to_owned(),
    }
}

/// The kind of a curl error code, for the codes whose kind isahc gets wrong
/// or too coarse; `None` leaves the decision to isahc's kind.
fn classify_curl(code: curl_sys::CURLcode) -> Option<fn(String) -> FetchError> {
    use curl_sys as c;
    match code {
        c::CURLE_OPERATION_TIMEDOUT => Some(|_| FetchError::Timeout),
        // The server answered, but not in HTTP: the same bytes will come
        // again, so a retry cannot help.
        c::CURLE_UNSUPPORTED_PROTOCOL
        | c::CURLE_FTP_WEIRD_SERVER_REPLY
        | c::CURLE_HTTP2
        | c::CURLE_HTTP2_STREAM
        | c::CURLE_BAD_CONTENT_ENCODING
        | c::CURLE_TOO_MANY_REDIRECTS
        | CURLE_TOO_LARGE => Some(FetchError::Protocol),
        // The handshake failed on the certificate or the TLS dialogue itself.
        c::CURLE_SSL_CONNECT_ERROR
        | c::CURLE_PEER_FAILED_VERIFICATION
        | c::CURLE_SSL_CERTPROBLEM
        | c::CURLE_SSL_CIPHER
        | c::CURLE_SSL_CACERT_BADFILE
        | c::CURLE_SSL_ISSUER_ERROR
        | c::CURLE_SSL_PINNEDPUBKEYNOTMATCH
        | c::CURLE_SSL_INVALIDCERTSTATUS
        | c::CURLE_USE_SSL_FAILED => Some(FetchError::Tls),
        _ => None,
    }
}

/// "A value or data field grew larger than allowed" (curl 8.6+): a header
/// line or a head over curl's limits. Not in `curl-sys`'s list yet.
const CURLE_TOO_LARGE: curl_sys::CURLcode = 100;

/// isahc's (raw, still encoded) body with its errors normalized to the
/// stable [`io::ErrorKind`]s the core reads them by:
/// [`io::ErrorKind::TimedOut`] when the request deadline passed,
/// [`io::ErrorKind::InvalidData`] for a protocol error, anything else for a
/// broken connection (see [`semcrawl_core::classify_body_error`]). A corrupt
/// encoding is reported as `InvalidData` by [`DecodingBody`] above it.
struct NormalizedBody(AsyncBody);

impl AsyncRead for NormalizedBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(normalize_io_error(e))),
            other => other,
        }
    }
}

/// A body error in the kinds the core reads: [`io::ErrorKind::TimedOut`]
/// when the deadline passed, [`io::ErrorKind::InvalidData`] for anything
/// else. The head has arrived by then, so a body that breaks off (a bad
/// chunk size, a reset half-way) is the server's answer being broken, not a
/// connection that could not be made: retrying would fetch the same again.
fn normalize_io_error(error: io::Error) -> io::Error {
    let Some(inner) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<isahc::Error>())
    else {
        return error;
    };
    match map_error(inner.clone()) {
        FetchError::Timeout => io::Error::new(io::ErrorKind::TimedOut, error),
        FetchError::Connect(m)
        | FetchError::Protocol(m)
        | FetchError::Refused(m)
        | FetchError::Tls(m) => io::Error::new(io::ErrorKind::InvalidData, m),
    }
}
