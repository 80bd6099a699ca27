//! The TypeScript declarations in `src/api.rs` name every field the JS API
//! actually hands over: a field added to the core's `Summary`, `Progress` or
//! `Record` without its declaration fails here, on the host, without a
//! browser (`cargo test -p semcrawl-wasm --test types`).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use semcrawl_core::Progress;
use semcrawl_core::{Record, Summary};
use serde::Serialize;

/// The field names of `interface NAME { ... }` in the declarations.
fn declared(name: &str) -> BTreeSet<String> {
    let source = include_str!("../src/api.rs");
    let start = source
        .find(&format!("export interface {name} {{"))
        .unwrap_or_else(|| panic!("no interface {name} in src/api.rs"));
    let body = &source[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("/**") && !l.starts_with('*') && !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, _)| k.trim_end_matches('?').to_owned())
        })
        .collect()
}

/// The keys `value` serializes to (as `serde-wasm-bindgen` hands them to JS).
fn serialized(value: &impl Serialize) -> BTreeSet<String> {
    serde_json::to_value(value)
        .unwrap()
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn crawl_summary_declares_every_summary_field() {
    assert_eq!(declared("CrawlSummary"), serialized(&Summary::default()));
}

#[test]
fn crawl_progress_declares_every_progress_field() {
    assert_eq!(declared("CrawlProgress"), serialized(&Progress::default()));
}

#[test]
fn crawl_record_declares_every_record_field() {
    let mut record = Record::new("https://example.com/", 0, None);
    // The optional ones are only serialized when present.
    record.links = Some(Vec::new());
    record.text = Some(String::new());
    // Written only when true.
    record.noindex = true;
    assert_eq!(declared("CrawlRecord"), serialized(&record));
}
