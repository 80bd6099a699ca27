//! Parsers for flag values: each turns one string into a value or a
//! one-line error naming the flag, before any request is sent.

use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use semcrawl_core::scope::ScopeMode;
use semcrawl_core::{parse_duration, parse_size, Concurrency, FieldSpec};
use semcrawl_smol::store::Format;
use url::Url;

use crate::args::usage_message;

/// `--scope`: the core's [`ScopeMode`] by its names, with a line of help
/// for each (what `ValueEnum` would give an enum of our own).
pub(crate) fn scope_parser() -> impl TypedValueParser<Value = ScopeMode> {
    PossibleValuesParser::new([
        PossibleValue::new(ScopeMode::Host.as_str()).help("The seeds' exact hosts"),
        PossibleValue::new(ScopeMode::Domain.as_str())
            .help("The seeds' domains and their subdomains"),
        PossibleValue::new(ScopeMode::Any.as_str()).help("Any host"),
    ])
    .map(|name| {
        name.parse::<ScopeMode>()
            .expect("every possible value is a scope mode")
    })
}

pub(crate) fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("invalid URL '{s}': {e}"))?;
    semcrawl_core::seeds::require_http(s, url)
}

/// `--format`: the names of [`Format::ALL`], listed for help and completions.
pub(crate) fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(Format::ALL.map(Format::name))
        .map(|s| s.parse::<Format>().expect("a possible value"))
}

/// An `--allow-domain`: not empty (an empty one would read as "no domain"
/// or, worse, match every host by suffix).
pub(crate) fn parse_domain(s: &str) -> Result<String, String> {
    if s.trim().trim_start_matches('.').is_empty() {
        return Err("an empty domain is not allowed".into());
    }
    Ok(s.to_owned())
}

/// Most `--threads`: a thread per core is the useful range; far more only
/// costs stacks, and the system refuses to create some tens of thousands
/// (which used to end in a panic).
pub const MAX_THREADS: usize = 1024;

pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(format!("must be between 1 and {MAX_THREADS}"));
    }
    Ok(n)
}

pub(crate) fn parse_concurrency(s: &str) -> Result<Concurrency, String> {
    s.parse::<Concurrency>().map_err(|e| usage_message(&e))
}

pub(crate) fn parse_size_arg(s: &str) -> Result<u64, String> {
    parse_size(s)
}

pub(crate) fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

pub(crate) fn parse_field(s: &str) -> Result<FieldSpec, String> {
    FieldSpec::parse(s).map_err(|e| usage_message(&e))
}
