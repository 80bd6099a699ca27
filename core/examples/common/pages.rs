//! Generated pages shared by the `parse_cost` and `parse_speed` examples
//! (included with `#[path]`; not an example of its own).

#![allow(dead_code)]

/// Deterministic word source (xorshift), so runs are comparable.
pub struct Words(pub u64);

impl Words {
    pub fn next(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "the",
            "crawler",
            "memory",
            "bounded",
            "page",
            "parse",
            "network",
            "of",
            "and",
            "request",
            "response",
            "server",
            "a",
            "to",
            "in",
            "document",
            "element",
            "link",
            "text",
            "content",
            "is",
            "with",
            "for",
            "budget",
            "semantic",
            "structure",
        ];
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        WORDS[(self.0 % WORDS.len() as u64) as usize]
    }

    pub fn sentence(&mut self, n: usize, out: &mut String) {
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(self.next());
        }
        out.push('.');
    }
}

/// A blog/news-like page: head with meta, CSS and a script, a nav bar,
/// then articles in nested layout `div`s with paragraphs, lists and
/// about 15 links per 20 KiB.
pub fn typical_page(target: usize, charset: &str) -> String {
    let mut w = Words(0x2545_f491_4f6c_dd1d);
    let mut s = String::with_capacity(target + 4096);
    s.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"{charset}\">\
         <title>Semcrawl test page</title>\
         <meta name=\"description\" content=\"A generated page for measuring parse cost.\">\
         <link rel=\"canonical\" href=\"https://example.com/page\">\
         <style>body{{font-family:sans-serif}} .post{{margin:1em}} .meta{{color:#666}}</style>\
         <script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}</script>\
         </head><body><header class=\"site-header\"><nav><ul>"
    ));
    for i in 0..8 {
        s.push_str(&format!(
            "<li class=\"nav-item\"><a href=\"/section/{i}\">Section {i}</a></li>"
        ));
    }
    s.push_str("</ul></nav></header><main class=\"container\"><div class=\"row\">");
    let mut post = 0;
    while s.len() < target.saturating_sub(600) {
        post += 1;
        s.push_str(&format!(
            "<div class=\"col-md-8\"><article class=\"post\" id=\"post-{post}\"><div class=\"post-header\">\
             <h2 class=\"title\"><a href=\"/posts/{post}\">"
        ));
        w.sentence(6, &mut s);
        s.push_str("</a></h2><div class=\"meta\"><span class=\"author\">Jane Doe</span> <time datetime=\"2024-01-01\">Jan 1</time></div></div><div class=\"post-body\">");
        for p in 0..4 {
            s.push_str("<p>");
            w.sentence(18, &mut s);
            s.push(' ');
            if p == 1 {
                s.push_str(&format!("<a href=\"/posts/{post}/ref\" class=\"ref\">"));
                w.sentence(3, &mut s);
                s.push_str("</a> ");
            }
            s.push_str("<em>");
            w.sentence(4, &mut s);
            s.push_str("</em> ");
            w.sentence(22, &mut s);
            s.push_str("</p>");
        }
        s.push_str("<ul class=\"tags\">");
        for t in 0..3 {
            s.push_str(&format!("<li><span class=\"tag\">tag{t}</span></li>"));
        }
        s.push_str("</ul></div></article></div>");
    }
    s.push_str("</div></main><footer><p>&copy; 2024 Example</p><a href=\"/about\">About</a> <a href=\"/contact\">Contact</a></footer></body></html>\n");
    s
}

/// A tag-dense page: short elements with attributes and little text, like
/// a big data table or a page of widgets. A realistic worst case.
pub fn dense_page(target: usize) -> String {
    let mut s = String::from("<!DOCTYPE html><html><head><title>dense</title></head><body><table>");
    let mut i = 0;
    while s.len() < target {
        i += 1;
        s.push_str(&format!(
            "<tr class=\"r\"><td><a href=\"/i/{i}\">{i}</a></td><td><span class=\"v\">x</span></td><td><b>y</b></td></tr>"
        ));
    }
    s.push_str("</table></body></html>");
    s
}

/// Hostile pages, each built to maximize DOM size per byte; they are cut
/// by `semcrawl_core::parse::node_budget`.
pub fn hostile_pages(target: usize) -> Vec<(&'static str, String)> {
    let fill = |unit: &str| {
        let mut s = String::with_capacity(target + unit.len());
        while s.len() < target {
            s.push_str(unit);
        }
        s
    };
    // Misnested formatting elements with distinct attributes: every `<p>x`
    // clones all of them again (quadratic in the HTML algorithm).
    let mut quadratic = String::with_capacity(target);
    for i in 0..2000 {
        quadratic.push_str(&format!("<i id={i}>"));
    }
    while quadratic.len() < target {
        quadratic.push_str("<p>x");
    }
    vec![
        ("<p><i>", fill("<p><i>")),
        ("<a>", fill("<a>")),
        ("x<br>", fill("x<br>")),
        ("stray </x>", fill("</x>")),
        ("quadratic <i id=N>..<p>x", quadratic),
    ]
}

/// Hostile pages aimed at the streaming path: its memory is the output and
/// the raw hrefs, so these maximize links and attribute bytes per body byte.
pub fn stream_hostile_pages(target: usize) -> Vec<(&'static str, String)> {
    let mut dense_links = String::with_capacity(target + 64);
    let mut i = 0;
    while dense_links.len() < target {
        // ~12 bytes per distinct link: the most links per byte.
        dense_links.push_str(&format!("<a href={i:x}>"));
        i += 1;
    }
    let mut same_link = String::with_capacity(target + 16);
    while same_link.len() < target {
        same_link.push_str("<a href=/x>");
    }
    let mut long_links = String::with_capacity(target + 8192);
    i = 0;
    while long_links.len() < target {
        // Distinct links near canon::MAX_URL_LEN.
        long_links.push_str(&format!("<a href='/{i}/{}'>", "p".repeat(8000)));
        i += 1;
    }
    let huge_attr = format!("<a title='{}' href=/h>", "x".repeat(target));
    let huge_href = format!("<a href='/{}'>", "y".repeat(target));
    let base_last = {
        let mut s = String::with_capacity(target + 64);
        i = 0;
        while s.len() < target {
            s.push_str(&format!("<a href=p{i}>"));
            i += 1;
        }
        s.push_str("<base href=https://cdn.example.net/>");
        s
    };
    let divs = "<div>".repeat(target / 5);
    vec![
        ("links: <a href=N> (12 B/link)", dense_links),
        ("links: same href repeated", same_link),
        ("links: 8 KB distinct hrefs", long_links),
        ("huge attribute value", huge_attr),
        ("huge href", huge_href),
        ("links, then <base> last", base_last),
        ("<div> repeated", divs),
    ]
}
