//! The streaming path's tokenizer: HTML tags sliced out of the body.
//!
//! # Why not html5ever's tokenizer
//!
//! html5ever's tokenizer is a faithful implementation of the HTML
//! standard's state machine, one character at a time: every tag name,
//! attribute name and attribute value is built by appending one character
//! after another to a fresh buffer (about 3,400 appends on a 20 KiB page),
//! and text is cut into tokens the streaming path throws away. On the
//! 10,000-page benchmark crawl that was the largest single share of the
//! crawler's CPU (`docs/bench/perf.md`). The streaming path needs far less:
//! the names and a handful of attribute values of the start tags, the end
//! tags' names, and the text of the first `<title>`.
//!
//! This tokenizer follows the same state machine, but by *slicing*: it
//! looks for the next `<` with `memchr`, reads a tag's name and attributes
//! as sub-slices of the body, and only copies a name that has upper-case
//! letters (to lower-case it). Attribute values are returned as written;
//! the few that hold a character reference (`&amp;`), a carriage return or
//! a NUL are decoded by html5ever itself ([`refs`](super::refs)), so the
//! values are exactly html5ever's.
//!
//! # What it implements (from the HTML standard's tokenization section)
//!
//! * data: `<` + letter starts a tag, `</` + letter an end tag, `</>` is
//!   nothing, `</` + anything else and `<?` a bogus comment to the next `>`,
//!   `<!--` a comment (ended by `-->`, `--!>`, or at once by `<!-->` and
//!   `<!--->`), `<!` + anything else a DOCTYPE or bogus comment to the next
//!   `>`, and `<![CDATA[` a CDATA section to `]]>` in foreign content only;
//! * tags: the name, the attributes (a name may start with `=`; values
//!   double-quoted, single-quoted or unquoted; missing whitespace between
//!   attributes), `/>`; a tag cut off by the end of the body is dropped;
//! * the element's content models the sink asks for after a start tag:
//!   RCDATA and RAWTEXT (text up to the "appropriate" end tag, `</name`
//!   followed by whitespace, `/` or `>`), script data with its escaped and
//!   double-escaped states (`<!--` ... `<script>` ... `-->`), and PLAINTEXT;
//! * the input stream's preprocessing: a carriage return counts as the
//!   line feed it becomes.
//!
//! The differential tests (`stream.rs`) check that every page gives the
//! same result through this tokenizer and through html5ever's.

use std::borrow::Cow;

use memchr::{memchr, memchr2};

use super::refs;

/// The content model of the element a start tag opened: how the text after
/// it is tokenized (the tree builder's decision, which the sink makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Markup: tags, comments and text.
    Data,
    /// Text with character references, up to the element's end tag
    /// (`<title>`, `<textarea>`).
    Rcdata,
    /// Text as written, up to the element's end tag (`<style>`...).
    Rawtext,
    /// A script's text, with the escape states.
    Script,
    /// The rest of the document is text.
    Plaintext,
}

/// One attribute of a tag: its name lower-cased, its value as the
/// tokenizer's output has it (decoded on demand).
#[derive(Debug, Clone)]
pub(super) struct Attr<'a> {
    pub name: Cow<'a, str>,
    value: &'a str,
    /// `Some(quote)` when `value` is still raw and holds something to
    /// decode; the quote it was written in (`0`: unquoted).
    raw: Option<u8>,
}

impl<'a> Attr<'a> {
    /// An attribute whose value is already what a tokenizer outputs.
    pub fn decoded(name: &'a str, value: &'a str) -> Self {
        Attr {
            name: Cow::Borrowed(name),
            value,
            raw: None,
        }
    }

    /// The value, with character references decoded.
    pub fn value(&self) -> Cow<'a, str> {
        match self.raw {
            None => Cow::Borrowed(self.value),
            Some(quote) => Cow::Owned(refs::attribute_value(self.value, quote)),
        }
    }
}

/// A start tag as the sink sees it.
#[derive(Debug)]
pub(super) struct StartTag<'t, 'a> {
    /// Lower-cased.
    pub name: &'t str,
    pub self_closing: bool,
    pub attrs: &'t [Attr<'a>],
}

