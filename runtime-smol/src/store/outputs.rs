//! Where a crawl's records go, as a front end names it: an output target
//! (`-` for stdout, a file whose extension picks the format, or an http(s)
//! URL), a format that overrides the extension, and an HTTP sink.
//!
//! * The target and the sink together get every record (a [`TeeStore`]);
//!   the sink alone replaces the default stdout.
//! * A closed stdout (`semcrawl crawl URL | head -1`) is the reader saying
//!   "enough", as it is for `cat` or `rg`: [`Outputs::stdout`] tells the
//!   front end, which stops the crawl and exits quietly instead of failing
//!   on a broken pipe ([`StdoutGuard`]).
//! * Network writes obey a [`ShutdownDeadline`]; a local file gets none,
//!   since cutting a slow disk's write would lose records.

use semcrawl_core::Store;
use url::Url;

use super::{
    open_target, reopen_target, Bounded, Format, HttpSinkOptions, HttpSinkStore, ShutdownDeadline,
    StdoutGuard, StdoutState, TeeStore,
};

/// What a crawl writes to.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputSpec<'a> {
    /// The target; `None` means stdout, unless there is a sink.
    pub out: Option<&'a str>,
    /// The format, whatever the target's extension.
    pub format: Option<Format>,
    /// The HTTP sink that also gets every record.
    pub sink: Option<&'a Url>,
    /// The extracted fields' names (the CSV header lists them).
    pub fields: &'a [String],
    /// Keep and append to an earlier run's output ([`reopen_target`]).
    pub append: bool,
}

/// Why the outputs could not be opened. Each names the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    /// The target: which, and why.
    Target(String, String),
    /// The target's extension names no format, and none was given.
    UnknownExtension(String, String),
    /// A format was given, but records only go to the sink.
    FormatWithoutTarget(Format),
    /// The sink: which, and why.
    Sink(String, String),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::Target(t, why) | OutputError::UnknownExtension(t, why) => {
                write!(f, "cannot open '{t}': {why}")
            }
            OutputError::FormatWithoutTarget(format) => {
                write!(f, "the format {format} needs an output target")
            }
            OutputError::Sink(url, why) => write!(f, "cannot use the sink {url}: {why}"),
        }
    }
}

impl std::error::Error for OutputError {}

/// A crawl's store, and whether its stdout was closed by the reader.
pub struct Outputs {
    /// Every record goes here.
    pub store: Box<dyn Store>,
    /// Set when stdout's reader went away.
    pub stdout: StdoutState,
}

impl Outputs {
    /// Open what `spec` names; network writes obey `deadline`.
    ///
    /// ```
    /// use semcrawl_smol::store::{OutputSpec, Outputs};
    ///
    /// let dir = std::env::temp_dir().join(format!("semcrawl-outputs-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let out = dir.join("pages.csv");
    /// let spec = OutputSpec { out: out.to_str(), ..Default::default() };
    /// let outputs = Outputs::open(&spec, &Default::default()).unwrap();
    /// drop(outputs);
    /// assert!(std::fs::read_to_string(&out).unwrap().starts_with("url,"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn open(
        spec: &OutputSpec<'_>,
        deadline: &ShutdownDeadline,
    ) -> Result<Outputs, OutputError> {
        let stdout = StdoutState::default();
        let mut stores: Vec<Box<dyn Store>> = Vec::new();
        let target = match (spec.out, spec.sink) {
            (Some(out), _) => Some(out),
            (None, None) => Some("-"),
            (None, Some(_)) => None,
        };
        if let Some(target) = target {
            let lower = target.to_ascii_lowercase();
            let url = lower.starts_with("http://") || lower.starts_with("https://");
            if spec.format.is_none() && target != "-" && !url {
                if let Err(e) = Format::from_extension(target) {
                    return Err(OutputError::UnknownExtension(target.into(), e.0));
                }
            }
            let opened = if spec.append {
                reopen_target(target, spec.format, spec.fields)
            } else {
                open_target(target, spec.format, spec.fields)
            };
            let store = opened.map_err(|e| OutputError::Target(target.into(), e.0))?;
            stores.push(if target == "-" {
                Box::new(StdoutGuard::new(store, stdout.clone()))
            } else if url {
                Box::new(Bounded::new(store, target, deadline.clone()))
            } else {
                store
            });
        } else if let Some(format) = spec.format {
            return Err(OutputError::FormatWithoutTarget(format));
        }
        if let Some(url) = spec.sink {
            let sink = HttpSinkStore::new(url.as_str(), HttpSinkOptions::default())
                .map_err(|e| OutputError::Sink(url.to_string(), e.0))?;
            stores.push(Box::new(Bounded::new(sink, url.as_str(), deadline.clone())));
        }
        let store: Box<dyn Store> = match stores.len() {
            1 => stores.pop().expect("one store"),
            _ => Box::new(TeeStore::new(stores)),
        };
        Ok(Outputs { store, stdout })
    }
}

/// Fail now, not after the crawl, if `path` cannot be written (a report
/// written at the end, say): open it for appending (which neither truncates
/// an existing file nor changes it), and remove it again if this created it.
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
