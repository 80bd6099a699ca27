//! Reaching sites that need more than a GET, end to end against servers on
//! 127.0.0.1: headers, a cookie and a seed's credentials reach the seed's
//! site and never another one (not through a link, not through a
//! redirect); the password is never written; `--proxy` and the
//! `http_proxy` variable route requests through a proxy; `--ca-cert` and
//! `--insecure` reach a server with a self-signed certificate.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use semcrawl_tests::tls::SelfSigned;
use semcrawl_tests::{by_url, crawl_to_jsonl, error_kind, run, semcrawl_bin, TempDir, QUIET};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

/// One request as a server saw it: its path and its headers (names in
/// lowercase).
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: BTreeMap<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// An HTTP/1.1 server on 127.0.0.1 that logs every request and answers
/// with `answer(request)` (status line, headers and body), then closes.
struct Server {
    port: u16,
    log: Log,
}

impl Server {
    fn start(answer: impl Fn(&Seen) -> String + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Log = Arc::default();
        let (l, answer) = (log.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, answer) = (l.clone(), answer.clone());
                std::thread::spawn(move || {
                    let Some((line, headers)) = read_head(&stream) else {
                        return;
                    };
                    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    let seen = Seen { path, headers };
                    log.lock().unwrap().push(seen.clone());
                    let _ = (&stream).write_all(answer(&seen).as_bytes());
                });
            }
        });
        Server { port, log }
    }

    fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

/// The request line and headers of one request.
fn read_head(stream: &TcpStream) -> Option<(String, BTreeMap<String, String>)> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Some((line.trim().to_owned(), headers))
}

