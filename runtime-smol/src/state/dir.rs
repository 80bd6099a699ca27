//! [`StateDir`]: one crawl's state directory, locked, with the identity of
//! the crawl that owns it.
//!
//! A state directory is only useful if the crawl resumed on it is the crawl
//! that wrote it: resuming with other seeds or filters would mark pages done
//! that the new crawl never took, and skip pages it should take. So the
//! directory records a [`CrawlIdentity`] (what decides which pages a crawl
//! takes) and refuses a different one. Two processes on one directory would
//! pop the same URLs and both mark them done, so an `flock(2)` lock refuses
//! the second: the kernel releases it when its holder dies, even by
//! `kill -9`, so a crash never leaves a stale lock behind.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::db;
use super::error::StateError;

/// The format of a state directory that this version reads and writes. A
/// directory of another format is refused with [`StateError::Version`].
/// 2: the frontier's seen set is keyed by SipHash-1-3 (SHA-256 in 1), so a
/// format-1 directory's seen set would not match a single URL.
pub const STATE_FORMAT: u64 = 2;

const STATE_FILE: &str = "state.json";
const STATE_TMP: &str = "state.json.tmp";
const LOCK_FILE: &str = "lock";

/// What decides which pages a crawl takes, as plain data the front end fills
/// in. Resuming a directory with an identity that differs in any field but
/// [`options`](Self::options) is refused.
///
/// Fields hold canonical text (URLs as parsed and re-serialized, paths made
/// absolute), so that equal settings compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrawlIdentity {
    /// Seed URLs, in the order given.
    pub seeds: Vec<String>,
    /// Which hosts are in scope (e.g. `host`, `domain`, `any`).
    pub scope: String,
    /// Domains allowed besides the seeds' own.
    pub allow_domains: Vec<String>,
    /// Patterns a URL must match to be taken.
    pub include: Vec<String>,
    /// Patterns that exclude a URL.
    pub exclude: Vec<String>,
    /// Deepest link distance from a seed, if limited.
    pub max_depth: Option<u32>,
    /// Whether robots.txt is obeyed.
    pub obey_robots: bool,
    /// The kind of output (e.g. `jsonl`, `sqlite`): pages marked done were
    /// stored there, so resuming into another output would lose them.
    pub output_kind: String,
    /// Where the output goes.
    pub output_path: String,
    /// Anything else that changes which pages are taken, compared like the
    /// fields above.
    pub other: BTreeMap<String, String>,
    /// Settings recorded for reference but free to change between runs
    /// (concurrency, timeouts, ...). Not compared; the latest run's are kept.
    pub options: BTreeMap<String, String>,
}

impl CrawlIdentity {
    /// The first difference between the identity a directory was started
    /// with (`self`) and the one it is resumed with, as one line; `None` if
    /// they agree. [`options`](Self::options) are not compared.
    ///
    /// ```
    /// use semcrawl_smol::state::CrawlIdentity;
    /// let was = CrawlIdentity { seeds: vec!["https://a.test/".into()], ..Default::default() };
    /// let now = CrawlIdentity { seeds: vec!["https://b.test/".into()], ..Default::default() };
    /// assert_eq!(
    ///     was.difference(&now).unwrap(),
    ///     "the seeds differ: was https://a.test/, now https://b.test/"
    /// );
    /// assert_eq!(was.difference(&was.clone()), None);
    /// ```
    pub fn difference(&self, now: &CrawlIdentity) -> Option<String> {
        fn list(v: &[String]) -> String {
            if v.is_empty() {
                "none".into()
            } else {
                v.join(" ")
            }
        }
        fn differ(what: &str, was: String, now: String) -> Option<String> {
            (was != now).then(|| format!("{what} differ: was {was}, now {now}"))
        }
        let depth = |d: Option<u32>| d.map_or("unlimited".into(), |d| d.to_string());
        let text = |s: &str| {
            if s.is_empty() {
                "none".into()
            } else {
                s.to_string()
            }
        };
        differ("the seeds", list(&self.seeds), list(&now.seeds))
            .or_else(|| differ("the scopes", text(&self.scope), text(&now.scope)))
            .or_else(|| {
                differ(
                    "the allowed domains",
                    list(&self.allow_domains),
                    list(&now.allow_domains),
                )
            })
            .or_else(|| {
                differ(
                    "the include filters",
                    list(&self.include),
                    list(&now.include),
                )
            })
            .or_else(|| {
                differ(
                    "the exclude filters",
                    list(&self.exclude),
                    list(&now.exclude),
                )
            })
            .or_else(|| {
                differ(
                    "the depth limits",
                    depth(self.max_depth),
                    depth(now.max_depth),
                )
            })
            .or_else(|| {
                let robots = |obey: bool| if obey { "obeyed" } else { "ignored" }.to_string();
                differ(
                    "the robots.txt settings",
                    robots(self.obey_robots),
                    robots(now.obey_robots),
                )
            })
            .or_else(|| {
                differ(
                    "the output kinds",
                    text(&self.output_kind),
                    text(&now.output_kind),
                )
            })
            .or_else(|| {
                differ(
                    "the output paths",
                    text(&self.output_path),
                    text(&now.output_path),
                )
            })
            .or_else(|| {
                let keys = self.other.keys().chain(now.other.keys());
                keys.into_iter().find_map(|key| {
                    let get = |m: &BTreeMap<String, String>| text(m.get(key).map_or("", |v| v));
                    differ(
                        &format!("the {key} settings"),
                        get(&self.other),
                        get(&now.other),
                    )
                })
            })
    }
}

