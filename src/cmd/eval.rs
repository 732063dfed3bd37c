//! `narrative eval`: scores on labelled data, from a model file or by cross-validation.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use narrative::data::ReadOptions;
use narrative::eval::{Metrics, cross_validate, evaluate};
use narrative::model::Classifier;

use super::TrainOptions;

/// Score a model on labelled sentences, or cross-validate the training options.
///
/// Without --cv: loads the model and reports accuracy, macro-F1 (mean of per-label F1), per-
/// label precision, recall, F1 and support, and the confusion matrix (rows: true label,
/// columns: predicted). Every label in the data must be one the model knows.
///
/// With --cv K: trains K models with the training options given (defaults as in `train`), each
/// tested on the fold it did not see, one fold per thread at a time (--threads; the scores are
/// the same on any number); folds are stratified by label and seeded. With --group-by
/// COLUMN, all sentences sharing that column's value (one article) are held out together; K
/// equal to the number of articles is leave-one-article-out. --train-only files join every
/// training fold and are never tested. Scores are pooled over all held-out predictions; each
/// fold's macro-F1 is listed too, and so is the majority-class baseline on the same folds
/// (every sentence gets its training fold's commonest label).
///
/// Examples:
///   narrative eval --data data/heldout.csv
///   narrative eval --data data/heldout.csv --json | jq .macro_f1
///   narrative eval --cv 5 --group-by doc --data data/labelled/seeds.csv
///   narrative eval --cv 5 --group-by doc --data data/labelled/seeds.csv \
///     --train-only data/labelled/authored.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct EvalArgs {
    /// Labelled CSV file(s) with `text` and `label` columns to score on; repeat for several.
    ///
    /// Example: --data data/heldout.csv
    #[arg(long = "data", value_name = "FILE.csv", required = true)]
    data: Vec<PathBuf>,

    /// Model file to score (not used with --cv, which trains its own).
    ///
    /// Example: --model models/experiment.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL, conflicts_with = "cv")]
    model: PathBuf,

    /// Print one JSON object with keys accuracy, macro_f1, per_label, confusion (and cv with --cv).
    ///
    /// Example: --json | jq '.per_label.neutral.f1'
    #[arg(long)]
    json: bool,

    /// Cross-validate with K folds instead of scoring a model file.
    ///
    /// Example: --cv 5
    #[arg(long, value_name = "K")]
    cv: Option<usize>,

    /// With --cv: keep the sentences of one COLUMN value (an article) in one fold.
    ///
    /// Example: --group-by doc
    #[arg(long, value_name = "COLUMN", requires = "cv")]
    group_by: Option<String>,

    /// With --cv: seed of the fold assignment [default: 1].
    ///
    /// Example: --seed 7
    #[arg(long, value_name = "N", requires = "cv")]
    seed: Option<u64>,

    /// With --cv: labelled CSV added to every training fold and never tested (e.g. authored sentences).
    ///
    /// Example: --train-only data/labelled/authored.csv
    #[arg(long = "train-only", value_name = "FILE.csv", requires = "cv")]
    train_only: Vec<PathBuf>,

    #[command(flatten)]
    options: TrainOptions,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let Some(k) = args.cv else {
        if args.options.any_set() {
            super::usage_error("training options (--alpha, --ngrams, ...) only apply with --cv");
        }
        let model = super::load_model(&args.model, |p| Classifier::load(p, args.threads.get()))?;
        let data = super::read_labelled_reporting(&args.data, ReadOptions::default())?;
        warn_unknown_labels(&model, &data.examples, &args.model);
        let metrics = evaluate(&model, &data.examples, args.threads.get());
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer(&mut out, &metrics)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{} on {} sentences", args.model.display(), data.examples.len())?;
            print_metrics(&mut out, &metrics)?;
        }
        return Ok(());
    };
    let params = args.options.params();
    let data = super::read_labelled_reporting(
        &args.data,
        ReadOptions { group_by: args.group_by.as_deref(), ..Default::default() },
    )?;
    let mut train_only = if args.train_only.is_empty() {
        Vec::new()
    } else {
        super::read_labelled_reporting(&args.train_only, ReadOptions::default())?.examples
    };
    let tested: HashSet<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
    let before = train_only.len();
    train_only.retain(|e| !tested.contains(e.text.as_str()));
    if train_only.len() < before {
        eprintln!(
            "narrative: warning: {} --train-only sentence(s) also in --data were left out of training",
            before - train_only.len()
        );
    }
    let progress = ProgressBar::new(k as u64)
        .with_style(ProgressStyle::with_template("{bar:30} {pos}/{len} folds, {elapsed}").expect("valid template"));
    progress.tick();
    let fold_done = || progress.inc(1);
    let cv =
        cross_validate(&data.examples, &train_only, &params, k, args.seed.unwrap_or(1), args.threads.get(), &fold_done);
    progress.finish_and_clear();
    let cv = cv?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&cv.pooled)?;
        value["cv"] = serde_json::json!({
            "folds": cv.folds,
            "seed": cv.seed,
            "grouped_by": args.group_by,
            "params": cv.params,
            "tested_sentences": data.examples.len(),
            "train_only_sentences": train_only.len(),
            "fold_macro_f1": cv.fold_macro_f1,
            "majority_baseline": cv.baseline,
        });
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        let grouping = args.group_by.as_ref().map_or(String::new(), |g| format!(", grouped by {g}"));
        writeln!(out, "{k}-fold cross-validation{grouping}, seed {}: {}", cv.seed, cv.params)?;
        writeln!(
            out,
            "tested on {} sentences; {} train-only sentences in every training fold",
            data.examples.len(),
            train_only.len()
        )?;
        let folds: Vec<String> = cv.fold_macro_f1.iter().map(|f| format!("{f:.3}")).collect();
        writeln!(out, "macro-F1 per fold: {}", folds.join(" "))?;
        print_metrics(&mut out, &cv.pooled)?;
        let b = &cv.baseline;
        writeln!(
            out,
            "\nmajority-class baseline on the same folds: accuracy {:.3}  macro-F1 {:.3}",
            b.accuracy, b.macro_f1
        )?;
    }
    Ok(())
}

