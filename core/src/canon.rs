//! Canonical URL form, the key under which the crawler deduplicates pages.
//!
//! The same page is reachable under many spellings: `HTTP://Example.COM:80`,
//! `http://example.com/#top`, `http://example.com/?utm_source=x`,
//! `?b=2&a=1` vs `?a=1&b=2`. If the frontier keyed pages by the raw string it
//! would fetch each of them, wasting requests on the site and memory on the
//! frontier. Every URL the crawler handles (seeds, links, redirects) goes
//! through [`canonicalize`] or [`resolve`] first, so equal pages get equal
//! strings.
//!
//! The rules are deliberately conservative: each one is either guaranteed by
//! the URL standard (the server cannot tell the difference) or is a
//! widely-agreed convention (fragments and `utm_*` tracking parameters never
//! change the document). Rewrites that *might* change the response, such as
//! removing `index.html`, a trailing slash or `www.`, are not done.
//!
//! # Rules
//!
//! 1. Relative links are resolved against the base with [`Url::join`]
//!    (after trimming the ASCII whitespace HTML allows around an `href`).
//! 2. Only `http` and `https` URLs with a non-empty host are crawlable:
//!    `mailto:`, `javascript:`, `data:`, `tel:`, `ftp:`, ... and empty or
//!    unparsable hrefs give `None`.
//! 3. The scheme and host are lowercased and internationalized hosts are
//!    punycoded (the `url` crate does this while parsing).
//! 4. The default port is dropped (`:80` for http, `:443` for https; also
//!    done by the `url` crate).
//! 5. The fragment (`#...`) is dropped: it never reaches the server.
//! 6. Query parameters whose key starts with `utm_` (ASCII case-insensitive)
//!    are dropped, and so are empty parameters (`a=1&&b=2`).
//! 7. The remaining parameters are sorted by key, then by value (a stable
//!    sort of the raw, still percent-encoded text; nothing is re-encoded or
//!    decoded, so `a=%20` and `a=+` stay different).
//! 8. An empty query (`?` alone, or all parameters removed) is dropped.
//! 9. An empty path becomes `/`.
//! 10. A `user:password@` is dropped: the same page with or without it is
//!     one page, and a password must never reach a record, a log line or
//!     the frontier (a seed's credentials are kept apart, as a header: see
//!     the crawl's request headers).
//! 11. In the path, percent-encoded unreserved characters (letters, digits,
//!     `-`, `.`, `_`, `~`) are decoded and the hex digits of the other
//!     escapes are uppercased: RFC 3986 (section 6.2.2) makes `/%7euser`,
//!     `/%7Euser` and `/~user` the same resource, and sites link all three.
//!
//! [`resolve`] additionally refuses links longer than [`MAX_URL_LEN`] so a
//! hostile page cannot fill the frontier with megabyte-long URLs.
//!
//! ```
//! use semcrawl_core::canon::{canonicalize, resolve};
//! use url::Url;
//!
//! let base = Url::parse("https://example.com/docs/").unwrap();
//! let u = resolve(&base, " ../a?z=1&utm_source=feed&b=2#intro ").unwrap();
//! assert_eq!(u.as_str(), "https://example.com/a?b=2&z=1");
//!
//! let u = canonicalize(&Url::parse("HTTP://Example.COM:80?utm_medium=x").unwrap()).unwrap();
//! assert_eq!(u.as_str(), "http://example.com/");
//!
//! assert!(resolve(&base, "mailto:me@example.com").is_none());
//! assert!(resolve(&base, "javascript:void(0)").is_none());
//! assert!(resolve(&base, "   ").is_none());
//! ```

use url::Url;