impl<'a> StartTag<'_, 'a> {
    /// The first attribute called `name` (a later duplicate is ignored, as
    /// by the tokenizer), decoded.
    pub fn attr(&self, name: &str) -> Option<Cow<'a, str>> {
        self.attrs.iter().find(|a| a.name == name).map(Attr::value)
    }

    /// Whether the tag has an attribute called `name`.
    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|a| a.name == name)
    }
}

/// What the tokenizer reports; implemented by the streaming path's state.
pub(super) trait Sink {
    /// A start tag; the answer says how the element's content is read.
    fn start_tag(&mut self, tag: &StartTag<'_, '_>) -> Mode;
    /// An end tag (its attributes, which the standard ignores, are not
    /// given).
    fn end_tag(&mut self, name: &str);
    /// Whether the text of the RCDATA element just opened is wanted.
    fn wants_text(&self) -> bool;
    /// Text of an RCDATA element, decoded, when [`Sink::wants_text`].
    fn text(&mut self, text: &str);
    /// Whether `<![CDATA[` opens a CDATA section here (the adjusted current
    /// node is not an HTML element).
    fn in_foreign_content(&self) -> bool;
}

/// Tokenize `src` into `sink`.
pub(super) fn tokenize(src: &str, sink: &mut impl Sink) {
    Tokenizer {
        src,
        b: src.as_bytes(),
        attrs: Vec::new(),
    }
    .run(sink)
}

struct Tokenizer<'a> {
    src: &'a str,
    b: &'a [u8],
    /// The current tag's attributes (reused from tag to tag).
    attrs: Vec<Attr<'a>>,
}

