//! Human-friendly sizes and durations: `64MiB`, `1GB`, `250ms`, `2s`.
//!
//! Both the CLI and the JS API accept these forms, so the parser lives in core.

use std::time::Duration;

/// Parse a size such as `64MiB`, `1GB`, `512k`, `1048576`.
///
/// Binary units (`KiB`, `MiB`, `GiB`, and the short `K`, `M`, `G`) are powers
/// of 1024; decimal ones (`KB`, `MB`, `GB`) powers of 1000; a bare number is bytes.
///
/// ```
/// use semcrawl_core::parse_size;
/// assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
/// assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
/// assert_eq!(parse_size("1.5KiB"), Ok(1536));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid size '{text}': expected a number with an optional unit, like 64MiB")
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "invalid size '{text}': unknown unit '{other}' (use B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("invalid size '{text}': out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Parse a duration such as `250ms`, `2s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
///
/// ```
/// use std::time::Duration;
/// use semcrawl_core::parse_duration;
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid duration '{text}': expected a number with a unit, like 250ms or 2s")
    })?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "invalid duration '{text}': unknown unit '{other}' (use ms, s, m, h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("invalid duration '{text}': out of range"))
}

/// Format bytes for people: `64.0 MiB`.
///
/// ```
/// assert_eq!(semcrawl_core::format_bytes(64 * 1024 * 1024), "64.0 MiB");
/// assert_eq!(semcrawl_core::format_bytes(512), "512 B");
/// ```
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
