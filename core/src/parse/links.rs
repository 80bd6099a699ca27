//! Link resolution: from raw `href`s to a page's list of crawlable links.
//!
//! Both parse paths find the same `href`s in different ways (a DOM walk, a
//! token stream); the rules that turn them into links live here once, so
//! the paths cannot drift apart: the base URL is the first `<base href>`
//! resolved against the page URL, each `href` goes through
//! [`canon::resolve`] (non-http links are dropped), links are deduplicated
//! in document order up to [`MAX_LINKS`], and the canonical URL is appended
//! when missing, replacing the last link if the cap is full.
//!
//! # Lazily, so that a page's links are bounded
//!
//! A parse hands over [`RawLinks`]: the base, the canonical URL and the raw
//! `href`s, one string. Resolved links are not proportional to the page: a
//! 200 KiB page of ten thousand short relative links under a 7 KiB
//! `<base href>` resolves to 70 MiB of URLs. So nothing resolves them all at
//! once: a [`Resolver`] yields them one at a time, and the crawl takes them
//! in chunks of a bounded size, each charged to the page in the byte gate
//! and queued before the next is resolved. Its only state beyond the raw
//! `href`s is a 64-bit hash per link kept, for deduplication (a collision
//! between two different links of one page, about 3e-12 at the cap, would
//! drop the second).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
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

type Hashes = HashSet<u64, BuildHasherDefault<DefaultHasher>>;

fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// A page's links before resolution: what they resolve against, the
/// canonical URL, and the raw `href`s in document order. Its size is that
/// of the `href`s as written (at most the page's), whatever they resolve
/// to; [`resolver`](Self::resolver) turns them into links one at a time.
///
/// ```
/// use semcrawl_core::parse::Extractor;
/// let page = b"<base href='https://b.test/d/'><a href=x>x</a><a href='x#y'>y</a>";
/// let url = "https://a.test/".parse().unwrap();
/// let (_, raw) = Extractor::new(&[], false).unwrap().parse_lazy(page, None, &url);
/// let links: Vec<String> = raw.resolver().map(String::from).collect();
/// assert_eq!(links, ["https://b.test/d/x"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RawLinks {
    base: Url,
    canonical: Option<Url>,
    /// Raw `href`s, each followed by a NUL (which the HTML tokenizer never
    /// leaves in an attribute value).
    hrefs: String,
}

impl RawLinks {
    /// Links resolving against `base`, with `canonical` appended when
    /// missing; `hrefs` are raw, each followed by a NUL.
    pub(super) fn new(base: Url, canonical: Option<Url>, mut hrefs: String) -> Self {
        hrefs.shrink_to_fit();
        RawLinks {
            base,
            canonical,
            hrefs,
        }
    }

    /// Heap bytes held, at most (the raw `href`s and the URLs), plus what
    /// a [`Resolver`] of them holds at most beyond the links it yields: its
    /// dedup hashes, one per distinct link, at most [`MAX_LINKS`].
    pub fn heap_size(&self) -> usize {
        // A link per href at most, so a hash per href up to the cap; a
        // hash set's table is at most twice its length, plus control bytes.
        let hrefs = self.hrefs.bytes().filter(|&b| b == 0).count();
        self.hrefs.capacity()
            + self.base.as_str().len()
            + self.canonical.as_ref().map_or(0, |c| c.as_str().len())
            + hrefs.min(MAX_LINKS) * 2 * (std::mem::size_of::<u64>() + 1)
    }

    /// At most how many bytes of URL text the links resolve to: each is at
    /// most the base and its `href` with every byte percent-encoded.
    pub fn resolved_bound(&self) -> usize {
        let base = self.base.as_str().len();
        let hrefs: usize = (self.hrefs.split_terminator('\0'))
            .map(|href| base + 3 * href.len())
            .sum();
        hrefs + self.canonical.as_ref().map_or(0, |c| c.as_str().len())
    }

    /// The links, one at a time: resolved, canonical, deduplicated in
    /// document order, at most [`MAX_LINKS`], the canonical URL appended
    /// when missing (in place of the last link when the cap is full).
    pub fn resolver(&self) -> Resolver<'_> {
        Resolver {
            raw: self,
            rest: self.hrefs.split_terminator('\0'),
            seen: Hashes::default(),
            held: None,
            end: false,
        }
    }

    /// Every link at once, as [`ParsedPage::links`](super::ParsedPage::links)
    /// lists them.
    pub(super) fn resolve_all(&self) -> Vec<Url> {
        let mut links: Vec<Url> = self.resolver().collect();
        links.shrink_to_fit();
        links
    }
}

