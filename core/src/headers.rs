//! Extra request headers, and the sites they may go to.
//!
//! Reaching a members area takes more than a GET: a session cookie, a token
//! header, a password. Each of those is a secret of *one* site, and a crawl
//! visits others: links and redirects lead anywhere the scope allows. So
//! the extra headers are not settings of the HTTP client (which would send
//! them everywhere, and keep them across a redirect, as browsers keep
//! custom headers): the core decides for every request, by its URL, which
//! headers it carries, and hands them to the adapter with the request
//! ([`FetchRequest::headers`](crate::FetchRequest::headers)). Redirects are
//! followed by the core as requests of their own, so a redirect to another
//! site gets that site's headers: none.
//!
//! Who gets what:
//!
//! * [`Config::headers`] (the user's headers and cookie) go to the seeds'
//!   *sites* and to the `allow_domains` domains (and their subdomains);
//! * the `user:password@` of a seed becomes an `Authorization: Basic`
//!   header for that seed's site only (unless the user gave an
//!   `Authorization` header, which wins);
//! * every other request gets none.
//!
//! A seed's *site* is its scheme, host and port, as for credentials in
//! browsers and curl: another port of the same host is another server,
//! which may belong to someone else. One exception: a seed on `http` at the
//! default port also covers `https` at the default port on the same host,
//! since sites upgrade their visitors that way. The other direction is not
//! taken: what a seed sends over TLS never goes out in clear text.
//!
//! The userinfo itself is never kept in a URL: [`crate::canon`] drops it, so
//! no record, log line or frontier entry holds a password. This table is
//! the only place it lives, already encoded as the header.

use std::sync::Arc;

use url::Url;

use crate::config::Config;
use crate::scope::Scope;
use crate::setting::{ConfigError, Setting};

/// Headers as `(name, value)` pairs, shared by every request that carries them.
pub(crate) type HeaderList = Arc<[(String, String)]>;

/// One seed's site and the headers it gets.
#[derive(Debug)]
struct Site {
    https: bool,
    host: String,
    /// `port_or_known_default`.
    port: u16,
    headers: HeaderList,
}

impl Site {
    fn matches(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        if host != self.host {
            return false;
        }
        match (self.https, url.scheme()) {
            (true, "https") | (false, "http") => port == self.port,
            // The upgrade of a default-port http seed.
            (false, "https") => self.port == 80 && port == 443,
            _ => false,
        }
    }
}

/// Which extra headers each request carries (see the module docs).
#[derive(Debug)]
pub(crate) struct RequestHeaders {
    sites: Vec<Site>,
    /// The user's headers, for `allow_domains` hosts.
    common: HeaderList,
    none: HeaderList,
}

impl RequestHeaders {
    /// The table for `config`'s seeds (raw: their userinfo still in them).
    pub(crate) fn new(config: &Config) -> Self {
        let common: HeaderList = config.headers.clone().into();
        let user_auth = config
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
        let mut sites: Vec<Site> = Vec::new();
        for seed in &config.seeds {
            let (Some(host), Some(port)) = (seed.host_str(), seed.port_or_known_default()) else {
                continue;
            };
            let site = Site {
                https: seed.scheme() == "https",
                host: host.to_owned(),
                port,
                headers: common.clone(),
            };
            let auth = basic_auth(seed).filter(|_| !user_auth);
            let known = sites
                .iter_mut()
                .find(|s| (s.https, &s.host, s.port) == (site.https, &site.host, site.port));
            match (known, auth) {
                // The first seed with credentials gives its site's.
                (Some(known), Some(auth)) if known.headers.len() == common.len() => {
                    known.headers = with(&common, auth);
                }
                (Some(_), _) => {}
                (None, auth) => sites.push(Site {
                    headers: auth.map_or(site.headers.clone(), |a| with(&common, a)),
                    ..site
                }),
            }
        }
        RequestHeaders {
            sites,
            common,
            none: Arc::from([]),
        }
    }

    /// The headers a request for `url` carries.
    pub(crate) fn for_url(&self, url: &Url, scope: &Scope) -> HeaderList {
        if let Some(site) = self.sites.iter().find(|s| s.matches(url)) {
            return site.headers.clone();
        }
        if !self.common.is_empty() && scope.is_allowed_domain(url) {
            return self.common.clone();
        }
        self.none.clone()
    }
}

fn with(common: &HeaderList, extra: (String, String)) -> HeaderList {
    common.iter().cloned().chain([extra]).collect()
}

/// `Authorization: Basic ...` for a URL's `user:password@`, if it has one.
fn basic_auth(url: &Url) -> Option<(String, String)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let mut plain = percent_decode(url.username());
    plain.push(b':');
    plain.extend(percent_decode(url.password().unwrap_or("")));
    Some((
        "Authorization".to_owned(),
        format!("Basic {}", base64(&plain)),
    ))
}

