//! Generation of the site's resources: regular pages, the home page, the
//! known page and the trap pages.
//!
//! Bodies are [`Template`]s: literal bytes with holes for the origin, filled
//! when the server knows its port. Every link is emitted together with its
//! canonical [`Target`], so the expected crawl is computed from the same data
//! the HTML is rendered from.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::SiteSpec;

/// A piece of a body.
pub(crate) enum Chunk {
    Lit(Vec<u8>),
    /// `http://127.0.0.1:PORT`
    Origin,
    /// `HTTP://127.0.0.1:PORT` (upper-case scheme, to be lower-cased).
    OriginUpper,
    /// `http://localhost:PORT`: the same server under another host name.
    Alias,
}

/// A body with holes for the origin.
#[derive(Default)]
pub(crate) struct Template {
    chunks: Vec<Chunk>,
}

impl Template {
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        match self.chunks.last_mut() {
            Some(Chunk::Lit(v)) => v.extend_from_slice(b),
            _ => self.chunks.push(Chunk::Lit(b.to_vec())),
        }
    }
    fn s(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn hole(&mut self, c: Chunk) {
        self.chunks.push(c);
    }

    /// The body for a server at `origin` (`http://127.0.0.1:PORT`) whose
    /// other name is `alias` (`http://localhost:PORT`).
    pub(crate) fn render(&self, origin: &str, alias: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len(origin.len(), alias.len()));
        for c in &self.chunks {
            match c {
                Chunk::Lit(v) => out.extend_from_slice(v),
                Chunk::Origin => out.extend_from_slice(origin.as_bytes()),
                Chunk::OriginUpper => {
                    out.extend_from_slice(b"HTTP://");
                    out.extend_from_slice(origin.trim_start_matches("http://").as_bytes());
                }
                Chunk::Alias => out.extend_from_slice(alias.as_bytes()),
            }
        }
        out
    }

    /// Length of [`Template::render`]'s output.
    pub(crate) fn len(&self, origin_len: usize, alias_len: usize) -> usize {
        self.chunks
            .iter()
            .map(|c| match c {
                Chunk::Lit(v) => v.len(),
                Chunk::Origin | Chunk::OriginUpper => origin_len,
                Chunk::Alias => alias_len,
            })
            .sum()
    }
}

impl std::fmt::Write for Template {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.s(s);
        Ok(())
    }
}

/// Where a link leads, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Target {
    /// A canonical path (and sorted query), written relative to the page: on
    /// the origin the page was fetched from.
    Local(String),
    /// A canonical path written as an absolute URL on the site's own origin
    /// (`http://127.0.0.1:PORT/...`), whatever origin the page came from.
    Primary(String),
    /// A canonical path on the alias origin (`localhost`).
    Alias(String),
    /// An absolute canonical URL on another host.
    External(String),
}

/// What a path answers.
pub(crate) enum Kind {
    Html {
        content_type: &'static str,
        body: Template,
        delay: Duration,
    },
    File {
        content_type: &'static str,
        body: Arc<[u8]>,
    },
    Redirect {
        status: u16,
        location: Template,
        target: Target,
    },
    Error {
        status: u16,
    },
    Robots(String),
    Endless,
    GzipBomb,
}

/// One path of the site.
pub(crate) struct Resource {
    pub(crate) kind: Kind,
    /// Canonical targets of the crawlable links of an HTML body.
    pub(crate) links: Vec<Target>,
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "crawler",
    "memory",
    "budget",
    "page",
    "link",
    "frontier",
    "robots",
    "canonical",
    "queue",
    "bytes",
    "stream",
    "parser",
    "record",
    "scope",
    "host",
    "domain",
    "gate",
    "permit",
    "latency",
    "timeout",
    "redirect",
    "header",
    "content",
    "archive",
    "index",
    "search",
    "garden",
    "river",
    "mountain",
    "coffee",
    "library",
    "window",
    "signal",
    "harbor",
    "lantern",
    "meadow",
    "orbit",
    "pattern",
    "quartz",
    "rhythm",
    "saddle",
    "thunder",
    "velvet",
    "willow",
    "yellow",
    "zephyr",
    "anchor",
    "beacon",
    "cobalt",
    "delta",
    "ember",
    "fable",
    "granite",
    "horizon",
    "island",
    "jasmine",
    "kernel",
    "lagoon",
    "marble",
    "nectar",
    "oasis",
    "pepper",
    "quiver",
    "ribbon",
];

