//! HTML parsing: from a fetched body to the few things a record keeps.
//!
//! Pages are parsed with a real HTML5 parser ([`scraper`], on top of
//! html5ever), so malformed markup is recovered exactly as a browser would
//! and CSS selectors (`--select`) behave as users expect. Three constraints
//! shape this module:
//!
//! * **Memory is bounded.** A DOM costs several times the body it came from,
//!   and the byte gate must charge that cost *before* parsing. The charge is
//!   [`PARSE_COST_RATIO`] times the body length, measured rather than
//!   guessed (see the constant). Everything kept from the page is capped
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
//! A DOM is only needed for `--select` fields (CSS selectors) and `--text`.
//! Without them, which is the default crawl, [`Extractor::parse`] takes a
//! **streaming path** (`parse/stream.rs`): the body is decoded chunk by
//! chunk into html5ever's tokenizer, and a token sink keeps the title,
//! description, `lang`, `<base href>`, canonical and links, redoing the few
//! things the tree builder tells the tokenizer (RCDATA/RAWTEXT/script data
//! for `<title>`, `<script>`, `<style>`..., foreign content for `<svg>` and
//! `<math>`). Its result is the DOM path's, checked by a differential test
//! over hand-written and generated pages; the differences (link order under
//! foster parenting, no node budget, framesets) are listed in that module.
//! [`Extractor::cost_ratio`] gives the byte gate the measured cost of the
//! path in use: [`STREAM_PARSE_COST_RATIO`] or [`PARSE_COST_RATIO`].
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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use scraper::node::Element;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::canon;
use crate::config::{ConfigError, FieldSpec};

mod stream;

/// Most links kept per page (the canonical link included).
pub const MAX_LINKS: usize = 10_000;

/// Longest title, description, `lang` or attribute field kept, in bytes.
pub const MAX_META_LEN: usize = 4 * 1024;

/// Longest text of a `--select` field kept, in bytes.
pub const MAX_FIELD_LEN: usize = 64 * 1024;

/// Longest visible text kept (`--text`), in bytes.
pub const MAX_TEXT_LEN: usize = 1024 * 1024;

/// How many bytes the `<meta charset>` prescan looks at (as in the HTML
/// standard).
const PRESCAN_LEN: usize = 1024;

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
    /// `<link rel=canonical>`, absolute and canonical (see [`canon`]).
    pub canonical: Option<Url>,
    /// Crawlable links, canonical, deduplicated, in document order; the
    /// canonical URL is appended if not already present. At most
    /// [`MAX_LINKS`].
    pub links: Vec<Url>,
    /// `--select` fields: one entry per field name, `None` when the
    /// selector matched nothing.
    pub fields: BTreeMap<String, Option<String>>,
    /// Visible text (only if asked), at most [`MAX_TEXT_LEN`] bytes.
    pub text: Option<String>,
}

/// One compiled `--select` field.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    selector: Selector,
    attr: Option<String>,
}

/// Compiled extraction options, built once per crawl.
///
/// `Send + Sync`: share one between all parse tasks.
#[derive(Debug, Clone)]
pub struct Extractor {
    fields: Vec<Field>,
    text: bool,
}

/// Estimated peak parse memory per decoded body byte.
///
/// The byte gate charges `body.len() * PARSE_COST_RATIO` for a parse, on
/// top of the body itself, before [`Extractor::parse`] runs.
///
/// Measured with a counting global allocator by the `parse_cost` example:
/// peak heap growth during one `parse` call (decoded text, DOM, extracted
/// page; the caller's body buffer excluded) divided by the body length.
/// Almost all of it is the DOM: about 280-380 bytes per node (scraper's
/// 128-byte tree slots, with the tree's `Vec` doubling counted old + new
/// during a move, plus attribute and text buffers). Figures (release build):
///
/// | page (generated)                                   | 20 KiB | 1 MiB |
/// |----------------------------------------------------|-------:|------:|
/// | typical: nested divs, paragraphs, ~15 links/20 KiB | 11.7   | 7.3   |
/// | same, with `--text` and 3 `--select` fields        | 13.7   | 8.3   |
/// | same, windows-1252 (decoding copy)                 | 11.7   | 8.3   |
/// | dense table rows (a node per ~10 bytes)            | 21.1   | 26.3  |
///
/// The constant is the largest of these, 26.3, rounded up. Small pages
/// measure higher because of fixed costs (a few hundred KiB at most).
///
/// Hostile pages built to maximize nodes per byte (`<a>` repeated, `x<br>`,
/// misnested formatting elements that the HTML algorithm clones
/// quadratically) are cut by [`node_budget`]; they peak at about 48 bytes
/// per body byte plus ~0.6 MiB, i.e. up to ~1.8x this estimate on large pages.
///
/// Rerun with:
///
/// ```text
/// cargo run --release -p semcrawl-core --example parse_cost
/// ```
pub const PARSE_COST_RATIO: u64 = 27;

