//! A server whose certificate nobody trusts (self-signed, made at test
//! time): the page is a `tls` error, and it is not retried, since the same
//! certificate would come back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use semcrawl_tests::tls::SelfSigned;
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, TempDir};

#[test]
fn an_untrusted_certificate_is_a_tls_error_and_is_not_retried() {
    let SelfSigned {
        port, handshakes, ..
    } = SelfSigned::start();
    let url = format!("https://127.0.0.1:{port}/");
    let dir = TempDir::new("tls");
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &url,
        &["--ignore-robots", "--retries", "2"],
        Duration::from_secs(60),
    );
    let records = by_url(&records);
    let record = &records[&url];
    assert_eq!(error_kind(record), Some("tls"), "{record}");
    assert_eq!(record["retries"], 0, "{record}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "the page was retried");
}
