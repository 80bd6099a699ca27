//! A default byte budget that fits the container the crawl runs in.
//!
//! `--memory` is a promise only if it fits the memory the process may use.
//! In a container that limit is the cgroup's, not the machine's: a pod
//! limited to 400 MiB on a 64 GiB node that sizes itself from the node is
//! killed (crawlee-python #2095 and #1535 are that bug). When `--memory` is
//! not given, [`detect`] finds the limit the kernel will enforce and derives
//! the budget of the byte gate from it:
//!
//! ```text
//! budget = (limit - baseline RSS) x SAFETY_FRACTION,  within MIN_BUDGET..=limit
//! ```
//!
//! * **limit**: the cgroup v2 `memory.max` of the process's own cgroup and
//!   of each of its ancestors (the smallest wins: a pod's limit sits above
//!   its container's cgroup), else the cgroup v1 `memory.limit_in_bytes`,
//!   else [`PHYSICAL_FRACTION`] of the physical memory (`MemTotal`): a
//!   process with no limit still shares its machine. A cgroup limit above
//!   the physical memory is capped by it.
//! * **baseline**: the process's resident memory now (`VmRSS`) — the code,
//!   the runtime, the frontier of the seeds — which the byte gate does not
//!   count and which is already spent.
//! * [`SAFETY_FRACTION`] (one half) of what remains: the gate counts the
//!   bytes of pages in flight (bodies, parse costs, records waiting for the
//!   store), not everything they cost. Allocator fragmentation and freed
//!   pages not yet returned to the kernel, the HTTP client's and TLS buffers,
//!   the growth of the frontier and of the seen set, and the store's own
//!   buffers all live outside the gate and grow with the crawl. Keeping as
//!   much again outside the gate as inside it is a deliberately wide margin
//!   (to be checked against the benchmark's peak-RSS figures): a budget too
//!   small costs throughput, one too large gets the process killed.
//! * never below [`MIN_BUDGET`] (one 10 MiB `--max-body` page and its
//!   overhead must fit, or nothing can be crawled), and never above the limit
//!   itself.
//!
//! Where nothing can be read (no `/proc` or `/sys`: macOS, Windows, the
//! browser), the budget is [`DEFAULT_BUDGET`], the documented `--memory`
//! default.
//!
//! Detection is pure: it reads files through [`BudgetSources`], so tests feed
//! it fake cgroup trees; [`FsSources`] reads the real ones. [`BudgetReport`]
//! records what was found and why, and prints it for `--explain`.
//!
//! ```
//! use std::collections::HashMap;
//! use semcrawl_smol::budget::{detect, LimitSource};
//!
//! // A cgroup v2 container limited to 512 MiB, using 12 MiB now.
//! let files: HashMap<&str, String> = HashMap::from([
//!     ("/proc/self/cgroup", "0::/\n".to_string()),
//!     ("/sys/fs/cgroup/memory.max", format!("{}\n", 512u64 << 20)),
//!     ("/proc/self/status", "Name:\tsemcrawl\nVmRSS:\t   12288 kB\n".to_string()),
//!     ("/proc/meminfo", "MemTotal:       16318480 kB\n".to_string()),
//! ]);
//! let report = detect(&files);
//! assert!(matches!(report.source, LimitSource::CgroupV2 { .. }));
//! assert_eq!(report.budget, (512u64 << 20) / 2 - (6 << 20)); // (512 - 12) MiB / 2
//! println!("{report}"); // what `--explain` prints
//! ```

use std::collections::HashMap;
use std::fmt;

use semcrawl_core::format_bytes;

/// Share of the headroom (limit minus baseline) given to the byte gate.
pub const SAFETY_FRACTION: f64 = 0.5;
/// Share of the physical memory taken as the limit when no cgroup sets one.
pub const PHYSICAL_FRACTION: f64 = 0.25;
/// Smallest budget chosen (unless the limit itself is smaller): a 10 MiB
/// page and its overhead must fit.
pub const MIN_BUDGET: u64 = 16 * 1024 * 1024;
/// The budget when no limit and no physical memory size can be read.
pub const DEFAULT_BUDGET: u64 = 256 * 1024 * 1024;
/// cgroup v1 has no "no limit" word: an unlimited group reports a huge
/// number (`9223372036854771712`, `i64::MAX` rounded down to a page).
/// Anything from 2^62 up means none.
pub const V1_UNLIMITED: u64 = 1 << 62;