/// The bytes a URL component's `%XX` escapes stand for (the `url` crate
/// keeps userinfo escaped; the header carries the raw bytes).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match escape {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for the Basic scheme.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why a header cannot be sent, or `None` if it can: a name must be an
/// HTTP token, and neither may hold a line break or another control
/// character (which would let a value inject headers of its own).
pub(crate) fn header_problem(name: &str, value: &str) -> Option<&'static str> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() {
        return Some("the header has no name (expected 'Name: value')");
    }
    if !name.chars().all(token) {
        return Some("the header name may hold only letters, digits and !#$%&'*+-.^_`|~");
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Some("the header value contains a line break or another control character");
    }
    None
}

/// Request headers as a command line writes them: `Name: value` lines,
/// and cookies (`a=b; c=d`; several are joined with `; `) as one `Cookie`
/// header. Only split here: [`Config::validate`] checks names and values.
///
/// ```
/// use semcrawl_core::header_lines;
///
/// let headers = header_lines(&["X-Token: abc".into()], &["a=1;".into(), "b=2".into()]).unwrap();
/// assert_eq!(headers, [("X-Token".into(), "abc".into()), ("Cookie".into(), "a=1; b=2".into())]);
/// assert!(header_lines(&["no colon".into()], &[]).is_err());
/// ```
pub fn header_lines(
    lines: &[String],
    cookies: &[String],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ConfigError::invalid(
                Setting::Headers,
                line.escape_debug(),
                "expected 'Name: value'",
            ));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let cookies: Vec<&str> = (cookies.iter())
        .map(|c| c.trim().trim_end_matches(';').trim())
        .filter(|c| !c.is_empty())
        .collect();
    for c in &cookies {
        let problem = if c.chars().any(char::is_control) {
            "it contains a line break or another control character"
        } else if !c.contains('=') {
            "expected 'name=value; ...'"
        } else {
            continue;
        };
        return Err(ConfigError::invalid(
            Setting::Cookie,
            c.escape_debug(),
            problem,
        ));
    }
    if !cookies.is_empty() {
        headers.push(("Cookie".to_owned(), cookies.join("; ")));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeMode;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn table(seeds: &[&str], headers: &[(&str, &str)], allow: &[&str]) -> (RequestHeaders, Scope) {
        let config = Config {
            seeds: seeds.iter().map(|s| u(s)).collect(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            allow_domains: allow.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        };
        let scope = Scope::new(ScopeMode::Any, &config.seeds, &config.allow_domains);
        (RequestHeaders::new(&config), scope)
    }

    fn names(list: &HeaderList) -> Vec<&str> {
        list.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn a_seeds_userinfo_is_basic_auth_for_its_site_only() {
        let (t, scope) = table(&["http://alice:p%40ss@a.test:8080/"], &[], &[]);
        let list = t.for_url(&u("http://a.test:8080/x"), &scope);
        // "alice:p@ss"
        assert_eq!(
            &*list,
            &[("Authorization".into(), "Basic YWxpY2U6cEBzcw==".into())]
        );
        assert!(t.for_url(&u("http://a.test:8081/x"), &scope).is_empty());
        assert!(t.for_url(&u("http://b.test:8080/x"), &scope).is_empty());
        assert!(t.for_url(&u("https://a.test:8080/x"), &scope).is_empty());
    }

    #[test]
    fn user_headers_go_to_seed_sites_and_allowed_domains() {
        let (t, scope) = table(
            &["https://a.test/"],
            &[("Cookie", "s=1"), ("X-Token", "t")],
            &["partner.test"],
        );
        assert_eq!(
            names(&t.for_url(&u("https://a.test/p"), &scope)),
            ["Cookie", "X-Token"]
        );
        assert_eq!(
            names(&t.for_url(&u("http://cdn.partner.test:81/"), &scope)),
            ["Cookie", "X-Token"]
        );
        assert!(t.for_url(&u("https://www.a.test/"), &scope).is_empty());
        assert!(t.for_url(&u("https://other.test/"), &scope).is_empty());
        // No downgrade to clear text.
        assert!(t.for_url(&u("http://a.test/"), &scope).is_empty());
    }

    #[test]
    fn an_http_seed_covers_its_https_upgrade() {
        let (t, scope) = table(&["http://bob:pw@a.test/"], &[("X-A", "1")], &[]);
        assert_eq!(
            names(&t.for_url(&u("https://a.test/"), &scope)),
            ["X-A", "Authorization"]
        );
        assert_eq!(
            names(&t.for_url(&u("http://a.test/"), &scope)),
            ["X-A", "Authorization"]
        );
    }

    #[test]
    fn a_user_authorization_header_wins_over_userinfo() {
        let (t, scope) = table(
            &["http://bob:pw@a.test/"],
            &[("authorization", "Bearer x")],
            &[],
        );
        assert_eq!(
            &*t.for_url(&u("http://a.test/"), &scope),
            &[("authorization".into(), "Bearer x".into())]
        );
    }

    #[test]
    fn header_syntax_is_checked() {
        assert!(header_problem("X-Ok", "a b\tc").is_none());
        assert!(header_problem("", "v").is_some());
        assert!(header_problem("X Bad", "v").is_some());
        assert!(header_problem("X-A", "v\r\nX-Evil: 1").is_some());
    }
}