/// Estimated peak parse memory per body byte of the streaming path (no
/// `--select`, no `--text`): see [`Extractor::cost_ratio`].
///
/// Measured like [`PARSE_COST_RATIO`] by the `parse_cost` example: peak
/// heap growth during one `parse` call (a 16 KiB decoding chunk and its
/// copy in the tokenizer, the current token, the raw hrefs, the output)
/// per body byte. Release build:
///
/// | page (generated)                                      | 20 KiB | 1 MiB |
/// |-------------------------------------------------------|-------:|------:|
/// | typical (same page as above), utf-8 or windows-1252   | 1.62   | 0.39  |
/// | dense table rows                                      | 1.76   | 1.48  |
/// | DOM-exploding hostile pages (`<a>`, `<p><i>`, nesting) | 1.61   | 0.03  |
/// | one huge attribute value / one huge `href`            | 3.41 / 5.42 | 1.53 / 3.02 |
/// | distinct 8 KB hrefs                                   | 3.72   | 2.98  |
/// | the same `<a href=/x>` repeated                       | 2.22   | 0.78  |
/// | **`<a href=N>` repeated: a distinct link per 12 bytes** | **11.47** | 1.83 |
///
/// Fixed costs (~33 KiB) dominate small pages. What sets the constant is
/// the output itself: each kept [`Url`] costs about 136 bytes (the struct,
/// its string, its dedup slot), so a page made only of short distinct links
/// needs ~11x its size until [`MAX_LINKS`] caps the output (~1.9 MiB, at
/// ~120 KiB of body); beyond that the ratio falls. The constant covers that
/// worst case, rounded up: a hostile page cannot make the byte gate lie.
/// For realistic pages the reservation is 4-30x what is used.
pub const STREAM_PARSE_COST_RATIO: u64 = 12;

