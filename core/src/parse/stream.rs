//! The streaming fast path: a tokenizer alone, no DOM.
//!
//! # Why
//!
//! Without user fields or visible text, a record needs only the title,
//! the description, `<html lang>`, `<base href>`, the canonical link and the
//! `a`/`area` links. All of them are visible in the token stream; building a
//! DOM for them cost up to 27x the body in memory (280-380 bytes per node),
//! time growing with nesting depth, and most of a loopback crawl's CPU.
//! Here the body is decoded in [`CHUNK`]-sized pieces and fed to an
//! [`html5ever::tokenizer::Tokenizer`]; a [`TokenSink`] keeps only what the
//! record needs. Memory is one chunk, the tokenizer's current token (at most
//! the longest tag), the raw `href`s (a fraction of the body) and the
//! output, whose size [`MAX_LINKS`] and [`MAX_META_LEN`] cap.
//!
//! That is still how a body in a legacy encoding (or with invalid UTF-8) is
//! read. A valid UTF-8 body, nearly every page, goes to our own tokenizer
//! instead (`scan.rs`), which slices the tags out of the body as it is and
//! drives the same sink ([`scan::Sink`]); the differential tests run every
//! page through both tokenizers and require the same result.
//!
//! # Figures (before: DOM path, after: this path)
//!
//! Peak heap per body byte ([`super::STREAM_PARSE_COST_RATIO`] has the
//! full table): typical 20 KiB page 11.7 -> 1.6, typical 1 MiB 7.3 -> 0.4,
//! dense table 1 MiB 26.3 -> 1.5; DOM-exploding hostile pages 48-79 -> 1.6
//! (0.03 at 1 MiB). The worst case of this path is a page made only of
//! short distinct links (11.5 at 20 KiB), which is output, capped by
//! [`MAX_LINKS`].
//!
//! Speed, one core, release build, median of 5 runs of the `parse_speed`
//! example on a 2-core machine shared with other builds (noisy):
//!
//! | page (generated)   | DOM MB/s | DOM pages/s | stream MB/s | stream pages/s |
//! |--------------------|---------:|------------:|------------:|---------------:|
//! | typical 20 KiB     | 96       | 4 590       | 164         | 7 870          |
//! | typical 1 MiB      | 86       | 82          | 155         | 148            |
//! | dense table 20 KiB | 29       | 1 390       | 46          | 2 210          |
//! | dense table 1 MiB  | 29       | 28          | 50          | 47             |
//!
//! About 1.7x: html5ever's tokenizer itself is most of the remaining time.
//! With `scan.rs` on UTF-8 pages (same example, 2026-12-02, load 1-4):
//! typical 20 KiB 575 MB/s (27,600 pages/s, 8.5x the DOM path), typical
//! 1 MiB 690 MB/s, dense table 20 KiB 142 MB/s (link resolution is most of
//! it there), 5 MiB of `<div>` 42 ms.
//! Nesting no longer costs time: 256 KiB of `<div>` took the DOM path
//! ~2.8 s (quadratic in depth); this path takes 5 ms, and 5 MiB ~0.13 s.
//!
//! # What the tree builder did that this module redoes
//!
//! The HTML tokenizer cannot tokenize alone: the tree builder tells it when
//! an element's content is text, not markup. The sink does the same, so
//! that `<a href>` inside a script string, a title or a `<noscript>` is not
//! a link:
//!
//! * `<title>`, `<textarea>`: RCDATA; `<style>`, `<xmp>`, `<iframe>`,
//!   `<noembed>`, `<noframes>`, `<noscript>` (scripting is enabled, as in the
//!   DOM path): RAWTEXT; `<script>`: script data; `<plaintext>`: the rest of
//!   the document is text.
//! * Foreign content (`<svg>`, `<math>`) is tracked with a small stack of the
//!   open foreign elements: inside it those tags are ordinary elements (an
//!   SVG `<title>` is not the page title, an SVG `<style>` is not RAWTEXT),
//!   `<![CDATA[...]]>` is a CDATA section (its `<a href>` is text), the
//!   "breakout" tags (`<p>`, `<div>`, `<meta>`...) leave it, and HTML
//!   integration points (`foreignObject`, `desc`, SVG `title`, MathML text
//!   elements, `annotation-xml` with an HTML encoding) hold HTML again.
//! * `<html lang>`: the tree builder merges the attributes of every `<html>`
//!   start tag (outside `<template>`) into the root, keeping the first of
//!   each, so the root's `lang` is the first `lang` on any `<html>` tag.
//! * `<base href>`: the first one applies to the whole document, also to
//!   links before it. Raw `href`s are therefore kept (joined by NUL, which
//!   the tokenizer never leaves in an attribute value) and resolved at the
//!   end, as is the canonical `href`.
//!
//! Everything else is as in the DOM path: the tree builder may move or clone
//! elements (foster parenting, the adoption agency), but it never drops an
//! `a`, `area`, `link`, `meta`, `base` or `title` start tag in HTML content,
//! and its clones carry the same attributes, so the deduplicated links are
//! the same.
//!
//! # Known differences from the DOM path
//!
//! * Links are in source order. The DOM path lists them in tree order,
//!   which differs when the tree builder foster-parents misplaced table
//!   content (`<table><a href>...`) before its table: same links, other
//!   order (and so, only at the [`MAX_LINKS`] cap, possibly another set).
//! * The DOM path stops parsing at [`super::node_budget`] (pages built to
//!   explode the DOM) and at [`super::MAX_DOM_DEPTH`] levels of nesting
//!   (pages built to make the tree builder quadratic); this path has no
//!   DOM, so it reads the whole body and may find links the DOM path never
//!   reached.
//! * In a `<frameset>` document, the tree builder ignores everything but
//!   frames; this path still sees later `a` and `title` tags.
//! * Foreign content is tracked by a simplified stack: an end tag that
//!   matches no open foreign element closes the whole foreign subtree (the
//!   usual case: an unclosed `<svg>` inside an `<a>` or `<div>` that ends),
//!   where the tree builder would ignore a truly stray one; inside
//!   integration points, HTML end tags pop to their match without the
//!   "special element" checks.
//! * Inside `<template>` the tree builder ignores `<html>` tags, which is
//!   tracked; other template quirks (a `<template>` inside foreign content,
//!   mode switches) are not.