fn words(rng: &mut Rng, n: usize, out: &mut Template) {
    for k in 0..n {
        if k > 0 {
            out.s(" ");
        }
        out.s(WORDS[rng.below(WORDS.len())]);
    }
}

fn capitalized_words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        let w = WORDS[rng.below(WORDS.len())];
        s.push_str(&w[..1].to_ascii_uppercase());
        s.push_str(&w[1..]);
    }
    s
}

/// An HTML page under construction: its body and its links' targets.
#[derive(Default)]
struct Page {
    t: Template,
    links: Vec<Target>,
}

impl Page {
    /// A link written as `href` (already HTML-escaped) leading to `target`.
    fn a(&mut self, href: &str, target: Option<Target>, text: &str) {
        let _ = write!(self.t, "<a href=\"{href}\">{text}</a>");
        self.links.extend(target);
    }
    /// A link to the origin (or its upper-case or alias form) plus `suffix`.
    /// `path` is the canonical form of `suffix` (`/` if empty).
    fn a_abs(&mut self, origin: Chunk, suffix: &str, path: &str, text: &str) {
        let target = match origin {
            Chunk::Alias => Target::Alias(path.to_owned()),
            _ => Target::Primary(path.to_owned()),
        };
        self.t.s("<a href=\"");
        self.t.hole(origin);
        let _ = write!(self.t, "{suffix}\">{text}</a>");
        self.links.push(target);
    }
    fn local(path: &str) -> Option<Target> {
        Some(Target::Local(path.to_owned()))
    }
    fn head(&mut self, lang: &str, title: &str, description: &str) {
        let _ = write!(
            self.t,
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
             <meta name=\"description\" content=\"{description}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n</head>\n<body>\n"
        );
    }
    fn html(self) -> Resource {
        self.html_delayed(Duration::ZERO)
    }
    fn html_delayed(self, delay: Duration) -> Resource {
        Resource {
            kind: Kind::Html {
                content_type: "text/html; charset=utf-8",
                body: self.t,
                delay,
            },
            links: self.links,
        }
    }
}

fn page_path(i: usize) -> String {
    format!("/p/{i}.html")
}

/// A link from a regular page (in `/p/`) to regular page `j`, in one of
/// several equivalent spellings.
fn page_link(page: &mut Page, rng: &mut Rng, j: usize, variants: bool, text: &str) {
    let target = Target::Local(page_path(j));
    let deco = if variants {
        match rng.below(10) {
            0 => "#section-2",
            1 => "?utm_source=newsletter&amp;utm_medium=email",
            2 => "?",
            3 => "?utm_campaign=spring#top",
            _ => "",
        }
    } else {
        ""
    };
    match rng.below(if variants { 6 } else { 5 }) {
        0 => page.a(&format!("{j}.html{deco}"), Some(target), text),
        1 => page.a(&format!("./{j}.html{deco}"), Some(target), text),
        2 => page.a(&format!("../p/{j}.html{deco}"), Some(target), text),
        3 => page.a(&format!("/p/{j}.html{deco}"), Some(target), text),
        4 => page.a_abs(
            Chunk::Origin,
            &format!("/p/{j}.html{deco}"),
            &page_path(j),
            text,
        ),
        _ => page.a_abs(
            Chunk::OriginUpper,
            &format!("/p/{j}.html{deco}"),
            &page_path(j),
            text,
        ),
    }
}

