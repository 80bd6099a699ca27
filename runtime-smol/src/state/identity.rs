//! What identifies a crawl, so that a rerun on the same state is known to be
//! the same crawl.
//!
//! What identifies a crawl ([`identity`]) is what decides which pages it
//! takes and where their records went: seeds, scope, allowed domains,
//! include/exclude patterns, depth limit, robots.txt, nofollow, sitemaps,
//! content types, the output's kind and absolute path, and the HTTP sink. Everything else (concurrency, memory, timeouts, ...) may change
//! between runs; it is recorded for reference only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semcrawl_core::Config;
use url::Url;

use super::CrawlIdentity;
use crate::store::Format;

/// The key of [`CrawlIdentity::other`] that holds the HTTP sink
/// (`--post`): a shared crawl leaves it out of what its workers must agree
/// on, each worker posting to its own.
pub const SINK_KEY: &str = "post";

/// Where the records of a crawl go, as the identity records it.
pub struct OutputTarget<'a> {
    /// The output target (`None`: stdout, or only the sink when `post` is
    /// given), as [`open_target`](crate::store::open_target) reads it.
    pub out: Option<&'a str>,
    /// The format, when not read from the target's extension.
    pub format: Option<Format>,
    /// The HTTP sink records are posted to, if any.
    pub post: Option<&'a Url>,
}

/// The identity of the crawl `config` describes, writing to `target`.
///
/// ```
/// use semcrawl_smol::state::{identity, OutputTarget};
/// let mut config = semcrawl_core::Config::default();
/// config.seeds = vec!["HTTP://A.test:80/x#top".parse().unwrap()];
/// let target = OutputTarget { out: Some("pages.csv"), format: None, post: None };
/// let id = identity(&config, &target);
/// assert_eq!(id.seeds, ["http://a.test/x"]);
/// assert_eq!(id.output_kind, "csv");
/// assert!(std::path::Path::new(&id.output_path).is_absolute());
/// ```
pub fn identity(config: &Config, target: &OutputTarget) -> CrawlIdentity {
    let seeds = config
        .seeds
        .iter()
        .map(|u| semcrawl_core::canon::canonicalize(u).map_or_else(|| u.to_string(), String::from))
        .collect();
    let (output_kind, output_path) = output(target);
    let mut other = BTreeMap::new();
    if let Some(post) = target.post {
        other.insert(SINK_KEY.to_owned(), post.to_string());
    }
    // Only when not the default, so a state directory started before
    // these settings existed resumes with its defaults.
    if config.follow_nofollow {
        other.insert("nofollow".to_owned(), "followed".to_owned());
    }
    if !config.sitemaps {
        other.insert("sitemaps".to_owned(), "off".to_owned());
    }
    if config.all_types {
        other.insert("content types".to_owned(), "all".to_owned());
    } else if !config.accept_types.is_empty() {
        other.insert("content types".to_owned(), config.accept_types.join(" "));
    }
    CrawlIdentity {
        seeds,
        scope: config.scope.as_str().to_owned(),
        allow_domains: config.allow_domains.clone(),
        include: config.include.clone(),
        exclude: config.exclude.clone(),
        max_depth: config.max_depth,
        obey_robots: config.obey_robots,
        output_kind,
        output_path,
        other,
        options: recorded_options(config),
    }
}

/// The output's kind (its format) and its canonical place: an absolute path,
/// `-` for stdout, a URL as parsed, or nothing when only the sink gets the
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
fn recorded_options(config: &Config) -> BTreeMap<String, String> {
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
    put("concurrency", format!("{:?}", config.concurrency));
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
