//! A blog-like site: what a new user points a crawler at first.
//!
//! The generated site of `server.rs` is built to test the pipeline; this
//! one is built like a real small site, to test *which URLs* a crawl takes
//! and what they cost. It has what multiplies URLs and bytes in the wild:
//!
//! | part | paths | |
//! | --- | --- | --- |
//! | posts | `/blog/post-N.html` ([`POSTS`]) | linked from the listings, each other, and with `?ref=` duplicates |
//! | listings | `/blog/`, `/blog/page/N` | paginated, [`PER_PAGE`] posts each |
//! | shop | `/shop/`, `/shop/item-N.html` | facet links `?color=&size=&sort=&page=` on every shop page: [`FACET_URLS`] facet URLs |
//! | orphans | `/orphan/N.html` ([`ORPHANS`]) | linked from nothing: only the gzipped sitemap lists them |
//! | robots.txt | `/robots.txt` | `Sitemap:` line to `/sitemap_index.xml` |
//! | sitemaps | `/sitemap_index.xml` -> `/sitemap-posts.xml`, `/sitemap-pages.xml.gz` (`application/gzip`) | |
//! | nofollow | `/nofollow/` (`rel=nofollow`, `"nofollow ugc"`, `sponsored`, `ugc`), `/nofollow/meta.html` (meta `nofollow`), `/nofollow/none.html` (meta `none`), `/nofollow/header.html` (`X-Robots-Tag: nofollow`) | their targets are `/nf/*.html` |
//! | noindex | `/noindex/meta.html`, `/noindex/header.html` | |
//! | binaries | `/files/guide.pdf` (2 MiB), `/files/archive.zip` (5 MiB), `/media/intro.mp4` (3 MB), `/download/latest` (a 5 MiB zip without an extension), `<img src=/img/*.jpg>` | served with their real `Content-Type` |
//!
//! The server ([`BlogServer`]) speaks HTTP/1.1 with keep-alive on
//! `127.0.0.1`, one thread per connection, and counts what a crawl costs
//! the site: requests per path (with its query) and body bytes written
//! (a body the client stops reading is counted up to where it stopped).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Blog posts.
pub const POSTS: usize = 30;
/// Posts per listing page.
pub const PER_PAGE: usize = 6;
/// Listing pages (`/blog/` is the first).
pub const LISTING_PAGES: usize = POSTS.div_ceil(PER_PAGE);
/// Shop items.
pub const ITEMS: usize = 12;
/// Pages that only the sitemap lists.
pub const ORPHANS: usize = 11;
/// Facet values: each shop page links every one-value change of these.
const COLORS: [&str; 4] = ["red", "blue", "green", "black"];
const SIZES: [&str; 4] = ["s", "m", "l", "xl"];
const SORTS: [&str; 3] = ["price", "new", "name"];
const FACET_PAGES: [&str; 3] = ["1", "2", "3"];
/// Facet URLs reachable from `/shop/` (every subset of the four
/// parameters, one value each), `/shop/` itself not counted.
pub const FACET_URLS: usize =
    (COLORS.len() + 1) * (SIZES.len() + 1) * (SORTS.len() + 1) * (FACET_PAGES.len() + 1) - 1;
/// The nofollow targets, linked only in ways that ask not to follow.
pub const NOFOLLOW_TARGETS: [&str; 6] = [
    "/nf/rel.html",
    "/nf/ugc.html",
    "/nf/sponsored.html",
    "/nf/meta.html",
    "/nf/none.html",
    "/nf/header.html",
];
/// Linked with `rel="ugc"` alone: followed.
pub const UGC_ONLY: &str = "/nf/ugc-only.html";
/// Binaries linked by their extension, never requested by default.
pub const BINARIES: [&str; 3] = ["/files/guide.pdf", "/files/archive.zip", "/media/intro.mp4"];
/// A zip linked without an extension: requested, recorded from its head.
pub const DOWNLOAD: &str = "/download/latest";
/// Images, only in `<img src>`: never requested.
pub const IMAGES: [&str; 2] = ["/img/cover.jpg", "/img/logo.png"];

