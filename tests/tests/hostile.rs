//! Servers that break HTTP: each fault is recorded with the right error kind
//! and is not retried when a retry cannot help.

use std::collections::BTreeMap;
use std::time::Duration;

use semcrawl_tests::hostile::{response, Act, HostileServer};
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, TempDir};

/// Path -> what the server sends for it.
fn faults() -> BTreeMap<String, Act> {
    let mut acts = BTreeMap::new();
    let mut add = |path: &str, act: Act| {
        acts.insert(path.to_owned(), act);
    };
    add(
        "/garbage-status",
        Act::Send(b"HTTP/1.1 2xx WHAT\r\nContent-Length: 2\r\n\r\nhi".to_vec()),
    );
    // A good first chunk, then a size that is not hex.
    add(
        "/bad-chunk",
        Act::Send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
    );
    let long = "a".repeat(1 << 20);
    add(
        "/long-header",
        Act::Send(response(&[("X-Long", &long)], b"<p>hi</p>")),
    );
    let many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("X-H{i}"), "v".to_owned()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    add("/many-headers", Act::Send(response(&many, b"<p>hi</p>")));
    add(
        "/reset-after-head",
        Act::SendThenReset(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<p>partial"
                .to_vec(),
        ),
    );
    acts
}

#[test]
fn broken_http_is_a_protocol_error_and_is_not_retried() {
    let acts = faults();
    let paths: Vec<String> = acts.keys().cloned().collect();
    let server = HostileServer::start(acts);
    let dir = TempDir::new("hostile");
    let mut extra: Vec<String> = vec!["--retries".into(), "2".into()];
    extra.extend(paths.iter().skip(1).map(|p| server.url(p)));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url(&paths[0]),
        &extra,
        Duration::from_secs(60),
    );
    let records = by_url(&records);
    for path in &paths {
        let record = &records[&server.url(path)];
        assert_eq!(error_kind(record), Some("protocol"), "{path}: {record}");
        assert_eq!(record["retries"], 0, "{path}: {record}");
        assert_eq!(server.requests(path), 1, "{path} was requested again");
    }
}
