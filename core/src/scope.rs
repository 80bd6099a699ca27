//! Which URLs are in the crawl's scope.
//!
//! A crawl that follows every link soon leaves the site it was asked about
//! and wanders the whole web. The scope, built once from the seeds, decides
//! for every discovered link (and every redirect target) whether it may be
//! fetched:
//!
//! * [`ScopeMode::Host`] (default): only the seeds' exact hosts. Ports are
//!   ignored (`example.com:8080` is the host `example.com`), so a site that
//!   links between its http and https or test ports stays in scope.
//! * [`ScopeMode::Domain`]: the seeds' registrable domains and all their
//!   subdomains (`www.example.co.uk` seeds `example.co.uk`, which admits
//!   `blog.example.co.uk`).
//! * [`ScopeMode::Any`]: every http(s) URL.
//!
//! In every mode, each `allow_domains` entry (`example.org`, `.example.org`
//! or `*.example.org`) adds that domain and its subdomains. URLs that are not
//! http(s) with a host are never in scope.
//!
//! # The registrable-domain heuristic
//!
//! The exact answer needs the Public Suffix List, a large, frequently changing
//! data file that this crate does not ship. [`registrable_domain`] instead uses
//! a documented heuristic that is right for the vast majority of sites:
//!
//! * IP addresses, `localhost` and single-label hosts are their own domain;
//! * if the top-level label has two letters (a country code) and the
//!   second-to-last label is a common second-level label ([`SECOND_LEVEL`]:
//!   `co`, `com`, `org`, `net`, `ac`, `gov`, `edu`, ...), the last three
//!   labels (`example.co.uk`, `example.com.au`);
//! * otherwise the last two labels (`example.com`, `example.de`).
//!
//! Its known failure mode is shared hosting suffixes such as `github.io`:
//! there `Domain` mode admits every user site under the suffix. Use `Host`
//! mode (the default) for those.
//!
//! ```
//! use semcrawl_core::scope::{Scope, ScopeMode};
//! use url::Url;
//!
//! let seeds = [Url::parse("https://www.example.co.uk/start").unwrap()];
//! let scope = Scope::new(ScopeMode::Domain, &seeds, &["partner.org".to_owned()]);
//! assert!(scope.allows(&Url::parse("http://blog.example.co.uk/").unwrap()));
//! assert!(scope.allows(&Url::parse("https://cdn.partner.org/x").unwrap()));
//! assert!(!scope.allows(&Url::parse("https://other.co.uk/").unwrap()));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

use crate::setting::ConfigError;
use crate::setting::Setting;

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

impl ScopeMode {
    /// The name used on the command line: `host`, `domain` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeMode::Host => "host",
            ScopeMode::Domain => "domain",
            ScopeMode::Any => "any",
        }
    }
}

impl fmt::Display for ScopeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScopeMode {
    type Err = ConfigError;

    /// Parse `host`, `domain` or `any` (ASCII case-insensitive).
    ///
    /// ```
    /// use semcrawl_core::scope::ScopeMode;
    /// assert_eq!("Domain".parse::<ScopeMode>().unwrap(), ScopeMode::Domain);
    /// let err = "site".parse::<ScopeMode>().unwrap_err();
    /// assert!(err.to_string().contains("'site'"));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("host") {
            Ok(ScopeMode::Host)
        } else if t.eq_ignore_ascii_case("domain") {
            Ok(ScopeMode::Domain)
        } else if t.eq_ignore_ascii_case("any") {
            Ok(ScopeMode::Any)
        } else {
            Err(ConfigError::invalid(
                Setting::Scope,
                s,
                "expected host, domain or any",
            ))
        }
    }
}

/// Second-level labels treated as public under a two-letter country TLD by
/// [`registrable_domain`] (`co.uk`, `com.au`, `ac.jp`, `gob.mx`, ...).
pub const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "go", "gob", "gov", "ltd", "mil", "ne", "net", "or", "org", "plc",
    "sch",
];