/// The pages a crawl with the default settings should record (sitemaps
/// included, nofollow honoured, binaries by extension skipped), shop facets
/// and `?ref=` duplicates excluded: the content of the site. Paths.
pub fn content_paths() -> Vec<String> {
    let mut p: Vec<String> = vec![
        "/".into(),
        "/about.html".into(),
        "/blog/".into(),
        "/shop/".into(),
        "/nofollow/".into(),
        "/nofollow/meta.html".into(),
        "/nofollow/none.html".into(),
        "/nofollow/header.html".into(),
        "/noindex/meta.html".into(),
        "/noindex/header.html".into(),
        UGC_ONLY.into(),
        DOWNLOAD.into(),
    ];
    p.extend((2..=LISTING_PAGES).map(|n| format!("/blog/page/{n}")));
    p.extend((1..=POSTS).map(|n| format!("/blog/post-{n}.html")));
    p.extend((1..=ITEMS).map(|n| format!("/shop/item-{n}.html")));
    p.extend((1..=ORPHANS).map(|n| format!("/orphan/{n}.html")));
    p
}

/// The sitemaps the site publishes, index first.
pub const SITEMAPS: [&str; 3] = [
    "/sitemap_index.xml",
    "/sitemap-posts.xml",
    "/sitemap-pages.xml.gz",
];

/// Requests and bytes a crawl cost the site.
#[derive(Debug, Default)]
struct Counters {
    requests: Mutex<BTreeMap<String, u64>>,
    bytes: AtomicU64,
}

/// The blog site's server on `127.0.0.1`; stops accepting when dropped
/// (connections in progress finish).
#[derive(Debug)]
pub struct BlogServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
}

impl BlogServer {
    /// Serve the blog on a fresh port.
    pub fn start() -> std::io::Result<BlogServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let c = c.clone();
                std::thread::spawn(move || serve(stream, addr, &c));
            }
        });
        Ok(BlogServer { addr, counters })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests per request target (path and query, as sent).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.counters.requests.lock().unwrap().clone()
    }

    /// How many requests arrived for `target` (path and query).
    pub fn requests_of(&self, target: &str) -> u64 {
        self.requests().get(target).copied().unwrap_or(0)
    }

    /// All requests so far.
    pub fn total_requests(&self) -> u64 {
        self.requests().values().sum()
    }

    /// Body bytes written so far.
    pub fn bytes_sent(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }
}

/// One response: status, headers, and a body (generated, or filler bytes).
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    /// This many filler bytes, written a chunk at a time.
    Filler(u64),
}

impl Reply {
    fn html(body: String) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type", "text/html; charset=utf-8".into())],
            body: Body::Bytes(body.into_bytes()),
        }
    }

    fn typed(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type", content_type.into())],
            body: Body::Bytes(body),
        }
    }

    fn binary(content_type: &str, len: u64) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type", content_type.into())],
            body: Body::Filler(len),
        }
    }

    fn not_found() -> Reply {
        Reply {
            status: "404 Not Found",
            headers: vec![("Content-Type", "text/html".into())],
            body: Body::Bytes(b"<title>Not found</title>".to_vec()),
        }
    }

    fn with(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

fn serve(stream: TcpStream, addr: SocketAddr, counters: &Counters) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim_end().is_empty() {
                break;
            }
        }
        *counters
            .requests
            .lock()
            .unwrap()
            .entry(target.clone())
            .or_default() += 1;
        let reply = route(&target, addr);
        if write_reply(&mut writer, reply, counters).is_err() {
            return;
        }
    }
}

fn write_reply(w: &mut TcpStream, reply: Reply, counters: &Counters) -> std::io::Result<()> {
    let len = match &reply.body {
        Body::Bytes(b) => b.len() as u64,
        Body::Filler(n) => *n,
    };
    let mut head = format!("HTTP/1.1 {}\r\nContent-Length: {len}\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    match reply.body {
        Body::Bytes(b) => {
            w.write_all(&b)?;
            counters.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        Body::Filler(n) => {
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                w.write_all(&chunk[..k])?;
                counters.bytes.fetch_add(k as u64, Ordering::Relaxed);
                left -= k as u64;
            }
        }
    }
    w.flush()
}

fn page(title: &str, head_extra: &str, body: &str) -> String {
    // Some prose, so pages weigh what blog pages weigh.
    let prose = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
                 tempor incididunt ut labore et dolore magna aliqua.</p>"
        .repeat(12);
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>\
         <meta name=description content=\"{title} on the test blog\">{head_extra}\
         <link rel=stylesheet href=/static/site.css><script src=/static/site.js></script></head>\
         <body><nav><a href=/>Home</a> <a href=/blog/>Blog</a> <a href=/shop/>Shop</a> \
         <a href=/about.html>About</a></nav><main><h1>{title}</h1>{body}{prose}</main>\
         <footer><img src=/img/logo.png alt=logo></footer></body></html>"
    )
}

