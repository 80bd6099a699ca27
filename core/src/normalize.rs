//! Page -> [`Record`]: the one place that writes a record's fields.
//!
//! A record is what the user keeps of a crawl, so what each field means
//! must be decided once: the page task (`crawl/task.rs`) says what happened
//! (a response head arrived, a body was read, parsing found this, an error
//! ended it, it took this long) and the functions here turn each of those
//! facts into fields. No other file assigns a record's field.

use sha2::{Digest, Sha256};
use url::Url;

use crate::frontier::Entry;
use crate::parse::ParsedPage;
use crate::record::{ErrorKind, Record, RecordError, MAX_RECORD_LINKS_BYTES};

/// The fields every record of `entry` has, before anything is fetched.
pub(crate) fn base_record(entry: &Entry) -> Record {
    Record::new(entry.url.as_str(), entry.depth, entry.parent.as_deref())
}

/// A record of `entry` that only says why it failed.
pub(crate) fn failed(entry: &Entry, kind: ErrorKind, message: String) -> Record {
    let mut record = base_record(entry);
    set_error(&mut record, kind, message);
    record
}

/// The page failed: why, in a stable kind and a message for people (capped
/// in length: see [`RecordError::new`]).
pub(crate) fn set_error(record: &mut Record, kind: ErrorKind, message: String) {
    record.error = Some(RecordError::new(kind, message));
}

/// A response head arrived from `url`.
pub(crate) fn set_response(
    record: &mut Record,
    status: u16,
    url: &Url,
    content_type: Option<String>,
) {
    record.status = Some(status);
    record.final_url = Some(url.to_string());
    record.content_type = content_type;
}

/// A redirect points to `target`: that is where the response "came from".
pub(crate) fn set_redirect_target(record: &mut Record, target: &Url) {
    record.final_url = Some(target.to_string());
}

/// The decoded body was read: its size, and its hash when read in full (a
/// hash of a truncated body would name content nobody served).
pub(crate) fn set_body(record: &mut Record, body: &[u8], complete: bool) {
    record.bytes = body.len() as u64;
    if complete {
        record.sha256 = Some(hex(&Sha256::digest(body)));
    }
}

/// Copy what parsing found into `record`, but the links, which come one
/// at a time through [`add_link`] (they are resolved lazily). A parse cut
/// before the end of the body is the error `parse_truncated`, with what
/// was found before the cut kept. With `keep_links` the record lists links.
pub(crate) fn apply_page(record: &mut Record, page: ParsedPage, keep_links: bool) {
    if let Some(cut) = page.cut {
        set_error(record, ErrorKind::ParseTruncated, cut.to_string());
    }
    record.title = page.title;
    record.description = page.description;
    record.lang = page.lang;
    record.canonical = page.canonical.map(String::from);
    record.fields = page.fields;
    record.text = page.text;
    record.links_count = 0;
    if keep_links {
        record.links = Some(Vec::new());
    }
}

/// One more link of the page: counted, and listed if the record lists
/// links, while they hold less than [`MAX_RECORD_LINKS_BYTES`] (`listed`:
/// the bytes listed so far, kept by the caller).
pub(crate) fn add_link(record: &mut Record, link: &Url, listed: &mut usize) {
    record.links_count += 1;
    if let Some(links) = record.links.as_mut() {
        let len = link.as_str().len();
        if *listed + len <= MAX_RECORD_LINKS_BYTES {
            *listed += len;
            links.push(link.as_str().to_owned());
        }
    }
}

/// When the first attempt started (Unix milliseconds), the retries spent
/// and the milliseconds from the first request to the end.
pub(crate) fn set_timing(record: &mut Record, fetched_at: u64, retries: u32, elapsed_ms: u64) {
    record.fetched_at = fetched_at;
    record.retries = retries;
    record.elapsed_ms = elapsed_ms;
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_parse_is_a_parse_truncated_error_with_its_fields() {
        let entry = Entry::seed("http://a.test/".parse().unwrap());
        let page = ParsedPage {
            title: Some("T".into()),
            cut: Some(crate::parse::ParseCut::Depth),
            ..ParsedPage::default()
        };
        let mut r = base_record(&entry);
        apply_page(&mut r, page, false);
        let e = r.error.expect("an error");
        assert_eq!(e.kind, ErrorKind::ParseTruncated);
        assert!(
            e.message.contains("nested deeper than 512"),
            "{}",
            e.message
        );
        assert_eq!(r.title.as_deref(), Some("T"));
    }

    #[test]
    fn links_kept_only_when_asked() {
        let entry = Entry::seed("http://a.test/".parse().unwrap());
        let page = ParsedPage {
            title: Some("T".into()),
            ..ParsedPage::default()
        };
        let link: Url = "http://a.test/x".parse().unwrap();
        let mut r = base_record(&entry);
        apply_page(&mut r, page.clone(), false);
        add_link(&mut r, &link, &mut 0);
        assert_eq!((r.links_count, r.links.as_ref()), (1, None));
        let mut r = base_record(&entry);
        apply_page(&mut r, page, true);
        add_link(&mut r, &link, &mut 0);
        assert_eq!(r.links.unwrap(), vec!["http://a.test/x".to_string()]);
        assert_eq!(r.title.as_deref(), Some("T"));
    }

    #[test]
    fn listed_links_stop_at_the_cap_and_all_are_counted() {
        let entry = Entry::seed("http://a.test/".parse().unwrap());
        let long: Url = format!("http://a.test/{}", "x".repeat(7000))
            .parse()
            .unwrap();
        let mut r = base_record(&entry);
        apply_page(&mut r, ParsedPage::default(), true);
        let mut listed = 0;
        for _ in 0..1000 {
            add_link(&mut r, &long, &mut listed);
        }
        assert_eq!(r.links_count, 1000);
        let kept = r.links.unwrap();
        assert_eq!(kept.len(), MAX_RECORD_LINKS_BYTES / long.as_str().len());
        assert!(listed <= MAX_RECORD_LINKS_BYTES);
    }

    #[test]
    fn a_truncated_body_has_a_size_but_no_hash() {
        let entry = Entry::seed("http://a.test/".parse().unwrap());
        let mut r = base_record(&entry);
        set_body(&mut r, b"abc", false);
        assert_eq!((r.bytes, r.sha256.as_deref()), (3, None));
        set_body(&mut r, b"abc", true);
        assert_eq!(
            r.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }
}
