//! robots.txt rules (RFC 9309, the Robots Exclusion Protocol).
//!
//! A polite crawler fetches `/robots.txt` once per host and checks every URL
//! of that host against it. This module turns the file into a compact rule
//! list for *our* user agent, so the per-URL check is a short scan with no
//! parsing, and the rules can be shared by every task crawling the host
//! ([`Robots`] is an `Arc` inside: cloning is a reference-count bump).
//!
//! What is implemented, following RFC 9309 and the behaviour of major
//! crawlers where the RFC leaves room:
//!
//! * **Groups.** A group is one or more `User-agent` lines followed by rules.
//!   Our product token is the part of the configured user agent before the
//!   first `/` (`semcrawl/0.1` gives `semcrawl`), compared ASCII
//!   case-insensitively with the token of each `User-agent` line (also cut
//!   at `/` or whitespace). A line's token matches if it equals ours, or is
//!   a prefix of ours that ends at a `-` or `_` (a `semcrawl` group applies
//!   to `semcrawl-news` when no `semcrawl-news` group exists). The longest
//!   matching token wins; all groups with that token are merged; with no
//!   match the `*` groups apply; with no `*` group either, everything is
//!   allowed. Rules before the first `User-agent` line belong to no group.
//! * **Rules.** `Allow` and `Disallow` patterns match a prefix of the URL's
//!   path plus query. `*` matches any run of characters, a final `$` anchors
//!   the end. The longest pattern (in octets, after normalization) wins;
//!   on a tie `Allow` wins. An empty `Disallow` (or `Allow`) is no rule.
//!   A pattern that starts with neither `/` nor `*` gets a leading `/`.
//! * **Percent-encoding.** Patterns and paths are normalized the same way
//!   before comparing: `%XX` escapes of unreserved characters are decoded,
//!   other escapes are uppercased, and raw non-ASCII, control and space
//!   bytes are escaped. So `/%7Euser` matches `/~user` and `/caf%C3%A9`
//!   matches `/café`.
//! * **`/robots.txt`** itself is always allowed.
//! * **`Crawl-delay`** (not in the RFC, widely used): seconds, fractions
//!   allowed, capped at [`MAX_CRAWL_DELAY`]; with merged groups the largest
//!   delay is kept.
//! * **Robustness.** A UTF-8 BOM, CRLF or CR line ends, `#` comments, blank
//!   lines, unknown keys and lines without `:` are tolerated. Only the first
//!   [`MAX_ROBOTS_BYTES`] are read and parsed (the 500 KiB RFC 9309 asks
//!   for at least; the same cap bounds the fetch); a line cut by that limit
//!   is dropped.
//! * **Unreachable files.** Per RFC 9309 a missing file (4xx) means
//!   [`Robots::allow_all`] and an unreachable one (5xx, a network error, a
//!   timeout) means [`Robots::disallow_all`], decided after the pages'
//!   retry policy is spent, so one transient failure does not cost a host
//!   its crawl; the crawl warns about such a host and stores an error
//!   record (`robots_unreachable`) for its robots.txt URL.
//!   The fetch that makes these choices is in `robots/fetch.rs`.
//!
//! ```
//! use semcrawl_core::robots::Robots;
//! use url::Url;
//!
//! let txt = "User-agent: *\nDisallow: /private/\nAllow: /private/pub*$\nCrawl-delay: 1.5\n";
//! let r = Robots::parse(txt, "semcrawl/0.1");
//! let ok = |p: &str| r.allowed(&Url::parse(&format!("https://example.com{p}")).unwrap());
//! assert!(ok("/index.html"));
//! assert!(!ok("/private/secret"));
//! assert!(ok("/private/public"));
//! assert_eq!(r.crawl_delay(), Some(std::time::Duration::from_millis(1500)));
//! ```

use std::sync::Arc;
use std::time::Duration;

use url::Url;

mod fetch;

pub(crate) use fetch::{Fetched, RobotsFetch, Unreachable};

/// Bytes of a robots.txt body that are read and parsed; the rest is
/// ignored. 500 KiB, the least RFC 9309 allows: the one cap of both the
/// fetch and the parser.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;

