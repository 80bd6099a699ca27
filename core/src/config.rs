//! Validated crawl options.
//!
//! Every front end (the CLI, the JS API) builds a [`Config`] and calls
//! [`Config::validate`], so a bad option is reported the same way everywhere,
//! before any request is sent. Errors name the [`Setting`] to fix, not
//! how a front end spells it.

use std::time::Duration;

use url::Url;

use crate::adaptive::LimiterConfig;
use crate::scope::ScopeMode;
pub use crate::setting::ConfigError;
use crate::setting::Setting;

/// How many pages may be in the pipeline at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Concurrency {
    /// A fixed number of permits.
    Fixed(usize),
    /// A limit that follows latency and errors (see [`crate::adaptive`]),
    /// always within the byte gate.
    Auto(LimiterConfig),
}

impl Concurrency {
    /// The number of permits the count gate starts with.
    pub fn initial(&self) -> usize {
        match self {
            Concurrency::Fixed(n) => *n,
            Concurrency::Auto(c) => c.initial.clamp(c.min, c.max),
        }
    }

    /// The most permits there can ever be (the HTTP pool is sized to it).
    pub fn max(&self) -> usize {
        match self {
            Concurrency::Fixed(n) => *n,
            Concurrency::Auto(c) => c.max,
        }
    }

    /// [`Config::per_host`] when the user gives none: with a fixed `N`,
    /// `N` (one host may take the whole crawl); with `auto`, at most
    /// [`AUTO_PER_HOST`].
    ///
    /// ```
    /// use semcrawl_core::{Concurrency, AUTO_PER_HOST};
    /// assert_eq!(Concurrency::Fixed(64).default_per_host(), 64);
    /// assert_eq!("auto".parse::<Concurrency>().unwrap().default_per_host(), AUTO_PER_HOST);
    /// assert_eq!("auto:1..8".parse::<Concurrency>().unwrap().default_per_host(), 8);
    /// ```
    pub fn default_per_host(&self) -> usize {
        match self {
            Concurrency::Fixed(n) => *n,
            Concurrency::Auto(c) => c.max.min(AUTO_PER_HOST),
        }
    }
}

/// The most requests `auto` concurrency puts on one host at once when the
/// user sets no per-host limit: the default fixed concurrency, so that
/// switching to `auto` never loads a host more than the default crawl does.
///
/// A host's adaptive limit finds the knee of a server that answers more
/// slowly as it queues; a server that queues nothing it cannot take (a
/// thread pool that saturates at 8 requests, with pages that take seconds
/// of their own) gives it little to see, and `auto`'s upper bound (512 by
/// default) is meant for the crawl as a whole, over many hosts. Without
/// this cap one such server saw up to 87 requests at once. An explicit
/// per-host limit still wins.
pub const AUTO_PER_HOST: usize = 16;

impl std::str::FromStr for Concurrency {
    type Err = ConfigError;

    /// `N`, `auto`, or `auto:MIN..MAX`.
    ///
    /// ```
    /// use semcrawl_core::Concurrency;
    /// assert_eq!("64".parse::<Concurrency>().unwrap(), Concurrency::Fixed(64));
    /// assert_eq!("auto:4..128".parse::<Concurrency>().unwrap().max(), 128);
    /// assert!("lots".parse::<Concurrency>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        if t.starts_with("auto") {
            return t.parse::<LimiterConfig>().map(Concurrency::Auto);
        }
        match t.parse::<usize>() {
            Ok(0) => Err(ConfigError::new(Setting::Concurrency, "must be at least 1")),
            Ok(n) => Ok(Concurrency::Fixed(n)),
            Err(_) => Err(ConfigError::invalid(
                Setting::Concurrency,
                s,
                "expected a number, 'auto' or 'auto:MIN..MAX'",
            )),
        }
    }
}

/// A user field: `NAME=CSS` (text of the first match), `NAME=CSS@attr`
/// (an attribute of the first match; a URL-valued one such as `href` or
/// `src` resolved against the page), or `NAME[]=...` (every match's, as a
/// list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Key in the record's `fields` map.
    pub name: String,
    /// CSS selector (validated by [`Config::validate`]).
    pub css: String,
    /// Attribute to read instead of the text.
    pub attr: Option<String>,
    /// Take every match (a list), not only the first.
    pub all: bool,
}

