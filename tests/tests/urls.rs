//! Which URLs a crawl takes, end to end: include/exclude patterns,
//! nofollow and noindex, sitemaps (an index, a gzipped child, orphan
//! pages, a sitemap seed), and content types (binaries skipped by their
//! extension, a non-HTML response recorded from its head). Every test runs
//! the real binary against the blog site of `semcrawl_site::blog` on
//! 127.0.0.1, and checks both the records and what the server saw.

use std::collections::BTreeSet;
use std::time::Duration;

use semcrawl_site::blog::{
    self, BlogServer, BINARIES, DOWNLOAD, FACET_URLS, IMAGES, NOFOLLOW_TARGETS, ORPHANS, SITEMAPS,
    UGC_ONLY,
};
use semcrawl_tests::{by_url, crawl_to_jsonl, run, summary_u64, TempDir, QUIET};
use serde_json::Value;

const T: Duration = Duration::from_secs(180);

/// The paths (with query) of the records, relative to the server.
fn paths(server: &BlogServer, records: &[Value]) -> BTreeSet<String> {
    let origin = server.url("");
    records
        .iter()
        .map(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .trim_start_matches(&origin)
                .to_owned()
        })
        .collect()
}

const NO_FACETS: &str = "[?&](color|size|sort|page|ref)=";

#[test]
fn exclude_keeps_facets_and_ref_duplicates_out_and_sitemaps_find_orphans() {
    let server = BlogServer::start().unwrap();
    let dir = TempDir::new("urls-exclude");
    let (_, records, summary) =
        crawl_to_jsonl(&dir, &server.url("/"), &["--exclude", NO_FACETS], T);
    let got = paths(&server, &records);
    let mut want: BTreeSet<String> = blog::content_paths().into_iter().collect();
    want.extend(SITEMAPS.iter().map(|s| s.to_string()));
    assert_eq!(
        got.symmetric_difference(&want).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "records differ from the site's content"
    );
    // Not one facet or ?ref= URL was requested.
    let requested = server.requests();
    let facets: Vec<_> = requested.keys().filter(|t| t.contains('?')).collect();
    assert!(facets.is_empty(), "requested {facets:?}");
    // Orphans come from the gzipped child of the sitemap index.
    for n in 1..=ORPHANS {
        let r = &by_url(&records)[&server.url(&format!("/orphan/{n}.html"))];
        assert_eq!(r["depth"], 1, "{r}");
        assert_eq!(
            r["parent"].as_str(),
            Some(server.url("/sitemap-pages.xml.gz").as_str())
        );
    }
    let index = &by_url(&records)[&server.url("/sitemap_index.xml")];
    assert_eq!(index["depth"], 0);
    assert_eq!(
        index["parent"].as_str(),
        Some(server.url("/robots.txt").as_str())
    );
    assert_eq!(index["links_count"], 2);
    assert_eq!(summary_u64(&summary, "sitemaps"), 3);
    assert_eq!(
        summary_u64(&summary, "sitemapUrls"),
        (blog::POSTS + ORPHANS + 1) as u64
    );
    assert!(summary_u64(&summary, "filtered") > 0);
    // Each URL requested once (robots.txt and sitemaps included).
    let twice: Vec<_> = requested.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "requested more than once: {twice:?}");
}

#[test]
fn without_patterns_the_facets_are_crawled_and_include_narrows() {
    let server = BlogServer::start().unwrap();
    let dir = TempDir::new("urls-facets");
    let (_, records, _) = crawl_to_jsonl(&dir, &server.url("/"), &["--no-sitemaps"], T);
    let got = paths(&server, &records);
    let facets = got.iter().filter(|p| p.starts_with("/shop/?")).count();
    // Every facet URL (canonical, so in any parameter order once), and the
    // shop's ?ref= duplicates (one from each item).
    assert_eq!(facets, FACET_URLS + blog::ITEMS, "{got:#?}");
    assert!(got.contains("/blog/post-1.html?ref=home"));
    assert!(!got.iter().any(|p| p.starts_with("/orphan/")));
    assert!(!got.iter().any(|p| p.starts_with("/sitemap")));

    // --include: only the blog (and the seed, always fetched).
    let dir = TempDir::new("urls-include");
    let server = BlogServer::start().unwrap();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/"),
        &[
            "--include",
            "/blog/",
            "--exclude",
            "[?&]ref=",
            "--no-sitemaps",
        ],
        T,
    );
    let got = paths(&server, &records);
    let mut want: BTreeSet<String> = ["/".to_string(), "/blog/".into()].into();
    want.extend((2..=blog::LISTING_PAGES).map(|n| format!("/blog/page/{n}")));
    want.extend((1..=blog::POSTS).map(|n| format!("/blog/post-{n}.html")));
    assert_eq!(got, want);
}

#[test]
fn an_invalid_pattern_is_one_line_and_exit_2() {
    for (flag, bad, says) in [
        ("--include", "(", "invalid --include '(': unclosed group"),
        ("--exclude", "a{2,1}", "invalid --exclude 'a{2,1}': "),
        (
            "--accept-type",
            "pdf",
            "invalid --accept-type 'pdf': expected a MIME type",
        ),
    ] {
        let mut args: Vec<&str> = vec!["crawl"];
        args.extend(QUIET);
        args.extend([flag, bad, "http://127.0.0.1:9/"]);
        let done = run(&args, T);
        done.assert_code(2);
        let lines: Vec<&str> = done
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{:?}", done.stderr);
        assert!(lines[0].contains(says), "{:?}", lines[0]);
    }
}