/// How long a robots.txt kept with a crawl's state is used instead of
/// fetching it again: 24 hours, as RFC 9309 (2.4) suggests for caching.
pub const ROBOTS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Largest `Crawl-delay` honoured; longer ones are cut to this so a hostile
/// or careless file cannot stall a host for hours.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// The rules of one host for our user agent.
///
/// The default value allows everything (like [`Robots::allow_all`]).
#[derive(Debug, Clone, Default)]
pub struct Robots {
    inner: Arc<Rules>,
}

#[derive(Debug, Default)]
struct Rules {
    rules: Vec<Rule>,
    crawl_delay: Option<Duration>,
}

#[derive(Debug)]
struct Rule {
    allow: bool,
    /// Normalized pattern without the trailing `$`.
    pattern: Vec<u8>,
    /// The pattern ended with `$`.
    anchored: bool,
    /// Length used for precedence (normalized, `$` included).
    specificity: usize,
}

/// A group being collected while parsing.
#[derive(Default)]
struct Group {
    /// Lowercased product tokens of the `User-agent` lines.
    agents: Vec<String>,
    rules: Vec<(bool, String)>,
    crawl_delay: Option<Duration>,
}

impl Robots {
    /// Parse a robots.txt body for `user_agent`.
    ///
    /// Never fails: whatever cannot be understood is ignored, as RFC 9309
    /// requires.
    pub fn parse(body: &str, user_agent: &str) -> Self {
        let ours = product_token(user_agent);
        let groups = parse_groups(truncate(body));

        // Pick the most specific matching token, else `*`.
        let mut best: Option<&str> = None;
        for g in &groups {
            for a in &g.agents {
                if a != "*" && token_matches(a, &ours) && best.is_none_or(|b| a.len() > b.len()) {
                    best = Some(a);
                }
            }
        }
        let chosen = best.unwrap_or("*");

        let mut rules = Vec::new();
        let mut crawl_delay: Option<Duration> = None;
        for g in groups
            .iter()
            .filter(|g| g.agents.iter().any(|a| a == chosen))
        {
            for (allow, pattern) in &g.rules {
                if let Some(rule) = Rule::new(*allow, pattern) {
                    rules.push(rule);
                }
            }
            if let Some(d) = g.crawl_delay {
                crawl_delay = Some(crawl_delay.map_or(d, |c| c.max(d)));
            }
        }
        Robots {
            inner: Arc::new(Rules { rules, crawl_delay }),
        }
    }

    /// Rules that allow everything (robots.txt missing: 4xx).
    ///
    /// ```
    /// use semcrawl_core::robots::Robots;
    /// let u = url::Url::parse("http://a.com/x").unwrap();
    /// assert!(Robots::allow_all().allowed(&u));
    /// ```
    pub fn allow_all() -> Self {
        Robots::default()
    }

    /// Rules that forbid everything (robots.txt unreachable: 5xx, network
    /// error, timeout).
    ///
    /// `/robots.txt` itself stays allowed, so it can be fetched again later.
    ///
    /// ```
    /// use semcrawl_core::robots::Robots;
    /// let u = url::Url::parse("http://a.com/x").unwrap();
    /// assert!(!Robots::disallow_all().allowed(&u));
    /// ```
    pub fn disallow_all() -> Self {
        let rule = Rule {
            allow: false,
            pattern: b"/".to_vec(),
            anchored: false,
            specificity: 1,
        };
        Robots {
            inner: Arc::new(Rules {
                rules: vec![rule],
                crawl_delay: None,
            }),
        }
    }