fn route(target: &str, addr: SocketAddr) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/" => Reply::html(page(
            "Home",
            "",
            &format!(
                "<a href=/blog/>Latest posts</a> <a href=/blog/post-1.html?ref=home>Featured</a> \
                 <a href=/shop/>Shop</a> <a href=/nofollow/>Links</a> \
                 <a href=/noindex/meta.html>Draft</a> <a href=/noindex/header.html>Draft 2</a> \
                 <a href={}>Guide (PDF)</a> <a href={}>Archive</a> <a href={}>Video</a> \
                 <a href={DOWNLOAD}>Download</a> <img src=/img/cover.jpg>",
                BINARIES[0], BINARIES[1], BINARIES[2]
            ),
        )),
        "/about.html" => Reply::html(page("About", "", "<p>About this blog.</p>")),
        "/blog/" => listing(1),
        p if p.starts_with("/blog/page/") => match p["/blog/page/".len()..].parse::<usize>() {
            Ok(n) if (2..=LISTING_PAGES).contains(&n) => listing(n),
            _ => Reply::not_found(),
        },
        p if p.starts_with("/blog/post-") && p.ends_with(".html") => {
            match p["/blog/post-".len()..p.len() - 5].parse::<usize>() {
                Ok(n) if (1..=POSTS).contains(&n) => post(n),
                _ => Reply::not_found(),
            }
        }
        "/shop/" => shop(query),
        p if p.starts_with("/shop/item-") && p.ends_with(".html") => {
            match p["/shop/item-".len()..p.len() - 5].parse::<usize>() {
                Ok(n) if (1..=ITEMS).contains(&n) => Reply::html(page(
                    &format!("Item {n}"),
                    "",
                    &format!(
                        "<a href=/shop/?ref=item{n}>Back to the shop</a> <img src=/img/cover.jpg>"
                    ),
                )),
                _ => Reply::not_found(),
            }
        }
        p if p.starts_with("/orphan/") && p.ends_with(".html") => {
            match p["/orphan/".len()..p.len() - 5].parse::<usize>() {
                Ok(n) if (1..=ORPHANS).contains(&n) => Reply::html(page(
                    &format!("Old page {n}"),
                    "",
                    "<p>Only in the sitemap.</p>",
                )),
                _ => Reply::not_found(),
            }
        }
        "/nofollow/" => Reply::html(page(
            "Links",
            "",
            &format!(
                "<a rel=nofollow href={}>a</a> <a rel=\"nofollow ugc\" href={}>b</a> \
                 <a rel=sponsored href={}>c</a> <a rel=ugc href={UGC_ONLY}>d</a> \
                 <a href=/nofollow/meta.html>meta</a> <a href=/nofollow/none.html>none</a> \
                 <a href=/nofollow/header.html>header</a>",
                NOFOLLOW_TARGETS[0], NOFOLLOW_TARGETS[1], NOFOLLOW_TARGETS[2]
            ),
        )),
        "/nofollow/meta.html" => Reply::html(page(
            "Meta nofollow",
            "<meta name=robots content=\"index, nofollow\">",
            &format!("<a href={}>x</a>", NOFOLLOW_TARGETS[3]),
        )),
        "/nofollow/none.html" => Reply::html(page(
            "Meta none",
            "<meta name=ROBOTS content=none>",
            &format!("<a href={}>x</a>", NOFOLLOW_TARGETS[4]),
        )),
        "/nofollow/header.html" => Reply::html(page(
            "Header nofollow",
            "",
            &format!("<a href={}>x</a>", NOFOLLOW_TARGETS[5]),
        ))
        .with("X-Robots-Tag", "nofollow"),
        "/noindex/meta.html" => Reply::html(page(
            "Meta noindex",
            "<meta name=robots content=noindex>",
            "<p>Not for search engines.</p>",
        )),
        "/noindex/header.html" => {
            Reply::html(page("Header noindex", "", "<p>Not for search engines.</p>"))
                .with("X-Robots-Tag", "noindex")
        }
        p if p.starts_with("/nf/") => Reply::html(page("Nofollow target", "", "<p>.</p>")),
        "/files/guide.pdf" => Reply::binary("application/pdf", 2 << 20),
        "/files/archive.zip" => Reply::binary("application/zip", 5 << 20),
        "/media/intro.mp4" => Reply::binary("video/mp4", 3_000_000),
        DOWNLOAD => Reply::binary("application/zip", 5 << 20),
        "/img/cover.jpg" => Reply::binary("image/jpeg", 200_000),
        "/img/logo.png" => Reply::binary("image/png", 20_000),
        "/static/site.css" => Reply::typed("text/css", b"body{margin:0}".to_vec()),
        "/static/site.js" => Reply::typed("text/javascript", b"void 0".to_vec()),
        "/robots.txt" => Reply::typed(
            "text/plain",
            format!(
                "User-agent: *\nDisallow: /cart/\n\nSitemap: http://{addr}/sitemap_index.xml\n"
            )
            .into_bytes(),
        ),
        "/sitemap_index.xml" => Reply::typed(
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n\
                 <sitemap><loc>http://{addr}/sitemap-posts.xml</loc></sitemap>\n\
                 <sitemap><loc>http://{addr}/sitemap-pages.xml.gz</loc></sitemap>\n\
                 </sitemapindex>\n"
            )
            .into_bytes(),
        ),
        "/sitemap-posts.xml" => {
            let urls = (1..=POSTS).map(|n| format!("http://{addr}/blog/post-{n}.html"));
            Reply::typed("application/xml", urlset(urls).into_bytes())
        }
        "/sitemap-pages.xml.gz" => {
            let urls = (1..=ORPHANS)
                .map(|n| format!("http://{addr}/orphan/{n}.html"))
                .chain([format!("http://{addr}/about.html")]);
            Reply::typed("application/gzip", gzip(urlset(urls).as_bytes()))
        }
        _ => Reply::not_found(),
    }
}