fn regular_page(spec: &SiteSpec, i: usize) -> Resource {
    let n = spec.pages;
    let tr = &spec.traps;
    let mut rng = Rng(spec.seed ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let title = format!("{} – Page {i}", capitalized_words(&mut rng, 3));
    let mut desc = Template::default();
    words(&mut rng, 12, &mut desc);
    let desc = String::from_utf8(desc.render("", "")).unwrap_or_default();
    let mut page = Page::default();
    page.head("en", &title, &desc);

    // Links to other regular pages: the next one (so every page is
    // reachable), then random ones.
    let count = spec.links_min + rng.below(spec.links_max - spec.links_min + 1);
    let mut targets = Vec::with_capacity(count);
    if n > 1 {
        targets.push((i + 1) % n);
        while targets.len() < count {
            let j = rng.below(n);
            if j != i {
                targets.push(j);
            }
        }
    }

    page.t
        .s("<div class=\"site\">\n<header class=\"top\"><nav><ul class=\"menu\">\n<li>");
    page.a("/", Page::local("/"), "Home");
    page.t.s("</li>\n");
    // Trap links, spread over the pages.
    if tr.not_found && i % 5 == 0 {
        page.t.s("<li>");
        page.a(
            &format!("/missing/{i}.html"),
            Page::local(&format!("/missing/{i}.html")),
            "Old article",
        );
        page.t.s("</li>\n");
    }
    if tr.robots && i % 7 == 1 {
        let p = format!("/private/{}.html", i % 3);
        page.t.s("<li>");
        page.a(&p, Page::local(&p), "Members only");
        page.t.s("</li>\n");
    }
    if tr.redirects && i % 9 == 4 {
        let k = i % 3 % n;
        page.t.s("<li>");
        page.a(
            &format!("/old/{k}"),
            Page::local(&format!("/old/{k}")),
            "Archive",
        );
        page.t.s("</li>\n");
    }
    page.t
        .s("</ul></nav></header>\n<main>\n<div class=\"content\">\n");
    let _ = write!(page.t, "<article id=\"page-{i}\">\n<h1>{title}</h1>\n");

    // Paragraphs until the page is big enough; half of the links inline.
    let inline = targets.len() / 2;
    let mut next_link = 0;
    let mut section = 0;
    let footer_estimate = 200 + 80 * (targets.len() - inline);
    while section == 0 || page.t.len(22, 22) + footer_estimate < spec.page_size {
        section += 1;
        let _ = write!(page.t, "<section id=\"section-{section}\">\n<h2>");
        let h = capitalized_words(&mut rng, 2);
        page.t.s(&h);
        page.t.s("</h2>\n<div class=\"body\">\n");
        for _ in 0..3 {
            page.t.s("<p>");
            let count = 40 + rng.below(30);
            words(&mut rng, count, &mut page.t);
            if next_link < inline {
                page.t.s(" ");
                let text = capitalized_words(&mut rng, 2);
                page_link(
                    &mut page,
                    &mut rng,
                    targets[next_link],
                    tr.url_variants,
                    &text,
                );
                next_link += 1;
                page.t.s(" ");
                words(&mut rng, 10, &mut page.t);
            }
            page.t.s(".</p>\n");
            if page.t.len(22, 22) + footer_estimate >= spec.page_size {
                break;
            }
        }
        page.t.s("</div>\n</section>\n");
    }
    while next_link < inline {
        page.t.s("<p>");
        let text = capitalized_words(&mut rng, 2);
        page_link(
            &mut page,
            &mut rng,
            targets[next_link],
            tr.url_variants,
            &text,
        );
        next_link += 1;
        page.t.s("</p>\n");
    }
    page.t
        .s("</article>\n<aside class=\"related\">\n<h2>Related</h2>\n<ul>\n");
    for &j in &targets[inline..] {
        page.t.s("<li>");
        let text = capitalized_words(&mut rng, 3);
        page_link(&mut page, &mut rng, j, tr.url_variants, &text);
        page.t.s("</li>\n");
    }
    if tr.offsite_links && i % 6 == 2 {
        page.t.s("<li>");
        page.a(
            &format!("http://example.invalid/from/{i}"),
            Some(Target::External(format!("http://example.invalid/from/{i}"))),
            "Elsewhere",
        );
        page.t.s("</li>\n");
    }
    if tr.non_crawlable && i % 4 == 3 {
        page.t.s("<li>");
        page.a("mailto:editor@example.invalid", None, "Write to us");
        page.t.s("</li>\n<li>");
        page.a("javascript:void(0)", None, "Share");
        page.t.s("</li>\n");
    }
    page.t
        .s("</ul>\n</aside>\n</div>\n</main>\n<footer><div class=\"legal\"><p>Generated page ");
    let _ = write!(page.t, "{i} of {n}. ");
    words(&mut rng, 8, &mut page.t);
    page.t.s(".</p></div></footer>\n</div>\n</body>\n</html>\n");
    page.html()
}

fn small_page(lang: &str, title: &str, text: &str, links: &[&str]) -> Resource {
    let mut page = Page::default();
    page.head(lang, title, text);
    let _ = write!(
        page.t,
        "<div class=\"content\"><h1>{title}</h1>\n<p>{text}</p>\n<ul>\n"
    );
    for l in links {
        page.t.s("<li>");
        page.a(l, Page::local(l), l);
        page.t.s("</li>\n");
    }
    page.t.s("</ul></div>\n</body>\n</html>\n");
    page.html()
}

fn redirect(status: u16, location: Template, target: Target) -> Resource {
    Resource {
        kind: Kind::Redirect {
            status,
            location,
            target,
        },
        links: Vec::new(),
    }
}

fn lit(s: &str) -> Template {
    let mut t = Template::default();
    t.s(s);
    t
}

fn origin_plus(path: &str) -> Template {
    let mut t = Template::default();
    t.hole(Chunk::Origin);
    t.s(path);
    t
}

/// The fixed content of [`KNOWN_PAGE`], for checking field extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPage {
    /// Its path: `/known.html`.
    pub path: &'static str,
    /// The `title` a crawler should store (whitespace collapsed).
    pub title: &'static str,
    /// The `<meta name=description>` content.
    pub description: &'static str,
    /// `<html lang>`.
    pub lang: &'static str,
    /// `(--select argument, field name, expected value)`.
    pub selects: &'static [(&'static str, &'static str, Option<&'static str>)],
    /// Strings that the visible text (`--text`) contains.
    pub text_contains: &'static [&'static str],
    /// Strings that it must not contain (script and style content).
    pub text_excludes: &'static [&'static str],
    /// The paths of its distinct crawlable links, in document order (for a
    /// site of at least 5 pages).
    pub links: &'static [&'static str],
}

