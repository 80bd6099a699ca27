//! Fetching a host's robots.txt, next to the rules it feeds.
//!
//! The crawl loop only needs "the rules of this host", and whether the user
//! must hear about them; how they are got (the redirects, the retries, what
//! a 4xx or 5xx means, the size cap, the deadline) is robots.txt knowledge,
//! so it lives beside the parser. The body is read by the same metered
//! reader as pages, under the same byte gate: a huge robots.txt costs at
//! most [`MAX_ROBOTS_BYTES`] of the memory budget.
//!
//! What an answer means, after the page's retry policy ([`RetryPolicy`]:
//! connect errors, timeouts, 429 and 5xx retried, `Retry-After` honoured)
//! has been spent:
//!
//! * 2xx: the rules in the body;
//! * 4xx other than 408 and 429: no robots.txt, everything allowed
//!   (RFC 9309, 2.3.1.3);
//! * 5xx, 408, 429, a network error, a timeout, a broken answer: the file is
//!   *unreachable*, and RFC 9309 (2.3.1.4) asks for a complete disallow.
//!   One transient failure must not cost a host its crawl, hence the
//!   retries; a host whose robots.txt stays unreachable is not crawled, and
//!   that decision is returned as [`Unreachable`] so that the crawl can
//!   warn and record it, rather than skip the host silently;
//! * a request the runtime refuses to make (an unsupported scheme, a
//!   browser's CORS refusal): no rules, as before any server was asked;
//! * more than five redirects: no rules (RFC 9309 allows treating it as
//!   unavailable).

use std::time::Duration;

use futures::future::{select, Either};
use url::Url;

use super::{robots_url, Robots, MAX_ROBOTS_BYTES};
use crate::body::{read_body, ReadError};
use crate::canon;
use crate::gate::{ByteGate, PAGE_OVERHEAD};
use crate::headers::RequestHeaders;
use crate::retry::{parse_retry_after, Failure, RetryPolicy};
use crate::runtime::{Fetch, FetchError, FetchRequest, Runtime};
use crate::scope::Scope;

/// Redirects followed to reach a robots.txt (RFC 9309 asks for at least five).
const MAX_REDIRECTS: usize = 5;

/// What fetching a robots.txt needs from the crawl.
pub(crate) struct RobotsFetch<'a, F, R> {
    pub fetch: &'a F,
    pub runtime: &'a R,
    pub gate: &'a ByteGate,
    pub user_agent: &'a str,
    pub timeout: Duration,
    /// The pages' retry policy, applied to robots.txt too.
    pub retry: &'a RetryPolicy,
    /// The extra headers of each request, by URL (those of the pages: a
    /// site behind a cookie may keep its robots.txt behind it too).
    pub headers: &'a RequestHeaders,
    /// The crawl's scope, which says which hosts are allowed domains.
    pub scope: &'a Scope,
}

/// The rules of a host, and why they are what they are when the user must
/// be told.
pub(crate) struct Fetched {
    pub rules: Robots,
    /// Set when the file could not be fetched: `rules` then disallow all.
    pub unreachable: Option<Unreachable>,
    /// What a later run may reuse instead of fetching again: the file's
    /// text, or `Some(None)` for a host that has none (a 4xx); `None` when
    /// the answer is not worth keeping (unreachable, or nothing was asked).
    pub keep: Option<Option<String>>,
}

/// A robots.txt that stayed unreachable after the retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreachable {
    /// The robots.txt URL last asked for (after redirects).
    pub url: Url,
    /// The status of the last answer, if a head arrived.
    pub status: Option<u16>,
    /// The last failure, for people: `HTTP 503`, `timed out`, ...
    pub reason: String,
    /// Requests made for that URL (1 + retries).
    pub attempts: u32,
}

impl Unreachable {
    /// The warning and the record's message: what failed, and what it means.
    pub(crate) fn message(&self) -> String {
        let host = self.url.host_str().unwrap_or("?");
        let host = match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let tries = if self.attempts == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{} attempts", self.attempts)
        };
        format!(
            "robots.txt of {host} unreachable ({} after {tries}): its pages are not crawled",
            self.reason
        )
    }
}

