//! Which URLs are in the crawl's scope. (STUB: to be implemented.)
use url::Url;

/// How far from the seeds the crawl may wander.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeMode {
    /// Only the seeds' exact hosts (default).
    #[default]
    Host,
    /// The seeds' registrable domains and their subdomains.
    Domain,
    /// Anywhere.
    Any,
}

/// A scope check built once from the seeds.
#[derive(Debug, Clone)]
pub struct Scope {}

impl Scope {
    /// Build from mode, seeds and extra allowed domains.
    pub fn new(mode: ScopeMode, seeds: &[Url], allow_domains: &[String]) -> Self {
        let _ = (mode, seeds, allow_domains);
        todo!()
    }
    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &Url) -> bool {
        let _ = url;
        todo!()
    }
}
