//! `semcrawl`: the command-line front door.
//!
//! `main` only parses arguments and maps outcomes to exit codes; the work is
//! in [`crawl`] (one crawl, with progress, Ctrl-C and the summary) and
//! [`demo`] (the same crawl against a generated site on 127.0.0.1).
// One audited exception: `malloc_tuning::return_large_buffers` (see there).
#![deny(unsafe_code)]

mod args;
mod crawl;
mod demo;
mod logging;
mod manual;
mod progress;
mod seeds;
mod summary;
mod values;

/// glibc allocator tuning, measured on the `big` benchmark site.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod malloc_tuning {
    /// Serve allocations of 128 KiB and more (page bodies) with their own
    /// mappings, returned to the system when freed.
    ///
    /// glibc raises its mmap threshold after the first large block is freed,
    /// so later 1 MiB bodies come from the heap, whose freed memory stays in
    /// the process, beyond what the byte gate counts (the figures:
    /// `docs/bench/constants.md`). Pinning it also turns off the dynamic
    /// raise.
    #[allow(unsafe_code)]
    pub fn return_large_buffers() {
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        // SAFETY: mallopt only changes allocator parameters; called once at
        // start, before any other thread exists.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// How a command can fail, and the exit code each failure gets.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage: a bad option, URL, or output path. Exit code 2.
    Usage(String),
    /// The crawl ran but could not finish its job (the store failed). Exit code 1.
    Runtime(String),
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    malloc_tuning::return_large_buffers();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::Crawl(args) => crawl::crawl_command(args),
        Command::Demo(args) => demo::demo_command(args),
        Command::Status(args) => status_command(args),
        Command::Completions(args) => {
            let mut text = Vec::new();
            manual::completions(args.shell, &mut text);
            print_all(&text, "the completion script")
        }
        Command::Man => {
            let mut text = Vec::new();
            manual::man(&mut text)
                .map_err(|e| Failure::Runtime(format!("cannot render the man page: {e}")))
                .and_then(|()| print_all(&text, "the man page"))
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("semcrawl: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("semcrawl: error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `semcrawl status`: the figures of a shared crawl, as text or JSON.
fn status_command(args: args::StatusArgs) -> Result<ExitCode, Failure> {
    use semcrawl_smol::redis::{status, Address, RedisError};
    let address =
        Address::parse(&args.state).map_err(|e| Failure::Usage(format!("--state {e}")))?;
    let figures = status(&address, &args.name).map_err(|e| {
        let msg = format!("--state {}: {e}", args.state);
        match e {
            RedisError::Unreachable(_) => Failure::Usage(msg),
            _ => Failure::Runtime(msg),
        }
    })?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&figures)
            .map_err(|e| Failure::Runtime(format!("cannot render the status: {e}")))?;
        json.push('\n');
        json
    } else {
        figures.to_string()
    };
    print_all(text.as_bytes(), "the status")
}

/// Write `text` to stdout; a reader that stops early (`| head`) is no error.
fn print_all(text: &[u8], what: &str) -> Result<ExitCode, Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::Runtime(format!("cannot write {what}: {e}"))),
    }
}

/// Print clap's message on one line (help and version as they are).
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(
                if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                },
            )
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim()
                .trim_start_matches("error: ");
            eprintln!("semcrawl: error: {first} (see 'semcrawl --help')");
            ExitCode::from(2)
        }
    }
}