/// The registrable domain of a host, by the heuristic in the
/// [module documentation](self). `host` should be lowercase ASCII (as
/// [`Url::host_str`] gives it); a trailing dot is ignored.
///
/// ```
/// use semcrawl_core::scope::registrable_domain;
/// assert_eq!(registrable_domain("a.b.example.com"), "example.com");
/// assert_eq!(registrable_domain("www.bbc.co.uk"), "bbc.co.uk");
/// assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
/// assert_eq!(registrable_domain("localhost"), "localhost");
/// ```
pub fn registrable_domain(host: &str) -> &str {
    let host = host.strip_suffix('.').unwrap_or(host);
    if is_ip(host) {
        return host;
    }
    let labels: Vec<&str> = host.rsplitn(4, '.').collect();
    // `labels` is reversed: [tld, second, third, rest...].
    let keep = match labels.as_slice() {
        [tld, second, _, ..] if tld.len() == 2 && SECOND_LEVEL.contains(second) => 3,
        _ => 2,
    };
    if labels.len() <= keep {
        return host;
    }
    let kept: usize = labels[..keep].iter().map(|l| l.len()).sum::<usize>() + keep - 1;
    // `kept` counts ASCII labels and dots from the end, so the cut is at a
    // '.' byte and therefore a char boundary even for odd input.
    host.get(host.len() - kept..).unwrap_or(host)
}

/// IPv4 literal or bracketed IPv6 literal (as [`Url::host_str`] prints them).
fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// A scope check built once from the seeds.
///
/// Cheap to query: a few string comparisons per seed host or domain.
#[derive(Debug, Clone)]
pub struct Scope {
    mode: ScopeMode,
    /// Exact hosts (Host mode) or registrable domains (Domain mode) of the
    /// seeds; unused in Any mode.
    seeds: Vec<String>,
    /// Normalized `allow_domains` entries, matched with their subdomains.
    extra: Vec<String>,
}

impl Scope {
    /// Build from mode, seeds and extra allowed domains.
    ///
    /// Seeds that are not http(s) with a host contribute nothing. Empty or
    /// unparsable `allow_domains` entries are ignored (a leading `.` or `*.`
    /// and a trailing `.` are tolerated; a full URL contributes its host).
    pub fn new(mode: ScopeMode, seeds: &[Url], allow_domains: &[String]) -> Self {
        let mut seed_keys: Vec<String> = seeds
            .iter()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter_map(normalized_host)
            .map(|h| match mode {
                ScopeMode::Domain => registrable_domain(&h).to_owned(),
                _ => h.into_owned(),
            })
            .collect();
        seed_keys.sort();
        seed_keys.dedup();
        let mut extra: Vec<String> = allow_domains
            .iter()
            .filter_map(|d| normalize_domain(d))
            .collect();
        extra.sort();
        extra.dedup();
        Scope {
            mode,
            seeds: seed_keys,
            extra,
        }
    }

    /// The mode this scope was built with.
    pub fn mode(&self) -> ScopeMode {
        self.mode
    }

    /// Whether `url`'s host is one of the `allow_domains` (or a subdomain
    /// of one), whatever the mode.
    ///
    /// ```
    /// use semcrawl_core::scope::{Scope, ScopeMode};
    /// use url::Url;
    /// let scope = Scope::new(ScopeMode::Any, &[], &["partner.org".to_owned()]);
    /// assert!(scope.is_allowed_domain(&Url::parse("https://cdn.partner.org/").unwrap()));
    /// assert!(!scope.is_allowed_domain(&Url::parse("https://other.org/").unwrap()));
    /// ```
    pub fn is_allowed_domain(&self, url: &Url) -> bool {
        normalized_host(url).is_some_and(|host| self.extra.iter().any(|d| within(&host, d)))
    }

