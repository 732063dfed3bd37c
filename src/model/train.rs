//! Training in one streaming pass: sentences go in one at a time and only per-n-gram counts are kept, so
//! memory grows with the vocabulary (every distinct n-gram seen, before `min_df` pruning), not with the
//! number of sentences.
//!
//! For every n-gram the trainer counts the sentences that contain it (document frequency, for `min_df`)
//! and its summed feature value per label: exactly the sufficient statistics linfa-bayes'
//! `MultinomialNb` accumulates in `fit`/`fit_with` (a test checks the counts are identical).

use rustc_hash::FxHashMap;

use super::{Counts, MAX_SENTENCES, Model};
use crate::error::{Error, Result};
use crate::features::{GramTrie, SparseRow, Vocabulary, WordCache, counted_row, for_each_gram};
use crate::params::ValidTrainParams;
use crate::text::tokens::Tokenizer;

/// Accumulates labelled sentences into naive Bayes counts.
#[derive(Debug)]
pub struct Trainer {
    params: ValidTrainParams,
    tokenizer: Tokenizer,
    words: WordCache,
    trie: GramTrie,
    /// Sentences containing each node's n-gram.
    df: Vec<u32>,
    /// Labels in the order first seen.
    labels: Vec<String>,
    label_ids: FxHashMap<String, usize>,
    class_count: Vec<u64>,
    /// `[label][node]` summed feature values.
    counts: Vec<Vec<f64>>,
    sentences: u64,
    hasher: blake3::Hasher,
    tokens: Vec<u32>,
    nodes: Vec<u32>,
    row: SparseRow,
}

impl Trainer {
    /// A trainer with nothing counted yet.
    pub fn new(params: ValidTrainParams) -> Self {
        Self {
            params,
            tokenizer: Tokenizer::new(params.features().stop_words),
            words: WordCache::default(),
            trie: GramTrie::default(),
            df: Vec::new(),
            labels: Vec::new(),
            label_ids: FxHashMap::default(),
            class_count: Vec::new(),
            counts: Vec::new(),
            sentences: 0,
            hasher: blake3::Hasher::new(),
            tokens: Vec::new(),
            nodes: Vec::new(),
            row: SparseRow::new(),
        }
    }

    /// A trainer that starts from `model`'s counts, options and labels (see [`Model::update`]). The model's
    /// n-grams stay in the vocabulary whatever `min_df` says: their document frequency is not stored.
    pub fn from_model(model: &Model) -> Self {
        let mut trainer = Self::new(model.params);
        trainer.hasher.update(model.training_data.as_bytes());
        for (label, &n) in model.labels.iter().zip(&model.class_count) {
            let l = trainer.label(label);
            trainer.class_count[l] = n;
        }
        trainer.sentences = model.class_count.iter().sum();
        let min_df = model.params.min_df();
        for (feature, term) in model.vocabulary.terms().iter().enumerate() {
            let node = trainer.trie.intern(term.split(' ')).expect("vocabulary terms are not empty") as usize;
            trainer.grow();
            trainer.df[node] = min_df;
            for (l, counts) in model.feature_count.iter().enumerate() {
                trainer.counts[l][node] = counts[feature];
            }
        }
        trainer
    }

    /// Counts one labelled sentence.
    pub fn add(&mut self, text: &str, label: &str) -> Result<()> {
        if self.sentences >= MAX_SENTENCES {
            return Err(Error::Invalid(format!("more than {MAX_SENTENCES} training sentences")));
        }
        let l = self.label(label);
        self.hasher.update(text.as_bytes());
        self.hasher.update(b"\0");
        self.hasher.update(label.as_bytes());
        self.hasher.update(b"\n");
        self.featurize(text);
        for &(node, value) in &self.row {
            self.df[node as usize] += 1;
            self.counts[l][node as usize] += value;
        }
        self.class_count[l] += 1;
        self.sentences += 1;
        Ok(())
    }

    /// Moves a sentence counted under `old` to `new` (a later file corrects its label). With `count`
    /// weighting this is exact; with `log` weighting the old label's sums may keep a rounding residue of a
    /// few units in the last place.
    pub fn relabel(&mut self, text: &str, old: &str, new: &str) -> Result<()> {
        let (from, to) = (self.label(old), self.label(new));
        if self.class_count[from] == 0 {
            return Err(Error::Invalid(format!("no sentence labelled {old:?} to relabel")));
        }
        self.hasher.update(b"\x01");
        self.hasher.update(text.as_bytes());
        self.hasher.update(b"\0");
        self.hasher.update(new.as_bytes());
        self.hasher.update(b"\n");
        self.featurize(text);
        for &(node, value) in &self.row {
            self.counts[from][node as usize] -= value;
            self.counts[to][node as usize] += value;
        }
        self.class_count[from] -= 1;
        self.class_count[to] += 1;
        Ok(())
    }

    /// Sentences counted so far.
    pub fn sentences(&self) -> u64 {
        self.sentences
    }

