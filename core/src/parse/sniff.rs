//! Whether a response is HTML at all.
//!
//! Only HTML is parsed for links; anything else is recorded without a
//! parse. A declared type decides; without one, the first bytes are
//! sniffed as the MIME Sniffing standard does, so an untyped HTML page is
//! still crawled and an untyped binary is not fed to the parser.

use super::charset::starts_with_ci;

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
}