    /// Whether `url` may be fetched.
    ///
    /// ```
    /// use semcrawl_core::scope::{Scope, ScopeMode};
    /// use url::Url;
    /// let seeds = [Url::parse("http://example.com:8080/").unwrap()];
    /// let scope = Scope::new(ScopeMode::Host, &seeds, &[]);
    /// assert!(scope.allows(&Url::parse("https://example.com/about").unwrap()));
    /// assert!(!scope.allows(&Url::parse("https://www.example.com/").unwrap()));
    /// assert!(!scope.allows(&Url::parse("ftp://example.com/").unwrap()));
    /// ```
    pub fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = normalized_host(url) else {
            return false;
        };
        let host = &*host;
        if self.extra.iter().any(|d| within(host, d)) {
            return true;
        }
        match self.mode {
            ScopeMode::Any => true,
            ScopeMode::Host => self.seeds.iter().any(|s| s == host),
            ScopeMode::Domain => self.seeds.iter().any(|d| within(host, d)),
        }
    }
}

/// The host of `url` as compared by the scope: lowercase, without a trailing
/// dot; `None` if there is no (non-empty) host. Borrowed when it already
/// is (a parsed URL's host is lowercased by the parser): this runs for
/// every link found, and allocating here was a twentieth of a crawl's
/// allocations.
fn normalized_host(url: &Url) -> Option<Cow<'_, str>> {
    let h = url.host_str()?;
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.is_empty() {
        return None;
    }
    Some(if h.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(h.to_ascii_lowercase())
    } else {
        Cow::Borrowed(h)
    })
}

/// Normalize an `allow_domains` entry to the form [`Url::host_str`] gives.
fn normalize_domain(entry: &str) -> Option<String> {
    let mut d = entry.trim();
    if d.contains("://") {
        // A whole URL was given: take its host.
        return Url::parse(d)
            .ok()
            .and_then(|u| normalized_host(&u).map(Cow::into_owned));
    }
    d = d.strip_prefix("*.").unwrap_or(d);
    d = d.strip_prefix('.').unwrap_or(d);
    d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() {
        return None;
    }
    // Host::parse lowercases, punycodes IDNs and validates; IPv6 must be
    // bracketed as in URLs.
    match Host::parse(d).ok()? {
        Host::Domain(s) => Some(s),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(format!("[{ip}]")),
    }
}

