//! The crawl's settings by meaning, and the errors that name them.
//!
//! Every front end spells a setting its own way: the CLI as a flag, the JS
//! API as an option key (`maxBody`). The core says neither. A
//! [`ConfigError`] records *which* [`Setting`] is wrong and words its
//! problem with settings as placeholders, so each front end renders the
//! same error in its own spelling ([`ConfigError::render`]) and none has to
//! patch the core's text.
//! Its `Display` uses the domain names ([`Setting::name`]), which read well
//! anywhere.
//!
//! ```
//! use semcrawl_core::Setting;
//! use semcrawl_core::Config;
//!
//! let mut c = Config::default();
//! c.seeds.push("http://127.0.0.1/".parse().unwrap());
//! c.per_host = 0;
//! let err = c.validate().unwrap_err();
//! assert_eq!(err.setting(), Setting::PerHost);
//! assert_eq!(err.to_string(), "per-host concurrency must be at least 1");
//! let js_key = |s: Setting| match s {
//!     Setting::PerHost => "perHost",
//!     _ => "other",
//! };
//! assert_eq!(err.render(js_key), "perHost must be at least 1");
//! ```

use std::fmt;

/// One setting of a crawl, as far as errors need to name it.
///
/// Front ends map every variant to their own spelling with an exhaustive
/// `match`, so a new setting cannot go unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The URLs the crawl starts from.
    Seeds,
    /// Pages in flight at once, fixed or adaptive.
    Concurrency,
    /// The byte budget of pages in flight.
    Memory,
    /// The largest body accepted.
    MaxBody,
    /// Concurrent requests to one host.
    PerHost,
    /// The deadline of one request.
    Timeout,
    /// A user field: a name, a CSS selector and an optional attribute.
    Select,
    /// Which hosts are in scope.
    Scope,
    /// The largest batch handed to the store.
    BatchSize,
    /// Extra request headers (a cookie, credentials) for the seeds' sites.
    Headers,
    /// Cookies sent as the seeds' sites' `Cookie` header.
    Cookie,
    /// Patterns a URL must match (one of) to be queued.
    Include,
    /// Patterns that keep a URL out of the queue.
    Exclude,
    /// MIME types read besides HTML.
    AcceptType,
}

impl Setting {
    /// Every setting, for front ends that check their names cover them.
    pub const ALL: [Setting; 14] = [
        Setting::Seeds,
        Setting::Concurrency,
        Setting::Memory,
        Setting::MaxBody,
        Setting::PerHost,
        Setting::Timeout,
        Setting::Select,
        Setting::Scope,
        Setting::BatchSize,
        Setting::Headers,
        Setting::Cookie,
        Setting::Include,
        Setting::Exclude,
        Setting::AcceptType,
    ];

    /// The setting's name in the crawler's own terms, for messages read
    /// outside any particular front end.
    ///
    /// ```
    /// use semcrawl_core::Setting;
    /// assert_eq!(Setting::MaxBody.name(), "maximum body size");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Setting::Seeds => "seed URL",
            Setting::Concurrency => "concurrency",
            Setting::Memory => "memory budget",
            Setting::MaxBody => "maximum body size",
            Setting::PerHost => "per-host concurrency",
            Setting::Timeout => "request timeout",
            Setting::Select => "field",
            Setting::Scope => "scope",
            Setting::BatchSize => "batch size",
            Setting::Headers => "request header",
            Setting::Cookie => "cookie",
            Setting::Include => "include pattern",
            Setting::Exclude => "exclude pattern",
            Setting::AcceptType => "accepted content type",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A piece of an error message: text, or a setting the front end names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Setting(Setting),
}

/// An invalid setting, or settings that do not fit together.
///
/// [`setting`](Self::setting) says which setting to fix; the message names
/// settings through [`render`](Self::render), so the CLI can say
/// its flag and the JS API `memory` for the same error. `Display` uses
/// [`Setting::name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    setting: Setting,
    message: Vec<Piece>,
}

impl ConfigError {
    /// `SETTING problem`, as in "per-host concurrency must be at least 1".
    pub(crate) fn new(setting: Setting, problem: impl fmt::Display) -> Self {
        ConfigError::about(setting)
            .name(setting)
            .text(format!(" {problem}"))
    }

    /// `invalid SETTING 'value': problem`, for a value that cannot be used.
    pub(crate) fn invalid(
        setting: Setting,
        value: impl fmt::Display,
        problem: impl fmt::Display,
    ) -> Self {
        ConfigError::about(setting)
            .text("invalid ")
            .name(setting)
            .text(format!(" '{value}': {problem}"))
    }

    /// An empty message about `setting`, to be built with
    /// [`text`](Self::text) and [`name`](Self::name).
    pub(crate) fn about(setting: Setting) -> Self {
        ConfigError {
            setting,
            message: Vec::new(),
        }
    }

    /// Append text.
    pub(crate) fn text(mut self, text: impl Into<String>) -> Self {
        self.message.push(Piece::Text(text.into()));
        self
    }

    /// Append the name of a setting, as the front end spells it.
    pub(crate) fn name(mut self, setting: Setting) -> Self {
        self.message.push(Piece::Setting(setting));
        self
    }

    /// The setting to fix.
    pub fn setting(&self) -> Setting {
        self.setting
    }

    /// The message, each setting named by `name` (a front end's spelling:
    /// a flag, an option key).
    ///
    /// ```
    /// use semcrawl_core::Setting;
    /// use semcrawl_core::Config;
    /// let mut c = Config::default();
    /// c.seeds.push("http://127.0.0.1/".parse().unwrap());
    /// c.memory = 1024;
    /// let err = c.validate().unwrap_err();
    /// assert_eq!(err.setting(), Setting::Memory);
    /// let js = err.render(|s| match s {
    ///     Setting::Memory => "memory",
    ///     Setting::MaxBody => "maxBody",
    ///     other => other.name(),
    /// });
    /// assert!(js.starts_with("memory 1.0 KiB is smaller than one page"), "{js}");
    /// assert!(js.ends_with("raise memory or lower maxBody"), "{js}");
    /// ```
    pub fn render<N: fmt::Display>(&self, name: impl Fn(Setting) -> N) -> String {
        let mut out = String::new();
        for piece in &self.message {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Setting(s) => out.push_str(&name(*s).to_string()),
            }
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Setting::name))
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_render_with_any_names() {
        let upper = |s: Setting| s.name().to_uppercase();
        let e = ConfigError::new(Setting::Timeout, "must be more than 0");
        assert_eq!(e.to_string(), "request timeout must be more than 0");
        assert_eq!(e.render(upper), "REQUEST TIMEOUT must be more than 0");
        let e = ConfigError::invalid(Setting::Scope, "site", "expected host, domain or any");
        assert_eq!(e.setting(), Setting::Scope);
        assert_eq!(
            e.render(|_| "SCOPE"),
            "invalid SCOPE 'site': expected host, domain or any"
        );
        let e = ConfigError::about(Setting::Memory)
            .name(Setting::Memory)
            .text(" must hold ")
            .name(Setting::MaxBody);
        assert_eq!(e.to_string(), "memory budget must hold maximum body size");
        assert_eq!(e.setting(), Setting::Memory);
    }

    #[test]
    fn every_setting_has_a_distinct_name() {
        let names: std::collections::HashSet<_> = Setting::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Setting::ALL.len());
    }
}
