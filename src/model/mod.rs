//! The naive Bayes model: multinomial naive Bayes over sparse n-gram counts, the same model as
//! linfa-bayes' `MultinomialNb`.
//!
//! Training ([`train::Trainer`]) streams sentences and keeps the per-label counts linfa-bayes accumulates;
//! the smoothed log-probabilities are derived from them exactly as linfa-bayes does:
//! `ln P(term | label) = ln(count + alpha) - ln(Σ(count + alpha))`, prior = label's sentences / all sentences.
//! linfa-bayes itself takes only dense matrices (a million sentences by a million n-grams would be
//! terabytes), so it is the reference the tests check counts and posteriors against, and
//! [`Model::to_linfa`] hands a trained model to linfa code.
//! Prediction is sparse: a sentence costs one multiply-add per label for each n-gram it contains.
//! Posteriors are normalised with a max-subtracted log-sum-exp in f64, so they never overflow (linfa's
//! own `predict_proba` does). Ties go to the label that sorts first.

pub mod file;
mod log_probs;
pub mod train;

use linfa_bayes::MultinomialNb;
use ndarray::Array1;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::data::{Example, FileDigest};
use crate::error::{Error, Result};
use crate::features::{Featurizer, SENTENCES_AT_ONCE, SparseRow, Vocabulary};
use crate::memory::Buffer;
use crate::params::ValidTrainParams;
use log_probs::{LnStore, LogProbs};
use train::Trainer;

/// The most training sentences a model may count (2^53: every count stays exact in f64).
pub const MAX_SENTENCES: u64 = 1 << 53;

/// Everything needed to classify: vocabulary, labels, priors and smoothed log-probabilities. This is what
/// `classify` and `report` load: a model file's counts are smoothed as they are read and not kept, so a
/// large model loads faster and in less memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    params: ValidTrainParams,
    vocabulary: Vocabulary,
    labels: Vec<String>,
    class_count: Vec<u64>,
    training_data: String,
    lineage: Lineage,
    log_prior: Vec<f64>,
    /// Smoothed log-probabilities (read at random for every n-gram of every sentence, so on huge pages).
    feature_log_prob: LogProbs,
}

/// A trained model: a [`Classifier`] and the per-label feature counts it was smoothed from, which updating,
/// saving and handing the model to linfa need. It derefs to its classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    classifier: Classifier,
    /// `[label][feature]` summed feature values.
    feature_count: Vec<Buffer<f64>>,
}

impl std::ops::Deref for Model {
    type Target = Classifier;

    fn deref(&self) -> &Classifier {
        &self.classifier
    }
}

/// Where a model came from: the BLAKE3 hash of the model file it was updated from (none for a model
/// trained from scratch) and every data file that went into it, its parent's included.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lineage {
    /// BLAKE3 (hex) of the parent model file's bytes.
    pub parent: Option<String>,
    /// Every data file that went into the model, oldest first.
    pub data: Vec<FileDigest>,
}

/// The posterior of every label for one sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the most probable label in [`Classifier::labels`].
    pub label: usize,
    /// Posterior probability of each label, in [`Classifier::labels`] order; sums to 1.
    pub probabilities: Posteriors,
}

/// One probability per label, held inline up to [`INLINE_LABELS`] labels: a prediction is made for every
/// sentence, and a heap allocation each (freed on another thread when classifying on several) cost more
/// than the naive Bayes sum itself.
pub type Posteriors = SmallVec<[f64; INLINE_LABELS]>;

/// Labels whose posteriors a [`Prediction`] holds without a heap allocation.
pub const INLINE_LABELS: usize = 8;

impl Prediction {
    /// The posterior of the predicted label.
    pub fn confidence(&self) -> f64 {
        self.probabilities[self.label]
    }
}

/// Counts checked and smoothed: the part of a classifier that takes time to derive, so that it can be
/// derived while the vocabulary is being indexed.
#[derive(Debug)]
pub(crate) struct Smoothed {
    class_count: Vec<u64>,
    log_prior: Vec<f64>,
    feature_log_prob: LogProbs,
    terms: usize,
    alpha: f64,
}

