//! The JS API's options, turned into a core [`Config`].
//!
//! This module is plain Rust (it builds and is tested natively): the JS
//! object is deserialized with serde, and every check beyond "is this the
//! right type" is the core's [`Config::validate`], so the browser and the
//! CLI reject the same bad options. Only the option *names* differ (`maxBody`
//! here, `--max-body` in the CLI): core errors say which [`Setting`] they
//! are about, and [`js_message`] names each one by its key ([`js_name`]).

use std::fmt;
use std::time::Duration;

use semcrawl_core::parse_size;
use semcrawl_core::scope::ScopeMode;
use semcrawl_core::FieldSpec;
use semcrawl_core::Setting;
use semcrawl_core::{Concurrency, Config, ConfigError};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use url::Url;

/// Default count gate in the browser: browsers open about six connections
/// per host over HTTP/1.1, so more would only queue inside the browser.
pub const DEFAULT_CONCURRENCY: usize = 6;
/// Default byte budget in the browser (a tab, not a server).
pub const DEFAULT_MEMORY: u64 = 64 * 1024 * 1024;
/// Default interval between two `onProgress` calls.
pub const DEFAULT_PROGRESS_MS: f64 = 200.0;

/// The options object of `crawl(options, onRecord?, onProgress?)`.
///
/// Unknown keys are rejected (a misspelt `concurency` is an error, not a
/// silent default).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlOptions {
    /// One URL or an array of URLs; relative ones resolve against the page.
    pub seeds: Option<Seeds>,
    /// Most pages in flight at once: a number, or `"auto"` /
    /// `"auto:MIN..MAX"` for a limit that follows latency and errors.
    pub concurrency: Option<ConcurrencyOpt>,
    /// Byte budget: a number of bytes or a string such as `"16MiB"`.
    pub memory: Option<Size>,
    /// Largest decoded body, same forms as `memory`.
    pub max_body: Option<Size>,
    /// Most pages to fetch.
    pub max_pages: Option<u64>,
    /// Deepest link distance from a seed.
    pub max_depth: Option<u32>,
    /// `"host"` (default), `"domain"` or `"any"`.
    #[serde(default, deserialize_with = "scope")]
    pub scope: Option<ScopeMode>,
    /// Extra domains in scope.
    pub allow_domains: Option<Vec<String>>,
    /// User fields: `["price=.price", "img=img@src"]` or `{ price: ".price" }`.
    pub select: Option<Select>,
    /// Extra request headers, `{ "X-Token": "..." }`, sent only to the
    /// seeds' sites and `allowDomains` hosts (browsers refuse some names,
    /// such as `Cookie`; Node sends them all).
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Obey robots.txt (default true).
    pub obey_robots: Option<bool>,
    /// Concurrent requests per host.
    pub per_host: Option<usize>,
    /// Pause between two requests to one host, in milliseconds.
    pub delay_ms: Option<f64>,
    /// Deadline of one request, body included, in milliseconds.
    pub timeout_ms: Option<f64>,
    /// Retries for transient failures.
    pub retries: Option<u32>,
    /// Redirect hops (browsers follow redirects themselves; kept for parity).
    pub max_redirects: Option<u32>,
    /// Keep the visible text in records.
    pub text: Option<bool>,
    /// Keep the list of links in records.
    pub links: Option<bool>,
    /// After a stop, how long in-flight pages may take, in milliseconds.
    pub grace_ms: Option<f64>,
    /// Regexes a URL must match (one of) to be queued; seeds always are.
    pub include: Option<Vec<String>>,
    /// Regexes that keep a URL out of the queue.
    pub exclude: Option<Vec<String>>,
    /// Follow nofollow links too (default false).
    pub follow_nofollow: Option<bool>,
    /// Read each host's sitemaps (default true).
    pub sitemaps: Option<bool>,
    /// MIME types read besides HTML (`"application/pdf"`, `"image/*"`).
    pub accept_types: Option<Vec<String>>,
    /// Queue every link and read every body (default false).
    pub all_types: Option<bool>,
    /// Interval between two `onProgress` calls, in milliseconds.
    pub progress_ms: Option<f64>,
    /// An `AbortSignal`; read by the JS glue, ignored here.
    pub signal: Option<IgnoredAny>,
}

/// `seeds`: a string or an array of strings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeds(pub Vec<String>);

/// A size: a number of bytes or a string understood by [`parse_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

/// `concurrency`: a number, `"auto"` or `"auto:MIN..MAX"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConcurrencyOpt(pub Concurrency);

