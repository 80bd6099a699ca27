//! `--state DIR`: where a crawl keeps what it needs to go on after a stop,
//! and the check that a rerun is the same crawl.
//!
//! The directory is opened before the output: a rerun that is refused (other
//! seeds, another format version, a directory in use) must not have
//! truncated the output of the crawl it would have resumed, nor sent a
//! request. Without `--state` the crawl gets a temporary directory, removed
//! at exit, so that its state is kept out of memory all the same.
//!
//! What identifies a crawl ([`identity`]) is what decides which pages it
//! takes and where their records went: seeds, scope, allowed domains, depth
//! limit, robots.txt, the output's kind and absolute path, and the `--post`
//! sink. Everything else (concurrency, memory, timeouts, ...) may change
//! between runs; it is recorded for reference only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semcrawl_core::Config;
use semcrawl_smol::state::{CrawlIdentity, Resume, StateDir, StateError};
use semcrawl_smol::store::Format;
use url::Url;

use crate::args::CrawlOptions;
use crate::Failure;

/// Where the records of a crawl go, as the identity records it.
pub struct OutputTarget<'a> {
    /// `--out` (`None`: stdout, or only the sink with `--post`).
    pub out: Option<&'a str>,
    /// `--format`.
    pub format: Option<Format>,
    /// `--post`.
    pub post: Option<&'a Url>,
}

/// The identity of the crawl `config` describes, writing to `target`.
pub fn identity(config: &Config, options: &CrawlOptions, target: &OutputTarget) -> CrawlIdentity {
    let seeds = config
        .seeds
        .iter()
        .map(|u| semcrawl_core::canon::canonicalize(u).map_or_else(|| u.to_string(), String::from))
        .collect();
    let (output_kind, output_path) = output(target);
    let mut other = BTreeMap::new();
    if let Some(post) = target.post {
        other.insert("--post".to_owned(), post.to_string());
    }
    CrawlIdentity {
        seeds,
        scope: config.scope.as_str().to_owned(),
        allow_domains: config.allow_domains.clone(),
        // No include/exclude filters exist (yet); the fields stay empty.
        include: Vec::new(),
        exclude: Vec::new(),
        max_depth: config.max_depth,
        obey_robots: config.obey_robots,
        output_kind,
        output_path,
        other,
        options: recorded_options(config, options),
    }
}

/// The output's kind (its format) and its canonical place: an absolute path,
/// `-` for stdout, a URL as parsed, or nothing when only `--post` gets the
/// records.
fn output(target: &OutputTarget) -> (String, String) {
    let out = match (target.out, target.post) {
        (Some(out), _) => out,
        (None, None) => "-",
        (None, Some(_)) => return ("post".into(), String::new()),
    };
    let lower = out.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = Url::parse(out).map_or_else(|_| out.to_owned(), String::from);
        return ("post".into(), url);
    }
    let format = target
        .format
        .or_else(|| Format::from_extension(out).ok().flatten())
        .unwrap_or(Format::Jsonl);
    let path = if out == "-" {
        out.to_owned()
    } else {
        absolute(Path::new(out)).display().to_string()
    };
    (format.name().to_owned(), path)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The settings free to change between runs, recorded for whoever reads
/// `state.json`.
fn recorded_options(config: &Config, options: &CrawlOptions) -> BTreeMap<String, String> {
    let fields: Vec<String> = config
        .fields
        .iter()
        .map(|f| match &f.attr {
            Some(attr) => format!("{}={}@{attr}", f.name, f.css),
            None => format!("{}={}", f.name, f.css),
        })
        .collect();
    let mut map = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        map.insert(k.to_owned(), v);
    };
    put("concurrency", format!("{:?}", options.concurrency));
    put("memory", config.memory.to_string());
    put("max-body", config.max_body.to_string());
    if let Some(n) = config.max_pages {
        put("max-pages", n.to_string());
    }
    put("per-host", config.per_host.to_string());
    put("delay", format!("{:?}", config.delay));
    put("user-agent", config.user_agent.clone());
    put("timeout", format!("{:?}", config.timeout));
    put("retries", config.retries.to_string());
    put("max-redirects", config.max_redirects.to_string());
    put("select", fields.join(" "));
    put("text", config.text.to_string());
    put("links", config.links.to_string());
    put("grace", format!("{:?}", config.grace));
    map
}

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
        identity(&config, &args.crawl, &target)
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
        assert!(was.difference(&post).unwrap().contains("--post"));
    }
}
