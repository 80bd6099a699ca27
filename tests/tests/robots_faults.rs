//! robots.txt under faults: a transient failure is retried like a page's;
//! a robots.txt that stays unreachable (5xx, a stall past `--timeout`)
//! means "complete disallow" (RFC 9309), and the user is told: one warning
//! line on stderr, and a `robots_unreachable` record for the robots.txt URL.

use std::collections::BTreeMap;
use std::time::Duration;

use semcrawl_tests::hostile::{response, Act, HostileServer};
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, summary_u64, TempDir};

const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

/// A one-page site whose robots.txt does `robots`.
fn site(robots: Act) -> HostileServer {
    let mut acts = BTreeMap::new();
    acts.insert("/robots.txt".to_owned(), robots);
    acts.insert(
        "/".to_owned(),
        Act::Send(response(
            &[("Content-Type", "text/html")],
            b"<title>home</title>",
        )),
    );
    HostileServer::start(acts)
}

/// Warnings on, retries as given.
fn flags(retries: &str) -> Vec<&str> {
    vec!["--log-level", "warn", "--retries", retries]
}

/// Another host, whose robots.txt is missing (404: all allowed): it is
/// crawled whatever happens to the first, so the crawl stores a page and
/// exits 0.
fn healthy() -> HostileServer {
    site(Act::Send(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ))
}

#[test]
fn a_transient_robots_failure_is_retried_and_the_host_crawled() {
    let allow = response(
        &[("Content-Type", "text/plain")],
        b"User-agent: *\nAllow: /\n",
    );
    let server = site(Act::Then(vec![
        Act::Send(UNAVAILABLE.to_vec()),
        Act::Send(allow),
    ]));
    let dir = TempDir::new("robots-transient");
    let (done, records, summary) =
        crawl_to_jsonl(&dir, &server.url("/"), &flags("2"), Duration::from_secs(60));
    assert_eq!(server.requests("/robots.txt"), 2);
    assert_eq!(server.requests("/"), 1);
    let records = by_url(&records);
    assert_eq!(records.len(), 1, "{records:#?}");
    let home = &records[&server.url("/")];
    assert_eq!(error_kind(home), None, "{home}");
    assert_eq!(home["title"], "home");
    assert_eq!(summary_u64(&summary, "robotsSkipped"), 0, "{summary}");
    assert!(!done.stderr.contains("unreachable"), "{}", done.stderr);
}

#[test]
fn a_robots_txt_that_stays_5xx_disallows_the_host_and_says_so() {
    let server = site(Act::Send(UNAVAILABLE.to_vec()));
    let other = healthy();
    let dir = TempDir::new("robots-503");
    let other_home = other.url("/");
    let mut extra = flags("2");
    extra.push(&other_home);
    let (done, records, summary) =
        crawl_to_jsonl(&dir, &server.url("/"), &extra, Duration::from_secs(60));
    assert_eq!(summary_u64(&summary, "robotsSkipped"), 1, "{summary}");
    assert_eq!(server.requests("/robots.txt"), 3, "1 attempt + 2 retries");
    assert_eq!(server.requests("/"), 0, "the host's pages are not fetched");
    let records = by_url(&records);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(error_kind(&records[&other_home]), None);
    let robots = &records[&server.url("/robots.txt")];
    assert_eq!(error_kind(robots), Some("robots_unreachable"), "{robots}");
    assert_eq!(robots["status"], 503);
    assert_eq!(robots["retries"], 2);
    let port = server.url("").rsplit(':').next().unwrap().to_owned();
    let warning = format!(
        "robots.txt of 127.0.0.1:{port} unreachable (HTTP 503 after 3 attempts): its pages are not crawled"
    );
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("robots.txt of"))
        .collect();
    assert_eq!(lines.len(), 1, "one warning per host:\n{}", done.stderr);
    assert!(lines[0].contains(&warning), "{}", done.stderr);
    assert!(lines[0].contains("WARN"), "{}", done.stderr);
}

#[test]
fn a_robots_txt_that_stalls_past_the_timeout_disallows_the_host() {
    let server = site(Act::Hang);
    let other = healthy();
    let dir = TempDir::new("robots-stall");
    let other_home = other.url("/");
    let mut extra = flags("1");
    extra.extend(["--timeout", "1s", other_home.as_str()]);
    let (done, records, _) =
        crawl_to_jsonl(&dir, &server.url("/"), &extra, Duration::from_secs(60));
    assert_eq!(server.requests("/robots.txt"), 2, "1 attempt + 1 retry");
    assert_eq!(server.requests("/"), 0, "the host's pages are not fetched");
    let records = by_url(&records);
    assert_eq!(records.len(), 2, "{records:#?}");
    let robots = &records[&server.url("/robots.txt")];
    assert_eq!(error_kind(robots), Some("robots_unreachable"), "{robots}");
    assert_eq!(robots["status"], serde_json::Value::Null);
    assert!(
        done.stderr
            .contains("unreachable (timed out after 2 attempts)"),
        "{}",
        done.stderr
    );
}
