//! Command-line arguments, and their translation into a core [`Config`].
//!
//! Every option is checked here or by [`Config::validate`], before any request
//! is sent, so a typo costs a one-line error and exit code 2, never a crawl.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use semcrawl_core::scope::ScopeMode;
use semcrawl_core::FieldSpec;
use semcrawl_core::Setting;
use semcrawl_core::{header_lines, Concurrency, Config, ConfigError};
use semcrawl_smol::budget::{self, BudgetReport, FsSources};
use semcrawl_smol::fetch::{FetchOptions, OptionError};
use semcrawl_smol::store::Format;
use url::Url;

use crate::values::{
    format_parser, parse_concurrency, parse_domain, parse_duration_arg, parse_field,
    parse_size_arg, parse_threads, parse_url, scope_parser,
};

const ABOUT: &str = "A web crawler whose memory stays bounded by construction.";

// The manual's prose lives in text files, kept apart from the code that
// parses the flags: `semcrawl --help`, `semcrawl crawl --help` and the man
// page all print them.
const LONG_ABOUT: &str = include_str!("../help/about.txt");

const CRAWL_AFTER_HELP: &str = include_str!("../help/crawl.txt");

/// `semcrawl`: the command line.
#[derive(Debug, Parser)]
#[command(name = "semcrawl", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crawl from one or more seed URLs.
    #[command(after_long_help = CRAWL_AFTER_HELP)]
    Crawl(CrawlArgs),
    /// Start a generated sample site on 127.0.0.1 and crawl it: no internet needed.
    Demo(DemoArgs),
    /// Print the crawl-wide figures of a crawl shared through Redis.
    Status(StatusArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    Completions(CompletionsArgs),
    /// Print the man page, semcrawl(1), on stdout (roff).
    Man,
}

/// `semcrawl completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples: source <(semcrawl completions bash); \
semcrawl completions fish > ~/.config/fish/completions/semcrawl.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells `semcrawl completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// `semcrawl demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pages of the generated site.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub pages: usize,

    /// Where records go (default: semcrawl-demo.jsonl in the current directory).
    #[arg(
        long,
        short = 'o',
        value_name = "PATH",
        default_value = "semcrawl-demo.jsonl"
    )]
    pub out: String,

    /// The crawl's options (same as `semcrawl crawl`).
    #[command(flatten)]
    pub crawl: CrawlOptions,
}

/// `semcrawl crawl`.
#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Seed URLs (http or https; a bare host such as `example.com/blog`
    /// means https). The crawl starts here, at depth 0.
    #[arg(required_unless_present = "input_file", value_name = "URL", value_parser = semcrawl_core::seeds::parse_seed)]
    pub urls: Vec<Url>,

    /// Read seed URLs from FILE, one a line (`#` comments and blank lines
    /// skipped; `-` reads standard input); added to those given as arguments.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input_file: Option<String>,

    /// Where records go: `-` for stdout, or a file whose extension picks the
    /// format: .jsonl/.ndjson (or none) JSON Lines, .csv CSV, .sqlite/.sqlite3/.db
    /// SQLite; other extensions need --format. [default: -, or none with --post]
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<String>,

    /// Write this format (jsonl, csv, sqlite) whatever --out's extension.
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
    pub format: Option<Format>,

    /// Also POST batches of records (a JSON array) to this URL; retried, never
    /// dropped silently. With --out, both get every record.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub post: Option<Url>,

    /// Keep the crawl's state (queue, seen set, what was stored, the options
    /// it was started with) in DIR, and resume from it by running the same
    /// command again; or share the crawl through a Redis with any number of
    /// workers. See STATE AND RESUME and ONE CRAWL, SEVERAL MACHINES below.
    /// [default: a temporary directory, removed at exit]
    #[arg(long, value_name = "DIR|redis://HOST:PORT[/DB]")]
    pub state: Option<PathBuf>,

    /// The shared crawl's name in Redis (its keys are `semcrawl:NAME:*`), so
    /// that several crawls can share one Redis. Only with --state redis://.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_NAME, value_parser = parse_name)]
    pub name: String,

    /// The crawl's options.
    #[command(flatten)]
    pub crawl: CrawlOptions,
}

/// The name of a shared crawl when `--name` is not given.
pub const DEFAULT_NAME: &str = "default";

fn parse_name(s: &str) -> Result<String, String> {
    semcrawl_smol::redis::check_name(s).map(|()| s.to_owned())
}

