//! The naive Bayes model: training through linfa-bayes, sparse prediction from the per-label counts.
//!
//! linfa-bayes `MultinomialNb` is the model of record. Training feeds it dense row batches through
//! `fit_with` and reads the fitted per-label counts back out of it (its `serde` form; the fields are
//! private). When a corpus is too large for dense batches (rows × vocabulary above [`DENSE_FIT_LIMIT`]),
//! the same counts are summed directly from the sparse rows; a test shows both give identical parameters.
//!
//! The model keeps the raw counts (updates and explanations need them) and derives the smoothed
//! log-probabilities from them exactly as linfa-bayes does:
//! `ln P(term | label) = ln(count + alpha) - ln(Σ(count + alpha))`, prior = label's sentences / all sentences.
//! Prediction is sparse: a sentence costs one multiply-add per label for each n-gram it contains.
//! Posteriors are normalised with a max-subtracted log-sum-exp in f64, so they never overflow (linfa's
//! own `predict_proba` does). Ties go to the label that sorts first.

pub mod file;

use linfa::ParamGuard;
use linfa::dataset::Dataset;
use linfa::traits::FitWith;
use linfa_bayes::{MultinomialNb, MultinomialNbValidParams};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::data::{Example, FileDigest};
use crate::error::{Error, Result};
use crate::features::{Featurizer, SparseRow, Vocabulary};
use crate::params::ValidTrainParams;

/// Above this many cells (rows × vocabulary), training sums counts sparsely instead of fitting dense
/// batches through linfa-bayes (both give the same parameters; the dense path's cost grows with the cells).
pub const DENSE_FIT_LIMIT: usize = 400_000_000;

/// The most training sentences a model may count (2^53: every count stays exact in f64).
pub const MAX_SENTENCES: u64 = 1 << 53;

/// Cells in one dense batch handed to linfa-bayes (rows per batch = this / vocabulary size).
const BATCH_CELLS: usize = 1 << 22;

/// A trained model: everything needed to classify, and the counts needed to update and explain.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    params: ValidTrainParams,
    vocabulary: Vocabulary,
    labels: Vec<String>,
    class_count: Vec<u64>,
    feature_count: Vec<Vec<f64>>,
    training_data: String,
    lineage: Lineage,
    log_prior: Vec<f64>,
    /// Smoothed log-probabilities, feature-major: `[feature * labels + label]`.
    feature_log_prob: Vec<f64>,
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
    /// Index of the most probable label in [`Model::labels`].
    pub label: usize,
    /// Posterior probability of each label, in [`Model::labels`] order; sums to 1.
    pub probabilities: Vec<f64>,
}

impl Prediction {
    /// The posterior of the predicted label.
    pub fn confidence(&self) -> f64 {
        self.probabilities[self.label]
    }
}

/// Per-label counts: sentences per label and summed feature values per label.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Sentences per label.
    pub class_count: Vec<u64>,
    /// `[label][feature]` summed feature values.
    pub feature_count: Vec<Vec<f64>>,
}

impl Model {
    /// Trains on `examples` (labels are taken from the data, sorted).
    pub fn train(examples: &[Example], params: &ValidTrainParams) -> Result<Self> {
        let labels = distinct_labels(examples)?;
        let mut featurizer = Featurizer::new(params.features());
        let vocabulary = Vocabulary::fit(examples.iter().map(|e| e.text.as_str()), &mut featurizer, params.min_df());
        if vocabulary.is_empty() {
            return Err(Error::Invalid(format!(
                "the training sentences give no n-gram that occurs in at least {} sentences (lower --min-df)",
                params.min_df()
            )));
        }
        let rows: Vec<SparseRow> = examples.iter().map(|e| featurizer.transform(&e.text, &vocabulary)).collect();
        let targets: Vec<usize> = examples
            .iter()
            .map(|e| labels.binary_search(&e.label).expect("label collected from these examples"))
            .collect();
        let counts = fit_counts(None, &rows, &targets, &labels, vocabulary.len(), params.alpha())?;
        Self::from_counts(*params, vocabulary, labels, counts, training_hash(examples))
    }

