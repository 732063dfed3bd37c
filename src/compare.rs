//! What changed between two models: how labels move over a corpus, with examples of each move.

use std::collections::BTreeMap;

use serde::Serialize;

/// Something per label move: `old label` → `new label` → value.
pub type Moves<T> = BTreeMap<String, BTreeMap<String, T>>;

/// One sentence whose label changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedSentence {
    /// Its document.
    pub doc: String,
    /// Its position in the document, from 1.
    pub sentence: usize,
    /// The sentence.
    pub text: String,
}

/// Label changes between an old and a new model over the same sentences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelChanges {
    /// Sentences compared.
    pub sentences: u64,
    /// Sentences whose label differs.
    pub changed: u64,
    /// `(old label, new label)` → number of sentences, for changed sentences only.
    pub moves: Moves<u64>,
    /// Up to `examples` sentences per move, in corpus order.
    pub examples: Moves<Vec<ChangedSentence>>,
    #[serde(skip)]
    keep: usize,
}

impl LabelChanges {
    /// An empty tally that keeps up to `examples` example sentences per move.
    pub fn new(examples: usize) -> Self {
        Self { sentences: 0, changed: 0, moves: BTreeMap::new(), examples: BTreeMap::new(), keep: examples }
    }

    /// Records one sentence's old and new label.
    pub fn record(&mut self, doc: &str, sentence: usize, text: &str, old: &str, new: &str) {
        self.sentences += 1;
        if old == new {
            return;
        }
        self.changed += 1;
        *self.moves.entry(old.to_owned()).or_default().entry(new.to_owned()).or_default() += 1;
        let examples = self.examples.entry(old.to_owned()).or_default().entry(new.to_owned()).or_default();
        if examples.len() < self.keep {
            examples.push(ChangedSentence { doc: doc.to_owned(), sentence, text: text.to_owned() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_moves_and_keeps_a_few_examples() {
        let mut c = LabelChanges::new(1);
        c.record("a", 1, "one", "neutral", "neutral");
        c.record("a", 2, "two", "neutral", "warning_claim");
        c.record("b", 1, "three", "neutral", "warning_claim");
        c.record("b", 2, "four", "isis", "neutral");
        assert_eq!((c.sentences, c.changed), (4, 3));
        assert_eq!(c.moves["neutral"]["warning_claim"], 2);
        let kept = &c.examples["neutral"]["warning_claim"];
        assert_eq!(kept, &[ChangedSentence { doc: "a".into(), sentence: 2, text: "two".into() }]);
        assert_eq!(c.moves["isis"]["neutral"], 1);
    }
}