impl Smoothed {
    /// Checks `counts` against the number of labels and terms and derives the log-probabilities.
    pub(crate) fn new(counts: &Counts, labels: usize, terms: usize, alpha: f64) -> Result<Self> {
        if counts.feature_count.len() != labels {
            return Err(Error::Invalid(format!("counts for {} labels, expected {labels}", counts.feature_count.len())));
        }
        if let Some(row) = counts.feature_count.iter().find(|r| r.len() != terms) {
            return Err(Error::Invalid(format!("a label has {} feature counts, expected {terms}", row.len())));
        }
        let mut smoothing = Smoothing::new(labels, terms, alpha);
        for row in &counts.feature_count {
            smoothing.push(row);
        }
        smoothing.finish(counts.class_count.clone())
    }
}

/// Smooths feature counts into log-probabilities as they come, label by label and each label's in feature
/// order (the order of a model file), so that a file's counts need not be held to be smoothed. The result
/// is the very same bits as smoothing them all at once.
pub(crate) struct Smoothing {
    labels: usize,
    terms: usize,
    /// `ln(count + alpha)` until [`Smoothing::finish`] subtracts each label's log total.
    ln_counts: LnStore,
    /// `ln Σ(count + alpha)` of each label whose counts are all in.
    log_totals: Vec<f64>,
    /// Counts of the current label taken so far, and their sum plus alpha each.
    filled: usize,
    total: f64,
    /// Whether every count so far is finite and non-negative.
    valid: bool,
}

impl Smoothing {
    pub(crate) fn new(labels: usize, terms: usize, alpha: f64) -> Self {
        Self {
            labels,
            terms,
            ln_counts: LnStore::new(labels, terms, alpha),
            log_totals: Vec::with_capacity(labels),
            filled: 0,
            total: 0.0,
            valid: true,
        }
    }

    /// Takes the next counts: the current label's, then, once it has one per term, the next label's.
    pub(crate) fn push(&mut self, counts: &[f64]) {
        let Self { labels, terms, ln_counts, log_totals, .. } = self;
        let alpha = ln_counts.alpha();
        let (mut total, mut valid, mut filled) = (self.total, self.valid, self.filled);
        let mut counts = counts;
        while !counts.is_empty() {
            let label = log_totals.len();
            assert!(label < *labels, "more counts than labels times terms");
            // The rest of this label's counts at most.
            let (run, rest) = counts.split_at((*terms - filled).min(counts.len()));
            for &count in run {
                // Without early exit (and NaN failing both comparisons), the check costs next to nothing.
                valid &= (0.0..=f64::MAX).contains(&count);
                total += count + alpha;
            }
            ln_counts.set_run(filled, label, run);
            (filled, counts) = (filled + run.len(), rest);
            if filled == *terms {
                log_totals.push(total.ln());
                (total, filled) = (0.0, 0);
            }
        }
        (self.total, self.valid, self.filled) = (total, valid, filled);
    }

    /// The smoothed counts, once every label's are in, with the priors from `class_count`.
    pub(crate) fn finish(self, class_count: Vec<u64>) -> Result<Smoothed> {
        let invalid = |m: String| Err(Error::Invalid(m));
        if class_count.len() != self.labels {
            return invalid(format!("counts for {} labels, expected {}", class_count.len(), self.labels));
        }
        assert!(self.terms == 0 || self.log_totals.len() == self.labels, "every label's counts are smoothed");
        if !self.valid {
            return invalid("feature counts must be finite and non-negative".into());
        }
        // Counts beyond 2^53 are not exact in f64 and leave no room for updates; a sum that large is a
        // corrupt file, not a corpus (found by fuzzing: the plain sum overflowed).
        let total = class_count.iter().try_fold(0u64, |sum, &n| sum.checked_add(n)).filter(|&t| t <= MAX_SENTENCES);
        let Some(total) = total else {
            return invalid(format!("label counts add up to more than {MAX_SENTENCES} sentences"));
        };
        if total == 0 {
            return invalid("no training sentences are counted".into());
        }
        let log_prior = class_count.iter().map(|&n| (n as f64 / total as f64).ln()).collect();
        let Self { ln_counts, log_totals, terms, .. } = self;
        let alpha = ln_counts.alpha();
        let feature_log_prob = ln_counts.finish(&log_totals);
        Ok(Smoothed { class_count, log_prior, feature_log_prob, terms, alpha })
    }
}

/// Per-label counts: sentences per label and summed feature values per label.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Sentences per label.
    pub class_count: Vec<u64>,
    /// `[label][feature]` summed feature values.
    pub feature_count: Vec<Buffer<f64>>,
}

