//! `--state DIR`: where a crawl keeps what it needs to go on after a stop.
//!
//! The directory is opened before the output: a rerun that is refused (other
//! seeds, another format version, a directory in use) must not have
//! truncated the output of the crawl it would have resumed, nor sent a
//! request. Without `--state` the crawl gets a temporary directory, removed
//! at exit, so that its state is kept out of memory all the same. What makes
//! a rerun the same crawl is [`semcrawl_smol::state::identity`].

use std::path::Path;

use semcrawl_core::Config;
use semcrawl_smol::redis::{Address, Joined, RedisError, RedisFrontier, RedisOptions};
use semcrawl_smol::state::{CrawlIdentity, Resume, StateDir, StateError};

use crate::Failure;

/// Open `--state DIR` for `identity`, or a temporary directory without it.
/// A refusal the user can fix (another crawl's directory, one in use,
/// another format version) is a usage error naming the flag.
pub fn open(dir: Option<&Path>, identity: &CrawlIdentity) -> Result<(StateDir, Resume), Failure> {
    let Some(dir) = dir else {
        return StateDir::temporary()
            .map(|state| (state, Resume::Fresh))
            .map_err(|e| Failure::Runtime(format!("cannot create a state directory: {e}")));
    };
    StateDir::open(dir, identity).map_err(|e| refused(dir, &e))
}

/// `--state` names a Redis rather than a directory.
pub fn redis_address(state: Option<&Path>) -> Option<&str> {
    let s = state?.to_str()?;
    s.starts_with("redis://").then_some(s)
}

/// A crawl shared through Redis, joined or started by this worker.
pub struct Shared {
    /// Where the crawl lives.
    pub address: Address,
    /// Its name.
    pub name: String,
    /// This worker's frontier.
    pub frontier: RedisFrontier,
    /// Whether the crawl existed before this worker came.
    pub joined: Joined,
}

/// Connect to the Redis of `--state redis://...` and start or join the
/// crawl `name`. No Redis there, or another crawl under that name: a usage
/// error of one line naming the address (exit 2).
pub fn open_redis(
    url: &str,
    name: &str,
    config: &Config,
    identity: &CrawlIdentity,
) -> Result<Shared, Failure> {
    let address = Address::parse(url).map_err(|e| Failure::Usage(format!("--state {e}")))?;
    let options = RedisOptions::for_crawl(name, config);
    let (frontier, joined) = RedisFrontier::open(&address, options, identity).map_err(|e| {
        let msg = format!("--state {url}: {}", one_line(&e.to_string()));
        match e {
            RedisError::Failed(_) => Failure::Runtime(msg),
            _ => Failure::Usage(msg),
        }
    })?;
    Ok(Shared {
        address,
        name: name.to_owned(),
        frontier,
        joined,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn refused(dir: &Path, e: &StateError) -> Failure {
    let msg = format!("--state '{}': {e}", dir.display());
    if e.is_usage() {
        Failure::Usage(msg)
    } else {
        Failure::Runtime(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use semcrawl_smol::state::{identity, CrawlIdentity, OutputTarget};

    fn identity_of(argv: &[&str]) -> CrawlIdentity {
        let cli = Cli::try_parse_from(["semcrawl", "crawl"].iter().chain(argv)).unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        let config = args.crawl.to_config(args.urls.clone()).unwrap();
        let target = OutputTarget {
            out: args.out.as_deref(),
            format: args.format,
            post: args.post.as_ref(),
        };
        identity(&config, &target)
    }

    #[test]
    fn the_identity_holds_what_decides_the_pages_and_where_they_go() {
        let id = identity_of(&[
            "HTTP://A.test:80/x#frag",
            "-o",
            "out/pages.csv",
            "--max-depth",
            "3",
            "--memory",
            "64MiB",
        ]);
        assert_eq!(id.seeds, ["http://a.test/x"]);
        assert_eq!(id.scope, "host");
        assert_eq!(id.max_depth, Some(3));
        assert!(id.obey_robots);
        assert_eq!(id.output_kind, "csv");
        assert!(
            Path::new(&id.output_path).is_absolute(),
            "{}",
            id.output_path
        );
        assert!(id.output_path.ends_with("out/pages.csv"));
        assert_eq!(id.options["memory"], (64u64 << 20).to_string());
    }

    #[test]
    fn other_options_may_change_between_runs() {
        let base = ["http://a.test/", "-o", "p.jsonl", "--memory", "64MiB"];
        let was = identity_of(&base);
        let mut argv = base.to_vec();
        argv.extend(["--concurrency", "64", "--timeout", "5s"]);
        assert_eq!(was.difference(&identity_of(&argv)), None);
        argv.extend(["--scope", "domain"]);
        let what = was.difference(&identity_of(&argv)).unwrap();
        assert!(what.starts_with("the scopes differ"), "{what}");
        let post = identity_of(&[&base[..], &["--post", "http://sink.test/"]].concat());
        assert!(was.difference(&post).unwrap().contains("post"));
    }

    #[test]
    fn which_urls_are_crawled_is_part_of_the_identity() {
        let base = ["http://a.test/", "-o", "p.jsonl", "--memory", "64MiB"];
        let was = identity_of(&base);
        let with = |extra: &[&str]| identity_of(&[&base[..], extra].concat());
        for (extra, says) in [
            (
                &["--exclude", "[?&]ref="][..],
                "the exclude filters differ: was none, now [?&]ref=",
            ),
            (&["--include", "/blog/"], "the include filters differ"),
            (&["--follow-nofollow"], "the nofollow settings differ"),
            (&["--no-sitemaps"], "the sitemaps settings differ"),
            (
                &["--accept-type", "application/pdf"],
                "the content types settings differ",
            ),
            (&["--all-types"], "the content types settings differ"),
        ] {
            let what = was.difference(&with(extra)).unwrap_or_default();
            assert!(what.starts_with(says), "{extra:?}: {what}");
        }
        assert_eq!(
            with(&["--exclude", "x"]).difference(&with(&["--exclude", "x"])),
            None
        );
    }
}
