//! Which in-scope URLs are queued: the user's `include` and `exclude`
//! patterns.
//!
//! Scope (`scope.rs`) says which *hosts* a crawl may visit; this filter says
//! which *URLs* on them are worth a request. Sites multiply URLs that lead
//! to the same content (shop facets, `?ref=` tracking parameters, sort
//! orders): a pattern or two keeps a crawl on the pages a user wants, and a
//! filtered URL costs nothing, not even a frontier entry.
//!
//! The rule, applied to the canonical URL (see [`crate::canon`]) of every
//! link found, every redirect target and every URL listed in a sitemap: a
//! URL is queued if it matches **some include pattern** (when any are
//! given) and **no exclude pattern**. Seeds are always fetched: the user
//! named them. Patterns are [`regex`] syntax, searched anywhere in the URL
//! (anchor them with `^` and `$` to match the whole of it).

use regex::Regex;
use url::Url;

use crate::setting::{ConfigError, Setting};

/// Compiled include and exclude patterns.
///
/// ```
/// use semcrawl_core::filter::UrlFilter;
/// let f = UrlFilter::new(&["/blog/".into()], &[r"[?&]ref=".into()]).unwrap();
/// assert!(f.allows(&"https://a.test/blog/post-1".parse().unwrap()));
/// assert!(!f.allows(&"https://a.test/blog/post-1?ref=home".parse().unwrap()));
/// assert!(!f.allows(&"https://a.test/shop/".parse().unwrap()));
/// assert!(UrlFilter::default().allows(&"https://a.test/shop/".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct UrlFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl UrlFilter {
    /// Compile the patterns. An invalid one is a [`ConfigError`] about
    /// [`Setting::Include`] or [`Setting::Exclude`], on one line.
    ///
    /// ```
    /// use semcrawl_core::filter::UrlFilter;
    /// use semcrawl_core::Setting;
    /// let err = UrlFilter::new(&[], &["(".into()]).unwrap_err();
    /// assert_eq!(err.setting(), Setting::Exclude);
    /// assert_eq!(err.to_string(), "invalid exclude pattern '(': unclosed group");
    /// ```
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, ConfigError> {
        Ok(UrlFilter {
            include: compile(Setting::Include, include)?,
            exclude: compile(Setting::Exclude, exclude)?,
        })
    }

    /// Whether no pattern was given (every URL passes).
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether `url` (canonical) may be queued.
    pub fn allows(&self, url: &Url) -> bool {
        let url = url.as_str();
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(url)))
            && !self.exclude.iter().any(|r| r.is_match(url))
    }
}

/// Most bytes a compiled pattern may take: a hostile or careless pattern
/// (`a{1000}{1000}`) is refused instead of filling memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

fn compile(setting: Setting, patterns: &[String]) -> Result<Vec<Regex>, ConfigError> {
    patterns
        .iter()
        .map(|p| {
            regex::RegexBuilder::new(p)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| ConfigError::invalid(setting, p, one_line(&e)))
        })
        .collect()
}

/// The regex crate's message without its multi-line diagram: the line that
/// says what is wrong (`error: unclosed group`), else the first line.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("invalid pattern");
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn include_any_and_exclude_none() {
        let f = UrlFilter::new(
            &["/blog/".into(), "/shop/$".into()],
            &[r"[?&](color|size|sort)=".into()],
        )
        .unwrap();
        assert!(f.allows(&url("http://a.test/blog/x")));
        assert!(f.allows(&url("http://a.test/shop/")));
        assert!(!f.allows(&url("http://a.test/shop/?color=red")));
        assert!(!f.allows(&url("http://a.test/blog/x?page=2&sort=new")));
        assert!(!f.allows(&url("http://a.test/about")));
        assert!(!f.is_empty());
        assert!(UrlFilter::new(&[], &[]).unwrap().is_empty());
    }

    #[test]
    fn errors_are_one_line_and_name_the_setting() {
        for bad in ["(", "[z-a]", "a{2,1}", r"\p{Nope}"] {
            let e = UrlFilter::new(&[bad.into()], &[]).unwrap_err();
            assert_eq!(e.setting(), Setting::Include);
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s}");
            assert!(
                s.starts_with(&format!("invalid include pattern '{bad}': ")),
                "{s}"
            );
        }
        let e = UrlFilter::new(&["a{1000}{1000}".into()], &[]).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
