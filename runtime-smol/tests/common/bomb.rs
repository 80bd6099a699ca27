//! A gzip bomb: about 1 MiB of gzip that inflates to 1 GiB of zeros.
//!
//! Deflate cannot beat ~1032:1, so 1 GiB needs ~1 MiB of compressed data.
//! Compressing 1 GiB in a debug build would take long, so the bomb is built
//! from one compressed block repeated: after a sync flush a deflate stream is
//! byte-aligned, and a block that encodes 1 MiB of zeros against a window of
//! zeros decodes the same wherever it is placed after another such block.

use flate2::{Compress, Compression, FlushCompress};

/// Decoded size of [`gzip_bomb`].
pub const BOMB_SIZE: u64 = 1 << 30;
const BLOCK: usize = 1 << 20;

fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::new();
    let start = c.total_in();
    loop {
        out.reserve(64 * 1024);
        let consumed = (c.total_in() - start) as usize;
        let status = c.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        let consumed = (c.total_in() - start) as usize;
        // Done once all input is in and the flush fitted (spare room left);
        // calling again would emit another empty sync block.
        let finished = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            _ => consumed == input.len() && out.len() < out.capacity(),
        };
        if finished {
            return out;
        }
    }
}

/// The gzip bomb (header, 1024 blocks of 1 MiB zeros, trailer with the real
/// CRC-32 and length).
pub fn gzip_bomb() -> Vec<u8> {
    let zeros = vec![0u8; BLOCK];
    let mut c = Compress::new(Compression::best(), false);
    let first = deflate(&mut c, &zeros, FlushCompress::Sync);
    let repeat = deflate(&mut c, &zeros, FlushCompress::Sync);
    let end = deflate(&mut c, &[], FlushCompress::Finish);
    let blocks = (BOMB_SIZE as usize) / BLOCK;
    let mut out = Vec::with_capacity(first.len() + repeat.len() * blocks + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    out.extend_from_slice(&first);
    for _ in 1..blocks {
        out.extend_from_slice(&repeat);
    }
    out.extend_from_slice(&end);
    out.extend_from_slice(&crc32_of_zeros(BOMB_SIZE).to_le_bytes());
    out.extend_from_slice(&(BOMB_SIZE as u32).to_le_bytes());
    out
}

/// CRC-32 of `len` zero bytes, by squaring the "shift in one zero bit"
/// operator over GF(2) (zlib's `crc32_combine` method) instead of feeding a
/// GiB through the checksum.
pub fn crc32_of_zeros(len: u64) -> u32 {
    fn times(mat: &[u32; 32], mut vec: u32) -> u32 {
        let (mut sum, mut i) = (0, 0);
        while vec != 0 {
            if vec & 1 != 0 {
                sum ^= mat[i];
            }
            vec >>= 1;
            i += 1;
        }
        sum
    }
    fn square(mat: &[u32; 32]) -> [u32; 32] {
        std::array::from_fn(|n| times(mat, mat[n]))
    }
    let mut odd = [0u32; 32];
    odd[0] = 0xedb8_8320;
    for (n, row) in odd.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    let even = square(&odd); // two zero bits
    let mut odd = square(&even); // four zero bits
    let mut crc = 0xffff_ffffu32;
    let mut len = len;
    loop {
        let even = square(&odd);
        if len & 1 != 0 {
            crc = times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = square(&even);
        if len & 1 != 0 {
            crc = times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    !crc
}
