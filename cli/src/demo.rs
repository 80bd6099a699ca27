//! `semcrawl demo`: the main job, offline.
//!
//! Starts the generated sample site (with every trap a real crawl meets:
//! redirects and loops, robots.txt, off-site links, a gzip bomb, an endless
//! body, bad encodings, ...) on 127.0.0.1, crawls it with exactly the
//! machinery of `semcrawl crawl`, and checks the records against what a
//! correct crawl of that site stores.

use std::collections::BTreeSet;
use std::process::ExitCode;

use semcrawl_site::{ExpectOptions, Site, SiteServer, SiteSpec};

use crate::args::DemoArgs;
use semcrawl_smol::store::OutputSpec;

use crate::{crawl, Failure};

/// `semcrawl demo`.
pub fn demo_command(args: DemoArgs) -> Result<ExitCode, Failure> {
    let spec = SiteSpec {
        pages: args.pages.max(1),
        ..SiteSpec::trap_site()
    };
    let site = Site::new(spec);
    let server = SiteServer::start(site.clone(), 1)
        .map_err(|e| Failure::Runtime(format!("cannot start the demo site: {e}")))?;
    let base = server.base_url();
    let config = args
        .crawl
        .to_config(vec![base.clone()])
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let expected = site.expected(
        &base,
        &ExpectOptions {
            scope: config.scope,
            obey_robots: config.obey_robots,
            max_body: config.max_body,
            timeout: config.timeout,
            max_depth: config.max_depth,
            ..ExpectOptions::default()
        },
    );
    if args.crawl.explain {
        print!("{}", crawl::explain(&args.crawl, &config));
        return Ok(ExitCode::SUCCESS);
    }
    let fields: Vec<String> = config.fields.iter().map(|f| f.name.clone()).collect();
    let spec = OutputSpec {
        out: Some(&args.out),
        fields: &fields,
        ..Default::default()
    };
    let store = crawl::open_outputs(&spec, &Default::default())?;
    if !args.crawl.quiet {
        eprintln!(
            "semcrawl demo: crawling the generated site at {base} into {}",
            args.out
        );
    }
    let code = crawl::run(config.clone(), store, &args.crawl)?;
    if args.out != "-"
        && config.max_pages.is_none()
        && !args.crawl.quiet
        && code == ExitCode::SUCCESS
    {
        report(&args.out, &expected.urls());
    }
    drop(server);
    Ok(code)
}

/// Compare the stored URLs with the expected ones, for the curious.
fn report(out: &str, expected: &BTreeSet<String>) {
    let Ok(text) = std::fs::read_to_string(out) else {
        return;
    };
    let got: BTreeSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned))
        .collect();
    if got == *expected {
        eprintln!(
            "semcrawl demo: all {} expected URLs stored once each; records are in {out}",
            expected.len()
        );
    } else {
        let missing = expected.difference(&got).count();
        let extra = got.difference(expected).count();
        eprintln!("semcrawl demo: {missing} expected URLs missing, {extra} unexpected; records are in {out}");
    }
}
