//! `semcrawl`: the command-line front door.
//!
//! `main` only parses arguments and maps outcomes to exit codes; the work is
//! in [`crawl`] (one crawl, with progress, Ctrl-C and the summary) and
//! [`demo`] (the same crawl against a generated site on 127.0.0.1).
#![forbid(unsafe_code)]

mod args;
mod crawl;
mod demo;
mod progress;
mod summary;

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::Crawl(args) => crawl::crawl_command(args),
        Command::Demo(args) => demo::demo_command(args),
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
