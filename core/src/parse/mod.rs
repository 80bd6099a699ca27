//! HTML parsing: from a fetched body to the few things a record keeps.
//!
//! Pages are parsed with a real HTML5 parser (html5ever, and [`scraper`] on
//! top of it when a DOM is needed), so malformed markup is recovered exactly
//! as a browser would and CSS selectors for user fields behave as users
//! expect. Three constraints shape this module:
//!
//! * **Memory is bounded.** A DOM costs several times the body it came from,
//!   and the byte gate must charge that cost *before* parsing:
//!   [`Extractor::parse_cost`] gives it, from costs measured rather than
//!   guessed (`cost.rs`). Everything kept from the page is capped
//!   ([`MAX_LINKS`], [`MAX_META_LEN`], [`MAX_FIELD_LEN`], [`MAX_TEXT_LEN`]) so
//!   a hostile page cannot turn into an unbounded record.
//! * **The DOM never escapes.** `scraper::Html` is `!Send` (its strings are
//!   non-atomic tendrils). [`Extractor::parse`] is synchronous, builds the
//!   DOM, copies out owned `String`s and [`Url`]s, and drops the DOM before
//!   returning, so callers can hold a [`ParsedPage`] across `.await` points
//!   on a multi-threaded executor.
//! * **Hostile input never panics.** Bytes are decoded with `encoding_rs`,
//!   which replaces invalid sequences with U+FFFD instead of failing;
//!   html5ever accepts any string; all truncation is done at char
//!   boundaries; traversal is iterative (no recursion on 10k nested `div`s).
//!
//! # Two paths
//!
//! A DOM is only needed for user fields (CSS selectors) and visible text.
//! Without them, which is the default crawl, [`Extractor::parse`] takes a
//! **streaming path** (`stream.rs`): a tokenizer reads the body's tags
//! (our own, `scan.rs`, for UTF-8 bodies; html5ever's, decoding chunk by
//! chunk, for other encodings and invalid UTF-8), and a sink keeps the title,
//! description, `lang`, `<base href>`, canonical and links, redoing the few
//! things the tree builder tells the tokenizer (RCDATA/RAWTEXT/script data
//! for `<title>`, `<script>`, `<style>`..., foreign content for `<svg>` and
//! `<math>`). Its result is the DOM path's (`dom.rs`), checked by a
//! differential test over hand-written and generated pages; the differences
//! (link order under foster parenting, no node budget, framesets) are listed
//! in that module. The byte gate reserves [`Extractor::parse_cost`] of the
//! path in use: [`PARSE_COST_RATIO`] times the body for the DOM path; for
//! the streaming path about twice the body plus its capped link output,
//! never more than [`STREAM_PARSE_COST_RATIO`] times the body.
//!
//! # Files
//!
//! * `mod.rs`: [`Extractor`] and [`ParsedPage`], what a caller sees;
//! * `charset.rs`: choosing the body's encoding ([`decode_body`]);
//! * `sniff.rs`: whether a response is HTML at all ([`is_html`]);
//! * `stream.rs`: the streaming path (tokenizer only, no tree);
//! * `scan.rs`: its tokenizer for UTF-8 bodies, which slices tags out of
//!   the body instead of building them a character at a time;
//! * `refs.rs`: character references in those tags' values and in titles,
//!   decoded by html5ever on just that text;
//! * `dom.rs`: the DOM path: the budgeted DOM ([`node_budget`]), user
//!   fields, visible text;
//! * `links.rs`: `href`s to crawlable links, one set of rules for both
//!   paths, resolved lazily ([`RawLinks`]);
//! * `text.rs`: whitespace-collapsed, byte-capped text;
//! * `cost.rs`: the measured parse cost the byte gate charges.
//!
//! # Decoding
//!
//! The body's encoding is chosen as browsers do, in this order: a byte-order
//! mark; the `charset` parameter of `Content-Type`; a `<meta charset>` or
//! `<meta http-equiv=content-type content="...; charset=...">` found by a
//! prescan of the first 1024 bytes (as in the HTML standard, a UTF-16 label
//! found there means UTF-8); otherwise UTF-8. See [`decode_body`].
//!
//! # What is extracted
//!
//! See [`ParsedPage`] and [`Extractor::parse`].
//!
//! ```
//! use semcrawl_core::parse::Extractor;
//! use url::Url;
//!
//! let html = br#"<html lang=en><head><title> Hello
//!   world </title><base href="/docs/"></head>
//!   <body><a href="a.html">A</a> <a href="mailto:x@y.z">mail</a></body></html>"#;
//! let page = Extractor::new(&[], false)
//!     .unwrap()
//!     .parse(html, Some("text/html"), &Url::parse("https://example.com/x").unwrap());
//! assert_eq!(page.title.as_deref(), Some("Hello world"));
//! assert_eq!(page.lang.as_deref(), Some("en"));
//! assert_eq!(page.links[0].as_str(), "https://example.com/docs/a.html");
//! assert_eq!(page.links.len(), 1);
//! ```

