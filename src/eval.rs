//! Scores: accuracy, macro-F1 (the mean of per-label F1, as scikit-learn reports it; linfa's own
//! multi-class `f1_score` is a different quantity), per-label precision/recall/F1/support, the confusion
//! matrix, and seeded stratified (optionally grouped) k-fold cross-validation.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::num::NonZeroUsize;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::classify::{BATCHING, batch_weight};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::model::{Classifier, Model};
use crate::parallel;
use crate::params::ValidTrainParams;

/// Precision, recall, F1 and support of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelScore {
    /// Of the sentences predicted with this label, the share that truly have it (0 when none predicted).
    pub precision: f64,
    /// Of the sentences that truly have this label, the share predicted with it (0 when none exist).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Sentences that truly have this label.
    pub support: u64,
}

/// The confusion matrix: `matrix[true][predicted]` over `labels`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    /// Labels, sorted; rows and columns follow this order.
    pub labels: Vec<String>,
    /// Counts, rows = true label, columns = predicted label.
    pub matrix: Vec<Vec<u64>>,
}

/// Scores of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Share of sentences predicted correctly.
    pub accuracy: f64,
    /// Mean F1 over the labels that occur in the truth or the predictions.
    pub macro_f1: f64,
    /// Scores per label.
    pub per_label: BTreeMap<String, LabelScore>,
    /// The confusion matrix.
    pub confusion: Confusion,
}

impl Metrics {
    /// Scores `predicted` against `truth` (indices into `labels`).
    pub fn new(labels: &[String], truth: &[usize], predicted: &[usize]) -> Self {
        assert_eq!(truth.len(), predicted.len(), "one prediction per sentence");
        let n = labels.len();
        let mut matrix = vec![vec![0u64; n]; n];
        for (&t, &p) in truth.iter().zip(predicted) {
            matrix[t][p] += 1;
        }
        let correct: u64 = (0..n).map(|i| matrix[i][i]).sum();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut per_label = BTreeMap::new();
        let mut f1_sum = 0.0;
        let mut present = 0;
        for (i, label) in labels.iter().enumerate() {
            let support: u64 = matrix[i].iter().sum();
            let predicted_here: u64 = matrix.iter().map(|row| row[i]).sum();
            let precision = ratio(matrix[i][i], predicted_here);
            let recall = ratio(matrix[i][i], support);
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            if support > 0 || predicted_here > 0 {
                f1_sum += f1;
                present += 1;
            }
            per_label.insert(label.clone(), LabelScore { precision, recall, f1, support });
        }
        Self {
            accuracy: ratio(correct, truth.len() as u64),
            macro_f1: if present == 0 { 0.0 } else { f1_sum / f64::from(present) },
            per_label,
            confusion: Confusion { labels: labels.to_vec(), matrix },
        }
    }
}

/// Scores `model` on labelled `examples`, predicting on up to `threads` threads. A label the model does not
/// know (say, one added after it was trained) is scored too: the model can never predict it, so its
/// sentences count as errors.
pub fn evaluate(model: &Classifier, examples: &[Example], threads: NonZeroUsize) -> Metrics {
    let mut labels: Vec<String> = model.labels().iter().chain(examples.iter().map(|e| &e.label)).cloned().collect();
    labels.sort_unstable();
    labels.dedup();
    let index = |l: &str| labels.binary_search_by(|x| x.as_str().cmp(l)).expect("label collected above");
    let truth: Vec<usize> = examples.iter().map(|e| index(&e.label)).collect();
    let mut predicted = Vec::with_capacity(examples.len());
    let predictions = parallel::map_ordered(
        examples.iter().map(Ok::<_, Infallible>),
        threads,
        BATCHING,
        |e| batch_weight(&e.text),
        || model.featurizer(),
        |featurizer, batch: Vec<&Example>| {
            let texts: Vec<&str> = batch.iter().map(|e| e.text.as_str()).collect();
            let mut predictions = Vec::with_capacity(texts.len());
            model.predict_all(featurizer, &texts, &mut predictions);
            predictions.iter().map(|p| index(&model.labels()[p.label])).collect::<Vec<_>>()
        },
        |batch| {
            predicted.extend(batch);
            Ok(())
        },
    );
    predictions.unwrap_or_else(|never| match never {});
    Metrics::new(&labels, &truth, &predicted)
}

