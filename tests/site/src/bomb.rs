//! The gzip bomb: a small gzip body that inflates to more than 1 GiB.
//!
//! One builder for the whole workspace: the site serves the bomb at
//! `/bomb.html`, and the tests of the native fetcher serve it raw to check
//! that a body is inflated lazily.
//!
//! Compressing 1 GiB for real would take seconds (minutes in a debug build),
//! so the deflate stream is assembled instead: 1 MiB of spaces is compressed
//! once with a full flush (which resets the dictionary and byte-aligns the
//! output), and that self-contained piece is repeated 1024 times. The CRC of
//! the whole is combined from the CRC of one piece, so the trailer is correct
//! and a decoder that reads to the end accepts the stream.

use std::sync::{Arc, OnceLock};

use flate2::{Compress, Compression, Crc, FlushCompress};

/// What the inflated body starts with; spaces follow, up to
/// [`BOMB_INFLATED_SIZE`].
pub const BOMB_PREFIX: &[u8] =
    b"<!DOCTYPE html><html lang=\"en\"><head><title>Bomb</title></head><body><p>";

/// Size of one repeated block of spaces.
const BLOCK: usize = 1 << 20;

/// How many blocks follow the prefix.
const BLOCKS: usize = 1024;

/// Inflated size of the bomb: the prefix plus 1 GiB of spaces.
pub const BOMB_INFLATED_SIZE: u64 = BOMB_PREFIX.len() as u64 + (BLOCK * BLOCKS) as u64;

/// The compressed bomb (a complete gzip member, about 1 MiB), built once per
/// process: [`BOMB_PREFIX`], then spaces, [`BOMB_INFLATED_SIZE`] bytes in
/// all, with a correct CRC and length in its trailer.
///
/// ```
/// use std::io::Read;
/// use semcrawl_site::{gzip_bomb, BOMB_PREFIX};
///
/// let bomb = gzip_bomb();
/// assert!(bomb.len() < 4 << 20);
/// let mut head = vec![0u8; BOMB_PREFIX.len() + 100];
/// flate2::read::GzDecoder::new(&bomb[..]).read_exact(&mut head).unwrap();
/// assert!(head.starts_with(BOMB_PREFIX));
/// assert!(head[BOMB_PREFIX.len()..].iter().all(|&b| b == b' '));
/// ```
pub fn gzip_bomb() -> Arc<[u8]> {
    static BOMB: OnceLock<Arc<[u8]>> = OnceLock::new();
    BOMB.get_or_init(|| build().into()).clone()
}

/// Deflate all of `input` into `out`, ending with `flush`.
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let mut pos = 0;
    loop {
        out.reserve(64 * 1024);
        let before = c.total_in();
        let status = c
            .compress_vec(&input[pos..], out, flush)
            .expect("deflate of an in-memory buffer cannot fail");
        pos += (c.total_in() - before) as usize;
        // As with zlib: once all input is taken and the output was not filled
        // up, the flush is complete.
        if status == flate2::Status::StreamEnd || (pos == input.len() && out.len() < out.capacity())
        {
            break;
        }
    }
}

fn build() -> Vec<u8> {
    let spaces = vec![b' '; BLOCK];
    let mut c = Compress::new(Compression::best(), false);

    let mut head = Vec::new();
    deflate(&mut c, BOMB_PREFIX, FlushCompress::Full, &mut head);
    let mut piece = Vec::new();
    deflate(&mut c, &spaces, FlushCompress::Full, &mut piece);
    let mut tail = Vec::new();
    deflate(&mut c, &[], FlushCompress::Finish, &mut tail);

    let mut crc = Crc::new();
    crc.update(BOMB_PREFIX);
    let mut block_crc = Crc::new();
    block_crc.update(&spaces);
    for _ in 0..BLOCKS {
        crc.combine(&block_crc);
    }

    let mut out = Vec::with_capacity(18 + head.len() + piece.len() * BLOCKS + tail.len());
    // gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    out.extend_from_slice(&head);
    for _ in 0..BLOCKS {
        out.extend_from_slice(&piece);
    }
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(BOMB_INFLATED_SIZE as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn bomb_is_small_and_inflates_to_more_than_a_gibibyte() {
        let bomb = gzip_bomb();
        assert!(bomb.len() < 4 << 20, "compressed size {}", bomb.len());
        const { assert!(BOMB_INFLATED_SIZE >= 1 << 30) };
        // The trailer's ISIZE is the inflated size mod 2^32.
        let isize = u32::from_le_bytes(bomb[bomb.len() - 4..].try_into().unwrap());
        assert_eq!(u64::from(isize), BOMB_INFLATED_SIZE);

        // Inflate the first 8 MiB: the prefix, then spaces.
        let mut dec = flate2::read::GzDecoder::new(&bomb[..]);
        let mut first = vec![0u8; 8 << 20];
        dec.read_exact(&mut first).unwrap();
        assert!(first.starts_with(BOMB_PREFIX));
        assert!(first[BOMB_PREFIX.len()..].iter().all(|&b| b == b' '));
    }

    #[test]
    #[ignore = "inflates 1 GiB: slow in a debug build"]
    fn bomb_inflates_completely_with_a_valid_trailer() {
        let bomb = gzip_bomb();
        let mut dec = flate2::read::GzDecoder::new(&bomb[..]);
        let n = std::io::copy(&mut dec, &mut std::io::sink()).unwrap();
        assert_eq!(n, BOMB_INFLATED_SIZE);
    }
}
