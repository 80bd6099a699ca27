//! `HttpFetcher` against a canned server on 127.0.0.1.

mod common;

use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{rss_bytes, Reply, TestServer};
use futures::{AsyncReadExt, StreamExt};
use semcrawl_core::{classify_body_error, Fetch, FetchError, FetchRequest, Response};
use semcrawl_site::{gzip_bomb, wait_for, BOMB_PREFIX};
use semcrawl_smol::{FetchOptions, HttpFetcher};

fn fetcher(max: usize, per_host: usize) -> HttpFetcher {
    HttpFetcher::new(FetchOptions {
        max_connections: max,
        max_connections_per_host: per_host,
        connect_timeout: Duration::from_secs(5),
        user_agent: "semcrawl-test/default".into(),
        ..FetchOptions::default()
    })
    .unwrap()
}

fn request(url: &str, timeout: Duration) -> FetchRequest {
    FetchRequest {
        url: url.parse().unwrap(),
        user_agent: "semcrawl-test".into(),
        timeout,
        headers: Default::default(),
    }
}

fn get(f: &HttpFetcher, url: &str) -> Result<Response, FetchError> {
    smol::block_on(f.fetch(request(url, Duration::from_secs(10))))
}

fn read_all(response: &mut Response) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    smol::block_on(response.body.read_to_end(&mut body))?;
    Ok(body)
}

/// Held by a test while it measures the process's RSS, so that two such
/// tests do not count each other's memory.
fn measuring_rss() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn head_fields_are_returned_and_redirects_not_followed() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/old" => Reply::Full {
            status: 301,
            headers: vec![
                ("Location".into(), "/new".into()),
                ("Retry-After".into(), "120".into()),
                ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ],
            body: b"moved".to_vec(),
        },
        _ => Reply::ok("new"),
    });
    let f = fetcher(4, 4);
    let mut response = get(&f, &server.url("/old")).unwrap();
    assert_eq!(response.status, 301);
    assert_eq!(response.url.as_str(), server.url("/old"));
    assert_eq!(response.location.as_deref(), Some("/new"));
    assert_eq!(response.retry_after.as_deref(), Some("120"));
    assert_eq!(
        response.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.content_length, Some(5));
    assert_eq!(read_all(&mut response).unwrap(), b"moved");
    let paths: Vec<_> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/old"], "the redirect must be left to the core");
}

#[test]
fn user_agent_and_accept_encoding_are_sent() {
    let server = TestServer::start(|_| Reply::ok("x"));
    let f = fetcher(4, 4);
    read_all(&mut get(&f, &server.url("/")).unwrap()).unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.header("user-agent"), Some("semcrawl-test"));
    let accept = seen.header("accept-encoding").unwrap_or_default();
    assert!(
        accept.contains("gzip") && accept.contains("deflate"),
        "{accept}"
    );
    // curl-sys bundles libcurl with zlib only: `br` is never advertised, so
    // never sent (see docs/decisions.md).
    assert!(!accept.contains("br"), "{accept}");
}

