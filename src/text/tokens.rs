//! Tokens: Unicode words, lower-cased, normalised, optionally stop-word filtered, Snowball-stemmed.
//!
//! Rules, chosen deliberately for news text:
//! - a word is a run of letters and digits (any script); an apostrophe, a hyphen or a dot/comma between
//!   digits joins two runs into one word;
//! - hyphenated names stay one token: "ISIS-K" → `isis-k`, "IS-Khorasan" → `is-khorasan`;
//! - the possessive is dropped: "Russia's" / "Russia’s" → `russia`; other apostrophes are removed;
//! - a number becomes the placeholder `<num>` (death tolls and dates differ between outlets and say nothing
//!   about the narrative), except a year from 1900 to 2099, which is kept as written;
//! - stop words (the Snowball English list) are removed only when asked, before stemming;
//! - the rest is stemmed with rust-stemmers' English (Porter2) algorithm.

use rust_stemmers::{Algorithm, Stemmer};

use super::Span;

/// Placeholder token for numbers other than years.
pub const NUMBER_TOKEN: &str = "<num>";

/// Identifies the stemmer and the tokenisation rules; recorded in every model file, because the stems are
/// the model's feature space.
pub const TOKENIZER_ID: &str = "narrative-words-v1+snowball-english(rust-stemmers-1.2)";

const STOP_WORDS: &str = include_str!("stop_words.txt");

/// A word as it appears in the source, before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    /// The word exactly as written.
    pub text: &'a str,
    /// Byte offsets of the word in the text it was read from.
    pub span: Span,
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '-' | '\u{2010}' | '\u{2011}')
}

/// Iterates over the words of `text`, in order, with their spans.
///
/// Scans bytes: runs of ASCII letters and digits (nearly all news text) are skipped in a tight loop, and
/// only other characters are decoded, one at a time.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    let bytes = text.as_bytes();
    let char_at = move |i: usize| text[i..].chars().next();
    let is_word_char = move |i: usize| match bytes.get(i) {
        None => false,
        Some(b) if b.is_ascii() => b.is_ascii_alphanumeric(),
        Some(_) => char_at(i).is_some_and(char::is_alphanumeric),
    };
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < bytes.len() && bytes[i].is_ascii() && !bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            match bytes.get(i) {
                None => return None,
                Some(b) if b.is_ascii() => break,
                Some(_) if is_word_char(i) => break,
                Some(_) => i += char_at(i).map_or(1, char::len_utf8),
            }
        }
        let start = i;
        let mut prev_digit = false;
        while i < bytes.len() {
            let run = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if i > run {
                prev_digit = bytes[i - 1].is_ascii_digit();
                continue;
            }
            let b = bytes[i];
            let width = if b.is_ascii() { 1 } else { char_at(i).map_or(1, char::len_utf8) };
            if !b.is_ascii() && is_word_char(i) {
                prev_digit = false;
                i += width;
                continue;
            }
            let joins = match b {
                b'.' | b',' => prev_digit && bytes.get(i + 1).is_some_and(u8::is_ascii_digit),
                b'\'' | b'-' => is_word_char(i + 1),
                _ if b.is_ascii() => false,
                _ => char_at(i).is_some_and(is_joiner) && is_word_char(i + width),
            };
            if !joins {
                break;
            }
            i += width;
        }
        Some(Word { text: &text[start..i], span: Span::new(start, i) })
    })
}

/// Lower-cases a word and applies the possessive, apostrophe and number rules (no stemming).
pub fn normalise(word: &str) -> String {
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        let is_year = word.len() == 4
            && word.bytes().all(|b| b.is_ascii_digit())
            && (word.starts_with("19") || word.starts_with("20"));
        return if is_year { word.to_owned() } else { NUMBER_TOKEN.to_owned() };
    }
    if word.is_ascii() {
        // The common case in one pass and one allocation.
        let bytes = word.as_bytes();
        let possessive = bytes.len() >= 2 && bytes[bytes.len() - 2] == b'\'' && bytes[bytes.len() - 1] | 0x20 == b's';
        let base = if possessive { &bytes[..bytes.len() - 2] } else { bytes };
        return base.iter().filter(|&&b| b != b'\'').map(|&b| char::from(b.to_ascii_lowercase())).collect();
    }
    normalise_letters(word)
}

/// [`normalise`] for a word that does not start with a digit, any script.
fn normalise_letters(word: &str) -> String {
    let lower = word.to_lowercase();
    let base = lower.strip_suffix("'s").or_else(|| lower.strip_suffix("\u{2019}s")).unwrap_or(&lower);
    base.chars()
        .filter(|&c| c != '\'' && c != '\u{2019}')
        .map(|c| if c == '\u{2010}' || c == '\u{2011}' { '-' } else { c })
        .collect()
}

/// Turns words into stems: normalisation, the optional stop-word filter and the Snowball stemmer.
///
/// It keeps no cache of its own: the featurizer caches whole words (raw word to feature-space id), which
/// skips normalisation as well as stemming.
pub struct Tokenizer {
    stemmer: Stemmer,
    stop_words: Option<Vec<&'static str>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer").field("stop_words", &self.stop_words.is_some()).finish()
    }
}