fn html(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn status(code: u16, extra: &str) -> String {
    format!("HTTP/1.1 {code} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

/// The other site: plain pages, no links.
fn other_site() -> Server {
    Server::start(|_| html("<title>other</title>"))
}

/// The seed's site: a public home page; a members area that wants the
/// token, the cookie and alice's password; a redirect from it to the other
/// site; links to the other site under another host name and with
/// credentials of their own.
fn members_site(other: u16) -> Server {
    Server::start(move |req| {
        let h = |n: &str| req.headers.get(n).map(String::as_str);
        let member = h("x-token") == Some("s3cret")
            && h("cookie") == Some("sid=42; theme=dark")
            // alice:hunter2
            && h("authorization") == Some("Basic YWxpY2U6aHVudGVyMg==");
        match req.path.as_str() {
            "/" => html(&format!(
                "<a href='/members/'>members</a>\
                 <a href='http://localhost:{other}/linked'>other</a>\
                 <a href='http://mallory:pw@127.0.0.1:{other}/with-userinfo'>u</a>"
            )),
            "/members/" if member => html("<title>Members</title><a href='/members/out'>out</a>"),
            "/members/out" if member => status(
                302,
                &format!("Location: http://127.0.0.1:{other}/landing\r\n"),
            ),
            _ if req.path.starts_with("/members/") => status(403, ""),
            _ => status(404, ""),
        }
    })
}

fn secrets_in(text: &str) -> bool {
    ["hunter2", "alice", "mallory", "s3cret", "sid=42"]
        .iter()
        .any(|s| text.contains(s))
}

#[test]
fn headers_cookie_and_credentials_reach_the_seed_site_only() {
    let other = other_site();
    let seed_site = members_site(other.port);
    let dir = TempDir::new("reach-headers");
    let seed = format!("http://alice:hunter2@127.0.0.1:{}/", seed_site.port);
    let (done, records, _) = crawl_to_jsonl(
        &dir,
        &seed,
        &[
            "--ignore-robots",
            "--scope",
            "any",
            "-H",
            "X-Token: s3cret",
            "--cookie",
            "sid=42",
            "--cookie",
            "theme=dark",
            "--log-level",
            "debug",
        ],
        T,
    );
    let home = format!("http://127.0.0.1:{}/", seed_site.port);
    let records = by_url(&records);
    let members = &records[&format!("{home}members/")];
    assert_eq!(members["status"], 200, "{members}");
    assert_eq!(members["title"], "Members");
    let out = &records[&format!("{home}members/out")];
    assert_eq!(out["status"], 302, "{out}");

    // The other site got the redirect, the link and the link with
    // userinfo, and not one secret.
    let seen = other.requests();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    for path in ["/landing", "/linked", "/with-userinfo"] {
        assert!(paths.contains(&path), "{path} not requested: {paths:?}");
    }
    for req in &seen {
        for name in ["authorization", "cookie", "x-token"] {
            assert!(!req.headers.contains_key(name), "{name} leaked: {req:?}");
        }
    }
    // Every request to the seed's site carried them.
    for req in seed_site.requests() {
        assert_eq!(
            req.headers.get("x-token").map(String::as_str),
            Some("s3cret")
        );
    }

    // No password in a record, a URL or a log line.
    let text = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert!(!secrets_in(&text), "{text}");
    assert!(!secrets_in(&done.stderr), "{}", done.stderr);
    assert!(records.contains_key(&format!("http://127.0.0.1:{}/with-userinfo", other.port)));
    for r in records.values() {
        for field in ["url", "final_url", "parent"] {
            let v = r[field].as_str().unwrap_or("");
            assert!(!v.contains('@'), "{field}: {v}");
        }
    }
}

#[test]
fn allowed_domains_get_the_headers_but_not_the_seed_credentials() {
    let other = other_site();
    let seed_site = members_site(other.port);
    let dir = TempDir::new("reach-allow");
    let seed = format!("http://alice:hunter2@127.0.0.1:{}/", seed_site.port);
    crawl_to_jsonl(
        &dir,
        &seed,
        &[
            "--ignore-robots",
            "--allow-domain",
            "localhost",
            "-H",
            "X-Token: s3cret",
        ],
        T,
    );
    let seen = other.requests();
    let linked = seen.iter().find(|s| s.path == "/linked").expect("/linked");
    assert_eq!(
        linked.headers.get("x-token").map(String::as_str),
        Some("s3cret")
    );
    assert!(!linked.headers.contains_key("authorization"), "{linked:?}");
    // 127.0.0.1 on another port is another site, and not allowed.
    assert!(seen.iter().all(|s| s.path != "/landing"));
}

#[test]
fn a_header_with_a_line_break_is_refused_in_one_line() {
    for args in [
        &["-H", "X-A: 1\r\nX-Evil: 2"][..],
        &["-H", "no colon"],
        &["-H", "Bad Name: 1"],
        &["--cookie", "a=1\nb"],
        &["--proxy", "ftp://127.0.0.1:1/"],
        &["--ca-cert", "/nonexistent/ca.pem"],
    ] {
        let mut argv = vec!["crawl", "http://127.0.0.1:9/"];
        argv.extend_from_slice(args);
        let done = run(&argv, T);
        done.assert_code(2);
        assert_eq!(
            done.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            done.stderr
        );
        let flag = args[0].trim_start_matches('-');
        let named = if flag == "H" { "header" } else { flag };
        assert!(done.stderr.contains(named), "{args:?}: {}", done.stderr);
    }
}

/// A forward HTTP proxy on 127.0.0.1 (absolute-form request lines, one
/// request a connection), counting the requests it relays.
fn proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(client) = stream else { continue };
            let c = c.clone();
            std::thread::spawn(move || {
                let Some((line, headers)) = read_head(&client) else {
                    return;
                };
                let mut parts = line.split(' ');
                let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
                    return;
                };
                if method == "CONNECT" {
                    // A tunnel (https through the proxy): bytes both ways.
                    c.fetch_add(1, Ordering::SeqCst);
                    let Ok(upstream) = TcpStream::connect(target) else {
                        let _ = (&client).write_all(status(502, "").as_bytes());
                        return;
                    };
                    let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    relay(client, upstream);
                    return;
                }
                let Some(rest) = target.strip_prefix("http://") else {
                    let _ = (&client).write_all(status(400, "").as_bytes());
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let Ok(mut upstream) = TcpStream::connect(authority) else {
                    let _ = (&client).write_all(status(502, "").as_bytes());
                    return;
                };
                let mut head = format!("{method} {path} HTTP/1.1\r\n");
                for (n, v) in &headers {
                    if !n.starts_with("proxy-") && n != "connection" {
                        head.push_str(&format!("{n}: {v}\r\n"));
                    }
                }
                head.push_str("connection: close\r\n\r\n");
                let _ = upstream.write_all(head.as_bytes());
                let mut answer = Vec::new();
                let _ = upstream.read_to_end(&mut answer);
                let _ = (&client).write_all(&answer);
            });
        }
    });
    (port, count)
}

