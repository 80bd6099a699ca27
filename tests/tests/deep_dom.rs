//! Pages of 100,000 and 1,000,000 nested `<div>`s with `--text` and
//! `--select`: the DOM stops at its depth cap, so they are parsed at once
//! (half a minute, and more than two, before the cap), recorded as
//! `parse_truncated`; and Ctrl-C during such a crawl exits within `--grace`.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::wait_for;
use semcrawl_tests::hostile::{response, Act, HostileServer};
use semcrawl_tests::{by_url, complete_lines, error_kind, read_jsonl, spawn, TempDir, QUIET};

/// Nested `<div>`s (left open: a million closed would pass `--max-body`),
/// then a link and a heading nobody reaches.
fn nested(depth: usize) -> Act {
    let body = format!("{}<a href=/never>x</a><h1>deep</h1>", "<div>".repeat(depth));
    Act::Send(response(&[("Content-Type", "text/html")], body.as_bytes()))
}

#[test]
fn deep_pages_are_cut_and_ctrl_c_exits_within_grace() {
    let mut acts = BTreeMap::new();
    acts.insert("/deep-100k".to_owned(), nested(100_000));
    acts.insert("/deep-1m".to_owned(), nested(1_000_000));
    // Keeps the crawl running until it is interrupted.
    acts.insert("/hang".to_owned(), Act::Hang);
    let server = HostileServer::start(acts);
    let dir = TempDir::new("deep-dom");
    let out = dir.join("out.jsonl");
    let mut args: Vec<String> = ["crawl", "--text", "--select", "h=div h1"]
        .map(String::from)
        .to_vec();
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.extend(["--ignore-robots", "--memory", "512MiB", "--timeout", "120s"].map(String::from));
    args.extend(["--grace", "3s", "--out"].map(String::from));
    args.push(out.display().to_string());
    args.extend(["/deep-100k", "/deep-1m", "/hang"].map(|p| server.url(p)));
    let mut crawl = spawn(&args);

    // Both deep pages are parsed long before a debug build could have
    // built their trees: the cap took effect.
    wait_for("both deep pages stored", Duration::from_secs(60), || {
        assert!(
            !crawl.has_exited(),
            "the crawl ended before it was interrupted"
        );
        (complete_lines(&out) >= 2).then_some(())
    });
    let records = by_url(&read_jsonl(&out));
    for path in ["/deep-100k", "/deep-1m"] {
        let record = &records[&server.url(path)];
        assert_eq!(error_kind(record), Some("parse_truncated"), "{record}");
        assert!(
            record["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("nested deeper than 512")),
            "{record}"
        );
        assert_eq!(record["status"], 200);
        assert_eq!(record["text"], "", "{record}");
        assert_eq!(record["fields"]["h"], serde_json::Value::Null);
        assert_eq!(record["links_count"], 0);
    }

    // Ctrl-C: the hanging page is given `--grace` (3 s), then the crawl
    // ends; 10 s leaves room for a loaded machine.
    kill(Pid::from_raw(crawl.pid() as i32), Signal::SIGINT).expect("send SIGINT");
    let done = crawl.wait(Duration::from_secs(10));
    done.assert_code(130);
    let records = by_url(&read_jsonl(&out));
    assert_eq!(
        error_kind(&records[&server.url("/hang")]),
        Some("interrupted")
    );
}