fn print_metrics(out: &mut impl Write, m: &Metrics) -> std::io::Result<()> {
    writeln!(out, "accuracy {:.3}  macro-F1 {:.3}", m.accuracy, m.macro_f1)?;
    let width = m.per_label.keys().map(|l| l.len() + 4).max().unwrap_or(5).max(5);
    writeln!(out, "\n{:width$}  precision  recall     f1  support", "label")?;
    for (label, s) in &m.per_label {
        writeln!(out, "{label:width$}  {:>9.3}  {:>6.3}  {:>5.3}  {:>7}", s.precision, s.recall, s.f1, s.support)?;
    }
    writeln!(out, "\nconfusion (rows: true label, columns: predicted)")?;
    write!(out, "{:width$}", "")?;
    for (i, _) in m.confusion.labels.iter().enumerate() {
        write!(out, "  {:>6}", format!("[{}]", i + 1))?;
    }
    writeln!(out)?;
    for (i, (label, row)) in m.confusion.labels.iter().zip(&m.confusion.matrix).enumerate() {
        write!(out, "{:width$}", format!("[{}] {label}", i + 1))?;
        for n in row {
            write!(out, "  {n:>6}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Warns about labels in the data that the model cannot predict.
pub fn warn_unknown_labels(
    model: &narrative::model::Classifier,
    examples: &[narrative::data::Example],
    path: &std::path::Path,
) {
    let mut unknown: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in examples.iter().filter(|e| model.labels().binary_search(&e.label).is_err()) {
        *unknown.entry(&e.label).or_default() += 1;
    }
    for (label, n) in unknown {
        eprintln!(
            "narrative: warning: label {label:?} ({n} sentence(s)) is not one of {}'s labels: counted as errors",
            path.display()
        );
    }
}
