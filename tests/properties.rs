//! Property tests: the splitter and tokeniser never panic and their spans always point back into the
//! text; a model survives save → load → save unchanged.

use narrative::data::Example;
use narrative::model::Model;
use narrative::params::TrainParams;
use narrative::text::sentences::split;
use narrative::text::tokens::{Tokenizer, words};
use proptest::prelude::*;

/// Characters a list marker may consist of (they are the only non-space text outside sentences).
fn is_marker(c: char) -> bool {
    matches!(c, '•' | '◦' | '▪' | '·' | '-' | '*' | '–' | '—' | '►' | '.' | ')') || c.is_ascii_digit()
}

/// News-like text: words, punctuation, quotes, abbreviations, line breaks, list markers and odd bytes.
fn newsy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Za-z]{1,8}",
        Just("U.S.".to_owned()),
        Just("Maj. Gen.".to_owned()),
        Just(". ".to_owned()),
        Just("? ".to_owned()),
        Just("\u{201c}".to_owned()),
        Just("\u{201d}".to_owned()),
        Just("\"".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("  1. ".to_owned()),
        Just("\u{2022} ".to_owned()),
        Just(" ".to_owned()),
        Just("ISIS-K's".to_owned()),
        Just("1,000.5".to_owned()),
        "\\PC{1,3}",
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn sentence_spans_are_ordered_disjoint_and_cover_the_text(text in prop_oneof![newsy(), "\\PC{0,200}"]) {
        let sentences = split(&text);
        let mut covered = vec![false; text.len()];
        let mut last_end = 0;
        for s in &sentences {
            prop_assert!(text.is_char_boundary(s.span.start) && text.is_char_boundary(s.span.end));
            prop_assert!(s.span.start >= last_end, "spans overlap or go backwards");
            prop_assert!(s.span.start < s.span.end, "empty sentence");
            prop_assert_eq!(&text[s.span.start..s.span.end], s.text);
            prop_assert_eq!(s.text.trim(), s.text);
            covered[s.span.start..s.span.end].iter_mut().for_each(|c| *c = true);
            last_end = s.span.end;
        }
        for (i, c) in text.char_indices() {
            prop_assert!(covered[i] || c.is_whitespace() || is_marker(c), "{:?} at byte {} is in no sentence", c, i);
        }
    }

    #[test]
    fn word_spans_point_into_the_text_and_stems_never_panic(text in prop_oneof![newsy(), "\\PC{0,200}"]) {
        let mut last_end = 0;
        for w in words(&text) {
            prop_assert!(w.span.start >= last_end && w.span.start < w.span.end);
            prop_assert_eq!(&text[w.span.start..w.span.end], w.text);
            last_end = w.span.end;
        }
        for stop_words in [false, true] {
            for stem in Tokenizer::new(stop_words).stems(&text) {
                prop_assert!(!stem.is_empty());
            }
        }
    }

    #[test]
    fn model_save_load_save_is_identity(
        rows in proptest::collection::vec(("[a-e]{1,3}( [a-e]{1,3}){0,5}", 0usize..3), 2..40),
        alpha in 0.01f64..3.0,
    ) {
        let mut examples: Vec<Example> = rows
            .iter()
            .map(|(text, l)| Example { text: text.clone(), label: format!("label{l}"), ..Example::default() })
            .collect();
        examples.push(Example { text: "zz".into(), label: "label0".into(), ..Example::default() });
        examples.push(Example { text: "yy".into(), label: "label1".into(), ..Example::default() });
        let params = TrainParams { alpha, min_df: 1, ..TrainParams::default() }.check().unwrap();
        let model = Model::train(&examples, &params).unwrap();
        let bytes = model.to_bytes();
        let loaded = Model::from_bytes(&bytes, std::path::Path::new("m")).unwrap();
        prop_assert_eq!(&loaded, &model);
        prop_assert_eq!(loaded.to_bytes(), bytes);
    }
}
