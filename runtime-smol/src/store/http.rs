//! [`HttpSinkStore`]: POST each batch of records, as a JSON array, to a URL.
//!
//! An HTTP sink is how a crawl feeds a service (an indexer, a queue's HTTP
//! front) without a file in between. The contract of [`Store::write`] is
//! "stored once it returns `Ok`", so the sink must never drop a batch
//! silently: a failure the receiver may recover from (connect error, a
//! connection closed or reset before the answer, timeout, `5xx`, `429`) is
//! retried with exponential backoff, honouring a
//! `Retry-After` in seconds; after the last attempt, or at once for any other
//! status, `write` returns a [`StoreError`] that names the URL and the cause,
//! and the core stops the crawl instead of losing records.
//!
//! A retried POST may deliver the same batch twice (the receiver got it but
//! the answer was lost); receivers should key records by `url`.

use std::time::Duration;

use futures::AsyncReadExt;
use isahc::config::{Configurable, ExpectContinue, RedirectPolicy};
use isahc::http::header;
use isahc::{AsyncBody, HttpClient};
use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// Retry and timeout settings of an [`HttpSinkStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSinkOptions {
    /// Attempts after the first one before giving up.
    pub retries: u32,
    /// Pause before the first retry; doubled for each next one.
    pub initial_backoff: Duration,
    /// Longest pause between two attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// Deadline of one POST, answer included.
    pub timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpSinkOptions {
    fn default() -> Self {
        HttpSinkOptions {
            retries: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            user_agent: concat!("semcrawl/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// POSTs batches of records as JSON arrays, retrying transient failures.
#[derive(Debug, Clone)]
pub struct HttpSinkStore {
    client: HttpClient,
    url: String,
    options: HttpSinkOptions,
}

/// The outcome of one attempt.
enum Attempt {
    Delivered,
    /// Worth another try, after at least this long (`Retry-After`).
    Retry(String, Option<Duration>),
    Fatal(String),
}

impl HttpSinkStore {
    /// A sink posting to `url` (`http` or `https`).
    pub fn new(url: &str, options: HttpSinkOptions) -> Result<Self, StoreError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StoreError(format!("invalid sink URL '{url}': {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(StoreError(format!(
                "invalid sink URL '{url}': only http and https are supported"
            )));
        }
        let client = HttpClient::builder()
            .timeout(options.timeout)
            .redirect_policy(RedirectPolicy::None)
            // curl would wait up to 1 s for `100 Continue` before a body over
            // 1 MiB; batches are small enough to just send.
            .expect_continue(ExpectContinue::disabled())
            .build()
            .map_err(|e| StoreError(format!("cannot set up the HTTP client for '{url}': {e}")))?;
        Ok(HttpSinkStore {
            client,
            url: url.to_owned(),
            options,
        })
    }

    /// The URL batches are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn attempt(&self, body: &[u8]) -> Attempt {
        let request = isahc::Request::post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, self.options.user_agent.as_str())
            .body(AsyncBody::from(body.to_vec()));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Attempt::Fatal(format!("invalid request: {e}")),
        };
        let mut response = match self.client.send_async(request).await {
            Ok(r) => r,
            Err(e) if is_transient(&e) => return Attempt::Retry(e.to_string(), None),
            Err(e) => return Attempt::Fatal(e.to_string()),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read (a little of) the answer: it frees the connection for reuse
        // and explains a refusal.
        let mut text = Vec::new();
        let _ = response.body_mut().take(512).read_to_end(&mut text).await;
        let detail = String::from_utf8_lossy(&text);
        let detail = detail.trim();
        let message = if detail.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {detail}")
        };
        if status.is_success() {
            Attempt::Delivered
        } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Attempt::Retry(message, retry_after)
        } else {
            Attempt::Fatal(message)
        }
    }

    async fn deliver(&self, batch: &[Record]) -> Result<(), StoreError> {
        let body = serde_json::to_vec(batch)
            .map_err(|e| StoreError(format!("cannot serialize batch for '{}': {e}", self.url)))?;
        let mut backoff = self.options.initial_backoff;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (message, retry_after) = match self.attempt(&body).await {
                Attempt::Delivered => return Ok(()),
                Attempt::Fatal(message) => {
                    return Err(StoreError(format!(
                        "HTTP sink '{}' refused a batch of {} records: {message}",
                        self.url,
                        batch.len()
                    )))
                }
                Attempt::Retry(message, retry_after) => (message, retry_after),
            };
            if attempt > self.options.retries {
                return Err(StoreError(format!(
                    "HTTP sink '{}' failed {attempt} times for a batch of {} records, last: {message}",
                    self.url,
                    batch.len()
                )));
            }
            let pause = retry_after
                .map_or(backoff, |r| r.max(backoff))
                .min(self.options.max_backoff);
            tracing::warn!(url = %self.url, attempt, ?pause, "HTTP sink failed, retrying: {message}");
            smol::Timer::after(pause).await;
            backoff = (backoff * 2).min(self.options.max_backoff);
        }
    }
}

/// Whether a failed POST may succeed if sent again: the connection could not
/// be made, timed out, or was closed or reset before the answer. A receiver
/// restarting or a proxy dropping an idle connection does the last; isahc
/// calls it a protocol violation, but it is the same as a `503`.
fn is_transient(error: &isahc::Error) -> bool {
    if error.is_network() || error.is_timeout() {
        return true;
    }
    let code = std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<curl::Error>())
        .map(curl::Error::code);
    matches!(
        code,
        Some(
            curl_sys::CURLE_GOT_NOTHING
                | curl_sys::CURLE_SEND_ERROR
                | curl_sys::CURLE_RECV_ERROR
                | curl_sys::CURLE_PARTIAL_FILE
        )
    )
}

impl Store for HttpSinkStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.deliver(batch))
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        // Every batch is acknowledged by the receiver before `write` returns.
        Box::pin(async { Ok(()) })
    }
}