/// A server answering `/{encoding}` with `body` under that
/// `Content-Encoding` (`/none` sends none).
fn encoded_server(bodies: Vec<(&'static str, Vec<u8>)>) -> TestServer {
    TestServer::start(move |req| {
        let name = req.path.trim_start_matches('/');
        let (encoding, body) = bodies
            .iter()
            .find(|(e, _)| *e == name)
            .cloned()
            .unwrap_or(("none", b"?".to_vec()));
        let headers = if encoding == "none" {
            vec![]
        } else {
            vec![("Content-Encoding".into(), encoding.replace('+', ", "))]
        };
        Reply::Full {
            status: 200,
            headers,
            body,
        }
    })
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// The error a body ends with, as the core classifies it (or the fetch's own).
fn body_error(f: &HttpFetcher, url: &str) -> FetchError {
    match get(f, url) {
        Err(e) => e,
        Ok(mut response) => classify_body_error(&read_all(&mut response).unwrap_err()),
    }
}

#[test]
fn gzip_deflate_and_identity_bodies_are_decoded() {
    let text = "hello world ".repeat(1000);
    let server = encoded_server(vec![
        ("gzip", gzip(text.as_bytes())),
        ("x-gzip", gzip(text.as_bytes())),
        // deflate is zlib by the RFC; some servers send it raw.
        ("deflate", zlib(text.as_bytes())),
        ("DEFLATE", raw_deflate(text.as_bytes())),
        ("identity", text.as_bytes().to_vec()),
        ("none", text.as_bytes().to_vec()),
    ]);
    let f = fetcher(4, 4);
    for encoding in ["gzip", "x-gzip", "deflate", "DEFLATE"] {
        let mut response = get(&f, &server.url(&format!("/{encoding}"))).unwrap();
        assert_eq!(
            response.content_length, None,
            "{encoding}: the encoded length says nothing of the decoded size"
        );
        assert_eq!(
            read_all(&mut response).unwrap(),
            text.as_bytes(),
            "{encoding}"
        );
    }
    for identity in ["identity", "none"] {
        let mut response = get(&f, &server.url(&format!("/{identity}"))).unwrap();
        assert_eq!(response.content_length, Some(text.len() as u64));
        assert_eq!(
            read_all(&mut response).unwrap(),
            text.as_bytes(),
            "{identity}"
        );
    }
}

#[test]
fn stacked_and_unknown_encodings_are_protocol_errors() {
    let text = b"<p>hello</p>".repeat(100);
    let server = encoded_server(vec![
        ("gzip+gzip", gzip(&gzip(&text))),
        ("br", b"\x0b\x02\x80hello\x03".to_vec()),
        ("zstd", b"(\xb5/\xfd hello".to_vec()),
        ("garbage", text.clone()),
    ]);
    let f = fetcher(4, 4);
    for path in ["/gzip+gzip", "/br", "/zstd", "/garbage"] {
        let error = body_error(&f, &server.url(path));
        assert!(
            matches!(error, FetchError::Protocol(_)),
            "{path}: {error:?}"
        );
    }
    // Refused from the head: the stacked bomb was never inflated at all.
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn many_paused_gzip_bombs_cost_a_few_mib_each() {
    // The core reads a bomb up to --max-body, then stops and holds the
    // response while it finishes the page; meanwhile curl keeps what it
    // received. Pause 16 bombs that way, each after 8 MiB of output.
    const BOMBS: usize = 16;
    let bomb = gzip_bomb().to_vec();
    let server = TestServer::start(move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Encoding".into(), "gzip".into())],
        body: bomb.clone(),
    });
    let f = fetcher(BOMBS, BOMBS);
    let _alone = measuring_rss();
    let before = rss_bytes();
    let mut paused = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    for i in 0..BOMBS {
        let mut response = get(&f, &server.url(&format!("/bomb/{i}"))).unwrap();
        assert_eq!(response.content_length, None, "a hint of the raw size only");
        let mut total = 0u64;
        while total <= 8 << 20 {
            let n = smol::block_on(response.body.read(&mut buf)).unwrap();
            assert!(n > 0, "early EOF after {total} bytes");
            total += n as u64;
        }
        paused.push(response);
    }
    wait_for("every bomb's request", Duration::from_secs(5), || {
        (server.seen().len() == BOMBS).then_some(())
    });
    let grown = rss_bytes().saturating_sub(before);
    eprintln!(
        "RSS grew by {} KiB with {BOMBS} bombs paused after 8 MiB each",
        grown >> 10
    );
    // Per bomb: compressed bytes in curl's and isahc's buffers, a 16 KiB
    // input buffer and an inflater (32 KiB window), plus the test server's
    // own copy of the 1 MiB reply (it runs in this process): about 2 MiB.
    // curl's own decoder held about 14 MiB of output per paused bomb here.
    assert!(
        grown < 3 * ((BOMBS as u64) << 20),
        "RSS grew by {} MiB with {BOMBS} bombs paused",
        grown >> 20
    );
}

#[test]
fn connections_are_reused_after_a_full_read() {
    let server = TestServer::start(|_| Reply::ok("same socket"));
    let f = fetcher(1, 1);
    for _ in 0..3 {
        read_all(&mut get(&f, &server.url("/")).unwrap()).unwrap();
    }
    assert_eq!(server.seen().len(), 3);
    assert_eq!(
        server.connections(),
        1,
        "keep-alive: one connection for three requests"
    );
}

#[test]
fn a_body_dropped_half_read_does_not_poison_the_pool() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/big" => Reply::Stream {
            headers: vec![],
            len: 64 << 20,
            fill: b'a',
        },
        _ => Reply::ok("next"),
    });
    // One connection in total: if the aborted one were parked in the pool
    // (or leaked), the next request would reuse garbage or wait forever.
    let f = fetcher(1, 1);
    let mut response = get(&f, &server.url("/big")).unwrap();
    let mut part = vec![0u8; 64 * 1024];
    smol::block_on(response.body.read_exact(&mut part)).unwrap();
    assert!(part.iter().all(|&b| b == b'a'));
    drop(response);

    let start = Instant::now();
    let mut next = get(&f, &server.url("/next")).unwrap();
    assert_eq!(next.status, 200);
    assert_eq!(read_all(&mut next).unwrap(), b"next");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        server.connections(),
        2,
        "the half-read connection is closed, not reused"
    );
}