use std::cell::RefCell;

use encoding_rs::CoderResult;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

use super::charset::detect_encoding;
use super::directives::{self, Directives};
use super::links::{self, RawLinks};
use super::scan::{self, Attr, Mode, StartTag};
use super::text::{truncate, Collapser};
#[cfg(any(doc, test))]
use super::MAX_LINKS;
use super::{ParsedPage, MAX_META_LEN};
use crate::canon;

/// Decoded text fed to the tokenizer at a time, in bytes (the decoder's
/// output buffer; the tokenizer gets a copy of it).
pub(super) const CHUNK: usize = 16 * 1024;

/// Parse `body` with the tokenizer only. See the module documentation.
pub(super) fn parse(body: &[u8], content_type: Option<&str>, url: &Url) -> (ParsedPage, RawLinks) {
    let (encoding, bom_len) = detect_encoding(body, content_type);
    let src = body.get(bom_len..).unwrap_or_default();
    if encoding == encoding_rs::UTF_8 {
        if let Ok(text) = std::str::from_utf8(src) {
            // Valid UTF-8 (most pages): our own tokenizer slices the
            // body's text as it is (`scan.rs`). html5ever discards one
            // leading U+FEFF (its `discard_bom`); so does this.
            let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
            let mut state = State::default();
            scan::tokenize(text, &mut state);
            return state.finish(url);
        }
    }
    parse_html5ever(encoding, src, url)
}

/// The streaming path on html5ever's tokenizer: for bodies in another
/// encoding than UTF-8 or with invalid UTF-8, decoded a chunk at a time
/// (the decoded text never exists as a whole). The tests also give it
/// valid UTF-8 (decoding then only copies), to compare the tokenizers.
fn parse_html5ever(
    encoding: &'static encoding_rs::Encoding,
    mut src: &[u8],
    url: &Url,
) -> (ParsedPage, RawLinks) {
    let tokenizer = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let queue = BufferQueue::default();
    // Same decoding as `decode_body` (`decode_without_bom_handling`), but
    // a chunk at a time: the decoded text never exists as a whole.
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buf = String::with_capacity(CHUNK);
    loop {
        buf.clear();
        let (result, read, _) = decoder.decode_to_string(src, &mut buf, true);
        src = &src[read..];
        if !buf.is_empty() {
            queue.push_back(StrTendril::from_slice(&buf));
            // The sink never asks the tokenizer to pause for a script, so
            // one call consumes the queue.
            let _ = tokenizer.feed(&queue);
        }
        if result == CoderResult::InputEmpty {
            break;
        }
    }
    drop(buf);
    finish(tokenizer, url)
}

/// End the token stream and build the page from what the sink kept.
fn finish(tokenizer: Tokenizer<Sink>, url: &Url) -> (ParsedPage, RawLinks) {
    tokenizer.end();
    let state = tokenizer.sink.0.take();
    drop(tokenizer);
    state.finish(url)
}

/// A namespace that matters to tokenization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
    MathMl,
}

/// An open element inside foreign content (the stack is empty outside it).
#[derive(Debug)]
struct Open {
    name: String,
    ns: Ns,
    /// A MathML `annotation-xml` whose `encoding` is HTML.
    html_annotation: bool,
}

impl Open {
    /// Whether start tags under this element are HTML (an HTML element,
    /// or an integration point).
    fn holds_html(&self, tag: &str) -> bool {
        match self.ns {
            Ns::Html => true,
            Ns::Svg => matches!(&*self.name, "foreignobject" | "desc" | "title"),
            Ns::MathMl => match &*self.name {
                "mi" | "mo" | "mn" | "ms" | "mtext" => !matches!(tag, "mglyph" | "malignmark"),
                "annotation-xml" => self.html_annotation || tag == "svg",
                _ => false,
            },
        }
    }

    /// An HTML element or an integration point: where a breakout stops.
    fn is_boundary(&self) -> bool {
        self.ns == Ns::Html || self.html_annotation || self.holds_html("")
    }
}

/// What the sink accumulates while tokens stream by.
#[derive(Debug, Default)]
struct State {
    /// Open elements from the outermost `<svg>`/`<math>` down; empty in
    /// plain HTML content.
    foreign: Vec<Open>,
    /// Open HTML `<template>`s.
    templates: usize,
    /// The first title's text while inside it.
    title: Option<Collapser>,
    title_seen: bool,
    title_text: Option<String>,
    description: Option<String>,
    /// `Some` once an `<html lang>` decided it (possibly to `None`).
    lang: Option<Option<String>>,
    /// The first `<base href>`, raw.
    base_href: Option<String>,
    /// The first canonical `<link href>`, raw.
    canonical_href: Option<String>,
    /// Raw `a`/`area` hrefs, each followed by a NUL.
    hrefs: String,
    /// Per href: its `rel` says nofollow.
    href_nofollow: Vec<bool>,
    /// `<meta name=robots>` directives.
    robots: Directives,
    href_count: usize,
}

#[derive(Debug, Default)]
struct Sink(RefCell<State>);

