//! Training in one streaming pass: sentences go in one at a time and only per-n-gram counts are kept, so
//! memory grows with the vocabulary (every distinct n-gram seen, before `min_df` pruning), not with the
//! number of sentences.
//!
//! For every n-gram the trainer counts the sentences that contain it (document frequency, for `min_df`)
//! and its summed feature value per label: exactly the sufficient statistics linfa-bayes'
//! `MultinomialNb` accumulates in `fit`/`fit_with` (a test checks the counts are identical). Most n-grams
//! of a large corpus occur once, so an n-gram seen in one sentence keeps that sentence's label and count
//! in its 8-byte [`NodeStats`]; only from the second sentence on does it get a row of per-label sums.

use rustc_hash::FxHashMap;

use super::{Counts, MAX_SENTENCES, Model};
use crate::error::{Error, Result};
use crate::features::{GramTrie, Vocabulary, WordCache, for_each_gram};
use crate::params::ValidTrainParams;
use crate::text::tokens::Tokenizer;

/// What the trainer knows of one n-gram: the sentences containing it and where its per-label sums are.
#[derive(Debug, Clone, Copy, Default)]
struct NodeStats {
    df: u32,
    /// While `df <= 1` and it fits: the one sentence's label and count, packed by [`NodeStats::single`];
    /// else [`PROMOTED`] plus the index of the node's row in [`Trainer::sums`].
    slot: u32,
}

/// Marks a slot that points at a row of sums.
const PROMOTED: u32 = 1 << 31;

/// Where a node's per-label sums are.
enum Sums {
    /// No sentence yet.
    None,
    /// One sentence: its label and how often the n-gram occurs in it.
    Single { label: usize, count: u32 },
    /// The row with this index in [`Trainer::sums`].
    Row(usize),
}

impl NodeStats {
    /// The packed form of one sentence's contribution, if it fits (label < 2^15, count < 2^16).
    fn single(label: usize, count: u32) -> Option<u32> {
        (label < 1 << 15 && count < 1 << 16).then_some(((label as u32) << 16) | count)
    }

    fn sums(self) -> Sums {
        if self.slot & PROMOTED != 0 {
            Sums::Row((self.slot & !PROMOTED) as usize)
        } else if self.df == 0 {
            Sums::None
        } else {
            Sums::Single { label: (self.slot >> 16) as usize, count: self.slot & 0xffff }
        }
    }
}

/// Accumulates labelled sentences into naive Bayes counts.
#[derive(Debug)]
pub struct Trainer {
    params: ValidTrainParams,
    tokenizer: Tokenizer,
    words: WordCache,
    trie: GramTrie,
    /// By trie node.
    stats: Vec<NodeStats>,
    /// Rows of per-label sums, [`Trainer::labels`] wide, for n-grams seen in more than one sentence.
    sums: Vec<f64>,
    /// Labels in the order first seen.
    labels: Vec<String>,
    label_ids: FxHashMap<String, usize>,
    class_count: Vec<u64>,
    sentences: u64,
    hasher: blake3::Hasher,
    tokens: Vec<u32>,
    nodes: Vec<u32>,
    /// The current sentence's n-grams: (node, occurrences).
    counted: Vec<(u32, u32)>,
}

impl Trainer {
    /// A trainer with nothing counted yet.
    pub fn new(params: ValidTrainParams) -> Self {
        Self {
            params,
            tokenizer: Tokenizer::new(params.features().stop_words),
            words: WordCache::unbounded(),
            trie: GramTrie::default(),
            stats: Vec::new(),
            sums: Vec::new(),
            labels: Vec::new(),
            label_ids: FxHashMap::default(),
            class_count: Vec::new(),
            sentences: 0,
            hasher: blake3::Hasher::new(),
            tokens: Vec::new(),
            nodes: Vec::new(),
            counted: Vec::new(),
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
            trainer.stats.resize(trainer.trie.len(), NodeStats::default());
            let row = trainer.promote(node);
            for (l, counts) in model.feature_count.iter().enumerate() {
                trainer.sums[row + l] = counts[feature];
            }
            trainer.stats[node].df = min_df;
        }
        trainer
    }