/// `semcrawl status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The Redis holding the crawl: `redis://HOST:PORT[/DB]`.
    #[arg(long, value_name = "redis://HOST:PORT[/DB]")]
    pub state: String,

    /// The crawl's name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_NAME, value_parser = parse_name)]
    pub name: String,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options shared by `crawl` and `demo`.
#[derive(Debug, Args)]
pub struct CrawlOptions {
    /// Most pages in the pipeline at once (fetching, parsing or waiting for
    /// the store): a number, or `auto` / `auto:MIN..MAX` for a limit that
    /// follows server latency and errors (default bounds 1..512), always
    /// within the memory budget.
    #[arg(long, short = 'c', default_value = "16", value_name = "N|auto[:MIN..MAX]", value_parser = parse_concurrency, help_heading = "Limits")]
    pub concurrency: Concurrency,

    /// Memory budget for pages in flight: bodies, parse trees, records waiting
    /// for the store. Sizes: 64MiB, 1GiB, 500MB, ... [default: derived at start:
    /// the container's memory limit (cgroup v2, else v1), else a quarter of the
    /// physical memory; minus what the process already uses (VmRSS); times
    /// one half; at least 16MiB (and at most the limit); 256MiB when none of
    /// that can be read. --explain prints the figures]
    #[arg(long, short = 'm', value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Limits")]
    pub memory: Option<u64>,

    /// Print the memory limit found (cgroup, physical memory), the budget
    /// chosen and the resulting settings, then exit without crawling.
    #[arg(long, help_heading = "Limits")]
    pub explain: bool,

    /// Largest body accepted, counted after decompression; larger ones are cut and recorded as errors.
    #[arg(long, default_value = "10MiB", value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Limits")]
    pub max_body: u64,

    /// Deepest link distance from a seed (seeds are depth 0).
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_depth: Option<u32>,

    /// Stop after this many pages.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_pages: Option<u64>,

    /// Which hosts to crawl: the seeds' hosts, their domains (and subdomains), or anything.
    #[arg(long, value_parser = scope_parser(), default_value_t = ScopeMode::Host, help_heading = "Scope")]
    pub scope: ScopeMode,

    /// Also crawl this domain and its subdomains (repeatable).
    #[arg(long = "allow-domain", value_name = "DOMAIN", value_parser = parse_domain, help_heading = "Scope")]
    pub allow_domains: Vec<String>,

    // Which URLs are crawled: patterns, nofollow, sitemaps, content types.
    /// Queue only URLs that match this regex (repeatable: any one of them).
    /// Matched against the whole canonical URL, anywhere unless anchored
    /// with ^ and $. Seeds are always fetched.
    #[arg(long, value_name = "REGEX", help_heading = "Scope")]
    pub include: Vec<String>,

    /// Never queue URLs that match this regex (repeatable), e.g.
    /// '[?&](color|size|sort|ref)='. Wins over --include.
    #[arg(long, value_name = "REGEX", help_heading = "Scope")]
    pub exclude: Vec<String>,

    /// Follow links marked nofollow too. By default a link whose rel is
    /// nofollow or sponsored, and every link of a page whose <meta
    /// name=robots> or X-Robots-Tag says nofollow (or none), is not followed.
    #[arg(long, help_heading = "Scope")]
    pub follow_nofollow: bool,

    /// Do not read sitemaps. By default each crawled host's sitemaps (its
    /// robots.txt Sitemap: lines, else /sitemap.xml; indexes and .xml.gz
    /// included) are read and the URLs they list queued at depth 1, within
    /// the scope and the patterns; at most 64 sitemaps and 200000 URLs a
    /// host. A seed that is a sitemap is read either way.
    #[arg(long, help_heading = "Scope")]
    pub no_sitemaps: bool,

    /// Also read responses of this MIME type (repeatable; type/subtype or
    /// type/*), and queue links with its usual extension. By default links
    /// ending in a known non-HTML extension (.pdf, .zip, .mp4, .jpg, .css,
    /// .js, ...) are not queued, and a response that is not HTML is
    /// recorded from its head alone, its body never read.
    #[arg(long = "accept-type", value_name = "MIME", help_heading = "Scope")]
    pub accept_types: Vec<String>,

    /// Queue every link and read every body, whatever its type.
    #[arg(long, help_heading = "Scope")]
    pub all_types: bool,

    /// Do not fetch or obey robots.txt. Obeyed by default: it is retried like a page, and one still unreachable (5xx, network error, timeout) disallows its host, with a warning and a robots_unreachable record.
    #[arg(long, help_heading = "Politeness")]
    pub ignore_robots: bool,

