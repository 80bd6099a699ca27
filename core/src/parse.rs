//! HTML parsing. (STUB: to be implemented.)
use std::collections::BTreeMap;
use url::Url;

use crate::config::{ConfigError, FieldSpec};

/// What the crawler keeps of a page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedPage {
    /// `<title>`.
    pub title: Option<String>,
    /// `<meta name=description>`.
    pub description: Option<String>,
    /// `<html lang>`.
    pub lang: Option<String>,
    /// `<link rel=canonical>`, absolute.
    pub canonical: Option<Url>,
    /// Crawlable links, canonical, deduplicated, in document order.
    pub links: Vec<Url>,
    /// `--select` fields.
    pub fields: BTreeMap<String, Option<String>>,
    /// Visible text (only if asked).
    pub text: Option<String>,
}

/// Compiled extraction options, built once per crawl.
#[derive(Debug, Clone)]
pub struct Extractor {}

/// Estimated peak parse memory per decoded body byte.
pub const PARSE_COST_RATIO: u64 = 8;

impl Extractor {
    /// Compile field selectors.
    pub fn new(fields: &[FieldSpec], text: bool) -> Result<Self, ConfigError> {
        let _ = (fields, text);
        todo!()
    }
    /// Parse a body fetched from `url`. Never panics on hostile input.
    pub fn parse(&self, body: &[u8], content_type: Option<&str>, url: &Url) -> ParsedPage {
        let _ = (body, content_type, url);
        todo!()
    }
}

/// Whether a response should be parsed as HTML.
pub fn is_html(content_type: Option<&str>, body_prefix: &[u8]) -> bool {
    let _ = (content_type, body_prefix);
    todo!()
}