/// Start tags that end foreign content (the HTML standard's list).
fn is_breakout(tag: &StartTag<'_, '_>) -> bool {
    match tag.name {
        "b" | "big" | "blockquote" | "body" | "br" | "center" | "code" | "dd" | "div" | "dl"
        | "dt" | "em" | "embed" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "head" | "hr" | "i"
        | "img" | "li" | "listing" | "menu" | "meta" | "nobr" | "ol" | "p" | "pre" | "ruby"
        | "s" | "small" | "span" | "strong" | "strike" | "sub" | "sup" | "table" | "tt" | "u"
        | "ul" | "var" => true,
        "font" => ["color", "face", "size"].iter().any(|a| tag.has_attr(a)),
        _ => false,
    }
}

/// HTML elements with no end tag (never pushed on the foreign stack).
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

impl State {
    fn start_tag(&mut self, tag: &StartTag<'_, '_>) -> Mode {
        let name = tag.name;
        let foreign = self.foreign.last().is_some_and(|top| !top.holds_html(name));
        if foreign {
            if is_breakout(tag) {
                self.pop_to_boundary();
            } else {
                // A foreign element: only the name-based extractions apply
                // (the DOM path matches `a`, `area`, `link` by local name).
                self.extract_any_ns(tag);
                if !tag.self_closing {
                    let top_ns = self.foreign.last().map_or(Ns::Svg, |t| t.ns);
                    let html_annotation = name == "annotation-xml"
                        && tag.attr("encoding").is_some_and(|e| {
                            e.eq_ignore_ascii_case("text/html")
                                || e.eq_ignore_ascii_case("application/xhtml+xml")
                        });
                    self.foreign.push(Open {
                        name: name.to_owned(),
                        ns: top_ns,
                        html_annotation,
                    });
                }
                return Mode::Data;
            }
        }
        // HTML content.
        match name {
            "svg" | "math" => {
                if !tag.self_closing {
                    self.foreign.push(Open {
                        name: name.to_owned(),
                        ns: if name == "svg" { Ns::Svg } else { Ns::MathMl },
                        html_annotation: false,
                    });
                }
                return Mode::Data;
            }
            _ if !self.foreign.is_empty() && !is_void(name) => self.foreign.push(Open {
                name: name.to_owned(),
                ns: Ns::Html,
                html_annotation: false,
            }),
            _ => {}
        }
        self.extract_any_ns(tag);
        match name {
            "title" => {
                if !self.title_seen {
                    self.title_seen = true;
                    self.title = Some(Collapser::new(MAX_META_LEN));
                }
                Mode::Rcdata
            }
            "textarea" => Mode::Rcdata,
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Mode::Rawtext,
            "script" => Mode::Script,
            "plaintext" => Mode::Plaintext,
            "template" => {
                self.templates += 1;
                Mode::Data
            }
            "base" => {
                if self.base_href.is_none() {
                    self.base_href = tag.attr("href").map(String::from);
                }
                Mode::Data
            }
            "html" => {
                if self.lang.is_none() && self.templates == 0 {
                    if let Some(lang) = tag.attr("lang") {
                        let lang = truncate(lang.trim(), MAX_META_LEN);
                        self.lang = Some(Some(lang.to_owned()).filter(|l| !l.is_empty()));
                    }
                }
                Mode::Data
            }
            _ => Mode::Data,
        }
    }

    /// Extractions the DOM path does by local name, in any namespace.
    fn extract_any_ns(&mut self, tag: &StartTag<'_, '_>) {
        match tag.name {
            "a" | "area" => {
                // `canon::resolve` refuses longer ones without parsing:
                // do not keep them.
                let href = tag.attr("href").filter(|h| {
                    h.trim_matches(|c: char| c.is_ascii_whitespace()).len()
                        <= canon::MAX_URL_LEN * 4
                });
                if let Some(href) = href {
                    self.hrefs.push_str(&href);
                    self.hrefs.push('\0');
                    self.href_nofollow.push(
                        tag.attr("rel")
                            .is_some_and(|r| directives::rel_nofollow(&r)),
                    );
                    self.href_count += 1;
                }
            }
            "link" if self.canonical_href.is_none() => {
                let is_canonical = tag.attr("rel").is_some_and(|rel| {
                    rel.split_ascii_whitespace()
                        .any(|t| t.eq_ignore_ascii_case("canonical"))
                });
                if let (true, Some(href)) = (is_canonical, tag.attr("href")) {
                    self.canonical_href = Some(href.into_owned());
                }
            }
            "meta"
                if tag
                    .attr("name")
                    .is_some_and(|n| directives::is_robots_meta(&n)) =>
            {
                if let Some(content) = tag.attr("content") {
                    self.robots = self.robots.union(directives::robots_directives(&content));
                }
            }
            "meta" if self.description.is_none() => {
                let is_desc = tag
                    .attr("name")
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case("description"));
                if let (true, Some(content)) = (is_desc, tag.attr("content")) {
                    let mut t = Collapser::new(MAX_META_LEN);
                    t.push_str(&content);
                    self.description = t.finish_nonempty();
                }
            }
            _ => {}
        }
    }

    /// A breakout: pop foreign elements up to an HTML element or an
    /// integration point.
    fn pop_to_boundary(&mut self) {
        while self.foreign.last().is_some_and(|top| !top.is_boundary()) {
            self.foreign.pop();
        }
    }

    fn end_tag(&mut self, name: &str) {
        let Some(top) = self.foreign.last() else {
            if name == "template" {
                self.templates = self.templates.saturating_sub(1);
            }
            return;
        };
        if top.ns != Ns::Html {
            if matches!(name, "br" | "p") {
                self.pop_to_boundary();
                return;
            }
            // As the tree builder: walk down the open foreign elements for
            // a match (ASCII case-insensitive); an HTML element on the way
            // hands the tag to the HTML rules.
            for i in (0..self.foreign.len()).rev() {
                let open = &self.foreign[i];
                if i + 1 < self.foreign.len() && open.ns == Ns::Html {
                    self.html_end_tag(name, i + 1);
                    return;
                }
                if (*open.name).eq_ignore_ascii_case(name) {
                    self.foreign.truncate(i);
                    return;
                }
            }
            // No match: it closes an HTML ancestor of the foreign subtree
            // (assumed; a stray end tag would be ignored by a browser).
            self.foreign.clear();
        } else {
            self.html_end_tag(name, self.foreign.len());
        }
    }

    /// An HTML end tag inside an integration point, with `self.foreign[..len]`
    /// as the open elements: pops to the matching HTML element, if any
    /// before the integration point.
    fn html_end_tag(&mut self, name: &str, len: usize) {
        for i in (0..len).rev() {
            let open = &self.foreign[i];
            if open.ns != Ns::Html {
                return;
            }
            if &*open.name == name {
                self.foreign.truncate(i);
                return;
            }
        }
    }

    fn end_title(&mut self) {
        if let Some(t) = self.title.take() {
            self.title_text = t.finish_nonempty();
        }
    }

    /// Build the page and its raw links (resolved later, against the
    /// first base, with the DOM path's rules: see `links.rs`).
    fn finish(mut self, url: &Url) -> (ParsedPage, RawLinks) {
        self.end_title();
        let base = links::base(url, self.base_href.as_deref());
        let canonical = self
            .canonical_href
            .take()
            .and_then(|h| canon::resolve(&base, &h));
        let page = ParsedPage {
            title: self.title_text,
            description: self.description,
            lang: self.lang.flatten(),
            canonical: canonical.clone(),
            robots: self.robots,
            ..ParsedPage::default()
        };
        let nofollow = std::mem::take(&mut self.href_nofollow);
        (page, RawLinks::new(base, canonical, self.hrefs, nofollow))
    }
}