impl Extractor {
    /// Compile field selectors.
    ///
    /// An invalid CSS selector gives a [`ConfigError`] naming the field.
    ///
    /// ```
    /// use semcrawl_core::config::FieldSpec;
    /// use semcrawl_core::parse::Extractor;
    /// let bad = FieldSpec { name: "x".into(), css: "p[".into(), attr: None };
    /// let err = Extractor::new(&[bad], false).unwrap_err();
    /// assert!(err.to_string().contains("x=p["));
    /// ```
    pub fn new(fields: &[FieldSpec], text: bool) -> Result<Self, ConfigError> {
        let fields = fields
            .iter()
            .map(|f| {
                let selector = Selector::parse(&f.css).map_err(|e| {
                    ConfigError(format!(
                        "invalid --select '{}={}': bad CSS selector: {e}",
                        f.name, f.css
                    ))
                })?;
                Ok(Field {
                    name: f.name.clone(),
                    selector,
                    attr: f.attr.clone(),
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
    ///   `canonical` and that has an `href`, through [`canon::resolve`].
    /// * `links`: the `href` of `<a>` and `<area>` elements through
    ///   [`canon::resolve`] (so non-http links are dropped), deduplicated in
    ///   document order, at most [`MAX_LINKS`]; the canonical URL is
    ///   appended when missing (replacing the last link if the cap is full).
    /// * `fields`: for each field, the first match in document order: its
    ///   text (whitespace-collapsed, at most [`MAX_FIELD_LEN`] bytes) or, with
    ///   an attribute, that attribute's value exactly as written (not
    ///   resolved, at most [`MAX_META_LEN`] bytes; `None` when the first match
    ///   lacks it).
    /// * `text` (only if enabled): the text of `<body>`, skipping
    ///   `script`, `style`, `noscript`, `template`, `iframe` and elements with
    ///   a `hidden` attribute; block elements and `<br>` separate words;
    ///   whitespace-collapsed; at most [`MAX_TEXT_LEN`] bytes.
    ///
    /// ```
    /// use semcrawl_core::config::FieldSpec;
    /// use semcrawl_core::parse::Extractor;
    /// use url::Url;
    /// let fields = [
    ///     FieldSpec::parse("h=h1").unwrap(),
    ///     FieldSpec::parse("img=img@src").unwrap(),
    ///     FieldSpec::parse("none=.missing").unwrap(),
    /// ];
    /// let ex = Extractor::new(&fields, true).unwrap();
    /// let body = b"<h1>Big   <b>news</b></h1><img src='pic.png'><p>Hi<script>x()</script></p>";
    /// let page = ex.parse(body, None, &Url::parse("http://a.com/").unwrap());
    /// assert_eq!(page.fields["h"].as_deref(), Some("Big news"));
    /// assert_eq!(page.fields["img"].as_deref(), Some("pic.png"));
    /// assert_eq!(page.fields["none"], None);
    /// assert_eq!(page.text.as_deref(), Some("Big news Hi"));
    /// ```
    pub fn parse(&self, body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        if self.streams() {
            stream::parse(body, content_type, url)
        } else {
            self.parse_dom(body, content_type, url)
        }
    }

    /// Whether [`parse`](Self::parse) takes the streaming path (no
    /// `--select` fields and no `--text`): see the
    /// [module documentation](self#two-paths).
    fn streams(&self) -> bool {
        self.fields.is_empty() && !self.text
    }

    /// Peak heap bytes that one [`parse`](Self::parse) call may use per
    /// body byte, for the path this extractor takes:
    /// [`STREAM_PARSE_COST_RATIO`] without fields and text, else
    /// [`PARSE_COST_RATIO`]. The pipeline reserves `body.len() *
    /// cost_ratio()` in the byte gate before parsing.
    ///
    /// ```
    /// use semcrawl_core::config::FieldSpec;
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
    /// is not proportional: it is small per byte (decoding in 16 KiB chunks,
    /// tokens streamed) except for its *output*, the links, which a hostile
    /// page can pack one every ~12 bytes at ~140 bytes each, but only up to
    /// [`MAX_LINKS`]. So it is bounded by `2 * len + min(len / 12, MAX_LINKS)
    /// * 140 + 64 KiB`, which covers every page measured by the
    /// `parse_cost` example (link-dense 20 KiB pages: 11.5x measured vs
    /// 16.7x here; 1 MiB pages with one huge href: 3.0 MiB measured vs
    /// 3.4 MiB here) while charging a typical 1 MiB page 3.4 MiB rather
    /// than `STREAM_PARSE_COST_RATIO` x 1 MiB = 12 MiB.
    ///
    /// ```
    /// use semcrawl_core::parse::Extractor;
    /// let e = Extractor::new(&[], false).unwrap();
    /// assert!(e.parse_cost(1 << 20) < 4 << 20);
    /// assert!(e.parse_cost(20 << 10) >= 11 * (20 << 10));
    /// ```
    pub fn parse_cost(&self, len: u64) -> u64 {
        if self.streams() {
            let links = (len / 12).min(MAX_LINKS as u64);
            (2 * len + links * 140 + 64 * 1024)
                .min(len.saturating_mul(STREAM_PARSE_COST_RATIO).max(64 * 1024))
        } else {
            len.saturating_mul(PARSE_COST_RATIO)
        }
    }

    /// The DOM path: build a (budgeted) DOM, extract, drop it.
    fn parse_dom(&self, body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        let doc = {
            // The decoded text is dropped as soon as the DOM is built (the
            // DOM holds its own copies), lowering the peak slightly.
            let text = decode_body(body, content_type);
            build_dom(&text)
        };
        self.extract(&doc, url)
        // `doc` is dropped here: nothing borrowed from it is returned.
    }

    fn extract(&self, doc: &Html, url: &Url) -> ParsedPage {
        let root = doc.tree.root();
        let elements = || root.descendants().filter_map(ElementRef::wrap);

        let base = elements()
            .find(|e| is_html_element(e.value(), "base") && e.value().attr("href").is_some())
            .and_then(|e| e.value().attr("href"))
            .and_then(|href| {
                url.join(href.trim_matches(|c: char| c.is_ascii_whitespace()))
                    .ok()
            })
            .unwrap_or_else(|| url.clone());

        let mut page = ParsedPage::default();
        let mut title_seen = false;
        let mut canonical_seen = false;
        let mut seen: HashSet<Url> = HashSet::new();

        for el in elements() {
            let e = el.value();
            match e.name() {
                "title" if !title_seen && is_html_element(e, "title") => {
                    title_seen = true;
                    let mut t = Collapser::new(MAX_META_LEN);
                    el.text().for_each(|s| t.push_str(s));
                    page.title = t.finish_nonempty();
                }
                "meta" if page.description.is_none() => {
                    let is_desc = e
                        .attr("name")
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case("description"));
                    if let (true, Some(content)) = (is_desc, e.attr("content")) {
                        let mut t = Collapser::new(MAX_META_LEN);
                        t.push_str(content);
                        page.description = t.finish_nonempty();
                    }
                }
                "html"
                    if page.lang.is_none()
                        && el.parent().is_some_and(|p| p.value().is_document()) =>
                {
                    page.lang = e
                        .attr("lang")
                        .map(|l| truncate(l.trim(), MAX_META_LEN))
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned);
                }
                "link" if !canonical_seen => {
                    let is_canonical = e.attr("rel").is_some_and(|rel| {
                        rel.split_ascii_whitespace()
                            .any(|t| t.eq_ignore_ascii_case("canonical"))
                    });
                    if let (true, Some(href)) = (is_canonical, e.attr("href")) {
                        canonical_seen = true;
                        page.canonical = canon::resolve(&base, href);
                    }
                }
                "a" | "area" if page.links.len() < MAX_LINKS => {
                    if let Some(link) = e.attr("href").and_then(|h| canon::resolve(&base, h)) {
                        if seen.insert(link.clone()) {
                            page.links.push(link);
                        }
                    }
                }
                _ => {}
            }
        }

        if let Some(c) = &page.canonical {
            if !seen.contains(c) {
                if page.links.len() >= MAX_LINKS {
                    page.links.truncate(MAX_LINKS - 1);
                }
                page.links.push(c.clone());
            }
        }
        drop(seen);

        for field in &self.fields {
            let first = elements().find(|e| field.selector.matches(e));
            let value = first.and_then(|el| match &field.attr {
                Some(attr) => el
                    .value()
                    .attr(attr)
                    .or_else(|| el.value().attr(&attr.to_ascii_lowercase()))
                    .map(|v| truncate(v, MAX_META_LEN).to_owned()),
                None => {
                    let mut t = Collapser::new(MAX_FIELD_LEN);
                    for s in el.text() {
                        if t.is_full() {
                            break;
                        }
                        t.push_str(s);
                    }
                    Some(t.finish())
                }
            });
            page.fields.insert(field.name.clone(), value);
        }

        if self.text {
            let body = elements().find(|e| is_html_element(e.value(), "body"));
            page.text = Some(body.map_or_else(String::new, visible_text));
        }
        page
    }
}

/// Most DOM nodes built for a body of `len` bytes: `len / 8 + 1024`.
///
/// Real pages stay far below it (about one node per 36 bytes for typical
/// markup, one per 10 for dense tables); a page built to explode the DOM
/// (`<i>` by the million, or misnested formatting elements that the HTML
/// algorithm clones again and again) is cut there: the rest of the body is
/// not parsed and extraction works on the partial tree.
pub fn node_budget(len: usize) -> usize {
    len / 8 + 1024
}

/// Bytes fed to the HTML parser between two checks of the node budget.
const FEED_CHUNK: usize = 4096;

/// Parse `text` as an HTML document, stopping at [`node_budget`].
///
/// The parser is fed in chunks so the DOM size can be checked as it grows.
/// When a chunk creates more nodes than it has bytes (only formatting
/// element reconstruction does that), the next chunks are small, so the
/// budget is overshot by little.
fn build_dom(text: &str) -> Html {
    use html5ever::tendril::{StrTendril, TendrilSink};

    let budget = node_budget(text.len());
    let mut parser = html5ever::driver::parse_document(
        scraper::HtmlTreeSink::new(Html::new_document()),
        Default::default(),
    );
    let nodes = |p: &html5ever::driver::Parser<scraper::HtmlTreeSink>| {
        p.tokenizer.sink.sink.0.borrow().tree.nodes().len()
    };
    let mut rest = text;
    let mut chunk = FEED_CHUNK;
    while !rest.is_empty() {
        let mut end = chunk.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (head, tail) = rest.split_at(end);
        let before = nodes(&parser);
        parser.process(StrTendril::from_slice(head));
        // Parse errors are only collected by scraper (its default `errors`
        // feature); nothing reads them here, and a page of stray end tags
        // would otherwise grow the list by 24 bytes per 4 input bytes.
        parser.tokenizer.sink.sink.0.borrow_mut().errors.clear();
        let after = nodes(&parser);
        if after > budget {
            break;
        }
        chunk = if after.saturating_sub(before) > head.len() {
            64
        } else {
            FEED_CHUNK
        };
        rest = tail;
    }
    parser.finish()
}

/// Whether `e` is the HTML-namespace element `name`.
fn is_html_element(e: &Element, name: &str) -> bool {
    e.name() == name && &*e.name.ns == "http://www.w3.org/1999/xhtml"
}

/// Elements whose content is never visible text.
fn is_hidden(e: &Element) -> bool {
    matches!(
        e.name(),
        "script" | "style" | "noscript" | "template" | "iframe" | "head"
    ) || e.attr("hidden").is_some()
}

/// Elements that flow inside a line: no word break at their edges.
fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "b"
            | "bdi"
            | "bdo"
            | "big"
            | "cite"
            | "code"
            | "data"
            | "del"
            | "dfn"
            | "em"
            | "font"
            | "i"
            | "ins"
            | "kbd"
            | "label"
            | "mark"
            | "nobr"
            | "q"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "sup"
            | "time"
            | "tt"
            | "u"
            | "var"
    )
}

/// The visible text under `body`, by an iterative pre-order walk that
/// skips hidden subtrees entirely (no recursion: deep nesting is safe).
fn visible_text(body: ElementRef<'_>) -> String {
    let mut out = Collapser::new(MAX_TEXT_LEN);
    let root = *body;
    let mut node = root;
    'walk: loop {
        if out.is_full() {
            break;
        }
        // Visit `node`; descend unless it is hidden.
        let mut descend = true;
        match node.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                if node != root && is_hidden(e) {
                    descend = false;
                } else if !is_inline(e.name()) {
                    out.space();
                }
            }
            _ => {}
        }
        if descend {
            if let Some(child) = node.first_child() {
                node = child;
                continue;
            }
        }
        // Leave `node`, then climb until a next sibling exists.
        loop {
            if let Node::Element(e) = node.value() {
                if !is_inline(e.name()) {
                    out.space();
                }
            }
            if node == root {
                break 'walk;
            }
            if let Some(next) = node.next_sibling() {
                node = next;
                break;
            }
            match node.parent() {
                Some(p) => node = p,
                None => break 'walk,
            }
        }
    }
    out.finish()
}

