//! The machine's limit on the `fast` site: what the site's server and the
//! parse path each allow alone, and so together.
//!
//! A crawl of the `fast` site on one machine does two kinds of work per
//! page: an HTTP exchange (the server's side and a client's) and a parse.
//! Each is measured alone with the whole machine to itself:
//!
//! * the server under `wrk` at concurrency 64, the crawl's concurrency,
//!   asking for the site's pages in turn (`tests/bench/peers/wrk-pages.lua`):
//!   `S` requests/s, the server and about the leanest possible client;
//! * the parse path ([`crate::parse`]) on the site's pages, one thread per
//!   core: `P` pages/s.
//!
//! Doing both for every page, the machine allows at most
//! `1 / (1/S + 1/P)` pages/s: the time of one page's exchange plus the time
//! of its parse. A crawler at that rate would spend nothing on anything
//! else (queueing, deduplication, records).

use std::path::Path;
use std::time::Duration;

use crate::measure;
use crate::parse::ParseRate;

/// The measured limit.
#[derive(Debug, Clone, Default)]
pub struct Limit {
    /// `wrk`'s requests/s on the site's server; `None` when `wrk` is not
    /// installed or failed (then [`Limit::note`] says why).
    pub server_rps: Option<f64>,
    /// `wrk`'s transfer rate, MB/s.
    pub server_mb_s: f64,
    /// Concurrency and seconds of the `wrk` run.
    pub connections: usize,
    pub secs: f64,
    /// CPU seconds per request: the in-process server's, and `wrk`'s own.
    pub server_cpu_per_request: f64,
    pub client_cpu_per_request: f64,
    /// The parse path alone on the site's pages.
    pub parse: Option<ParseRate>,
    /// The one-minute load average right after each part.
    pub load1_server: f64,
    pub load1_parse: f64,
    /// Why a part is missing.
    pub note: Option<String>,
}

impl Limit {
    /// Pages/s the server and the parse path allow together, when both
    /// were measured.
    pub fn together(&self) -> Option<f64> {
        let s = self.server_rps?;
        let p = self.parse.as_ref()?.pages_per_s_all;
        (s > 0.0 && p > 0.0).then(|| 1.0 / (1.0 / s + 1.0 / p))
    }
}

/// What one `wrk` run reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Wrk {
    pub rps: f64,
    pub mb_s: f64,
    /// Responses that were not 2xx or 3xx.
    pub bad: u64,
}

/// Read `wrk`'s summary: `Requests/sec:`, `Transfer/sec:` and, when some
/// failed, `Non-2xx or 3xx responses:`.
pub fn parse_wrk(text: &str) -> Option<Wrk> {
    let mut w = Wrk::default();
    let mut seen = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse().ok()?;
            seen = true;
        } else if let Some(v) = line.strip_prefix("Transfer/sec:") {
            let v = v.trim();
            let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
            let num: f64 = num.parse().ok()?;
            let scale = match unit {
                "B" => 1.0,
                "KB" => 1024.0,
                "MB" => 1024.0 * 1024.0,
                "GB" => 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            };
            w.mb_s = num * scale / 1e6;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            w.bad = v.trim().parse().ok()?;
        }
    }
    seen.then_some(w)
}

/// Run `wrk -t2 -cN -dS -s script url -- pages` under the measurer (the
/// script asks for the site's `pages` in turn); its report and CPU seconds.
/// `Err` when `wrk` cannot run (not installed).
pub fn run_wrk(
    script: &Path,
    url: &str,
    pages: usize,
    connections: usize,
    secs: f64,
    tmp: &Path,
) -> Result<(Wrk, f64), String> {
    let out = tmp.join("wrk-out.txt");
    let err = tmp.join("wrk-err.txt");
    let argv: Vec<String> = vec![
        "wrk".into(),
        "-t2".into(),
        format!("-c{connections}"),
        format!("-d{}s", secs.ceil() as u64),
        "-s".into(),
        script.display().to_string(),
        url.into(),
        "--".into(),
        pages.to_string(),
    ];
    let io = measure::Io {
        stdout: Some(out.clone()),
        stderr: err.clone(),
    };
    let usage = measure::run(&argv, &io, Duration::from_secs_f64(secs + 60.0))?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    if usage.code != 0 {
        return Err(format!("wrk exited with {}: {}", usage.code, stderr.trim()));
    }
    let wrk = parse_wrk(&text).ok_or_else(|| format!("cannot read wrk's report: {text:?}"))?;
    Ok((wrk, usage.cpu()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_reports() {
        let text = "Running 5s test @ http://127.0.0.1:3000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    2.10ms  30.00ms   80.00%
    Req/Sec     6.50k   500.00     7.00k    70.00%
  64620 requests in 5.00s, 1.26GB read
Requests/sec:  12924.00
Transfer/sec:    258.50MB
";
        let w = parse_wrk(text).unwrap();
        assert_eq!(w.rps, 12924.0);
        assert!((w.mb_s - 258.5 * 1.048576).abs() < 1e-9);
        assert_eq!(w.bad, 0);
        let w = parse_wrk("Non-2xx or 3xx responses: 12\nRequests/sec: 10.5\nTransfer/sec: 2KB\n")
            .unwrap();
        assert_eq!((w.rps, w.bad), (10.5, 12));
        assert_eq!(parse_wrk("nothing here"), None);
    }

    #[test]
    fn together_is_the_time_of_both() {
        let l = Limit {
            server_rps: Some(10_000.0),
            parse: Some(ParseRate {
                pages_per_s_all: 10_000.0,
                ..ParseRate::default()
            }),
            ..Limit::default()
        };
        assert_eq!(l.together(), Some(5_000.0));
        assert_eq!(Limit::default().together(), None);
    }
}