#[test]
fn the_timeout_covers_a_stalled_body_and_the_pool_survives_it() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/slow" => {
            Reply::Stall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst ten.".to_vec())
        }
        _ => Reply::ok("fine"),
    });
    let f = fetcher(1, 1);
    let start = Instant::now();
    let mut response =
        smol::block_on(f.fetch(request(&server.url("/slow"), Duration::from_millis(500)))).unwrap();
    assert_eq!(response.status, 200);
    let error = read_all(&mut response).unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
    assert_eq!(classify_body_error(&error), FetchError::Timeout);
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    drop(response);

    let mut next = get(&f, &server.url("/next")).unwrap();
    assert_eq!(read_all(&mut next).unwrap(), b"fine");
}

#[test]
fn a_missing_head_times_out() {
    let server = TestServer::start(|_| Reply::Stall(Vec::new()));
    let f = fetcher(4, 4);
    let start = Instant::now();
    let result = smol::block_on(f.fetch(request(&server.url("/"), Duration::from_millis(300))));
    assert_eq!(result.unwrap_err(), FetchError::Timeout);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_per_host_cap_holds_back_a_second_connection() {
    let server = TestServer::start(|req| match req.path.as_str() {
        // isahc hands the head over with the first body byte, so send one.
        "/hold" => Reply::Stall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nx".to_vec()),
        _ => Reply::ok("quick"),
    });
    let f = fetcher(8, 1);
    let start = Instant::now();
    let held = smol::block_on(f.fetch(request(&server.url("/hold"), Duration::from_millis(1500))))
        .unwrap();
    // The server would answer at once, but the only connection allowed to
    // this host is busy: the request waits and runs out of time.
    let result =
        smol::block_on(f.fetch(request(&server.url("/quick"), Duration::from_millis(400))));
    assert_eq!(result.unwrap_err(), FetchError::Timeout);
    assert_eq!(server.connections(), 1);
    // Dropping the body closes its connection and gives the slot back at
    // once (curl, which sent plain http before hyper did, noticed a body
    // dropped while no data flowed only at the transfer's deadline, 1.5 s
    // here).
    drop(held);
    let mut quick = get(&f, &server.url("/quick")).unwrap();
    assert_eq!(read_all(&mut quick).unwrap(), b"quick");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(1400),
        "{elapsed:?}"
    );
    assert_eq!(server.connections(), 2, "the held connection was closed");
}

