//! The DOM path: a budgeted DOM, for user fields and visible text.
//!
//! CSS selectors need a tree, and so does visible text (which elements are
//! hidden, which ones break words). This path decodes the body, builds a
//! [`scraper`] DOM, stopped at [`node_budget`] nodes and [`MAX_DOM_DEPTH`]
//! levels so a page built to explode it or to make it slow cannot, extracts everything the record keeps (the same metadata and
//! links as the streaming path, then the fields and the text), and drops
//! the DOM before returning: the DOM is `!Send` and costs up to
//! [`PARSE_COST_RATIO`](super::PARSE_COST_RATIO) times the body.

use std::collections::hash_map::DefaultHasher;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use html5ever::tendril::{StrTendril, TendrilSink};
use scraper::node::Element;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::charset::decode_body;
use super::directives;
use super::links::{self, RawLinks};
use super::text::{truncate, Collapser};
use super::{ParseCut, ParsedPage, MAX_FIELD_LEN, MAX_FIELD_VALUES, MAX_META_LEN, MAX_TEXT_LEN};
use crate::canon;
use crate::config::FieldSpec;
use crate::record::FieldValue;

/// Attributes whose value is a URL (HTML's URL-valued content
/// attributes): a field reading one gets it resolved against the page, as
/// a browser would use it, not a relative path nobody can fetch.
pub const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "cite",
    "background",
    "longdesc",
    "manifest",
    "icon",
    "codebase",
    "usemap",
    "itemid",
];

/// One compiled user field.
#[derive(Debug, Clone)]
pub(super) struct Field {
    name: String,
    selector: Selector,
    attr: Option<String>,
    all: bool,
}

impl Field {
    /// Compile `spec`'s selector; the error is a readable description of
    /// what is wrong with it.
    pub(super) fn compile(spec: &FieldSpec) -> Result<Field, String> {
        Ok(Field {
            name: spec.name.clone(),
            selector: compile_selector(&spec.css)?,
            attr: spec.attr.clone(),
            all: spec.all,
        })
    }

    /// The value of one matching element: its text, or its attribute
    /// (resolved against `base` if it holds a URL).
    fn value(&self, el: ElementRef<'_>, base: &Url, max_text: usize) -> Option<String> {
        match &self.attr {
            Some(attr) => {
                // HTML lowercases attribute names as it parses (SVG's
                // keep their case: `viewBox`), so try both spellings.
                let lower = attr.to_ascii_lowercase();
                let raw = (el.value().attr(attr)).or_else(|| el.value().attr(&lower))?;
                if URL_ATTRIBUTES.contains(&lower.as_str()) {
                    let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
                    if let Ok(url) = base.join(trimmed) {
                        return Some(truncate(url.as_str(), MAX_META_LEN).to_owned());
                    }
                }
                Some(truncate(raw, MAX_META_LEN).to_owned())
            }
            None => {
                let mut t = Collapser::new(max_text);
                for s in el.text() {
                    if t.is_full() {
                        break;
                    }
                    t.push_str(s);
                }
                Some(t.finish())
            }
        }
    }
}

/// A CSS selector, or why it is not one, in words (the CSS parser's own
/// message for some mistakes is "Please report this to the developer").
pub(crate) fn compile_selector(css: &str) -> Result<Selector, String> {
    use scraper::error::SelectorErrorKind as K;
    Selector::parse(css).map_err(|e| match e {
        K::UnexpectedSelectorParseError(kind) => words(&format!("{kind:?}")),
        K::EndOfLine => "it ends too early (an unclosed [, ( or a trailing combinator?)".to_owned(),
        K::UnexpectedToken => "unexpected character or token".to_owned(),
        other => other.to_string().to_lowercase(),
    })
}

/// `UnsupportedPseudoClassOrElement` as "unsupported pseudo class or
/// element": the variant's words (and its argument, if its `Debug` shows one).
fn words(debug: &str) -> String {
    let (variant, arg) = match debug.split_once('(') {
        Some((v, a)) => (v, Some(a.trim_end_matches(')'))),
        None => (debug, None),
    };
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    if let Some(arg) = arg.filter(|a| !a.is_empty()) {
        out.push(' ');
        out.push_str(arg);
    }
    out
}