/// Whether [`StateDir::open`] started a crawl or found one to go on with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The directory had no crawl in it.
    Fresh,
    /// The directory holds a crawl with the same identity.
    Resumed {
        /// URLs marked done by the earlier runs.
        done: u64,
        /// URLs pushed and not done: queued again, including those that were
        /// in flight when the earlier run stopped.
        pending: u64,
    },
}

impl Resume {
    /// Whether an earlier run's crawl is continued.
    pub fn is_resumed(&self) -> bool {
        matches!(self, Resume::Resumed { .. })
    }
}

/// The on-disk layout of `state.json`.
#[derive(Serialize, Deserialize)]
struct StateFile {
    format: u64,
    identity: CrawlIdentity,
}

/// A locked state directory. Cheap to clone; the lock is held (and a
/// temporary directory kept) until the last clone is dropped, so a
/// [`DiskFrontier`](super::DiskFrontier) opened on it keeps it alive.
///
/// ```
/// use semcrawl_smol::state::{CrawlIdentity, Resume, StateDir, StateError};
/// let path = std::env::temp_dir().join(format!("semcrawl-doc-dir-{}", std::process::id()));
/// let identity = CrawlIdentity { seeds: vec!["https://a.test/".into()], ..Default::default() };
/// let (dir, resume) = StateDir::open(&path, &identity).unwrap();
/// assert_eq!(resume, Resume::Fresh);
/// // A second open while the first holds the lock is refused.
/// assert!(matches!(StateDir::open(&path, &identity), Err(StateError::Locked { .. })));
/// drop(dir);
/// let (_dir, resume) = StateDir::open(&path, &identity).unwrap();
/// assert!(resume.is_resumed());
/// # drop(_dir); std::fs::remove_dir_all(&path).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StateDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    temporary: bool,
    // Held for its lock; released when dropped (or by the kernel at exit).
    _lock: Lock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a temporary directory left behind is only litter.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

impl StateDir {
    /// Open the state directory at `path` for a crawl with `identity`,
    /// creating it if missing, and lock it.
    ///
    /// Refused: a directory locked by another process
    /// ([`StateError::Locked`]), one with files but no `state.json`
    /// ([`StateError::NotState`]), another format
    /// ([`StateError::Version`]), another identity
    /// ([`StateError::Mismatch`]). On a resume the identity's `options` are
    /// replaced by the new ones.
    pub fn open(path: &Path, identity: &CrawlIdentity) -> Result<(StateDir, Resume), StateError> {
        fs::create_dir_all(path).map_err(|e| StateError::io(path, e))?;
        let lock = Lock::acquire(path)?;
        let state_path = path.join(STATE_FILE);
        let resume = match fs::read(&state_path) {
            Ok(bytes) => {
                let old = parse_state(&state_path, &bytes)?;
                if let Some(what) = old.identity.difference(identity) {
                    return Err(StateError::Mismatch { what });
                }
                let (done, pending) = db::stored_counts(path)?;
                Resume::Resumed { done, pending }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                refuse_foreign_files(path)?;
                Resume::Fresh
            }
            Err(e) => return Err(StateError::io(&state_path, e)),
        };
        write_state(path, identity)?;
        let inner = Inner {
            path: path.to_path_buf(),
            temporary: false,
            _lock: lock,
        };
        Ok((
            StateDir {
                inner: Arc::new(inner),
            },
            resume,
        ))
    }

