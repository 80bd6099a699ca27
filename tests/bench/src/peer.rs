//! The peers: the Python reference (`tests/bench/crawler.py`, the seed
//! article's recipe) and its virtualenv; and the spider-rs program
//! (`tests/bench/peers/spider`), run only when built.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A ready-to-run peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub python: PathBuf,
    pub script: PathBuf,
    /// `python --version` + the pinned packages, for the report.
    pub describe: String,
}

impl Peer {
    /// The command line of one crawl.
    pub fn argv(&self, url: &str, concurrency: usize, out: &Path) -> Vec<String> {
        vec![
            self.python.display().to_string(),
            self.script.display().to_string(),
            url.to_owned(),
            "--concurrency".into(),
            concurrency.to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    }
}

/// The command line of one crawl by the spider-rs peer at `program`.
pub fn spider_argv(program: &Path, url: &str, concurrency: usize, out: &Path) -> Vec<String> {
    vec![
        program.display().to_string(),
        url.to_owned(),
        "--concurrency".into(),
        concurrency.to_string(),
        "--out".into(),
        out.display().to_string(),
    ]
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// Create `venv` (with `python3 -m venv`) and install the pinned
/// requirements from PyPI into it, unless a previous run already did with
/// the same requirements file.
pub fn setup(workspace: &Path, venv: &Path) -> Result<Peer, String> {
    let dir = workspace.join("tests/bench");
    let requirements = dir.join("requirements.txt");
    let script = dir.join("crawler.py");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let python = venv.join("bin/python");
    let stamp = venv.join("bench-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        eprintln!("bench: installing the Python peer into {}", venv.display());
        if !python.exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        }
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements))?;
        std::fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    let version = run(Command::new(&python).arg("--version"))?;
    let pins: Vec<&str> = wanted
        .lines()
        .filter(|l| l.starts_with("aiohttp==") || l.starts_with("lxml=="))
        .collect();
    Ok(Peer {
        python,
        script,
        describe: format!("{} + {}", version.trim(), pins.join(" + ")),
    })
}