    /// Folds new labelled sentences into this model, with the same options, in time proportional to the
    /// new data (and the vocabulary), not the old corpus.
    ///
    /// Naive Bayes is additive: the old per-label counts seed linfa-bayes' `fit_with`, which adds the new
    /// sentences' counts. Labels that occur only in the new data become new classes. Words unseen at first
    /// training: an n-gram that occurs in at least `min_df` of the new sentences joins the vocabulary; its
    /// count in the old data is taken as zero, because the old sentences are not stored. So with
    /// `min_df = 1` the result has exactly the counts of training on old and new data together; with a
    /// larger `min_df` it differs only in n-grams that were rarer than `min_df` in each part alone.
    pub fn update(&self, examples: &[Example]) -> Result<Self> {
        if examples.is_empty() {
            return Err(Error::Invalid("no new training sentences".into()));
        }
        let mut featurizer = self.featurizer();
        let fresh = Vocabulary::fit(examples.iter().map(|e| e.text.as_str()), &mut featurizer, self.params.min_df());
        let mut terms: Vec<String> = self.vocabulary.terms().iter().chain(fresh.terms()).cloned().collect();
        terms.sort_unstable();
        terms.dedup();
        let vocabulary = Vocabulary::from_terms(terms).map_err(Error::Invalid)?;
        let mut labels: Vec<String> =
            self.labels.iter().cloned().chain(examples.iter().map(|e| e.label.clone())).collect();
        labels.sort_unstable();
        labels.dedup();

        let mut initial = Counts {
            class_count: vec![0; labels.len()],
            feature_count: vec![vec![0.0; vocabulary.len()]; labels.len()],
        };
        for (old, label) in self.labels.iter().enumerate() {
            let l = labels.binary_search(label).expect("old labels are kept");
            initial.class_count[l] = self.class_count[old];
            for (term, &count) in self.vocabulary.terms().iter().zip(&self.feature_count[old]) {
                let j = vocabulary.get(term).expect("old terms are kept") as usize;
                initial.feature_count[l][j] = count;
            }
        }
        let rows: Vec<SparseRow> = examples.iter().map(|e| featurizer.transform(&e.text, &vocabulary)).collect();
        let targets: Vec<usize> =
            examples.iter().map(|e| labels.binary_search(&e.label).expect("label collected above")).collect();
        let counts = fit_counts(Some(&initial), &rows, &targets, &labels, vocabulary.len(), self.params.alpha())?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.training_data.as_bytes());
        hasher.update(training_hash(examples).as_bytes());
        let training_data = hasher.finalize().to_hex().to_string();
        Self::from_counts(self.params, vocabulary, labels, counts, training_data)
    }

    /// Where this model came from: its parent model and the data files that went into it.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// Records where this model came from.
    pub fn set_lineage(&mut self, lineage: Lineage) {
        self.lineage = lineage;
    }

    /// Assembles a model from its stored parts, checking that they fit together.
    pub fn from_counts(
        params: ValidTrainParams,
        vocabulary: Vocabulary,
        labels: Vec<String>,
        counts: Counts,
        training_data: String,
    ) -> Result<Self> {
        let invalid = |m: String| Err(Error::Invalid(m));
        if labels.is_empty() || labels.windows(2).any(|w| w[0] >= w[1]) {
            return invalid("labels must be non-empty, sorted and unique".into());
        }
        let Counts { class_count, feature_count } = counts;
        if class_count.len() != labels.len() || feature_count.len() != labels.len() {
            return invalid(format!("counts for {} labels, expected {}", class_count.len(), labels.len()));
        }
        if let Some(row) = feature_count.iter().find(|r| r.len() != vocabulary.len()) {
            return invalid(format!("a label has {} feature counts, expected {}", row.len(), vocabulary.len()));
        }
        if feature_count.iter().flatten().any(|&c| !(c.is_finite() && c >= 0.0)) {
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
        let alpha = params.alpha();
        let log_prior = class_count.iter().map(|&n| (n as f64 / total as f64).ln()).collect();
        let n_labels = labels.len();
        let mut feature_log_prob = vec![0.0; vocabulary.len() * n_labels];
        for (label, counts) in feature_count.iter().enumerate() {
            let log_total = counts.iter().map(|c| c + alpha).sum::<f64>().ln();
            for (feature, c) in counts.iter().enumerate() {
                feature_log_prob[feature * n_labels + label] = (c + alpha).ln() - log_total;
            }
        }
        Ok(Self {
            params,
            vocabulary,
            labels,
            class_count,
            feature_count,
            training_data,
            lineage: Lineage::default(),
            log_prior,
            feature_log_prob,
        })
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

    /// Summed feature values per label, `[label][feature]`.
    pub fn feature_count(&self) -> &[Vec<f64>] {
        &self.feature_count
    }

    /// BLAKE3 hash (hex) of the training sentences and labels, in training order.
    pub fn training_data(&self) -> &str {
        &self.training_data
    }

    /// Smoothed `ln P(term | label)` for a feature id and a label index.
    pub fn log_prob(&self, feature: usize, label: usize) -> f64 {
        self.feature_log_prob[feature * self.labels.len() + label]
    }

    /// A featurizer matching this model's options (one per thread).
    pub fn featurizer(&self) -> Featurizer {
        Featurizer::new(self.params.features())
    }

    /// Unnormalised log posterior of each label (`ln prior + Σ value × ln P(term | label)`) into `out`.
    pub fn joint_log_likelihood(&self, row: &SparseRow, out: &mut [f64]) {
        let n = self.labels.len();
        out.copy_from_slice(&self.log_prior);
        for &(feature, value) in row {
            let probs = &self.feature_log_prob[feature as usize * n..][..n];
            for (o, p) in out.iter_mut().zip(probs) {
                *o += value * p;
            }
        }
    }

    /// Posteriors of every label for a sparse row.
    pub fn predict_row(&self, row: &SparseRow) -> Prediction {
        let mut probabilities = vec![0.0; self.labels.len()];
        self.joint_log_likelihood(row, &mut probabilities);
        let label = normalise_log_posteriors(&mut probabilities);
        Prediction { label, probabilities }
    }

    /// Posteriors of every label for one sentence.
    pub fn predict(&self, featurizer: &mut Featurizer, sentence: &str) -> Prediction {
        self.predict_row(&featurizer.transform(sentence, &self.vocabulary))
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

fn distinct_labels(examples: &[Example]) -> Result<Vec<String>> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    match labels.len() {
        0 => Err(Error::Invalid("no training sentences".into())),
        1 => Err(Error::Invalid(format!(
            "all training sentences have the label {:?}: a classifier needs at least two labels",
            labels[0]
        ))),
        _ => Ok(labels),
    }
}

/// BLAKE3 of every example's text and label, in order.
fn training_hash(examples: &[Example]) -> String {
    let mut hasher = blake3::Hasher::new();
    for e in examples {
        hasher.update(e.text.as_bytes());
        hasher.update(b"\0");
        hasher.update(e.label.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

/// Fits linfa-bayes `MultinomialNb` over dense batches of `rows`.
///
/// linfa-bayes 0.8.1 has a left-over `dbg!` in `fit_with` that dumps every histogram to stderr; stderr is
/// silenced for the duration of each call (the CLI's stderr must stay clean).
pub fn fit_linfa(
    initial: Option<&Counts>,
    rows: &[SparseRow],
    targets: &[usize],
    labels: &[String],
    n_features: usize,
    alpha: f64,
) -> Result<MultinomialNb<f64, String>> {
    let params: MultinomialNbValidParams<f64, String> = MultinomialNb::params().alpha(alpha).check()?;
    let batch = (BATCH_CELLS / n_features.max(1)).max(1);
    let mut model: Option<MultinomialNb<f64, String>> = initial.map(|c| linfa_from_counts(c, labels, alpha));
    for (rows, targets) in rows.chunks(batch).zip(targets.chunks(batch)) {
        let mut x = Array2::<f64>::zeros((rows.len(), n_features));
        for (i, row) in rows.iter().enumerate() {
            for &(j, v) in row {
                x[[i, j as usize]] = v;
            }
        }
        let y: Array1<String> = targets.iter().map(|&t| labels[t].clone()).collect();
        let dataset = Dataset::new(x, y);
        let _quiet = gag::Gag::stderr().ok();
        model = Some(params.fit_with(model, &dataset)?);
    }
    Ok(model.expect("at least one batch: training data is never empty"))
}

/// Per-label counts from dense batches through linfa-bayes (seeded with `initial`), or summed sparsely
/// when the batches would hold more than [`DENSE_FIT_LIMIT`] cells.
pub fn fit_counts(
    initial: Option<&Counts>,
    rows: &[SparseRow],
    targets: &[usize],
    labels: &[String],
    n_features: usize,
    alpha: f64,
) -> Result<Counts> {
    if rows.len().saturating_mul(n_features) <= DENSE_FIT_LIMIT {
        let nb = fit_linfa(initial, rows, targets, labels, n_features, alpha)?;
        Ok(counts_from_linfa(&nb, labels))
    } else {
        Ok(sparse_counts(initial, rows, targets, labels.len(), n_features))
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

/// A fitted linfa-bayes model holding `counts` (labels with no sentences are left out, as linfa would).
fn linfa_from_counts(counts: &Counts, labels: &[String], alpha: f64) -> MultinomialNb<f64, String> {
    let total: u64 = counts.class_count.iter().sum();
    let class_info = labels
        .iter()
        .zip(&counts.class_count)
        .zip(&counts.feature_count)
        .filter(|((_, n), _)| **n > 0)
        .map(|((label, &n), features)| {
            let log_total = features.iter().map(|c| c + alpha).sum::<f64>().ln();
            let histogram = LinfaHistogram {
                class_count: n,
                prior: n as f64 / total as f64,
                feature_count: Array1::from(features.clone()),
                feature_log_prob: features.iter().map(|c| (c + alpha).ln() - log_total).collect(),
            };
            (label.clone(), histogram)
        })
        .collect();
    let value = serde_json::to_value(LinfaModel { class_info }).expect("histograms serialise");
    serde_json::from_value(value).expect("linfa-bayes 0.8.1 serde layout")
}

/// Reads the per-label counts out of a fitted linfa-bayes model (through its serde form).
pub fn counts_from_linfa(model: &MultinomialNb<f64, String>, labels: &[String]) -> Counts {
    let value = serde_json::to_value(model).expect("linfa-bayes models serialise");
    let parsed: LinfaModel = serde_json::from_value(value).expect("linfa-bayes 0.8.1 serde layout");
    let mut class_count = Vec::with_capacity(labels.len());
    let mut feature_count = Vec::with_capacity(labels.len());
    for label in labels {
        let histogram = &parsed.class_info[label];
        class_count.push(histogram.class_count);
        feature_count.push(histogram.feature_count.to_vec());
    }
    Counts { class_count, feature_count }
}

/// Sums the per-label counts straight from sparse rows (the path for corpora too large for dense batches).
pub fn sparse_counts(
    initial: Option<&Counts>,
    rows: &[SparseRow],
    targets: &[usize],
    n_labels: usize,
    n_features: usize,
) -> Counts {
    let Counts { mut class_count, mut feature_count } = initial.cloned().unwrap_or_else(|| Counts {
        class_count: vec![0; n_labels],
        feature_count: vec![vec![0.0; n_features]; n_labels],
    });
    for (row, &t) in rows.iter().zip(targets) {
        class_count[t] += 1;
        for &(j, v) in row {
            feature_count[t][j as usize] += v;
        }
    }
    Counts { class_count, feature_count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::TrainParams;
    use linfa_bayes::NaiveBayes;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_rows(rng: &mut ChaCha8Rng, n: usize, features: usize) -> Vec<SparseRow> {
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let mut row = SparseRow::new();
            for j in 0..features as u32 {
                if rng.random_bool(0.3) {
                    row.push((j, f64::from(rng.random_range(1..4u32))));
                }
            }
            rows.push(row);
        }
        rows
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("label_{i}")).collect()
    }

    #[test]
    fn sparse_counts_equal_linfa_fit_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let rows = random_rows(&mut rng, 300, 40);
        let targets: Vec<usize> = (0..rows.len()).map(|_| rng.random_range(0..4)).collect();
        let labels = labels(4);
        let nb = fit_linfa(None, &rows, &targets, &labels, 40, 0.5).unwrap();
        assert_eq!(counts_from_linfa(&nb, &labels), sparse_counts(None, &rows, &targets, 4, 40));

        // Seeded with earlier counts (the update path), both still agree.
        let more = random_rows(&mut rng, 120, 40);
        let more_targets: Vec<usize> = (0..more.len()).map(|_| rng.random_range(0..4)).collect();
        let initial = counts_from_linfa(&nb, &labels);
        let nb = fit_linfa(Some(&initial), &more, &more_targets, &labels, 40, 0.5).unwrap();
        let all_rows: Vec<SparseRow> = rows.iter().chain(&more).cloned().collect();
        let all_targets: Vec<usize> = targets.iter().chain(&more_targets).copied().collect();
        assert_eq!(counts_from_linfa(&nb, &labels), sparse_counts(None, &all_rows, &all_targets, 4, 40));
        assert_eq!(sparse_counts(Some(&initial), &more, &more_targets, 4, 40), counts_from_linfa(&nb, &labels));
    }

    #[test]
    fn sparse_prediction_equals_linfa_joint_log_likelihood() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let features = 30;
        let rows = random_rows(&mut rng, 200, features);
        let targets: Vec<usize> = (0..rows.len()).map(|_| rng.random_range(0..3)).collect();
        let labels = labels(3);
        let alpha = 0.7;
        let nb = fit_linfa(None, &rows, &targets, &labels, features, alpha).unwrap();
        let params = TrainParams { alpha, ..TrainParams::default() }.check().unwrap();
        let vocabulary = Vocabulary::from_terms((0..features).map(|j| format!("t{j:03}")).collect()).unwrap();
        let model =
            Model::from_counts(params, vocabulary, labels.clone(), counts_from_linfa(&nb, &labels), String::new())
                .unwrap();

        let test_rows = random_rows(&mut rng, 50, features);
        let mut dense = Array2::<f64>::zeros((test_rows.len(), features));
        for (i, row) in test_rows.iter().enumerate() {
            for &(j, v) in row {
                dense[[i, j as usize]] = v;
            }
        }
        let jll = nb.joint_log_likelihood(dense.view());
        for (i, row) in test_rows.iter().enumerate() {
            let mut reference: Vec<f64> = labels.iter().map(|l| jll[l][i]).collect();
            let reference_label = normalise_log_posteriors(&mut reference);
            let ours = model.predict_row(row);
            assert_eq!(ours.label, reference_label, "row {i}");
            for (a, b) in ours.probabilities.iter().zip(&reference) {
                assert!((a - b).abs() < 1e-12, "row {i}: {a} vs {b}");
            }
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

    #[test]
    fn trains_on_text_and_predicts_string_labels() {
        let examples = [
            example("Islamic State claimed responsibility for the attack", "isis"),
            example("The Islamic State group claimed the massacre", "isis"),
            example("Kyiv denied any involvement in the attack", "blame"),
            example("Moscow accused Kyiv of organising the massacre", "blame"),
            example("The death toll rose to 140", "other"),
        ];
        let model = Model::train(&examples, &TrainParams::default().check().unwrap()).unwrap();
        assert_eq!(model.labels(), ["blame", "isis", "other"]);
        assert_eq!(model.class_count(), [2, 2, 1]);
        let mut f = model.featurizer();
        let p = model.predict(&mut f, "Kyiv rejected the accusation");
        assert_eq!(model.labels()[p.label], "blame");
        assert_eq!(p.probabilities.len(), 3);
        assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
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
