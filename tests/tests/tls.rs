//! A server whose certificate nobody trusts (self-signed, made at test
//! time): the page is a `tls` error, and it is not retried, since the same
//! certificate would come back.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, TempDir};

/// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate;
/// returns its port and a count of TLS handshakes attempted.
fn self_signed_server() -> (u16, Arc<AtomicUsize>) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let count = handshakes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let mut tls = rustls::ServerConnection::new(config).unwrap();
                // Drive the handshake until the client gives up on the
                // certificate (it sends an alert and closes).
                while tls.is_handshaking() {
                    if tls.complete_io(&mut tcp).is_err() {
                        return;
                    }
                }
                let mut stream = rustls::StreamOwned::new(tls, tcp);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
                );
            });
        }
    });
    (port, handshakes)
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_and_is_not_retried() {
    let (port, handshakes) = self_signed_server();
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
