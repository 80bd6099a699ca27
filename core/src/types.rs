//! Which kinds of content a crawl spends requests and bytes on.
//!
//! A crawler that follows every link downloads every PDF, archive and video
//! a site links to, only to record that it is not HTML. Two checks keep
//! that cost near zero, and [`ContentTypes`] holds both:
//!
//! * **before the request**: a link whose path ends in a known non-HTML
//!   extension ([`IGNORED_EXTENSIONS`], Scrapy's list plus web fonts) is not
//!   queued;
//! * **after the head**: a response whose `Content-Type` is neither HTML nor
//!   (for a sitemap) XML is recorded from its head alone: its body is never
//!   read, so it costs one round trip, not its size.
//!
//! `accept` widens both: an accepted MIME type's body is read and hashed
//! (never parsed: only HTML is), and links with its usual extensions are
//! queued. `all` turns both checks off (every link queued, every body
//! read), the behaviour before these checks existed. A response without a
//! `Content-Type` is read as before: its first bytes say whether it is HTML.

/// Extensions (lowercase, without the dot) of links not queued by default:
/// Scrapy's `IGNORED_EXTENSIONS` (archives, images, audio, video, office
/// documents, and `css`, `pdf`, `js`, executables...), plus web fonts.
pub const IGNORED_EXTENSIONS: &[&str] = &[
    // archives
    "7z", "7zip", "bz2", "rar", "tar", "tar.gz", "xz", "zip", //
    // images
    "mng", "pct", "bmp", "gif", "jpg", "jpeg", "png", "pst", "psp", "tif", "tiff", "ai", "drw",
    "dxf", "eps", "ps", "svg", "cdr", "ico", "webp", //
    // audio
    "mp3", "wma", "ogg", "wav", "ra", "aac", "mid", "au", "aiff", //
    // video
    "3gp", "asf", "asx", "avi", "mov", "mp4", "mpg", "qt", "rm", "swf", "wmv", "m4a", "m4v", "flv",
    "webm", //
    // office suites
    "xls", "xlsm", "xlsx", "xltm", "xltx", "potm", "potx", "ppt", "pptm", "pptx", "pps", "doc",
    "docb", "docm", "docx", "dotm", "dotx", "odt", "ods", "odg", "odp", //
    // other
    "css", "pdf", "exe", "bin", "rss", "dmg", "iso", "apk", "jar", "sh", "rb", "js", "hta", "bat",
    "cpl", "msi", "msp", "py", //
    // fonts (not in Scrapy's list)
    "woff", "woff2", "ttf", "otf", "eot",
];

/// The usual MIME type of some ignored extensions, so that accepting a type
/// (`application/pdf`, `image/*`) also queues its links.
const EXTENSION_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("7z", "application/x-7z-compressed"),
    ("tar", "application/x-tar"),
    ("tar.gz", "application/gzip"),
    ("bz2", "application/x-bzip2"),
    ("xz", "application/x-xz"),
    ("rar", "application/vnd.rar"),
    ("gif", "image/gif"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("aac", "audio/aac"),
    ("m4a", "audio/mp4"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("webm", "video/webm"),
    ("mov", "video/quicktime"),
    ("avi", "video/x-msvideo"),
    ("mpg", "video/mpeg"),
    ("css", "text/css"),
    ("js", "text/javascript"),
    ("rss", "application/rss+xml"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
];

/// The content-type policy of a crawl.
///
/// ```
/// use semcrawl_core::types::ContentTypes;
/// let t = ContentTypes::default();
/// assert!(!t.queues(&"https://a.test/report.PDF".parse().unwrap()));
/// assert!(t.queues(&"https://a.test/post.html".parse().unwrap()));
/// assert!(!t.reads(Some("application/pdf"), false));
/// assert!(t.reads(Some("text/html; charset=utf-8"), false));
/// assert!(t.reads(Some("application/xml"), true));
/// let t = ContentTypes::new(vec!["application/pdf".into()], false);
/// assert!(t.queues(&"https://a.test/report.pdf".parse().unwrap()));
/// assert!(t.reads(Some("application/pdf"), false));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentTypes {
    /// Accepted MIME types besides HTML, lowercase: `type/subtype` or `type/*`.
    accept: Vec<String>,
    /// Every type accepted, every link queued.
    all: bool,
}

impl ContentTypes {
    /// The policy with `accept`ed types (`type/subtype` or `type/*`, any
    /// case) besides HTML, or `all` of them.
    pub fn new(accept: Vec<String>, all: bool) -> Self {
        let accept = accept
            .into_iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        ContentTypes { accept, all }
    }

    /// Whether a link to `url` is worth queueing: its path does not end in
    /// an ignored extension, or that extension's type is accepted.
    pub fn queues(&self, url: &url::Url) -> bool {
        if self.all {
            return true;
        }
        match ignored_extension(url.path()) {
            None => true,
            Some(ext) => EXTENSION_TYPES
                .iter()
                .any(|(e, mime)| *e == ext && self.accepts(mime)),
        }
    }

    /// Whether a response with `content_type` has its body read. HTML
    /// always, XML and gzip when the response `may_be_sitemap`, accepted
    /// types, and a response without a type (sniffed); nothing else.
    pub fn reads(&self, content_type: Option<&str>, may_be_sitemap: bool) -> bool {
        let Some(mime) = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|m| !m.is_empty())
        else {
            return true;
        };
        self.all
            || mime.eq_ignore_ascii_case("text/html")
            || mime.eq_ignore_ascii_case("application/xhtml+xml")
            || (may_be_sitemap && crate::sitemap::is_sitemap_type(mime))
            || self.accepts(mime)
    }

    /// Whether `mime` (`type/subtype`, no parameters) was accepted.
    fn accepts(&self, mime: &str) -> bool {
        let mime = mime.to_ascii_lowercase();
        self.accept.iter().any(|a| match a.strip_suffix("/*") {
            Some(kind) => mime.split('/').next() == Some(kind),
            None => *a == mime,
        })
    }
}