    /// A fresh, locked directory under [`std::env::temp_dir`], removed when
    /// the last clone is dropped: the state of a crawl that asked for none,
    /// so that its memory is bounded too.
    pub fn temporary() -> Result<StateDir, StateError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("semcrawl-state-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    let inner = Inner {
                        _lock: Lock::acquire(&path)?,
                        path,
                        temporary: true,
                    };
                    return Ok(StateDir {
                        inner: Arc::new(inner),
                    });
                }
                // Left by an earlier process with a recycled pid: try the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StateError::io(&path, e)),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The path of a file named `name` in the directory, for other parts of
    /// a crawl's state (e.g. a robots.txt cache).
    pub fn file(&self, name: &str) -> PathBuf {
        self.inner.path.join(name)
    }

    /// Whether the directory is removed when dropped.
    pub fn is_temporary(&self) -> bool {
        self.inner.temporary
    }
}

fn parse_state(path: &Path, bytes: &[u8]) -> Result<StateFile, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    // The format is checked before the rest is parsed: another format may
    // lay the rest out differently.
    let found = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt("no \"format\" number".into()))?;
    if found != STATE_FORMAT {
        return Err(StateError::Version {
            found,
            expected: STATE_FORMAT,
        });
    }
    serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
}

/// A directory without `state.json` is taken only if it holds nothing but
/// what an interrupted first open leaves (the lock, a half-written
/// `state.json.tmp`): `--state ~` must not scatter files into a home
/// directory.
fn refuse_foreign_files(path: &Path) -> Result<(), StateError> {
    let entries = fs::read_dir(path).map_err(|e| StateError::io(path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StateError::io(path, e))?;
        let name = entry.file_name();
        if name != LOCK_FILE && name != STATE_TMP {
            return Err(StateError::NotState {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Write `state.json` atomically: a temporary file, synced, renamed over the
/// old one, and the directory synced, so a crash leaves the old file or the
/// new one, never a torn one.
fn write_state(dir: &Path, identity: &CrawlIdentity) -> Result<(), StateError> {
    let state = StateFile {
        format: STATE_FORMAT,
        identity: identity.clone(),
    };
    let mut text = serde_json::to_vec_pretty(&state).expect("plain data serializes");
    text.push(b'\n');
    let tmp = dir.join(STATE_TMP);
    let mut file = File::create(&tmp).map_err(|e| StateError::io(&tmp, e))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(|e| StateError::io(&tmp, e))?;
    let path = dir.join(STATE_FILE);
    fs::rename(&tmp, &path).map_err(|e| StateError::io(&path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StateError::io(dir, e))?;
    let _ = dir;
    Ok(())
}

/// The directory's lock: `flock(2)` on `lock`, which holds the holder's pid
/// so the error can name it.
#[derive(Debug)]
struct Lock {
    #[cfg(unix)]
    _file: nix::fcntl::Flock<File>,
    #[cfg(not(unix))]
    _file: File,
}

impl Lock {
    fn acquire(dir: &Path) -> Result<Lock, StateError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StateError::io(&path, e))?;
        #[cfg(unix)]
        let mut file = {
            use nix::fcntl::{Flock, FlockArg};
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => locked,
                Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                    let mut text = String::new();
                    let pid = file
                        .read_to_string(&mut text)
                        .ok()
                        .and(text.trim().parse().ok());
                    return Err(StateError::Locked {
                        path: dir.to_path_buf(),
                        pid,
                    });
                }
                Err((_, errno)) => return Err(StateError::io(&path, errno.into())),
            }
        };
        // Elsewhere there is no flock: the lock only records the pid.
        #[cfg(not(unix))]
        let mut file = file;
        file.set_len(0)
            .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .map_err(|e| StateError::io(&path, e))?;
        Ok(Lock { _file: file })
    }
}