#[test]
fn a_gzip_bomb_is_inflated_lazily() {
    let bomb = gzip_bomb().to_vec();
    assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());

    let server = TestServer::start(move |_| Reply::Full {
        status: 200,
        headers: vec![("Content-Encoding".into(), "gzip".into())],
        body: bomb.clone(),
    });
    let f = fetcher(1, 1);
    let _alone = measuring_rss();
    let before = rss_bytes();
    let mut response = get(&f, &server.url("/bomb")).unwrap();
    let mut prefix = vec![0u8; BOMB_PREFIX.len()];
    smol::block_on(response.body.read_exact(&mut prefix)).unwrap();
    assert_eq!(prefix, BOMB_PREFIX);
    // Read 32 MiB like the core would, under its cap.
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    while total < 32 << 20 {
        let n = smol::block_on(response.body.read(&mut buf)).unwrap();
        assert!(n > 0, "early EOF after {total} bytes");
        assert!(buf[..n].iter().all(|&b| b == b' '));
        total += n as u64;
    }
    // Give curl every chance to inflate ahead: the whole compressed bomb is
    // in the socket buffers or already in curl's hands by now.
    wait_for("the bomb's request", Duration::from_secs(5), || {
        (server.seen().len() == 1).then_some(())
    });
    let grown = rss_bytes().saturating_sub(before);
    eprintln!(
        "RSS grew by {} KiB while reading 32 MiB of the bomb",
        grown >> 10
    );
    assert!(
        grown < 16 << 20,
        "RSS grew by {} MiB while reading 32 MiB of a 1 GiB bomb",
        grown >> 20
    );
    drop(response);

    // And the connection it came on is not reused half-way through the bomb.
    let mut next = get(&f, &server.url("/bomb")).unwrap();
    let mut first = vec![0u8; BOMB_PREFIX.len()];
    smol::block_on(next.body.read_exact(&mut first)).unwrap();
    assert_eq!(first, BOMB_PREFIX);
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_corrupt_gzip_body_is_a_protocol_error() {
    let server = TestServer::start(|_| Reply::Full {
        status: 200,
        headers: vec![("Content-Encoding".into(), "gzip".into())],
        body: b"\x1f\x8b\x08\x00 this is not deflate data at all".to_vec(),
    });
    let f = fetcher(4, 4);
    let error = match get(&f, &server.url("/")) {
        Err(e) => e,
        Ok(mut response) => classify_body_error(&read_all(&mut response).unwrap_err()),
    };
    assert!(matches!(error, FetchError::Protocol(_)), "{error:?}");
}

#[test]
fn a_non_http_answer_is_a_protocol_error() {
    let server = TestServer::start(|_| Reply::Raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()));
    let error = get(&fetcher(4, 4), &server.url("/")).unwrap_err();
    assert!(matches!(error, FetchError::Protocol(_)), "{error:?}");
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = get(&fetcher(4, 4), &format!("http://127.0.0.1:{port}/")).unwrap_err();
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    assert!(error.is_transient());
}

#[test]
fn an_unsupported_scheme_is_refused() {
    let error = get(&fetcher(4, 4), "ftp://127.0.0.1/file").unwrap_err();
    assert!(
        matches!(error, FetchError::Refused(ref m) if m.contains("ftp")),
        "{error:?}"
    );
}

#[test]
fn options_follow_the_crawl_config() {
    let config = semcrawl_core::Config {
        concurrency: semcrawl_core::Concurrency::Fixed(48),
        per_host: 3,
        timeout: Duration::from_secs(2),
        user_agent: "bot/1".into(),
        ..Default::default()
    };
    let options = FetchOptions::from_config(&config);
    assert_eq!(options.max_connections, 48);
    assert_eq!(options.max_connections_per_host, 3);
    assert_eq!(options.connect_timeout, Duration::from_secs(2));
    assert_eq!(options.user_agent, "bot/1");
}

// The pool of plain-http connections (hyper's, since isahc's agent thread
// was taken out of plain http): reuse, and nothing left half-read reused.