/// The known page, present on every site.
pub const KNOWN_PAGE: KnownPage = KnownPage {
    path: "/known.html",
    title: "Known page",
    description: "A page with fixed content for extraction tests.",
    lang: "en-GB",
    selects: &[
        ("headline=h1#headline", "headline", Some("Hello, crawler")),
        ("price=span.price", "price", Some("12.50")),
        ("currency=span.price@data-currency", "currency", Some("EUR")),
        ("missing=.does-not-exist", "missing", None),
    ],
    text_contains: &[
        "Hello, crawler",
        "The quick brown fox jumps over the lazy dog.",
    ],
    text_excludes: &["SCRIPT_SECRET", "STYLE_SECRET"],
    links: &["/p/1.html", "/p/2.html", "/p/3.html", "/p/4.html", "/"],
};

fn known_page(n: usize) -> Resource {
    let mut page = Page::default();
    page.t.s(
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n<title>\n  Known \n  page </title>\n\
         <meta name=\"description\" content=\"A page with fixed content for extraction tests.\">\n\
         <style>body { color: #333 } .x::after { content: \"STYLE_SECRET\" }</style>\n\
         <script>var secret = \"SCRIPT_SECRET\";</script>\n</head>\n<body>\n\
         <div id=\"wrap\"><header><h1 id=\"headline\">Hello, crawler</h1></header>\n\
         <div class=\"product\"><p>Price: <span class=\"price\" data-currency=\"EUR\">12.50</span></p>\n\
         <p class=\"intro\">The quick brown fox jumps over the lazy dog.</p>\n<ul class=\"nav\">\n<li>",
    );
    let p = |k: usize| page_path(k % n);
    page.a(&format!("{}#reviews", p(1)), Page::local(&p(1)), "One");
    page.t.s("</li>\n<li>");
    page.a(&p(1), Page::local(&p(1)), "One again");
    page.t.s("</li>\n<li>");
    page.a(&p(2)[1..], Page::local(&p(2)), "Two");
    page.t.s("</li>\n<li>");
    page.a(
        &format!("{}?utm_source=known", p(3)),
        Page::local(&p(3)),
        "Three",
    );
    page.t.s("</li>\n<li>");
    page.a_abs(Chunk::OriginUpper, &p(4), &p(4), "Four");
    page.t.s("</li>\n<li>");
    page.a("mailto:ada@example.invalid", None, "Mail");
    page.t.s("</li>\n<li>");
    page.a("javascript:void(0)", None, "Script");
    page.t.s("</li>\n<li>");
    page.a("/", Page::local("/"), "Home");
    page.t.s("</li>\n</ul></div></div>\n</body>\n</html>\n");
    page.html()
}

