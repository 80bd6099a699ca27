//! Sitemaps: the URLs a site lists for crawlers, read as a stream.
//!
//! Pages that nothing links to (old posts, landing pages) are found only
//! through a site's sitemaps. A crawl reads, for each host it crawls, the
//! `Sitemap:` lines of its robots.txt, or `/sitemap.xml` when there are
//! none, and any seed that turns out to be a sitemap. A sitemap is either a
//! `<urlset>` (page URLs) or a `<sitemapindex>` (more sitemaps); either may
//! be gzipped (`.xml.gz`, served as `application/gzip`).
//!
//! # Memory
//!
//! A sitemap can hold 50,000 URLs in 50 MB of XML, and a gzipped one
//! inflates a hundredfold. Neither is ever held as a tree: the body is read
//! like a page's (under the byte gate and the body cap), then [`Scanner`]
//! reads it as a stream of bytes looking only for `<loc>` elements, and a
//! gzipped body is inflated a chunk at a time into that scanner, the
//! inflated size counted against the body cap. What is kept is the URLs,
//! at most [`MAX_URLS_PER_SITEMAP`], whose bytes the page task reserves in
//! the byte gate beforehand ([`reserve`]).
//!
//! # Limits
//!
//! Per host, at most [`MAX_SITEMAPS_PER_HOST`] sitemaps are fetched and
//! [`MAX_SITEMAP_URLS_PER_HOST`] URLs taken from them (the rest are
//! dropped, counted in the summary); the URLs taken obey scope, the
//! include/exclude filters, the ignored extensions and robots.txt, like
//! links. **Depth**: a sitemap is an entry point, like a seed: it has the
//! depth of the page that led to it (0 for sitemaps found through
//! robots.txt or `/sitemap.xml`, and for children of an index at depth 0),
//! and the URLs it lists are one deeper (1), as if linked from the seed.
//! So `--max-depth 0` reads no sitemap.

use flate2::{Decompress, FlushDecompress, Status};
use url::Url;

use crate::canon;

/// The most URLs (`<loc>`s) taken from one sitemap: the protocol's own
/// limit per file.
pub const MAX_URLS_PER_SITEMAP: usize = 50_000;

/// The most sitemaps (indexes included) fetched per host.
pub const MAX_SITEMAPS_PER_HOST: usize = 64;

/// The most URLs taken from the sitemaps of one host.
pub const MAX_SITEMAP_URLS_PER_HOST: usize = 200_000;

/// Heap bytes one URL found in a sitemap may cost while it is held (the
/// `Url`, its text and its slot), for [`reserve`].
const BYTES_PER_URL: u64 = 256;

/// The longest `<loc>` text kept; longer ones are dropped (a URL that long
/// is refused by the frontier anyway).
const MAX_LOC_LEN: usize = crate::frontier::MAX_URL_LEN;

/// Inflated bytes handed to the scanner at a time.
const CHUNK: usize = 16 * 1024;

/// What a sitemap lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<urlset>`: page URLs.
    UrlSet,
    /// `<sitemapindex>`: more sitemaps.
    Index,
}

/// A sitemap read: what it lists, and the URLs (absolute, canonical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sitemap {
    /// Page URLs or sitemaps.
    pub kind: Kind,
    /// At most [`MAX_URLS_PER_SITEMAP`], in document order.
    pub urls: Vec<Url>,
    /// `<loc>`s beyond [`MAX_URLS_PER_SITEMAP`], dropped.
    pub dropped: u64,
}

/// Why a body could not be read as a sitemap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// More than the body cap once inflated.
    TooLarge,
    /// A corrupt or truncated gzip stream.
    Corrupt(String),
}

/// Whether a response of MIME type `mime` (no parameters) may be a
/// sitemap: XML, gzip, or an untyped binary (some servers serve `.xml.gz`
/// so).
///
/// ```
/// use semcrawl_core::sitemap::is_sitemap_type;
/// assert!(is_sitemap_type("application/xml"));
/// assert!(is_sitemap_type("Text/XML"));
/// assert!(is_sitemap_type("application/x-gzip"));
/// assert!(!is_sitemap_type("text/html"));
/// ```
pub fn is_sitemap_type(mime: &str) -> bool {
    let m = mime.trim().to_ascii_lowercase();
    matches!(
        m.as_str(),
        "text/xml"
            | "application/xml"
            | "application/gzip"
            | "application/x-gzip"
            | "application/octet-stream"
    )
}

