//! Character references in the few places the streaming path reads text:
//! decoded by html5ever's own tokenizer, on just that text.
//!
//! The streaming path's tokenizer ([`scan`](super::scan)) slices values
//! out of the body as written. When one holds a character reference
//! (`&amp;`, `&#x41;`, `&copy` without its semicolon...), a carriage return
//! or a NUL, the standard's rules for it are subtle (which references need
//! their semicolon, which are left alone before `=` in an attribute, the
//! numeric replacements) and take a 2,231-entry table. Rather than a second
//! copy of them, the value is put back in the context it came from (the
//! same quotes, the same element) and that small snippet goes through
//! html5ever's tokenizer: the result is exactly what html5ever gives for
//! the whole page. It is rare (a `&amp;` in a link's query), so its cost
//! does not matter.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Keeps the first start tag's first attribute value, or the text of an
/// RCDATA element.
struct Collect {
    rcdata: bool,
    out: RefCell<String>,
}

impl TokenSink for Collect {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => {
                if self.rcdata {
                    return TokenSinkResult::RawData(RawKind::Rcdata);
                }
                let mut out = self.out.borrow_mut();
                if out.is_empty() {
                    if let Some(attr) = tag.attrs.first() {
                        out.push_str(&attr.value);
                    }
                }
            }
            // As the streaming path's sink: only character tokens are text.
            Token::CharacterTokens(text) if self.rcdata => self.out.borrow_mut().push_str(&text),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn run(snippet: &str, rcdata: bool) -> String {
    let tokenizer = Tokenizer::new(
        Collect {
            rcdata,
            out: RefCell::default(),
        },
        TokenizerOpts::default(),
    );
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(snippet));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    tokenizer.sink.out.take()
}

/// An attribute value as written between `quote`s (`0`: unquoted), decoded
/// as html5ever's tokenizer decodes it.
pub(super) fn attribute_value(raw: &str, quote: u8) -> String {
    let q = match quote {
        b'"' => "\"",
        b'\'' => "'",
        _ => "",
    };
    run(&format!("<a v={q}{raw}{q}>"), false)
}

/// The text of the RCDATA element `tag` (`title`, `textarea`) as written,
/// decoded as html5ever's tokenizer decodes it.
pub(super) fn rcdata(raw: &str, tag: &str) -> String {
    run(&format!("<{tag}>{raw}</{tag}>"), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_decode_as_in_a_page() {
        assert_eq!(attribute_value("/q?a=1&amp;b=2", b'"'), "/q?a=1&b=2");
        // Legacy names without a semicolon, except before `=` or a letter.
        assert_eq!(
            attribute_value("&copy &copy=1 &notit; &not", b'\''),
            "© &copy=1 &notit; ¬"
        );
        assert_eq!(
            attribute_value("&#x41;&#65&#0;&#x110000;", 0),
            "AA\u{FFFD}\u{FFFD}"
        );
        assert_eq!(attribute_value("a\r\nb\rc\0", b'"'), "a\nb\nc\u{FFFD}");
        assert_eq!(
            rcdata("Fish &amp; chips &lt;3 &#128512;", "title"),
            "Fish & chips <3 😀"
        );
        assert_eq!(rcdata("", "title"), "");
    }
}