impl Model {
    /// Trains on `examples` (labels are taken from the data, sorted). [`Trainer`] does the same from a
    /// stream.
    pub fn train<'a>(examples: impl IntoIterator<Item = &'a Example>, params: &ValidTrainParams) -> Result<Self> {
        let mut trainer = Trainer::new(*params);
        trainer.feed(std::num::NonZeroUsize::MIN, |feeder| {
            examples.into_iter().try_for_each(|e| feeder.add(&e.text, &e.label))
        })?;
        trainer.finish(std::num::NonZeroUsize::MIN)
    }

    /// Folds new labelled sentences into this model, with the same options, in time proportional to the
    /// new data (and the vocabulary), not the old corpus.
    ///
    /// Naive Bayes is additive: the old per-label counts are the starting point and the new sentences'
    /// counts are added (as linfa-bayes' `fit_with` does). Labels that occur only in the new data become
    /// new classes. Words unseen at first training: an n-gram that occurs in at least `min_df` of the new
    /// sentences joins the vocabulary; its count in the old data is taken as zero, because the old
    /// sentences are not stored. So with `min_df = 1` the result has exactly the counts of training on old
    /// and new data together; with a larger `min_df` it differs only in n-grams that were rarer than
    /// `min_df` in each part alone.
    pub fn update(&self, examples: &[Example]) -> Result<Self> {
        if examples.is_empty() {
            return Err(Error::Invalid("no new training sentences".into()));
        }
        let mut trainer = Trainer::from_model(self);
        trainer.feed(std::num::NonZeroUsize::MIN, |feeder| {
            examples.iter().try_for_each(|e| feeder.add(&e.text, &e.label))
        })?;
        trainer.finish(std::num::NonZeroUsize::MIN)
    }

    /// Records where this model came from.
    pub fn set_lineage(&mut self, lineage: Lineage) {
        self.classifier.lineage = lineage;
    }

    /// Assembles a model from its stored parts, checking that they fit together.
    pub fn from_counts(
        params: ValidTrainParams,
        vocabulary: Vocabulary,
        labels: Vec<String>,
        counts: Counts,
        training_data: String,
    ) -> Result<Self> {
        let smoothed = Smoothed::new(&counts, labels.len(), vocabulary.len(), params.alpha())?;
        let classifier = Classifier::from_smoothed(params, vocabulary, labels, smoothed, training_data)?;
        Ok(Self { classifier, feature_count: counts.feature_count })
    }

    /// Summed feature values per label, `[label][feature]`.
    pub fn feature_count(&self) -> &[Buffer<f64>] {
        &self.feature_count
    }
}