/// Whether `mime` is a MIME type as `accept` takes it: `type/subtype` or
/// `type/*`, without parameters; the problem if not.
///
/// ```
/// use semcrawl_core::types::check_mime;
/// assert!(check_mime("application/pdf").is_ok());
/// assert!(check_mime("image/*").is_ok());
/// assert!(check_mime("pdf").is_err());
/// assert!(check_mime("text/html; charset=utf-8").is_err());
/// ```
pub fn check_mime(mime: &str) -> Result<(), &'static str> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match mime.trim().split_once('/') {
        Some((kind, sub)) if token(kind) && (sub == "*" || token(sub)) => Ok(()),
        _ => Err("expected a MIME type such as application/pdf or image/*"),
    }
}

/// The ignored extension `path` ends in, if any (ASCII case-insensitive;
/// `tar.gz` included).
fn ignored_extension(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    if ext == "gz" {
        let stem = &name[..name.len() - 3];
        return stem
            .to_ascii_lowercase()
            .ends_with(".tar")
            .then_some("tar.gz");
    }
    IGNORED_EXTENSIONS.iter().copied().find(|e| *e == ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        s.parse().unwrap()
    }

    #[test]
    fn extensions_by_the_last_path_segment() {
        let t = ContentTypes::default();
        for skipped in [
            "http://a.test/x.zip",
            "http://a.test/v/clip.MP4",
            "http://a.test/a.tar.gz",
            "http://a.test/f/font.woff2?v=3",
            "http://a.test/img/logo.png#top",
        ] {
            assert!(!t.queues(&url(skipped)), "{skipped}");
        }
        for queued in [
            "http://a.test/",
            "http://a.test/post.html",
            "http://a.test/zip/",
            "http://a.test/page?file=x.pdf",
            "http://a.test/sitemap.xml.gz",
            "http://a.test/v1.2/docs",
            "http://a.test/a.pdf/more",
        ] {
            assert!(t.queues(&url(queued)), "{queued}");
        }
        let all = ContentTypes::new(Vec::new(), true);
        assert!(all.queues(&url("http://a.test/x.zip")));
        let images = ContentTypes::new(vec!["IMAGE/*".into()], false);
        assert!(images.queues(&url("http://a.test/x.png")));
        assert!(!images.queues(&url("http://a.test/x.zip")));
    }

    #[test]
    fn bodies_read_by_type() {
        let t = ContentTypes::default();
        assert!(t.reads(None, false));
        assert!(t.reads(Some(" "), false));
        assert!(t.reads(Some("TEXT/HTML"), false));
        assert!(!t.reads(Some("application/zip"), false));
        assert!(!t.reads(Some("text/xml"), false));
        assert!(t.reads(Some("text/xml; charset=utf-8"), true));
        assert!(t.reads(Some("application/gzip"), true));
        assert!(!t.reads(Some("video/mp4"), true));
        let t = ContentTypes::new(vec!["video/*".into(), "application/pdf".into()], false);
        assert!(t.reads(Some("video/mp4"), false));
        assert!(t.reads(Some("Application/PDF"), false));
        assert!(!t.reads(Some("application/zip"), false));
        assert!(ContentTypes::new(Vec::new(), true).reads(Some("application/zip"), false));
    }
}