/// Title of `/enc/cp1252.html` (served in windows-1252), decoded.
pub const CP1252_TITLE: &str = "Café – naïve résumé";
/// Title of `/enc/sjis.html` (served in Shift_JIS), decoded.
pub const SJIS_TITLE: &str = "日本語のページ";

fn encoded_page(
    encoding: &'static encoding_rs::Encoding,
    html: &str,
    content_type: &'static str,
) -> Resource {
    let (bytes, _, unmappable) = encoding.encode(html);
    debug_assert!(!unmappable);
    let mut t = Template::default();
    t.bytes(&bytes);
    Resource {
        kind: Kind::Html {
            content_type,
            body: t,
            delay: Duration::ZERO,
        },
        links: vec![Target::Local("/".into()), Target::Local("/p/0.html".into())],
    }
}

fn pdf_like() -> Arc<[u8]> {
    let mut v =
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\nstream\n".to_vec();
    let mut rng = Rng(42);
    for _ in 0..4096 {
        v.push(rng.next() as u8);
    }
    v.extend_from_slice(b"\nendstream\n%%EOF\n");
    v.into()
}

fn li(home: &mut Page, href: &str, target: Option<Target>, text: &str) {
    home.t.s("<li>");
    home.a(href, target, text);
    home.t.s("</li>\n");
}

fn simple(home: &mut Page, path: &str) {
    li(home, path, Page::local(path), path);
}