impl<'de> Deserialize<'de> for ConcurrencyOpt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConcurrencyOpt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of pages, \"auto\" or \"auto:MIN..MAX\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConcurrencyOpt, E> {
                Ok(ConcurrencyOpt(Concurrency::Fixed(v as usize)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConcurrencyOpt, E> {
                usize::try_from(v)
                    .map(|n| ConcurrencyOpt(Concurrency::Fixed(n)))
                    .map_err(|_| {
                        E::custom(format!("invalid concurrency {v}: must not be negative"))
                    })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConcurrencyOpt, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
                    Ok(ConcurrencyOpt(Concurrency::Fixed(v as usize)))
                } else {
                    Err(E::custom(format!(
                        "invalid concurrency {v}: expected a whole number"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConcurrencyOpt, E> {
                v.parse::<Concurrency>()
                    .map(ConcurrencyOpt)
                    .map_err(|e| E::custom(e.render(js_name)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `select`: `NAME=CSS[@attr]` strings, or an object of `NAME: "CSS[@attr]"`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Select(pub Vec<String>);

/// `scope`: the core's [`ScopeMode`] by the names the CLI's `--scope` takes
/// (`any` still only reaches CORS-enabled sites from a browser). An unknown
/// name is serde's usual "unknown variant ..., expected one of ...".
fn scope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ScopeMode>, D::Error> {
    const MODES: [ScopeMode; 3] = [ScopeMode::Host, ScopeMode::Domain, ScopeMode::Any];
    let Some(name) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    MODES
        .into_iter()
        .find(|m| m.as_str() == name)
        .map(Some)
        .ok_or_else(|| de::Error::unknown_variant(&name, &["host", "domain", "any"]))
}

impl<'de> Deserialize<'de> for Seeds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Seeds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL string or an array of URL strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seeds, E> {
                Ok(Seeds(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seeds, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Seeds(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of bytes or a size string like \"16MiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
                    Ok(Size(v as u64))
                } else {
                    Err(E::custom(format!(
                        "invalid size {v}: expected a whole number of bytes"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Select {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Select;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of \"NAME=CSS\" strings or an object of NAME: \"CSS\"")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Select, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Select(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Select, A::Error> {
                let mut out = Vec::new();
                while let Some((name, css)) = map.next_entry::<String, String>()? {
                    out.push(format!("{name}={css}"));
                }
                Ok(Select(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn millis(name: &str, ms: f64) -> Result<Duration, String> {
    if ms.is_finite() && ms >= 0.0 {
        Ok(Duration::from_secs_f64(ms / 1000.0))
    } else {
        Err(format!(
            "invalid options: {name} must be a number of milliseconds >= 0, got {ms}"
        ))
    }
}

impl CrawlOptions {
    /// Build and validate the core [`Config`]. Relative seeds are resolved
    /// against `base` (the page's URL in a browser). Errors are messages
    /// meant for a person, naming the JS option.
    pub fn to_config(&self, base: Option<&Url>) -> Result<Config, String> {
        let mut c = Config {
            concurrency: Concurrency::Fixed(DEFAULT_CONCURRENCY),
            per_host: DEFAULT_CONCURRENCY,
            memory: DEFAULT_MEMORY,
            ..Config::default()
        };
        for seed in self.seeds.iter().flat_map(|s| &s.0) {
            let url = Url::options()
                .base_url(base)
                .parse(seed.trim())
                .map_err(|e| format!("invalid options: seed '{seed}' is not a URL: {e}"))?;
            c.seeds.push(url);
        }
        if let Some(ConcurrencyOpt(n)) = self.concurrency {
            c.concurrency = n;
            if self.per_host.is_none() {
                c.per_host = n.default_per_host().max(1);
            }
        }
        if let Some(Size(m)) = self.memory {
            c.memory = m;
        }
        if let Some(Size(b)) = self.max_body {
            c.max_body = b;
        }
        c.max_pages = self.max_pages;
        c.max_depth = self.max_depth;
        if let Some(scope) = self.scope {
            c.scope = scope;
        }
        if let Some(d) = &self.allow_domains {
            c.allow_domains.clone_from(d);
        }
        for spec in self.select.iter().flat_map(|s| &s.0) {
            c.fields
                .push(FieldSpec::parse(spec).map_err(|e| js_message(&e))?);
        }
        for (name, value) in self.headers.iter().flatten() {
            c.headers.push((name.clone(), value.clone()));
        }
        if let Some(b) = self.obey_robots {
            c.obey_robots = b;
        }
        if let Some(n) = self.per_host {
            c.per_host = n;
        }
        if let Some(ms) = self.delay_ms {
            c.delay = millis("delayMs", ms)?;
        }
        if let Some(ms) = self.timeout_ms {
            c.timeout = millis("timeoutMs", ms)?;
        }
        if let Some(ms) = self.grace_ms {
            c.grace = millis("graceMs", ms)?;
        }
        if let Some(n) = self.retries {
            c.retries = n;
        }
        if let Some(n) = self.max_redirects {
            c.max_redirects = n;
        }
        c.text = self.text.unwrap_or(false);
        c.links = self.links.unwrap_or(false);
        c.include = self.include.clone().unwrap_or_default();
        c.exclude = self.exclude.clone().unwrap_or_default();
        c.follow_nofollow = self.follow_nofollow.unwrap_or(false);
        c.sitemaps = self.sitemaps.unwrap_or(true);
        c.accept_types = self.accept_types.clone().unwrap_or_default();
        c.all_types = self.all_types.unwrap_or(false);
        c.validate().map_err(|e| js_message(&e))?;
        Ok(c)
    }

    /// Interval between two `onProgress` calls.
    pub fn progress_interval(&self) -> Result<Duration, String> {
        let d = millis(
            "progressMs",
            self.progress_ms.unwrap_or(DEFAULT_PROGRESS_MS),
        )?;
        Ok(d.max(Duration::from_millis(16)))
    }
}

/// The option key that sets `setting`: the one place that maps the core's
/// [`Setting`]s to the JS API's names.
pub fn js_name(setting: Setting) -> &'static str {
    match setting {
        // One entry of `seeds`.
        Setting::Seeds => "seed",
        Setting::Concurrency => "concurrency",
        Setting::Memory => "memory",
        Setting::MaxBody => "maxBody",
        Setting::PerHost => "perHost",
        Setting::Timeout => "timeoutMs",
        Setting::Select => "select",
        Setting::Scope => "scope",
        Setting::Headers | Setting::Cookie => "headers",
        Setting::Include => "include",
        Setting::Exclude => "exclude",
        Setting::AcceptType => "acceptTypes",
        // Not an option: always the default.
        Setting::BatchSize => "batch size",
    }
}

/// A core configuration error as the JS API reports it: settings named by
/// their option keys, prefixed so a caller knows what failed.
///
/// ```
/// use semcrawl_core::Config;
/// let mut c = Config::default();
/// c.seeds.push("http://127.0.0.1/".parse().unwrap());
/// c.max_body = 0;
/// let err = c.validate().unwrap_err();
/// let m = semcrawl_wasm::options::js_message(&err);
/// assert_eq!(m, "invalid options: maxBody must be at least 1 byte");
/// ```
pub fn js_message(e: &ConfigError) -> String {
    format!("invalid options: {}", e.render(js_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<CrawlOptions, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn config(json: &str) -> Result<Config, String> {
        parse(json)?.to_config(Some(
            &"http://127.0.0.1:8000/demo/index.html".parse().unwrap(),
        ))
    }

    #[test]
    fn defaults_and_sizes() {
        let c = config(r#"{"seeds": "http://a.test/"}"#).unwrap();
        assert_eq!(c.concurrency, Concurrency::Fixed(DEFAULT_CONCURRENCY));
        assert_eq!(c.memory, DEFAULT_MEMORY);
        assert!(c.obey_robots);
        let c = config(r#"{"seeds": ["http://a.test/"], "memory": "16MiB", "maxBody": 1048576, "concurrency": 3}"#)
            .unwrap();
        assert_eq!((c.memory, c.max_body), (16 << 20, 1 << 20));
        assert_eq!((c.concurrency, c.per_host), (Concurrency::Fixed(3), 3));
    }

    #[test]
    fn concurrency_auto() {
        let c = config(r#"{"seeds": "/", "concurrency": "auto:2..32"}"#).unwrap();
        assert!(matches!(c.concurrency, Concurrency::Auto(l) if (l.min, l.max) == (2, 32)));
        assert_eq!(c.per_host, semcrawl_core::AUTO_PER_HOST);
        let c = config(r#"{"seeds": "/", "concurrency": "auto:2..8"}"#).unwrap();
        assert_eq!(c.per_host, 8);
        let c = config(r#"{"seeds": "/", "concurrency": "auto", "perHost": 64}"#).unwrap();
        assert_eq!(c.per_host, 64);
        assert!(config(r#"{"seeds": "/", "concurrency": "auto"}"#).is_ok());
        let err = config(r#"{"seeds": "/", "concurrency": "auto:9..4"}"#).unwrap_err();
        assert!(err.contains("concurrency"), "{err}");
    }

    #[test]
    fn url_options() {
        let c = config(
            r#"{"seeds": "/", "include": ["/blog/"], "exclude": ["[?&]ref="], "followNofollow": true,
                "sitemaps": false, "acceptTypes": ["application/pdf"], "allTypes": true}"#,
        )
        .unwrap();
        assert_eq!((c.include.len(), c.exclude.len()), (1, 1));
        assert!(c.follow_nofollow && !c.sitemaps && c.all_types);
        assert_eq!(c.accept_types, ["application/pdf"]);
        let c = config(r#"{"seeds": "/"}"#).unwrap();
        assert!(!c.follow_nofollow && c.sitemaps && !c.all_types);
        let err = config(r#"{"seeds": "/", "exclude": ["("]}"#).unwrap_err();
        assert_eq!(err, "invalid options: invalid exclude '(': unclosed group");
        let err = config(r#"{"seeds": "/", "acceptTypes": ["pdf"]}"#).unwrap_err();
        assert!(
            err.starts_with("invalid options: invalid acceptTypes 'pdf'"),
            "{err}"
        );
    }

    #[test]
    fn relative_seeds_resolve_against_the_page() {
        let c = config(r#"{"seeds": "../site/"}"#).unwrap();
        assert_eq!(c.seeds[0].as_str(), "http://127.0.0.1:8000/site/");
    }

    #[test]
    fn every_option_maps() {
        let c = config(
            r#"{"seeds": "/", "maxPages": 5, "maxDepth": 2, "scope": "domain", "allowDomains": ["b.test"],
                "select": {"h": "h1"}, "obeyRobots": false, "perHost": 2, "delayMs": 250, "timeoutMs": 1500,
                "retries": 0, "maxRedirects": 3, "text": true, "links": true, "graceMs": 100, "signal": {}}"#,
        )
        .unwrap();
        assert_eq!(
            (c.max_pages, c.max_depth, c.scope),
            (Some(5), Some(2), ScopeMode::Domain)
        );
        assert_eq!(c.allow_domains, ["b.test"]);
        assert_eq!(c.fields[0].name, "h");
        assert!(!c.obey_robots && c.text && c.links);
        assert_eq!((c.per_host, c.retries, c.max_redirects), (2, 0, 3));
        assert_eq!(c.delay, Duration::from_millis(250));
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.grace, Duration::from_millis(100));
        let c = config(r#"{"seeds": "/", "select": ["img=img@src"]}"#).unwrap();
        assert_eq!(c.fields[0].attr.as_deref(), Some("src"));
        let c = config(
            r#"{"seeds": "/", "select": {"imgs[]": "img@src"}, "headers": {"X-Token": "t"}}"#,
        )
        .unwrap();
        assert_eq!((c.fields[0].name.as_str(), c.fields[0].all), ("imgs", true));
        assert_eq!(c.headers, [("X-Token".to_owned(), "t".to_owned())]);
    }

    #[test]
    fn bad_options_have_clear_messages() {
        let err = |json| config(json).unwrap_err();
        assert!(err(r#"{}"#).contains("no seed URL"));
        assert!(err(r#"{"seeds": "/", "headers": {"X-A": "1\r\nX-B: 2"}}"#)
            .contains("invalid headers 'X-A': the header value contains a line break"));
        assert!(err(r#"{"seeds": "ftp://x/"}"#).contains("only http and https"));
        assert!(
            err(r#"{"seeds": "/", "concurrency": 0}"#).contains("concurrency must be at least 1")
        );
        let m = err(r#"{"seeds": "/", "memory": "1KiB"}"#);
        assert!(
            m.starts_with("invalid options: memory 1.0 KiB is smaller than one page")
                && m.ends_with("raise memory or lower maxBody"),
            "{m}"
        );
        assert_eq!(
            err(r#"{"seeds": "/", "timeoutMs": 0}"#),
            "invalid options: timeoutMs must be more than 0"
        );
        let m = err(r#"{"seeds": "/", "concurrency": "auto:0..4"}"#);
        assert!(
            m.starts_with("invalid concurrency 'auto:0..4': the minimum must be at least 1"),
            "{m}"
        );
        assert!(err(r#"{"seeds": "/", "memory": "lots"}"#).contains("invalid size 'lots'"));
        assert!(err(r#"{"seeds": "/", "memory": -1}"#).contains("must not be negative"));
        assert!(err(r#"{"seeds": "/", "concurency": 2}"#).contains("unknown field `concurency`"));
        assert!(err(r#"{"seeds": "/", "scope": "planet"}"#).contains("expected one of"));
        assert!(err(r#"{"seeds": "/", "select": ["nope"]}"#).contains("invalid select 'nope'"));
        assert!(err(r#"{"seeds": "/", "delayMs": -5}"#).contains("delayMs"));
    }
}