impl scan::Sink for State {
    fn start_tag(&mut self, tag: &StartTag<'_, '_>) -> Mode {
        self.end_title();
        State::start_tag(self, tag)
    }

    fn end_tag(&mut self, name: &str) {
        self.end_title();
        State::end_tag(self, name)
    }

    fn wants_text(&self) -> bool {
        self.title.is_some()
    }

    fn text(&mut self, text: &str) {
        if let Some(t) = self.title.as_mut() {
            t.push_str(text);
        }
    }

    fn in_foreign_content(&self) -> bool {
        self.foreign.last().is_some_and(|top| top.ns != Ns::Html)
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        match token {
            Token::CharacterTokens(text) => {
                if let Some(t) = st.title.as_mut() {
                    t.push_str(&text);
                }
                TokenSinkResult::Continue
            }
            Token::TagToken(tag) => {
                st.end_title();
                match tag.kind {
                    TagKind::StartTag => match st.start_tag(&StartTag {
                        name: &tag.name,
                        self_closing: tag.self_closing,
                        attrs: &attrs(&tag),
                    }) {
                        Mode::Data => TokenSinkResult::Continue,
                        Mode::Rcdata => TokenSinkResult::RawData(RawKind::Rcdata),
                        Mode::Rawtext => TokenSinkResult::RawData(RawKind::Rawtext),
                        Mode::Script => TokenSinkResult::RawData(RawKind::ScriptData),
                        Mode::Plaintext => TokenSinkResult::Plaintext,
                    },
                    TagKind::EndTag => {
                        st.end_tag(&tag.name);
                        TokenSinkResult::Continue
                    }
                }
            }
            Token::EOFToken => {
                st.end_title();
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        scan::Sink::in_foreign_content(&*self.0.borrow())
    }
}

/// An html5ever start tag's attributes as the sink sees them: those
/// without a namespace (the tokenizer gives none any), values decoded
/// already.
fn attrs(tag: &Tag) -> Vec<Attr<'_>> {
    tag.attrs
        .iter()
        .filter(|a| a.name.ns.is_empty() && a.name.prefix.is_none())
        .map(|a| Attr::decoded(&a.name.local, &a.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming path with its links resolved, as `Extractor::parse`.
    fn parse(body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        let (mut page, links) = super::parse(body, content_type, url);
        page.links = links.resolve_all();
        page
    }

    fn url() -> Url {
        Url::parse("https://example.com/dir/page.html").unwrap()
    }

    /// The streaming path on html5ever's tokenizer, whatever the body.
    fn parse_html5ever(body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        let (encoding, bom_len) = detect_encoding(body, content_type);
        let (mut page, links) = super::parse_html5ever(encoding, &body[bom_len..], url);
        page.links = links.resolve_all();
        page
    }

    /// Both paths on `body`, and the streaming path on both tokenizers;
    /// asserts they agree and returns the page.
    fn both(body: &[u8], content_type: Option<&str>) -> ParsedPage {
        let (mut dom, links) = super::super::dom::parse(&[], false, body, content_type, &url());
        dom.links = links.resolve_all();
        let fast = parse(body, content_type, &url());
        let shown = String::from_utf8_lossy(&body[..body.len().min(600)]);
        let html5ever = parse_html5ever(body, content_type, &url());
        assert_eq!(fast, html5ever, "the tokenizers differ on {shown:?}");
        if fast.links != dom.links && body.windows(6).any(|w| w.eq_ignore_ascii_case(b"<table")) {
            // Foster parenting: the DOM moves misplaced table content before
            // the table, the stream keeps source order. Same links.
            let sorted = |p: &ParsedPage| {
                let mut l: Vec<String> = p.links.iter().map(|u| u.to_string()).collect();
                l.sort();
                l
            };
            assert_eq!(sorted(&fast), sorted(&dom), "link sets differ on {shown:?}");
            let fast = ParsedPage {
                links: dom.links.clone(),
                ..fast.clone()
            };
            assert_eq!(fast, dom, "paths differ on {shown:?}");
        } else {
            assert_eq!(fast, dom, "paths differ on {shown:?}");
        }
        fast
    }

    fn links(p: &ParsedPage) -> Vec<&str> {
        p.links.iter().map(Url::as_str).collect()
    }

    /// Each link with whether it is nofollow, from a page's raw links.
    fn followed(raw: &RawLinks) -> Vec<(String, bool)> {
        let mut it = raw.resolver();
        let mut out = Vec::new();
        while let Some(link) = it.next() {
            out.push((link.path().to_owned(), it.last_nofollow()));
        }
        out
    }

    /// Robots directives and nofollow links: both paths agree, `<img>`
    /// sources are never links, and one plain anchor makes a link followed.
    #[test]
    fn nofollow_and_robots_on_both_paths() {
        // (page, its links and whether each is nofollow, (noindex, nofollow))
        type Case<'a> = (&'a str, Vec<(&'a str, bool)>, (bool, bool));
        let pages: [Case; 3] = [
            (
                r#"<meta name=ROBOTS content="noindex"><meta name=robots content=nofollow><a rel="ugc nofollow" href=/nf1>x</a><a rel=sponsored href=/nf2><a rel=ugc href=/ugc><a href=/nf1>again</a><a rel=nofollow href=/nf3><img src=/pic.png><area rel=nofollow href=/nf4>"#,
                vec![
                    ("/nf1", false),
                    ("/nf2", true),
                    ("/ugc", false),
                    ("/nf3", true),
                    ("/nf4", true),
                ],
                (true, true),
            ),
            (
                r#"<meta name=description content=d><meta name=" robots " content="NONE"><svg><a href=/s rel=nofollow></a></svg>"#,
                vec![("/s", true)],
                (true, true),
            ),
            (
                r#"<title>t</title><meta name=robots><meta name=googlebot content=noindex><a href=/a rel=external><img src=/i.jpg>"#,
                vec![("/a", false)],
                (false, false),
            ),
        ];
        for (body, want, (noindex, nofollow)) in pages {
            let page = both(body.as_bytes(), None);
            assert_eq!(
                (page.robots.noindex, page.robots.nofollow),
                (noindex, nofollow),
                "{body}"
            );
            let (_, fast) = super::parse(body.as_bytes(), None, &url());
            let (_, dom) = super::super::dom::parse(&[], false, body.as_bytes(), None, &url());
            let want: Vec<(String, bool)> = want.iter().map(|(p, n)| (p.to_string(), *n)).collect();
            assert_eq!(followed(&fast), want, "{body}");
            assert_eq!(followed(&dom), want, "{body}");
        }
    }

    /// Hand-written pages: the DOM path's unit tests' pages and the cases the
    /// tokenizer alone would get wrong without the sink's state.
    const CASES: &[&str] = &[
        r#"<!doctype html><html lang=" fr-CA "><head>
            <meta name="Description" content="  A   page
              about things ">
            <title>
              First
            </title><title>Second</title>
            <link rel="alternate canonical" href="/canon?b=2&a=1#x">
            <link rel="canonical" href="/ignored">
            </head><body><svg><title>svg title</title></svg></body></html>"#,
        "<html lang=''><title>  \n </title><meta name=description content='  '>",
        r##"<body><a href="b.html">b</a><a href=" /a#top ">a</a><a href="b.html#again">b</a>
            <a href="mailto:x@y.z">m</a><a href="javascript:void(0)">j</a><a href="tel:+1">t</a>
            <a href="data:,x">d</a><a href="">empty</a><a>no href</a><a href="http://[bad">bad</a>
            <map><area href="/area?utm_source=z&k=1"></map><a href="HTTPS://Other.ORG:443/x?b&a">o</a>
            <link rel=canonical href="/a"></body>"##,
        r#"<head><base href="../other/"><base href="/ignored/">
            <link rel=canonical href="canon.html"></head><body><a href="x.html">x</a></body>"#,
        r#"<a href="x">x</a><base href="https://cdn.example.net/b/">"#,
        r#"<base href="http://[::1"><a href="x">x</a>"#,
        r#"<base><base href=" /b/ "><a href=x>x</a>"#,
        "<html><title>t</title><body><p>one<div>two</html><a href=/after>x</a><p>three</span></b>",
        "",
        "<",
        "</",
        "<!--",
        "<a href=",
        "<a href='",
        "<title>",
        "<title>unterminated <a href=/no>",
        "\0\0\0",
        "<html><html><html lang=x><body><body>",
        "<html lang=''><html lang=fr>",
        "<p>x</p><html lang=late>",
        "<template><html lang=tpl></template><html lang=real>",
        "<table><tr><td><a href=/t>t</table></a>",
        "<svg><a href='/svg'>s</a></svg><math><mi>x</mi></math>",
        // Raw text: markup inside is not markup.
        r#"<script>document.write("<a href='/s1'>x</a>"); var t = "</scr" + "ipt>";</script><a href=/ok1>"#,
        r#"<script><!-- <script> </script> <a href=/s2> --></script><a href=/ok2>"#,
        r#"<style>a::after{content:"<a href=/css>"}</style><a href=/ok3>"#,
        r#"<title>T <a href=/intitle></title><a href=/ok4>"#,
        r#"<textarea><a href=/ta></textarea><noscript><a href=/ns></noscript><xmp><a href=/xmp></xmp>"#,
        r#"<iframe><a href=/if></iframe><noembed><a href=/ne></noembed><noframes><a href=/nf></noframes>"#,
        r#"<a href=/before><plaintext><a href=/pt></plaintext><a href=/after>"#,
        r#"<script/><a href=/selfclosed-script></script><a href=/ok5>"#,
        // Comments, CDATA, entities.
        r#"<!-- <a href=/comment> --><!--> <a href=/afterempty><!---><a href=/c3> -->"#,
        r#"<![CDATA[ x > <a href=/cdata-html> ]]><a href=/ok6>"#,
        r#"<svg><![CDATA[ x > <a href=/cdata-svg> ]]></svg><a href=/ok7>"#,
        r#"<a href="/q?a=1&amp;b=2&lt=3&copy&notit;x&#x41;&#65">e</a><a href="/&quot;q&quot;">"#,
        r#"<TITLE>Upper &amp; Case</TITLE><A HREF="/UP">u</A><AREA HREF=/area2><LINK REL=CANONICAL HREF=/Canon>"#,
        r#"<META NAME=DESCRIPTION CONTENT="Shout"><HTML LANG=EN-us><BASE HREF=/base/>"#,
        r#"<a href=/unq?x=1 class=x>u</a><a href=noquote.html>n</a><a href = "  spaced  ">"#,
        r#"<a href="/dup" href="/second">d</a><link rel=canonical href=/c1 href=/c2>"#,
        // Foreign content.
        r#"<svg><title>icon</title><style>.a{}</style><a href=/svga xlink:href=/xl>i</a></svg><title>Real</title>"#,
        r#"<svg><desc><title>in desc</title></desc></svg><title>After</title>"#,
        r#"<svg><foreignObject><title>html in fo</title><a href=/fo>f</a></foreignObject></svg>"#,
        r#"<svg><g><p>breakout<title>html title</title></svg>"#,
        r#"<svg><script><a href=/svgscript></script><style><a href=/svgstyle></style></svg>"#,
        r#"<div><svg><g><path d=M0></div><title>t</title><a href=/x>"#,
        r#"<a href=/l><svg><path></a><title>after svg</title>"#,
        r#"<math><mi><title>mi title</title></mi><annotation-xml encoding=text/html><title>ax</title></annotation-xml></math>"#,
        r#"<math><annotation-xml><svg><title>t</title></svg></annotation-xml></math><title>m</title>"#,
        r#"<svg><font color=red><title>font breakout</title></font></svg>"#,
        r#"<svg><font><title>svg font</title></font></svg><title>later</title>"#,
        r#"<svg/><title>selfclosed svg</title><math/><svg><base href=/svgbase/></svg><a href=x>"#,
        r#"<svg><foreignObject><div><span></foreignObject><title>x</title></svg><title>y</title>"#,
        r#"<svg><html lang=svg></html></svg><html lang=h>"#,
        // Misc structure.
        r#"<select><option><a href=/opt>o</a></option></select><table><a href=/foster></table>"#,
        r#"<template><a href=/tpl><title>tpl title</title><base href=/tb/></template>"#,
        r#"<frameset><frame src=/f></frameset>"#,
        r#"<p><b><i>mis</b>nested</i><a href=/m1><a href=/m2>nested a</a></a>"#,
        r#"<a href=/x1 <a href=/x2>>broken<a href='/x3>quote</a><a href="/x4">"#,
        r#"<meta name=description><meta name=description content="second">"#,
        r#"<meta name="  description  " content="spaced name"><meta content="x" name=keywords>"#,
        r#"<link rel="stylesheet canonicalx" href=/css><link rel="	Canonical	" href="/tab">"#,
        r#"<link rel=canonical><link rel=canonical href="mailto:x"><link rel=canonical href=/z>"#,
        "<title>a\r\nb\0c</title>",
        "\u{feff}\u{feff}<title>double bom</title>",
    ];

    #[test]
    fn differential_hand_written() {
        for case in CASES {
            both(case.as_bytes(), None);
        }
        // A few of them, checked against what a browser does.
        let case = |needle: &str| {
            let body = CASES.iter().find(|c| c.contains(needle)).unwrap();
            both(body.as_bytes(), None)
        };
        assert_eq!(links(&case("/s1")), ["https://example.com/ok1"]);
        let p = case("/intitle");
        assert_eq!(p.title.as_deref(), Some("T <a href=/intitle>"));
        assert_eq!(links(&p), ["https://example.com/ok4"]);
        let p = case("<title>Real");
        assert_eq!(p.title.as_deref(), Some("Real"));
        assert_eq!(links(&p), ["https://example.com/svga"]);
        let p = case("cdn.example.net");
        assert_eq!(links(&p), ["https://cdn.example.net/b/x"]);
        let p = case("/cdata-svg");
        assert_eq!(links(&p), ["https://example.com/ok7"]);
        let p = case("/pt>");
        assert_eq!(links(&p), ["https://example.com/before"]);
    }

    /// Deterministic generator of realistic-but-messy pages.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }

        fn page(&mut self) -> String {
            const HEAD: &[&str] = &[
                "<title>Page &amp; title</title>",
                "<TITLE>Upper</TITLE>",
                "<meta name=description content='Some  description'>",
                "<META NAME=Description CONTENT=\"Loud\">",
                "<base href='/base/dir/'>",
                "<base href=https://cdn.example.org/>",
                "<link rel=canonical href='/canonical?b=1&amp;a=2'>",
                "<link rel='alternate' href=/alt>",
                "<meta charset=utf-8>",
                "<style>p>a{color:red} /* <a href=/css> */</style>",
                "<script>var s='<a href=\"/js\">'; if (a<b) {}</script>",
                "<noscript><a href=/noscript></noscript>",
                "<!-- <a href=/comment> -->",
                "",
            ];
            const BODY: &[&str] = &[
                "<a href='/p/1'>one</a>",
                "<a href=\"p/2?x=1&amp;y=2\">two</a>",
                "<A HREF=/P/3>three</A>",
                "<a href=../up.html>up</a>",
                "<a href='#frag'>frag</a>",
                "<a href='//other.example.net/x'>proto-rel</a>",
                "<a href='javascript:alert(1)'>js</a>",
                "<area href=/map/area>",
                "<a href=/unclosed>",
                "</a>",
                "<div><p>text <b>bold <i>both</b> italic</i></p></div>",
                "<table><tr><td>cell<a href=/td>td</a></td><a href=/foster>f</a></table>",
                "<ul><li>x<li>y<a href=/li>li</a></ul>",
                "<svg viewBox='0 0 1 1'><title>svg</title><a href=/svg-a><path d='M0'/></a></svg>",
                "<svg><g><p>out</svg>",
                "<math><mi>x</mi></math>",
                "<script>document.write('<a href=/docwrite>')</script>",
                "<textarea><a href=/textarea></textarea>",
                "<title>late title</title>",
                "<base href=/late-base/>",
                "<html lang=late>",
                "<link rel=CANONICAL href=/late-canonical>",
                "<![CDATA[<a href=/cdata>]]>",
                "<template><a href=/template></template>",
                "<iframe src=/frame><a href=/in-iframe></iframe>",
                "<p>caf&eacute; &#x263a; &lt;a href=/escaped&gt;</p>",
                "<select><option>a<option>b</select>",
                "<form><input name=q><button>go</button></form>",
                "<h1>Heading</h1><p>Para with <a href='/p/1'>a duplicate</a>.</p>",
                "<img src=/img.png alt='<a href=/alt>'>",
                "<p>stray </div></span></p></p>",
                "<a href=/x1 <a href=/x2>>",
                "<br/><hr><wbr>",
                "<xmp><a href=/xmp></xmp>",
                "<object><param><embed src=/e></object>",
            ];
            let mut s = String::new();
            if self.next() % 4 != 0 {
                s.push_str("<!DOCTYPE html>");
            }
            if self.next() % 3 != 0 {
                s.push_str(self.pick(&["<html lang=en>", "<HTML LANG='de-DE'>", "<html>"]));
            }
            if self.next() % 2 == 0 {
                s.push_str("<head>");
            }
            for _ in 0..self.next() % 6 {
                s.push_str(self.pick(HEAD));
            }
            if self.next() % 2 == 0 {
                s.push_str("</head><body class=x>");
            }
            for _ in 0..(10 + self.next() % 60) {
                s.push_str(self.pick(BODY));
                s.push('\n');
            }
            if self.next() % 2 == 0 {
                s.push_str("</body></html>");
            }
            s
        }
    }

    #[test]
    fn differential_generated_pages() {
        let mut g = Gen(0x2545_f491_4f6c_dd1d);
        let mut with_links = 0;
        for _ in 0..400 {
            let page = g.page();
            let p = both(page.as_bytes(), None);
            with_links += usize::from(!p.links.is_empty());
        }
        assert!(with_links > 300, "{with_links}");
    }

    /// Markup cut into pieces and put together at random: tags cut off,
    /// quotes left open, comments and raw text never closed, references
    /// half-written. Our tokenizer and html5ever's must give the same page
    /// (the DOM path is not compared: it differs by design on such pages,
    /// see the module documentation).
    #[test]
    fn differential_tokenizers_on_shredded_markup() {
        const BITS: &[&str] = &[
            "<",
            "</",
            "<!",
            "<!--",
            "-->",
            "--!>",
            "<!-->",
            "<!--->",
            "-",
            "--",
            ">",
            "<?x>",
            "<!DOCTYPE html>",
            "<!doctype x \">\">",
            "<![CDATA[",
            "]]>",
            "<svg>",
            "</svg>",
            "<math>",
            "<mi>",
            "</math>",
            "<title>",
            "</title>",
            "</TITLE x=1>",
            "</title",
            "</title/>",
            "<script>",
            "</script>",
            "</script ",
            "<script",
            "</SCRIPT>",
            "<style>",
            "</style>",
            "<textarea>",
            "</textarea>",
            "<plaintext>",
            "<a href=",
            "<a href='",
            "<a href=\"",
            "'",
            "\"",
            "/x",
            "&amp;",
            "&",
            "&#",
            "&#x41;",
            "&copy",
            "&notin;",
            "&#0;",
            "=",
            " ",
            "\r",
            "\r\n",
            "\0",
            "<a href=/p",
            "<A HREF=\"/Q\">",
            "<base href=/b/>",
            "<link rel=canonical href=/c>",
            "<meta name=description content=",
            "<meta name=robots content=nofollow>",
            "<html lang=",
            "é",
            "日本",
            "<a/",
            "/>",
            "<a href=x/>",
            "<p>",
            "<template>",
            "</template>",
            "<foreignObject>",
            "<desc>",
            "<font color=red>",
            "<annotation-xml encoding=text/html>",
            "<br>",
            "</p>",
            "<noscript>",
            "<iframe>",
            "<xmp>",
            "title",
            "script",
            "<!--<script>",
            "</script>-->",
            "<a rel=nofollow href=/nf>",
            "\t",
            "\x0c",
            "<a =x href=/eq>",
            "<a href=/a href=/b>",
            "<a\nhref\n=\n/nl>",
            "a",
            "</a>",
            "<a href='/x&amp;y'>",
            "<title>T &lt; U</title>",
            "<a href=/s\r\nt>",
            "<a href=\"/n\0l\">",
            "<scr",
            "ipt>",
            "</",
            "<a href=/ok>",
            "<!-- x --!-->",
            "<script><!--",
            "<script>",
        ];
        // A page of up to `most` pieces of `pieces`, through both
        // tokenizers: they must agree.
        fn agree(g: &mut Gen, pieces: &[&str], most: u64) -> ParsedPage {
            let mut page = String::new();
            for _ in 0..1 + g.next() % most {
                page.push_str(g.pick(pieces));
            }
            let ours = parse(page.as_bytes(), None, &url());
            let theirs = parse_html5ever(page.as_bytes(), None, &url());
            assert_eq!(ours, theirs, "the tokenizers differ on {page:?}");
            ours
        }
        let mut g = Gen(0xdead_beef_cafe_f00d);
        let mut with_links = 0;
        for _ in 0..4000 {
            with_links += usize::from(!agree(&mut g, BITS, 40).links.is_empty());
        }
        assert!(with_links > 1000, "{with_links}");
        // And characters drawn one by one from the tokenizer's alphabet.
        const CHARS: &[&str] = &[
            "<",
            ">",
            "/",
            "!",
            "-",
            "=",
            "\"",
            "'",
            " ",
            "\n",
            "\r",
            "&",
            "#",
            ";",
            "[",
            "]",
            "a",
            "t",
            "s",
            "x",
            "\0",
            "é",
            "<a href=",
            "<title>",
            "</title>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<svg>",
            "<![CDATA[",
            "<style>",
            "</style>",
        ];
        for _ in 0..4000 {
            agree(&mut g, CHARS, 80);
        }
    }

    #[test]
    fn differential_legacy_encodings() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for i in 0..40 {
            let page = g.page().replace("Page &amp; title", "café € naïve");
            let page = page.replace("<p>text", "<p>日本語のテキスト <a href='/日本'>jp</a>");
            let (enc, label) = if i % 2 == 0 {
                (encoding_rs::WINDOWS_1252, "windows-1252")
            } else {
                (encoding_rs::SHIFT_JIS, "Shift_JIS")
            };
            let (bytes, _, _) = enc.encode(&page);
            // Declared by the header, then by a <meta> in the prescan window.
            both(&bytes, Some(&format!("text/html; charset={label}")));
            let mut declared = format!("<meta charset={label}>").into_bytes();
            declared.extend_from_slice(&bytes);
            let p = both(&declared, None);
            if page.contains("<title>Page") && !page.contains("<TITLE>") {
                // Not asserted in general: an earlier title may win.
                let _ = p.title;
            }
        }
        let (sjis, _, _) =
            encoding_rs::SHIFT_JIS.encode("<title>日本語のページ</title><a href='/ページ'>");
        let mut body =
            b"<meta http-equiv=content-type content='text/html; charset=shift_jis'>".to_vec();
        body.extend_from_slice(&sjis);
        let p = both(&body, None);
        assert_eq!(p.title.as_deref(), Some("日本語のページ"));
        assert_eq!(
            links(&p),
            ["https://example.com/%E3%83%9A%E3%83%BC%E3%82%B8"]
        );
        let p = both(
            b"<meta charset=windows-1252><title>caf\xe9 \x80</title>",
            None,
        );
        assert_eq!(p.title.as_deref(), Some("café €"));
    }

    #[test]
    fn differential_invalid_utf8_and_chunk_edges() {
        both(b"<title>ok \xff\xfe\xc3 done</title><a href='/\xe9'>", None);
        // Multi-byte chars, CRLF and tags straddling the chunk boundaries.
        for shift in [0, 1, 2, 3, 7] {
            let mut s = " ".repeat(CHUNK - 10 + shift);
            s.push_str("é\r\n<title>a\r\nb</title><a href='/x\r\ny'>");
            s.push_str(&"日".repeat(CHUNK / 3));
            s.push_str("<a href=/end>");
            let p = both(s.as_bytes(), None);
            assert_eq!(p.title.as_deref(), Some("a b"));
            assert_eq!(
                links(&p),
                ["https://example.com/xy", "https://example.com/end"]
            );
        }
    }

    #[test]
    fn differential_link_cap_and_canonical() {
        let mut body = String::from("<link rel=canonical href='/canonical'>");
        for i in 0..MAX_LINKS + 50 {
            body.push_str(&format!("<a href='/p{i}'>x</a><a href='/p{i}#dup'>"));
        }
        let p = both(body.as_bytes(), None);
        assert_eq!(p.links.len(), MAX_LINKS);
        assert_eq!(
            p.links.last().map(Url::as_str),
            Some("https://example.com/canonical")
        );
    }

    #[test]
    fn hostile_inputs_are_fast_and_bounded() {
        let started = std::time::Instant::now();
        // 10k nested divs: the DOM path stops at its depth cap, this path
        // reads on.
        let depth = 10_000;
        let body = format!(
            "{}<a href='/deep'>deep</a>{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let p = parse(body.as_bytes(), None, &url());
        assert_eq!(links(&p), ["https://example.com/deep"]);
        let depth = super::super::MAX_DOM_DEPTH - 20;
        let body = format!(
            "{}<a href='/deep'>deep</a>{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let p = both(body.as_bytes(), None);
        assert_eq!(links(&p), ["https://example.com/deep"]);
        // 5 MB of <div>: the DOM path would build a million nodes.
        let body = format!("{}<a href=/last>", "<div>".repeat(1_000_000));
        let p = parse(body.as_bytes(), None, &url());
        assert_eq!(links(&p), ["https://example.com/last"]);
        // Binary garbage and huge attribute values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let garbage: Vec<u8> = (0..256 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        for ct in [
            None,
            Some("text/html; charset=shift_jis"),
            Some("text/html; charset=utf-16be"),
        ] {
            let p = parse(&garbage, ct, &url());
            assert!(p.links.len() <= MAX_LINKS);
        }
        let huge = format!("<a title='{}' href=/h>", "x".repeat(2 << 20));
        assert_eq!(
            links(&parse(huge.as_bytes(), None, &url())),
            ["https://example.com/h"]
        );
        // Longer than canon::MAX_URL_LEN: refused, as by the DOM path.
        let huge = format!("<a href='/{}'>", "y".repeat(2 << 20));
        assert!(parse(huge.as_bytes(), None, &url()).links.is_empty());
        let long_title = format!("<title>{}</title>", "é ".repeat(1 << 20));
        let t = parse(long_title.as_bytes(), None, &url()).title.unwrap();
        assert!(t.len() <= MAX_META_LEN);
        // Debug builds are slow; this is about not being quadratic.
        assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    }
}