/// Longest link (in bytes, canonical form) that [`resolve`] accepts.
///
/// Real URLs are far shorter (browsers and servers commonly stop at a few
/// KiB); the cap keeps a hostile page from storing megabytes per link in the
/// frontier and in records.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Whether `url` is something the crawler can fetch: http(s) with a host.
///
/// ```
/// use semcrawl_core::canon::is_crawlable;
/// use url::Url;
/// assert!(is_crawlable(&Url::parse("https://example.com/x").unwrap()));
/// assert!(!is_crawlable(&Url::parse("ftp://example.com/x").unwrap()));
/// ```
pub fn is_crawlable(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

/// Canonical form of an absolute URL; `None` if it is not http(s) or has no host.
///
/// See the [module documentation](self) for the rules.
///
/// ```
/// use semcrawl_core::canon::canonicalize;
/// use url::Url;
/// let u = Url::parse("https://EXAMPLE.com:443/p?b=2&a=1&utm_campaign=x#frag").unwrap();
/// assert_eq!(canonicalize(&u).unwrap().as_str(), "https://example.com/p?a=1&b=2");
/// assert!(canonicalize(&Url::parse("tel:+123").unwrap()).is_none());
/// let u = Url::parse("http://alice:hunter2@example.com/").unwrap();
/// assert_eq!(canonicalize(&u).unwrap().as_str(), "http://example.com/");
/// ```
pub fn canonicalize(url: &Url) -> Option<Url> {
    if !is_crawlable(url) {
        return None;
    }
    let mut out = url.clone();
    out.set_fragment(None);
    // Cannot fail for http(s) URLs with a host (checked above).
    let _ = out.set_username("");
    let _ = out.set_password(None);
    if let Some(query) = url.query() {
        match canonical_query(query) {
            Some(q) => out.set_query(Some(&q)),
            None => out.set_query(None),
        }
    }
    if let Some(path) = normalize_escapes(out.path()) {
        out.set_path(&path);
    }
    if out.path().is_empty() {
        // Unreachable for http(s) with the current `url` crate (it always
        // serializes `/`), but the rule is part of the contract.
        out.set_path("/");
    }
    Some(out)
}

/// Resolve `href` against `base` and canonicalize; `None` for non-crawlable
/// links (mailto:, javascript:, data:, tel:, empty, unparsable).
///
/// Links whose canonical form is longer than [`MAX_URL_LEN`] are refused too.
///
/// ```
/// use semcrawl_core::canon::resolve;
/// use url::Url;
/// let base = Url::parse("http://example.com/a/b.html").unwrap();
/// assert_eq!(resolve(&base, "c.html#x").unwrap().as_str(), "http://example.com/a/c.html");
/// assert_eq!(resolve(&base, "//other.org").unwrap().as_str(), "http://other.org/");
/// assert!(resolve(&base, "data:text/plain,hi").is_none());
/// ```
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    // HTML strips leading/trailing ASCII whitespace from URL attributes;
    // `Url::join` would otherwise keep some of it percent-encoded.
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    if href.is_empty() || href.len() > MAX_URL_LEN * 4 {
        // An href that long cannot shrink under MAX_URL_LEN by resolution in
        // any realistic way; skip parsing it at all.
        return None;
    }
    let joined = base.join(href).ok()?;
    let canon = canonicalize(&joined)?;
    if canon.as_str().len() > MAX_URL_LEN {
        return None;
    }
    Some(canon)
}

/// `path` with escapes of unreserved characters decoded and other escapes'
/// hex digits uppercased; `None` if that changes nothing (the usual case,
/// which then costs no allocation).
fn normalize_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        let escape = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match escape {
            Some(value) => {
                let raw = &path[i..i + 3];
                let unreserved = value.is_ascii_alphanumeric() || b"-._~".contains(&value);
                let upper = raw.to_ascii_uppercase();
                if unreserved || upper != raw {
                    let o = out.get_or_insert_with(|| path[..i].to_owned());
                    if unreserved {
                        o.push(value as char);
                    } else {
                        o.push_str(&upper);
                    }
                } else if let Some(o) = out.as_mut() {
                    o.push_str(raw);
                }
                i += 3;
            }
            None => {
                // The path of a parsed URL is ASCII: a byte is a char.
                if let Some(o) = out.as_mut() {
                    o.push(bytes[i] as char);
                }
                i += 1;
            }
        }
    }
    out
}

