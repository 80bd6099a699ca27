//! Fetching a host's robots.txt, next to the rules it feeds.
//!
//! The crawl loop only needs "the rules of this host"; how they are got
//! (the redirects, what a 4xx or 5xx means, the size cap, the deadline) is
//! robots.txt knowledge, so it lives beside the parser. The body is read
//! by the same metered reader as pages, under the same byte gate: a huge
//! robots.txt costs at most [`MAX_ROBOTS_BYTES`] of the memory budget.

use std::time::Duration;

use futures::future::{select, Either};
use url::Url;

use super::{robots_url, Robots, MAX_ROBOTS_BYTES};
use crate::body::read_body;
use crate::canon;
use crate::gate::{ByteGate, PAGE_OVERHEAD};
use crate::runtime::{Fetch, FetchRequest, Runtime};

/// Redirects followed to reach a robots.txt (RFC 9309 asks for at least five).
const MAX_REDIRECTS: usize = 5;

/// What fetching a robots.txt needs from the crawl.
pub(crate) struct RobotsFetch<'a, F, R> {
    pub fetch: &'a F,
    pub runtime: &'a R,
    pub gate: &'a ByteGate,
    pub user_agent: &'a str,
    pub timeout: Duration,
}

impl<F: Fetch, R: Runtime> RobotsFetch<'_, F, R> {
    /// Fetch and parse the robots.txt of `page_url`'s host, following up to
    /// five redirects.
    ///
    /// Per RFC 9309: a 4xx means no rules; a 5xx means "assume complete
    /// disallow". A network failure (or a timeout, or a body that cannot be
    /// read) is treated as no rules: the host's pages will then fail to
    /// fetch and be recorded as connect errors, which tells the user more
    /// than silently skipping them would.
    pub(crate) async fn rules(&self, page_url: &Url) -> Robots {
        let mut url = robots_url(page_url);
        for _ in 0..MAX_REDIRECTS {
            let deadline = self.runtime.sleep(self.timeout);
            let step = std::pin::pin!(self.step(url));
            let result = match select(step, deadline).await {
                Either::Left((r, _)) => r,
                Either::Right(_) => Err(()),
            };
            match result {
                Ok(Step::Redirect(next)) => url = next,
                Ok(Step::Rules(robots)) => return robots,
                Err(()) => return Robots::allow_all(),
            }
        }
        Robots::allow_all()
    }

    /// One request: the rules, or where they moved.
    async fn step(&self, url: Url) -> Result<Step, ()> {
        let mut hold = self.gate.admit(PAGE_OVERHEAD).await.map_err(drop)?;
        let request = FetchRequest {
            url,
            user_agent: self.user_agent.to_owned(),
            timeout: self.timeout,
        };
        let mut response = self.fetch.fetch(request).await.map_err(drop)?;
        Ok(match response.status {
            200..=299 => {
                let body = read_body(
                    &mut *response.body,
                    &mut hold,
                    MAX_ROBOTS_BYTES as u64,
                    response.content_length,
                    None,
                )
                .await
                .map_err(drop)?;
                let text = String::from_utf8_lossy(&body.bytes);
                Step::Rules(Robots::parse(&text, self.user_agent))
            }
            300..=399 => match response
                .location
                .as_deref()
                .and_then(|l| canon::resolve(&response.url, l))
            {
                Some(next) => Step::Redirect(next),
                None => Step::Rules(Robots::allow_all()),
            },
            400..=499 => Step::Rules(Robots::allow_all()),
            _ => Step::Rules(Robots::disallow_all()),
        })
    }
}

enum Step {
    Rules(Robots),
    Redirect(Url),
}