    /// Most concurrent requests to one host [default: --concurrency; with auto, at most 16].
    #[arg(long, value_name = "N", help_heading = "Politeness")]
    pub per_host: Option<usize>,

    /// Pause between two requests to one host (requests to it are then serialized): 250ms, 2s, ...
    #[arg(long, default_value = "0ms", value_name = "DURATION", value_parser = parse_duration_arg, help_heading = "Politeness")]
    pub delay: Duration,

    /// `User-Agent` header, also matched against robots.txt groups.
    #[arg(long, value_name = "STRING", help_heading = "Politeness")]
    pub user_agent: Option<String>,

    /// Deadline of one request, body included.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration_arg, help_heading = "Requests")]
    pub timeout: Duration,

    /// Retries of transient failures (connect errors, timeouts, 429, 5xx), with exponential backoff; Retry-After is honoured.
    #[arg(long, default_value_t = 2, value_name = "N", help_heading = "Requests")]
    pub retries: u32,

    /// Redirects followed in a row (each hop is its own record).
    #[arg(
        long,
        default_value_t = 10,
        value_name = "N",
        help_heading = "Requests"
    )]
    pub max_redirects: u32,

    // Reaching sites that need more than a GET. Headers, cookie and a
    // seed's credentials go only to the seeds' sites and --allow-domain
    // hosts (the core decides per request, redirects included).
    /// Send this header, 'Name: value', to the seeds' sites and --allow-domain hosts only, never elsewhere, not even through a redirect (repeatable). A seed written http://user:password@host/ sends Basic auth to its site the same way; the password is never written to a record.
    #[arg(
        long,
        short = 'H',
        value_name = "'NAME: VALUE'",
        help_heading = "Requests"
    )]
    pub header: Vec<String>,

    /// Send this cookie, 'a=b; c=d', as --header does (repeatable: joined with '; ').
    #[arg(long, value_name = "'NAME=VALUE; ...'", help_heading = "Requests")]
    pub cookie: Vec<String>,

    /// Send every request through this proxy: http://, https://, socks5:// or socks5h:// (DNS through the proxy), with user:password@ if it needs one. Without it, the http_proxy, https_proxy, all_proxy and no_proxy environment variables are honoured (http_proxy in lowercase only, as curl reads it).
    #[arg(long, value_name = "URL", help_heading = "Requests")]
    pub proxy: Option<String>,

    /// Trust the CA certificates in this PEM file instead of the built-in roots (as curl --cacert).
    #[arg(long, value_name = "FILE", help_heading = "Requests")]
    pub ca_cert: Option<PathBuf>,

    /// Accept any TLS certificate (self-signed, expired, for another host). Prints a warning: for testing only.
    #[arg(long, help_heading = "Requests")]
    pub insecure: bool,

    /// Extract a field: NAME=CSS (text of the first match) or NAME=CSS@attr (an attribute; URL-valued ones such as href, src, action, poster are resolved against the page into absolute URLs). NAME[]=... takes every match, as a list (a JSON array; in CSV a JSON array in the cell). Repeatable.
    #[arg(long = "select", value_name = "NAME[[]]=CSS[@attr]", value_parser = parse_field, help_heading = "Extraction")]
    pub select: Vec<FieldSpec>,

    /// Keep each page's visible text in its record.
    #[arg(long, help_heading = "Extraction")]
    pub text: bool,

    /// Keep each page's list of links in its record.
    #[arg(long, help_heading = "Extraction")]
    pub links: bool,

    /// After Ctrl-C or SIGTERM, how long pages in flight may take before they are
    /// recorded as interrupted (a --post sink gets no longer). Under Kubernetes,
    /// keep it shorter than terminationGracePeriodSeconds, leaving time to flush.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_arg, help_heading = "Output")]
    pub grace: Duration,

    /// Print nothing but errors on stderr (no progress, no summary, no warnings;
    /// an explicit --log-level still applies).
    #[arg(long, short = 'q', help_heading = "Output")]
    pub quiet: bool,

    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, value_name = "WHEN", help_heading = "Output")]
    pub progress: ProgressMode,

    /// Also write the final summary as JSON to this file.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub summary_json: Option<PathBuf>,

    /// Log level (error, warn, info, debug, trace), or TARGET=LEVEL directives
    /// separated by commas; RUST_LOG overrides it. The HTTP client's own
    /// messages (target isahc) show from error up unless named (isahc=debug).
    /// [default: warn; error with -q]
    #[arg(
        long,
        value_name = "LEVEL",
        value_parser = crate::logging::parse_log_level,
        help_heading = "Output"
    )]
    pub log_level: Option<String>,

    /// Worker threads (default: one per core; at most 1024).
    #[arg(long, value_name = "N", value_parser = parse_threads, help_heading = "Limits")]
    pub threads: Option<usize>,
}