impl FieldSpec {
    /// Parse `NAME=CSS`, `NAME=CSS@attr`, `NAME[]=CSS` or `NAME[]=CSS@attr`.
    ///
    /// ```
    /// use semcrawl_core::FieldSpec;
    /// let f = FieldSpec::parse("img=article img@src").unwrap();
    /// assert_eq!((f.name.as_str(), f.css.as_str(), f.attr.as_deref()), ("img", "article img", Some("src")));
    /// let f = FieldSpec::parse("links[]=nav a@href").unwrap();
    /// assert_eq!((f.name.as_str(), f.all), ("links", true));
    /// assert!(FieldSpec::parse("no-equals-sign").is_err());
    /// let err = FieldSpec::parse("x=p:hoverr").unwrap_err().to_string();
    /// assert!(err.contains("invalid CSS selector"), "{err}");
    /// assert!(!err.contains("report this"), "{err}");
    /// ```
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        // Escaped: a CR or LF in the spec must not break the one-line error.
        let shown = spec.escape_debug().to_string();
        let invalid = |problem: &dyn std::fmt::Display| {
            ConfigError::invalid(Setting::Select, &shown, problem)
        };
        let (name, rest) = spec
            .split_once('=')
            .ok_or_else(|| invalid(&"expected NAME=CSS or NAME=CSS@attr"))?;
        let name = name.trim();
        let (name, all) = match name.strip_suffix("[]") {
            Some(n) => (n.trim(), true),
            None => (name, false),
        };
        if name.is_empty() {
            return Err(invalid(&"empty NAME"));
        }
        let (css, attr) = match rest.rsplit_once('@') {
            Some((css, attr)) if !attr.is_empty() && !attr.contains([' ', ']', '"', '\'']) => {
                (css.trim(), Some(attr.trim().to_owned()))
            }
            _ => (rest.trim(), None),
        };
        if css.is_empty() {
            return Err(invalid(&"empty CSS selector"));
        }
        crate::parse::compile_selector(css)
            .map_err(|e| invalid(&format_args!("invalid CSS selector: {e}")))?;
        Ok(FieldSpec {
            name: name.to_owned(),
            css: css.to_owned(),
            attr,
            all,
        })
    }
}

/// Everything a crawl needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the crawl starts (depth 0).
    pub seeds: Vec<Url>,
    /// Count gate.
    pub concurrency: Concurrency,
    /// Byte gate: bytes that pages in flight may hold.
    pub memory: u64,
    /// Largest decoded body accepted; longer ones are cut and recorded as errors.
    pub max_body: u64,
    /// Deepest link distance from a seed to fetch (`None`: unlimited).
    pub max_depth: Option<u32>,
    /// Most pages to fetch (`None`: unlimited).
    pub max_pages: Option<u64>,
    /// Which hosts are in scope.
    pub scope: ScopeMode,
    /// Extra domains in scope (and their subdomains).
    pub allow_domains: Vec<String>,
    /// Obey robots.txt.
    pub obey_robots: bool,
    /// Concurrent requests per host.
    pub per_host: usize,
    /// Pause between two requests to one host.
    pub delay: Duration,
    /// Redirect hops followed from one URL.
    pub max_redirects: u32,
    /// Retries for transient failures.
    pub retries: u32,
    /// Deadline of one request, body included.
    pub timeout: Duration,
    /// `User-Agent` header (also the robots.txt agent).
    pub user_agent: String,
    /// Extra request headers (`Cookie`, a token, ...), sent only to the
    /// seeds' sites and the `allow_domains` hosts, never elsewhere, not even
    /// through a redirect. A seed's `user:password@` adds `Authorization`
    /// for its own site. See [`crate::FetchRequest::headers`].
    pub headers: Vec<(String, String)>,
    /// User fields (CSS selectors).
    pub fields: Vec<FieldSpec>,
    /// Keep visible text in records.
    pub text: bool,
    /// Keep the list of links in records.
    pub links: bool,
    /// After a stop request, how long in-flight pages may take to finish
    /// before they are recorded as interrupted.
    pub grace: Duration,
    /// Largest batch handed to the store.
    pub batch_size: usize,
    /// Patterns (regex) a URL must match one of to be queued (none: all
    /// pass); see [`crate::filter`].
    pub include: Vec<String>,
    /// Patterns (regex) that keep a URL out of the queue.
    pub exclude: Vec<String>,
    /// Follow links marked nofollow (`rel`, `<meta name=robots>`,
    /// `X-Robots-Tag`) too.
    pub follow_nofollow: bool,
    /// Read each crawled host's sitemaps (see [`crate::sitemap`]).
    pub sitemaps: bool,
    /// MIME types read besides HTML (`type/subtype` or `type/*`); see
    /// [`crate::types`].
    pub accept_types: Vec<String>,
    /// Queue every link and read every body, whatever its type.
    pub all_types: bool,
}

