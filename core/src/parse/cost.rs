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
/// Measured with a counting global allocator by the `parse_cost` example:
/// peak heap growth during one `parse` call (decoded text, DOM, extracted
/// page; the caller's body buffer excluded) divided by the body length.
/// Almost all of it is the DOM: about 280-380 bytes per node (scraper's
/// 128-byte tree slots, with the tree's `Vec` doubling counted old + new
/// during a move, plus attribute and text buffers). Figures (release build):
///
/// | page (generated)                                   | 20 KiB | 1 MiB |
/// |----------------------------------------------------|-------:|------:|
/// | typical: nested divs, paragraphs, ~15 links/20 KiB | 11.7   | 7.3   |
/// | same, with visible text and 3 user fields          | 13.7   | 8.3   |
/// | same, windows-1252 (decoding copy)                 | 11.7   | 8.3   |
/// | dense table rows (a node per ~10 bytes)            | 21.1   | 26.3  |
///
/// The constant is the largest of these, 26.3, rounded up. Small pages
/// measure higher because of fixed costs (a few hundred KiB at most).
///
/// Hostile pages built to maximize nodes per byte (`<a>` repeated, `x<br>`,
/// misnested formatting elements that the HTML algorithm clones
/// quadratically) are cut by [`node_budget`](super::node_budget); they peak at about 48 bytes
/// per body byte plus ~0.6 MiB, i.e. up to ~1.8x this estimate on large pages.
///
/// Rerun with:
///
/// ```text
/// cargo run --release -p semcrawl-core --example parse_cost
/// ```
pub const PARSE_COST_RATIO: u64 = 27;

/// Estimated peak parse memory per body byte of the streaming path (no user
/// fields, no visible text), at worst: the most [`Extractor::parse_cost`]
/// charges that path per byte.
///
/// Measured like [`PARSE_COST_RATIO`] by the `parse_cost` example: peak
/// heap growth during one `parse` call (a 16 KiB decoding chunk and its
/// copy in the tokenizer, the current token, the raw hrefs, the output)
/// per body byte. Release build:
///
/// | page (generated)                                      | 20 KiB | 1 MiB |
/// |-------------------------------------------------------|-------:|------:|
/// | typical (same page as above), utf-8 or windows-1252   | 1.62   | 0.39  |
/// | dense table rows                                      | 1.76   | 1.48  |
/// | DOM-exploding hostile pages (`<a>`, `<p><i>`, nesting) | 1.61   | 0.03  |
/// | one huge attribute value / one huge `href`            | 3.41 / 5.42 | 1.53 / 3.02 |
/// | distinct 8 KB hrefs                                   | 3.72   | 2.98  |
/// | the same `<a href=/x>` repeated                       | 2.22   | 0.78  |
/// | **`<a href=N>` repeated: a distinct link per 12 bytes** | **11.47** | 1.83 |
///
/// Fixed costs (~33 KiB) dominate small pages. What sets the constant is
/// the output itself: each kept [`Url`](url::Url) costs about 136 bytes (the struct,
/// its string, its dedup slot), so a page made only of short distinct links
/// needs ~11x its size until [`MAX_LINKS`](super::MAX_LINKS) caps the output (~1.9 MiB, at
/// ~120 KiB of body); beyond that the ratio falls. The constant covers that
/// worst case, rounded up: a hostile page cannot make the byte gate lie.
/// For realistic pages the reservation is 4-30x what is used.
pub const STREAM_PARSE_COST_RATIO: u64 = 12;

/// Fixed cost of the streaming path, whatever the body (decoding buffer,
/// tokenizer state): covers the ~33 KiB measured, with room.
const STREAM_FIXED: u64 = 64 * 1024;

/// Bytes of body per link in the densest page (`<a href=N>` repeated).
const STREAM_BYTES_PER_LINK: u64 = 12;

/// Bytes one kept link costs (the `Url`, its string, its dedup slot):
/// ~136 measured.
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
/// covers every page measured by the `parse_cost` example (link-dense
/// 20 KiB pages: 11.5x measured vs 16.7x by the formula, capped to 12x;
/// 1 MiB pages with one huge href: 3.0 MiB measured vs 3.4 MiB here) while
/// charging a typical 1 MiB page 3.4 MiB rather than 12 MiB.
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