/// Where the v2 hierarchy is mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Where the v1 memory controller is mounted.
const CGROUP_V1_MEMORY: &str = "/sys/fs/cgroup/memory";

/// The files detection reads, by absolute path.
///
/// Implemented by [`FsSources`] (the real files) and by
/// `HashMap<&str, String>` (for tests and examples).
pub trait BudgetSources {
    /// The contents of the file at `path`, or `None` if it cannot be read.
    fn read(&self, path: &str) -> Option<String>;
}

/// The real files, read with `std::fs`. On targets without them (the
/// browser) every read fails and [`detect`] falls back to [`DEFAULT_BUDGET`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FsSources;

impl BudgetSources for FsSources {
    #[cfg(not(target_arch = "wasm32"))]
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    #[cfg(target_arch = "wasm32")]
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}

impl<S: std::hash::BuildHasher> BudgetSources for HashMap<&str, String, S> {
    fn read(&self, path: &str) -> Option<String> {
        self.get(path).cloned()
    }
}

/// Where the limit came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitSource {
    /// A cgroup v2 `memory.max` (the file that set it).
    CgroupV2 {
        /// The file.
        path: String,
    },
    /// A cgroup v1 `memory.limit_in_bytes`.
    CgroupV1 {
        /// The file.
        path: String,
    },
    /// No cgroup limit: [`PHYSICAL_FRACTION`] of `MemTotal`.
    PhysicalMemory,
    /// Nothing readable: [`DEFAULT_BUDGET`].
    Default,
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitSource::CgroupV2 { path } => write!(f, "cgroup v2 limit ({path})"),
            LimitSource::CgroupV1 { path } => write!(f, "cgroup v1 limit ({path})"),
            LimitSource::PhysicalMemory => write!(
                f,
                "no cgroup limit: {}% of physical memory",
                PHYSICAL_FRACTION * 100.0
            ),
            LimitSource::Default => write!(f, "no limit found"),
        }
    }
}

/// What [`detect`] found, and the budget it chose.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetReport {
    /// Where `limit` came from.
    pub source: LimitSource,
    /// The memory the process may use, in bytes (`None` with [`LimitSource::Default`]).
    pub limit: Option<u64>,
    /// Physical memory (`MemTotal`), if known.
    pub physical: Option<u64>,
    /// The process's resident memory when detecting (`VmRSS`), if known
    /// (0 is then assumed).
    pub baseline: Option<u64>,
    /// The share of the headroom given to the byte gate ([`SAFETY_FRACTION`]).
    pub fraction: f64,
    /// The chosen byte budget.
    pub budget: u64,
    /// What was skipped or adjusted, and why, one line each.
    pub notes: Vec<String>,
}

/// The peak resident set size of this process (`VmHWM`), for summaries:
/// the memory budget is a promise about the process, so it is measured, not
/// only the gate's count.
pub fn peak_rss() -> Option<u64> {
    proc_kb(&FsSources, "/proc/self/status", "VmHWM", &mut Vec::new())
}

/// Find the memory limit and choose a byte budget (see the [module docs](self)).
pub fn detect(sources: &dyn BudgetSources) -> BudgetReport {
    let mut notes = Vec::new();
    let physical = mem_total(sources, &mut notes);
    let baseline = vm_rss(sources, &mut notes);
    let own = own_cgroups(sources);

    let cgroup = cgroup_v2(sources, own.v2.as_deref(), &mut notes)
        .map(|(limit, path)| (limit, LimitSource::CgroupV2 { path }))
        .or_else(|| {
            cgroup_v1(sources, own.v1_memory.as_deref(), &mut notes)
                .map(|(limit, path)| (limit, LimitSource::CgroupV1 { path }))
        });

    let (source, limit) = match (cgroup, physical) {
        (Some((limit, source)), Some(phys)) if limit > phys => {
            notes.push(format!(
                "the cgroup limit ({}) is above the physical memory ({}): using the physical memory",
                format_bytes(limit),
                format_bytes(phys)
            ));
            (source, Some(phys))
        }
        (Some((limit, source)), _) => (source, Some(limit)),
        (None, Some(phys)) => (
            LimitSource::PhysicalMemory,
            Some((phys as f64 * PHYSICAL_FRACTION) as u64),
        ),
        (None, None) => (LimitSource::Default, None),
    };

    let budget = match limit {
        None => {
            notes.push(format!(
                "no memory limit or physical memory size could be read: using the default budget of {}",
                format_bytes(DEFAULT_BUDGET)
            ));
            DEFAULT_BUDGET
        }
        Some(limit) => {
            let used = baseline.unwrap_or(0);
            if used >= limit {
                notes.push(format!(
                    "the process already uses {} of its {} limit",
                    format_bytes(used),
                    format_bytes(limit)
                ));
            }
            let share = (limit.saturating_sub(used) as f64 * SAFETY_FRACTION) as u64;
            if share < MIN_BUDGET {
                let floor = MIN_BUDGET.min(limit);
                notes.push(format!(
                    "the headroom's share ({}) is below the {} floor: using {}, so the process may exceed its limit",
                    format_bytes(share),
                    format_bytes(MIN_BUDGET),
                    format_bytes(floor)
                ));
                floor
            } else {
                share.min(limit)
            }
        }
    };

    BudgetReport {
        source,
        limit,
        physical,
        baseline,
        fraction: SAFETY_FRACTION,
        budget,
        notes,
    }
}

