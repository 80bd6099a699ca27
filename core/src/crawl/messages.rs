//! What the tasks tell the coordinator.
//!
//! The coordinator owns the frontier and the table of hosts, and no task
//! touches them: a task reports instead, and the coordinator updates its
//! state when the report arrives. Everything that crosses that boundary is
//! listed here, as plain data, so both sides can be read against this file
//! alone. It depends on nothing else in the crate: the host's id and the
//! robots.txt rules are type parameters, named by the coordinator
//! (`Report<HostId, Robots>`).

use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use url::Url;

/// A report from a task; `H` names a host, `R` is robots.txt rules.
pub(crate) enum Report<H, R> {
    /// A response head arrived, or an attempt failed: feed the limiters
    /// (only with adaptive concurrency).
    Sample { host: H, sample: LoadSample },
    /// A page's task is over (its record went to the writer): the page's
    /// request no longer counts for its host, and these links are found.
    Page(PageDone<H>),
    /// A host's robots.txt is known (its task is over); `keep`: what the
    /// crawl's state may keep of it (the text, `None` for no file) and
    /// when it was fetched (Unix ms), if it is worth keeping.
    Robots {
        host: H,
        rules: R,
        keep: Option<(Option<String>, u64)>,
    },
    /// Part of a page's links, sent before the page is done because they
    /// are too many to hold at once: the page waits for `queued` (fired or
    /// dropped once they are queued) before it resolves more.
    Links(Chunk),
}

/// Links of a page still in flight (see [`Report::Links`]).
pub(crate) struct Chunk {
    /// The depth of the page (its links are one deeper).
    pub depth: u32,
    /// The page's URL, the parent of its links.
    pub parent: Arc<str>,
    pub links: Vec<Url>,
    pub queued: oneshot::Sender<()>,
}

/// One request's latency and the load it was sent into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadSample {
    /// When the head arrived or the attempt failed, since the runtime's origin.
    pub at: Duration,
    /// From sending the request to that moment.
    pub latency: Duration,
    /// Requests being fetched crawl-wide when it was sent, itself included.
    pub in_flight: usize,
    /// The same, to its host (0 without a host limit).
    pub host_in_flight: usize,
    /// A 429/503, a timeout or a connect error: the server shed load.
    pub dropped: bool,
}

/// The end of a page's task.
pub(crate) struct PageDone<H> {
    pub host: H,
    /// The page's depth and the redirect hops that led to it.
    pub depth: u32,
    pub redirects: u32,
    /// The page's URL, the parent of what it links to.
    pub parent: Arc<str>,
    pub links: Vec<Found>,
}

/// A URL found by a page, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A link in the page: one level deeper.
    Link(Url),
    /// The target of a redirect: the same depth, one hop more.
    Redirect(Url),
}
