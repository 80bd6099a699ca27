//! robots.txt rules. (STUB: to be implemented.)
use std::time::Duration;
use url::Url;

/// The rules of one host for our user agent.
#[derive(Debug, Clone, Default)]
pub struct Robots {}

impl Robots {
    /// Parse a robots.txt body for `user_agent`.
    pub fn parse(body: &str, user_agent: &str) -> Self {
        let _ = (body, user_agent);
        todo!()
    }
    /// Rules that allow everything (robots.txt missing: 4xx).
    pub fn allow_all() -> Self {
        todo!()
    }
    /// Rules that forbid everything (robots.txt unreachable: 5xx, network error).
    pub fn disallow_all() -> Self {
        todo!()
    }
    /// Whether `url` (on this host) may be fetched.
    pub fn allowed(&self, url: &Url) -> bool {
        let _ = url;
        todo!()
    }
    /// `Crawl-delay`, if given.
    pub fn crawl_delay(&self) -> Option<Duration> {
        todo!()
    }
}

/// The robots.txt URL for the host of `url`.
pub fn robots_url(url: &Url) -> Url {
    let _ = url;
    todo!()
}