impl fmt::Display for BudgetReport {
    /// Several lines, for `--explain`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_unknown = |v: Option<u64>| v.map_or_else(|| "unknown".to_owned(), format_bytes);
        match (&self.source, self.limit, self.physical) {
            (LimitSource::PhysicalMemory, Some(limit), Some(phys)) => writeln!(
                f,
                "memory limit:    {} ({}% of {} physical memory; no cgroup limit)",
                format_bytes(limit),
                PHYSICAL_FRACTION * 100.0,
                format_bytes(phys)
            )?,
            (source, limit, _) => writeln!(f, "memory limit:    {} ({source})", or_unknown(limit))?,
        }
        writeln!(f, "physical memory: {}", or_unknown(self.physical))?;
        writeln!(
            f,
            "baseline RSS:    {} (the process now, outside the budget)",
            or_unknown(self.baseline)
        )?;
        match self.limit {
            Some(limit) => writeln!(
                f,
                "budget:          {} = ({} - {}) x {} (the rest is for what the gate does not count: fragmentation, HTTP buffers, the frontier)",
                format_bytes(self.budget),
                format_bytes(limit),
                format_bytes(self.baseline.unwrap_or(0)),
                self.fraction
            )?,
            None => writeln!(f, "budget:          {} (default)", format_bytes(self.budget))?,
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// The process's cgroups, from `/proc/self/cgroup`.
#[derive(Debug, Default)]
struct OwnCgroups {
    /// The v2 path (`0::/kubepods/...`).
    v2: Option<String>,
    /// The v1 memory controller's path (`4:memory:/docker/...`).
    v1_memory: Option<String>,
}

fn own_cgroups(sources: &dyn BudgetSources) -> OwnCgroups {
    let mut own = OwnCgroups::default();
    let Some(text) = sources.read("/proc/self/cgroup") else {
        return own;
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            own.v2 = Some(path.trim().to_owned());
        } else if controllers.split(',').any(|c| c == "memory") {
            own.v1_memory = Some(path.trim().to_owned());
        }
    }
    own
}

/// `dir/<cgroup>/file`, then the same for each ancestor of `cgroup`, ending
/// with `dir/file`. Paths are joined without going through `..`.
fn candidates(dir: &str, cgroup: Option<&str>, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = cgroup
        .unwrap_or("/")
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    for n in (1..=parts.len()).rev() {
        out.push(format!("{dir}/{}/{file}", parts[..n].join("/")));
    }
    out.push(format!("{dir}/{file}"));
    out
}

/// The smallest limit among the files that exist, with the file that set it.
fn smallest_limit(
    sources: &dyn BudgetSources,
    paths: &[String],
    parse: impl Fn(&str) -> Result<Option<u64>, ()>,
    notes: &mut Vec<String>,
) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for path in paths {
        let Some(text) = sources.read(path) else {
            continue;
        };
        match parse(text.trim()) {
            Ok(Some(limit)) if best.as_ref().is_none_or(|(b, _)| limit < *b) => {
                best = Some((limit, path.clone()));
            }
            Ok(_) => {}
            Err(()) => notes.push(format!(
                "{path}: could not read a limit from '{}'; ignored",
                excerpt(&text)
            )),
        }
    }
    best
}

