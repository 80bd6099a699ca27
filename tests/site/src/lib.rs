//! # semcrawl-site
//!
//! A generated web site and a real HTTP/1.1 server for it, plus the few
//! helpers every test of the workspace shares.
//!
//! The site is what `semcrawl demo` crawls offline, what the end-to-end tests
//! check the crawler against, and what the benchmarks load. It is a crate of
//! its own (unpublished) so that the `semcrawl` binary stays only a command
//! line, and so that the tests of the runtimes can use the same fixtures
//! without depending on the CLI. It has two parts:
//!
//! * [`Site`]: a deterministic site generated from a [`SiteSpec`] (page count,
//!   page size, links per page, seed, latency, traps). Pages look like real
//!   HTML (a head with title, description and `lang`; nested `div`/`p`/`ul`;
//!   relative, root-relative and absolute links). [`Site::expected`] computes
//!   the records a correct crawl stores, so a test can compare sets exactly.
//! * [`SiteServer`]: an HTTP/1.1 server on `127.0.0.1` (smol, keep-alive,
//!   `Content-Length` or chunked bodies, its own executor threads) that serves
//!   a site from pre-rendered bodies, counts the requests per URL and the most
//!   requests in flight at once, and stops when dropped.
//!
//! # Traps
//!
//! With [`Traps::ALL`] (the [`SiteSpec::trap_site`] default) the site holds
//! what a real crawl meets; every trap page is linked from the home page `/`:
//!
//! | trap | paths | a correct crawl |
//! | --- | --- | --- |
//! | URL variants | `#fragment`, `?utm_source=…`, bare `?`, `HTTP://` upper case, origin without `/`, `/list?b=2&a=1` | one record per canonical URL |
//! | 404 | `/missing/N.html` | record, `status` 404, error `http` |
//! | 500 | `/error/500.html` | record, error `http` (after retries) |
//! | redirects | `/old/N` (301, absolute `Location`), `/old/rel` (301, root-relative, to `/moved/target.html`), `/loop/a` ⇄ `/loop/b`, `/loop/self` | a record per 3xx, target enqueued and deduplicated |
//! | off-site redirect | `/go/offsite` (302 to `http://offsite.invalid/landing`) | error `redirect_out_of_scope` |
//! | redirect into `/private/` | `/go/private` | 3xx record; the target is never requested |
//! | robots.txt | `Disallow: /private/`; `/private/N.html` linked | never requested |
//! | off-site links | `http://example.invalid/…`, `https://example.invalid/…`, `http://localhost:PORT/` | not requested with `--scope host` |
//! | not crawlable | `mailto:`, `javascript:`, `tel:`, `data:` | ignored |
//! | files | `/files/report.pdf`, `/files/notes.txt` | the PDF is not queued (its extension); the text file is recorded from its head |
//! | slow page | `/slow.html` ([`SiteSpec::slow_latency`]) | record; error `timeout` if `--timeout` is shorter |
//! | endless body | `/stream/endless` (chunked, never ends) | error `body_too_large` |
//! | gzip bomb | `/bomb.html` (`Content-Encoding: gzip`, inflates to > 1 GiB) | error `body_too_large` |
//! | malformed HTML | `/malformed.html` | record, links still found |
//! | encodings | `/enc/cp1252.html` (`<meta charset=windows-1252>`), `/enc/sjis.html` (`Content-Type: …; charset=Shift_JIS`) | titles decoded |
//! | `<base href>` | `/base/index.html` (`<base href="/p/">`) | links resolved against the base |
//! | canonical | `/canon/dup.html` (`<link rel=canonical href=/p/1.html>`) | `canonical` field set |
//!
//! A known page, [`KNOWN_PAGE`] at `/known.html`, has fixed content for
//! checking `--select`, `--text` and `--links`.
//!
//! # Example
//!
//! ```no_run
//! use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};
//!
//! let server = SiteServer::start(Site::new(SiteSpec::trap_site()), 2).unwrap();
//! println!("crawl {}", server.base_url());
//! let expected = server.expected(&ExpectOptions::default());
//! println!("{} records expected", expected.records.len());
//! ```
//!
//! # The blog
//!
//! [`blog`] is another site, built like a real small blog with a shop
//! (facets, `?ref=` duplicates, sitemaps, nofollow links, binaries): what
//! the tests of which URLs a crawl takes, and their cost, run against.
//!
//! # Shared test helpers
//!
//! * [`gzip_bomb`]: the one gzip bomb of the workspace (the site serves it at
//!   `/bomb.html`; the runtime tests serve it raw).
//! * [`wait_for`]: poll a condition with a deadline, never a fixed sleep
//!   standing in for readiness.
#![forbid(unsafe_code)]