/// How the CLI spells a core setting: the one place that maps the core's
/// [`Setting`]s to flags, so core errors name what the user typed.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        // Seeds are positional arguments, shown as `URL` in the usage line.
        Setting::Seeds => "URL",
        Setting::Concurrency => "--concurrency",
        Setting::Memory => "--memory",
        Setting::MaxBody => "--max-body",
        Setting::PerHost => "--per-host",
        Setting::Timeout => "--timeout",
        Setting::Select => "--select",
        Setting::Scope => "--scope",
        Setting::Headers => "--header",
        Setting::Cookie => "--cookie",
        Setting::Include => "--include",
        Setting::Exclude => "--exclude",
        Setting::AcceptType => "--accept-type",
        // Not a flag: the CLI always uses the default.
        Setting::BatchSize => "batch size",
    }
}

/// A core configuration error as the CLI shows it, naming flags.
pub fn usage_message(e: &ConfigError) -> String {
    e.render(flag)
}

impl CrawlOptions {
    /// The memory budget: `--memory`, or what the container allows.
    pub fn budget(&self) -> (u64, Option<BudgetReport>) {
        match self.memory {
            Some(m) => (m, None),
            None => {
                let report = budget::detect(&FsSources);
                (report.budget, Some(report))
            }
        }
    }

    /// The HTTP client's options: the pool from `config`, then `--proxy`,
    /// `--ca-cert` and `--insecure`, checked (one line, exit 2 on error).
    pub fn fetch_options(&self, config: &Config) -> Result<FetchOptions, String> {
        let options = FetchOptions {
            proxy: self.proxy.clone(),
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
            ..FetchOptions::from_config(config)
        };
        options.check().map_err(|e| match e {
            OptionError::Proxy(p, why) => format!("invalid --proxy '{}': {why}", p.escape_debug()),
            OptionError::CaCert(p, why) => format!("cannot use --ca-cert '{}': {why}", p.display()),
        })?;
        Ok(options)
    }

    /// The core configuration for these options and `seeds`, or the
    /// message for a bad option (naming its flag).
    pub fn to_config(&self, seeds: Vec<Url>) -> Result<Config, String> {
        let defaults = Config::default();
        // Checked here rather than by clap: clap's message would quote the
        // value, CR and LF included, and break the one-line error. A control
        // character in a header value would let it inject headers.
        if let Some(c) = self
            .user_agent
            .as_deref()
            .and_then(|ua| ua.chars().find(|c| c.is_control() && *c != '\t'))
        {
            return Err(format!(
                "--user-agent contains the control character {c:?}; it is sent as a header"
            ));
        }
        let config = Config {
            seeds,
            concurrency: self.concurrency,
            memory: self.budget().0,
            max_body: self.max_body,
            max_depth: self.max_depth,
            max_pages: self.max_pages,
            scope: self.scope,
            allow_domains: self.allow_domains.clone(),
            obey_robots: !self.ignore_robots,
            per_host: self.per_host.unwrap_or(self.concurrency.default_per_host()),
            delay: self.delay,
            max_redirects: self.max_redirects,
            retries: self.retries,
            timeout: self.timeout,
            user_agent: self.user_agent.clone().unwrap_or(defaults.user_agent),
            headers: header_lines(&self.header, &self.cookie).map_err(|e| usage_message(&e))?,
            fields: self.select.clone(),
            text: self.text,
            links: self.links,
            grace: self.grace,
            batch_size: defaults.batch_size,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            follow_nofollow: self.follow_nofollow,
            sitemaps: !self.no_sitemaps,
            accept_types: self.accept_types.clone(),
            all_types: self.all_types,
        };
        config.validate().map_err(|e| usage_message(&e))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("semcrawl").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_make_a_valid_config() {
        let cli = parse(&["crawl", "http://127.0.0.1:1/"]).unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        let config = args.crawl.to_config(args.urls.clone()).unwrap();
        assert_eq!(config.concurrency, Concurrency::Fixed(16));
        assert!(
            config.memory >= budget::MIN_BUDGET,
            "derived from the machine"
        );
        assert!(config.obey_robots);
    }

    #[test]
    fn sizes_durations_and_fields() {
        let cli = parse(&[
            "crawl",
            "http://a.test/",
            "--memory",
            "64MiB",
            "--max-body",
            "1MB",
            "--delay",
            "250ms",
            "--select",
            "t=h1",
            "--select",
            "img=img@src",
        ])
        .unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.crawl.memory, Some(64 << 20));
        assert_eq!(args.crawl.max_body, 1_000_000);
        assert_eq!(args.crawl.delay, Duration::from_millis(250));
        assert_eq!(args.crawl.select[1].attr.as_deref(), Some("src"));
    }