/// Builds whitespace-collapsed, trimmed text up to a byte cap, cutting at
/// a char boundary.
#[derive(Debug)]
struct Collapser {
    out: String,
    cap: usize,
    pending_space: bool,
    full: bool,
}

impl Collapser {
    fn new(cap: usize) -> Self {
        Collapser {
            out: String::new(),
            cap,
            pending_space: false,
            full: false,
        }
    }

    fn is_full(&self) -> bool {
        self.full
    }

    /// A word break (collapsed with any neighbouring whitespace).
    fn space(&mut self) {
        if !self.out.is_empty() {
            self.pending_space = true;
        }
    }

    fn push_str(&mut self, s: &str) {
        for ch in s.chars() {
            if self.full {
                return;
            }
            if ch.is_whitespace() {
                self.space();
                continue;
            }
            let need = ch.len_utf8() + usize::from(self.pending_space);
            if self.out.len() + need > self.cap {
                self.full = true;
                return;
            }
            if self.pending_space {
                self.out.push(' ');
                self.pending_space = false;
            }
            self.out.push(ch);
        }
    }

    fn finish(mut self) -> String {
        self.out.shrink_to_fit();
        self.out
    }

    fn finish_nonempty(self) -> Option<String> {
        Some(self.finish()).filter(|s| !s.is_empty())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a char
/// boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decode a body to text, choosing the encoding as browsers do (see the
/// [module documentation](self#decoding)). Invalid byte sequences become
/// U+FFFD; this never fails. Valid UTF-8 is borrowed, not copied.
///
/// ```
/// use semcrawl_core::parse::decode_body;
/// assert_eq!(decode_body(b"caf\xe9", Some("text/html; charset=ISO-8859-1")), "café");
/// assert_eq!(decode_body(b"<meta charset=windows-1252>\x80", None), "<meta charset=windows-1252>€");
/// assert_eq!(decode_body(b"\xef\xbb\xbfok", Some("text/html; charset=latin1")), "ok");
/// assert_eq!(decode_body(b"bad \xff", None), "bad \u{fffd}");
/// ```
pub fn decode_body<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let (encoding, bom_len) = detect_encoding(body, content_type);
    let rest = body.get(bom_len..).unwrap_or_default();
    encoding.decode_without_bom_handling(rest).0
}

/// The encoding of `body` and the length of its BOM (0 without one).
fn detect_encoding(body: &[u8], content_type: Option<&str>) -> (&'static Encoding, usize) {
    if let Some((enc, len)) = Encoding::for_bom(body) {
        return (enc, len);
    }
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        return (enc, 0);
    }
    if let Some(enc) = prescan(body.get(..PRESCAN_LEN).unwrap_or(body)) {
        return (enc, 0);
    }
    (UTF_8, 0)
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

/// A simplified version of the HTML standard's "prescan a byte stream to
/// determine its encoding": finds `<meta charset=...>` or
/// `<meta http-equiv=content-type content="...charset=...">`, skipping
/// comments and the attributes of other tags.
fn prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i += 4 + find(&rest[4..], b"-->").map_or(rest.len(), |p| p + 3);
        } else if starts_with_ci(rest, b"<meta")
            && rest
                .get(5)
                .is_some_and(|&c| c.is_ascii_whitespace() || c == b'/')
        {
            i += 5;
            let mut got_pragma = false;
            let mut need_pragma: Option<bool> = None;
            let mut charset: Option<&'static Encoding> = None;
            while let Some((name, value, next)) = attribute(bytes, i) {
                i = next;
                match name.as_slice() {
                    b"http-equiv" => got_pragma |= value.eq_ignore_ascii_case(b"content-type"),
                    b"content" if charset.is_none() => {
                        if let Some(enc) = charset_in_content(&value).and_then(Encoding::for_label)
                        {
                            charset = Some(enc);
                            need_pragma = Some(true);
                        }
                    }
                    b"charset" => {
                        charset = Encoding::for_label(&value);
                        need_pragma = Some(false);
                    }
                    _ => {}
                }
            }
            match (charset, need_pragma) {
                (Some(enc), Some(false)) => return Some(fix_meta_encoding(enc)),
                (Some(enc), Some(true)) if got_pragma => return Some(fix_meta_encoding(enc)),
                _ => {}
            }
        } else if rest.len() >= 2
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Another tag: skip its name and attributes (a `>` inside a
            // quoted attribute must not end it).
            i += 1;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                i += 1;
            }
            while let Some((_, _, next)) = attribute(bytes, i) {
                i = next;
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            i += find(rest, b">").map_or(rest.len(), |p| p + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// As the HTML standard says for `<meta>`-declared encodings: a UTF-16
/// label cannot be right (the prescan read ASCII), and `x-user-defined`
/// means windows-1252.
fn fix_meta_encoding(enc: &'static Encoding) -> &'static Encoding {
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        UTF_8
    } else if enc == encoding_rs::X_USER_DEFINED {
        WINDOWS_1252
    } else {
        enc
    }
}

/// One attribute of a tag starting at `i`: (lowercased name, value, index
/// after it), or `None` at the tag's end (`>` or end of input), after which
/// the caller's index should move past that `>`.
fn attribute(b: &[u8], mut i: usize) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
        i += 1;
    }
    if i >= b.len() || b[i] == b'>' {
        return None;
    }
    let mut name = Vec::new();
    while i < b.len() && !matches!(b[i], b'=' | b'>' | b'/') && !b[i].is_ascii_whitespace() {
        name.push(b[i].to_ascii_lowercase());
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'=') {
        return Some((name, Vec::new(), i));
    }
    i += 1;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut value = Vec::new();
    match b.get(i) {
        Some(&q) if q == b'"' || q == b'\'' => {
            i += 1;
            while i < b.len() && b[i] != q {
                value.push(b[i].to_ascii_lowercase());
                i += 1;
            }
            i += 1; // closing quote (or past the end)
        }
        _ => {
            while i < b.len() && b[i] != b'>' && !b[i].is_ascii_whitespace() {
                value.push(b[i].to_ascii_lowercase());
                i += 1;
            }
        }
    }
    Some((name, value, i))
}