/// HTML whitespace after preprocessing (a CR is a LF by then).
fn is_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// A name as the tokenizer outputs it: ASCII lower-cased, NUL replaced.
fn name(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase() || c == 0) {
        Cow::Owned(s.to_ascii_lowercase().replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

impl<'a> Tokenizer<'a> {
    fn run(mut self, sink: &mut impl Sink) {
        let b = self.b;
        let mut pos = 0;
        while let Some(found) = memchr(b'<', &b[pos..]) {
            let lt = pos + found;
            pos = match b.get(lt + 1) {
                Some(b'!') => self.markup_declaration(lt + 2, sink),
                Some(b'/') => match b.get(lt + 2) {
                    Some(c) if c.is_ascii_alphabetic() => self.tag(lt + 2, false, sink).0,
                    Some(b'>') => lt + 3,
                    Some(_) => self.to_gt(lt + 2),
                    None => b.len(),
                },
                Some(c) if c.is_ascii_alphabetic() => {
                    let (end, mode) = self.tag(lt + 1, true, sink);
                    match mode {
                        None | Some((Mode::Data, _)) => end,
                        Some((Mode::Plaintext, _)) => b.len(),
                        Some((mode, name)) => self.raw_text(end, mode, &name, sink),
                    }
                }
                Some(b'?') => self.to_gt(lt + 1),
                _ => lt + 1,
            };
        }
    }

    /// Just past the next `>` from `at` (a bogus comment or a DOCTYPE), or
    /// the end.
    fn to_gt(&self, at: usize) -> usize {
        memchr(b'>', &self.b[at..]).map_or(self.b.len(), |i| at + i + 1)
    }

    /// After `<!`: a comment, a CDATA section, or a DOCTYPE / bogus comment.
    fn markup_declaration(&self, at: usize, sink: &impl Sink) -> usize {
        let rest = &self.b[at..];
        if rest.starts_with(b"--") {
            let at = at + 2;
            let rest = &self.b[at..];
            if rest.starts_with(b">") {
                return at + 1;
            }
            if rest.starts_with(b"->") {
                return at + 2;
            }
            // The earliest `-->` or `--!>`.
            let mut i = at;
            while let Some(d) = memchr(b'-', &self.b[i..]) {
                let d = i + d;
                let after = &self.b[d..];
                if after.starts_with(b"-->") {
                    return d + 3;
                }
                if after.starts_with(b"--!>") {
                    return d + 4;
                }
                i = d + 1;
            }
            return self.b.len();
        }
        if rest.starts_with(b"[CDATA[") && sink.in_foreign_content() {
            let at = at + 7;
            return memchr::memmem::find(&self.b[at..], b"]]>")
                .map_or(self.b.len(), |i| at + i + 3);
        }
        self.to_gt(at)
    }

    /// A tag whose name starts at `at`. Returns where the data state goes
    /// on, and for a start tag given to the sink, the mode the sink chose
    /// and the tag's name (for the appropriate end tag). A tag cut off by
    /// the end of the body is dropped.
    fn tag(
        &mut self,
        at: usize,
        start: bool,
        sink: &mut impl Sink,
    ) -> (usize, Option<(Mode, Cow<'a, str>)>) {
        let (b, len) = (self.b, self.b.len());
        let mut i = at;
        while i < len && !matches!(b[i], b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>') {
            i += 1;
        }
        let tag_name = name(&self.src[at..i]);
        self.attrs.clear();
        let mut self_closing = false;
        loop {
            // Before attribute name.
            while i < len && is_space(b[i]) {
                i += 1;
            }
            let Some(&c) = b.get(i) else {
                return (len, None);
            };
            if c == b'>' {
                i += 1;
                break;
            }
            if c == b'/' {
                // Self-closing start tag: anything but `>` goes back to
                // "before attribute name".
                i += 1;
                match b.get(i) {
                    None => return (len, None),
                    Some(b'>') => {
                        self_closing = true;
                        i += 1;
                        break;
                    }
                    Some(_) => continue,
                }
            }
            // Attribute name: its first character may be `=`.
            let name_start = i;
            i += 1;
            while i < len
                && !matches!(
                    b[i],
                    b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>' | b'='
                )
            {
                i += 1;
            }
            let attr_name = &self.src[name_start..i];
            // After attribute name.
            while i < len && is_space(b[i]) {
                i += 1;
            }
            let mut value = ("", None);
            if b.get(i) == Some(&b'=') {
                i += 1;
                // Before attribute value.
                while i < len && is_space(b[i]) {
                    i += 1;
                }
                match b.get(i) {
                    None => return (len, None),
                    Some(&q @ (b'"' | b'\'')) => {
                        let Some(end) = memchr(q, &b[i + 1..]) else {
                            return (len, None);
                        };
                        value = (&self.src[i + 1..i + 1 + end], Some(q));
                        // After attribute value (quoted): whatever comes,
                        // "before attribute name" handles it the same way.
                        i += end + 2;
                    }
                    Some(b'>') => {}
                    Some(_) => {
                        let s = i;
                        while i < len && !is_space(b[i]) && b[i] != b'>' {
                            i += 1;
                        }
                        if i == len {
                            return (len, None);
                        }
                        value = (&self.src[s..i], Some(0));
                    }
                }
            }
            if start {
                let (value, quote) = value;
                let raw = quote
                    .filter(|_| memchr::memchr3(b'&', b'\r', b'\0', value.as_bytes()).is_some());
                self.attrs.push(Attr {
                    name: name(attr_name),
                    value,
                    raw,
                });
            }
        }
        if !start {
            sink.end_tag(&tag_name);
            return (i, None);
        }
        let mode = sink.start_tag(&StartTag {
            name: &tag_name,
            self_closing,
            attrs: &self.attrs,
        });
        (i, Some((mode, tag_name)))
    }

    /// The text of an RCDATA, RAWTEXT or script element from `at`, then its
    /// end tag; returns where the data state goes on.
    fn raw_text(&mut self, at: usize, mode: Mode, tag: &str, sink: &mut impl Sink) -> usize {
        let end = match mode {
            Mode::Script => script_end(self.b, at),
            _ => text_end(self.b, at, tag),
        };
        let text_end = end.unwrap_or(self.b.len());
        if mode == Mode::Rcdata && sink.wants_text() {
            let text = &self.src[at..text_end];
            if memchr::memchr2(b'&', b'\0', text.as_bytes()).is_some() {
                sink.text(&refs::rcdata(text, tag));
            } else {
                sink.text(text);
            }
        }
        match end {
            Some(lt) => self.tag(lt + 2, false, sink).0,
            None => self.b.len(),
        }
    }
}

/// Whether `</name` followed by whitespace, `/` or `>` starts at `lt`: the
/// "appropriate end tag" that ends raw text (`name` is ASCII letters).
fn is_end_tag(b: &[u8], lt: usize, name: &str) -> bool {
    let n = name.len();
    b.get(lt + 1) == Some(&b'/')
        && b.get(lt + 2..lt + 2 + n)
            .is_some_and(|s| s.eq_ignore_ascii_case(name.as_bytes()))
        && b.get(lt + 2 + n)
            .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>')
}

/// Where the RCDATA or RAWTEXT text from `at` ends: the `<` of its
/// element's end tag, or `None` (the text runs to the end).
fn text_end(b: &[u8], mut at: usize, name: &str) -> Option<usize> {
    loop {
        let lt = at + memchr(b'<', &b[at..])?;
        if is_end_tag(b, lt, name) {
            return Some(lt);
        }
        at = lt + 1;
    }
}

/// Where a script's text from `at` ends: the `<` of its `</script` end
/// tag, or `None`. The script data states of the HTML standard: `<!--`
/// starts an escaped section, in which `<script` starts a double-escaped
/// one, where `</script` only ends the double escape; `-->` ends both.
fn script_end(b: &[u8], mut i: usize) -> Option<usize> {
    /// The escaped and double-escaped states come in threes ("", "dash",
    /// "dash dash") that treat `-` and `>` alike and differ only at `<`.
    #[derive(Clone, Copy, PartialEq)]
    enum Level {
        Escaped,
        Double,
    }
    // The letters from `at` and the index just past them.
    fn letters(b: &[u8], at: usize) -> (&[u8], usize) {
        let n = b[at..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        (&b[at..at + n], at + n)
    }
    /// The double escape start and end states: the letters from `at`, then
    /// whitespace, `/` or `>` after `script` switches the level (and is
    /// consumed); anything else is reprocessed at the current level.
    /// Returns where to go on (`None`: the body ended).
    fn word_then_delimiter(
        b: &[u8],
        at: usize,
        level: Level,
        escape: &mut Option<(Level, u8)>,
    ) -> Option<usize> {
        let (word, next) = letters(b, at);
        let c = *b.get(next)?;
        if is_space(c) || c == b'/' || c == b'>' {
            if word.eq_ignore_ascii_case(b"script") {
                let other = match level {
                    Level::Escaped => Level::Double,
                    Level::Double => Level::Escaped,
                };
                *escape = Some((other, 0));
            }
            Some(next + 1)
        } else {
            Some(next)
        }
    }
    // Outside any escape: `None`; inside: the level and the dashes just seen.
    let mut escape: Option<(Level, u8)> = None;
    while i < b.len() {
        let Some((level, dashes)) = escape else {
            // Script data.
            let lt = i + memchr(b'<', &b[i..])?;
            if is_end_tag(b, lt, "script") {
                return Some(lt);
            }
            if b[lt + 1..].starts_with(b"!--") {
                escape = Some((Level::Escaped, 2));
                i = lt + 4;
            } else {
                i = lt + 1;
            }
            continue;
        };
        if dashes == 0 {
            i += memchr2(b'-', b'<', &b[i..])?;
        }
        match b[i] {
            b'-' => {
                escape = Some((level, (dashes + 1).min(2)));
                i += 1;
            }
            b'>' if dashes == 2 => {
                escape = None;
                i += 1;
            }
            b'<' => {
                escape = Some((level, 0));
                match (level, b.get(i + 1)) {
                    // Escaped: `</script` ends the script.
                    (Level::Escaped, _) if is_end_tag(b, i, "script") => return Some(i),
                    (Level::Escaped, Some(b'/')) => i += 2,
                    // Escaped: `<script` + delimiter starts the double escape;
                    // double escaped: `</script` + delimiter ends it.
                    (Level::Escaped, Some(c)) if c.is_ascii_alphabetic() => {
                        i = word_then_delimiter(b, i + 1, level, &mut escape)?;
                    }
                    (Level::Double, Some(b'/')) => {
                        i = word_then_delimiter(b, i + 2, level, &mut escape)?;
                    }
                    _ => i += 1,
                }
            }
            _ => {
                escape = Some((level, 0));
                i += 1;
            }
        }
    }
    None
}