/// Results of cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossValidation {
    /// Number of folds.
    pub folds: usize,
    /// Seed of the fold assignment.
    pub seed: u64,
    /// Whether folds were formed from whole groups.
    pub grouped: bool,
    /// Training options.
    pub params: String,
    /// Macro-F1 of each fold.
    pub fold_macro_f1: Vec<f64>,
    /// Scores over all folds' predictions pooled (each sentence predicted once, by the fold that held it out).
    pub pooled: Metrics,
    /// The same folds scored by the majority-class baseline: every sentence gets the most frequent label of
    /// its fold's training data (ties to the label that sorts first). What the model adds is the difference.
    pub baseline: Metrics,
}

/// K-fold cross-validation of `params` on `examples`. `train_only` sentences join every fold's training
/// set and are never tested. When examples carry groups, whole groups are held out together. The folds
/// are trained (each on one thread) and tested side by side on up to `threads` threads, each fold's model in
/// memory while it runs, with the same result on any number; `fold_done` is called as each fold ends, on its thread.
pub fn cross_validate(
    examples: &[Example],
    train_only: &[Example],
    params: &ValidTrainParams,
    k: usize,
    seed: u64,
    threads: NonZeroUsize,
    fold_done: &(dyn Fn() + Sync),
) -> Result<CrossValidation> {
    let folds = assign_folds(examples, k, seed)?;
    let mut labels: Vec<String> = examples.iter().chain(train_only).map(|e| e.label.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    let index = |l: &str| labels.binary_search_by(|x| x.as_str().cmp(l)).expect("label from these examples");
    let runs = parallel::map_jobs(threads, k, |fold| -> Result<FoldRun> {
        let train = || examples.iter().zip(&folds).filter(|&(_, &f)| f != fold).map(|(e, _)| e).chain(train_only);
        let mut label_counts = vec![0usize; labels.len()];
        for e in train() {
            label_counts[index(&e.label)] += 1;
        }
        let majority = (0..labels.len()).rev().max_by_key(|&l| label_counts[l]).expect("labels are not empty");
        let model = Model::train(train(), params)?;
        let (held_out, texts): (Vec<usize>, Vec<&str>) = (examples.iter().zip(&folds).enumerate())
            .filter(|&(_, (_, &f))| f == fold)
            .map(|(i, (e, _))| (i, e.text.as_str()))
            .unzip();
        let mut predictions = Vec::with_capacity(texts.len());
        model.predict_all(&mut model.featurizer(), &texts, &mut predictions);
        let predicted =
            held_out.into_iter().zip(predictions).map(|(i, p)| (i, index(&model.labels()[p.label]))).collect();
        fold_done();
        Ok(FoldRun { majority, predicted })
    });
    let truth: Vec<usize> = examples.iter().map(|e| index(&e.label)).collect();
    let mut predicted = vec![0; examples.len()];
    let mut majority = vec![0; examples.len()];
    let mut fold_macro_f1 = Vec::with_capacity(k);
    for run in runs {
        let run = run?;
        let (mut t, mut p) = (Vec::new(), Vec::new());
        for &(i, label) in &run.predicted {
            predicted[i] = label;
            majority[i] = run.majority;
            t.push(truth[i]);
            p.push(label);
        }
        fold_macro_f1.push(Metrics::new(&labels, &t, &p).macro_f1);
    }
    Ok(CrossValidation {
        folds: k,
        seed,
        grouped: examples.iter().any(|e| e.group.is_some()),
        params: params.to_string(),
        fold_macro_f1,
        pooled: Metrics::new(&labels, &truth, &predicted),
        baseline: Metrics::new(&labels, &truth, &majority),
    })
}

/// One fold of a cross-validation: its training data's commonest label, and the label predicted for each
/// sentence it held out (by index).
struct FoldRun {
    majority: usize,
    predicted: Vec<(usize, usize)>,
}

/// Assigns each example a fold in `0..k`, stratified by label. With groups, a group never spans two
/// folds: groups are placed largest first (ties in seeded random order) into the fold where they keep
/// each label's share most even, and no fold is left empty.
pub fn assign_folds(examples: &[Example], k: usize, seed: u64) -> Result<Vec<usize>> {
    if k < 2 {
        return Err(Error::InvalidParam { name: "--cv", value: k.to_string(), expected: "at least 2 folds" });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let label_of = |e: &Example| labels.binary_search(&e.label.as_str()).expect("collected above");
    let grouped = examples.iter().any(|e| e.group.is_some());
    if !grouped {
        if examples.len() < k {
            return Err(Error::Invalid(format!("{} sentences cannot fill {k} folds", examples.len())));
        }
        let mut folds = vec![0; examples.len()];
        let mut next = 0;
        for l in 0..labels.len() {
            let mut members: Vec<usize> = (0..examples.len()).filter(|&i| label_of(&examples[i]) == l).collect();
            members.shuffle(&mut rng);
            for i in members {
                folds[i] = next % k;
                next += 1;
            }
        }
        return Ok(folds);
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        groups.entry(e.group.as_deref().unwrap_or("")).or_default().push(i);
    }
    if groups.len() < k {
        return Err(Error::Invalid(format!(
            "{} groups cannot fill {k} folds: use --cv {} or fewer",
            groups.len(),
            groups.len()
        )));
    }
    let mut order: Vec<Vec<usize>> = groups.into_values().collect();
    order.shuffle(&mut rng);
    order.sort_by_key(|members| std::cmp::Reverse(members.len()));
    let totals: Vec<f64> =
        (0..labels.len()).map(|l| examples.iter().filter(|e| label_of(e) == l).count() as f64).collect();
    let mut fold_counts = vec![vec![0.0; labels.len()]; k];
    let mut fold_sizes = vec![0usize; k];
    let mut folds = vec![0; examples.len()];
    for (g, members) in order.iter().enumerate() {
        let mut counts = vec![0.0; labels.len()];
        for &i in members {
            counts[label_of(&examples[i])] += 1.0;
        }
        let empty: Vec<usize> = (0..k).filter(|&f| fold_sizes[f] == 0).collect();
        let must_fill = order.len() - g <= empty.len();
        let candidates: Vec<usize> = if must_fill { empty } else { (0..k).collect() };
        let cost = |f: usize| -> f64 {
            (0..labels.len()).map(|l| ((fold_counts[f][l] + counts[l]) / totals[l]).powi(2)).sum()
        };
        let best = candidates
            .into_iter()
            .min_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(fold_sizes[a].cmp(&fold_sizes[b])))
            .expect("k >= 2 folds");
        for &i in members {
            folds[i] = best;
        }
        for l in 0..labels.len() {
            fold_counts[best][l] += counts[l];
        }
        fold_sizes[best] += members.len();
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use rand::seq::IndexedRandom;

    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_a_hand_calculation() {
        // truth:     a a a b b c
        // predicted: a a b b c c
        let m = Metrics::new(&labels(&["a", "b", "c"]), &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2]);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let a = m.per_label["a"];
        assert_eq!((a.precision, a.recall, a.support), (1.0, 2.0 / 3.0, 3));
        assert!((a.f1 - 0.8).abs() < 1e-12);
        let b = m.per_label["b"];
        assert_eq!((b.precision, b.recall), (0.5, 0.5));
        let c = m.per_label["c"];
        assert!((c.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(m.confusion.matrix, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
    }

    #[test]
    fn a_label_never_predicted_scores_zero_not_nan() {
        let m = Metrics::new(&labels(&["a", "b"]), &[0, 1], &[0, 0]);
        assert_eq!(m.per_label["b"].f1, 0.0);
        assert!((m.macro_f1 - (2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    /// `n` sentences of three labels, each of a few words of its label's and a few shared ones, so a model
    /// gets most but not all of them right.
    fn noisy_examples(n: usize) -> Vec<Example> {
        let words = [["strike", "claim", "jihad"], ["kyiv", "west", "curator"], ["warn", "embassy", "tip"]];
        let shared = ["moscow", "hall", "attack", "said", "officials"];
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        (0..n)
            .map(|i| {
                let label = i % 3;
                let mut text: Vec<&str> = (0..6).map(|_| *shared.choose(&mut rng).unwrap()).collect();
                // One sentence in four carries another label's word instead.
                let from = if i % 4 == 0 { (label + 1) % 3 } else { label };
                text.push(words[from].choose(&mut rng).unwrap());
                Example {
                    text: text.join(" "),
                    label: ["isis", "blame", "warning"][label].into(),
                    ..Example::default()
                }
            })
            .collect()
    }

    #[test]
    fn scores_are_the_same_on_any_number_of_threads() {
        // More sentences than one batch, and more folds than threads or fewer.
        let examples = noisy_examples(9_000);
        let params = crate::params::TrainParams::default().check().unwrap();
        let folds_done = std::sync::atomic::AtomicUsize::new(0);
        let count = || _ = folds_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cv = cross_validate(&examples[..3_000], &examples[8_000..], &params, 3, 1, NonZeroUsize::MIN, &count);
        let cv = cv.unwrap();
        assert_eq!(folds_done.into_inner(), 3);
        for threads in [2, 4] {
            let threads = NonZeroUsize::new(threads).unwrap();
            let again = cross_validate(&examples[..3_000], &examples[8_000..], &params, 3, 1, threads, &|| {});
            assert_eq!(again.unwrap(), cv);
        }
        assert!(cv.pooled.accuracy > 0.6 && cv.pooled.accuracy > cv.baseline.accuracy + 0.2, "{cv:?}");
        assert!(cv.pooled.accuracy < 0.9, "a quarter of the sentences are misleading: {cv:?}");

        let model = crate::model::Model::train(&examples[..3_000], &params).unwrap();
        let one = evaluate(&model, &examples[3_000..], NonZeroUsize::MIN);
        assert_eq!(one.confusion.matrix.iter().flatten().sum::<u64>(), 6_000);
        assert_eq!(evaluate(&model, &examples[3_000..], NonZeroUsize::new(3).unwrap()), one);
    }

    fn example(label: &str, group: Option<&str>) -> Example {
        Example { text: String::new(), label: label.into(), group: group.map(Into::into), ..Example::default() }
    }

    #[test]
    fn stratified_folds_balance_labels() {
        let examples: Vec<Example> = (0..30).map(|i| example(if i % 3 == 0 { "a" } else { "b" }, None)).collect();
        let folds = assign_folds(&examples, 5, 1).unwrap();
        for f in 0..5 {
            let a = (0..30).filter(|&i| folds[i] == f && examples[i].label == "a").count();
            assert_eq!(a, 2, "fold {f}");
        }
        assert_eq!(folds, assign_folds(&examples, 5, 1).unwrap(), "same seed, same folds");
    }

    #[test]
    fn groups_never_span_folds_and_no_fold_is_empty() {
        let examples: Vec<Example> = (0..50)
            .map(|i| example(if i % 2 == 0 { "a" } else { "b" }, Some(["g1", "g2", "g3", "g4", "g5"][i % 5])))
            .collect();
        let folds = assign_folds(&examples, 5, 3).unwrap();
        let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (e, &f) in examples.iter().zip(&folds) {
            by_group.entry(e.group.as_deref().unwrap()).or_default().push(f);
        }
        for fs in by_group.values() {
            assert!(fs.iter().all(|&f| f == fs[0]));
        }
        let mut used: Vec<usize> = by_group.values().map(|fs| fs[0]).collect();
        used.sort_unstable();
        assert_eq!(used, [0, 1, 2, 3, 4]);
        assert!(assign_folds(&examples, 6, 3).is_err());
    }
}
