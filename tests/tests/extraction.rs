//! (f) `--select`, `--text` and `--links` on the known page.

use std::collections::BTreeMap;
use std::time::Duration;

use semcrawl_site::{Site, SiteServer, SiteSpec, KNOWN_PAGE};
use semcrawl_tests::{crawl_to_jsonl, error_kind, TempDir};
use serde_json::Value;

#[test]
fn select_text_and_links_on_the_known_page() {
    let server = SiteServer::start(Site::new(SiteSpec::plain(10, 2048)), 1).unwrap();
    let seed = server.url(KNOWN_PAGE.path);
    let dir = TempDir::new("extraction");
    let mut flags = vec!["--max-depth", "0", "--text", "--links"];
    for (arg, _, _) in KNOWN_PAGE.selects {
        flags.extend(["--select", arg]);
    }
    let (_, records, _) = crawl_to_jsonl(&dir, &seed, &flags, Duration::from_secs(60));
    assert_eq!(
        records.len(),
        1,
        "--max-depth 0 stores the seed only: {records:#?}"
    );
    let rec = &records[0];
    assert_eq!(rec["url"], seed);
    assert_eq!(error_kind(rec), None, "{rec}");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["depth"], 0);
    assert_eq!(rec["title"], KNOWN_PAGE.title);
    assert_eq!(rec["description"], KNOWN_PAGE.description);
    assert_eq!(rec["lang"], KNOWN_PAGE.lang);

    let want: BTreeMap<String, Value> = KNOWN_PAGE
        .selects
        .iter()
        .map(|(_, name, v)| (name.to_string(), v.map_or(Value::Null, Value::from)))
        .collect();
    let fields: BTreeMap<String, Value> =
        serde_json::from_value(rec["fields"].clone()).expect("fields is an object");
    assert_eq!(fields, want);

    let text = rec["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {rec}"));
    for s in KNOWN_PAGE.text_contains {
        assert!(text.contains(s), "text lacks {s:?}: {text}");
    }
    for s in KNOWN_PAGE.text_excludes {
        assert!(!text.contains(s), "text contains {s:?}: {text}");
    }

    let links: Vec<String> = KNOWN_PAGE.links.iter().map(|p| server.url(p)).collect();
    assert_eq!(rec["links"], serde_json::json!(links));
    assert_eq!(rec["links_count"], links.len());

    // Without the flags, no text and no links in the record.
    let dir = TempDir::new("extraction-plain");
    let (_, records, _) =
        crawl_to_jsonl(&dir, &seed, &["--max-depth", "0"], Duration::from_secs(60));
    assert_eq!(records.len(), 1);
    let rec = records[0].as_object().unwrap();
    assert!(
        !rec.contains_key("text") || rec["text"].is_null(),
        "{rec:?}"
    );
    assert!(
        !rec.contains_key("links") || rec["links"].is_null(),
        "{rec:?}"
    );
    assert_eq!(rec["links_count"], links.len());
    assert_eq!(rec["fields"], serde_json::json!({}));
}
