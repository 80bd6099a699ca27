//! Serve the blog site of `semcrawl_site::blog` and run one command
//! against it, then print what the crawl cost the server.
//!
//! ```text
//! cargo run -p semcrawl-site --example blog -- semcrawl crawl -q -o out.jsonl '{seed}'
//! ```
//!
//! `{seed}` in the arguments becomes the site's home URL. The last line on
//! standard output is `requests N bytes M`: requests the server answered
//! and body bytes it wrote. Used for the figures in docs/bench/controls.md.
use std::process::Command;

fn main() {
    let server = semcrawl_site::blog::BlogServer::start().expect("start the blog server");
    let seed = server.url("/");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: blog PROGRAM ARGS... ('{{seed}}' becomes {seed})");
        std::process::exit(2);
    }
    for a in &mut args {
        *a = a.replace("{seed}", &seed);
    }
    let status = Command::new(&args[0])
        .args(&args[1..])
        .status()
        .expect("run the command");
    println!(
        "requests {} bytes {}",
        server.total_requests(),
        server.bytes_sent()
    );
    std::process::exit(status.code().unwrap_or(1));
}
