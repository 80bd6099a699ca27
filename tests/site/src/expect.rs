//! The crawl a correct crawler makes of a [`Site`]: a breadth-first walk of
//! the same link graph the HTML was rendered from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use semcrawl_core::scope::ScopeMode;
use semcrawl_core::types::ContentTypes;
use semcrawl_core::ErrorKind;
use url::Url;

use crate::html::{Kind, Target};
use crate::{Site, BOMB_INFLATED_SIZE};

/// The crawl options that change what a correct crawl stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectOptions {
    /// Seed paths (default `["/"]`), on the site's origin.
    pub seeds: Vec<String>,
    /// `--scope`. `Host` and `Domain` are the same for `127.0.0.1`; `Any`
    /// also follows the `localhost` alias and the off-site links (which,
    /// unreachable, are robots-skipped when robots are obeyed, and `connect`
    /// errors otherwise).
    pub scope: ScopeMode,
    /// Not `--ignore-robots`.
    pub obey_robots: bool,
    /// `--max-body`.
    pub max_body: u64,
    /// `--timeout`: the slow page is a `timeout` error when this is not
    /// longer than [`SiteSpec::slow_latency`](crate::SiteSpec::slow_latency)
    /// plus the site latency. Keep it well away from that value in tests.
    pub timeout: Duration,
    /// `--max-depth`.
    pub max_depth: Option<u32>,
}

impl Default for ExpectOptions {
    fn default() -> Self {
        ExpectOptions {
            seeds: vec!["/".into()],
            scope: ScopeMode::Host,
            obey_robots: true,
            max_body: semcrawl_core::DEFAULT_MAX_BODY,
            timeout: Duration::from_secs(30),
            max_depth: None,
        }
    }
}

/// One record a correct crawl stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRecord {
    /// Canonical URL.
    pub url: String,
    /// Shortest link distance from a seed (following a redirect is not a
    /// step: its target has the redirect's depth). A concurrent crawler may
    /// record a larger depth, never a smaller one.
    pub depth: u32,
    /// HTTP status, `None` when no response head is expected (timeout,
    /// connect error).
    pub status: Option<u16>,
    /// For a 3xx: the canonical `Location`.
    pub final_url: Option<String>,
    /// The error kind, `None` for a successful record.
    pub error: Option<ErrorKind>,
    /// Whether the body is HTML that is parsed for links.
    pub html: bool,
}

/// The result of a correct crawl.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Every record, by canonical URL.
    pub records: BTreeMap<String, ExpectedRecord>,
    /// Linked (or redirected-to) URLs that robots.txt forbids: never
    /// requested.
    pub robots_skipped: BTreeSet<String>,
    /// Linked URLs outside the scope: never requested.
    pub out_of_scope: BTreeSet<String>,
    /// Linked URLs with a known non-HTML extension (see
    /// `semcrawl_core::types`): never requested.
    pub not_queued: BTreeSet<String>,
}

impl Expected {
    /// The canonical URLs of all records.
    pub fn urls(&self) -> BTreeSet<String> {
        self.records.keys().cloned().collect()
    }
    /// Number of records without error (the summary's `pages`).
    pub fn pages(&self) -> u64 {
        self.records.values().filter(|r| r.error.is_none()).count() as u64
    }
    /// Number of error records (the summary's `errors`).
    pub fn errors(&self) -> u64 {
        self.records.values().filter(|r| r.error.is_some()).count() as u64
    }
    /// Error records by kind name (the summary's `errorsByKind`).
    pub fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for kind in self.records.values().filter_map(|r| r.error) {
            *m.entry(kind.as_str().to_owned()).or_insert(0) += 1;
        }
        m
    }
}

/// Where a page was fetched from, for resolving its relative links.
#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    Primary,
    Alias,
}