/// `host` is `domain` or one of its subdomains. IPs only match exactly.
fn within(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    if is_ip(domain) {
        return false;
    }
    host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn scope(mode: ScopeMode, seeds: &[&str], allow: &[&str]) -> Scope {
        let seeds: Vec<Url> = seeds.iter().map(|s| u(s)).collect();
        let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        Scope::new(mode, &seeds, &allow)
    }

    #[test]
    fn mode_parses_and_displays() {
        for m in [ScopeMode::Host, ScopeMode::Domain, ScopeMode::Any] {
            assert_eq!(m.to_string().parse::<ScopeMode>().unwrap(), m);
        }
        assert_eq!(" ANY ".parse::<ScopeMode>().unwrap(), ScopeMode::Any);
        let e = "hosts".parse::<ScopeMode>().unwrap_err().to_string();
        assert!(
            e.contains("'hosts'") && e.contains("host, domain or any"),
            "{e}"
        );
        assert!("".parse::<ScopeMode>().is_err());
    }

    #[test]
    fn registrable_domain_heuristic() {
        let cases = [
            ("example.com", "example.com"),
            ("www.example.com", "example.com"),
            ("a.b.c.example.com", "example.com"),
            ("example.co.uk", "example.co.uk"),
            ("www.example.co.uk", "example.co.uk"),
            ("x.y.example.com.au", "example.com.au"),
            ("co.uk", "co.uk"),
            ("www.example.de", "example.de"),
            // Three-letter TLD: `co` is not special there.
            ("www.co.com", "co.com"),
            ("example.com.", "example.com"),
            ("localhost", "localhost"),
            ("intranet", "intranet"),
            ("10.1.2.3", "10.1.2.3"),
            ("[::1]", "[::1]"),
            ("", ""),
            (".", ""),
            ("..", "."),
        ];
        for (host, want) in cases {
            assert_eq!(registrable_domain(host), want, "{host}");
        }
    }

    #[test]
    fn host_mode_matches_exact_hosts_ignoring_ports_and_schemes() {
        let s = scope(
            ScopeMode::Host,
            &["https://Example.com:8443/a", "http://other.net"],
            &[],
        );
        assert!(s.allows(&u("http://example.com/x")));
        assert!(s.allows(&u("https://example.com:1234/")));
        assert!(s.allows(&u("https://example.com./")));
        assert!(s.allows(&u("http://other.net/")));
        assert!(!s.allows(&u("http://www.example.com/")));
        assert!(!s.allows(&u("http://example.org/")));
        assert!(!s.allows(&u("http://badexample.com/")));
        assert!(!s.allows(&u("ftp://example.com/")));
        assert!(!s.allows(&u("mailto:a@example.com")));
    }

    #[test]
    fn domain_mode_admits_subdomains() {
        let s = scope(ScopeMode::Domain, &["https://www.example.com/"], &[]);
        assert!(s.allows(&u("https://example.com/")));
        assert!(s.allows(&u("https://a.b.example.com/")));
        assert!(!s.allows(&u("https://notexample.com/")));
        assert!(!s.allows(&u("https://example.com.evil.org/")));

        let s = scope(ScopeMode::Domain, &["http://news.bbc.co.uk/"], &[]);
        assert!(s.allows(&u("http://www.bbc.co.uk/")));
        assert!(!s.allows(&u("http://itv.co.uk/")));
    }

    #[test]
    fn domain_mode_ips_and_localhost_are_their_own_domain() {
        let s = scope(
            ScopeMode::Domain,
            &["http://127.0.0.1:8080/", "http://localhost/"],
            &[],
        );
        assert!(s.allows(&u("http://127.0.0.1:9000/")));
        assert!(!s.allows(&u("http://127.0.0.2/")));
        assert!(s.allows(&u("http://localhost:3000/")));
        assert!(s.allows(&u("http://api.localhost/")));
        let s = scope(ScopeMode::Domain, &["http://[::1]:8080/"], &[]);
        assert!(s.allows(&u("http://[::1]/")));
        assert!(!s.allows(&u("http://[::2]/")));
    }

    #[test]
    fn any_mode_admits_all_http() {
        let s = scope(ScopeMode::Any, &["https://example.com/"], &[]);
        assert!(s.allows(&u("http://anything.example/")));
        assert!(s.allows(&u("https://1.2.3.4/")));
        assert!(!s.allows(&u("file:///etc/passwd")));
        assert!(!s.allows(&u("data:text/plain,x")));
    }

    #[test]
    fn allow_domains_in_every_mode() {
        for mode in [ScopeMode::Host, ScopeMode::Domain] {
            let s = scope(
                mode,
                &["https://example.com/"],
                &[
                    "Partner.ORG",
                    ".dot.net",
                    "*.star.io",
                    "bücher.de",
                    "",
                    "  ",
                    "http://Full.URL:81/x",
                    "*.",
                ],
            );
            assert!(s.allows(&u("https://partner.org/")), "{mode}");
            assert!(s.allows(&u("https://cdn.partner.org/")), "{mode}");
            assert!(s.allows(&u("https://dot.net/")), "{mode}");
            assert!(s.allows(&u("https://a.dot.net/")), "{mode}");
            assert!(s.allows(&u("https://star.io/")), "{mode}");
            assert!(s.allows(&u("https://x.star.io/")), "{mode}");
            assert!(s.allows(&u("https://www.bücher.de/")), "{mode}");
            assert!(s.allows(&u("https://sub.full.url/")), "{mode}");
            assert!(!s.allows(&u("https://apartner.org/")), "{mode}");
            assert!(!s.allows(&u("https://io/")), "{mode}");
        }
    }

    #[test]
    fn no_seeds_means_nothing_but_allow_domains() {
        let s = scope(ScopeMode::Host, &[], &["a.com"]);
        assert!(s.allows(&u("http://a.com/")));
        assert!(!s.allows(&u("http://b.com/")));
        let s = scope(ScopeMode::Domain, &["mailto:x@y.com"], &[]);
        assert!(!s.allows(&u("http://y.com/")));
    }
}
