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