pub(crate) fn expected(site: &Site, base: &Url, opts: &ExpectOptions) -> Expected {
    let origin = base.origin().ascii_serialization();
    let port = base.port_or_known_default().unwrap_or(80);
    let alias = format!("http://localhost:{port}");
    let url_of = |t: &Target| match t {
        Target::Local(p) | Target::Primary(p) => format!("{origin}{p}"),
        Target::Alias(p) => format!("{alias}{p}"),
        Target::External(u) => u.clone(),
    };
    // Relative links of a page fetched through the alias stay on the alias.
    let resolve = |t: &Target, from: From| match (t, from) {
        (Target::Local(p), From::Alias) => Target::Alias(p.clone()),
        (Target::Primary(p), _) => Target::Local(p.clone()),
        _ => t.clone(),
    };
    let in_scope = |t: &Target| match t {
        Target::Local(_) | Target::Primary(_) => true,
        Target::Alias(_) | Target::External(_) => opts.scope == ScopeMode::Any,
    };

    let mut out = Expected::default();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::new();
    for s in &opts.seeds {
        queue.push_back((Target::Local(s.clone()), 0u32));
    }
    while let Some((target, depth)) = queue.pop_front() {
        let url = url_of(&target);
        if !seen.insert(url.clone()) {
            continue;
        }
        if !in_scope(&target) {
            out.out_of_scope.insert(url);
            continue;
        }
        if opts.max_depth.is_some_and(|m| depth > m) {
            seen.remove(&url);
            continue;
        }
        // A link to a known non-HTML extension (.pdf, ...) is not queued.
        let types = ContentTypes::default();
        if depth > 0 && Url::parse(&url).is_ok_and(|u| !types.queues(&u)) {
            out.not_queued.insert(url);
            continue;
        }
        let (path, from) = match &target {
            Target::Local(p) | Target::Primary(p) => (p.as_str(), From::Primary),
            Target::Alias(p) => (p.as_str(), From::Alias),
            Target::External(_) => {
                // An unreachable host: its robots.txt cannot be fetched
                // either, which disallows the host and is recorded once.
                if opts.obey_robots {
                    if let Ok(mut robots) = Url::parse(&url) {
                        robots.set_path("/robots.txt");
                        robots.set_query(None);
                        let robots = robots.to_string();
                        let rec =
                            record(robots.clone(), 0, None, Some(ErrorKind::RobotsUnreachable));
                        out.records.entry(robots).or_insert(rec);
                    }
                    out.robots_skipped.insert(url);
                } else {
                    let rec = record(url.clone(), depth, None, Some(ErrorKind::Connect));
                    out.records.insert(url, rec);
                }
                continue;
            }
        };
        if opts.obey_robots && site.disallowed(path) {
            out.robots_skipped.insert(url);
            continue;
        }
        let key = path.split('?').next().unwrap_or(path);
        let mut rec = record(url.clone(), depth, Some(200), None);
        match site.inner.resources.get(key).map(|r| (&r.kind, &r.links)) {
            None => {
                rec.status = Some(404);
                rec.error = Some(ErrorKind::Http);
            }
            Some((Kind::Html { body, delay, .. }, links)) => {
                if *delay + site.spec().latency >= opts.timeout {
                    rec.status = None;
                    rec.error = Some(ErrorKind::Timeout);
                } else if body.len(origin.len(), alias.len()) as u64 > opts.max_body {
                    rec.error = Some(ErrorKind::BodyTooLarge);
                } else {
                    rec.html = true;
                    for l in links {
                        queue.push_back((resolve(l, from), depth + 1));
                    }
                }
            }
            Some((Kind::File { body, content_type }, _)) => {
                // Not HTML: recorded from its head, its body never read.
                let read = ContentTypes::default().reads(Some(content_type), false);
                if read && body.len() as u64 > opts.max_body {
                    rec.error = Some(ErrorKind::BodyTooLarge);
                }
            }
            Some((Kind::Robots(_), _)) => {}
            Some((
                Kind::Redirect {
                    status, target: to, ..
                },
                _,
            )) => {
                let to = resolve(to, from);
                rec.status = Some(*status);
                rec.final_url = Some(url_of(&to));
                if in_scope(&to) {
                    // Same depth: to the front, so the walk stays in order of
                    // depth (a 0-1 breadth-first search).
                    queue.push_front((to, depth));
                } else {
                    rec.error = Some(ErrorKind::RedirectOutOfScope);
                }
            }
            Some((Kind::Error { status }, _)) => {
                rec.status = Some(*status);
                rec.error = Some(ErrorKind::Http);
            }
            Some((Kind::Endless, _)) => rec.error = Some(ErrorKind::BodyTooLarge),
            Some((Kind::GzipBomb, _)) => {
                if opts.max_body < BOMB_INFLATED_SIZE {
                    rec.error = Some(ErrorKind::BodyTooLarge);
                }
            }
        }
        out.records.insert(url, rec);
    }
    out
}

