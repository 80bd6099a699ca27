//! Choosing a body's encoding as browsers do, and decoding it.
//!
//! A crawler that guesses the encoding wrong stores mojibake titles and
//! percent-encodes garbage into links, so the choice follows the HTML
//! standard's order (see the [parse module documentation](super#decoding)).
//! Both parse paths call [`detect_encoding`]: the DOM path decodes the
//! whole body at once ([`decode_body`]), the streaming path chunk by chunk.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How many bytes the `<meta charset>` prescan looks at (as in the HTML
/// standard).
const PRESCAN_LEN: usize = 1024;

/// Decode a body to text, choosing the encoding as browsers do (see the
/// [parse module documentation](crate::parse#decoding)). Invalid byte
/// sequences become U+FFFD; this never fails. Valid UTF-8 is borrowed, not
/// copied.
///
/// ```
/// use semcrawl_core::parse::decode_body;
/// assert_eq!(decode_body(b"caf\xe9", Some("text/html; charset=ISO-8859-1")), "café");
/// assert_eq!(decode_body(b"<meta charset=windows-1252>\x80", None), "<meta charset=windows-1252>€");
/// assert_eq!(decode_body(b"\xef\xbb\xbfok", Some("text/html; charset=latin1")), "ok");
/// assert_eq!(decode_body(b"bad \xff", None), "bad \u{fffd}");
/// ```
pub fn decode_body<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let (encoding, bom_len) = detect_encoding(body, content_type);
    let rest = body.get(bom_len..).unwrap_or_default();
    encoding.decode_without_bom_handling(rest).0
}

/// The encoding of `body` and the length of its BOM (0 without one).
pub(super) fn detect_encoding(
    body: &[u8],
    content_type: Option<&str>,
) -> (&'static Encoding, usize) {
    if let Some((enc, len)) = Encoding::for_bom(body) {
        return (enc, len);
    }
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        return (enc, 0);
    }
    if let Some(enc) = prescan(body.get(..PRESCAN_LEN).unwrap_or(body)) {
        return (enc, 0);
    }
    (UTF_8, 0)
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

/// A simplified version of the HTML standard's "prescan a byte stream to
/// determine its encoding": finds `<meta charset=...>` or
/// `<meta http-equiv=content-type content="...charset=...">`, skipping
/// comments and the attributes of other tags.
fn prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i += 4 + find(&rest[4..], b"-->").map_or(rest.len(), |p| p + 3);
        } else if starts_with_ci(rest, b"<meta")
            && rest
                .get(5)
                .is_some_and(|&c| c.is_ascii_whitespace() || c == b'/')
        {
            i += 5;
            let mut got_pragma = false;
            let mut need_pragma: Option<bool> = None;
            let mut charset: Option<&'static Encoding> = None;
            while let Some((name, value, next)) = attribute(bytes, i) {
                i = next;
                match name.as_slice() {
                    b"http-equiv" => got_pragma |= value.eq_ignore_ascii_case(b"content-type"),
                    b"content" if charset.is_none() => {
                        if let Some(enc) = charset_in_content(&value).and_then(Encoding::for_label)
                        {
                            charset = Some(enc);
                            need_pragma = Some(true);
                        }
                    }
                    b"charset" => {
                        charset = Encoding::for_label(&value);
                        need_pragma = Some(false);
                    }
                    _ => {}
                }
            }
            match (charset, need_pragma) {
                (Some(enc), Some(false)) => return Some(fix_meta_encoding(enc)),
                (Some(enc), Some(true)) if got_pragma => return Some(fix_meta_encoding(enc)),
                _ => {}
            }
        } else if rest.len() >= 2
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Another tag: skip its name and attributes (a `>` inside a
            // quoted attribute must not end it).
            i += 1;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                i += 1;
            }
            while let Some((_, _, next)) = attribute(bytes, i) {
                i = next;
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            i += find(rest, b">").map_or(rest.len(), |p| p + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// As the HTML standard says for `<meta>`-declared encodings: a UTF-16
/// label cannot be right (the prescan read ASCII), and `x-user-defined`
/// means windows-1252.
fn fix_meta_encoding(enc: &'static Encoding) -> &'static Encoding {
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        UTF_8
    } else if enc == encoding_rs::X_USER_DEFINED {
        WINDOWS_1252
    } else {
        enc
    }
}

/// One attribute of a tag starting at `i`: (lowercased name, value, index
/// after it), or `None` at the tag's end (`>` or end of input), after which
/// the caller's index should move past that `>`.
fn attribute(b: &[u8], mut i: usize) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
        i += 1;
    }
    if i >= b.len() || b[i] == b'>' {
        return None;
    }
    let mut name = Vec::new();
    while i < b.len() && !matches!(b[i], b'=' | b'>' | b'/') && !b[i].is_ascii_whitespace() {
        name.push(b[i].to_ascii_lowercase());
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'=') {
        return Some((name, Vec::new(), i));
    }
    i += 1;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut value = Vec::new();
    match b.get(i) {
        Some(&q) if q == b'"' || q == b'\'' => {
            i += 1;
            while i < b.len() && b[i] != q {
                value.push(b[i].to_ascii_lowercase());
                i += 1;
            }
            i += 1; // closing quote (or past the end)
        }
        _ => {
            while i < b.len() && b[i] != b'>' && !b[i].is_ascii_whitespace() {
                value.push(b[i].to_ascii_lowercase());
                i += 1;
            }
        }
    }
    Some((name, value, i))
}