impl Classifier {
    /// Assembles a classifier from a vocabulary and counts smoothed for it (see [`Smoothed::new`]).
    pub(crate) fn from_smoothed(
        params: ValidTrainParams,
        vocabulary: Vocabulary,
        labels: Vec<String>,
        smoothed: Smoothed,
        training_data: String,
    ) -> Result<Self> {
        if labels.is_empty() || labels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Invalid("labels must be non-empty, sorted and unique".into()));
        }
        let Smoothed { class_count, log_prior, feature_log_prob, terms, alpha } = smoothed;
        if labels.len() != class_count.len() || vocabulary.len() != terms || alpha != params.alpha() {
            return Err(Error::Invalid("counts smoothed for another model".into()));
        }
        Ok(Self {
            params,
            vocabulary,
            labels,
            class_count,
            training_data,
            lineage: Lineage::default(),
            log_prior,
            feature_log_prob,
        })
    }

    /// Where this model came from: its parent model and the data files that went into it.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// The labels, sorted; every probability vector follows this order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The options the model was trained with.
    pub fn params(&self) -> &ValidTrainParams {
        &self.params
    }

    /// The vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Training sentences per label.
    pub fn class_count(&self) -> &[u64] {
        &self.class_count
    }

    /// BLAKE3 hash (hex) of the training sentences and labels, in training order.
    pub fn training_data(&self) -> &str {
        &self.training_data
    }

    /// Smoothed `ln P(term | label)` for a feature id and a label index.
    pub fn log_prob(&self, feature: usize, label: usize) -> f64 {
        self.feature_log_prob.get(feature, label)
    }

    /// A featurizer matching this model's options (one per thread).
    pub fn featurizer(&self) -> Featurizer {
        Featurizer::new(self.params.features())
    }

    /// Unnormalised log posterior of each label (`ln prior + Σ value × ln P(term | label)`) into `out`.
    pub fn joint_log_likelihood(&self, row: &SparseRow, out: &mut [f64]) {
        out.copy_from_slice(&self.log_prior);
        self.feature_log_prob.add_row(row, out);
    }

    /// Posteriors of every label for a sparse row.
    pub fn predict_row(&self, row: &SparseRow) -> Prediction {
        let mut probabilities = Posteriors::from_elem(0.0, self.labels.len());
        self.joint_log_likelihood(row, &mut probabilities);
        let label = normalise_log_posteriors(&mut probabilities);
        Prediction { label, probabilities }
    }

    /// The posteriors of every label for each of `sentences`, appended to `out` in order: the same as
    /// [`Classifier::predict`] on each, but faster on a large model, as a few sentences at a time go
    /// through each stage together (see [`Featurizer::features_all`]).
    pub fn predict_all(&self, featurizer: &mut Featurizer, sentences: &[&str], out: &mut Vec<Prediction>) {
        for group in sentences.chunks(SENTENCES_AT_ONCE) {
            let rows = featurizer.features_all(group, &self.vocabulary);
            rows.iter().for_each(|row| self.feature_log_prob.prefetch(row));
            out.extend(rows.iter().map(|row| self.predict_row(row)));
        }
    }

    /// Posteriors of every label for one sentence.
    pub fn predict(&self, featurizer: &mut Featurizer, sentence: &str) -> Prediction {
        self.predict_row(featurizer.features(sentence, &self.vocabulary))
    }
}