/// Why one request for a robots.txt gave no rules.
enum StepError {
    /// The server or the network failed: retry, then disallow.
    Failed {
        failure: Failure,
        retry_after: Option<Duration>,
    },
    /// Nothing was asked of the server (refused request, memory budget).
    NotAsked,
}

impl<F: Fetch, R: Runtime> RobotsFetch<'_, F, R> {
    /// Fetch and parse the robots.txt of `page_url`'s host, with retries,
    /// following up to five redirects: see the module documentation for
    /// what each answer means.
    pub(crate) async fn rules(&self, page_url: &Url) -> Fetched {
        let allow_all = Fetched {
            rules: Robots::allow_all(),
            unreachable: None,
            keep: None,
        };
        let mut url = robots_url(page_url);
        let mut hops = 0;
        let mut retries = 0;
        loop {
            let deadline = self.runtime.sleep(self.timeout);
            let step = std::pin::pin!(self.step(url.clone()));
            let result = match select(step, deadline).await {
                Either::Left((r, _)) => r,
                Either::Right(_) => Err(StepError::Failed {
                    failure: Failure::Fetch(FetchError::Timeout),
                    retry_after: None,
                }),
            };
            match result {
                Ok(Step::Rules(rules, text)) => {
                    return Fetched {
                        rules,
                        unreachable: None,
                        keep: Some(text),
                    }
                }
                Ok(Step::Redirect(next)) => {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return allow_all;
                    }
                    url = next;
                    retries = 0;
                }
                Err(StepError::NotAsked) => return allow_all,
                Err(StepError::Failed {
                    failure,
                    retry_after,
                }) => match self
                    .retry
                    .backoff(retries, &failure, retry_after, url.as_str())
                {
                    Some(wait) => {
                        tracing::debug!(%url, ?failure, ?wait, "retrying robots.txt");
                        self.runtime.sleep(wait).await;
                        retries += 1;
                    }
                    None => {
                        let (status, reason) = match failure {
                            Failure::Status(s) => (Some(s), format!("HTTP {s}")),
                            Failure::Fetch(e) => (None, e.to_string()),
                        };
                        return Fetched {
                            rules: Robots::disallow_all(),
                            keep: None,
                            unreachable: Some(Unreachable {
                                url,
                                status,
                                reason,
                                attempts: retries + 1,
                            }),
                        };
                    }
                },
            }
        }
    }

    /// One request: the rules, or where they moved.
    async fn step(&self, url: Url) -> Result<Step, StepError> {
        let failed = |e: FetchError| match e {
            FetchError::Refused(_) => StepError::NotAsked,
            e => StepError::Failed {
                failure: Failure::Fetch(e),
                retry_after: None,
            },
        };
        let mut hold = self
            .gate
            .admit(PAGE_OVERHEAD)
            .await
            .map_err(|_| StepError::NotAsked)?;
        let request = FetchRequest {
            headers: self.headers.for_url(&url, self.scope),
            url,
            user_agent: self.user_agent.to_owned(),
            timeout: self.timeout,
        };
        let mut response = self.fetch.fetch(request).await.map_err(failed)?;
        let status = response.status;
        Ok(match status {
            200..=299 => {
                let body = read_body(
                    &mut *response.body,
                    &mut hold,
                    MAX_ROBOTS_BYTES as u64,
                    response.content_length,
                    None,
                )
                .await
                .map_err(|e| match e {
                    ReadError::Fetch(e) => failed(e),
                    ReadError::Gate(_) => StepError::NotAsked,
                })?;
                let text = String::from_utf8_lossy(&body.bytes).into_owned();
                Step::Rules(Robots::parse(&text, self.user_agent), Some(text))
            }
            300..=399 => match response
                .location
                .as_deref()
                .and_then(|l| canon::resolve(&response.url, l))
            {
                Some(next) => Step::Redirect(next),
                None => Step::Rules(Robots::allow_all(), None),
            },
            408 | 429 | 500.. => {
                let retry_after = response
                    .retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, self.runtime.unix_millis()));
                return Err(StepError::Failed {
                    failure: Failure::Status(status),
                    retry_after,
                });
            }
            _ => Step::Rules(Robots::allow_all(), None),
        })
    }
}

enum Step {
    /// The rules, and the text they came from (`None`: no file, all allowed).
    Rules(Robots, Option<String>),
    Redirect(Url),
}