    /// Counts one labelled sentence.
    pub fn add(&mut self, text: &str, label: &str) -> Result<()> {
        if self.sentences >= MAX_SENTENCES {
            return Err(Error::Invalid(format!("more than {MAX_SENTENCES} training sentences")));
        }
        let l = self.label(label);
        self.hash_row(b"", text, label);
        self.count_ngrams(text);
        let weighting = self.params.features().weighting;
        for i in 0..self.counted.len() {
            let (node, count) = self.counted[i];
            let node = node as usize;
            let stats = self.stats[node];
            self.stats[node].df = stats.df.saturating_add(1);
            match (stats.sums(), NodeStats::single(l, count)) {
                (Sums::None, Some(slot)) => self.stats[node].slot = slot,
                (Sums::Row(row), _) => self.sums[row * self.labels.len() + l] += weighting.apply(count),
                (Sums::None, None) => {
                    let row = self.promote(node);
                    self.sums[row + l] += weighting.apply(count);
                }
                (Sums::Single { label: first, count: first_count }, _) => {
                    let row = self.promote(node);
                    self.sums[row + first] += weighting.apply(first_count);
                    self.sums[row + l] += weighting.apply(count);
                }
            }
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
        self.hash_row(b"\x01", text, new);
        self.count_ngrams(text);
        let weighting = self.params.features().weighting;
        for i in 0..self.counted.len() {
            let (node, count) = self.counted[i];
            let node = node as usize;
            let row = match (self.stats[node].sums(), NodeStats::single(to, count)) {
                // Only this sentence has the n-gram: it simply changes label.
                (Sums::Single { .. }, Some(slot)) => {
                    self.stats[node].slot = slot;
                    continue;
                }
                (Sums::Single { .. }, None) => {
                    let row = self.promote(node);
                    self.sums[row + from] += weighting.apply(count);
                    row
                }
                (Sums::Row(row), _) => row * self.labels.len(),
                (Sums::None, _) => unreachable!("the sentence was counted before"),
            };
            self.sums[row + from] -= weighting.apply(count);
            self.sums[row + to] += weighting.apply(count);
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
        let mut terms: Vec<(String, usize)> = (self.stats.iter().enumerate())
            .filter(|&(_, stats)| stats.df >= min_df)
            .map(|(node, _)| (links.name(node as u32), node))
            .collect();
        if terms.is_empty() {
            return Err(Error::Invalid(format!(
                "the training sentences give no n-gram that occurs in at least {min_df} sentences (lower --min-df)"
            )));
        }
        terms.sort_unstable();
        let weighting = self.params.features().weighting;
        let sum = |node: usize, label: usize| match self.stats[node].sums() {
            Sums::None => 0.0,
            Sums::Single { label: only, count } => {
                if only == label {
                    weighting.apply(count)
                } else {
                    0.0
                }
            }
            Sums::Row(row) => self.sums[row * self.labels.len() + label],
        };
        let counts = Counts {
            class_count: labels.iter().map(|&(_, l)| self.class_count[l]).collect(),
            feature_count: (labels.iter())
                .map(|&(_, l)| terms.iter().map(|&(_, node)| sum(node, l)).collect())
                .collect(),
        };
        let vocabulary = Vocabulary::from_sorted(terms.into_iter().map(|(term, _)| term).collect());
        let labels = labels.into_iter().map(|(name, _)| name).collect();
        let training_data = self.hasher.finalize().to_hex().to_string();
        Model::from_counts(self.params, vocabulary, labels, counts, training_data)
    }

    /// The index of `label`, added if new (which widens every row of sums).
    fn label(&mut self, label: &str) -> usize {
        if let Some(&l) = self.label_ids.get(label) {
            return l;
        }
        let old = self.labels.len();
        if !self.sums.is_empty() {
            self.sums = self.sums.chunks(old).flat_map(|row| row.iter().copied().chain([0.0])).collect();
        }
        self.labels.push(label.to_owned());
        self.label_ids.insert(label.to_owned(), old);
        self.class_count.push(0);
        old
    }

    /// Gives `node` a row of sums (zeros) and returns its start.
    fn promote(&mut self, node: usize) -> usize {
        let width = self.labels.len();
        let row = self.sums.len() / width;
        assert!(row < PROMOTED as usize, "at most 2^31 n-grams can be seen twice");
        self.sums.resize(self.sums.len() + width, 0.0);
        self.stats[node].slot = PROMOTED | row as u32;
        row * width
    }

    fn hash_row(&mut self, marker: &[u8], text: &str, label: &str) {
        self.hasher.update(marker);
        self.hasher.update(text.as_bytes());
        self.hasher.update(b"\0");
        self.hasher.update(label.as_bytes());
        self.hasher.update(b"\n");
    }

    /// The n-grams of `text` with their number of occurrences into `self.counted`, every n-gram added to the
    /// trie.
    fn count_ngrams(&mut self, text: &str) {
        let Self { params, tokenizer, words, trie, tokens, nodes, counted, stats, .. } = self;
        let options = params.features();
        tokens.clear();
        words.encode(text, tokenizer, |stem| trie.intern_stem(stem), tokens);
        nodes.clear();
        let orders = (options.ngrams.min(), options.ngrams.max());
        for_each_gram(tokens, orders, |parent, stem| Some(trie.intern_child(parent, stem)), |node| nodes.push(node));
        nodes.sort_unstable();
        counted.clear();
        counted.extend(nodes.chunk_by(|a, b| a == b).map(|run| (run[0], run.len() as u32)));
        if stats.len() < trie.len() {
            stats.resize(trie.len(), NodeStats::default());
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