/// Copy bytes both ways between two sockets until both sides are done.
fn relay(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT by IPv4 or by
/// name), counting the connections it relays.
fn socks5_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let c = c.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut head = [0u8; 2];
                client.read_exact(&mut head)?;
                let mut methods = vec![0u8; head[1] as usize];
                client.read_exact(&mut methods)?;
                client.write_all(&[5, 0])?;
                let mut req = [0u8; 4];
                client.read_exact(&mut req)?;
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip)?;
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len)?;
                        let mut name = vec![0u8; len[0] as usize];
                        client.read_exact(&mut name)?;
                        String::from_utf8_lossy(&name).into_owned()
                    }
                    _ => return Ok(()),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port)?;
                let upstream = TcpStream::connect((host.as_str(), u16::from_be_bytes(port)))?;
                c.fetch_add(1, Ordering::SeqCst);
                client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
                relay(client, upstream);
                Ok(())
            });
        }
    });
    (port, count)
}

fn small_site() -> Server {
    Server::start(|req| match req.path.as_str() {
        "/" => html("<a href='/a'>a</a><a href='/b'>b</a>"),
        "/a" | "/b" => html("<title>leaf</title>"),
        _ => status(404, ""),
    })
}

/// Crawl `seed` into `dir/out.jsonl` with `args`, in an environment whose
/// proxy variables are only `env` (the machine's own, `no_proxy` above all,
/// would change where requests go); returns the records. No sitemap is
/// sought, so that the requests counted are the pages (and robots.txt).
fn crawl_without_proxy_env(
    dir: &TempDir,
    seed: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Vec<Value> {
    let out = dir.join("out.jsonl");
    let mut command = Command::new(semcrawl_bin());
    command
        .arg("crawl")
        .arg("--no-sitemaps")
        .args(args)
        .arg("-o")
        .arg(&out)
        .args(QUIET)
        .arg(seed);
    for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        command.env_remove(var).env_remove(var.to_ascii_uppercase());
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let status = command.stdin(Stdio::null()).status().unwrap();
    assert!(status.success(), "{status}");
    semcrawl_tests::read_jsonl(&out)
}

#[test]
fn the_proxy_flag_routes_every_request_through_the_proxy() {
    let site = small_site();
    let (proxy_port, relayed) = proxy();
    let dir = TempDir::new("reach-proxy");
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let seed = format!("http://127.0.0.1:{}/", site.port);
    let records = crawl_without_proxy_env(&dir, &seed, &["--proxy", &proxy_url], &[]);
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records.iter().all(|r| r["status"] == 200), "{records:?}");
    // robots.txt and the three pages.
    assert_eq!(relayed.load(Ordering::SeqCst), 4);
    assert_eq!(site.requests().len(), 4);
}

#[test]
fn a_socks5_proxy_carries_every_request() {
    let site = small_site();
    let (proxy_port, relayed) = socks5_proxy();
    let dir = TempDir::new("reach-socks");
    let seed = format!("http://127.0.0.1:{}/", site.port);
    let proxy_url = format!("socks5h://127.0.0.1:{proxy_port}");
    let records = crawl_without_proxy_env(
        &dir,
        &seed,
        &["--ignore-robots", "--proxy", &proxy_url],
        &[],
    );
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records.iter().all(|r| r["status"] == 200), "{records:?}");
    // Connections, not requests: curl may reuse one for several pages.
    let relayed = relayed.load(Ordering::SeqCst);
    assert!((1..=3).contains(&relayed), "{relayed}");
    assert_eq!(site.requests().len(), 3);
}