impl Tokenizer {
    /// A tokenizer; with `remove_stop_words` it drops the Snowball English stop words.
    pub fn new(remove_stop_words: bool) -> Self {
        let stop_words = remove_stop_words.then(|| STOP_WORDS.lines().filter(|l| !l.is_empty()).collect());
        Self { stemmer: Stemmer::create(Algorithm::English), stop_words }
    }

    /// The stem of one word as [`words`] yields it, or `None` for a stop word (when they are removed).
    pub fn stem(&self, word: &str) -> Option<String> {
        let token = normalise(word);
        if self.stop_words.as_ref().is_some_and(|stop| stop.binary_search(&token.as_str()).is_ok()) {
            return None;
        }
        if token == NUMBER_TOKEN {
            return Some(token);
        }
        match self.stemmer.stem(&token) {
            std::borrow::Cow::Borrowed(_) => Some(token),
            std::borrow::Cow::Owned(stem) => Some(stem),
        }
    }

    /// The stems of `sentence`, in order.
    pub fn stems(&self, sentence: &str) -> Vec<String> {
        words(sentence).filter_map(|w| self.stem(w.text)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Vec<&str> {
        words(text).map(|w| w.text).collect()
    }

    #[test]
    fn words_handle_hyphens_apostrophes_and_numbers() {
        assert_eq!(
            raw("ISIS-K and IS-Khorasan's men killed 1,000.5 people -- in 2024; Russia\u{2019}s 'fault'."),
            [
                "ISIS-K",
                "and",
                "IS-Khorasan's",
                "men",
                "killed",
                "1,000.5",
                "people",
                "in",
                "2024",
                "Russia\u{2019}s",
                "fault"
            ]
        );
    }

    /// The character-by-character definition of a word, which the byte scanner must match.
    fn reference_words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let mut end = text.len();
            let mut prev_digit = c.is_ascii_digit();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_alphanumeric() {
                    prev_digit = c.is_ascii_digit();
                    chars.next();
                    continue;
                }
                let next = text[i + c.len_utf8()..].chars().next();
                let joins = if matches!(c, '.' | ',') {
                    prev_digit && next.is_some_and(|n| n.is_ascii_digit())
                } else {
                    is_joiner(c) && next.is_some_and(char::is_alphanumeric)
                };
                if !joins {
                    end = i;
                    break;
                }
                chars.next();
            }
            out.push(&text[start..end]);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn byte_scanner_matches_the_reference(text in "[a-zA-Z0-9 .,'\u{2019}\u{2010}\u{2011}éЖ٣中\u{300}!-]{0,40}") {
            proptest::prop_assert_eq!(raw(&text), reference_words(&text));
        }
    }

    #[test]
    fn word_spans_point_back_into_the_text() {
        let text = "«Крокус» — Kyiv’s denial, ISIS-K.";
        for w in words(text) {
            assert_eq!(&text[w.span.start..w.span.end], w.text);
        }
        assert_eq!(raw(text), ["Крокус", "Kyiv’s", "denial", "ISIS-K"]);
    }

    #[test]
    fn normalise_applies_the_rules() {
        assert_eq!(normalise("Russia's"), "russia");
        assert_eq!(normalise("Kyiv\u{2019}s"), "kyiv");
        assert_eq!(normalise("ISIS-K"), "isis-k");
        assert_eq!(normalise("don't"), "dont");
        assert_eq!(normalise("144"), NUMBER_TOKEN);
        assert_eq!(normalise("22nd"), NUMBER_TOKEN);
        assert_eq!(normalise("2024"), "2024");
        assert_eq!(normalise("ÉTAT"), "état");
        assert_eq!(normalise("RUSSIA'S"), "russia");
        assert_eq!(normalise("O'Neill"), "oneill");
        assert_eq!(normalise("'s"), "");
    }

    proptest::proptest! {
        #[test]
        fn the_ascii_path_normalises_as_the_general_one(word in "[a-zA-Z][a-zA-Z'-]{0,12}") {
            proptest::prop_assert_eq!(normalise(&word), normalise_letters(&word));
        }
    }

    #[test]
    fn stems_are_snowball_english() {
        let tok = Tokenizer::new(false);
        assert_eq!(
            tok.stems("Ukrainian officials denied involvement in the attacks"),
            ["ukrainian", "offici", "deni", "involv", "in", "the", "attack"]
        );
        assert_eq!(tok.stems("Ukraine's universities"), ["ukrain", "univers"]);
    }

    #[test]
    fn stop_words_are_removed_only_when_asked() {
        assert_eq!(Tokenizer::new(true).stems("The US warned of an attack"), ["us", "warn", "attack"]);
        assert_eq!(Tokenizer::new(false).stems("The US warned").len(), 3);
    }

    #[test]
    fn stop_word_list_is_sorted_for_binary_search() {
        let list: Vec<&str> = STOP_WORDS.lines().collect();
        assert!(list.windows(2).all(|w| w[0] < w[1]));
    }
}
