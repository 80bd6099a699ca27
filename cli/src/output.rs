//! Where a crawl's records go: `--out`, `--format` and `--post` turned into
//! one store, and what happens when standard output goes away.
//!
//! * `--out` picks the format from its extension (`.jsonl`, `.csv`,
//!   `.sqlite`, ...), or `--format` says it; an unknown extension is refused
//!   before the crawl (see `semcrawl_smol::store::Format`).
//! * `--out` and `--post` together write every record to both (a
//!   `TeeStore`); `--post` alone replaces the default stdout.
//! * A closed stdout (`semcrawl crawl URL | head -1`) is the reader saying
//!   "enough", as it is for `cat` or `rg`: the crawl stops as on Ctrl-C and
//!   exits 0 without a word, instead of failing on a broken pipe
//!   ([`StdoutGuard`]).

use semcrawl_core::Store;
use semcrawl_smol::store::{
    open_target, reopen_target, Bounded, Format, HttpSinkOptions, HttpSinkStore, ShutdownDeadline,
    StdoutGuard, StdoutState, TeeStore,
};
use url::Url;

use crate::Failure;

/// The store of a crawl, and whether its stdout was closed by the reader.
pub struct Output {
    /// Every record goes here.
    pub store: Box<dyn Store>,
    /// Set when stdout's reader went away.
    pub stdout: StdoutState,
}

/// Open the outputs: `out` (`None`: stdout, unless `post` is given) in
/// `format` (`None`: from the extension), and the `post` sink. `fields` are
/// the `--select` names (the CSV header lists them). With `resume`, an
/// earlier run's output file is kept and appended to
/// ([`reopen_target`]).
pub fn open(
    out: Option<&str>,
    format: Option<Format>,
    post: Option<&Url>,
    fields: &[String],
    deadline: &ShutdownDeadline,
    resume: bool,
) -> Result<Output, Failure> {
    let stdout = StdoutState::default();
    let mut stores: Vec<Box<dyn Store>> = Vec::new();
    let target = match (out, post) {
        (Some(out), _) => Some(out),
        (None, None) => Some("-"),
        (None, Some(_)) => None,
    };
    if let Some(target) = target {
        let url = ["http://", "https://"]
            .iter()
            .any(|p| target.to_ascii_lowercase().starts_with(p));
        if format.is_none() && target != "-" && !url {
            if let Err(e) = Format::from_extension(target) {
                return Err(Failure::Usage(format!(
                    "cannot open --out '{target}': {}; --format {} says what to write",
                    e.0,
                    Format::ALL.map(Format::name).join("|")
                )));
            }
        }
        let opened = if resume {
            reopen_target(target, format, fields)
        } else {
            open_target(target, format, fields)
        };
        let store =
            opened.map_err(|e| Failure::Usage(format!("cannot open --out '{target}': {}", e.0)))?;
        let lower = target.to_ascii_lowercase();
        stores.push(if target == "-" {
            Box::new(StdoutGuard::new(store, stdout.clone()))
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            Box::new(Bounded::new(store, target, deadline.clone()))
        } else {
            // A local file needs no deadline: cutting a slow disk's write
            // would lose records.
            store
        });
    } else if let Some(format) = format {
        return Err(Failure::Usage(format!(
            "--format {format} needs --out (with --post alone, records only go to the sink)"
        )));
    }
    if let Some(url) = post {
        let sink = HttpSinkStore::new(url.as_str(), HttpSinkOptions::default())
            .map_err(|e| Failure::Usage(format!("cannot use --post {url}: {}", e.0)))?;
        stores.push(Box::new(Bounded::new(sink, url.as_str(), deadline.clone())));
    }
    let store: Box<dyn Store> = if stores.len() == 1 {
        stores.pop().expect("one store")
    } else {
        Box::new(TeeStore::new(stores))
    };
    Ok(Output { store, stdout })
}