fn cgroup_v2(
    sources: &dyn BudgetSources,
    own: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<(u64, String)> {
    let paths = candidates(CGROUP_ROOT, own, "memory.max");
    let found = smallest_limit(
        sources,
        &paths,
        |t| {
            if t == "max" {
                Ok(None)
            } else {
                t.parse().map(Some).map_err(|_| ())
            }
        },
        notes,
    );
    let says_max = |p: &String| sources.read(p).is_some_and(|t| t.trim() == "max");
    if found.is_none() && paths.iter().any(says_max) {
        notes.push("cgroup v2: memory.max is 'max' (no limit)".to_owned());
    }
    found
}

fn cgroup_v1(
    sources: &dyn BudgetSources,
    own: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<(u64, String)> {
    let mut paths = candidates(CGROUP_V1_MEMORY, own, "memory.limit_in_bytes");
    // Some setups mount the memory controller alone at the root.
    paths.push(format!("{CGROUP_ROOT}/memory.limit_in_bytes"));
    let found = smallest_limit(
        sources,
        &paths,
        |t| {
            let v: u64 = t.parse().map_err(|_| ())?;
            Ok((v < V1_UNLIMITED).then_some(v))
        },
        notes,
    );
    let unlimited = |p: &String| {
        sources
            .read(p)
            .and_then(|t| t.trim().parse::<u64>().ok())
            .is_some_and(|v| v >= V1_UNLIMITED)
    };
    if found.is_none() && paths.iter().any(unlimited) {
        notes.push("cgroup v1: memory.limit_in_bytes is unlimited".to_owned());
    }
    found
}

/// A `Key:   123 kB` line of a `/proc` file, in bytes.
fn proc_kb(
    sources: &dyn BudgetSources,
    path: &str,
    key: &str,
    notes: &mut Vec<String>,
) -> Option<u64> {
    let text = sources.read(path)?;
    let value = text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let n: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => n.checked_mul(1024),
            None => Some(n),
            Some(_) => None,
        }
    });
    if value.is_none() {
        notes.push(format!("{path}: no readable {key} line; ignored"));
    }
    value
}

fn mem_total(sources: &dyn BudgetSources, notes: &mut Vec<String>) -> Option<u64> {
    proc_kb(sources, "/proc/meminfo", "MemTotal", notes).filter(|&v| v > 0)
}

fn vm_rss(sources: &dyn BudgetSources, notes: &mut Vec<String>) -> Option<u64> {
    proc_kb(sources, "/proc/self/status", "VmRSS", notes)
}