#[test]
fn the_https_proxy_variable_tunnels_https() {
    let SelfSigned { port, pem, .. } = SelfSigned::start();
    let (proxy_port, relayed) = proxy();
    let dir = TempDir::new("reach-https-proxy");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = format!("https://127.0.0.1:{port}/");
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let records = crawl_without_proxy_env(
        &dir,
        &url,
        &["--ignore-robots", "--ca-cert", ca.to_str().unwrap()],
        &[("https_proxy", proxy)],
    );
    assert_eq!(records[0]["status"], 200, "{records:?}");
    assert_eq!(relayed.load(Ordering::SeqCst), 1, "one CONNECT");
}

#[test]
fn the_http_proxy_variable_is_honoured() {
    let site = small_site();
    let (proxy_port, relayed) = proxy();
    let dir = TempDir::new("reach-proxy-env");
    let seed = format!("http://127.0.0.1:{}/", site.port);
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let records =
        crawl_without_proxy_env(&dir, &seed, &["--ignore-robots"], &[("http_proxy", proxy)]);
    assert_eq!(records.len(), 3);
    assert_eq!(relayed.load(Ordering::SeqCst), 3);
}

fn tls_record(extra: &[&str], quiet: bool) -> (Value, String) {
    let SelfSigned { port, pem, .. } = SelfSigned::start();
    let dir = TempDir::new("reach-tls");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = format!("https://127.0.0.1:{port}/");
    let out = dir.join("out.jsonl");
    let mut args: Vec<String> = vec!["crawl".into(), "--ignore-robots".into()];
    args.extend(["--progress".into(), "never".into(), "-o".into()]);
    args.push(out.display().to_string());
    if quiet {
        args.push("-q".into());
    }
    for a in extra {
        args.push(a.replace("CA", &ca.display().to_string()));
    }
    args.push(url.clone());
    let done = run(&args, T);
    let records = by_url(&semcrawl_tests::read_jsonl(&out));
    (records[&url].clone(), done.stderr)
}

#[test]
fn a_ca_certificate_file_makes_a_self_signed_server_trusted() {
    let (record, _) = tls_record(&[], true);
    assert_eq!(error_kind(&record), Some("tls"), "{record}");
    let (record, stderr) = tls_record(&["--ca-cert", "CA"], true);
    assert_eq!(record["status"], 200, "{record} {stderr}");
    assert_eq!(record["title"], "tls");
}

#[test]
fn insecure_accepts_any_certificate_and_says_so() {
    let (record, stderr) = tls_record(&["--insecure"], false);
    assert_eq!(record["status"], 200, "{record} {stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("--insecure"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
}

#[test]
fn a_ca_cert_that_is_not_pem_is_refused() {
    let dir = TempDir::new("reach-badca");
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let done = run(
        [
            "crawl",
            "http://127.0.0.1:9/",
            "--ca-cert",
            bad.to_str().unwrap(),
        ],
        T,
    );
    done.assert_code(2);
    assert_eq!(done.stderr.trim().lines().count(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("--ca-cert"), "{}", done.stderr);
}

#[test]
fn select_resolves_urls_and_takes_lists_in_jsonl_and_csv() {
    let site = Server::start(|req| match req.path.as_str() {
        "/dir/page" => html(
            "<base href='/assets/'><a class=home href='../'>home</a>\
             <img src='a.png'><img src='https://cdn.test/b.png'><p>one</p><p>two, three</p>",
        ),
        _ => status(404, ""),
    });
    let seed = format!("http://127.0.0.1:{}/dir/page", site.port);
    let origin = format!("http://127.0.0.1:{}", site.port);
    let select = [
        "--ignore-robots",
        "--max-depth",
        "0",
        "--select",
        "imgs[]=img@src",
        "--select",
        "home=a.home@href",
        "--select",
        "ps[]=p",
        "--select",
        "none[]=table",
    ];
    let dir = TempDir::new("reach-select");
    let (_, records, _) = crawl_to_jsonl(&dir, &seed, &select, T);
    let fields = &by_url(&records)[&seed]["fields"];
    assert_eq!(
        fields["imgs"],
        serde_json::json!([format!("{origin}/assets/a.png"), "https://cdn.test/b.png"])
    );
    assert_eq!(fields["home"], format!("{origin}/"));
    assert_eq!(fields["ps"], serde_json::json!(["one", "two, three"]));
    assert_eq!(fields["none"], serde_json::json!([]));

    let csv = dir.join("out.csv");
    let mut args = vec!["crawl".to_string(), "-o".into(), csv.display().to_string()];
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.extend(select.iter().map(|s| s.to_string()));
    args.push(seed.clone());
    run(&args, T).assert_code(0);
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let row = reader.records().next().unwrap().unwrap();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].to_owned();
    assert_eq!(cell("fields.home"), format!("{origin}/"));
    let ps: Vec<String> = serde_json::from_str(&cell("fields.ps")).unwrap();
    assert_eq!(ps, ["one", "two, three"]);
}

#[test]
fn an_invalid_selector_is_one_readable_line() {
    for css in ["x=p:hoverr", "x=a >", "x[]=p["] {
        let done = run(["crawl", "http://127.0.0.1:9/", "--select", css], T);
        done.assert_code(2);
        let err = done.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("invalid CSS selector"), "{err}");
        assert!(!err.to_lowercase().contains("report"), "{err}");
    }
}

