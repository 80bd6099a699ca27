//! Seed URLs as people write them: bare hosts, and lists with comments.
//!
//! People paste hosts, not URLs (`example.com`, `example.com/blog`), and
//! keep seed lists in files with comments. Front ends read both through
//! here before any request, so a bad seed costs one line naming where it is
//! (`seeds.txt:3: ...`), never a partial crawl.
//!
//! A seed without a scheme means `https://`: the web's default today, and
//! an `http://` site redirects to HTTPS or answers both. `example.com:8080`
//! is a host and port, not a URL of scheme `example.com` (which is what a
//! URL parser reads), so the test is for `://`, not for a parse failure.

use url::Url;

/// One seed: an `http`/`https` URL, or a bare host (and path) taken as
/// `https://`. The error says what is wrong with `s`.
///
/// ```
/// use semcrawl_core::seeds::parse_seed;
/// assert_eq!(parse_seed("example.com/blog").unwrap().as_str(), "https://example.com/blog");
/// assert!(parse_seed("ftp://example.com/").is_err());
/// ```
pub fn parse_seed(s: &str) -> Result<Url, String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err("empty URL".into());
    }
    let bare = !trimmed.contains("://");
    let full = if bare {
        format!("https://{trimmed}")
    } else {
        trimmed.to_owned()
    };
    let url = Url::parse(&full).map_err(|e| format!("invalid URL '{s}': {e}"))?;
    // `mailto:x@a.test` read as a bare host would be a user `mailto` at a.test.
    if bare && (!url.username().is_empty() || url.password().is_some()) {
        return Err(format!(
            "invalid URL '{s}': not a host name (write the scheme: https://...)"
        ));
    }
    require_http(s, url)
}

/// `url`, parsed from `s`, if it is an http or https URL with a host: the
/// only URLs a crawl (or a sink) can use.
pub fn require_http(s: &str, url: Url) -> Result<Url, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL '{s}': only http and https URLs can be crawled"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL '{s}': no host"));
    }
    Ok(url)
}

/// The seeds listed in `text`: one a line; blank lines and lines starting
/// with `#` are skipped, and so is a `#` comment after whitespace (a URL
/// holds no raw whitespace, so `https://a.test/#top` keeps its fragment).
/// `name` is how errors refer to the source (`seeds.txt:3: ...`).
pub fn parse_seed_list(name: &str, text: &str) -> Result<Vec<Url>, String> {
    let mut seeds = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = strip_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        let url = parse_seed(line).map_err(|e| format!("{name}:{}: {e}", i + 1))?;
        seeds.push(url);
    }
    Ok(seeds)
}

fn strip_comment(line: &str) -> &str {
    let line = line.trim();
    if line.starts_with('#') {
        return "";
    }
    match line.find(|c: char| c.is_whitespace()) {
        Some(ws) if line[ws..].trim_start().starts_with('#') => &line[..ws],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_mean_https() {
        let cases = [
            ("example.com", "https://example.com/"),
            ("example.com/blog?p=1", "https://example.com/blog?p=1"),
            ("example.com:8080/x", "https://example.com:8080/x"),
            ("localhost:3000", "https://localhost:3000/"),
            ("  http://a.test/  ", "http://a.test/"),
            ("HTTPS://A.test/", "https://a.test/"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_seed(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn non_web_urls_and_garbage_are_refused() {
        for bad in [
            "ftp://a.test/",
            "not a url",
            "",
            "https://",
            "mailto:x@a.test",
        ] {
            assert!(parse_seed(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lists_skip_comments_and_blank_lines_and_name_the_bad_line() {
        let text = "# seeds\n\nhttps://a.test/#top\n  b.test/x   # the blog\n\t\nhttp://c.test/\n";
        let seeds = parse_seed_list("seeds.txt", text).unwrap();
        let got: Vec<&str> = seeds.iter().map(Url::as_str).collect();
        assert_eq!(
            got,
            ["https://a.test/#top", "https://b.test/x", "http://c.test/"]
        );

        let err = parse_seed_list("seeds.txt", "a.test\n# ok\nftp://b.test/\n").unwrap_err();
        assert!(err.starts_with("seeds.txt:3: "), "{err}");
        assert!(err.contains("ftp://b.test/"), "{err}");
    }
}
