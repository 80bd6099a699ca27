//! A `--post` sink that accepts batches and never answers: after Ctrl-C,
//! `--grace` bounds the whole shutdown, sink included, and semcrawl says how
//! many records were not delivered and exits with code 1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use semcrawl_site::wait_for;
use semcrawl_site::{Site, SiteServer, SiteSpec};
use semcrawl_tests::hostile::{Act, HostileServer};
use semcrawl_tests::{spawn, QUIET};

#[test]
fn grace_bounds_the_shutdown_of_a_hanging_sink() {
    let spec = SiteSpec {
        latency: Duration::from_millis(100),
        ..SiteSpec::plain(300, 2048)
    };
    let site = SiteServer::start(Site::new(spec), 2).unwrap();
    let sink = HostileServer::start(BTreeMap::from([("/ingest".to_owned(), Act::Hang)]));
    let mut args = vec![
        "crawl".to_string(),
        "--concurrency".into(),
        "4".into(),
        "--grace".into(),
        "2s".into(),
        "--post".into(),
        sink.url("/ingest"),
    ];
    args.extend(QUIET.iter().map(|s| s.to_string()));
    args.push(site.base_url().to_string());
    let mut crawl = spawn(&args);

    wait_for(
        "a batch posted to the sink",
        Duration::from_secs(60),
        || {
            assert!(!crawl.has_exited(), "the crawl ended before the interrupt");
            (sink.requests("/ingest") >= 1).then_some(())
        },
    );
    let interrupted = Instant::now();
    kill(Pid::from_raw(crawl.pid() as i32), Signal::SIGINT).expect("send SIGINT");
    // Without the bound, the sink's 60 s timeout and five retries held the
    // exit for about six minutes.
    let done = crawl.wait(Duration::from_secs(30));
    let took = interrupted.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "exit took {took:?} with --grace 2s"
    );
    done.assert_code(1);
    assert!(
        done.stderr.contains("records could not be written"),
        "the error does not say how many records were not delivered: {}",
        done.stderr
    );
}
