//! `HttpSinkStore` against a local receiver that fails on purpose.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{full_record, Reply, TestServer};
use semcrawl_core::{Record, Store};
use semcrawl_smol::store::{HttpSinkOptions, HttpSinkStore};

fn options(retries: u32) -> HttpSinkOptions {
    HttpSinkOptions {
        retries,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
        user_agent: "semcrawl-test".into(),
    }
}

fn batch() -> Vec<Record> {
    vec![
        full_record("https://example.com/a"),
        full_record("https://example.com/b"),
    ]
}

/// A receiver answering `statuses` in order, then 200. Status 0: close the
/// connection without a byte of answer.
fn receiver(statuses: Vec<u16>) -> TestServer {
    let calls = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |_| {
        let i = calls.fetch_add(1, Ordering::SeqCst);
        match statuses.get(i) {
            Some(&0) => Reply::Raw(Vec::new()),
            Some(&429) => Reply::Full {
                status: 429,
                headers: vec![("Retry-After".into(), "0".into())],
                body: b"slow down".to_vec(),
            },
            Some(&s) => Reply::Full {
                status: s,
                headers: vec![],
                body: b"nope".to_vec(),
            },
            None => Reply::ok("stored"),
        }
    })
}

#[test]
fn a_sink_that_fails_twice_then_succeeds_still_gets_the_batch() {
    let server = receiver(vec![503, 429]);
    let mut store = HttpSinkStore::new(&server.url("/ingest"), options(3)).unwrap();
    let records = batch();
    smol::block_on(async {
        store.write(&records).await.unwrap();
        store.flush().await.unwrap();
    });
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/ingest");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let got: Vec<Record> = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(got, records);
    }
}

#[test]
fn a_sink_that_closes_the_connection_unanswered_is_retried() {
    let server = receiver(vec![0, 0]);
    let mut store = HttpSinkStore::new(&server.url("/ingest"), options(3)).unwrap();
    let records = batch();
    smol::block_on(store.write(&records)).unwrap();
    assert_eq!(
        server.seen().len(),
        3,
        "two closed connections, then stored"
    );
}

#[test]
fn a_sink_that_keeps_failing_is_an_error_not_a_silent_drop() {
    let server = receiver(vec![500; 10]);
    let mut store = HttpSinkStore::new(&server.url("/ingest"), options(2)).unwrap();
    let error = smol::block_on(store.write(&batch())).unwrap_err();
    assert_eq!(server.seen().len(), 3, "one attempt plus two retries");
    assert!(
        error.0.contains(&server.url("/ingest")) && error.0.contains("500"),
        "{error}"
    );
}

#[test]
fn a_client_error_is_not_retried() {
    let server = receiver(vec![400]);
    let mut store = HttpSinkStore::new(&server.url("/ingest"), options(5)).unwrap();
    let error = smol::block_on(store.write(&batch())).unwrap_err();
    assert_eq!(server.seen().len(), 1);
    assert!(
        error.0.contains("400") && error.0.contains("nope"),
        "{error}"
    );
}

#[test]
fn an_unreachable_sink_is_retried_then_reported() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/ingest");
    let mut store = HttpSinkStore::new(&url, options(2)).unwrap();
    let error = smol::block_on(store.write(&batch())).unwrap_err();
    assert!(error.0.contains("failed 3 times"), "{error}");
}

#[test]
fn a_bad_sink_url_is_rejected_up_front() {
    assert!(HttpSinkStore::new("ftp://127.0.0.1/x", options(1)).is_err());
    assert!(HttpSinkStore::new("not a url", options(1)).is_err());
}
