//! Bounded text: whitespace-collapsed, byte-capped, cut at char boundaries.
//!
//! Every string a record keeps from a page (title, description, fields,
//! visible text) goes through here, so a hostile page cannot make one
//! unbounded, and a cap never splits a UTF-8 sequence.

/// Builds whitespace-collapsed, trimmed text up to a byte cap, cutting at
/// a char boundary.
#[derive(Debug)]
pub(super) struct Collapser {
    out: String,
    cap: usize,
    pending_space: bool,
    full: bool,
}

impl Collapser {
    pub(super) fn new(cap: usize) -> Self {
        Collapser {
            out: String::new(),
            cap,
            pending_space: false,
            full: false,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.full
    }

    /// A word break (collapsed with any neighbouring whitespace).
    pub(super) fn space(&mut self) {
        if !self.out.is_empty() {
            self.pending_space = true;
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        for ch in s.chars() {
            if self.full {
                return;
            }
            if ch.is_whitespace() {
                self.space();
                continue;
            }
            let need = ch.len_utf8() + usize::from(self.pending_space);
            if self.out.len() + need > self.cap {
                self.full = true;
                return;
            }
            if self.pending_space {
                self.out.push(' ');
                self.pending_space = false;
            }
            self.out.push(ch);
        }
    }

    pub(super) fn finish(mut self) -> String {
        self.out.shrink_to_fit();
        self.out
    }

    pub(super) fn finish_nonempty(self) -> Option<String> {
        Some(self.finish()).filter(|s| !s.is_empty())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a char
/// boundary.
pub(super) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapser_and_truncate() {
        let mut c = Collapser::new(7);
        c.push_str("  a \n\t b ");
        c.space();
        c.push_str("cé d");
        assert_eq!(c.finish(), "a b cé");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
        assert_eq!(truncate("", 0), "");
    }
}