    /// Whether `url` (on this host) may be fetched.
    ///
    /// Only the path and query are looked at; the caller makes sure the
    /// rules belong to the URL's host.
    pub fn allowed(&self, url: &Url) -> bool {
        if url.path() == "/robots.txt" {
            return true;
        }
        if self.inner.rules.is_empty() {
            return true;
        }
        let mut target =
            String::with_capacity(url.path().len() + 1 + url.query().map_or(0, str::len));
        target.push_str(url.path());
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let target = normalize(&target);

        // (specificity, allow): the max by this order is the winner, since
        // `true > false` makes Allow win ties.
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.inner.rules {
            let key = (rule.specificity, rule.allow);
            if best.is_some_and(|b| b >= key) {
                continue;
            }
            if glob_match(&rule.pattern, rule.anchored, &target) {
                best = Some(key);
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }

    /// `Crawl-delay`, if given.
    pub fn crawl_delay(&self) -> Option<Duration> {
        self.inner.crawl_delay
    }

    /// Number of Allow/Disallow rules that apply to our agent (for logs).
    pub fn rule_count(&self) -> usize {
        self.inner.rules.len()
    }
}

impl Rule {
    fn new(allow: bool, raw: &str) -> Option<Rule> {
        if raw.is_empty() {
            return None;
        }
        let (body, anchored) = match raw.strip_suffix('$') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        let mut pattern = if body.starts_with('/') || body.starts_with('*') {
            normalize(body)
        } else {
            let mut p = vec![b'/'];
            p.extend(normalize(body));
            p
        };
        // Runs of `*` are one `*`: keeps matching linear in practice.
        pattern.dedup_by(|a, b| *a == b'*' && *b == b'*');
        let specificity = pattern.len() + usize::from(anchored);
        Some(Rule {
            allow,
            pattern,
            anchored,
            specificity,
        })
    }
}

/// Cut `body` to [`MAX_ROBOTS_BYTES`] at a char boundary, dropping the
/// partial last line, and strip a BOM.
fn truncate(body: &str) -> &str {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    if body.len() <= MAX_ROBOTS_BYTES {
        return body;
    }
    let mut end = MAX_ROBOTS_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &body[..end];
    match cut.rfind(['\n', '\r']) {
        Some(i) => &cut[..i],
        None => "",
    }
}

/// Our product token: the user agent up to the first `/`, trimmed,
/// lowercased.
fn product_token(user_agent: &str) -> String {
    let t = user_agent.split('/').next().unwrap_or("").trim();
    t.split(char::is_whitespace)
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether a `User-agent` line's token applies to our token.
fn token_matches(line: &str, ours: &str) -> bool {
    if line.is_empty() || ours.is_empty() {
        return false;
    }
    if line == ours {
        return true;
    }
    ours.len() > line.len()
        && ours.starts_with(line)
        && matches!(ours.as_bytes()[line.len()], b'-' | b'_')
}

fn parse_groups(body: &str) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    // Whether the current group has seen a rule line; a User-agent line
    // after rules starts a new group.
    let mut in_rules = true;
    let mut orphan = true; // no User-agent line yet

    for line in body.split(['\n', '\r']) {
        let line = line.split('#').next().unwrap_or("");
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        match key.as_str() {
            "user-agent" | "useragent" | "user agent" => {
                if in_rules {
                    groups.push(Group::default());
                    in_rules = false;
                }
                orphan = false;
                let token = value
                    .split(|c: char| c == '/' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if let Some(g) = groups.last_mut() {
                    g.agents.push(token);
                }
            }
            "allow" | "disallow" | "dissallow" | "dissalow" | "disalow" | "disallaw" => {
                in_rules = true;
                if orphan {
                    continue;
                }
                if let Some(g) = groups.last_mut() {
                    g.rules.push((key == "allow", value.to_owned()));
                }
            }
            "crawl-delay" | "crawl_delay" | "crawldelay" => {
                in_rules = true;
                if orphan {
                    continue;
                }
                if let (Some(g), Some(d)) = (groups.last_mut(), parse_delay(value)) {
                    g.crawl_delay = Some(g.crawl_delay.map_or(d, |c| c.max(d)));
                }
            }
            // Sitemap and unknown keys are not group members and do not
            // end a run of User-agent lines.
            _ => {}
        }
    }
    groups
}

fn parse_delay(value: &str) -> Option<Duration> {
    let secs: f64 = value.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Cap before converting: `from_secs_f64` panics on huge values.
    Some(Duration::from_secs_f64(
        secs.min(MAX_CRAWL_DELAY.as_secs_f64()),
    ))
}

/// Normalize percent-encoding so equal paths compare equal bytewise.
///
/// `%XX` of an unreserved character (ALPHA, DIGIT, `-._~`) is decoded; other
/// `%XX` are kept with uppercase hex; raw bytes that are non-ASCII, controls
/// or space are escaped. `*` is kept as is (a wildcard in patterns, a
/// literal in paths, where the wildcard matches it anyway).
fn normalize(s: &str) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hex_val(*x)),
                b.get(i + 2).and_then(|x| hex_val(*x)),
            ) {
                let v = h * 16 + l;
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v);
                } else {
                    out.extend_from_slice(&[b'%', HEX[usize::from(h)], HEX[usize::from(l)]]);
                }
                i += 3;
                continue;
            }
            out.push(b'%');
        } else if c >= 0x80 || c <= 0x20 || c == 0x7f {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Whether `pat` (with `*` wildcards) matches a prefix of `text`, or all of
/// it when `anchored`.
///
/// Greedy matching with backtracking to the last `*` only: linear for
/// patterns with one `*` and O(len(pat) * len(text)) at worst, with no
/// recursion, so a hostile pattern cannot blow the stack.
fn glob_match(pat: &[u8], anchored: bool, text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // After the last `*` seen: (pattern position, text position it was tried at).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pat.len() {
            if !anchored || t == text.len() {
                return true;
            }
        } else if pat[p] == b'*' {
            p += 1;
            star = Some((p, t));
            continue;
        } else if t < text.len() && pat[p] == text[t] {
            p += 1;
            t += 1;
            continue;
        }
        // Mismatch (or anchored with text left): let the last `*` eat one
        // more byte and retry.
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

/// The robots.txt URL for the host of `url`.
///
/// Scheme, host and port are kept; credentials, path, query and fragment are
/// not.
///
/// ```
/// use semcrawl_core::robots::robots_url;
/// let u = url::Url::parse("https://user:pw@Example.com:8443/a/b?q#f").unwrap();
/// assert_eq!(robots_url(&u).as_str(), "https://example.com:8443/robots.txt");
/// ```
pub fn robots_url(url: &Url) -> Url {
    let mut out = url.clone();
    // These fail only for URLs without a host (not crawlable anyway); the
    // URL is then returned with just the path, query and fragment replaced.
    let _ = out.set_username("");
    let _ = out.set_password(None);
    out.set_path("/robots.txt");
    out.set_query(None);
    out.set_fragment(None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "semcrawl/0.1";

    fn allowed(r: &Robots, path: &str) -> bool {
        r.allowed(&Url::parse(&format!("https://example.com{path}")).unwrap())
    }

    #[test]
    fn is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Robots>();
        let r = Robots::parse("User-agent: *\nDisallow: /x\n", UA);
        let c = r.clone();
        assert!(Arc::ptr_eq(&r.inner, &c.inner));
    }

    #[test]
    fn allow_all_and_disallow_all() {
        assert!(allowed(&Robots::allow_all(), "/anything?x=1"));
        assert!(allowed(&Robots::default(), "/"));
        let d = Robots::disallow_all();
        assert!(!allowed(&d, "/"));
        assert!(!allowed(&d, "/a/b?c"));
        assert!(allowed(&d, "/robots.txt"));
        assert_eq!(d.crawl_delay(), None);
    }

    #[test]
    fn empty_and_garbage_files_allow_everything() {
        for body in [
            "",
            "\n\n",
            "garbage\nmore garbage",
            "\u{feff}",
            "Disallow: /\n",
            "::::",
        ] {
            let r = Robots::parse(body, UA);
            assert!(allowed(&r, "/x"), "{body:?}");
        }
    }

    #[test]
    fn star_group_and_empty_disallow() {
        let r = Robots::parse("User-agent: *\nDisallow:\n", UA);
        assert!(allowed(&r, "/x"));
        let r = Robots::parse("User-agent: *\nDisallow: /\n", UA);
        assert!(!allowed(&r, "/x"));
        assert!(!allowed(&r, "/"));
        assert!(allowed(&r, "/robots.txt"));
    }

    #[test]
    fn specific_group_beats_star() {
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: SemCrawl\nDisallow: /private\n";
        let r = Robots::parse(txt, UA);
        assert!(allowed(&r, "/public"));
        assert!(!allowed(&r, "/private/x"));
        // Another bot's group does not apply.
        let r = Robots::parse("User-agent: otherbot\nDisallow: /\n", UA);
        assert!(allowed(&r, "/x"));
    }

    #[test]
    fn longest_matching_agent_token_wins() {
        let txt = "User-agent: semcrawl\nDisallow: /a\n\nUser-agent: semcrawl-news\nDisallow: /b\n\nUser-agent: sem\nDisallow: /c\n";
        let r = Robots::parse(txt, "semcrawl-news/2.0 (+https://x)");
        assert!(allowed(&r, "/a"));
        assert!(!allowed(&r, "/b"));
        assert!(allowed(&r, "/c"));
        let r = Robots::parse(txt, "semcrawl-images/1");
        assert!(!allowed(&r, "/a"));
        assert!(allowed(&r, "/b"));
        // `sem` is not a prefix at a token boundary of `semcrawl`.
        assert!(allowed(&r, "/c"));
    }

    #[test]
    fn agent_line_with_version_and_multiple_agents_per_group() {
        let txt = "User-agent: foo\nUser-agent: SEMCRAWL/9.9\nDisallow: /x\n";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/x"));
    }

    #[test]
    fn groups_for_same_agent_are_merged() {
        let txt = "User-agent: semcrawl\nDisallow: /a\nCrawl-delay: 2\n\nUser-agent: *\nDisallow: /c\n\nuser-agent: semcrawl\nDisallow: /b\nCrawl-delay: 5\n";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/a"));
        assert!(!allowed(&r, "/b"));
        assert!(allowed(&r, "/c"));
        assert_eq!(r.crawl_delay(), Some(Duration::from_secs(5)));
        assert_eq!(r.rule_count(), 2);
    }

    #[test]
    fn rules_before_any_user_agent_are_ignored() {
        let r = Robots::parse("Disallow: /\nUser-agent: *\nDisallow: /x\n", UA);
        assert!(allowed(&r, "/y"));
        assert!(!allowed(&r, "/x"));
    }

    #[test]
    fn longest_match_wins_and_allow_wins_ties() {
        let txt = "User-agent: *\nDisallow: /folder\nAllow: /folder/page\nDisallow: /folder/page/deep\nAllow: /same\nDisallow: /same\n";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/folder/other"));
        assert!(allowed(&r, "/folder/page.html"));
        assert!(!allowed(&r, "/folder/page/deep/x"));
        assert!(allowed(&r, "/same/x"));
        // RFC 9309 example: `/` vs longer allow.
        let r = Robots::parse("User-agent: *\nAllow: /p\nDisallow: /\n", UA);
        assert!(allowed(&r, "/page"));
        assert!(!allowed(&r, "/other"));
    }

    #[test]
    fn wildcards_and_anchor() {
        let txt = "User-agent: *\nDisallow: /*.pdf$\nDisallow: /*/tmp/\nDisallow: /exact$\nDisallow: /a*b*c\n";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/docs/file.pdf"));
        assert!(allowed(&r, "/docs/file.pdf?download=1"));
        assert!(allowed(&r, "/docs/file.pdfx"));
        assert!(!allowed(&r, "/x/y/tmp/z"));
        assert!(allowed(&r, "/tmp/z"));
        assert!(!allowed(&r, "/exact"));
        assert!(allowed(&r, "/exact/"));
        assert!(!allowed(&r, "/axxbyyc"));
        assert!(!allowed(&r, "/abcabc"));
        assert!(allowed(&r, "/acb"));
        // `$` only anchors at the end; `*` at the end is a no-op.
        let r = Robots::parse("User-agent: *\nDisallow: /a$b\nDisallow: /z*\n", UA);
        assert!(!allowed(&r, "/a$b/c"));
        assert!(!allowed(&r, "/zebra"));
    }

    #[test]
    fn query_is_matched() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*?sessionid=\nDisallow: /search?\n",
            UA,
        );
        assert!(!allowed(&r, "/page?sessionid=3"));
        assert!(!allowed(&r, "/search?q=x"));
        assert!(allowed(&r, "/search"));
        assert!(allowed(&r, "/page?id=3"));
    }

    #[test]
    fn percent_encoding_insensitive() {
        let txt = "User-agent: *\nDisallow: /%7Euser/\nDisallow: /café\nDisallow: /a%2fb\nDisallow: /sp ace\n";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/~user/x"));
        assert!(!allowed(&r, "/%7euser/x"));
        assert!(!allowed(&r, "/caf%C3%A9/menu"));
        assert!(!allowed(&r, "/café/menu"));
        // Reserved characters stay encoded: `%2F` is not `/`.
        assert!(!allowed(&r, "/a%2Fb"));
        assert!(allowed(&r, "/a/b"));
        assert!(!allowed(&r, "/sp%20ace"));
    }

    #[test]
    fn pattern_without_leading_slash() {
        let r = Robots::parse("User-agent: *\nDisallow: private\n", UA);
        assert!(!allowed(&r, "/private/x"));
        assert!(allowed(&r, "/public"));
    }

    #[test]
    fn comments_bom_crlf_and_case() {
        let txt = "\u{feff}# hello\r\nUSER-AGENT: * # everyone\r\nDISALLOW: /x # not x\r\n\r\nsitemap: https://example.com/s.xml\rdisallow: /y";
        let r = Robots::parse(txt, UA);
        assert!(!allowed(&r, "/x"));
        assert!(!allowed(&r, "/y"));
        assert!(allowed(&r, "/z"));
    }

    #[test]
    fn crawl_delay_parsing_and_cap() {
        let d = |v: &str| {
            Robots::parse(&format!("User-agent: *\nCrawl-delay: {v}\n"), UA).crawl_delay()
        };
        assert_eq!(d("3"), Some(Duration::from_secs(3)));
        assert_eq!(d("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(d("3600"), Some(MAX_CRAWL_DELAY));
        assert_eq!(d("1e300"), Some(MAX_CRAWL_DELAY));
        assert_eq!(d("-1"), None);
        assert_eq!(d("NaN"), None);
        assert_eq!(d("inf"), None);
        assert_eq!(d("soon"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn size_limit_drops_tail() {
        let mut txt = String::from("User-agent: *\nDisallow: /early\n");
        while txt.len() < MAX_ROBOTS_BYTES {
            txt.push_str("# padding é padding padding\n");
        }
        txt.push_str("Disallow: /late\n");
        let r = Robots::parse(&txt, UA);
        assert!(!allowed(&r, "/early"));
        assert!(allowed(&r, "/late"));

        // A multi-byte character straddling the limit must not panic.
        let mut txt = String::from("User-agent: *\nDisallow: /x\n");
        txt.push_str(&"é".repeat(MAX_ROBOTS_BYTES));
        let r = Robots::parse(&txt, UA);
        assert!(!allowed(&r, "/x"));
    }

    #[test]
    fn hostile_patterns_are_fast_and_safe() {
        let star = "*a".repeat(2000);
        let txt = format!(
            "User-agent: *\nDisallow: /{star}$\nDisallow: /%\nDisallow: /%G1\nDisallow: /%\u{e9}\n"
        );
        let r = Robots::parse(&txt, UA);
        let long = format!("/{}", "a".repeat(4000));
        let start = std::time::Instant::now();
        assert!(!allowed(&r, &long));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!allowed(&r, "/%25"));
        assert!(allowed(&r, "/b"));
    }

    #[test]
    fn glob_basics() {
        assert!(glob_match(b"/a", false, b"/abc"));
        assert!(!glob_match(b"/a", true, b"/abc"));
        assert!(glob_match(b"/a*c", true, b"/abc"));
        assert!(glob_match(b"*", true, b""));
        assert!(glob_match(b"", false, b"/"));
        assert!(!glob_match(b"/a*c", true, b"/abcd"));
        assert!(glob_match(b"/a*c", true, b"/acbc"));
    }

    #[test]
    fn robots_url_keeps_scheme_host_port() {
        let r = |s: &str| robots_url(&Url::parse(s).unwrap()).to_string();
        assert_eq!(r("http://a.com/x/y?z#w"), "http://a.com/robots.txt");
        assert_eq!(r("https://a.com:443/"), "https://a.com/robots.txt");
        assert_eq!(r("http://a.com:8080"), "http://a.com:8080/robots.txt");
        assert_eq!(r("http://[::1]:81/p"), "http://[::1]:81/robots.txt");
    }

    #[test]
    fn product_token_extraction() {
        assert_eq!(product_token("semcrawl/0.1"), "semcrawl");
        assert_eq!(product_token("  MyBot 1.0"), "mybot");
        assert_eq!(product_token(""), "");
        // An empty token matches no group, so `*` applies.
        let r = Robots::parse("User-agent: *\nDisallow: /x\n", "/1.0");
        assert!(!allowed(&r, "/x"));
    }
}