pub mod blog;
mod bomb;
mod expect;
mod html;
mod server;
mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use bomb::{gzip_bomb, BOMB_INFLATED_SIZE, BOMB_PREFIX};
pub use expect::{ExpectOptions, Expected, ExpectedRecord};
pub use html::{KnownPage, CP1252_TITLE, KNOWN_PAGE, SJIS_TITLE};
pub use server::SiteServer;
pub use wait::wait_for;

/// Which traps a site contains. Each is a separate switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traps {
    /// Links with fragments, `utm_*` parameters, a bare `?`, an upper-case
    /// scheme, an origin without a path, and `/list` with unsorted parameters.
    pub url_variants: bool,
    /// Links to pages that answer 404.
    pub not_found: bool,
    /// A page that answers 500.
    pub server_error: bool,
    /// In-scope 301s, a redirect loop and a self-redirect.
    pub redirects: bool,
    /// A 302 to an off-site host.
    pub offsite_redirect: bool,
    /// `robots.txt` with `Disallow: /private/`, linked private pages, and a
    /// redirect into `/private/`.
    pub robots: bool,
    /// Absolute links to other hosts (`example.invalid`, `localhost`).
    pub offsite_links: bool,
    /// `mailto:`, `javascript:`, `tel:` and `data:` links.
    pub non_crawlable: bool,
    /// A PDF-like binary and a `.txt` file, linked.
    pub files: bool,
    /// A page that answers after [`SiteSpec::slow_latency`].
    pub slow: bool,
    /// A chunked body that never ends.
    pub endless: bool,
    /// A gzip body that inflates to more than 1 GiB.
    pub gzip_bomb: bool,
    /// A page of broken HTML.
    pub malformed: bool,
    /// A windows-1252 page and a Shift_JIS page.
    pub encodings: bool,
    /// A page with `<base href>`.
    pub base_href: bool,
    /// A page with `<link rel=canonical>`.
    pub canonical: bool,
}

impl Traps {
    /// Every trap on (tests, demo).
    pub const ALL: Traps = Traps {
        url_variants: true,
        not_found: true,
        server_error: true,
        redirects: true,
        offsite_redirect: true,
        robots: true,
        offsite_links: true,
        non_crawlable: true,
        files: true,
        slow: true,
        endless: true,
        gzip_bomb: true,
        malformed: true,
        encodings: true,
        base_href: true,
        canonical: true,
    };

    /// Every trap off: plain pages only (benchmarks).
    pub const NONE: Traps = Traps {
        url_variants: false,
        not_found: false,
        server_error: false,
        redirects: false,
        offsite_redirect: false,
        robots: false,
        offsite_links: false,
        non_crawlable: false,
        files: false,
        slow: false,
        endless: false,
        gzip_bomb: false,
        malformed: false,
        encodings: false,
        base_href: false,
        canonical: false,
    };
}

impl Default for Traps {
    fn default() -> Self {
        Traps::ALL
    }
}