    /// The model: n-grams in at least `min_df` sentences, labels sorted (labels left with no sentence
    /// dropped), smoothed as linfa-bayes does.
    pub fn finish(self) -> Result<Model> {
        let mut labels: Vec<(String, usize)> = (self.labels.iter().cloned().enumerate())
            .filter(|&(l, _)| self.class_count[l] > 0)
            .map(|(l, name)| (name, l))
            .collect();
        labels.sort_unstable();
        match labels.as_slice() {
            [] => return Err(Error::Invalid("no training sentences".into())),
            [(only, _)] => {
                return Err(Error::Invalid(format!(
                    "all training sentences have the label {only:?}: a classifier needs at least two labels"
                )));
            }
            _ => {}
        }
        let min_df = self.params.min_df();
        let links = self.trie.links();
        let mut terms: Vec<(String, usize)> = (self.df.iter().enumerate())
            .filter(|&(_, &df)| df >= min_df)
            .map(|(node, _)| (links.name(node as u32), node))
            .collect();
        if terms.is_empty() {
            return Err(Error::Invalid(format!(
                "the training sentences give no n-gram that occurs in at least {min_df} sentences (lower --min-df)"
            )));
        }
        terms.sort_unstable();
        let counts = Counts {
            class_count: labels.iter().map(|&(_, l)| self.class_count[l]).collect(),
            feature_count: (labels.iter())
                .map(|&(_, l)| terms.iter().map(|&(_, node)| self.counts[l][node]).collect())
                .collect(),
        };
        let vocabulary = Vocabulary::from_sorted(terms.into_iter().map(|(term, _)| term).collect());
        let labels = labels.into_iter().map(|(name, _)| name).collect();
        let training_data = self.hasher.finalize().to_hex().to_string();
        Model::from_counts(self.params, vocabulary, labels, counts, training_data)
    }

    /// The index of `label`, added if new.
    fn label(&mut self, label: &str) -> usize {
        if let Some(&l) = self.label_ids.get(label) {
            return l;
        }
        let l = self.labels.len();
        self.labels.push(label.to_owned());
        self.label_ids.insert(label.to_owned(), l);
        self.class_count.push(0);
        self.counts.push(vec![0.0; self.trie.len()]);
        l
    }

    /// The weighted n-gram counts of `text` into `self.row` (by node), every n-gram added to the trie.
    fn featurize(&mut self, text: &str) {
        let Self { params, tokenizer, words, trie, tokens, nodes, row, .. } = self;
        let options = params.features();
        tokens.clear();
        words.encode(text, tokenizer, |stem| trie.intern_stem(stem), tokens);
        nodes.clear();
        let orders = (options.ngrams.min(), options.ngrams.max());
        for_each_gram(tokens, orders, |parent, stem| Some(trie.intern_child(parent, stem)), |node| nodes.push(node));
        counted_row(nodes, options.weighting, row);
        self.grow();
    }

    /// Gives every node of the trie its counters.
    fn grow(&mut self) {
        let len = self.trie.len();
        if self.df.len() < len {
            self.df.resize(len, 0);
            for counts in &mut self.counts {
                counts.resize(len, 0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::TrainParams;

    fn params() -> ValidTrainParams {
        TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap()
    }

    #[test]
    fn relabelling_equals_training_with_the_corrected_label() {
        let mut corrected = Trainer::new(params());
        corrected.add("Kyiv denied it", "blame").unwrap();
        corrected.add("The US warned of an attack", "neutral").unwrap();
        corrected.add("ISIS claimed the attack", "isis").unwrap();
        corrected.relabel("The US warned of an attack", "neutral", "warning").unwrap();
        let corrected = corrected.finish().unwrap();

        let mut direct = Trainer::new(params());
        direct.add("Kyiv denied it", "blame").unwrap();
        direct.add("The US warned of an attack", "warning").unwrap();
        direct.add("ISIS claimed the attack", "isis").unwrap();
        let direct = direct.finish().unwrap();
        assert_eq!(corrected.labels(), ["blame", "isis", "warning"], "a label left with no sentence is dropped");
        assert_eq!(corrected.class_count(), direct.class_count());
        assert_eq!(corrected.feature_count(), direct.feature_count());
        assert_eq!(corrected.vocabulary(), direct.vocabulary());
    }

    #[test]
    fn min_df_counts_sentences_not_occurrences() {
        let mut t = Trainer::new(TrainParams { min_df: 2, ..TrainParams::default() }.check().unwrap());
        t.add("warned warned warned", "a").unwrap();
        t.add("Kyiv warned", "b").unwrap();
        t.add("Kyiv", "a").unwrap();
        t.add("Moscow", "b").unwrap();
        let model = t.finish().unwrap();
        assert_eq!(model.vocabulary().terms(), ["kyiv", "warn"]);
        assert_eq!(model.feature_count()[0][1], 3.0, "every occurrence counts once the n-gram is kept");
    }

    #[test]
    fn training_needs_two_labels_and_a_vocabulary() {
        let mut t = Trainer::new(params());
        t.add("only one", "a").unwrap();
        assert!(t.finish().unwrap_err().to_string().contains("at least two labels"));
        assert!(Trainer::new(params()).finish().unwrap_err().to_string().contains("no training sentences"));
        let mut t = Trainer::new(TrainParams { min_df: 3, ..TrainParams::default() }.check().unwrap());
        t.add("one", "a").unwrap();
        t.add("two", "b").unwrap();
        assert!(t.finish().unwrap_err().to_string().contains("lower --min-df"));
    }
}