/// Whether `url` is worth reading as a sitemap when its response allows:
/// its path ends in `.xml` or `.xml.gz`.
pub fn looks_like_sitemap(url: &Url) -> bool {
    let p = url.path().to_ascii_lowercase();
    p.ends_with(".xml") || p.ends_with(".xml.gz")
}

/// Bytes to reserve in the byte gate before reading a `len`-byte body as
/// a sitemap, whose inflated size is at most `max_body`: the URLs it can
/// hold, at a few hundred bytes each.
pub fn reserve(body: &[u8], max_body: u64) -> u64 {
    // A `<url><loc>..</loc></url>` costs about 24 bytes of markup.
    let bound = if is_gzip(body) {
        max_body
    } else {
        body.len() as u64
    };
    let urls = (bound / 24).min(MAX_URLS_PER_SITEMAP as u64);
    urls * BYTES_PER_URL
}

/// Whether `body` starts with the gzip magic number.
pub fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

/// Read `body` (fetched from `url`) as a sitemap, inflating it first if it
/// is gzipped, with at most `max_body` inflated bytes. `Ok(None)`: it is
/// not a sitemap (another XML document, HTML). `Err`: a corrupt or
/// oversized gzip stream.
///
/// ```
/// use semcrawl_core::sitemap::{read, Kind};
/// let xml = br#"<?xml version="1.0"?>
/// <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
///   <url><loc> https://a.test/a?x=1&amp;y=2 </loc></url>
///   <url><loc><![CDATA[https://a.test/b]]></loc><image:image><image:loc>https://a.test/i.png</image:loc></image:image></url>
/// </urlset>"#;
/// let base = "https://a.test/sitemap.xml".parse().unwrap();
/// let map = read(xml, &base, 1 << 20).unwrap().unwrap();
/// assert_eq!(map.kind, Kind::UrlSet);
/// let urls: Vec<&str> = map.urls.iter().map(|u| u.as_str()).collect();
/// assert_eq!(urls, ["https://a.test/a?x=1&y=2", "https://a.test/b"]);
/// assert_eq!(read(b"<html><a href=x>", &base, 1 << 20).unwrap(), None);
/// ```
pub fn read(body: &[u8], url: &Url, max_body: u64) -> Result<Option<Sitemap>, ReadError> {
    let mut scanner = Scanner::default();
    if is_gzip(body) {
        let mut inflate = Decompress::new(false);
        // The gzip header: skip its optional fields to reach the deflate
        // stream (the raw inflater knows no gzip framing).
        let corrupt = |m: String| ReadError::Corrupt(m);
        let start =
            skip_gzip_header(body).ok_or_else(|| corrupt("truncated gzip sitemap".into()))?;
        let mut input = &body[start..];
        let mut out = vec![0u8; CHUNK];
        loop {
            let before_in = inflate.total_in();
            let before_out = inflate.total_out();
            let status = inflate
                .decompress(input, &mut out, FlushDecompress::None)
                .map_err(|e| corrupt(format!("corrupt gzip sitemap: {e}")))?;
            let read = (inflate.total_in() - before_in) as usize;
            let wrote = (inflate.total_out() - before_out) as usize;
            input = &input[read..];
            if inflate.total_out() > max_body {
                return Err(ReadError::TooLarge);
            }
            scanner.feed(&out[..wrote]);
            if scanner.is_done() || status == Status::StreamEnd {
                break;
            }
            if read == 0 && wrote == 0 {
                return Err(corrupt("truncated gzip sitemap".into()));
            }
        }
    } else {
        scanner.feed(body);
    }
    Ok(scanner.finish(url))
}

/// Where the deflate stream of a gzip member starts (RFC 1952), or `None`
/// if the header is cut short.
fn skip_gzip_header(b: &[u8]) -> Option<usize> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    const FHCRC: u8 = 2;
    let flags = *b.get(3)?;
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize;
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += b.get(at..)?.iter().position(|&c| c == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    (at <= b.len()).then_some(at)
}

/// What the scanner is inside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Text between tags.
    #[default]
    Text,
    /// After `<`, up to the matching `>`.
    Tag,
}