/// The shape of a generated site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// Number of regular pages (`/p/0.html` …).
    pub pages: usize,
    /// Approximate size of a regular page, in bytes.
    pub page_size: usize,
    /// Fewest links to other regular pages on a regular page.
    pub links_min: usize,
    /// Most links to other regular pages on a regular page.
    pub links_max: usize,
    /// Seed of the generator: the same spec gives the same site.
    pub seed: u64,
    /// Delay before every response.
    pub latency: Duration,
    /// Extra delay of the slow page `/slow.html`.
    pub slow_latency: Duration,
    /// Which traps the site holds.
    pub traps: Traps,
}

impl SiteSpec {
    /// The trap site of the tests and the demo: 60 pages of about 8 KiB,
    /// 10–20 links each, every trap on, a 1.5 s slow page.
    pub fn trap_site() -> Self {
        SiteSpec {
            pages: 60,
            page_size: 8 * 1024,
            links_min: 10,
            links_max: 20,
            seed: 0x5EED,
            latency: Duration::ZERO,
            slow_latency: Duration::from_millis(1500),
            traps: Traps::ALL,
        }
    }

    /// `pages` plain pages of about `page_size` bytes, no traps.
    pub fn plain(pages: usize, page_size: usize) -> Self {
        SiteSpec {
            pages,
            page_size,
            traps: Traps::NONE,
            ..SiteSpec::trap_site()
        }
    }

    /// Big pages: 300 pages of 1 MiB answering after 200 ms (benchmarks of
    /// the byte gate).
    pub fn big_pages() -> Self {
        SiteSpec {
            latency: Duration::from_millis(200),
            ..SiteSpec::plain(300, 1024 * 1024)
        }
    }

    /// Fast mode: 10,000 pages of about 20 KiB, no latency (throughput
    /// benchmarks).
    pub fn fast() -> Self {
        SiteSpec::plain(10_000, 20 * 1024)
    }
}

impl Default for SiteSpec {
    fn default() -> Self {
        SiteSpec::trap_site()
    }
}

/// A generated site: the resources by path, ready to be rendered for an
/// origin. Cheap to clone (shared).
#[derive(Clone)]
pub struct Site {
    inner: Arc<SiteInner>,
}

pub(crate) struct SiteInner {
    pub(crate) spec: SiteSpec,
    pub(crate) resources: BTreeMap<String, html::Resource>,
    /// robots.txt `Disallow` prefixes (empty when the robots trap is off).
    pub(crate) disallow: Vec<&'static str>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("spec", &self.inner.spec)
            .field("resources", &self.inner.resources.len())
            .finish()
    }
}

impl Site {
    /// Generate the site described by `spec` (deterministic).
    ///
    /// # Panics
    ///
    /// If `spec.pages` is 0 or `links_min > links_max`.
    pub fn new(spec: SiteSpec) -> Self {
        assert!(spec.pages > 0, "a site needs at least one page");
        assert!(spec.links_min <= spec.links_max, "links_min > links_max");
        let (resources, disallow) = html::generate(&spec);
        Site {
            inner: Arc::new(SiteInner {
                spec,
                resources,
                disallow,
            }),
        }
    }

    /// The spec the site was generated from.
    pub fn spec(&self) -> &SiteSpec {
        &self.inner.spec
    }

    /// The paths the site serves (anything else is a 404), sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.inner.resources.keys().map(String::as_str)
    }

    /// Whether robots.txt disallows `path` (a path, with or without a query).
    pub fn disallowed(&self, path: &str) -> bool {
        self.inner.disallow.iter().any(|p| path.starts_with(p))
    }

    /// The `robots.txt` body, or `None` if the site has none (404).
    pub fn robots_txt(&self) -> Option<String> {
        if !self.inner.spec.traps.robots {
            return None;
        }
        let mut s = String::from("# semcrawl test site\nUser-agent: *\n");
        for p in &self.inner.disallow {
            s.push_str("Disallow: ");
            s.push_str(p);
            s.push('\n');
        }
        Some(s)
    }

    /// The records a correct crawl of this site stores when the site is
    /// served at `base` (e.g. [`SiteServer::base_url`]).
    pub fn expected(&self, base: &url::Url, opts: &ExpectOptions) -> Expected {
        expect::expected(self, base, opts)
    }
}