fn record(
    url: String,
    depth: u32,
    status: Option<u16>,
    error: Option<ErrorKind>,
) -> ExpectedRecord {
    ExpectedRecord {
        url,
        depth,
        status,
        final_url: None,
        error,
        html: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SiteSpec;

    fn base() -> Url {
        "http://127.0.0.1:4242/".parse().unwrap()
    }

    #[test]
    fn trap_site_expectations() {
        let site = Site::new(SiteSpec::trap_site());
        let opts = ExpectOptions {
            max_body: 1 << 20,
            ..ExpectOptions::default()
        };
        let e = site.expected(&base(), &opts);
        let o = "http://127.0.0.1:4242";
        let get = |p: &str| {
            e.records
                .get(&format!("{o}{p}"))
                .unwrap_or_else(|| panic!("{p} expected"))
        };
        for i in 0..60 {
            assert!(get(&format!("/p/{i}.html")).error.is_none());
        }
        assert_eq!(get("/").depth, 0);
        assert_eq!(get("/missing/home.html").error, Some(ErrorKind::Http));
        assert_eq!(get("/missing/home.html").status, Some(404));
        assert_eq!(get("/error/500.html").error, Some(ErrorKind::Http));
        assert_eq!(
            get("/go/offsite").error,
            Some(ErrorKind::RedirectOutOfScope)
        );
        assert_eq!(get("/stream/endless").error, Some(ErrorKind::BodyTooLarge));
        assert_eq!(get("/bomb.html").error, Some(ErrorKind::BodyTooLarge));
        assert!(get("/slow.html").error.is_none());
        assert_eq!(
            get("/loop/a").final_url.as_deref(),
            Some("http://127.0.0.1:4242/loop/b")
        );
        assert_eq!(get("/loop/self").status, Some(301));
        assert!(get("/moved/target.html").error.is_none());
        assert_eq!(get("/moved/target.html").depth, 1);
        assert!(get("/list?a=1&b=2").error.is_none());
        assert!(!e.records.contains_key(&format!("{o}/files/report.pdf")));
        assert!(e.not_queued.contains(&format!("{o}/files/report.pdf")));
        assert!(get("/files/notes.txt").error.is_none());
        assert!(get("/go/private").error.is_none());
        assert!(e
            .robots_skipped
            .contains(&format!("{o}/private/hidden.html")));
        assert!(e.robots_skipped.contains(&format!("{o}/private/0.html")));
        assert!(e.out_of_scope.contains("http://example.invalid/"));
        assert!(e.out_of_scope.contains("http://localhost:4242/"));
        assert!(e
            .records
            .keys()
            .all(|u| u.starts_with(o) && !u.contains('#') && !u.contains("utm_")));
        assert!(!e
            .records
            .keys()
            .any(|u| u.contains("/private/") || u.ends_with('?')));
        assert_eq!(e.pages() + e.errors(), e.records.len() as u64);

        let short = ExpectOptions {
            timeout: Duration::from_millis(500),
            ..opts.clone()
        };
        let e2 = site.expected(&base(), &short);
        assert_eq!(
            e2.records[&format!("{o}/slow.html")].error,
            Some(ErrorKind::Timeout)
        );

        let shallow = ExpectOptions {
            max_depth: Some(0),
            ..opts.clone()
        };
        assert_eq!(site.expected(&base(), &shallow).records.len(), 1);

        let anywhere = ExpectOptions {
            scope: ScopeMode::Any,
            obey_robots: false,
            ..opts
        };
        let e3 = site.expected(&base(), &anywhere);
        assert_eq!(e3.records["http://localhost:4242/p/3.html"].error, None);
        assert_eq!(
            e3.records["http://offsite.invalid/landing"].error,
            Some(ErrorKind::Connect)
        );
        assert!(e3
            .records
            .contains_key("http://127.0.0.1:4242/private/hidden.html"));
    }

    #[test]
    fn plain_site_has_only_pages() {
        let site = Site::new(SiteSpec::plain(30, 4096));
        let e = site.expected(&base(), &ExpectOptions::default());
        // Home, known page, 30 pages.
        assert_eq!(e.records.len(), 32);
        assert_eq!(e.errors(), 0);
        assert!(e.robots_skipped.is_empty() && e.out_of_scope.is_empty());
    }
}
