//! # semcrawl-cli
//!
//! The command-line front end of semcrawl (the `semcrawl` binary), and
//! [`site`]: a generated web site with a real HTTP/1.1 server, used by
//! `semcrawl demo`, the end-to-end tests and the benchmarks.
#![forbid(unsafe_code)]

pub mod site;