/// The HTML standard's "extract a character encoding from a meta element":
/// the value after `charset=` in a `content` attribute.
fn charset_in_content(content: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let pos = from + find_ci(content.get(from..)?, b"charset")?;
        let mut i = pos + 7;
        while content.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if content.get(i) != Some(&b'=') {
            from = pos + 7;
            continue;
        }
        i += 1;
        while content.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        return match content.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let rest = content.get(i + 1..)?;
                rest.iter().position(|&c| c == q).map(|end| &rest[..end])
            }
            Some(_) => {
                let rest = &content[i..];
                let end = rest
                    .iter()
                    .position(|&c| c == b';' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                Some(&rest[..end])
            }
            None => None,
        };
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Whether a response should be parsed as HTML.
///
/// With a `Content-Type`, its MIME type decides: `text/html` or
/// `application/xhtml+xml` (case-insensitive, parameters ignored). Without
/// one (or with an empty one), the first bytes are sniffed as in the MIME
/// Sniffing standard: after an optional UTF-8 BOM and whitespace, an HTML
/// signature such as `<!DOCTYPE HTML`, `<html`, `<head`, `<body`, `<div`,
/// `<p`, `<a`, `<script`, `<title` or `<!--`, followed by a space or `>`.
///
/// ```
/// use semcrawl_core::parse::is_html;
/// assert!(is_html(Some("text/html; charset=utf-8"), b""));
/// assert!(is_html(Some("Application/XHTML+XML"), b""));
/// assert!(!is_html(Some("application/json"), b"<html>"));
/// assert!(is_html(None, b"  <!DOCTYPE html>\n<html>"));
/// assert!(!is_html(None, b"%PDF-1.7"));
/// ```
pub fn is_html(content_type: Option<&str>, body_prefix: &[u8]) -> bool {
    if let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) {
        let mime = ct.split(';').next().unwrap_or("").trim();
        return mime.eq_ignore_ascii_case("text/html")
            || mime.eq_ignore_ascii_case("application/xhtml+xml");
    }
    const SIGNATURES: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let b = body_prefix
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(body_prefix);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let b = &b[start..];
    SIGNATURES.iter().any(|sig| {
        starts_with_ci(b, sig) && b.get(sig.len()).is_some_and(|&c| c == b' ' || c == b'>')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://example.com/dir/page.html").unwrap()
    }

    fn parse(body: &[u8]) -> ParsedPage {
        Extractor::new(&[], true).unwrap().parse(body, None, &url())
    }

    fn links(p: &ParsedPage) -> Vec<&str> {
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
        assert_eq!(p.fields["h"].as_deref(), Some("Inside here"));
        assert_eq!(
            p.fields["link"].as_deref(),
            Some("../rel.html"),
            "attribute URLs are not resolved"
        );
        assert_eq!(p.fields["missing_attr"], None);
        assert_eq!(p.fields["nothing"], None);
        assert_eq!(p.fields["root"].as_deref(), Some("de"));
        assert_eq!(p.fields["upper"].as_deref(), Some("i.png"));
        assert_eq!(p.fields.len(), 6);
        assert_eq!(p.text, None, "text not asked for");
    }

    #[test]
    fn visible_text_skips_hidden_and_separates_blocks() {
        let p = parse(
            br#"<html><head><title>T</title><style>h1{}</style></head><body>
            <h1>Title</h1><p>one<b>two</b> three</p><p>four<br>five</p>
            <script>var x = "<p>no</p>";</script><noscript>no js</noscript>
            <template><p>tpl</p></template><div hidden>secret</div>
            <ul><li>a</li><li>b</li></ul>&nbsp;&amp;&lt;
            </body></html>"#,
        );
        assert_eq!(
            p.text.as_deref(),
            Some("Title onetwo three four five a b &<")
        );
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
    fn decodes_windows_1252_from_meta() {
        let body =
            b"<html><head><meta charset=\"windows-1252\"><title>caf\xe9 \x80</title></head></html>";
        assert_eq!(parse(body).title.as_deref(), Some("café €"));
        // http-equiv form, with the pragma after the content.
        let body = b"<meta content='text/html; charset=ISO-8859-1' http-equiv='Content-Type'><title>\xe9</title>";
        assert_eq!(parse(body).title.as_deref(), Some("é"));
        // content without http-equiv is not a declaration.
        let body = b"<meta content='text/html; charset=ISO-8859-1'><title>\xe9</title>";
        assert_eq!(parse(body).title.as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn decodes_shift_jis_from_meta() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("<title>日本語のページ</title>");
        let mut body = b"<!-- <meta charset=utf-8> --><head><meta http-equiv=\"content-type\" content=\"text/html;charset=Shift_JIS\">".to_vec();
        body.extend_from_slice(&sjis);
        assert_eq!(parse(&body).title.as_deref(), Some("日本語のページ"));
    }

    #[test]
    fn charset_precedence_bom_then_header_then_meta() {
        let body = b"<meta charset=iso-8859-1><title>\xc3\xa9</title>";
        // Header wins over meta.
        let p = Extractor::new(&[], false).unwrap().parse(
            body,
            Some("text/html; charset=\"UTF-8\""),
            &url(),
        );
        assert_eq!(p.title.as_deref(), Some("é"));
        // Meta wins over the default.
        assert_eq!(parse(body).title.as_deref(), Some("Ã©"));
        // BOM wins over everything.
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(body);
        let p = Extractor::new(&[], false).unwrap().parse(
            &bom,
            Some("text/html; charset=latin1"),
            &url(),
        );
        assert_eq!(p.title.as_deref(), Some("é"));
        // UTF-16 in meta means UTF-8; unknown labels are ignored.
        assert_eq!(detect_encoding(b"<meta charset=utf-16>", None).0, UTF_8);
        assert_eq!(
            detect_encoding(b"<meta charset=x-user-defined>", None).0,
            WINDOWS_1252
        );
        assert_eq!(
            detect_encoding(b"x", Some("text/html; charset=bogus")).0,
            UTF_8
        );
        // UTF-16 with a BOM.
        let (enc, len) = detect_encoding(b"\xff\xfe<\x00", None);
        assert_eq!((enc, len), (encoding_rs::UTF_16LE, 2));
        // Past the prescan window, meta is not seen.
        let mut late = vec![b' '; PRESCAN_LEN];
        late.extend_from_slice(b"<meta charset=latin1>");
        assert_eq!(detect_encoding(&late, None).0, UTF_8);
    }

    #[test]
    fn prescan_skips_quoted_gt_and_other_tags() {
        let body = b"<div title='a > <meta charset=latin1>'><meta charset='koi8-r'>";
        assert_eq!(detect_encoding(body, None).0, encoding_rs::KOI8_R);
        // Truncated meta tags do not panic.
        for b in [
            &b"<meta"[..],
            b"<meta ",
            b"<meta charset",
            b"<meta charset=",
            b"<meta charset='",
            b"<!--",
            b"<a",
            b"</",
            b"<meta content='charset=",
        ] {
            let _ = detect_encoding(b, None);
        }
    }

    #[test]
    fn invalid_utf8_without_charset_becomes_replacement() {
        let p = parse(b"<title>ok \xff\xfe\xc3 done</title>");
        assert_eq!(p.title.as_deref(), Some("ok \u{fffd}\u{fffd}\u{fffd} done"));
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
        let depth = 10_000;
        let body = format!(
            "{}<a href='/deep'>deep</a>{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let fields = [FieldSpec::parse("d=div a@href").unwrap()];
        let p = Extractor::new(&fields, true)
            .unwrap()
            .parse(body.as_bytes(), None, &url());
        assert_eq!(links(&p), ["https://example.com/deep"]);
        assert_eq!(p.text.as_deref(), Some("deep"));
        assert_eq!(p.fields["d"].as_deref(), Some("/deep"));
    }

    #[test]
    fn node_budget_cuts_dom_explosions() {
        // Misnested formatting elements with distinct attributes: each
        // `<p>x` clones all open `<i>`s again, quadratically many nodes.
        let mut body = String::new();
        for i in 0..500 {
            body.push_str(&format!("<i id={i}>"));
        }
        body.push_str("<a href=/early>e</a>");
        for _ in 0..5_000 {
            body.push_str("<p>x");
        }
        body.push_str("<a href=/late>l</a>");
        let doc = build_dom(&body);
        let nodes = doc.tree.nodes().len();
        let budget = node_budget(body.len());
        // Overshoot is bounded by one small chunk's worth of clones.
        assert!(nodes <= budget + 64 * 500, "{nodes} nodes, budget {budget}");
        drop(doc);
        let p = parse(body.as_bytes());
        assert_eq!(
            links(&p),
            ["https://example.com/early"],
            "parse stops at the budget"
        );
        // Ordinary pages are far below the budget.
        let page = "<div><p>Some text here, <a href=/x>a link</a> and more.</p></div>".repeat(1000);
        let doc = build_dom(&page);
        assert!(doc.tree.nodes().len() < node_budget(page.len()));
        drop(doc);
        let p = parse(format!("{page}<a href=/last>l</a>").as_bytes());
        assert_eq!(
            links(&p),
            ["https://example.com/x", "https://example.com/last"]
        );
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

    #[test]
    fn is_html_by_type_and_sniffing() {
        assert!(is_html(Some("text/html"), b""));
        assert!(is_html(Some(" TEXT/HTML ;charset=x"), b""));
        assert!(is_html(Some("application/xhtml+xml"), b""));
        assert!(!is_html(Some("text/plain"), b"<html>"));
        assert!(!is_html(Some("text/htmlx"), b""));
        assert!(is_html(Some(""), b"<html>"));
        assert!(is_html(None, b"<!DOCTYPE HTML PUBLIC"));
        assert!(is_html(None, b"\xef\xbb\xbf\r\n<HTML lang=en>"));
        assert!(is_html(None, b"<p>hi"));
        assert!(is_html(None, b"<!-- c -->"));
        assert!(!is_html(None, b"<html"), "signature needs a terminator");
        assert!(!is_html(None, b"<htmlx>"));
        assert!(!is_html(None, b"<?xml version='1.0'?>"));
        assert!(!is_html(None, b"{\"json\": true}"));
        assert!(!is_html(None, b""));
    }

    #[test]
    fn collapser_and_truncate() {
        let mut c = Collapser::new(7);
        c.push_str("  a \n\t b ");
        c.space();
        c.push_str("cé d");
        assert_eq!(c.finish(), "a b cé");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
        assert_eq!(truncate("", 0), "");
    }
}