/// Default body cap: 10 MiB.
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            seeds: Vec::new(),
            concurrency: Concurrency::Fixed(16),
            memory: 256 * 1024 * 1024,
            max_body: DEFAULT_MAX_BODY,
            max_depth: None,
            max_pages: None,
            scope: ScopeMode::Host,
            allow_domains: Vec::new(),
            obey_robots: true,
            per_host: 16,
            delay: Duration::ZERO,
            max_redirects: 10,
            retries: 2,
            timeout: Duration::from_secs(30),
            user_agent: concat!("semcrawl/", env!("CARGO_PKG_VERSION")).to_owned(),
            headers: Vec::new(),
            fields: Vec::new(),
            text: false,
            links: false,
            grace: Duration::from_secs(10),
            batch_size: 256,
            include: Vec::new(),
            exclude: Vec::new(),
            follow_nofollow: false,
            sitemaps: true,
            accept_types: Vec::new(),
            all_types: false,
        }
    }
}

impl Config {
    /// Check that the options make sense together.
    ///
    /// ```
    /// use semcrawl_core::Config;
    /// let mut c = Config::default();
    /// c.seeds.push("http://127.0.0.1/".parse().unwrap());
    /// assert!(c.validate().is_ok());
    /// c.memory = 1024; // smaller than one page of max_body
    /// let err = c.validate().unwrap_err();
    /// assert_eq!(err.setting(), semcrawl_core::Setting::Memory);
    /// assert!(err.to_string().starts_with("memory budget 1.0 KiB is smaller than one page"));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.seeds.is_empty() {
            // Worded for every front end: none has a single name for "the seeds".
            return Err(ConfigError::about(Setting::Seeds).text("no seed URL given"));
        }
        for seed in &self.seeds {
            if !matches!(seed.scheme(), "http" | "https") {
                return Err(ConfigError::invalid(
                    Setting::Seeds,
                    seed,
                    "only http and https are crawled",
                ));
            }
            if seed.host_str().is_none_or(str::is_empty) {
                return Err(ConfigError::invalid(Setting::Seeds, seed, "no host"));
            }
        }
        if self.concurrency.initial() == 0 {
            return Err(ConfigError::new(Setting::Concurrency, "must be at least 1"));
        }
        if self.per_host == 0 {
            return Err(ConfigError::new(Setting::PerHost, "must be at least 1"));
        }
        if self.max_body == 0 {
            return Err(ConfigError::new(
                Setting::MaxBody,
                "must be at least 1 byte",
            ));
        }
        if self.memory < self.max_body + crate::gate::PAGE_OVERHEAD {
            use crate::size::format_bytes;
            return Err(ConfigError::about(Setting::Memory)
                .name(Setting::Memory)
                .text(format!(
                    " {} is smaller than one page: it must hold at least ",
                    format_bytes(self.memory)
                ))
                .name(Setting::MaxBody)
                .text(format!(
                    " ({}) plus {} of overhead; raise ",
                    format_bytes(self.max_body),
                    format_bytes(crate::gate::PAGE_OVERHEAD)
                ))
                .name(Setting::Memory)
                .text(" or lower ")
                .name(Setting::MaxBody));
        }
        for (name, value) in &self.headers {
            if let Some(problem) = crate::headers::header_problem(name, value) {
                // Quoted with escapes: a raw CR or LF would break the
                // one-line error it is part of.
                return Err(ConfigError::about(Setting::Headers)
                    .text("invalid ")
                    .name(Setting::Headers)
                    .text(format!(" '{}': {problem}", name.escape_debug())));
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(Setting::Timeout, "must be more than 0"));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::new(Setting::BatchSize, "must be at least 1"));
        }
        crate::filter::UrlFilter::new(&self.include, &self.exclude)?;
        for mime in &self.accept_types {
            crate::types::check_mime(mime)
                .map_err(|problem| ConfigError::invalid(Setting::AcceptType, mime, problem))?;
        }
        Ok(())
    }
}