use std::collections::BTreeMap;

use url::Url;

use crate::config::{ConfigError, FieldSpec};
use crate::record::FieldValue;
use crate::setting::Setting;

mod charset;
mod cost;
mod directives;
mod dom;
mod links;
mod refs;
mod scan;
mod sniff;
mod stream;
mod text;

pub use charset::decode_body;
pub use cost::{PARSE_COST_RATIO, STREAM_PARSE_COST_RATIO};
pub use directives::{robots_directives, Directives};
pub(crate) use dom::compile_selector;
pub use dom::{node_budget, MAX_DOM_DEPTH, URL_ATTRIBUTES};
pub use links::{RawLinks, Resolver};
pub use sniff::is_html;

/// Most links kept per page (the canonical link included).
pub const MAX_LINKS: usize = 10_000;

/// Longest title, description, `lang` or attribute field kept, in bytes.
pub const MAX_META_LEN: usize = 4 * 1024;

/// Longest text of a user field kept, in bytes.
pub const MAX_FIELD_LEN: usize = 64 * 1024;

/// Longest visible text kept, in bytes.
pub const MAX_TEXT_LEN: usize = 1024 * 1024;

/// Most values a list field (`NAME[]=CSS`) keeps per page; it also stops
/// once its values add up to [`MAX_TEXT_LEN`] bytes.
pub const MAX_FIELD_VALUES: usize = 1_000;

/// What the crawler keeps of a page.
///
/// Everything here is owned data (no reference into the parsed DOM), so a
/// `ParsedPage` is `Send` and cheap to keep while the record waits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedPage {
    /// `<title>`, whitespace-collapsed and trimmed; `None` if missing or empty.
    pub title: Option<String>,
    /// `<meta name=description content>`, whitespace-collapsed; `None` if
    /// missing or empty.
    pub description: Option<String>,
    /// `<html lang>`, trimmed; `None` if missing or empty.
    pub lang: Option<String>,
    /// `<link rel=canonical>`, absolute and canonical (see [`crate::canon`]).
    pub canonical: Option<Url>,
    /// Crawlable links, canonical, deduplicated, in document order; the
    /// canonical URL is appended if not already present. At most
    /// [`MAX_LINKS`].
    pub links: Vec<Url>,
    /// What `<meta name="robots">` elements ask (all of them together).
    pub robots: Directives,
    /// User fields: one entry per field name, `None` when the selector
    /// matched nothing.
    pub fields: BTreeMap<String, Option<FieldValue>>,
    /// Visible text (only if asked), at most [`MAX_TEXT_LEN`] bytes.
    pub text: Option<String>,
    /// Set when the DOM path stopped building before the end of the body
    /// (too deep, too many nodes, too much work): everything above comes from the part
    /// of the page before the cut. Never set by the streaming path.
    pub cut: Option<ParseCut>,
}

/// Why the DOM path stopped building a page's tree before its end.
///
/// A page built to make the tree builder slow or big is cut, not parsed
/// for seconds: the record keeps what was found before the cut, and the
/// pipeline reports the cut as the error kind `parse_truncated`.
///
/// ```
/// use semcrawl_core::parse::{Extractor, ParseCut, MAX_DOM_DEPTH};
/// let deep = "<div>".repeat(100_000);
/// let page = Extractor::new(&[], true)
///     .unwrap()
///     .parse(deep.as_bytes(), None, &url::Url::parse("http://a.com/").unwrap());
/// assert_eq!(page.cut, Some(ParseCut::Depth));
/// assert!(page.cut.unwrap().to_string().contains(&MAX_DOM_DEPTH.to_string()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseCut {
    /// Elements nested deeper than [`MAX_DOM_DEPTH`].
    Depth,
    /// More nodes than [`node_budget`] allows for the body's size.
    Nodes,
    /// More tree-builder work than the body's size allows: a stack of open
    /// elements kept deep (under [`MAX_DOM_DEPTH`]) under tags that scan it.
    Work,
}