/// Turns log joint likelihoods into probabilities in place (max-subtracted log-sum-exp); returns the
/// index of the largest, the first one on ties.
pub fn normalise_log_posteriors(values: &mut [f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    let max = values[best];
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
    best
}

impl Model {
    /// The model as a linfa-bayes `MultinomialNb` over the same feature ids (for linfa code; its classes
    /// are this model's labels, except labels with no sentences, which linfa cannot hold).
    pub fn to_linfa(&self) -> MultinomialNb<f64, String> {
        let total: u64 = self.class_count.iter().sum();
        let class_info = (self.labels.iter().zip(&self.class_count).zip(&self.feature_count))
            .enumerate()
            .filter(|(_, ((_, n), _))| **n > 0)
            .map(|(label, ((name, &n), counts))| {
                let log_prob = (0..counts.len()).map(|feature| self.log_prob(feature, label)).collect();
                let histogram = LinfaHistogram {
                    class_count: n,
                    prior: n as f64 / total as f64,
                    feature_count: Array1::from(counts.to_vec()),
                    feature_log_prob: log_prob,
                };
                (name.clone(), histogram)
            })
            .collect();
        let value = serde_json::to_value(LinfaModel { class_info }).expect("histograms serialise");
        serde_json::from_value(value).expect("linfa-bayes 0.8.1 serde layout")
    }
}

/// linfa-bayes' serde form of `MultinomialNb` (its fields are private; serde is the only way in or out).
#[derive(Serialize, Deserialize)]
struct LinfaModel {
    class_info: std::collections::HashMap<String, LinfaHistogram>,
}

#[derive(Serialize, Deserialize)]
struct LinfaHistogram {
    class_count: u64,
    prior: f64,
    feature_count: Array1<f64>,
    feature_log_prob: Array1<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{TrainParams, Weighting};
    use linfa::dataset::Dataset;
    use linfa::prelude::{Fit, Predict};
    use linfa_bayes::NaiveBayes;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    trait ToCounts {
        fn to_linfa_counts(&self, labels: &[String]) -> Counts;
    }

    impl ToCounts for MultinomialNb<f64, String> {
        /// The per-label counts of a fitted linfa-bayes model (through its serde form).
        fn to_linfa_counts(&self, labels: &[String]) -> Counts {
            let value = serde_json::to_value(self).unwrap();
            let parsed: LinfaModel = serde_json::from_value(value).unwrap();
            Counts {
                class_count: labels.iter().map(|l| parsed.class_info[l].class_count).collect(),
                feature_count: labels
                    .iter()
                    .map(|l| Buffer::from_exact_iter(parsed.class_info[l].feature_count.iter().copied()))
                    .collect(),
            }
        }
    }

    const WORDS: [&str; 12] =
        ["kyiv", "denied", "attack", "isis", "claimed", "warned", "us", "embassy", "moscow", "blamed", "the", "west"];

    /// `n` random sentences over a small vocabulary, with random labels out of `labels`.
    fn random_examples(rng: &mut ChaCha8Rng, n: usize, labels: usize) -> Vec<Example> {
        (0..n)
            .map(|_| {
                let len = rng.random_range(1..12);
                let words: Vec<&str> = (0..len).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
                example(&words.join(" "), &format!("label_{}", rng.random_range(0..labels)))
            })
            .collect()
    }

    /// The dense matrix of `examples` over `model`'s vocabulary, and their labels.
    fn dense(model: &Model, examples: &[Example]) -> (Array2<f64>, Array1<String>) {
        let mut f = model.featurizer();
        let mut x = Array2::<f64>::zeros((examples.len(), model.vocabulary().len()));
        for (i, e) in examples.iter().enumerate() {
            for &(j, v) in f.features(&e.text, model.vocabulary()) {
                x[[i, j as usize]] = v;
            }
        }
        (x, examples.iter().map(|e| e.label.clone()).collect())
    }

    /// Fits linfa-bayes on `(x, y)`, its left-over `dbg!` (every histogram to stderr) silenced.
    fn fit_linfa(x: Array2<f64>, y: Array1<String>, alpha: f64) -> MultinomialNb<f64, String> {
        let _quiet = gag::Gag::stderr().ok();
        MultinomialNb::params().alpha(alpha).fit(&Dataset::new(x, y)).unwrap()
    }

    #[test]
    fn trainer_counts_equal_linfa_fit() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let examples = random_examples(&mut rng, 300, 4);
        for weighting in [Weighting::Count, Weighting::Log] {
            let params = TrainParams { min_df: 1, alpha: 0.5, weighting, ..TrainParams::default() }.check().unwrap();
            let model = Model::train(&examples, &params).unwrap();
            let (x, y) = dense(&model, &examples);
            let reference = fit_linfa(x, y, 0.5).to_linfa_counts(model.labels());
            assert_eq!(model.class_count(), reference.class_count);
            for (ours, theirs) in model.feature_count().iter().zip(&reference.feature_count) {
                for (a, b) in ours.iter().zip(theirs) {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{weighting}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn sparse_prediction_equals_linfa_joint_log_likelihood() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let params = TrainParams { min_df: 1, alpha: 0.7, ..TrainParams::default() }.check().unwrap();
        let model = Model::train(&random_examples(&mut rng, 200, 3), &params).unwrap();
        let nb = model.to_linfa();
        let test = random_examples(&mut rng, 50, 3);
        let (x, _) = dense(&model, &test);
        let jll = nb.joint_log_likelihood(x.view());
        let mut f = model.featurizer();
        for (i, e) in test.iter().enumerate() {
            let mut reference: Vec<f64> = model.labels().iter().map(|l| jll[l][i]).collect();
            let reference_label = normalise_log_posteriors(&mut reference);
            let ours = model.predict(&mut f, &e.text);
            assert_eq!(ours.label, reference_label, "row {i}");
            for (a, b) in ours.probabilities.iter().zip(&reference) {
                assert!((a - b).abs() < 1e-12, "row {i}: {a} vs {b}");
            }
        }
        // linfa's own argmax agrees too.
        let predicted = nb.predict(&x);
        let mut f = model.featurizer();
        for (e, label) in test.iter().zip(predicted.iter()) {
            assert_eq!(&model.labels()[model.predict(&mut f, &e.text).label], label, "{}", e.text);
        }
    }

    #[test]
    fn probabilities_do_not_overflow_on_long_sentences() {
        let mut values = vec![-5000.0, -5001.0, -7000.0];
        let best = normalise_log_posteriors(&mut values);
        assert_eq!(best, 0);
        assert!(values.iter().all(|v| v.is_finite()));
        assert!((values.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_go_to_the_first_label() {
        let mut values = vec![-1.0, -1.0];
        assert_eq!(normalise_log_posteriors(&mut values), 0);
    }

    fn example(text: &str, label: &str) -> Example {
        Example { text: text.into(), label: label.into(), ..Example::default() }
    }

    /// Five labelled sentences, three labels.
    fn five_examples() -> [Example; 5] {
        [
            example("Islamic State claimed responsibility for the attack", "isis"),
            example("The Islamic State group claimed the massacre", "isis"),
            example("Kyiv denied any involvement in the attack", "blame"),
            example("Moscow accused Kyiv of organising the massacre", "blame"),
            example("The death toll rose to 140", "other"),
        ]
    }

    #[test]
    fn trains_on_text_and_predicts_string_labels() {
        let model = Model::train(&five_examples(), &TrainParams::default().check().unwrap()).unwrap();
        assert_eq!(model.labels(), ["blame", "isis", "other"]);
        assert_eq!(model.class_count(), [2, 2, 1]);
        let mut f = model.featurizer();
        let p = model.predict(&mut f, "Kyiv rejected the accusation");
        assert_eq!(model.labels()[p.label], "blame");
        assert_eq!(p.probabilities.len(), 3);
        assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sentences_predicted_together_are_predicted_as_one_by_one() {
        let examples = five_examples();
        let model = Model::train(&examples, &TrainParams::default().check().unwrap()).unwrap();
        let mut sentences: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        // More than one group, with empty, unknown, repeated and stop-word-only sentences between.
        sentences.extend(["", "Kyiv Kyiv Kyiv", "the of and", "Zaporizhzhia unheard-of words", "claimed the attack"]);
        sentences.extend(sentences.clone().iter().rev());
        assert!(sentences.len() > 2 * SENTENCES_AT_ONCE);
        let mut together = Vec::new();
        model.predict_all(&mut model.featurizer(), &sentences, &mut together);
        let alone: Vec<_> = sentences.iter().map(|s| model.predict(&mut model.featurizer(), s)).collect();
        assert_eq!(together, alone);
    }

    #[test]
    fn update_equals_training_on_the_union_when_min_df_is_one() {
        let old = [
            example("Islamic State claimed responsibility for the attack", "isis"),
            example("Kyiv denied any involvement in the attack", "blame"),
            example("The death toll rose to 140", "other"),
            example("Moscow accused Kyiv of organising the massacre", "blame"),
        ];
        let new = [
            example("Police arrived an hour after the shooting began", "security_failure"),
            example("The Kiev regime and its Western curators ordered the massacre", "blame"),
            example("Firefighters battled the blaze through the night", "other"),
        ];
        let params = TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap();
        let updated = Model::train(&old, &params).unwrap().update(&new).unwrap();
        let union: Vec<Example> = old.iter().chain(&new).cloned().collect();
        let together = Model::train(&union, &params).unwrap();
        assert_eq!(updated.labels(), together.labels());
        assert_eq!(updated.labels(), ["blame", "isis", "other", "security_failure"]);
        assert_eq!(updated.vocabulary(), together.vocabulary());
        assert_eq!(updated.class_count(), together.class_count());
        assert_eq!(updated.feature_count(), together.feature_count());
        let mut f = updated.featurizer();
        for sentence in ["Police were slow to arrive", "Kyiv rejected the accusation", "ISIS claimed it", "Fire"] {
            assert_eq!(updated.predict(&mut f, sentence), together.predict(&mut f, sentence), "{sentence}");
        }
    }

    #[test]
    fn update_with_larger_min_df_differs_only_in_rare_ngrams() {
        let old = [example("alpha beta", "a"), example("gamma delta", "b"), example("alpha gamma", "a")];
        let new = [example("beta epsilon", "b"), example("epsilon zeta", "b")];
        let params = TrainParams { min_df: 2, ngrams: "1".parse().unwrap(), ..TrainParams::default() }.check().unwrap();
        let updated = Model::train(&old, &params).unwrap().update(&new).unwrap();
        // "beta" occurs once in each part: the union would keep it, the update cannot know.
        assert_eq!(updated.vocabulary().terms(), ["alpha", "epsilon", "gamma"]);
        assert_eq!(updated.class_count(), [2, 3]);
    }

    #[test]
    fn training_refuses_a_single_label() {
        let examples = [example("a b c", "x"), example("d e f", "x")];
        let err = Model::train(&examples, &TrainParams::default().check().unwrap()).unwrap_err();
        assert!(err.to_string().contains("at least two labels"), "{err}");
    }
}