    #[test]
    fn per_host_defaults_to_the_concurrency_and_to_16_under_auto() {
        let per_host = |extra: &[&str]| {
            let mut argv = vec!["crawl", "http://a.test/"];
            argv.extend_from_slice(extra);
            let Command::Crawl(args) = parse(&argv).unwrap().command else {
                panic!()
            };
            args.crawl.to_config(args.urls.clone()).unwrap().per_host
        };
        assert_eq!(per_host(&["--concurrency", "64"]), 64);
        assert_eq!(per_host(&["--concurrency", "auto"]), 16);
        assert_eq!(per_host(&["--concurrency", "auto:1..8"]), 8);
        assert_eq!(per_host(&["--concurrency", "auto", "--per-host", "64"]), 64);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(parse(&["crawl", "not a url"]).is_err());
        assert!(parse(&["crawl", "ftp://a.test/"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--memory", "lots"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--bogus"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--concurrency", "auto:9..4"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--concurrency", "auto:4..64"]).is_ok());
        assert!(parse(&["crawl", "http://a.test/", "--threads", "20000"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--threads", "0"]).is_err());
        assert!(parse(&["crawl", "http://a.test/", "--threads", "8"]).is_ok());
        assert!(parse(&["crawl", "http://a.test/", "--allow-domain", ""]).is_err());
        let cli = parse(&["crawl", "http://a.test/", "--user-agent", "a\r\nX-Evil: 1"]).unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        let err = args.crawl.to_config(args.urls.clone()).unwrap_err();
        assert!(err.to_string().contains("--user-agent"), "{err}");
        let cli = parse(&["crawl", "http://a.test/", "--memory", "1KiB"]).unwrap();
        let Command::Crawl(args) = cli.command else {
            panic!()
        };
        let err = args.crawl.to_config(args.urls.clone()).unwrap_err();
        assert!(
            err.starts_with("--memory 1.0 KiB is smaller than one page"),
            "{err}"
        );
        assert!(err.ends_with("raise --memory or lower --max-body"), "{err}");
    }

    #[test]
    fn core_errors_name_flags() {
        for (args, says) in [
            (
                &["--concurrency", "many"][..],
                "invalid --concurrency 'many': expected a number, 'auto' or 'auto:MIN..MAX'",
            ),
            (
                &["--concurrency", "auto:9..4"],
                "invalid --concurrency 'auto:9..4': the minimum 9 is above the maximum 4",
            ),
            (&["--concurrency", "0"], "--concurrency must be at least 1"),
            (
                &["--select", "nope"],
                "invalid --select 'nope': expected NAME=CSS or NAME=CSS@attr",
            ),
            (
                &["--select", "x=p:hoverr"],
                "invalid --select 'x=p:hoverr': invalid CSS selector: unsupported pseudo class or element",
            ),
        ] {
            let mut argv = vec!["crawl", "http://a.test/"];
            argv.extend_from_slice(args);
            let err = parse(&argv).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
        for (args, says) in [
            (&["--per-host", "0"][..], "--per-host must be at least 1"),
            (&["--max-body", "0"], "--max-body must be at least 1 byte"),
            (&["--timeout", "0s"], "--timeout must be more than 0"),
            (
                &["--include", "/blog/", "--include", "("],
                "invalid --include '(': unclosed group",
            ),
            (
                &["--exclude", "[z-a]"],
                "invalid --exclude '[z-a]': invalid character class range, the start must be <= the end",
            ),
            (
                &["--accept-type", "pdf"],
                "invalid --accept-type 'pdf': expected a MIME type such as application/pdf or image/*",
            ),
        ] {
            let mut argv = vec!["crawl", "http://a.test/", "--memory", "64MiB"];
            argv.extend_from_slice(args);
            let cli = parse(&argv).unwrap();
            let Command::Crawl(args) = cli.command else {
                panic!()
            };
            assert_eq!(args.crawl.to_config(args.urls.clone()).unwrap_err(), says);
        }
        for setting in Setting::ALL {
            assert!(!flag(setting).is_empty());
        }
    }
}