#[test]
fn many_requests_share_few_connections() {
    let server = TestServer::start(|req| Reply::ok(&format!("page {}", req.path)));
    let f = fetcher(4, 4);
    let urls: Vec<String> = (0..200).map(|i| server.url(&format!("/{i}"))).collect();
    let bodies: Vec<(String, Vec<u8>)> = smol::block_on(
        futures::stream::iter(urls.iter())
            .map(|url| {
                let f = &f;
                async move {
                    let mut response = f.fetch(request(url, Duration::from_secs(10))).await;
                    let mut body = Vec::new();
                    let response = response.as_mut().unwrap();
                    response.body.read_to_end(&mut body).await.unwrap();
                    (response.url.path().to_owned(), body)
                }
            })
            .buffer_unordered(8)
            .collect(),
    );
    assert_eq!(bodies.len(), 200);
    for (path, body) in &bodies {
        assert_eq!(body, format!("page {path}").as_bytes());
    }
    assert_eq!(server.seen().len(), 200);
    let connections = server.connections();
    assert!(
        (1..=4).contains(&connections),
        "{connections} connections for 200 requests, 4 at a time"
    );
    // What curl sent, hyper sends too.
    let seen = &server.seen()[0];
    assert_eq!(seen.header("host"), Some(server.addr.to_string().as_str()));
    assert_eq!(seen.header("accept"), Some("*/*"));
}

#[test]
fn bodies_abandoned_mid_way_never_poison_the_next_request() {
    let server = TestServer::start(|req| match req.path.as_str() {
        // Chunked, and the server stops half-way through the first chunk.
        "/chunked" => Reply::Stall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\nbbbbbbbbbbbbbbbb"
                .to_vec(),
        ),
        "/big" => Reply::Stream {
            headers: vec![],
            len: 8 << 20,
            fill: b'a',
        },
        path => Reply::ok(&format!("fine {path}")),
    });
    // One slot for the host: a slot or connection leaked by an abandoned
    // body would hold the next request back until its deadline.
    let f = fetcher(1, 1);
    let deadline = Duration::from_secs(3);
    for round in 0..5 {
        // Dropped without a byte read.
        drop(smol::block_on(f.fetch(request(&server.url("/big"), deadline))).unwrap());
        // Dropped after a few bytes.
        let mut big = smol::block_on(f.fetch(request(&server.url("/big"), deadline))).unwrap();
        let mut part = [0u8; 1000];
        smol::block_on(big.body.read_exact(&mut part)).unwrap();
        assert!(part.iter().all(|&b| b == b'a'));
        drop(big);
        // Dropped inside a chunk.
        let mut chunked =
            smol::block_on(f.fetch(request(&server.url("/chunked"), deadline))).unwrap();
        let mut part = [0u8; 8];
        smol::block_on(chunked.body.read_exact(&mut part)).unwrap();
        assert_eq!(&part, b"bbbbbbbb");
        drop(chunked);

        let start = Instant::now();
        let path = format!("/next{round}");
        let mut next = get(&f, &server.url(&path)).unwrap();
        assert_eq!(
            read_all(&mut next).unwrap(),
            format!("fine {path}").as_bytes()
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    // Three abandoned bodies a round, each on a connection of its own; the
    // full reads after them may have shared one.
    let connections = server.connections();
    assert!((15..=20).contains(&connections), "{connections}");
}

#[test]
fn a_connection_the_server_closed_while_idle_is_replaced() {
    // Each answer is complete, and then the server hangs up.
    let server = TestServer::start(|_| {
        Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce".to_vec())
    });
    let f = fetcher(1, 1);
    for _ in 0..5 {
        let mut response = get(&f, &server.url("/")).unwrap();
        assert_eq!(read_all(&mut response).unwrap(), b"once");
        // Let the close reach the idle connection before it is used again.
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.connections(), 5);
}

#[test]
fn a_connection_the_server_asked_to_close_is_not_reused() {
    let server = TestServer::start(|_| Reply::Full {
        status: 200,
        headers: vec![("Connection".into(), "close".into())],
        body: b"bye".to_vec(),
    });
    let f = fetcher(1, 1);
    for _ in 0..3 {
        let mut response = get(&f, &server.url("/")).unwrap();
        assert_eq!(read_all(&mut response).unwrap(), b"bye");
    }
    assert_eq!(server.connections(), 3);
}