/// The canonical query string, or `None` when nothing is left of it.
fn canonical_query(query: &str) -> Option<String> {
    let mut params: Vec<(&str, &str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (p, k, v)
        })
        .filter(|(_, k, _)| !is_tracking_key(k))
        .collect();
    if params.is_empty() {
        return None;
    }
    // Stable, so `a` and `a=` (equal key and value) keep their order.
    params.sort_by(|x, y| (x.1, x.2).cmp(&(y.1, y.2)));
    let mut out = String::with_capacity(query.len());
    for (i, (raw, _, _)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(raw);
    }
    Some(out)
}

/// `utm_*` keys (Google Analytics campaign tags), ASCII case-insensitive.
fn is_tracking_key(key: &str) -> bool {
    key.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"utm_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        canonicalize(&Url::parse(s).unwrap()).map(|u| u.to_string())
    }

    fn r(base: &str, href: &str) -> Option<String> {
        resolve(&Url::parse(base).unwrap(), href).map(|u| u.to_string())
    }

    #[test]
    fn lowercases_scheme_and_host_and_drops_default_port() {
        assert_eq!(
            c("HTTP://Example.COM:80/A").as_deref(),
            Some("http://example.com/A")
        );
        assert_eq!(
            c("https://example.com:443/").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(
            c("https://example.com:8443/").as_deref(),
            Some("https://example.com:8443/")
        );
        assert_eq!(
            c("http://bücher.de/").as_deref(),
            Some("http://xn--bcher-kva.de/")
        );
    }

    #[test]
    fn drops_fragment_and_empty_query() {
        assert_eq!(c("http://a.com/p#x").as_deref(), Some("http://a.com/p"));
        assert_eq!(c("http://a.com/p?").as_deref(), Some("http://a.com/p"));
        assert_eq!(c("http://a.com/p?#x").as_deref(), Some("http://a.com/p"));
        assert_eq!(c("http://a.com/p?&&").as_deref(), Some("http://a.com/p"));
        assert_eq!(c("http://a.com").as_deref(), Some("http://a.com/"));
    }

    #[test]
    fn drops_utm_params() {
        assert_eq!(
            c("http://a.com/?utm_source=x&UTM_Medium=y&utm_=z").as_deref(),
            Some("http://a.com/")
        );
        assert_eq!(
            c("http://a.com/?id=3&utm_source=x").as_deref(),
            Some("http://a.com/?id=3")
        );
        // Only the prefix counts: `utmost` is a real parameter.
        assert_eq!(
            c("http://a.com/?utmost=1").as_deref(),
            Some("http://a.com/?utmost=1")
        );
    }

    #[test]
    fn sorts_params_by_key_then_value_keeping_encoding() {
        assert_eq!(
            c("http://a.com/?b=2&a=2&a=1&c").as_deref(),
            Some("http://a.com/?a=1&a=2&b=2&c")
        );
        assert_eq!(
            c("http://a.com/?q=a%20b&p=%2F").as_deref(),
            Some("http://a.com/?p=%2F&q=a%20b")
        );
        // `a` and `a=` compare equal: the stable sort keeps document order.
        assert_eq!(
            c("http://a.com/?a=&a&0").as_deref(),
            Some("http://a.com/?0&a=&a")
        );
        assert_eq!(
            c("http://a.com/?a&a=&0").as_deref(),
            Some("http://a.com/?0&a&a=")
        );
        // Duplicates are kept: they may matter to the server.
        assert_eq!(
            c("http://a.com/?x=1&x=1").as_deref(),
            Some("http://a.com/?x=1&x=1")
        );
    }

    #[test]
    fn canonical_form_is_idempotent() {
        for s in [
            "http://a.com/?b=2&a=1",
            "https://x.y.z:8080/p/q?z&y=%41#f",
            "http://a.com/%7Euser/?q=%E2%82%AC",
        ] {
            let once = canonicalize(&Url::parse(s).unwrap()).unwrap();
            let twice = canonicalize(&once).unwrap();
            assert_eq!(once, twice, "{s}");
        }
    }

    #[test]
    fn escaped_unreserved_characters_are_decoded_in_the_path() {
        assert_eq!(
            c("http://a.com/%7euser/").as_deref(),
            Some("http://a.com/~user/")
        );
        assert_eq!(
            c("http://a.com/%7Euser/").as_deref(),
            Some("http://a.com/~user/")
        );
        assert_eq!(
            c("http://a.com/~user/").as_deref(),
            Some("http://a.com/~user/")
        );
        assert_eq!(
            c("http://a.com/%41%2d%5F").as_deref(),
            Some("http://a.com/A-_")
        );
        // Reserved and non-ASCII escapes stay escaped, in uppercase.
        assert_eq!(
            c("http://a.com/a%2fb").as_deref(),
            Some("http://a.com/a%2Fb")
        );
        assert_eq!(
            c("http://a.com/%c3%a9").as_deref(),
            Some("http://a.com/%C3%A9")
        );
        assert_eq!(c("http://a.com/100%").as_deref(), Some("http://a.com/100%"));
        // The query is left as it is (rule 7).
        assert_eq!(
            c("http://a.com/?q=%7e").as_deref(),
            Some("http://a.com/?q=%7e")
        );
    }

    #[test]
    fn refuses_non_http() {
        for s in [
            "ftp://a.com/",
            "file:///etc/passwd",
            "mailto:a@b.c",
            "data:,x",
            "about:blank",
        ] {
            assert_eq!(c(s), None, "{s}");
        }
    }

    #[test]
    fn resolves_relative_links() {
        let base = "https://a.com/dir/page.html?x=1";
        assert_eq!(
            r(base, "other.html").as_deref(),
            Some("https://a.com/dir/other.html")
        );
        assert_eq!(r(base, "/root").as_deref(), Some("https://a.com/root"));
        assert_eq!(r(base, "../up").as_deref(), Some("https://a.com/up"));
        assert_eq!(
            r(base, "?y=2").as_deref(),
            Some("https://a.com/dir/page.html?y=2")
        );
        assert_eq!(
            r(base, "#frag").as_deref(),
            Some("https://a.com/dir/page.html?x=1")
        );
        assert_eq!(r(base, "//b.org/x").as_deref(), Some("https://b.org/x"));
        assert_eq!(
            r(base, "\n\t http://C.com \r\n").as_deref(),
            Some("http://c.com/")
        );
    }

    #[test]
    fn refuses_uncrawlable_hrefs() {
        let base = "https://a.com/";
        for h in [
            "",
            "   ",
            "\t\n",
            "mailto:x@a.com",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<p>",
            "tel:+1234",
            "ftp://a.com/file",
            "http://",
            "http://[::1",
            "https://exa mple.com/",
        ] {
            assert_eq!(r(base, h), None, "{h:?}");
        }
    }

    #[test]
    fn refuses_overlong_links() {
        let base = Url::parse("https://a.com/").unwrap();
        let long = format!("/{}", "a".repeat(MAX_URL_LEN));
        assert!(resolve(&base, &long).is_none());
        let huge = "b".repeat(MAX_URL_LEN * 10);
        assert!(resolve(&base, &huge).is_none());
        let ok = format!("/{}", "a".repeat(MAX_URL_LEN - 100));
        assert!(resolve(&base, &ok).is_some());
    }

    #[test]
    fn hostile_unicode_does_not_panic() {
        let base = Url::parse("https://a.com/").unwrap();
        for h in [
            "é?ü=1&utm_ä=2",
            "?\u{0}&\u{ffff}",
            "?é",
            "\u{feff}/x",
            "?utm",
        ] {
            let _ = resolve(&base, h);
        }
        assert_eq!(
            resolve(&base, "?é=1").map(|u| u.to_string()).as_deref(),
            Some("https://a.com/?%C3%A9=1")
        );
    }
}
