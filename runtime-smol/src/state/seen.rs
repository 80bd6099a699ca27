//! The seen set's keys and its bounded cache in memory.
//!
//! Every URL ever pushed is remembered as a 64-bit fingerprint in the
//! database, so a URL is queued once per crawl however often it is linked.
//! The fingerprint ([`seen_key`]) is SipHash-1-3 with fixed keys: a hash
//! defined by its paper, not by a library version (unlike std's hasher,
//! whose output may change with the toolchain), so a state directory stays
//! valid across builds. It is computed for every link of every page, so it
//! must be cheap: SipHash-1-3 costs a fraction of SHA-256 (the seen set's
//! key until state format 2), and nothing here needs a cryptographic hash:
//! the URLs come from the pages crawled, and one who could make two of them
//! collide could as well leave the second one out of the page.
//!
//! # Collision odds
//!
//! Two different URLs with the same fingerprint make the second one look
//! seen, and it is never crawled. For `n` URLs the chance of any collision
//! is about `n² / 2⁶⁵`: 3·10⁻⁸ at a million URLs, 3·10⁻⁶ at ten million,
//! 3·10⁻⁴ at a hundred million, 3% at a billion. A crawl of billions of URLs
//! wants a longer key; below that a miss is far less likely than a server
//! error losing the page anyway.
//!
//! # The cache
//!
//! Real pages repeat links (menus, footers, pagination), so most duplicates
//! are URLs seen recently. [`SeenCache`] answers those without a database
//! lookup. It keeps two generations of fingerprints: new ones go into the
//! young set; when it is full, it becomes the old set and the previous old
//! set is dropped. A lookup checks both, so a URL seen in the last
//! `capacity / 2` to `capacity` insertions is a hit. That approximates an LRU
//! at a fixed memory cost, with no per-entry list.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use sha2::{Digest, Sha256};
use siphasher::sip::SipHasher13;

/// The key of a URL in the disk frontier's seen set: SipHash-1-3 of its
/// bytes with both keys zero, as a signed integer (SQLite's integer type).
/// Stable across versions and platforms (see the module docs).
///
/// ```
/// use semcrawl_smol::state::seen_key;
/// assert_eq!(seen_key("https://a.test/"), seen_key("https://a.test/"));
/// assert_ne!(seen_key("https://a.test/"), seen_key("https://a.test/x"));
/// ```
pub fn seen_key(url: &str) -> i64 {
    SipHasher13::new_with_keys(0, 0).hash(url.as_bytes()) as i64
}

/// The 64-bit fingerprint of a URL that a Redis-shared crawl's seen set
/// stores: the first 8 bytes of its SHA-256, big-endian, as a signed
/// integer. Stable across versions and platforms.
///
/// ```
/// use semcrawl_smol::state::fingerprint;
/// assert_eq!(fingerprint("https://a.test/"), fingerprint("https://a.test/"));
/// assert_ne!(fingerprint("https://a.test/"), fingerprint("https://a.test/x"));
/// ```
pub fn fingerprint(url: &str) -> i64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Fingerprints are already uniform hashes: hashing them again for the set
/// is wasted work, so the set uses the value itself.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_i64` is used; fold anything else in to stay correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_i64(&mut self, n: i64) {
        self.0 = n as u64;
    }
}

type FpSet = HashSet<i64, BuildHasherDefault<IdentityHasher>>;

/// Bytes budgeted per cached fingerprint: the key and the table's control
/// byte (9 bytes a bucket), with room for a hash set's buckets being at most
/// 7/8 full and rounded up to a power of two (at worst 20.6 bytes an entry).
const BYTES_PER_ENTRY: usize = 24;

/// A bounded set of recently seen fingerprints (see the module docs).
pub(crate) struct SeenCache {
    young: FpSet,
    old: FpSet,
    half: usize,
}

impl SeenCache {
    /// A cache that uses about `bytes` of memory.
    pub(crate) fn with_bytes(bytes: usize) -> SeenCache {
        // Each generation holds `half` entries; allocated once, up front, so
        // memory does not wander with the load.
        let half = (bytes / BYTES_PER_ENTRY / 2).max(16);
        SeenCache {
            young: FpSet::with_capacity_and_hasher(half, Default::default()),
            old: FpSet::with_capacity_and_hasher(half, Default::default()),
            half,
        }
    }

    pub(crate) fn contains(&self, fp: i64) -> bool {
        self.young.contains(&fp) || self.old.contains(&fp)
    }

    pub(crate) fn insert(&mut self, fp: i64) {
        if self.young.len() >= self.half {
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
        self.young.insert(fp);
    }

    /// Forget everything: after a failed transaction the cache may name
    /// fingerprints that never reached the database.
    pub(crate) fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    /// Memory held, from the capacity actually allocated.
    pub(crate) fn memory_bytes(&self) -> usize {
        // `capacity` is 7/8 of the buckets; each bucket is 9 bytes.
        (self.young.capacity() + self.old.capacity()) * 9 * 8 / 7 + 2 * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_key_is_siphash_1_3_with_zero_keys() {
        // Pinned: a state directory's seen set is only valid while this
        // value does not change (a change needs a new state format).
        assert_eq!(seen_key(""), 0xd1fb_a762_150c_532c_u64 as i64);
        assert_eq!(seen_key("abc"), 0xc03b_c3a0_0426_30f2_u64 as i64);
    }

    #[test]
    fn fingerprint_is_the_sha256_prefix() {
        // SHA-256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(fingerprint("abc"), 0xba78_16bf_8f01_cfea_u64 as i64);
    }

    #[test]
    fn cache_remembers_the_last_generation_and_stays_bounded() {
        let mut cache = SeenCache::with_bytes(BYTES_PER_ENTRY * 1000);
        let before = cache.memory_bytes();
        for fp in 0..10_000 {
            cache.insert(fp);
        }
        // The last `half` (500) are certainly there; the first are gone.
        assert!((9_500..10_000).all(|fp| cache.contains(fp)));
        assert!(!cache.contains(0));
        assert_eq!(cache.memory_bytes(), before);
        assert!(before <= BYTES_PER_ENTRY * 1000, "{before}");
    }
}
