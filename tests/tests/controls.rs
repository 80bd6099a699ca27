//! The controls a new user reaches for in the first hour: seed files,
//! output formats, a shell pipe closed early, quiet runs, exit codes, and
//! the packaging subcommands. Every test runs the real binary against the
//! generated site (or a closed port) on 127.0.0.1.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use semcrawl_site::wait_for;
use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};
use semcrawl_tests::{by_url, parse_jsonl, read_jsonl, run, semcrawl_bin, TempDir, QUIET};
use serde_json::Value;

const T: Duration = Duration::from_secs(120);

fn small_site() -> SiteServer {
    SiteServer::start(Site::new(SiteSpec::plain(20, 1024)), 1).unwrap()
}

fn all_urls(server: &SiteServer) -> BTreeSet<String> {
    server.expected(&ExpectOptions::default()).urls()
}

/// URLs of the site that are fetched without error, sorted.
fn ok_pages(server: &SiteServer) -> Vec<String> {
    server
        .expected(&ExpectOptions::default())
        .records
        .into_iter()
        .filter(|(_, r)| r.error.is_none() && r.status == Some(200))
        .map(|(u, _)| u)
        .collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Assert a usage error: exit 2 and one line naming each of `names`.
fn usage_error(list: &[&str], names: &[&str]) {
    let done = run(list, T);
    done.assert_code(2);
    let stderr = done.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{list:?}: {stderr}");
    for n in names {
        assert!(stderr.contains(n), "{list:?}: {stderr} does not name {n}");
    }
}

#[test]
fn input_file_reads_seeds_with_comments_and_names_a_bad_line() {
    let server = small_site();
    let dir = TempDir::new("input-file");
    let seeds = dir.join("seeds.txt");
    let ok = ok_pages(&server);
    let (a, b, c) = (ok[1].clone(), ok[2].clone(), ok[3].clone());
    std::fs::write(
        &seeds,
        format!("# two pages\n\n{a}   # the third\n\t\n{b}\n"),
    )
    .unwrap();
    let out = dir.join("out.jsonl");
    let mut list = args(&["crawl", "--max-depth", "0", "-o"]);
    list.push(out.display().to_string());
    list.extend(args(&QUIET));
    list.extend(["-i".into(), seeds.display().to_string()]);
    run(&list, T).assert_code(0);
    let got: BTreeSet<String> = by_url(&read_jsonl(&out)).into_keys().collect();
    assert_eq!(got, BTreeSet::from([a.clone(), b.clone()]));

    // `-` is standard input; seeds on the command line come too.
    let mut child = Command::new(semcrawl_bin())
        .args(["crawl", "-q", "--max-depth", "0", "-i", "-", &c])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{a}\n").as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    let got: BTreeSet<String> = by_url(&parse_jsonl(&String::from_utf8_lossy(&done.stdout)))
        .into_keys()
        .collect();
    assert_eq!(got, BTreeSet::from([a, c]));

    // A bad line: exit 2, FILE:LINE, no request.
    let before = server.total_requests();
    std::fs::write(&seeds, format!("{b}\n# fine\nftp://files.test/\n")).unwrap();
    let bad = seeds.display().to_string();
    usage_error(
        &["crawl", "-q", "-i", &bad],
        &[&format!("{bad}:3:"), "ftp://files.test/"],
    );
    usage_error(
        &["crawl", "-q", "-i", "/nonexistent-dir/seeds.txt"],
        &["/nonexistent-dir/seeds.txt"],
    );
    assert_eq!(
        server.total_requests(),
        before,
        "no request on a bad seed file"
    );
}

#[test]
fn csv_output_has_the_documented_columns_and_one_row_per_record() {
    let server = small_site();
    let dir = TempDir::new("csv");
    let out = dir.join("pages.csv");
    let mut list = args(&["crawl", "--select", "heading=h1", "--links", "-o"]);
    list.push(out.display().to_string());
    list.extend(args(&QUIET));
    list.push(server.base_url().to_string());
    run(&list, T).assert_code(0);

    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut want: Vec<String> = semcrawl_smol::store::CSV_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect();
    want.push("fields.heading".into());
    assert_eq!(header, want);
    assert_eq!(&header[..3], ["url", "final_url", "status"]);

    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let urls: BTreeSet<String> = rows.iter().map(|r| r[col("url")].to_owned()).collect();
    assert_eq!(urls.len(), rows.len(), "one row per URL");
    assert_eq!(urls, all_urls(&server));
    let root = rows
        .iter()
        .find(|r| r[col("url")] == *server.base_url().as_str())
        .unwrap();
    assert_eq!(&root[col("status")], "200");
    let links: Vec<&str> = root[col("links")].split(' ').collect();
    assert_eq!(
        links.len().to_string(),
        root[col("links_count")],
        "links joined with a space"
    );
    assert!(links.iter().all(|l| l.starts_with("http://")), "{links:?}");
    assert!(!root[col("fields.heading")].is_empty(), "{root:?}");
}

#[test]
fn unknown_extensions_are_refused_unless_format_says_what_to_write() {
    let server = small_site();
    let dir = TempDir::new("format");
    let url = server.base_url().to_string();
    let parquet = dir.join("pages.parquet").display().to_string();
    usage_error(
        &["crawl", "-q", "-o", &parquet, &url],
        &[".parquet", "jsonl", "csv", "sqlite", "--format"],
    );
    assert!(!dir.join("pages.parquet").exists());
    usage_error(
        &["crawl", "-q", "--format", "parquet", &url],
        &["parquet", "--format"],
    );
    assert_eq!(server.total_requests(), 0);

    run(
        ["crawl", "-q", "--format", "jsonl", "-o", &parquet, &url],
        T,
    )
    .assert_code(0);
    let records = read_jsonl(&dir.join("pages.parquet"));
    assert_eq!(records.len(), all_urls(&server).len());

    // `--format csv` to stdout.
    let done = run(
        ["crawl", "-q", "--format", "csv", "--max-depth", "0", &url],
        T,
    );
    done.assert_code(0);
    let mut lines = done.stdout.lines();
    assert!(lines.next().unwrap().starts_with("url,final_url,status,"));
    assert!(lines.next().unwrap().starts_with(&format!("{url},")));
}

#[test]
fn dev_null_is_an_output() {
    let server = small_site();
    let url = server.base_url().to_string();
    let done = run(["crawl", "-q", "-o", "/dev/null", &url], T);
    done.assert_code(0);
    assert_eq!(done.stderr, "");
}

/// A sink on 127.0.0.1 that answers 200 to every POST and keeps the bodies.
fn start_sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let records = Arc::new(Mutex::new(Vec::new()));
    let store = records.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let store = store.clone();
            std::thread::spawn(move || serve_sink(stream, &store));
        }
    });
    (url, records)
}

