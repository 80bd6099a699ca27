//! How queued entries and kept robots.txt files are written as Redis
//! strings: plain text with `\x1f` separators, which neither a canonical
//! URL nor a number ever holds.

use std::sync::Arc;

use semcrawl_core::frontier::{Entry, FrontierError, KeptRobots};
use url::Url;

/// An entry as Redis keeps it: `DEPTH \x1f REDIRECTS \x1f PARENT \x1f URL`
/// (a canonical URL never holds a control character).
pub(super) fn encode(entry: &Entry) -> String {
    format!(
        "{}\x1f{}\x1f{}\x1f{}",
        entry.depth,
        entry.redirects,
        entry.parent.as_deref().unwrap_or(""),
        entry.url.as_str()
    )
}

pub(super) fn decode(id: u64, text: &str) -> Result<Entry, FrontierError> {
    let bad = || FrontierError(format!("a queued entry in Redis does not parse: {text:?}"));
    let mut parts = text.splitn(4, '\x1f');
    let (Some(depth), Some(redirects), Some(parent), Some(url)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(Entry {
        url: Url::parse(url).map_err(|_| bad())?,
        depth: depth.parse().map_err(|_| bad())?,
        parent: (!parent.is_empty()).then(|| Arc::from(parent)),
        redirects: redirects.parse().map_err(|_| bad())?,
        id: Some(id),
    })
}

/// A kept robots.txt as Redis holds it: `FETCHED_AT \x1f` then `-` (the
/// host has none) or `+` and the file's text.
pub(super) fn encode_robots(robots: &KeptRobots) -> Vec<u8> {
    let mut value = format!("{}\x1f", robots.fetched_at).into_bytes();
    match &robots.text {
        None => value.push(b'-'),
        Some(text) => {
            value.push(b'+');
            value.extend_from_slice(text.as_bytes());
        }
    }
    value
}

pub(super) fn decode_robots(value: &[u8]) -> Option<KeptRobots> {
    let sep = value.iter().position(|&b| b == 0x1f)?;
    let fetched_at = std::str::from_utf8(&value[..sep]).ok()?.parse().ok()?;
    let text = match value.get(sep + 1)? {
        b'-' => None,
        b'+' => Some(String::from_utf8_lossy(&value[sep + 2..]).into_owned()),
        _ => return None,
    };
    Some(KeptRobots { text, fetched_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_robots_read_back_as_written() {
        let mut entry = Entry::seed("https://a.test/x?y=1".parse().unwrap());
        entry.depth = 3;
        entry.redirects = 1;
        entry.parent = Some(Arc::from("https://a.test/"));
        let back = decode(7, &encode(&entry)).unwrap();
        assert_eq!((back.url, back.depth, back.redirects), (entry.url, 3, 1));
        assert_eq!((back.parent, back.id), (entry.parent, Some(7)));
        assert!(decode(1, "not an entry").is_err());
        for text in [
            None,
            Some(String::new()),
            Some("User-agent: *\nDisallow: /\n".into()),
        ] {
            let kept = KeptRobots {
                text,
                fetched_at: 42,
            };
            assert_eq!(decode_robots(&encode_robots(&kept)), Some(kept));
        }
        assert_eq!(decode_robots(b"garbage"), None);
    }
}
