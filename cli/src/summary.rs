//! The end-of-crawl report on stderr, and its JSON twin.

use std::path::Path;
use std::time::Duration;

use semcrawl_core::format_bytes;
use semcrawl_core::{PaceSource, PacedHost, Summary};
use semcrawl_smol::budget::peak_rss;

/// A paced host in a few words: `https://a.test 1 req/2.0s (30/min,
/// robots.txt Crawl-delay)`.
pub fn pace(host: &PacedHost) -> String {
    let why = match host.source {
        PaceSource::CrawlDelay => "robots.txt Crawl-delay",
        PaceSource::Delay => "--delay",
    };
    format!(
        "{} 1 req/{:.1}s ({:.0}/min, {why})",
        host.origin,
        host.delay_ms as f64 / 1000.0,
        host.per_minute()
    )
}

/// Human summary, several lines.
pub fn render(summary: &Summary) -> String {
    let secs = Duration::from_millis(summary.elapsed_ms).as_secs_f64();
    let total = summary.pages + summary.errors;
    let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
    let mut out = String::new();
    out.push_str(&format!(
        "{} pages stored ({} ok, {} errors) in {:.2}s: {:.0} pages/s\n",
        total, summary.pages, summary.errors, secs, rate
    ));
    if !summary.errors_by_kind.is_empty() {
        let kinds: Vec<String> = summary
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!("  errors by kind: {}\n", kinds.join(", ")));
    }
    out.push_str(&format!(
        "  {} read; peak held by the memory gate {} of {} budget; most pages in flight {}\n",
        format_bytes(summary.bytes),
        format_bytes(summary.peak_bytes),
        format_bytes(summary.budget),
        summary.max_in_flight
    ));
    if let (Some(min), Some(max)) = (summary.limit_min, summary.limit_max) {
        out.push_str(&format!(
            "  concurrency limit (auto): {min}..{max}, final {}, {} changes; waited {:.1}s memory-bound, {:.1}s limit-bound\n",
            summary.limit_final,
            summary.limit_changes.unwrap_or(0),
            summary.memory_bound_ms as f64 / 1000.0,
            summary.limit_bound_ms as f64 / 1000.0
        ));
    }
    if let Some(rss) = peak_rss() {
        out.push_str(&format!("  peak RSS {}\n", format_bytes(rss)));
    }
    if summary.paced_hosts_total > 0 {
        let listed = summary.paced_hosts.len() as u64;
        out.push_str(&format!(
            "  held back by a delay: {} host{}{}\n",
            summary.paced_hosts_total,
            if summary.paced_hosts_total == 1 {
                ""
            } else {
                "s"
            },
            if listed < summary.paced_hosts_total {
                format!(" (the {listed} slowest:)")
            } else {
                String::new()
            }
        ));
        for host in &summary.paced_hosts {
            out.push_str(&format!("    {}\n", pace(host)));
        }
    }
    if summary.robots_skipped > 0 {
        out.push_str(&format!(
            "  {} URLs skipped by robots.txt\n",
            summary.robots_skipped
        ));
    }
    if summary.sitemaps > 0 {
        out.push_str(&format!(
            "  {} sitemaps read, {} URLs taken from them\n",
            summary.sitemaps, summary.sitemap_urls
        ));
    }
    if summary.filtered > 0 || summary.nofollow_skipped > 0 {
        out.push_str(&format!(
            "  not queued: {} URLs by --include/--exclude or a non-HTML extension, {} nofollow links\n",
            summary.filtered, summary.nofollow_skipped
        ));
    }
    if summary.resumed {
        out.push_str(&format!(
            "  resumed: {} pages had been done by earlier runs\n",
            summary.resumed_from
        ));
    }
    if summary.interrupted {
        out.push_str(&format!(
            "  interrupted: {} URLs were still queued\n",
            summary.queued
        ));
    } else if summary.queued > 0 {
        out.push_str(&format!(
            "  {} URLs left in the queue (--max-pages reached)\n",
            summary.queued
        ));
    }
    out
}

/// Write the summary as JSON (with the process's peak RSS, and the `extra`
/// fields of this kind of crawl) to `path`.
pub fn write_json(
    summary: &Summary,
    extra: &[(&str, serde_json::Value)],
    path: &Path,
) -> std::io::Result<()> {
    let mut value = serde_json::to_value(summary).map_err(std::io::Error::other)?;
    if let Some(obj) = value.as_object_mut() {
        if let Some(rss) = peak_rss() {
            obj.insert("peakRssBytes".into(), rss.into());
        }
        for (k, v) in extra {
            obj.insert((*k).into(), v.clone());
        }
    }
    std::fs::write(
        path,
        serde_json::to_vec_pretty(&value).map_err(std::io::Error::other)?,
    )
}