#[test]
fn nofollow_is_honoured_in_every_form_and_noindex_recorded() {
    let server = BlogServer::start().unwrap();
    let dir = TempDir::new("urls-nofollow");
    let seed = server.url("/nofollow/");
    let (_, records, summary) =
        crawl_to_jsonl(&dir, &seed, &["--no-sitemaps", "--max-depth", "1"], T);
    let got = paths(&server, &records);
    for target in NOFOLLOW_TARGETS {
        assert_eq!(server.requests_of(target), 0, "{target} was requested");
        assert!(!got.contains(target));
    }
    // rel="ugc" alone is followed.
    assert!(got.contains(UGC_ONLY), "{got:?}");
    // Three links with rel, and every link (the four of the menu and the
    // target) of each of the three pages that say nofollow.
    assert_eq!(summary_u64(&summary, "nofollowSkipped"), 3 + 3 * 5);

    let dir = TempDir::new("urls-follow-nofollow");
    let server = BlogServer::start().unwrap();
    let seed = server.url("/nofollow/");
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &seed,
        &["--no-sitemaps", "--max-depth", "2", "--follow-nofollow"],
        T,
    );
    let got = paths(&server, &records);
    for target in NOFOLLOW_TARGETS {
        assert_eq!(server.requests_of(target), 1, "{target}");
        assert!(got.contains(target), "{target}");
    }

    // noindex: from the markup and from the header, on the record only
    // when asked.
    let dir = TempDir::new("urls-noindex");
    let server = BlogServer::start().unwrap();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/"),
        &["--max-depth", "1", "--no-sitemaps"],
        T,
    );
    let by = by_url(&records);
    for p in ["/noindex/meta.html", "/noindex/header.html"] {
        assert_eq!(by[&server.url(p)]["noindex"], true, "{p}");
    }
    assert!(by[&server.url("/")].get("noindex").is_none());
}

#[test]
fn a_sitemap_seed_is_read_and_no_sitemaps_turns_discovery_off() {
    let server = BlogServer::start().unwrap();
    let dir = TempDir::new("urls-sitemap-seed");
    let seed = server.url("/sitemap-pages.xml.gz");
    let (_, records, summary) =
        crawl_to_jsonl(&dir, &seed, &["--no-sitemaps", "--max-depth", "1"], T);
    let got = paths(&server, &records);
    for n in 1..=ORPHANS {
        assert!(got.contains(&format!("/orphan/{n}.html")), "{got:?}");
    }
    assert_eq!(summary_u64(&summary, "sitemaps"), 1);
    // Discovery is off: not even robots.txt's Sitemap: line is followed.
    assert_eq!(server.requests_of("/sitemap_index.xml"), 0);
    let record = &by_url(&records)[&seed];
    assert_eq!(record["content_type"], "application/gzip");
    assert_eq!(record["links_count"], (ORPHANS + 1) as u64);

    // --exclude applies to the URLs a sitemap lists, robots.txt too.
    let dir = TempDir::new("urls-sitemap-filter");
    let server = BlogServer::start().unwrap();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/about.html"),
        &["--exclude", "/orphan/[2-9]", "--exclude", NO_FACETS],
        T,
    );
    let got = paths(&server, &records);
    assert!(got.contains("/orphan/1.html"));
    assert!(got.contains("/orphan/10.html"));
    assert!(!got.contains("/orphan/2.html"));
    assert_eq!(server.requests_of("/orphan/2.html"), 0);
}

#[test]
fn binaries_are_skipped_by_extension_and_recorded_from_their_head() {
    let server = BlogServer::start().unwrap();
    let dir = TempDir::new("urls-types");
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/"),
        &["--max-depth", "1", "--no-sitemaps"],
        T,
    );
    for p in BINARIES.iter().chain(&IMAGES) {
        assert_eq!(server.requests_of(p), 0, "{p} was requested");
    }
    // CSS and JS are never links either.
    assert_eq!(server.requests_of("/static/site.css"), 0);
    let by = by_url(&records);
    let download = &by[&server.url(DOWNLOAD)];
    assert_eq!(download["status"], 200);
    assert_eq!(download["content_type"], "application/zip");
    assert_eq!(download["bytes"], 0, "the body is never read");
    assert!(download["sha256"].is_null());
    assert!(download["error"].is_null());
    let read_bytes: u64 = records.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert!(read_bytes < 1 << 20, "read {read_bytes} bytes");

    // --accept-type: PDFs are queued and read; the rest stays out.
    let dir = TempDir::new("urls-accept");
    let server = BlogServer::start().unwrap();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/"),
        &[
            "--max-depth",
            "1",
            "--no-sitemaps",
            "--accept-type",
            "application/pdf",
        ],
        T,
    );
    let by = by_url(&records);
    assert_eq!(by[&server.url(BINARIES[0])]["bytes"], 2 << 20);
    assert_eq!(server.requests_of(BINARIES[1]), 0);
    assert_eq!(by[&server.url(DOWNLOAD)]["bytes"], 0);

    // --all-types: every link queued, every body read; <img> still never.
    let dir = TempDir::new("urls-all-types");
    let server = BlogServer::start().unwrap();
    let (_, records, _) = crawl_to_jsonl(
        &dir,
        &server.url("/"),
        &["--max-depth", "1", "--no-sitemaps", "--all-types"],
        T,
    );
    let by = by_url(&records);
    for p in BINARIES {
        assert_eq!(server.requests_of(p), 1, "{p}");
        assert!(
            by[&server.url(p)]["bytes"].as_u64().unwrap() > 1 << 20,
            "{p}"
        );
    }
    assert_eq!(by[&server.url(DOWNLOAD)]["bytes"], 5 << 20);
    for p in IMAGES {
        assert_eq!(server.requests_of(p), 0, "{p} was requested");
    }
}