fn serve_sink(stream: TcpStream, store: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let batch: Vec<Value> = serde_json::from_slice(&body).unwrap();
        store.lock().unwrap().extend(batch);
        writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    }
}

#[test]
fn out_and_post_together_both_get_every_record() {
    let server = small_site();
    let (sink, posted) = start_sink();
    let dir = TempDir::new("tee");
    let out = dir.join("out.jsonl");
    let mut list = args(&["crawl", "--post", &sink, "-o"]);
    list.push(out.display().to_string());
    list.extend(args(&QUIET));
    list.push(server.base_url().to_string());
    run(&list, T).assert_code(0);

    let in_file: BTreeSet<String> = by_url(&read_jsonl(&out)).into_keys().collect();
    let posted = posted.lock().unwrap().clone();
    let in_sink: BTreeSet<String> = by_url(&posted).into_keys().collect();
    assert_eq!(in_file, all_urls(&server));
    assert_eq!(in_sink, in_file);
}

#[test]
fn a_closed_stdout_ends_the_crawl_quietly_with_exit_0() {
    let server = SiteServer::start(Site::new(SiteSpec::plain(3000, 1024)), 2).unwrap();
    server.set_latency(Duration::from_millis(5));
    let mut child = Command::new(semcrawl_bin())
        .args(["crawl", "--progress", "never", server.base_url().as_str()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: read one line, then close the pipe.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"url\":"), "{first}");
    drop(stdout);
    let mut stderr = child.stderr.take().unwrap();
    let status = wait_for("semcrawl to exit", T, || child.try_wait().unwrap());
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(err, "", "a closed stdout is not worth a word");
    let fetched = server.total_requests();
    assert!(
        fetched < 3000,
        "the crawl went on after stdout closed: {fetched} requests"
    );
}

#[test]
fn nothing_fetched_is_exit_3_and_quiet_means_only_errors() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let started = Instant::now();
    // Default level: the HTTP client's per-request warnings are not shown
    // (each failure is in its record); stderr is not a terminal: no colour.
    // robots.txt is ignored: an unreachable one is a warning of its own.
    let mut child = Command::new(semcrawl_bin())
        .args([
            "crawl",
            "--ignore-robots",
            "--retries",
            "0",
            "--progress",
            "never",
            &url,
        ])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(3), "{child:?}");
    let err = String::from_utf8_lossy(&child.stderr).into_owned();
    assert!(!err.contains("WARN") && !err.contains("isahc"), "{err}");
    assert!(!err.contains('\x1b'), "colour codes in a pipe: {err:?}");
    assert!(err.contains("not one page could be fetched"), "{err}");
    let records = parse_jsonl(&String::from_utf8_lossy(&child.stdout));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["error"]["kind"], "connect");

    // -q: the one error line and nothing else.
    child = Command::new(semcrawl_bin())
        .args([
            "crawl",
            "-q",
            "--ignore-robots",
            "--retries",
            "0",
            "-o",
            "/dev/null",
            &url,
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(3), "{child:?}");
    let err = String::from_utf8_lossy(&child.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("semcrawl: error: not one page could be fetched"),
        "{err}"
    );
    assert!(started.elapsed() < T);

    // Logs at debug level are still plain text off a terminal.
    let server = small_site();
    let out = Command::new(semcrawl_bin())
        .args([
            "crawl",
            "--log-level",
            "debug",
            "--max-depth",
            "0",
            "-o",
            "/dev/null",
        ])
        .arg(server.base_url().as_str())
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DEBUG"), "no debug log: {err}");
    assert!(!err.contains('\x1b'), "colour codes in a pipe: {err:?}");
}

#[test]
fn an_invalid_log_level_is_a_usage_error() {
    let server = small_site();
    let url = server.base_url().to_string();
    usage_error(
        &["crawl", "--log-level", "verbose", &url],
        &["verbose", "--log-level"],
    );
    usage_error(
        &["crawl", "--log-level", "semcrawl_core=loud", &url],
        &["loud", "--log-level"],
    );
    assert_eq!(server.total_requests(), 0);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let done = run(["completions", shell], T);
        done.assert_code(0);
        assert!(
            done.stdout.contains("input-file"),
            "{shell}: {}",
            done.stdout
        );
    }
    usage_error(&["completions", "tcsh"], &["tcsh"]);
    let done = run(["man"], T);
    done.assert_code(0);
    assert!(done.stdout.contains(".TH semcrawl 1"), "{}", done.stdout);
    for s in [
        "CRAWL OPTIONS",
        "\\-\\-memory",
        "EXIT STATUS",
        "semcrawl crawl",
    ] {
        assert!(done.stdout.contains(s), "the man page lacks {s}");
    }
}
