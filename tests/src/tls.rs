//! An HTTPS server on 127.0.0.1 with a fresh self-signed certificate
//! (made at test time): nobody trusts it unless told to, with its PEM.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A running self-signed HTTPS server that answers every request with a
/// small HTML page and a clean TLS close.
pub struct SelfSigned {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its certificate, PEM.
    pub pem: String,
    /// TLS handshakes attempted so far (a client that refuses the
    /// certificate gives up during one).
    pub handshakes: Arc<AtomicUsize>,
}

impl SelfSigned {
    /// Start the server; it runs until the test process ends.
    pub fn start() -> SelfSigned {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let pem = pem(cert.cert.der());
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
                    // Until the handshake ends, or the client gives up on the
                    // certificate (it sends an alert and closes).
                    while tls.is_handshaking() {
                        if tls.complete_io(&mut tcp).is_err() {
                            return;
                        }
                    }
                    let mut stream = rustls::StreamOwned::new(tls, tcp);
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head);
                    let body = "<title>tls</title>";
                    let page = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(page.as_bytes());
                    // A clean end: close_notify, then the client's close.
                    stream.conn.send_close_notify();
                    let _ = stream.flush();
                    let _ = stream.sock.shutdown(std::net::Shutdown::Write);
                    let _ = stream.sock.read_to_end(&mut Vec::new());
                });
            }
        });
        SelfSigned {
            port,
            pem,
            handshakes,
        }
    }
}

/// A DER certificate as PEM (base64 in lines of 64).
fn pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out + "-----END CERTIFICATE-----\n"
}
