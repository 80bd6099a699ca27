//! `semcrawl completions SHELL` and `semcrawl man`: the shell completion
//! script and the man page, generated from the same clap definition as
//! `--help`, so neither can drift from the options the binary takes.
//!
//! Packagers run them at build time (`semcrawl man > semcrawl.1`,
//! `semcrawl completions bash > /usr/share/bash-completion/completions/semcrawl`);
//! users can `source <(semcrawl completions bash)`.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::args::{Cli, Shell};

/// Write the completion script for `shell` to `w`.
pub fn completions(shell: Shell, w: &mut dyn Write) {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "semcrawl", w);
}

/// Write the man page, semcrawl(1), to `w`: the program's description and
/// commands, then `semcrawl crawl`'s synopsis, options and notes (memory
/// model, output formats, exit status), which are the manual proper.
pub fn man(w: &mut dyn Write) -> io::Result<()> {
    let cmd = Cli::command();
    let top = Man::new(cmd.clone());
    top.render_title(w)?;
    top.render_name_section(w)?;
    top.render_description_section(w)?;
    // clap_mangen would refer to semcrawl-crawl(1) and so on, pages that do
    // not exist: the commands are listed here and `crawl` documented below.
    let mut commands = Roff::default();
    commands.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        commands.control("TP", [] as [&str; 0]);
        commands.text([bold(format!("semcrawl {}", sub.get_name()))]);
        commands.text([roman(
            sub.get_about().map(|a| a.to_string()).unwrap_or_default(),
        )]);
    }
    commands.to_writer(w)?;

    let crawl = cmd
        .find_subcommand("crawl")
        .expect("the crawl subcommand")
        .clone()
        .name("semcrawl crawl");
    let crawl_page = Man::new(crawl.clone());
    let mut section = Vec::new();
    crawl_page.render_synopsis_section(&mut section)?;
    crawl_page.render_options_section(&mut section)?;
    // "SYNOPSIS"/"OPTIONS" name the crawl command's here.
    let section = String::from_utf8_lossy(&section)
        .replace(".SH SYNOPSIS", ".SH \"CRAWL SYNOPSIS\"")
        .replace(".SH OPTIONS", ".SH \"CRAWL OPTIONS\"");
    w.write_all(section.as_bytes())?;

    // The notes after `crawl --help`, kept as laid out (no refilling).
    if let Some(notes) = crawl.get_after_long_help() {
        let mut roff = Roff::default();
        roff.control("SH", ["NOTES"]);
        roff.control("nf", [] as [&str; 0]);
        for line in notes.to_string().lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", [] as [&str; 0]);
        roff.to_writer(w)?;
    }
    top.render_version_section(w)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_name_the_crawl_options() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in ["crawl", "input-file", "format", "memory"] {
                assert!(text.contains(word), "{shell:?} completions lack {word}");
            }
        }
    }

    #[test]
    fn the_man_page_has_the_crawl_options_and_exit_status() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH semcrawl 1"),
            "{text:.300}"
        );
        for word in [
            "CRAWL OPTIONS",
            "\\-\\-input\\-file",
            "\\-\\-concurrency",
            "EXIT STATUS",
        ] {
            assert!(text.contains(word), "the man page lacks {word}");
        }
    }
}
