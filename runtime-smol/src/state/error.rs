//! [`StateError`]: why a state directory could not be opened or used.

use std::fmt;
use std::path::PathBuf;

/// Why a state directory could not be opened, or an operation on it failed.
///
/// [`StateError::is_usage`] tells the errors the user caused (another
/// crawl's directory, one in use, an old format) from failures of the
/// machine (I/O, a damaged database).
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// The directory belongs to a crawl started differently; `what` names the
    /// first difference, e.g. "the seeds differ: was https://a.test/, now
    /// https://b.test/".
    Mismatch {
        /// One line naming the field and both values.
        what: String,
    },
    /// The directory was written by a version with another state format.
    Version {
        /// The format found in `state.json`.
        found: u64,
        /// The format this version reads and writes.
        expected: u64,
    },
    /// Another process holds the directory's lock.
    Locked {
        /// The directory.
        path: PathBuf,
        /// The pid written in the lock file by its holder, if readable.
        pid: Option<u32>,
    },
    /// The directory has files but no `state.json`: it is not a state
    /// directory, and nothing is written into it.
    NotState {
        /// The directory.
        path: PathBuf,
    },
    /// `state.json` or the database could not be read as what it should be.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A file system operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The embedded database failed.
    Engine(Box<dyn std::error::Error + Send + Sync>),
}

impl StateError {
    /// Whether the user can fix this by choosing another directory or the
    /// same options as before (a CLI exits with a usage status), rather than
    /// a failure of the machine.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StateError::Mismatch { .. }
                | StateError::Version { .. }
                | StateError::Locked { .. }
                | StateError::NotState { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StateError {
        StateError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Mismatch { what } => {
                write!(f, "the state directory belongs to another crawl: {what}")
            }
            StateError::Version { found, expected } => write!(
                f,
                "the state directory has format {found}, this version reads format {expected}"
            ),
            StateError::Locked {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "the state directory {} is in use by another process (pid {pid})",
                path.display()
            ),
            StateError::Locked { path, pid: None } => write!(
                f,
                "the state directory {} is in use by another process",
                path.display()
            ),
            StateError::NotState { path } => write!(
                f,
                "{} is not empty and is not a crawl state directory (no state.json)",
                path.display()
            ),
            StateError::Corrupt { path, reason } => {
                write!(f, "{} is damaged: {reason}", path.display())
            }
            StateError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StateError::Engine(e) => write!(f, "state database: {e}"),
        }
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateError::Io { source, .. } => Some(source),
            StateError::Engine(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// SQLite errors become [`StateError::Engine`]; a private conversion keeps
/// rusqlite out of the public API.
pub(crate) fn engine(e: rusqlite::Error) -> StateError {
    StateError::Engine(Box::new(e))
}
