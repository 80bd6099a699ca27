//! Log messages on stderr: which ones, and how they look.
//!
//! The HTTP client (isahc, over libcurl) logs a `WARN` for every request
//! that fails ("request completed with error: failed to connect") and for
//! requests dropped when a crawl stops. Each of those failures is already in
//! its record (`error.kind`), so at the default level they are noise that
//! buries semcrawl's own messages; the client's targets (`isahc::*`) are
//! shown from `error` up unless the user's directives name `isahc`.
//! `-q` lowers the default level to errors (an explicit `--log-level` still
//! wins). Colours only go to a terminal: a log
//! file or a CI log with escape codes is unreadable.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::Failure;

/// The levels `--log-level` takes (also after `TARGET=`).
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Check a `--log-level` value: a level, or comma-separated `TARGET=LEVEL`
/// directives and levels. A bare word that is not a level is refused:
/// `tracing` would read `--log-level verbose` as "everything from a target
/// named `verbose`", which shows nothing and hides the typo.
pub fn parse_log_level(s: &str) -> Result<String, String> {
    let level_ok = |l: &str| LEVELS.iter().any(|v| v.eq_ignore_ascii_case(l.trim()));
    for directive in s.split(',').map(str::trim) {
        let ok = match directive.rsplit_once('=') {
            Some((target, level)) => !target.trim().is_empty() && level_ok(level),
            None => level_ok(directive),
        };
        if !ok {
            return Err(format!(
                "invalid log level '{directive}': expected one of {} or TARGET=LEVEL",
                LEVELS.join(", ")
            ));
        }
    }
    EnvFilter::try_new(s).map_err(|e| format!("invalid log level '{s}': {e}"))?;
    Ok(s.to_owned())
}

/// The filter directives for `--log-level` (`None`: not given) and `-q`.
/// An explicit level wins over `-q`, which only changes the default: a
/// quiet run can still ask for, say, the limiter's debug lines.
pub fn directives(level: Option<&str>, quiet: bool) -> String {
    let level = level.unwrap_or(if quiet { "error" } else { "warn" });
    if level.contains("isahc") {
        level.to_owned()
    } else {
        format!("{level},isahc=error")
    }
}

/// Install the stderr logger. `RUST_LOG`, when set, replaces the directives.
pub fn init(level: Option<&str>, quiet: bool) -> Result<(), Failure> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(&v)
            .map_err(|e| Failure::Usage(format!("invalid RUST_LOG '{v}': {e}")))?,
        _ => EnvFilter::try_new(directives(level, quiet)).map_err(|e| {
            Failure::Usage(format!(
                "invalid --log-level '{}': {e}",
                level.unwrap_or_default()
            ))
        })?,
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_directives_pass_typos_do_not() {
        for ok in [
            "warn",
            "DEBUG",
            "info,semcrawl_core::pipeline=debug",
            "semcrawl_core=trace",
        ] {
            assert_eq!(parse_log_level(ok).as_deref(), Ok(ok));
        }
        for bad in ["verbose", "", "warn,", "loud=debug=x", "=debug", "x=loud"] {
            assert!(parse_log_level(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_http_client_is_capped_unless_named() {
        assert_eq!(directives(None, false), "warn,isahc=error");
        assert_eq!(directives(None, true), "error,isahc=error");
        assert_eq!(
            directives(Some("debug,isahc=debug"), false),
            "debug,isahc=debug"
        );
        assert_eq!(directives(Some("debug"), true), "debug,isahc=error");
    }
}
