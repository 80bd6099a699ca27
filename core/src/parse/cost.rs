//! The parse cost model: how many bytes the byte gate reserves before a
//! parse.
//!
//! The gate must charge a parse *before* it runs, so the charge is a bound
//! computed from the body length alone. The bounds here come from
//! measurement (a counting global allocator in the `parse_cost` example),
//! not from reasoning about allocators: the tables below are what that
//! example printed, and each constant is the worst case rounded up.

#[cfg(doc)]
use super::Extractor;

/// Estimated peak parse memory per decoded body byte.
///
/// For the DOM path, the byte gate charges `body.len() * PARSE_COST_RATIO`
/// for a parse ([`Extractor::parse_cost`]), on top of the body itself,
/// before [`Extractor::parse`] runs.
///
/// Measured with a counting global allocator by the `parse_cost` example
/// (peak heap growth during one `parse` call per body byte, almost all of it
/// the DOM) on typical, text-heavy, re-encoded and dense-table pages: the
/// constant is the largest figure, rounded up. Hostile pages that maximize
/// nodes per byte are cut by [`node_budget`](super::node_budget) instead.
/// The figures and the command: `docs/bench/constants.md`.
pub const PARSE_COST_RATIO: u64 = 27;

/// Estimated peak parse memory per body byte of the streaming path (no user
/// fields, no visible text), at worst: the most [`Extractor::parse_cost`]
/// charges that path per byte.
///
/// Measured like [`PARSE_COST_RATIO`]. Fixed costs dominate small pages;
/// what sets the constant is the output itself: each kept link costs about
/// `STREAM_LINK_COST` bytes, so a page made only of short distinct links
/// needs about 11x its size until [`MAX_LINKS`](super::MAX_LINKS) caps the
/// output. The constant covers that worst case, rounded up: a hostile page
/// cannot make the byte gate lie. Figures: `docs/bench/constants.md`.
pub const STREAM_PARSE_COST_RATIO: u64 = 12;

/// Fixed cost of the streaming path, whatever the body (decoding buffer,
/// tokenizer state), with room over what was measured.
const STREAM_FIXED: u64 = 64 * 1024;

/// Bytes of body per link in the densest page (`<a href=N>` repeated).
const STREAM_BYTES_PER_LINK: u64 = 12;

/// Bytes one kept link costs (the `Url`, its string, its dedup slot),
/// rounded up from the measurement.
const STREAM_LINK_COST: u64 = 140;

/// Peak heap bytes of a DOM-path parse of `len` body bytes.
pub(super) fn dom(len: u64) -> u64 {
    len.saturating_mul(PARSE_COST_RATIO)
}

/// Peak heap bytes of a streaming parse of `len` body bytes.
///
/// Not proportional to the body: the path is small per byte (decoding in
/// 16 KiB chunks, tokens streamed) except for its *output*, the links,
/// which a hostile page can pack one every ~12 bytes at ~140 bytes each,
/// but only up to [`MAX_LINKS`](super::MAX_LINKS). So the charge is
/// `2 * len + min(len / 12, MAX_LINKS) * 140 + 64 KiB`, never more than
/// [`STREAM_PARSE_COST_RATIO`] times the body (nor less than 64 KiB). That
/// covers every page the `parse_cost` example measures while charging a
/// typical large page a fraction of the cap (`docs/bench/constants.md`).
pub(super) fn stream(len: u64) -> u64 {
    let links = (len / STREAM_BYTES_PER_LINK).min(super::MAX_LINKS as u64);
    (2 * len + links * STREAM_LINK_COST + STREAM_FIXED).min(
        len.saturating_mul(STREAM_PARSE_COST_RATIO)
            .max(STREAM_FIXED),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_charge_is_capped_by_the_ratio_and_the_link_cap() {
        // Small bodies: the fixed cost dominates, capped at the ratio.
        assert_eq!(stream(0), STREAM_FIXED);
        assert_eq!(stream(20 << 10), 12 * (20 << 10));
        // Large bodies: about twice the body, the links capped.
        let big = 64u64 << 20;
        assert_eq!(
            stream(big),
            2 * big + super::super::MAX_LINKS as u64 * STREAM_LINK_COST + STREAM_FIXED
        );
        assert_eq!(dom(1 << 20), PARSE_COST_RATIO << 20);
        assert_eq!(dom(u64::MAX), u64::MAX);
    }
}