/// A streaming scanner for the `<loc>`s of a sitemap: bytes in, URLs out,
/// with nothing but the current tag and the current `<loc>` text held.
///
/// It knows just enough XML for sitemaps: elements (any namespace prefix),
/// comments, CDATA sections, processing instructions, and the five
/// predefined and numeric character references. A `<loc>` counts when it is
/// a child of a `<url>` (in a `<urlset>`) or a `<sitemap>` (in a
/// `<sitemapindex>`), so the `<image:loc>` of an image extension does not.
#[derive(Debug, Default)]
pub struct Scanner {
    mode: Mode,
    /// The current tag's bytes after `<` (capped).
    tag: Vec<u8>,
    /// Bytes of the current tag beyond the cap.
    tag_overflow: bool,
    /// The last two bytes of the current tag (to find `-->` and `]]>`).
    tail: [u8; 2],
    kind: Option<Kind>,
    /// The root element is not a sitemap's: stop.
    not_sitemap: bool,
    /// Element depth (the root is 1).
    depth: usize,
    /// Depth of the open `<url>` or `<sitemap>`.
    entry: Option<usize>,
    /// The open `<loc>`'s text, raw (`None` outside one).
    loc: Option<Vec<u8>>,
    locs: Vec<String>,
    dropped: u64,
}