#[test]
fn a_host_held_back_by_crawl_delay_is_shown_and_logged_once() {
    let site = Server::start(|req| match req.path.as_str() {
        "/robots.txt" => {
            let body = "User-agent: *\nCrawl-delay: 1\n";
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        "/" => html("<a href='/a'>a</a><a href='/b'>b</a><a href='/c'>c</a>"),
        "/a" | "/b" | "/c" => html("<title>leaf</title>"),
        _ => status(404, ""),
    });
    let origin = format!("http://127.0.0.1:{}", site.port);
    let dir = TempDir::new("reach-paced");
    let summary_path = dir.join("summary.json");
    let done = run(
        [
            "crawl",
            "--progress",
            "always",
            "--log-level",
            "info",
            "-o",
            dir.join("out.jsonl").to_str().unwrap(),
            "--summary-json",
            summary_path.to_str().unwrap(),
            &format!("{origin}/"),
        ],
        T,
    );
    done.assert_code(0);
    let summary = semcrawl_tests::read_summary(&summary_path);
    assert_eq!(summary["pacedHostsTotal"], 1, "{summary}");
    assert_eq!(
        summary["pacedHosts"],
        serde_json::json!([{"origin": origin, "delayMs": 1000, "source": "crawlDelay"}])
    );
    let stderr = &done.stderr;
    assert!(
        stderr.contains(&format!(
            "{origin} 1 req/1.0s (60/min, robots.txt Crawl-delay)"
        )),
        "the human summary names the host and its rate: {stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.contains("pages/s | paced: ")),
        "the progress line shows the pace: {stderr}"
    );
    let logged = stderr
        .lines()
        .filter(|l| l.contains("one request every 1.0s"))
        .count();
    assert_eq!(logged, 1, "logged once: {stderr}");
}

#[test]
fn the_crawl_delay_option_is_shown_too() {
    let site = small_site();
    let dir = TempDir::new("reach-delay");
    let seed = format!("http://127.0.0.1:{}/", site.port);
    let (_, _, summary) = crawl_to_jsonl(&dir, &seed, &["--ignore-robots", "--delay", "200ms"], T);
    assert_eq!(summary["pacedHostsTotal"], 1, "{summary}");
    assert_eq!(summary["pacedHosts"][0]["source"], "delay");
    assert_eq!(summary["pacedHosts"][0]["delayMs"], 200);
    // Without a delay, nothing is paced.
    let dir = TempDir::new("reach-nodelay");
    let (_, _, summary) = crawl_to_jsonl(&dir, &seed, &["--ignore-robots"], T);
    assert_eq!(summary["pacedHostsTotal"], 0, "{summary}");
    assert_eq!(summary["pacedHosts"], serde_json::json!([]));
}
