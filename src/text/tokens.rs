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
//! - the rest is stemmed with rust-stemmers' English (Porter2) algorithm, through a cache.

use std::collections::HashMap;

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
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = loop {
            let (i, c) = chars.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        let mut end = text.len();
        let mut prev_digit = text[start..].starts_with(|c: char| c.is_ascii_digit());
        while let Some(&(i, c)) = chars.peek() {
            if c.is_alphanumeric() {
                prev_digit = c.is_ascii_digit();
                chars.next();
                continue;
            }
            let joins = is_joiner(c) || (prev_digit && matches!(c, '.' | ','));
            let next_ok = text[i + c.len_utf8()..]
                .chars()
                .next()
                .is_some_and(|n| if matches!(c, '.' | ',') { n.is_ascii_digit() } else { n.is_alphanumeric() });
            if joins && next_ok {
                chars.next();
                continue;
            }
            end = i;
            break;
        }
        Some(Word { text: &text[start..end], span: Span::new(start, end) })
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
    let lower = word.to_lowercase();
    let base = lower.strip_suffix("'s").or_else(|| lower.strip_suffix("\u{2019}s")).unwrap_or(&lower);
    base.chars()
        .filter(|&c| c != '\'' && c != '\u{2019}')
        .map(|c| if c == '\u{2010}' || c == '\u{2011}' { '-' } else { c })
        .collect()
}

/// Turns sentences into stems. Holds the stemmer and a stem cache, so reuse one per thread.
pub struct Tokenizer {
    stemmer: Stemmer,
    stop_words: Option<Vec<&'static str>>,
    cache: HashMap<String, String>,
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
        Self { stemmer: Stemmer::create(Algorithm::English), stop_words, cache: HashMap::new() }
    }

    /// Appends the stems of `sentence`, in order, to `out`.
    pub fn stems_into(&mut self, sentence: &str, out: &mut Vec<String>) {
        for word in words(sentence) {
            let token = normalise(word.text);
            if let Some(stop) = &self.stop_words
                && stop.binary_search(&token.as_str()).is_ok()
            {
                continue;
            }
            out.push(self.stem(token));
        }
    }

    /// The stems of `sentence`, in order.
    pub fn stems(&mut self, sentence: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.stems_into(sentence, &mut out);
        out
    }

    fn stem(&mut self, token: String) -> String {
        if token == NUMBER_TOKEN {
            return token;
        }
        if let Some(stem) = self.cache.get(&token) {
            return stem.clone();
        }
        let stem = self.stemmer.stem(&token).into_owned();
        self.cache.insert(token, stem.clone());
        stem
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
    }

    #[test]
    fn stems_are_snowball_english() {
        let mut tok = Tokenizer::new(false);
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