fn urlset(urls: impl Iterator<Item = String>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for u in urls {
        out.push_str(&format!(
            "<url><loc>{u}</loc><lastmod>2024-05-01</lastmod></url>\n"
        ));
    }
    out.push_str("</urlset>\n");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("in memory");
    gz.finish().expect("in memory")
}

fn listing(n: usize) -> Reply {
    let mut body = String::new();
    let first = (n - 1) * PER_PAGE + 1;
    for p in first..(first + PER_PAGE).min(POSTS + 1) {
        body.push_str(&format!(
            "<article><h2><a href=/blog/post-{p}.html>Post {p}</a></h2>\
             <a href=/blog/post-{p}.html?ref=list>Read more</a></article>"
        ));
    }
    if n > 1 {
        let prev = if n == 2 {
            "/blog/".to_string()
        } else {
            format!("/blog/page/{}", n - 1)
        };
        body.push_str(&format!("<a rel=prev href={prev}>Newer</a> "));
    }
    if n < LISTING_PAGES {
        body.push_str(&format!("<a rel=next href=/blog/page/{}>Older</a>", n + 1));
    }
    Reply::html(page(&format!("Blog, page {n}"), "", &body))
}

fn post(n: usize) -> Reply {
    // Posts 1..=POSTS-ORPHAN-like tail: the last few are linked from the
    // listings only, like most blogs' older posts.
    let related = [(n % POSTS) + 1, ((n + 6) % POSTS) + 1];
    let body = format!(
        "<p>Post number {n}.</p><img src=/img/cover.jpg alt=cover>\
         <a href=/blog/post-{}.html?ref=related>Related</a> \
         <a href=/blog/post-{}.html?ref=related>More</a> \
         <a href=/blog/post-{n}.html?ref=share>Share</a> \
         <a href=/blog/>All posts</a>",
        related[0], related[1]
    );
    Reply::html(page(&format!("Post {n}"), "", &body))
}

fn shop(query: &str) -> Reply {
    let params: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let facets: [(&str, &[&str]); 4] = [
        ("color", &COLORS),
        ("size", &SIZES),
        ("sort", &SORTS),
        ("page", &FACET_PAGES),
    ];
    let mut body = String::from("<ul>");
    for i in 1..=ITEMS {
        body.push_str(&format!(
            "<li><a href=/shop/item-{i}.html>Item {i}</a> <a href=/shop/item-{i}.html?ref=shop>Buy</a></li>"
        ));
    }
    body.push_str("</ul><aside>");
    // Every one-value change of the current facets: the facet explosion.
    for (name, values) in facets {
        for v in values {
            let mut next = params.clone();
            next.retain(|k, _| facets.iter().any(|(f, _)| f == k));
            next.insert(name, v);
            let q: Vec<String> = facets
                .iter()
                .filter_map(|(f, _)| next.get(f).map(|v| format!("{f}={v}")))
                .collect();
            body.push_str(&format!(
                "<a href=\"/shop/?{}\">{name} {v}</a> ",
                q.join("&amp;")
            ));
        }
    }
    body.push_str("</aside>");
    Reply::html(page("Shop", "", &body))
}