/// The start of a file, on one line, for a note.
fn excerpt(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    let mut out: String = line.chars().take(40).collect();
    if out.len() < line.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;

    fn files(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    const MEMINFO_16G: &str =
        "MemTotal:       16777216 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n";
    const STATUS_10M: &str =
        "Name:\tsemcrawl\nVmPeak:\t   20000 kB\nVmRSS:\t   10240 kB\nThreads:\t4\n";

    #[test]
    fn cgroup_v2_limit() {
        let f = files(&[
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "536870912\n"),
            ("/proc/meminfo", MEMINFO_16G),
            ("/proc/self/status", STATUS_10M),
        ]);
        let r = detect(&f);
        assert_eq!(
            r.source,
            LimitSource::CgroupV2 {
                path: "/sys/fs/cgroup/memory.max".into()
            }
        );
        assert_eq!(r.limit, Some(512 * MIB));
        assert_eq!(r.baseline, Some(10 * MIB));
        assert_eq!(r.physical, Some(16 * GIB));
        assert_eq!(r.budget, 251 * MIB);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let text = r.to_string();
        assert!(
            text.contains("512.0 MiB (cgroup v2 limit (/sys/fs/cgroup/memory.max))"),
            "{text}"
        );
        assert!(
            text.contains("251.0 MiB = (512.0 MiB - 10.0 MiB) x 0.5"),
            "{text}"
        );
        assert!(text.lines().count() >= 4);
    }

    #[test]
    fn cgroup_v2_max_falls_back_to_physical_memory() {
        let f = files(&[
            ("/proc/self/cgroup", "0::/user.slice/session-1.scope\n"),
            ("/sys/fs/cgroup/memory.max", "max\n"),
            ("/sys/fs/cgroup/user.slice/memory.max", "max\n"),
            ("/proc/meminfo", MEMINFO_16G),
            ("/proc/self/status", STATUS_10M),
        ]);
        let r = detect(&f);
        assert_eq!(r.source, LimitSource::PhysicalMemory);
        assert_eq!(r.limit, Some(4 * GIB));
        assert_eq!(r.budget, (4 * GIB - 10 * MIB) / 2);
        assert!(r.notes.iter().any(|n| n.contains("'max'")), "{:?}", r.notes);
        let text = r.to_string();
        assert!(text.contains("25% of 16.0 GiB physical memory"), "{text}");
    }

    #[test]
    fn nested_cgroup_takes_the_smallest_limit_on_its_path() {
        let f = files(&[
            ("/proc/self/cgroup", "0::/kubepods/burstable/pod42/ctr\n"),
            // The pod sets 1 GiB, the container 400 MiB, the node nothing.
            (
                "/sys/fs/cgroup/kubepods/burstable/pod42/ctr/memory.max",
                "419430400",
            ),
            (
                "/sys/fs/cgroup/kubepods/burstable/pod42/memory.max",
                "1073741824",
            ),
            ("/sys/fs/cgroup/kubepods/burstable/memory.max", "max"),
            ("/proc/meminfo", MEMINFO_16G),
            ("/proc/self/status", STATUS_10M),
        ]);
        let r = detect(&f);
        assert_eq!(r.limit, Some(400 * MIB));
        assert_eq!(
            r.source,
            LimitSource::CgroupV2 {
                path: "/sys/fs/cgroup/kubepods/burstable/pod42/ctr/memory.max".into()
            }
        );
        assert_eq!(r.budget, 195 * MIB);

        // Only the pod level is visible: it still applies.
        let f = files(&[
            ("/proc/self/cgroup", "0::/kubepods/pod42/ctr\n"),
            ("/sys/fs/cgroup/kubepods/pod42/memory.max", "1073741824"),
        ]);
        assert_eq!(detect(&f).limit, Some(GIB));

        // A namespaced container sees "/" and its own limit at the root.
        let f = files(&[
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "1073741824"),
        ]);
        assert_eq!(detect(&f).limit, Some(GIB));
    }

    #[test]
    fn cgroup_v1_limit() {
        let f = files(&[
            (
                "/proc/self/cgroup",
                "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n",
            ),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "268435456\n"),
            ("/proc/meminfo", MEMINFO_16G),
            ("/proc/self/status", STATUS_10M),
        ]);
        let r = detect(&f);
        assert_eq!(
            r.source,
            LimitSource::CgroupV1 {
                path: "/sys/fs/cgroup/memory/memory.limit_in_bytes".into()
            }
        );
        assert_eq!(r.budget, 123 * MIB);

        // The group's own directory, when the whole hierarchy is visible.
        let f = files(&[
            ("/proc/self/cgroup", "4:memory:/docker/abc\n"),
            (
                "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                "134217728",
            ),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712",
            ),
        ]);
        assert_eq!(detect(&f).limit, Some(128 * MIB));
    }

    #[test]
    fn cgroup_v1_unlimited_sentinel_falls_back() {
        for sentinel in ["9223372036854771712", "9223372036854775807"] {
            let f = files(&[
                ("/proc/self/cgroup", "4:memory:/\n"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", sentinel),
                ("/proc/meminfo", MEMINFO_16G),
            ]);
            let r = detect(&f);
            assert_eq!(r.source, LimitSource::PhysicalMemory);
            assert_eq!(r.limit, Some(4 * GIB));
            assert_eq!(r.baseline, None);
            assert_eq!(r.budget, 2 * GIB);
            assert!(
                r.notes.iter().any(|n| n.contains("unlimited")),
                "{:?}",
                r.notes
            );
        }
    }

    #[test]
    fn garbage_is_ignored_with_a_note() {
        let f = files(&[
            ("/proc/self/cgroup", "garbage without colons\n"),
            ("/sys/fs/cgroup/memory.max", "lots of memory\n"),
            ("/proc/meminfo", "MemTotal: many\n"),
            ("/proc/self/status", "VmRSS: 12 parsecs\n"),
        ]);
        let r = detect(&f);
        assert_eq!(r.source, LimitSource::Default);
        assert_eq!(r.budget, DEFAULT_BUDGET);
        let notes = r.notes.join("\n");
        assert!(
            notes.contains(
                "/sys/fs/cgroup/memory.max: could not read a limit from 'lots of memory'"
            ),
            "{notes}"
        );
        assert!(
            notes.contains("/proc/meminfo: no readable MemTotal line"),
            "{notes}"
        );
        assert!(
            notes.contains("/proc/self/status: no readable VmRSS line"),
            "{notes}"
        );
        assert!(notes.contains("default budget"), "{notes}");
        let text = r.to_string();
        assert!(
            text.contains("memory limit:    unknown (no limit found)"),
            "{text}"
        );
        assert!(text.contains("note: /sys/fs/cgroup/memory.max"), "{text}");

        // Garbage in the cgroup file, but meminfo is fine: physical fallback.
        let f = files(&[
            ("/sys/fs/cgroup/memory.max", "-1"),
            ("/proc/meminfo", MEMINFO_16G),
        ]);
        let r = detect(&f);
        assert_eq!(r.source, LimitSource::PhysicalMemory);
        assert!(r.notes[0].contains("'-1'"), "{:?}", r.notes);
    }

    #[test]
    fn nothing_readable_gives_the_default() {
        let r = detect(&HashMap::<&str, String>::new());
        assert_eq!(r.source, LimitSource::Default);
        assert_eq!((r.limit, r.physical, r.baseline), (None, None, None));
        assert_eq!(r.budget, DEFAULT_BUDGET);
    }

    #[test]
    fn budget_stays_between_the_floor_and_the_limit() {
        // 40 MiB limit, 30 MiB used: half of 10 MiB is below the floor.
        let f = files(&[
            ("/sys/fs/cgroup/memory.max", "41943040"),
            ("/proc/self/status", "VmRSS: 30720 kB"),
        ]);
        let r = detect(&f);
        assert_eq!(r.budget, MIN_BUDGET);
        assert!(r.notes.iter().any(|n| n.contains("floor")), "{:?}", r.notes);

        // A limit below the floor: never above the limit.
        let f = files(&[("/sys/fs/cgroup/memory.max", "8388608")]);
        assert_eq!(detect(&f).budget, 8 * MIB);

        // Already over the limit.
        let f = files(&[
            ("/sys/fs/cgroup/memory.max", "67108864"),
            ("/proc/self/status", "VmRSS: 131072 kB"),
        ]);
        let r = detect(&f);
        assert_eq!(r.budget, MIN_BUDGET);
        assert!(
            r.notes.iter().any(|n| n.contains("already uses")),
            "{:?}",
            r.notes
        );

        // Property: for any limit and baseline, floor <= budget <= limit
        // (or the limit, when it is below the floor).
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let limit = x % (64 * GIB) + 1;
            let rss = (x >> 20) % (2 * limit);
            let f: HashMap<&str, String> = HashMap::from([
                ("/sys/fs/cgroup/memory.max", limit.to_string()),
                ("/proc/self/status", format!("VmRSS: {} kB", rss / 1024)),
            ]);
            let b = detect(&f).budget;
            assert!(
                b <= limit && b >= MIN_BUDGET.min(limit),
                "{limit} {rss} {b}"
            );
            assert!(b <= limit / 2 || b == MIN_BUDGET.min(limit));
        }
    }

    #[test]
    fn a_cgroup_limit_above_physical_memory_is_capped() {
        let f = files(&[
            ("/sys/fs/cgroup/memory.max", "137438953472"), // 128 GiB
            ("/proc/meminfo", MEMINFO_16G),
        ]);
        let r = detect(&f);
        assert_eq!(r.limit, Some(16 * GIB));
        assert!(matches!(r.source, LimitSource::CgroupV2 { .. }));
        assert!(
            r.notes[0].contains("above the physical memory"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn candidate_paths() {
        assert_eq!(
            candidates("/r", Some("/a/b"), "f"),
            ["/r/a/b/f", "/r/a/f", "/r/f"]
        );
        assert_eq!(candidates("/r", Some("/"), "f"), ["/r/f"]);
        assert_eq!(candidates("/r", None, "f"), ["/r/f"]);
        assert_eq!(candidates("/r", Some("/../x"), "f"), ["/r/x/f", "/r/f"]);
    }

    #[test]
    fn real_files_do_not_panic() {
        let r = detect(&FsSources);
        assert!(r.budget > 0);
        assert!(!r.to_string().is_empty());
    }
}