/// The HTML standard's "extract a character encoding from a meta element":
/// the value after `charset=` in a `content` attribute.
fn charset_in_content(content: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let pos = from + find_ci(content.get(from..)?, b"charset")?;
        let mut i = pos + 7;
        while content.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if content.get(i) != Some(&b'=') {
            from = pos + 7;
            continue;
        }
        i += 1;
        while content.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        return match content.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let rest = content.get(i + 1..)?;
                rest.iter().position(|&c| c == q).map(|end| &rest[..end])
            }
            Some(_) => {
                let rest = &content[i..];
                let end = rest
                    .iter()
                    .position(|&c| c == b';' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                Some(&rest[..end])
            }
            None => None,
        };
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

pub(super) fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::Extractor;
    use super::*;

    fn url() -> url::Url {
        super::super::tests::url()
    }

    #[test]
    fn decodes_windows_1252_from_meta() {
        let body =
            b"<html><head><meta charset=\"windows-1252\"><title>caf\xe9 \x80</title></head></html>";
        assert_eq!(parse(body).title.as_deref(), Some("café €"));
        // http-equiv form, with the pragma after the content.
        let body = b"<meta content='text/html; charset=ISO-8859-1' http-equiv='Content-Type'><title>\xe9</title>";
        assert_eq!(parse(body).title.as_deref(), Some("é"));
        // content without http-equiv is not a declaration.
        let body = b"<meta content='text/html; charset=ISO-8859-1'><title>\xe9</title>";
        assert_eq!(parse(body).title.as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn decodes_shift_jis_from_meta() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("<title>日本語のページ</title>");
        let mut body = b"<!-- <meta charset=utf-8> --><head><meta http-equiv=\"content-type\" content=\"text/html;charset=Shift_JIS\">".to_vec();
        body.extend_from_slice(&sjis);
        assert_eq!(parse(&body).title.as_deref(), Some("日本語のページ"));
    }

    #[test]
    fn charset_precedence_bom_then_header_then_meta() {
        let body = b"<meta charset=iso-8859-1><title>\xc3\xa9</title>";
        // Header wins over meta.
        let p = Extractor::new(&[], false).unwrap().parse(
            body,
            Some("text/html; charset=\"UTF-8\""),
            &url(),
        );
        assert_eq!(p.title.as_deref(), Some("é"));
        // Meta wins over the default.
        assert_eq!(parse(body).title.as_deref(), Some("Ã©"));
        // BOM wins over everything.
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(body);
        let p = Extractor::new(&[], false).unwrap().parse(
            &bom,
            Some("text/html; charset=latin1"),
            &url(),
        );
        assert_eq!(p.title.as_deref(), Some("é"));
        // UTF-16 in meta means UTF-8; unknown labels are ignored.
        assert_eq!(detect_encoding(b"<meta charset=utf-16>", None).0, UTF_8);
        assert_eq!(
            detect_encoding(b"<meta charset=x-user-defined>", None).0,
            WINDOWS_1252
        );
        assert_eq!(
            detect_encoding(b"x", Some("text/html; charset=bogus")).0,
            UTF_8
        );
        // UTF-16 with a BOM.
        let (enc, len) = detect_encoding(b"\xff\xfe<\x00", None);
        assert_eq!((enc, len), (encoding_rs::UTF_16LE, 2));
        // Past the prescan window, meta is not seen.
        let mut late = vec![b' '; PRESCAN_LEN];
        late.extend_from_slice(b"<meta charset=latin1>");
        assert_eq!(detect_encoding(&late, None).0, UTF_8);
    }

    #[test]
    fn prescan_skips_quoted_gt_and_other_tags() {
        let body = b"<div title='a > <meta charset=latin1>'><meta charset='koi8-r'>";
        assert_eq!(detect_encoding(body, None).0, encoding_rs::KOI8_R);
        // Truncated meta tags do not panic.
        for b in [
            &b"<meta"[..],
            b"<meta ",
            b"<meta charset",
            b"<meta charset=",
            b"<meta charset='",
            b"<!--",
            b"<a",
            b"</",
            b"<meta content='charset=",
        ] {
            let _ = detect_encoding(b, None);
        }
    }

    #[test]
    fn invalid_utf8_without_charset_becomes_replacement() {
        let p = parse(b"<title>ok \xff\xfe\xc3 done</title>");
        assert_eq!(p.title.as_deref(), Some("ok \u{fffd}\u{fffd}\u{fffd} done"));
    }
}