impl Scanner {
    /// Scan the next bytes of the document.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.not_sitemap {
                return;
            }
            match self.mode {
                Mode::Text => {
                    if b == b'<' {
                        self.mode = Mode::Tag;
                        self.tag.clear();
                        self.tag_overflow = false;
                        self.tail = [0, 0];
                    } else if let Some(loc) = &mut self.loc {
                        if loc.len() <= MAX_LOC_LEN * 2 {
                            loc.push(b);
                        }
                    }
                }
                Mode::Tag => {
                    if b == b'>' && self.tag_ends() {
                        self.mode = Mode::Text;
                        self.end_tag();
                        continue;
                    }
                    if self.tag.len() < MAX_LOC_LEN * 2 {
                        self.tag.push(b);
                    } else {
                        self.tag_overflow = true;
                    }
                    self.tail = [self.tail[1], b];
                }
            }
        }
    }

    /// Whether nothing more can be found (the root is not a sitemap's).
    pub fn is_done(&self) -> bool {
        self.not_sitemap
    }

    /// Whether a `>` now closes the tag: a comment needs `--` before it, a
    /// CDATA section `]]`.
    fn tag_ends(&self) -> bool {
        if self.tag.starts_with(b"!--") {
            self.tag.len() >= 5 && self.tail == *b"--"
        } else if self.tag.starts_with(b"![CDATA[") {
            self.tag.len() >= 10 && self.tail == *b"]]"
        } else {
            true
        }
    }

    fn end_tag(&mut self) {
        let tag = std::mem::take(&mut self.tag);
        if let Some(cdata) = tag.strip_prefix(b"![CDATA[") {
            if let (Some(loc), false) = (&mut self.loc, self.tag_overflow) {
                loc.extend_from_slice(&cdata[..cdata.len() - 2]);
            }
        } else if tag.starts_with(b"!") || tag.starts_with(b"?") {
            // A comment, a doctype, a processing instruction.
        } else if let Some(name) = tag.strip_prefix(b"/") {
            self.close(local_name(name));
        } else {
            let self_closing = tag.ends_with(b"/");
            self.open(local_name(&tag), self_closing);
        }
        self.tag = tag;
    }

    fn open(&mut self, name: &[u8], self_closing: bool) {
        self.depth += 1;
        if self.depth == 1 {
            match name {
                b"urlset" => self.kind = Some(Kind::UrlSet),
                b"sitemapindex" => self.kind = Some(Kind::Index),
                _ => self.not_sitemap = true,
            }
        } else if self.depth == 2 {
            let entry = match self.kind {
                Some(Kind::UrlSet) => b"url".as_slice(),
                _ => b"sitemap".as_slice(),
            };
            if name == entry {
                self.entry = Some(2);
            }
        } else if self.depth == 3 && self.entry == Some(2) && name == b"loc" {
            self.loc = Some(Vec::new());
        }
        if self_closing {
            self.close(name);
        }
    }

    fn close(&mut self, name: &[u8]) {
        if self.depth == 3 && name == b"loc" {
            if let Some(loc) = self.loc.take() {
                if self.locs.len() < MAX_URLS_PER_SITEMAP {
                    if let Some(text) = unescape(&loc) {
                        self.locs.push(text);
                    }
                } else {
                    self.dropped += 1;
                }
            }
        }
        if self.depth == 2 {
            self.entry = None;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// The sitemap found, its URLs resolved against `url` (the sitemap's
    /// own) and made canonical; `None` if the document is not a sitemap.
    pub fn finish(self, url: &Url) -> Option<Sitemap> {
        let kind = self.kind.filter(|_| !self.not_sitemap)?;
        let urls = self
            .locs
            .iter()
            .filter_map(|l| canon::resolve(url, l))
            .collect();
        Some(Sitemap {
            kind,
            urls,
            dropped: self.dropped,
        })
    }
}

/// An element's name without its namespace prefix and attributes.
fn local_name(tag: &[u8]) -> &[u8] {
    let end = tag
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'/')
        .unwrap_or(tag.len());
    let name = &tag[..end];
    match name.iter().rposition(|&c| c == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// A `<loc>`'s text with XML character references replaced and
/// surrounding whitespace trimmed; `None` if empty, too long or not UTF-8.
fn unescape(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.is_empty() || text.len() > MAX_LOC_LEN * 2 {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    (out.len() <= MAX_LOC_LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn base() -> Url {
        "https://a.test/sitemap.xml".parse().unwrap()
    }

    fn urls(map: &Sitemap) -> Vec<&str> {
        map.urls.iter().map(Url::as_str).collect()
    }

    const INDEX: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <loc>https://a.test/not</loc> and > inside -->
<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sm:sitemap><sm:loc>https://a.test/posts.xml</sm:loc><sm:lastmod>2024-01-01</sm:lastmod></sm:sitemap>
  <sm:sitemap>
    <sm:loc>
      /pages.xml.gz
    </sm:loc>
  </sm:sitemap>
</sm:sitemapindex>"#;

    #[test]
    fn an_index_in_any_chunking() {
        for chunk in [1, 2, 3, 7, 64, INDEX.len()] {
            let mut s = Scanner::default();
            for part in INDEX.chunks(chunk) {
                s.feed(part);
            }
            let map = s.finish(&base()).unwrap();
            assert_eq!(map.kind, Kind::Index);
            assert_eq!(
                urls(&map),
                ["https://a.test/posts.xml", "https://a.test/pages.xml.gz"],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn gzip_is_inflated_and_capped() {
        let mut xml = String::from("<urlset>");
        for i in 0..2000 {
            xml.push_str(&format!("<url><loc>https://a.test/p/{i}</loc></url>"));
        }
        xml.push_str("</urlset>");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(xml.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let map = read(&gz, &base(), 1 << 20).unwrap().unwrap();
        assert_eq!(map.urls.len(), 2000);
        assert_eq!(map.urls[1999].as_str(), "https://a.test/p/1999");
        assert_eq!(read(&gz, &base(), 1000).unwrap_err(), ReadError::TooLarge);
        assert!(matches!(
            read(&gz[..gz.len() / 2], &base(), 1 << 20),
            Err(ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn other_documents_are_not_sitemaps() {
        for doc in [
            &b"<rss><channel><link>https://a.test/</link></channel></rss>"[..],
            b"<!doctype html><html><body><loc>x</loc>",
            b"",
            b"plain text",
        ] {
            assert_eq!(read(doc, &base(), 1 << 20).unwrap(), None);
        }
    }

    #[test]
    fn bad_locs_are_skipped_and_the_cap_holds() {
        let mut xml =
            String::from("<urlset><url><loc></loc></url><url><loc>mailto:x@y</loc></url>");
        xml.push_str("<url><loc>https://a.test/&#x41;&#66;&bogus;&amp;</loc></url>");
        for i in 0..MAX_URLS_PER_SITEMAP + 3 {
            xml.push_str(&format!("<url><loc>/{i}</loc></url>"));
        }
        let map = read(xml.as_bytes(), &base(), 1 << 30).unwrap().unwrap();
        assert_eq!(map.urls[0].as_str(), "https://a.test/AB&bogus;&");
        // The mailto: counted as taken, then dropped as not crawlable.
        assert_eq!(map.urls.len(), MAX_URLS_PER_SITEMAP - 1);
        assert_eq!(map.dropped, 5);
    }
}