/// Yields a page's links (see [`RawLinks::resolver`]).
#[derive(Debug)]
pub struct Resolver<'a> {
    raw: &'a RawLinks,
    rest: std::str::SplitTerminator<'a, char>,
    /// Hashes of the links yielded (and of the one held).
    seen: Hashes,
    /// The link that fills the cap, held back until the end: the canonical
    /// URL replaces it if the page's links do not include it.
    held: Option<Url>,
    /// The `href`s are used up (or the cap is full).
    end: bool,
}

impl Iterator for Resolver<'_> {
    type Item = Url;

    fn next(&mut self) -> Option<Url> {
        while !self.end {
            let Some(href) = self.rest.next() else {
                self.end = true;
                break;
            };
            let Some(link) = canon::resolve(&self.raw.base, href) else {
                continue;
            };
            if !self.seen.insert(hash(link.as_str())) {
                continue;
            }
            if self.seen.len() < MAX_LINKS {
                return Some(link);
            }
            // The last link the cap allows: whether it stays depends on the
            // canonical URL, known only at the end.
            self.held = Some(link);
            self.end = true;
        }
        // The end: the canonical URL if the page does not link to it, in
        // place of the held link; else the held link. Then nothing.
        let held = self.held.take();
        match self.raw.canonical.as_ref() {
            Some(c) if self.seen.insert(hash(c.as_str())) => {
                // Yield the canonical URL once: it is in `seen` now.
                Some(c.clone())
            }
            _ => held,
        }
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

    fn raw(hrefs: impl IntoIterator<Item = String>, canonical: Option<Url>) -> RawLinks {
        let mut s = String::new();
        for h in hrefs {
            s.push_str(&h);
            s.push('\0');
        }
        RawLinks::new(page(), canonical, s)
    }

    #[test]
    fn dedup_in_order_then_canonical() {
        let hrefs = ["b", "/a#x", "b#y", "mailto:x@y.z", "/a"].map(String::from);
        let canonical = Url::parse("https://example.com/c").unwrap();
        let out: Vec<String> = raw(hrefs, Some(canonical))
            .resolve_all()
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
    fn full_list_keeps_the_canonical_last() {
        let hrefs = (0..MAX_LINKS + 5).map(|i| format!("/p{i}"));
        let canonical = Url::parse("https://example.com/c").unwrap();
        let out = raw(hrefs, Some(canonical.clone())).resolve_all();
        assert_eq!(out.len(), MAX_LINKS);
        assert_eq!(
            out[MAX_LINKS - 2].as_str(),
            format!("https://example.com/p{}", MAX_LINKS - 2)
        );
        assert_eq!(out.last(), Some(&canonical));
    }

    #[test]
    fn a_full_list_that_has_the_canonical_keeps_its_last_link() {
        let last = format!("/p{}", MAX_LINKS - 1);
        let hrefs = (0..MAX_LINKS + 5).map(|i| format!("/p{i}"));
        let canonical = Url::parse(&format!("https://example.com{last}")).unwrap();
        let out = raw(hrefs, Some(canonical.clone())).resolve_all();
        assert_eq!(out.len(), MAX_LINKS);
        assert_eq!(out.last(), Some(&canonical));
        let early = Url::parse("https://example.com/p3").unwrap();
        let hrefs = (0..MAX_LINKS + 5).map(|i| format!("/p{i}"));
        let out = raw(hrefs, Some(early)).resolve_all();
        assert_eq!(out.len(), MAX_LINKS);
        assert_eq!(
            out.last().unwrap().as_str(),
            format!("https://example.com{last}")
        );
    }

    #[test]
    fn links_come_one_at_a_time_and_the_canonical_once() {
        let canonical = Url::parse("https://example.com/c").unwrap();
        let links = raw(["a", "c", "b"].map(String::from), Some(canonical));
        let mut r = links.resolver();
        assert_eq!(r.next().unwrap().as_str(), "https://example.com/dir/a");
        assert_eq!(r.next().unwrap().as_str(), "https://example.com/dir/c");
        assert_eq!(r.next().unwrap().as_str(), "https://example.com/dir/b");
        assert_eq!(r.next().unwrap().as_str(), "https://example.com/c");
        assert_eq!(r.next(), None);
        assert_eq!(r.next(), None);
        assert!(links.heap_size() >= 6);
    }
}
