//! Features: word n-grams over stems, a vocabulary learned from training sentences, sparse count rows.
//!
//! An n-gram is its stems joined by one space (`"pin blame"`). Rows are sparse `(feature id, value)` lists
//! sorted by id: a sentence touches a few dozen features out of tens of thousands, so nothing on the
//! classify path ever builds a dense row over the whole vocabulary.

use rustc_hash::FxHashMap;

use crate::params::FeatureOptions;
use crate::text::tokens::Tokenizer;

/// A sparse feature row: `(feature id, value)` pairs sorted by id, each id once.
pub type SparseRow = Vec<(u32, f64)>;

/// The n-grams known to a model, sorted, each with its id (its position).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vocabulary {
    terms: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Vocabulary {
    /// Learns the vocabulary: every n-gram that occurs in at least `min_df` of `sentences`.
    pub fn fit<'a>(sentences: impl IntoIterator<Item = &'a str>, featurizer: &mut Featurizer, min_df: u32) -> Self {
        let mut df: FxHashMap<String, u32> = FxHashMap::default();
        let mut seen: Vec<String> = Vec::new();
        for sentence in sentences {
            seen.clear();
            featurizer.for_each_ngram(sentence, |gram| seen.push(gram.to_owned()));
            seen.sort_unstable();
            seen.dedup();
            for gram in seen.drain(..) {
                *df.entry(gram).or_insert(0) += 1;
            }
        }
        let mut terms: Vec<String> = df.into_iter().filter(|&(_, n)| n >= min_df).map(|(t, _)| t).collect();
        terms.sort_unstable();
        Self::from_sorted(terms)
    }

    /// A vocabulary from terms that must be sorted and unique (as stored in a model file).
    pub fn from_terms(terms: Vec<String>) -> Result<Self, String> {
        if let Some(w) = terms.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!("vocabulary is not sorted and unique at {:?}", w[1]));
        }
        if u32::try_from(terms.len()).is_err() {
            return Err("vocabulary has more than 2^32 terms".into());
        }
        Ok(Self::from_sorted(terms))
    }

    fn from_sorted(terms: Vec<String>) -> Self {
        let index = terms.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Self { terms, index }
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms in id order.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The id of `term`, if known.
    pub fn get(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }
}

/// Turns sentences into n-grams and sparse rows. Keeps buffers and a stem cache: one per thread.
#[derive(Debug)]
pub struct Featurizer {
    options: FeatureOptions,
    tokenizer: Tokenizer,
    stems: Vec<String>,
    gram: String,
    ids: Vec<u32>,
}

impl Featurizer {
    /// A featurizer for `options`.
    pub fn new(options: FeatureOptions) -> Self {
        Self {
            options,
            tokenizer: Tokenizer::new(options.stop_words),
            stems: Vec::new(),
            gram: String::new(),
            ids: Vec::new(),
        }
    }

    /// The options this featurizer applies.
    pub fn options(&self) -> FeatureOptions {
        self.options
    }

    /// Calls `f` with every n-gram of `sentence` in the configured orders, in text order, shortest first
    /// at each position.
    pub fn for_each_ngram(&mut self, sentence: &str, mut f: impl FnMut(&str)) {
        self.stems.clear();
        self.tokenizer.stems_into(sentence, &mut self.stems);
        let (lo, hi) = (self.options.ngrams.min(), self.options.ngrams.max());
        for start in 0..self.stems.len() {
            self.gram.clear();
            for (n, stem) in self.stems[start..].iter().take(hi).enumerate() {
                if n > 0 {
                    self.gram.push(' ');
                }
                self.gram.push_str(stem);
                if n + 1 >= lo {
                    f(&self.gram);
                }
            }
        }
    }

    /// The sparse row of `sentence` over `vocabulary`; n-grams outside the vocabulary are ignored.
    pub fn transform(&mut self, sentence: &str, vocabulary: &Vocabulary) -> SparseRow {
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        self.for_each_ngram(sentence, |gram| ids.extend(vocabulary.get(gram)));
        ids.sort_unstable();
        let mut row = SparseRow::with_capacity(ids.len());
        let mut i = 0;
        while i < ids.len() {
            let run = ids[i..].iter().take_while(|&&id| id == ids[i]).count();
            row.push((ids[i], self.options.weighting.apply(run as u32)));
            i += run;
        }
        self.ids = ids;
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{NgramRange, Weighting};

    fn options(lo: u8, hi: u8) -> FeatureOptions {
        FeatureOptions { ngrams: NgramRange::new(lo, hi).unwrap(), stop_words: false, weighting: Weighting::Count }
    }

    fn grams(featurizer: &mut Featurizer, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        featurizer.for_each_ngram(s, |g| out.push(g.to_owned()));
        out
    }

    #[test]
    fn ngrams_follow_the_range() {
        assert_eq!(
            grams(&mut Featurizer::new(options(1, 2)), "Kyiv denied it"),
            ["kyiv", "kyiv deni", "deni", "deni it", "it"]
        );
        assert_eq!(
            grams(&mut Featurizer::new(options(2, 3)), "Kyiv denied it"),
            ["kyiv deni", "kyiv deni it", "deni it"]
        );
        assert!(grams(&mut Featurizer::new(options(2, 2)), "Kyiv").is_empty());
    }

    #[test]
    fn vocabulary_respects_min_df_and_is_sorted() {
        let sentences = ["Kyiv denied it", "Kyiv denied it again", "ISIS claimed it"];
        let mut f = Featurizer::new(options(1, 1));
        let vocab = Vocabulary::fit(sentences, &mut f, 2);
        assert_eq!(vocab.terms(), ["deni", "it", "kyiv"]);
        assert_eq!(vocab.get("kyiv"), Some(2));
        assert_eq!(Vocabulary::fit(sentences, &mut f, 1).len(), 6);
    }

    #[test]
    fn rows_are_sparse_counts_sorted_by_id() {
        let mut f = Featurizer::new(options(1, 1));
        let vocab = Vocabulary::fit(["warned warned Russia", "Russia"], &mut f, 1);
        let row = f.transform("Russia warned, warned and warned again", &vocab);
        assert_eq!(row, vec![(vocab.get("russia").unwrap(), 1.0), (vocab.get("warn").unwrap(), 3.0)]);
        assert!(row.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn from_terms_rejects_unsorted() {
        assert!(Vocabulary::from_terms(vec!["b".into(), "a".into()]).is_err());
        assert!(Vocabulary::from_terms(vec!["a".into(), "a".into()]).is_err());
        assert!(Vocabulary::from_terms(vec!["a".into(), "b".into()]).is_ok());
    }
}
