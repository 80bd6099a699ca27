//! The record: one per URL fetched, success or failure.
//!
//! Failures are records too (with [`Record::error`] set), so "nothing is lost"
//! can be checked by counting lines: every page the crawler fetched is in the
//! store exactly once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What happened to one URL.
///
/// ```
/// use semcrawl_core::Record;
/// let r = Record::new("https://example.com/", 0, None);
/// let json = serde_json::to_string(&r).unwrap();
/// assert!(json.contains("\"url\":\"https://example.com/\""));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The canonical URL that was requested.
    pub url: String,
    /// Where the response came from (differs from `url` when a browser
    /// followed redirects, or is the `Location` of a 3xx response).
    pub final_url: Option<String>,
    /// HTTP status, or `null` if no response head arrived.
    pub status: Option<u16>,
    /// Link distance from the nearest seed (seeds are depth 0).
    pub depth: u32,
    /// The canonical URL of the page this one was found on.
    pub parent: Option<String>,
    /// `<title>` text, whitespace-collapsed.
    pub title: Option<String>,
    /// `<meta name=description>` content.
    pub description: Option<String>,
    /// `<html lang>` (or `Content-Language`).
    pub lang: Option<String>,
    /// `<link rel=canonical>` as an absolute URL.
    pub canonical: Option<String>,
    /// Number of distinct crawlable links found on the page.
    pub links_count: usize,
    /// The links themselves (canonical form), only with `--links`: the
    /// first of them, up to [`MAX_RECORD_LINKS_BYTES`] of URL text (a page
    /// of ten thousand 7 KiB links would otherwise make a 70 MiB record);
    /// `links_count` counts them all.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub links: Option<Vec<String>>,
    /// User fields from `--select NAME=CSS`: the first match's value, or
    /// every match's (`NAME[]=CSS`); `None` when nothing matched a
    /// single-value field.
    pub fields: BTreeMap<String, Option<FieldValue>>,
    /// Visible text, only with `--text`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// Decoded body bytes read.
    pub bytes: u64,
    /// SHA-256 of the decoded body, hex.
    pub sha256: Option<String>,
    /// When the fetch started, milliseconds since the Unix epoch.
    pub fetched_at: u64,
    /// Milliseconds from request to the end of parsing.
    pub elapsed_ms: u64,
    /// Retries spent on this URL.
    pub retries: u32,
    /// The page asks not to be indexed (`<meta name="robots"
    /// content="noindex">` or an `X-Robots-Tag: noindex` header). Written
    /// only when `true` in JSON.
    #[serde(skip_serializing_if = "is_false", default)]
    pub noindex: bool,
    /// `null` on success.
    pub error: Option<RecordError>,
}

impl Record {
    /// An empty record for `url` at `depth`, found on `parent`.
    pub fn new(url: &str, depth: u32, parent: Option<&str>) -> Self {
        Record {
            url: url.to_owned(),
            final_url: None,
            status: None,
            depth,
            parent: parent.map(str::to_owned),
            title: None,
            description: None,
            lang: None,
            canonical: None,
            links_count: 0,
            links: None,
            fields: BTreeMap::new(),
            text: None,
            content_type: None,
            bytes: 0,
            sha256: None,
            fetched_at: 0,
            elapsed_ms: 0,
            retries: 0,
            noindex: false,
            error: None,
        }
    }

    /// A rough count of the heap bytes this record holds, charged to the
    /// byte gate while the record waits for the store.
    pub fn heap_size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + self.url.len()
            + opt(&self.final_url)
            + opt(&self.parent)
            + opt(&self.title)
            + opt(&self.description)
            + opt(&self.lang)
            + opt(&self.canonical)
            + self
                .links
                .as_ref()
                .map_or(0, |l| l.iter().map(|s| s.len() + 24).sum())
            + self
                .fields
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, FieldValue::heap_size) + 64)
                .sum::<usize>()
            + opt(&self.text)
            + opt(&self.content_type)
            + 64
            + self.error.as_ref().map_or(0, |e| e.message.len() + 32)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Most bytes of URL text a record's [`links`](Record::links) keep.
pub const MAX_RECORD_LINKS_BYTES: usize = 1 << 20;

/// The value of a user field: one text (`NAME=CSS`), or the list of every
/// match's (`NAME[]=CSS`). Serialized as a JSON string or an array of them.
///
/// ```
/// use semcrawl_core::FieldValue;
/// let one = FieldValue::from("3 €");
/// assert_eq!(serde_json::to_string(&one).unwrap(), r#""3 €""#);
/// let all = FieldValue::All(vec!["a".into(), "b".into()]);
/// assert_eq!(serde_json::to_string(&all).unwrap(), r#"["a","b"]"#);
/// assert_eq!(one.as_text(), Some("3 €"));
/// assert_eq!(all.as_list(), &["a".to_owned(), "b".to_owned()][..]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// The first match's text or attribute.
    One(String),
    /// Every match's, in document order.
    All(Vec<String>),
}