impl std::fmt::Display for ParseCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseCut::Depth => write!(
                f,
                "elements nested deeper than {MAX_DOM_DEPTH}: the page was parsed up to there"
            ),
            ParseCut::Nodes => f.write_str(
                "more DOM nodes than the node budget for its size: the page was parsed up to there",
            ),
            ParseCut::Work => f.write_str(
                "more parser work than the budget for its size (tags scanning a deep stack): \
                 the page was parsed up to there",
            ),
        }
    }
}

/// Compiled extraction options, built once per crawl.
///
/// `Send + Sync`: share one between all parse tasks.
#[derive(Debug, Clone)]
pub struct Extractor {
    fields: Vec<dom::Field>,
    text: bool,
}

impl Extractor {
    /// Compile field selectors.
    ///
    /// An invalid CSS selector gives a [`ConfigError`] about
    /// [`Setting::Select`] naming the field.
    ///
    /// ```
    /// use semcrawl_core::FieldSpec;
    /// use semcrawl_core::parse::Extractor;
    /// use semcrawl_core::Setting;
    /// let bad = FieldSpec { name: "x".into(), css: "p[".into(), attr: None, all: false };
    /// let err = Extractor::new(&[bad], false).unwrap_err();
    /// assert_eq!(err.setting(), Setting::Select);
    /// assert!(err.to_string().contains("x=p["));
    /// ```
    pub fn new(fields: &[FieldSpec], text: bool) -> Result<Self, ConfigError> {
        let fields = fields
            .iter()
            .map(|f| {
                dom::Field::compile(f).map_err(|e| {
                    ConfigError::invalid(
                        Setting::Select,
                        format_args!("{}={}", f.name, f.css),
                        format_args!("invalid CSS selector: {e}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Extractor { fields, text })
    }

    /// Parse a body fetched from `url`. Never panics on hostile input.
    ///
    /// * `title`: the first HTML `<title>` (an SVG `<title>` does not count).
    /// * `description`: the first `<meta name=description>` (name compared
    ///   ASCII case-insensitively) with a `content`.
    /// * `lang`: the root `<html lang>`.
    /// * Relative URLs resolve against the first `<base href>` (itself
    ///   resolved against `url`), else against `url`.
    /// * `canonical`: the first `<link>` whose `rel` contains the token
    ///   `canonical` and that has an `href`, through
    ///   [`canon::resolve`](crate::canon::resolve).
    /// * `links`: the `href` of `<a>` and `<area>` elements through
    ///   [`canon::resolve`](crate::canon::resolve) (so non-http links are
    ///   dropped), deduplicated in document order, at most [`MAX_LINKS`]; the canonical URL is
    ///   appended when missing (replacing the last link if the cap is full).
    ///   Never an `<img>`, `<script>` or `<link rel=stylesheet>` source.
    ///   Which of them only `rel="nofollow"` (or `sponsored`) anchors point
    ///   to, the [`Resolver`] of [`parse_lazy`](Self::parse_lazy)'s
    ///   [`RawLinks`] says ([`Resolver::last_nofollow`]).
    /// * `robots`: the directives of every `<meta name="robots">` (see
    ///   [`robots_directives`]).
    /// * `fields`: for each user field, the first match in document order: its
    ///   text (whitespace-collapsed, at most [`MAX_FIELD_LEN`] bytes) or, with
    ///   an attribute, that attribute's value (at most [`MAX_META_LEN`]
    ///   bytes; `None` when the first match lacks it). A URL-valued
    ///   attribute ([`URL_ATTRIBUTES`]: `href`, `src`, `action`, ...) is
    ///   resolved against the page's URL (and its `<base href>`) into an
    ///   absolute URL, as a browser reads it; other attributes are kept as
    ///   written. A list field (`NAME[]=CSS`) takes every match instead, in
    ///   document order (those lacking the attribute skipped), at most
    ///   [`MAX_FIELD_VALUES`] of them; no match is an empty list.
    /// * `text` (only if enabled): the text of `<body>`, skipping
    ///   `script`, `style`, `noscript`, `template`, `iframe` and elements with
    ///   a `hidden` attribute; block elements and `<br>` separate words;
    ///   whitespace-collapsed; at most [`MAX_TEXT_LEN`] bytes.
    ///
    /// ```
    /// use semcrawl_core::FieldSpec;
    /// use semcrawl_core::parse::Extractor;
    /// use url::Url;
    /// let fields = [
    ///     FieldSpec::parse("h=h1").unwrap(),
    ///     FieldSpec::parse("img=img@src").unwrap(),
    ///     FieldSpec::parse("none=.missing").unwrap(),
    ///     FieldSpec::parse("b[]=b").unwrap(),
    /// ];
    /// let ex = Extractor::new(&fields, true).unwrap();
    /// let body = b"<h1>Big   <b>news</b></h1><img src='pic.png'><p>Hi<script>x()</script></p>";
    /// let page = ex.parse(body, None, &Url::parse("http://a.com/x/").unwrap());
    /// let text = |name: &str| page.fields[name].as_ref().and_then(|v| v.as_text());
    /// assert_eq!(text("h"), Some("Big news"));
    /// assert_eq!(text("img"), Some("http://a.com/x/pic.png"));
    /// assert_eq!(page.fields["none"], None);
    /// assert_eq!(page.fields["b"].as_ref().unwrap().as_list(), ["news".to_owned()]);
    /// assert_eq!(page.text.as_deref(), Some("Big news Hi"));
    /// ```
    pub fn parse(&self, body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        let (mut page, links) = self.parse_lazy(body, content_type, url);
        page.links = links.resolve_all();
        page
    }

    /// [`parse`](Self::parse), with the links left unresolved: the page
    /// (its `links` empty) and its [`RawLinks`], which resolve to
    /// [`ParsedPage::links`] one at a time. What they resolve to is not
    /// bounded by the body (short relative links under a long base), so
    /// the crawl resolves them in chunks it can charge to the byte gate.
    ///
    /// ```
    /// use semcrawl_core::parse::Extractor;
    /// let url = "https://a.test/".parse().unwrap();
    /// let ex = Extractor::new(&[], false).unwrap();
    /// let (page, raw) = ex.parse_lazy(b"<title>T</title><a href=x>", None, &url);
    /// assert!(page.links.is_empty());
    /// assert_eq!(raw.resolver().count(), 1);
    /// assert_eq!(ex.parse(b"<title>T</title><a href=x>", None, &url).links.len(), 1);
    /// ```
    pub fn parse_lazy(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        url: &Url,
    ) -> (ParsedPage, RawLinks) {
        if self.streams() {
            stream::parse(body, content_type, url)
        } else {
            dom::parse(&self.fields, self.text, body, content_type, url)
        }
    }

    /// Whether [`parse`](Self::parse) takes the streaming path (no user
    /// fields and no visible text): see the
    /// [module documentation](self#two-paths).
    fn streams(&self) -> bool {
        self.fields.is_empty() && !self.text
    }

    /// The measured peak heap bytes per body byte of the path this
    /// extractor takes: [`STREAM_PARSE_COST_RATIO`] without fields and
    /// text, else [`PARSE_COST_RATIO`].
    ///
    /// This is the *worst case per byte*. The byte gate reserves
    /// [`parse_cost`](Self::parse_cost) instead, which equals
    /// `len * cost_ratio()` on the DOM path but is usually far lower on the
    /// streaming path, whose cost is mostly its capped link output.
    ///
    /// ```
    /// use semcrawl_core::FieldSpec;
    /// use semcrawl_core::parse::{Extractor, PARSE_COST_RATIO, STREAM_PARSE_COST_RATIO};
    /// assert_eq!(Extractor::new(&[], false).unwrap().cost_ratio(), STREAM_PARSE_COST_RATIO);
    /// assert_eq!(Extractor::new(&[], true).unwrap().cost_ratio(), PARSE_COST_RATIO);
    /// let f = [FieldSpec::parse("h=h1").unwrap()];
    /// assert_eq!(Extractor::new(&f, false).unwrap().cost_ratio(), PARSE_COST_RATIO);
    /// ```
    pub fn cost_ratio(&self) -> u64 {
        if self.streams() {
            STREAM_PARSE_COST_RATIO
        } else {
            PARSE_COST_RATIO
        }
    }

    /// Peak heap bytes one [`parse`](Self::parse) of a `len`-byte body may
    /// use: what the pipeline reserves in the byte gate before parsing.
    ///
    /// The DOM path costs `len * PARSE_COST_RATIO`. The streaming path's cost
    /// is not proportional: it is small per byte except for its *output*,
    /// the links, which a hostile page can pack densely but only up to
    /// [`MAX_LINKS`] (see `cost.rs` for the bound and its measurements). A
    /// typical 1 MiB page is charged 3.4 MiB rather than
    /// `STREAM_PARSE_COST_RATIO` x 1 MiB = 12 MiB.
    ///
    /// ```
    /// use semcrawl_core::parse::Extractor;
    /// let e = Extractor::new(&[], false).unwrap();
    /// assert!(e.parse_cost(1 << 20) < 4 << 20);
    /// assert!(e.parse_cost(20 << 10) >= 11 * (20 << 10));
    /// ```
    pub fn parse_cost(&self, len: u64) -> u64 {
        if self.streams() {
            cost::stream(len)
        } else {
            cost::dom(len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn url() -> Url {
        Url::parse("https://example.com/dir/page.html").unwrap()
    }

    /// The DOM path with visible text (the streaming path has its own
    /// differential tests in `stream.rs`).
    pub(super) fn parse(body: &[u8]) -> ParsedPage {
        Extractor::new(&[], true).unwrap().parse(body, None, &url())
    }

    pub(super) fn links(p: &ParsedPage) -> Vec<&str> {
        p.links.iter().map(Url::as_str).collect()
    }

    #[test]
    fn extractor_and_page_are_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Extractor>();
        assert_send_sync::<ParsedPage>();
    }

    #[test]
    fn invalid_selector_names_the_field() {
        let f = FieldSpec {
            name: "price".into(),
            css: "div[[".into(),
            attr: None,
            all: false,
        };
        let e = Extractor::new(&[f], false).unwrap_err().to_string();
        assert!(e.contains("price=div[["), "{e}");
    }

    #[test]
    fn extracts_head_metadata() {
        let p = parse(
            br#"<!doctype html><html lang=" fr-CA "><head>
            <meta name="Description" content="  A   page
              about things ">
            <title>
              First
            </title><title>Second</title>
            <link rel="alternate canonical" href="/canon?b=2&a=1#x">
            <link rel="canonical" href="/ignored">
            </head><body><svg><title>svg title</title></svg></body></html>"#,
        );
        assert_eq!(p.title.as_deref(), Some("First"));
        assert_eq!(p.description.as_deref(), Some("A page about things"));
        assert_eq!(p.lang.as_deref(), Some("fr-CA"));
        assert_eq!(
            p.canonical.as_ref().map(Url::as_str),
            Some("https://example.com/canon?a=1&b=2")
        );
        assert_eq!(links(&p), ["https://example.com/canon?a=1&b=2"]);
    }

    #[test]
    fn empty_metadata_is_none() {
        let p = parse(b"<html lang=''><title>  \n </title><meta name=description content='  '>");
        assert_eq!((p.title, p.description, p.lang), (None, None, None));
        assert_eq!(p.canonical, None);
        assert!(p.links.is_empty());
    }

    #[test]
    fn links_resolved_deduplicated_in_order() {
        let p = parse(
            br##"<body>
            <a href="b.html">b</a>
            <a href=" /a#top ">a</a>
            <a href="b.html#again">b again</a>
            <a href="mailto:x@y.z">m</a><a href="javascript:void(0)">j</a>
            <a href="tel:+1">t</a><a href="data:,x">d</a><a href="">empty</a><a>no href</a>
            <a href="http://[bad">bad</a>
            <map><area href="/area?utm_source=z&k=1"></map>
            <a href="HTTPS://Other.ORG:443/x?b&a">o</a>
            <link rel=canonical href="/a">
            </body>"##,
        );
        assert_eq!(
            links(&p),
            [
                "https://example.com/dir/b.html",
                "https://example.com/a",
                "https://example.com/area?k=1",
                "https://other.org/x?a&b",
            ]
        );
        // The canonical was already a link: not appended twice.
        assert_eq!(
            p.canonical.as_ref().map(Url::as_str),
            Some("https://example.com/a")
        );
    }

    #[test]
    fn base_href_resolves_links_and_canonical() {
        let p = parse(
            br#"<head><base href="../other/"><base href="/ignored/">
            <link rel=canonical href="canon.html"></head>
            <body><a href="x.html">x</a></body>"#,
        );
        assert_eq!(
            links(&p),
            [
                "https://example.com/other/x.html",
                "https://example.com/other/canon.html"
            ]
        );
        // A base that comes after the links still applies (first base wins).
        let p = parse(br#"<a href="x">x</a><base href="https://cdn.example.net/b/">"#);
        assert_eq!(links(&p), ["https://cdn.example.net/b/x"]);
        // An unusable base falls back to the page URL.
        let p = parse(br#"<base href="http://[::1"><a href="x">x</a>"#);
        assert_eq!(links(&p), ["https://example.com/dir/x"]);
    }

    #[test]
    fn fields_text_or_attribute() {
        let fields = [
            FieldSpec::parse("h=article h2").unwrap(),
            FieldSpec::parse("link=article a@href").unwrap(),
            FieldSpec::parse("missing_attr=article h2@data-x").unwrap(),
            FieldSpec::parse("nothing=section").unwrap(),
            FieldSpec::parse("root=html@lang").unwrap(),
            FieldSpec::parse("upper=img@SRC").unwrap(),
        ];
        let ex = Extractor::new(&fields, false).unwrap();
        let p = ex.parse(
            br#"<html lang=de><h2>outside</h2><article><h2>  Inside
            <em>here</em> </h2><h2>second</h2><a href="../rel.html">r</a><img src="i.png"></article>"#,
            Some("text/html"),
            &url(),
        );
        let text = |name: &str| p.fields[name].as_ref().and_then(|v| v.as_text());
        assert_eq!(text("h"), Some("Inside here"));
        assert_eq!(
            text("link"),
            Some("https://example.com/rel.html"),
            "URL attributes are resolved against the page"
        );
        assert_eq!(p.fields["missing_attr"], None);
        assert_eq!(p.fields["nothing"], None);
        assert_eq!(text("root"), Some("de"));
        assert_eq!(text("upper"), Some("https://example.com/dir/i.png"));
        assert_eq!(p.fields.len(), 6);
        assert_eq!(p.text, None, "text not asked for");
    }

    #[test]
    fn list_fields_take_every_match_resolved_against_the_base() {
        let fields = [
            FieldSpec::parse("imgs[]=img@src").unwrap(),
            FieldSpec::parse("items[]=li").unwrap(),
            FieldSpec::parse("none[]=table").unwrap(),
            FieldSpec::parse("alt[]=img@alt").unwrap(),
        ];
        let ex = Extractor::new(&fields, false).unwrap();
        let p = ex.parse(
            br#"<base href="https://cdn.example.net/b/"><ul><li>one</li><li> two </li></ul>
            <img src="a.png" alt="A"><img src="/c.png"><img src="data:image/gif;base64,R0">"#,
            Some("text/html"),
            &url(),
        );
        let list = |name: &str| p.fields[name].as_ref().unwrap().as_list().to_vec();
        assert_eq!(
            list("imgs"),
            [
                "https://cdn.example.net/b/a.png",
                "https://cdn.example.net/c.png",
                "data:image/gif;base64,R0"
            ]
        );
        assert_eq!(list("items"), ["one", "two"]);
        assert!(list("none").is_empty(), "no match is an empty list");
        assert_eq!(list("alt"), ["A"], "matches without the attribute skipped");
    }

    #[test]
    fn an_invalid_selector_is_described_in_words() {
        for css in ["p:hoverr", "p[", "a >", "::", "#"] {
            let err = FieldSpec::parse(&format!("x={css}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid field 'x="), "{css}: {err}");
            assert!(err.contains("invalid CSS selector: "), "{css}: {err}");
            assert!(!err.to_lowercase().contains("report"), "{css}: {err}");
            assert!(!err.contains('\n'), "{css}: {err}");
        }
    }

    #[test]
    fn caps_are_enforced_at_char_boundaries() {
        let title = "é".repeat(MAX_META_LEN);
        let text = "word ".repeat(MAX_TEXT_LEN / 4);
        let body = format!("<title>{title}</title><body><p>{text}</p>");
        let p = parse(body.as_bytes());
        let t = p.title.unwrap();
        assert!(t.len() <= MAX_META_LEN && t.chars().all(|c| c == 'é'));
        let text = p.text.unwrap();
        assert!(text.len() <= MAX_TEXT_LEN && text.len() > MAX_TEXT_LEN - 10);
        assert!(text.starts_with("word word "));
        assert!(
            text.chars().all(|c| "word ".contains(c)),
            "cut inside a char"
        );
    }

    #[test]
    fn link_cap_keeps_canonical() {
        let mut body = String::from("<link rel=canonical href='/canonical'>");
        for i in 0..MAX_LINKS + 50 {
            body.push_str(&format!("<a href='/p{i}'>x</a>"));
        }
        let p = Extractor::new(&[], false)
            .unwrap()
            .parse(body.as_bytes(), None, &url());
        assert_eq!(p.links.len(), MAX_LINKS);
        assert_eq!(p.links[0].as_str(), "https://example.com/p0");
        assert_eq!(
            p.links.last().map(Url::as_str),
            Some("https://example.com/canonical")
        );
    }

    #[test]
    fn hostile_malformed_html() {
        let p = parse(b"<html><title>t</title><body><p>one<div>two</html><a href=/after>x</a><p>three</span></b>");
        assert_eq!(p.title.as_deref(), Some("t"));
        assert_eq!(links(&p), ["https://example.com/after"]);
        // The stray `</html>` is ignored, so the `<a>` lands inline inside the
        // still-open `div`, as in a browser.
        assert_eq!(p.text.as_deref(), Some("one twox three"));

        for body in [
            &b""[..],
            b"<",
            b"</",
            b"<!--",
            b"<a href=",
            b"<a href='",
            b"<title>",
            b"\x00\x00\x00",
            b"<html><html><html lang=x><body><body>",
            b"<table><tr><td><a href=/t>t</table></a>",
            b"<svg><a href='/svg'>s</a></svg><math><mi>x</mi></math>",
        ] {
            let _ = parse(body);
        }
        let p = parse(b"");
        assert_eq!(p.title, None);
        assert_eq!(p.text.as_deref(), Some(""));
    }

    #[test]
    fn deeply_nested_divs() {
        let fields = [FieldSpec::parse("d=div a@href").unwrap()];
        let ex = Extractor::new(&fields, true).unwrap();
        let nested = |depth: usize| {
            let body = format!(
                "{}<a href='/deep'>deep</a>{}<a href='/after'>after</a>",
                "<div>".repeat(depth),
                "</div>".repeat(depth)
            );
            ex.parse(body.as_bytes(), None, &url())
        };
        // Within the cap: everything is found.
        let p = nested(MAX_DOM_DEPTH - 20);
        assert_eq!(p.cut, None);
        assert_eq!(
            links(&p),
            ["https://example.com/deep", "https://example.com/after"]
        );
        assert_eq!(p.text.as_deref(), Some("deep after"));
        assert_eq!(p.fields["d"], Some("https://example.com/deep".into()));
        // Past it: the parse stops, and says so.
        let p = nested(10_000);
        assert_eq!(p.cut, Some(ParseCut::Depth));
        assert!(p.links.is_empty());
        assert_eq!(p.text.as_deref(), Some(""));
        assert_eq!(p.fields["d"], None);
    }

    #[test]
    fn binary_garbage() {
        // Deterministic pseudo-random bytes (xorshift), no external crate.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let fields = [
            FieldSpec::parse("x=*@href").unwrap(),
            FieldSpec::parse("t=p").unwrap(),
        ];
        let ex = Extractor::new(&fields, true).unwrap();
        for ct in [
            None,
            Some("text/html; charset=shift_jis"),
            Some("text/html; charset=utf-16be"),
        ] {
            let p = ex.parse(&bytes, ct, &url());
            assert!(p.links.len() <= MAX_LINKS);
            assert!(p.text.is_some());
        }
        assert!(!is_html(None, &bytes));
    }
}
