//! Robots directives of a page: `<meta name="robots">`, `X-Robots-Tag`
//! and `rel` tokens of links.
//!
//! A page can ask crawlers not to follow its links (`nofollow`) and not to
//! index it (`noindex`), in its markup or in a response header, and a link
//! can ask not to be followed (`rel="nofollow"`, `"sponsored"`). The crawl
//! honours `nofollow` unless told otherwise and records `noindex`; both
//! parse paths and the page task read them through this one module, so the
//! rules are the same everywhere.

/// What a page asks of crawlers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// Do not index the page (`noindex`, or `none`).
    pub noindex: bool,
    /// Do not follow its links (`nofollow`, or `none`).
    pub nofollow: bool,
}

impl Directives {
    /// Both sets of directives at once (a page with several sources).
    pub fn union(self, other: Directives) -> Directives {
        Directives {
            noindex: self.noindex || other.noindex,
            nofollow: self.nofollow || other.nofollow,
        }
    }
}

/// The directives in a `<meta name=robots content>` or an `X-Robots-Tag`
/// value: comma- or space-separated, case-insensitive. An `X-Robots-Tag`
/// part aimed at one agent (`googlebot: noindex`) counts for every crawler.
///
/// ```
/// use semcrawl_core::parse::robots_directives;
/// let d = robots_directives("NoIndex, follow");
/// assert!(d.noindex && !d.nofollow);
/// let d = robots_directives("none");
/// assert!(d.noindex && d.nofollow);
/// let d = robots_directives("googlebot: nofollow");
/// assert!(d.nofollow && !d.noindex);
/// assert_eq!(robots_directives("all"), Default::default());
/// ```
pub fn robots_directives(value: &str) -> Directives {
    let mut d = Directives::default();
    for token in value.split(|c: char| c == ',' || c == ':' || c.is_ascii_whitespace()) {
        let t = token.trim();
        if t.eq_ignore_ascii_case("noindex") {
            d.noindex = true;
        } else if t.eq_ignore_ascii_case("nofollow") {
            d.nofollow = true;
        } else if t.eq_ignore_ascii_case("none") {
            d = Directives {
                noindex: true,
                nofollow: true,
            };
        }
    }
    d
}

/// Whether a meta `name` is the one crawlers read (`robots`).
pub(super) fn is_robots_meta(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("robots")
}

/// Whether a link's `rel` asks not to follow it: the token `nofollow` or
/// `sponsored` (`ugc` alone does not).
pub(super) fn rel_nofollow(rel: &str) -> bool {
    rel.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case("nofollow") || t.eq_ignore_ascii_case("sponsored"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_tokens() {
        assert!(rel_nofollow("nofollow"));
        assert!(rel_nofollow("ugc NOFOLLOW"));
        assert!(rel_nofollow(" sponsored "));
        assert!(!rel_nofollow("ugc"));
        assert!(!rel_nofollow("nofollowx noopener"));
    }
}
