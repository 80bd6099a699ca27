//! The settings of a [`Limiter`](super::Limiter) and the `auto` /
//! `auto:MIN..MAX` form users write them in.
//!
//! Parsing validates (a user's typo is an error, not a silent default);
//! [`LimiterConfig::normalized`] only brings settings into range, for the
//! limiter itself, which must work with whatever it is given.

use std::str::FromStr;

use crate::setting::{ConfigError, Setting};

/// Default lower bound of `auto`.
pub const DEFAULT_MIN: usize = 1;
/// Default upper bound of `auto`.
pub const DEFAULT_MAX: usize = 512;
/// Default starting limit (the default fixed `--concurrency`), clamped to the bounds.
pub const DEFAULT_INITIAL: usize = 16;

/// Latency tolerated above the no-load latency, as a multiple: Gradient2's
/// default `rttTolerance`. Queueing below it is cheap; above it, waits grow
/// faster than the pages they buy.
const DEFAULT_TOLERANCE: f64 = 1.5;
/// How far one window moves the limit: Gradient2's default `smoothing`,
/// small enough that one noisy window cannot swing the limit far.
const DEFAULT_SMOOTHING: f64 = 0.2;
/// The multiplicative decrease on drops: the AIMD `backoffRatio` of
/// concurrency-limits. Gentler than TCP's halving, since a crawl's drops
/// are often one slow page rather than a full queue.
const DEFAULT_DROP_BACKOFF: f64 = 0.9;
/// Samples a window needs: enough that one slow response does not decide
/// alone, few enough that a small limit still closes windows every round trip.
const DEFAULT_WINDOW_SAMPLES: usize = 10;
/// Windows without a latency near the baseline before a probe: a probe costs
/// about two round trips at half the limit, so it must stay rare.
const DEFAULT_PROBE_INTERVAL: u32 = 20;
/// Smallest smoothing kept: below it the limit would hardly move at all.
const MIN_SMOOTHING: f64 = 0.01;
/// Smallest drop backoff kept: one window of drops may not cut the limit
/// by more than 90%.
const MIN_DROP_BACKOFF: f64 = 0.1;

/// Bounds and tuning of a [`Limiter`](super::Limiter).
///
/// Parse the CLI form with [`FromStr`]: `auto` (defaults) or
/// `auto:MIN..MAX`, either bound optional (`auto:4..`, `auto:..256`);
/// `..=` is accepted too.
///
/// ```
/// use semcrawl_core::adaptive::LimiterConfig;
/// let c: LimiterConfig = "auto:4..512".parse().unwrap();
/// assert_eq!((c.min, c.max, c.initial), (4, 512, 16));
/// let c: LimiterConfig = "auto:32..64".parse().unwrap();
/// assert_eq!(c.initial, 32); // the default start, clamped to the bounds
/// let err = "auto:9..4".parse::<LimiterConfig>().unwrap_err();
/// assert!(err.to_string().contains("'auto:9..4'"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConfig {
    /// Lowest limit (at least 1).
    pub min: usize,
    /// Highest limit (at least `min`).
    pub max: usize,
    /// Limit before any sample (clamped to `min..=max`).
    pub initial: usize,
    /// Latency tolerated before shrinking, as a multiple of the no-load
    /// latency (Gradient2's `rttTolerance`). Default 1.5.
    pub tolerance: f64,
    /// How far one window moves the limit (Gradient2's `smoothing`). Default 0.2.
    pub smoothing: f64,
    /// Factor applied to the limit on drops (AIMD's `backoffRatio`). Default 0.9.
    pub drop_backoff: f64,
    /// Fraction of a window's requests that may be dropped without shrinking
    /// the limit. Default 0: any drop counts. The crawl-wide limiter may want a
    /// few percent, so that one dead host does not slow every other one.
    pub drop_tolerance: f64,
    /// Samples a window needs before it closes (fewer if the limit is lower).
    /// Default 10.
    pub window_samples: usize,
    /// Windows without a latency close to the baseline before a probe
    /// re-measures it. Default 20.
    pub probe_interval: u32,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            min: DEFAULT_MIN,
            max: DEFAULT_MAX,
            initial: DEFAULT_INITIAL,
            tolerance: DEFAULT_TOLERANCE,
            smoothing: DEFAULT_SMOOTHING,
            drop_backoff: DEFAULT_DROP_BACKOFF,
            drop_tolerance: 0.0,
            window_samples: DEFAULT_WINDOW_SAMPLES,
            probe_interval: DEFAULT_PROBE_INTERVAL,
        }
    }
}

