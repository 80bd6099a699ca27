//! URL canonical form. (STUB: to be implemented.)
use url::Url;

/// Canonical form of an absolute URL; `None` if it is not http(s) or has no host.
pub fn canonicalize(url: &Url) -> Option<Url> {
    let _ = url;
    todo!()
}

/// Resolve `href` against `base` and canonicalize; `None` for non-crawlable
/// links (mailto:, javascript:, data:, tel:, empty, unparsable).
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    let _ = (base, href);
    todo!()
}