impl FieldValue {
    /// The text of a single-value field (`None` for a list).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::One(s) => Some(s),
            FieldValue::All(_) => None,
        }
    }

    /// The values, one or many.
    pub fn as_list(&self) -> &[String] {
        match self {
            FieldValue::One(s) => std::slice::from_ref(s),
            FieldValue::All(v) => v,
        }
    }

    /// Bytes held on the heap.
    pub fn heap_size(&self) -> usize {
        self.as_list().iter().map(|s| s.len() + 24).sum()
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::One(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::One(s)
    }
}

/// Why a URL has no successful record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// A stable, machine-readable kind.
    pub kind: ErrorKind,
    /// A human-readable message, at most about [`MAX_ERROR_MESSAGE`] bytes
    /// when built by [`RecordError::new`].
    pub message: String,
}

/// The most bytes of a message a record's error keeps.
///
/// Messages quote what servers send (a `Location`, a header, an error from
/// the HTTP client), and a server may send anything: a 90 KB `Location`
/// would otherwise be copied whole into every store and sink, and charged
/// to the byte gate with its record. A kilobyte says what went wrong.
pub const MAX_ERROR_MESSAGE: usize = 1024;

impl RecordError {
    /// An error of `kind`, its message cut to at most
    /// [`MAX_ERROR_MESSAGE`] bytes (at a character boundary, so it stays
    /// valid UTF-8) and told so: `…(N bytes cut)`. Every record error the
    /// crawler builds goes through here.
    ///
    /// ```
    /// use semcrawl_core::{ErrorKind, RecordError, MAX_ERROR_MESSAGE};
    /// let e = RecordError::new(ErrorKind::BadRedirect, "é".repeat(1000));
    /// assert!(e.message.len() < MAX_ERROR_MESSAGE + 32);
    /// assert!(e.message.ends_with("…(976 bytes cut)"), "{}", e.message);
    /// let short = RecordError::new(ErrorKind::Http, "HTTP 500".into());
    /// assert_eq!(short.message, "HTTP 500");
    /// ```
    pub fn new(kind: ErrorKind, message: String) -> Self {
        RecordError {
            kind,
            message: cap_message(message),
        }
    }
}

/// `message`, cut to [`MAX_ERROR_MESSAGE`] bytes at a character boundary,
/// with how much was cut.
fn cap_message(mut message: String) -> String {
    if message.len() <= MAX_ERROR_MESSAGE {
        return message;
    }
    let mut keep = MAX_ERROR_MESSAGE;
    while !message.is_char_boundary(keep) {
        keep -= 1;
    }
    let cut = message.len() - keep;
    message.truncate(keep);
    message.push_str(&format!("…({cut} bytes cut)"));
    message.shrink_to_fit();
    message
}

/// Machine-readable error kinds; serialized in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Could not connect.
    Connect,
    /// Deadline passed.
    Timeout,
    /// Not HTTP, or a corrupt body.
    Protocol,
    /// The request could not be made (scheme, CORS, ...).
    Refused,
    /// HTTP status >= 400.
    Http,
    /// Body larger than the maximum body size (counted after decoding).
    BodyTooLarge,
    /// The page cannot fit in the memory budget even alone.
    OverBudget,
    /// A redirect pointed outside the crawl's scope.
    RedirectOutOfScope,
    /// Too many redirects in a row.
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    BadRedirect,
    /// The crawl was interrupted while this page was in flight.
    Interrupted,
    /// A bug: the page's task failed (panicked) before it had a result.
    Internal,
    /// The TLS handshake failed (an untrusted or invalid certificate, ...).
    Tls,
    /// The page was fetched, but its DOM was cut before the end of the
    /// body (nested too deep, or too many nodes): the fields, text and
    /// links come from the part before the cut.
    ParseTruncated,
    /// The record of a host's `/robots.txt` that could not be fetched (a
    /// 5xx, a network error or a timeout, after retries): as RFC 9309
    /// asks, none of that host's pages are crawled.
    RobotsUnreachable,
}

impl ErrorKind {
    /// The `snake_case` name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Refused => "refused",
            ErrorKind::Http => "http",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::OverBudget => "over_budget",
            ErrorKind::RedirectOutOfScope => "redirect_out_of_scope",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::BadRedirect => "bad_redirect",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
            ErrorKind::Tls => "tls",
            ErrorKind::ParseTruncated => "parse_truncated",
            ErrorKind::RobotsUnreachable => "robots_unreachable",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_char_boundary_and_say_so() {
        // 1023 ASCII bytes, then a 3-byte character across the limit.
        let message = format!("{}€{}", "a".repeat(1023), "b".repeat(90_000));
        let total = message.len();
        let e = RecordError::new(ErrorKind::BadRedirect, message);
        let kept = "a".repeat(1023);
        assert_eq!(
            e.message,
            format!("{kept}…({} bytes cut)", total - 1023),
            "cut before the character, not inside it"
        );
        let exact = "x".repeat(MAX_ERROR_MESSAGE);
        assert_eq!(
            RecordError::new(ErrorKind::Http, exact.clone()).message,
            exact
        );
    }
}