/// Parse `body` through a DOM: build a (budgeted) DOM, extract, drop it.
pub(super) fn parse(
    fields: &[Field],
    text: bool,
    body: &[u8],
    content_type: Option<&str>,
    url: &Url,
) -> (ParsedPage, RawLinks) {
    let (doc, cut) = {
        // The decoded text is dropped as soon as the DOM is built (the
        // DOM holds its own copies), lowering the peak slightly.
        let text = decode_body(body, content_type);
        build_dom(&text)
    };
    let (mut page, links) = extract(&doc, fields, text, url);
    page.cut = cut;
    (page, links)
    // `doc` is dropped here: nothing borrowed from it is returned.
}

fn extract(doc: &Html, fields: &[Field], text: bool, url: &Url) -> (ParsedPage, RawLinks) {
    let root = doc.tree.root();
    let elements = || root.descendants().filter_map(ElementRef::wrap);

    let base_href = elements()
        .find(|e| is_html_element(e.value(), "base") && e.value().attr("href").is_some())
        .and_then(|e| e.value().attr("href"));
    let base = links::base(url, base_href);

    let mut page = ParsedPage::default();
    let mut title_seen = false;
    let mut canonical_seen = false;
    // Raw hrefs, each once (the tree builder's clones repeat them; the same
    // raw href resolves to the same link): at most the body's bytes.
    let mut hrefs = String::new();
    // Each raw href once, with the position of its nofollow flag: a
    // plain anchor anywhere makes it followed.
    let mut distinct: HashMap<u64, usize, BuildHasherDefault<DefaultHasher>> = HashMap::default();
    let mut nofollow: Vec<bool> = Vec::new();

    for el in elements() {
        let e = el.value();
        match e.name() {
            "title" if !title_seen && is_html_element(e, "title") => {
                title_seen = true;
                let mut t = Collapser::new(MAX_META_LEN);
                el.text().for_each(|s| t.push_str(s));
                page.title = t.finish_nonempty();
            }
            "meta" if e.attr("name").is_some_and(directives::is_robots_meta) => {
                if let Some(content) = e.attr("content") {
                    page.robots = page.robots.union(directives::robots_directives(content));
                }
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
                if page.lang.is_none() && el.parent().is_some_and(|p| p.value().is_document()) =>
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
            "a" | "area" => {
                if let Some(href) = e.attr("href") {
                    let mut h = DefaultHasher::new();
                    href.hash(&mut h);
                    let rel_nofollow = e.attr("rel").is_some_and(directives::rel_nofollow);
                    match distinct.entry(h.finish()) {
                        Entry::Occupied(at) => nofollow[*at.get()] &= rel_nofollow,
                        Entry::Vacant(slot) => {
                            slot.insert(nofollow.len());
                            nofollow.push(rel_nofollow);
                            hrefs.push_str(href);
                            hrefs.push('\0');
                        }
                    }
                }
            }
            _ => {}
        }
    }
    drop(distinct);

    for field in fields {
        let value = if field.all {
            let mut values = Vec::new();
            let mut bytes = 0;
            for el in elements().filter(|e| field.selector.matches(e)) {
                if values.len() >= MAX_FIELD_VALUES || bytes >= MAX_TEXT_LEN {
                    break;
                }
                if let Some(v) = field.value(el, &base, MAX_FIELD_LEN.min(MAX_TEXT_LEN - bytes)) {
                    bytes += v.len();
                    values.push(v);
                }
            }
            Some(FieldValue::All(values))
        } else {
            let first = elements().find(|e| field.selector.matches(e));
            first
                .and_then(|el| field.value(el, &base, MAX_FIELD_LEN))
                .map(FieldValue::One)
        };
        page.fields.insert(field.name.clone(), value);
    }

    if text {
        let body = elements().find(|e| is_html_element(e.value(), "body"));
        page.text = Some(body.map_or_else(String::new, visible_text));
    }
    let links = RawLinks::new(base, page.canonical.clone(), hrefs, nofollow);
    (page, links)
}

/// Most DOM nodes built for a body of `len` bytes: `len / 8 + 1024`.
///
/// Real pages stay far below it (about one node per 36 bytes for typical
/// markup, one per 10 for dense tables); a page built to explode the DOM
/// (`<i>` by the million, or misnested formatting elements that the HTML
/// algorithm clones again and again) is cut there: the rest of the body is
/// not parsed and extraction works on the partial tree
/// ([`ParseCut::Nodes`]).
pub fn node_budget(len: usize) -> usize {
    len / 8 + 1024
}

/// Deepest element nesting the DOM path builds; a page nested deeper is cut
/// there ([`ParseCut::Depth`]): the rest of the body is not parsed.
///
/// The tree builder checks "is there an element of this name in scope" on
/// most start and end tags, by scanning the stack of open elements from the
/// top: over a stack as deep as the page nests, each tag costs its depth,
/// and a page of 100,000 nested `<div>`s costs 5 billion steps (half a
/// minute). Browsers cap the depth for this reason (Chromium at 512, the
/// figure used here); real pages nest a few dozen levels. html5ever has no
/// such cap and keeps its stack private, so the depth is read off the tree
/// between two chunks fed to the parser (the newest node's ancestors): it
/// may pass the cap by one chunk's worth of tags before the cut, a bounded
/// cost.
pub const MAX_DOM_DEPTH: usize = 512;

/// Most tree-builder work a page may cost, in bytes fed times the depth
/// they were fed at, for a body of `len` bytes: 64 levels per byte, and
/// never less than 2^31.
///
/// Under [`MAX_DOM_DEPTH`], a page can still keep the stack a few hundred
/// deep and then send tags that each scan all of it (ten million bytes of
/// stray `</address>` at depth 500 cost 3 s). Bytes times depth bounds the
/// scans; a real page stays far below (a 10 MiB page nested 30 deep
/// throughout is 3 * 10^8), and a page over it is cut
/// ([`ParseCut::Work`]) after at most about a second of work.
fn work_budget(len: usize) -> u64 {
    (len as u64).saturating_mul(64).max(1 << 31)
}

/// Bytes fed to the HTML parser between two checks of the node budget, the
/// depth and the work.
const FEED_CHUNK: usize = 4096;

/// Bytes fed per check when a limit is near (fast node growth, or half the
/// depth cap reached), so the overshoot past it stays small.
const SMALL_CHUNK: usize = 64;

/// Parse `text` as an HTML document, stopping at [`node_budget`],
/// [`MAX_DOM_DEPTH`] or [`work_budget`]; the cut, if any, is returned with
/// the partial tree.
///
/// The parser is fed in chunks so the DOM's size and depth can be checked
/// as it grows. When a chunk creates more nodes than it has bytes (only
/// formatting element reconstruction does that), or the tree is half as
/// deep as allowed, the next chunks are small, so a limit is overshot by
/// little.
pub(super) fn build_dom(text: &str) -> (Html, Option<ParseCut>) {
    build_dom_within(text, work_budget(text.len()))
}

/// [`build_dom`] with a given work budget (tests use a small one).
fn build_dom_within(text: &str, work_budget: u64) -> (Html, Option<ParseCut>) {
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
    let mut cut = None;
    let mut work: u64 = 0;
    while !rest.is_empty() {
        let mut end = chunk.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        // End the chunk before a `<`, if it has one: a parse cut after this
        // chunk then leaves no half tag, which the parser would turn into text.
        if end < rest.len() {
            if let Some(lt) = rest[..end].rfind('<').filter(|&i| i > 0) {
                end = lt;
            }
        }
        let (head, tail) = rest.split_at(end);
        let before = nodes(&parser);
        parser.process(StrTendril::from_slice(head));
        // Parse errors are only collected by scraper (its default `errors`
        // feature); nothing reads them here, and a page of stray end tags
        // would otherwise grow the list by 24 bytes per 4 input bytes.
        parser.tokenizer.sink.sink.0.borrow_mut().errors.clear();
        let after = nodes(&parser);
        let depth = newest_depth(&parser.tokenizer.sink.sink.0.borrow());
        rest = tail;
        work = work.saturating_add(head.len() as u64 * depth as u64);
        if after > budget {
            cut = Some(ParseCut::Nodes);
            break;
        }
        if depth > MAX_DOM_DEPTH {
            cut = Some(ParseCut::Depth);
            break;
        }
        if work > work_budget {
            cut = Some(ParseCut::Work);
            break;
        }
        chunk = if after.saturating_sub(before) > head.len() || depth > MAX_DOM_DEPTH / 2 {
            SMALL_CHUNK
        } else {
            FEED_CHUNK
        };
    }
    (parser.finish(), cut)
}

/// How deep the newest node of `doc` is: its count of ancestors.
///
/// The tree builder inserts a node at the current insertion point, the top
/// of its stack of open elements, so while that stack is deep every node it
/// creates is deep too: the newest node tells how deep the stack has been
/// of late. O(depth), once per chunk.
fn newest_depth(doc: &Html) -> usize {
    doc.tree
        .nodes()
        .next_back()
        .map_or(0, |n| n.ancestors().count())
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

#[cfg(test)]
mod tests {
    use super::super::tests::{links, parse};
    use super::*;
    use crate::config::FieldSpec;

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
        let (doc, cut) = build_dom(&body);
        assert_eq!(cut, Some(ParseCut::Nodes));
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
        let (doc, cut) = build_dom(&page);
        assert_eq!(cut, None);
        assert!(doc.tree.nodes().len() < node_budget(page.len()));
        drop(doc);
        let p = parse(format!("{page}<a href=/last>l</a>").as_bytes());
        assert_eq!(
            links(&p),
            ["https://example.com/x", "https://example.com/last"]
        );
    }

    /// 100,000 and 1,000,000 nested `<div>`s (half a minute, and more than
    /// two, before the depth cap): the tree stops at the cap plus at most
    /// one chunk of tags, whatever the page's depth. The time it takes is
    /// printed by the `deep_dom` example, not asserted here.
    #[test]
    fn depth_cap_bounds_the_tree() {
        for depth in [100_000, 1_000_000] {
            let body = "<div>".repeat(depth);
            let (doc, cut) = build_dom(&body);
            assert_eq!(cut, Some(ParseCut::Depth), "{depth}");
            let nodes = doc.tree.nodes().len();
            let deepest = doc.tree.nodes().map(|n| n.ancestors().count()).max();
            assert!(
                nodes < MAX_DOM_DEPTH + FEED_CHUNK,
                "{depth} divs: {nodes} nodes"
            );
            assert!(deepest.unwrap() < MAX_DOM_DEPTH + FEED_CHUNK / 5);
            drop(doc);
            let fields = [FieldSpec::parse("d=div div").unwrap()];
            let ex = super::super::Extractor::new(&fields, true).unwrap();
            let p = ex.parse(body.as_bytes(), None, &super::super::tests::url());
            assert_eq!(p.cut, Some(ParseCut::Depth));
            assert_eq!(p.fields["d"], Some("".into()));
            assert_eq!(p.text.as_deref(), Some(""));
        }
        // A shallow page of the same size is not cut.
        let body = "<div><p>Some words in a paragraph.</p></div>".repeat(10_000);
        assert_eq!(build_dom(&body).1, None);
    }

    /// Just under the depth cap, a page of stray end tags that each scan
    /// the whole stack of open elements is cut by the work budget (a small
    /// one here: debug builds are slow).
    #[test]
    fn work_budget_cuts_scans_under_the_depth_cap() {
        let body = format!("{}{}", "<div>".repeat(500), "</address>".repeat(100_000));
        let (_, cut) = build_dom_within(&body, 1 << 24);
        assert_eq!(cut, Some(ParseCut::Work));
        let (_, cut) = build_dom_within(&body, u64::MAX);
        assert_eq!(cut, None);
        // Pages nested 30 deep throughout are far from it, at any size.
        for len in [1 << 10, 10 << 20, 1 << 30] {
            assert!(work_budget(len) > 30 * len as u64);
        }
    }
}