/// Every resource of the site described by `spec`, and the robots.txt
/// disallow prefixes.
pub(crate) fn generate(spec: &SiteSpec) -> (BTreeMap<String, Resource>, Vec<&'static str>) {
    let n = spec.pages;
    let tr = &spec.traps;
    let mut res = BTreeMap::new();
    for i in 0..n {
        res.insert(page_path(i), regular_page(spec, i));
    }
    res.insert(KNOWN_PAGE.path.to_owned(), known_page(n));

    // The home page links to the first pages and to every trap.
    let mut home = Page::default();
    home.head(
        "en",
        "semcrawl test site",
        "A generated site for testing crawlers.",
    );
    home.t.s("<div class=\"site\"><header><h1>semcrawl test site</h1></header>\n<main><ul class=\"pages\">\n");
    for k in 0..n.min(10) {
        let p = page_path(k);
        if k % 2 == 0 {
            li(&mut home, &p[1..], Page::local(&p), &format!("Page {k}"));
        } else {
            li(&mut home, &p, Page::local(&p), &format!("Page {k}"));
        }
    }
    li(
        &mut home,
        KNOWN_PAGE.path,
        Page::local(KNOWN_PAGE.path),
        "Known page",
    );
    home.t.s("</ul>\n<ul class=\"traps\">\n");

    if tr.url_variants {
        li(&mut home, "#main", Page::local("/"), "Skip to content");
        li(
            &mut home,
            "/p/0.html#top",
            Page::local("/p/0.html"),
            "Top of page 0",
        );
        let p1 = page_path(1 % n);
        li(
            &mut home,
            &format!("{p1}?utm_source=home&amp;utm_campaign=x"),
            Page::local(&p1),
            "Tracked",
        );
        li(&mut home, &format!("{p1}?"), Page::local(&p1), "Bare query");
        home.t.s("<li>");
        home.a_abs(
            Chunk::OriginUpper,
            &page_path(2 % n),
            &page_path(2 % n),
            "Shouting",
        );
        home.t.s("</li>\n<li>");
        home.a_abs(Chunk::Origin, "", "/", "Origin");
        home.t.s("</li>\n");
        li(
            &mut home,
            "/list?b=2&amp;a=1",
            Page::local("/list?a=1&b=2"),
            "List",
        );
        li(
            &mut home,
            "/list?a=1&amp;utm_campaign=y&amp;b=2",
            Page::local("/list?a=1&b=2"),
            "List again",
        );
        res.insert(
            "/list".into(),
            small_page("en", "List", "Query parameters in any order.", &["/"]),
        );
    }
    if tr.not_found {
        simple(&mut home, "/missing/home.html");
    }
    if tr.server_error {
        simple(&mut home, "/error/500.html");
        res.insert(
            "/error/500.html".into(),
            Resource {
                kind: Kind::Error { status: 500 },
                links: vec![],
            },
        );
    }
    if tr.redirects {
        for k in 0..n.min(3) {
            let p = format!("/old/{k}");
            simple(&mut home, &p);
            res.insert(
                p,
                redirect(
                    301,
                    origin_plus(&page_path(k)),
                    Target::Primary(page_path(k)),
                ),
            );
        }
        for p in ["/old/rel", "/loop/a", "/loop/self"] {
            simple(&mut home, p);
        }
        res.insert(
            "/old/rel".into(),
            redirect(
                301,
                lit("/moved/target.html"),
                Target::Local("/moved/target.html".into()),
            ),
        );
        res.insert(
            "/moved/target.html".into(),
            small_page(
                "en",
                "Moved target",
                "Only reachable through a redirect.",
                &["/"],
            ),
        );
        res.insert(
            "/loop/a".into(),
            redirect(
                301,
                origin_plus("/loop/b"),
                Target::Primary("/loop/b".into()),
            ),
        );
        res.insert(
            "/loop/b".into(),
            redirect(301, lit("/loop/a"), Target::Local("/loop/a".into())),
        );
        res.insert(
            "/loop/self".into(),
            redirect(301, lit("/loop/self"), Target::Local("/loop/self".into())),
        );
    }
    if tr.offsite_redirect {
        simple(&mut home, "/go/offsite");
        res.insert(
            "/go/offsite".into(),
            redirect(
                302,
                lit("http://offsite.invalid/landing"),
                Target::External("http://offsite.invalid/landing".into()),
            ),
        );
    }
    let mut disallow = Vec::new();
    if tr.robots {
        disallow.push("/private/");
        for k in 0..3 {
            let p = format!("/private/{k}.html");
            simple(&mut home, &p);
            res.insert(
                p,
                small_page("en", "Private", "Robots must not see this.", &["/"]),
            );
        }
        simple(&mut home, "/go/private");
        res.insert(
            "/go/private".into(),
            redirect(
                301,
                lit("/private/hidden.html"),
                Target::Local("/private/hidden.html".into()),
            ),
        );
        res.insert(
            "/private/hidden.html".into(),
            small_page("en", "Hidden", "Robots must not see this.", &["/"]),
        );
        res.insert(
            "/robots.txt".into(),
            Resource {
                kind: Kind::Robots(
                    "# semcrawl test site\nUser-agent: *\nDisallow: /private/\n".into(),
                ),
                links: vec![],
            },
        );
    }
    if tr.offsite_links {
        li(
            &mut home,
            "http://example.invalid/",
            Some(Target::External("http://example.invalid/".into())),
            "Elsewhere",
        );
        li(
            &mut home,
            "https://example.invalid/page?x=1#frag",
            Some(Target::External("https://example.invalid/page?x=1".into())),
            "Elsewhere, securely",
        );
        home.t.s("<li>");
        home.a_abs(Chunk::Alias, "/", "/", "Same server, other name");
        home.t.s("</li>\n");
    }
    if tr.non_crawlable {
        li(&mut home, "mailto:webmaster@example.invalid", None, "Mail");
        li(&mut home, "javascript:alert(1)", None, "Script");
        li(&mut home, "tel:+15550100", None, "Phone");
        li(&mut home, "data:text/plain,hello", None, "Data");
    }
    if tr.files {
        li(
            &mut home,
            "/files/report.pdf",
            Page::local("/files/report.pdf"),
            "Report (PDF)",
        );
        li(
            &mut home,
            "files/notes.txt",
            Page::local("/files/notes.txt"),
            "Notes",
        );
        res.insert(
            "/files/report.pdf".into(),
            Resource {
                kind: Kind::File {
                    content_type: "application/pdf",
                    body: pdf_like(),
                },
                links: vec![],
            },
        );
        res.insert(
            "/files/notes.txt".into(),
            Resource {
                kind: Kind::File {
                    content_type: "text/plain; charset=utf-8",
                    body: Arc::from(&b"Plain text notes.\nNot HTML: <a href=\"/private/0.html\">is not a link</a>\n"[..]),
                },
                links: vec![],
            },
        );
    }
    if tr.slow {
        simple(&mut home, "/slow.html");
        let mut r = small_page("en", "Slow page", "This page takes its time.", &["/"]);
        if let Kind::Html { delay, .. } = &mut r.kind {
            *delay = spec.slow_latency;
        }
        res.insert("/slow.html".into(), r);
    }
    if tr.endless {
        simple(&mut home, "/stream/endless");
        res.insert(
            "/stream/endless".into(),
            Resource {
                kind: Kind::Endless,
                links: vec![],
            },
        );
    }
    if tr.gzip_bomb {
        simple(&mut home, "/bomb.html");
        res.insert(
            "/bomb.html".into(),
            Resource {
                kind: Kind::GzipBomb,
                links: vec![],
            },
        );
    }
    if tr.malformed {
        simple(&mut home, "/malformed.html");
        let p = |k: usize| page_path(k % n);
        let mut t = Template::default();
        let _ = write!(
            t,
            "<html><head><title>Malformed page</title><meta name=description content=\"Broken markup on purpose\">\n\
             <body><div><p>Unclosed paragraph <b>bold <i>italic</b> wrong nesting</i>\n\
             <div class=x><a href={p3}>unquoted</a> <a href='{p4}'>single quoted<a href=\"{p5}\">nested anchor</a>\n\
             </span></div></div></div><table><tr><td>cell<td>cell<tr><td>row</table>\n\
             <p>&notanentity; &amp &lt 5 > 3 \u{0} <A HREF=\"{p6}\">upper case</A> <a href = \"/\" >spaced</a>\n\
             <li>stray item<ul><li>open list\n",
            p3 = p(3),
            p4 = p(4),
            p5 = p(5),
            p6 = p(6)
        );
        res.insert(
            "/malformed.html".into(),
            Resource {
                kind: Kind::Html {
                    content_type: "text/html",
                    body: t,
                    delay: Duration::ZERO,
                },
                links: [p(3), p(4), p(5), p(6), "/".into()]
                    .into_iter()
                    .map(Target::Local)
                    .collect(),
            },
        );
    }
    if tr.encodings {
        simple(&mut home, "/enc/cp1252.html");
        simple(&mut home, "/enc/sjis.html");
        res.insert(
            "/enc/cp1252.html".into(),
            encoded_page(
                encoding_rs::WINDOWS_1252,
                &format!(
                    "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"windows-1252\"><title>{CP1252_TITLE}</title></head>\n\
                     <body><p>Déjà vu – « guillemets » et œuvre.</p><a href=\"/\">Accueil</a> <a href=\"/p/0.html\">Première</a></body></html>\n"
                ),
                "text/html",
            ),
        );
        res.insert(
            "/enc/sjis.html".into(),
            encoded_page(
                encoding_rs::SHIFT_JIS,
                &format!(
                    "<!DOCTYPE html>\n<html lang=\"ja\"><head><title>{SJIS_TITLE}</title></head>\n\
                     <body><p>これはシフトJISのページです。</p><a href=\"/\">ホーム</a> <a href=\"/p/0.html\">最初</a></body></html>\n"
                ),
                "text/html; charset=Shift_JIS",
            ),
        );
    }
    if tr.base_href {
        simple(&mut home, "/base/index.html");
        let (a, b) = (6 % n, 7 % n);
        let mut page = Page::default();
        page.t.s("<!DOCTYPE html>\n<html lang=\"en\"><head><base href=\"/p/\"><title>Base href</title></head>\n<body><ul><li>");
        page.a(
            &format!("{a}.html"),
            Page::local(&page_path(a)),
            "Relative to the base",
        );
        page.t.s("</li><li>");
        page.a(
            &format!("{b}.html?"),
            Page::local(&page_path(b)),
            "Also relative to the base",
        );
        page.t.s("</li><li>");
        page.a("/", Page::local("/"), "Home");
        page.t.s("</li></ul></body></html>\n");
        res.insert("/base/index.html".into(), page.html());
    }
    if tr.canonical {
        simple(&mut home, "/canon/dup.html");
        let mut page = Page::default();
        let p1 = page_path(1 % n);
        let _ = write!(
            page.t,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Duplicate</title><link rel=\"canonical\" href=\"{p1}\"></head>\n\
             <body><p>The same content as page 1.</p><a href=\"/\">Home</a></body></html>\n"
        );
        page.links.push(Target::Local("/".into()));
        res.insert("/canon/dup.html".into(), page.html());
    }
    home.t.s(
        "</ul>\n</main>\n<footer><p>Generated by semcrawl.</p></footer></div>\n</body>\n</html>\n",
    );
    res.insert("/".into(), home.html());
    (res, disallow)
}
