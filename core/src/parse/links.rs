//! Link resolution: from raw `href`s to a page's list of crawlable links.
//!
//! Both parse paths find the same `href`s in different ways (a DOM walk, a
//! token stream); the rules that turn them into links live here once, so
//! the paths cannot drift apart: the base URL is the first `<base href>`
//! resolved against the page URL, each `href` goes through
//! [`canon::resolve`] (non-http links are dropped), links are deduplicated
//! in document order up to [`MAX_LINKS`], and the canonical URL is appended
//! when missing, replacing the last link if the cap is full. A link is
//! `nofollow` when every anchor to it says so (`rel` nofollow or
//! sponsored): one plain anchor is enough to follow it.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use url::Url;

use super::MAX_LINKS;
use crate::canon;

/// The URL relative links resolve against: the first `<base href>`
/// (`base_href`, raw), itself resolved against the page `url`; the page
/// URL when there is none or it does not resolve.
pub(super) fn base(url: &Url, base_href: Option<&str>) -> Url {
    base_href
        .and_then(|href| {
            url.join(href.trim_matches(|c: char| c.is_ascii_whitespace()))
                .ok()
        })
        .unwrap_or_else(|| url.clone())
}

/// Links in order with a compact dedup index: a 64-bit hash of each URL
/// mapped to its position (16 bytes a link rather than a second `Url`).
pub(super) struct Links {
    urls: Vec<Url>,
    /// Per link: some anchor to it may be followed.
    followed: Vec<bool>,
    index: HashMap<u64, u32, BuildHasherDefault<DefaultHasher>>,
}

impl Links {
    /// Room for `n` links, allocated once.
    pub(super) fn with_capacity(n: usize) -> Self {
        Links {
            urls: Vec::with_capacity(n),
            followed: Vec::with_capacity(n),
            index: HashMap::with_capacity_and_hasher(n, Default::default()),
        }
    }

    /// Whether [`MAX_LINKS`] links are kept: later `href`s are ignored.
    pub(super) fn is_full(&self) -> bool {
        self.urls.len() >= MAX_LINKS
    }

    /// Resolve `href` against `base` and keep it, unless it is not
    /// crawlable, already kept, or the list is full; `nofollow`: its
    /// anchor's `rel` asks not to follow it.
    pub(super) fn push_href(&mut self, base: &Url, href: &str, nofollow: bool) {
        if self.is_full() {
            return;
        }
        if let Some(link) = canon::resolve(base, href) {
            self.insert(link, !nofollow);
        }
    }

    fn hash(u: &Url) -> u64 {
        let mut h = DefaultHasher::new();
        u.as_str().hash(&mut h);
        h.finish()
    }

    /// Where `u` is kept, if it is.
    fn position(&self, u: &Url) -> Option<usize> {
        let &i = self.index.get(&Self::hash(u))?;
        if self.urls[i as usize] == *u {
            return Some(i as usize);
        }
        // A 64-bit collision between different URLs: check them all.
        self.urls.iter().position(|x| x == u)
    }

    fn insert(&mut self, u: Url, followed: bool) {
        match self.position(&u) {
            Some(i) => self.followed[i] |= followed,
            None => {
                self.index
                    .entry(Self::hash(&u))
                    .or_insert(self.urls.len() as u32);
                self.urls.push(u);
                self.followed.push(followed);
            }
        }
    }

    /// The links, with `canonical` appended when missing (in place of the
    /// last link if the list is full), and the positions of the `nofollow`
    /// ones, ascending.
    pub(super) fn finish(mut self, canonical: Option<&Url>) -> (Vec<Url>, Vec<usize>) {
        if let Some(c) = canonical {
            if self.position(c).is_none() {
                if self.is_full() {
                    self.urls.truncate(MAX_LINKS - 1);
                    self.followed.truncate(MAX_LINKS - 1);
                }
                self.urls.push(c.clone());
                self.followed.push(true);
            }
        }
        let mut urls = self.urls;
        urls.shrink_to_fit();
        let nofollow = (self.followed.iter().enumerate())
            .filter(|(_, f)| !**f)
            .map(|(i, _)| i)
            .collect();
        (urls, nofollow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/dir/page.html").unwrap()
    }

    #[test]
    fn base_falls_back_to_the_page() {
        assert_eq!(
            base(&page(), Some(" ../b/ ")).as_str(),
            "https://example.com/b/"
        );
        assert_eq!(base(&page(), Some("http://[::1")), page());
        assert_eq!(base(&page(), None), page());
    }

    #[test]
    fn dedup_in_order_then_canonical() {
        let mut links = Links::with_capacity(0);
        for href in ["b", "/a#x", "b#y", "mailto:x@y.z", "/a"] {
            links.push_href(&page(), href, false);
        }
        let canonical = Url::parse("https://example.com/c").unwrap();
        let out: Vec<String> = links
            .finish(Some(&canonical))
            .0
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            out,
            [
                "https://example.com/dir/b",
                "https://example.com/a",
                "https://example.com/c"
            ]
        );
    }

    #[test]
    fn nofollow_only_when_every_anchor_says_so() {
        let mut links = Links::with_capacity(0);
        for (href, nofollow) in [("/a", true), ("/b", true), ("/a", false), ("/c", false)] {
            links.push_href(&page(), href, nofollow);
        }
        let (urls, nofollow) = links.finish(None);
        assert_eq!(urls.len(), 3);
        assert_eq!(nofollow, [1]);
        assert_eq!(urls[1].as_str(), "https://example.com/b");
    }

    #[test]
    fn full_list_keeps_the_canonical_last() {
        let mut links = Links::with_capacity(MAX_LINKS);
        for i in 0..MAX_LINKS + 5 {
            links.push_href(&page(), &format!("/p{i}"), false);
        }
        assert!(links.is_full());
        let canonical = Url::parse("https://example.com/c").unwrap();
        let (out, _) = links.finish(Some(&canonical));
        assert_eq!(out.len(), MAX_LINKS);
        assert_eq!(
            out[MAX_LINKS - 2].as_str(),
            format!("https://example.com/p{}", MAX_LINKS - 2)
        );
        assert_eq!(out.last(), Some(&canonical));
    }
}