impl LimiterConfig {
    /// Defaults with the given bounds; the initial limit is
    /// [`DEFAULT_INITIAL`] clamped to them.
    pub fn with_bounds(min: usize, max: usize) -> Result<Self, ConfigError> {
        let spec = format!("auto:{min}..{max}");
        check_bounds(&spec, min, max)?;
        Ok(LimiterConfig {
            min,
            max,
            initial: DEFAULT_INITIAL.clamp(min, max),
            ..LimiterConfig::default()
        })
    }

    /// The settings brought into range (`min >= 1`, `max >= min`,
    /// `tolerance >= 1`, fractions within `0..=1`, no NaN) rather than
    /// refused: the limiter must work with whatever it is given.
    pub(super) fn normalized(self) -> Self {
        let mut c = self;
        c.min = c.min.max(1);
        c.max = c.max.max(c.min);
        c.initial = c.initial.clamp(c.min, c.max);
        c.tolerance = finite_or(c.tolerance, DEFAULT_TOLERANCE).max(1.0);
        c.smoothing = finite_or(c.smoothing, DEFAULT_SMOOTHING).clamp(MIN_SMOOTHING, 1.0);
        c.drop_backoff =
            finite_or(c.drop_backoff, DEFAULT_DROP_BACKOFF).clamp(MIN_DROP_BACKOFF, 1.0);
        c.drop_tolerance = finite_or(c.drop_tolerance, 0.0).clamp(0.0, 1.0);
        c.window_samples = c.window_samples.max(1);
        c.probe_interval = c.probe_interval.max(1);
        c
    }
}

fn finite_or(value: f64, default: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        default
    }
}

/// The highest limit `auto:MIN..MAX` accepts.
///
/// Every permit of the count gate is a value in memory, and a limit far
/// beyond what any host or socket table can take is a typo: refusing it at
/// start beats allocating gigabytes of permits on the way up.
pub const MAX_LIMIT: usize = 65_536;

fn check_bounds(spec: &str, min: usize, max: usize) -> Result<(), ConfigError> {
    if min == 0 {
        return Err(ConfigError::invalid(
            Setting::Concurrency,
            spec,
            "the minimum must be at least 1",
        ));
    }
    if min > max {
        return Err(ConfigError::invalid(
            Setting::Concurrency,
            spec,
            format_args!("the minimum {min} is above the maximum {max}"),
        ));
    }
    if max > MAX_LIMIT {
        return Err(ConfigError::invalid(
            Setting::Concurrency,
            spec,
            format_args!("the maximum {max} is above {MAX_LIMIT}"),
        ));
    }
    Ok(())
}

impl FromStr for LimiterConfig {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, ConfigError> {
        let s = spec.trim();
        let usage = || {
            ConfigError::invalid(
                Setting::Concurrency,
                spec,
                "expected auto or auto:MIN..MAX (like auto:4..512)",
            )
        };
        let range = match s.strip_prefix("auto") {
            Some("") => return Ok(LimiterConfig::default()),
            Some(rest) => rest.strip_prefix(':').ok_or_else(usage)?,
            None => return Err(usage()),
        };
        let (lo, hi) = range.split_once("..").ok_or_else(usage)?;
        let hi = hi.strip_prefix('=').unwrap_or(hi);
        let bound = |text: &str, default: usize, which: &str| -> Result<usize, ConfigError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(default);
            }
            text.parse().map_err(|_| {
                ConfigError::invalid(
                    Setting::Concurrency,
                    spec,
                    format_args!("the {which} '{text}' is not a whole number"),
                )
            })
        };
        let min = bound(lo, DEFAULT_MIN, "minimum")?;
        let max = bound(hi, DEFAULT_MAX.max(min), "maximum")?;
        check_bounds(spec, min, max)?;
        LimiterConfig::with_bounds(min, max)
    }
}
