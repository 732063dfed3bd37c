//! The command line: one module per subcommand, each with its clap `Args` (whose doc comments are the
//! help) and a `run`.

mod classify;
mod compare;
mod eval;
mod explain;
mod report;
mod suggest;
mod train;
mod update;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use narrative::data::{LabelledData, ReadOptions, ReadSummary, Row, read_labelled, read_labelled_with};
use narrative::model::Classifier;
use narrative::model::train::Trainer;
use narrative::params::{NgramRange, TrainParams, ValidTrainParams, Weighting};

/// The model path every command uses unless told otherwise.
pub const DEFAULT_MODEL: &str = "models/narrative.model";

/// Tag every sentence of news articles with a narrative, and measure how outlets differ.
///
/// Typical use: `narrative classify seeds/` (uses the shipped model), `narrative train --data
/// data/labelled/*.csv`, `narrative eval --data labelled.csv`. Retraining loop: `suggest` what to
/// label, `update` the model with the labels, `compare` old and new before switching.
///
/// Exit codes: 0 success, 1 runtime error (bad input, unreadable model, failed write), 2 usage error,
/// 130 interrupted (Ctrl-C; no partial output file is left).
#[derive(Debug, Parser)]
#[command(name = "narrative", version, max_term_width = 100, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Train(train::TrainArgs),
    Classify(classify::ClassifyArgs),
    Eval(eval::EvalArgs),
    Update(update::UpdateArgs),
    Suggest(suggest::SuggestArgs),
    Compare(compare::CompareArgs),
    Report(report::ReportArgs),
    Explain(explain::ExplainArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Update(args) => update::run(args),
        Command::Suggest(args) => suggest::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Report(args) => report::run(args),
        Command::Explain(args) => explain::run(args),
    }
}

/// Training options shared by `train` and `eval --cv`. Unset options take the defaults shown.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrainOptions {
    /// Smoothing added to every n-gram count per label (Lidstone); must be > 0 [default: 0.3].
    ///
    /// Example: --alpha 0.5
    #[arg(long, value_name = "A")]
    alpha: Option<f64>,

    /// N-gram orders as MIN-MAX: 1-1 single stems, 1-2 stems and stem pairs [default: 1-2].
    ///
    /// Example: --ngrams 1-3
    #[arg(long, value_name = "MIN-MAX")]
    ngrams: Option<NgramRange>,

    /// Keep only n-grams that occur in at least N training sentences [default: 2].
    ///
    /// Example: --min-df 2
    #[arg(long, value_name = "N")]
    min_df: Option<u32>,

    /// Drop English stop words ("the", "of", "not", ...) before forming n-grams [default: on].
    ///
    /// Example: --stop-words
    #[arg(long, overrides_with = "keep_stop_words")]
    stop_words: bool,

    /// Keep stop words: n-grams are formed from every word.
    ///
    /// Example: --keep-stop-words --ngrams 1-3
    #[arg(long, overrides_with = "stop_words")]
    keep_stop_words: bool,

    /// Feature values: `count` (raw counts) or `log` (1 + ln count) [default: count].
    #[arg(long, value_name = "W")]
    weighting: Option<Weighting>,
}

impl TrainOptions {
    /// The options, defaults filled in and checked; an out-of-range value is a usage error (exit 2).
    pub fn params(&self) -> ValidTrainParams {
        let d = TrainParams::default();
        let params = TrainParams {
            alpha: self.alpha.unwrap_or(d.alpha),
            ngrams: self.ngrams.unwrap_or(d.ngrams),
            min_df: self.min_df.unwrap_or(d.min_df),
            stop_words: if self.keep_stop_words { false } else { self.stop_words || d.stop_words },
            weighting: self.weighting.unwrap_or(d.weighting),
        };
        params.check().unwrap_or_else(|e| usage_error(e))
    }

    /// Whether any option was given.
    pub fn any_set(&self) -> bool {
        self.alpha.is_some()
            || self.ngrams.is_some()
            || self.min_df.is_some()
            || self.stop_words
            || self.keep_stop_words
            || self.weighting.is_some()
    }
}

/// `--threads`, shared by the commands that classify.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ThreadsArg {
    /// Worker threads [default: all cores]. The output is identical with any number.
    ///
    /// Example: --threads 1
    #[arg(long, value_name = "N")]
    threads: Option<std::num::NonZeroUsize>,
}

impl ThreadsArg {
    /// The number of threads to use.
    pub fn get(self) -> std::num::NonZeroUsize {
        self.threads.unwrap_or_else(narrative::parallel::available_threads)
    }
}

/// How an output path is named in messages (`-` is stdout).
pub fn output_name(path: &Path) -> String {
    if path.as_os_str() == "-" { "stdout".to_owned() } else { path.display().to_string() }
}

/// Counts documents that yielded no sentences and warns once, at the end, naming the first.
#[derive(Debug, Default)]
pub struct EmptyDocuments {
    count: usize,
    first: Option<String>,
}

impl EmptyDocuments {
    /// Notes a document and how many sentences it had.
    pub fn note(&mut self, doc: &str, sentences: usize) {
        if sentences == 0 {
            self.count += 1;
            self.first.get_or_insert_with(|| doc.to_owned());
        }
    }

    /// Prints the warning, if any document was empty.
    pub fn warn(&self) {
        if let Some(first) = &self.first {
            eprintln!(
                "narrative: warning: {} document(s) had no text to classify (empty or only white space; first: {first})",
                self.count
            );
        }
    }
}

/// Reads labelled files, warning on stderr about what was dropped or replaced.
pub fn read_labelled_reporting(paths: &[PathBuf], options: ReadOptions<'_>) -> anyhow::Result<LabelledData> {
    let data = read_labelled(paths, options)?;
    warn_about_reading(&data.summary);
    Ok(data)
}

/// Streams labelled files into `trainer` (one pass, on `threads` threads, with a progress spinner on a
/// terminal), warning about what was dropped or replaced; returns what reading saw and the number of
/// sentences added.
pub fn train_from_files(
    trainer: &mut Trainer,
    paths: &[PathBuf],
    options: ReadOptions<'_>,
    threads: std::num::NonZeroUsize,
) -> anyhow::Result<(ReadSummary, u64)> {
    let progress = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {pos} sentences, {elapsed}").expect("valid template"));
    let mut added = 0u64;
    let summary = trainer.feed(threads, |feeder| {
        read_labelled_with(paths, options, |row| {
            match row {
                Row::New { example, .. } => {
                    feeder.add(&example.text, &example.label)?;
                    added += 1;
                    if added.is_multiple_of(4096) {
                        progress.set_position(added);
                    }
                }
                Row::Relabelled { example, old_label, .. } => {
                    feeder.relabel(&example.text, old_label, &example.label)?
                }
            }
            Ok(())
        })
    })?;
    progress.finish_and_clear();
    warn_about_reading(&summary);
    Ok((summary, added))
}

fn warn_about_reading(summary: &ReadSummary) {
    if let Some((dropped, kept)) = summary.duplicates.first() {
        eprintln!(
            "narrative: warning: {} exact duplicate sentence(s) dropped (first: {dropped} repeats {kept})",
            summary.duplicates.len()
        );
    }
    for o in &summary.overridden {
        eprintln!(
            "narrative: warning: {} relabels {:?} as {:?} (was {}), --prefer-later",
            o.later, o.old_label, o.new_label, o.earlier
        );
    }
    if let Some(first) = summary.unlabelled.first() {
        eprintln!(
            "narrative: warning: {} row(s) with an empty label skipped (first: {first})",
            summary.unlabelled.len()
        );
    }
}

/// Sentences per label of a model, in label order.
pub fn label_counts(model: &Classifier) -> Vec<(String, usize)> {
    model.labels().iter().cloned().zip(model.class_count().iter().map(|&n| n as usize)).collect()
}

/// Warns about labels with fewer than [`FEW_EXAMPLES`] sentences: their scores will be unreliable.
pub fn warn_small_labels(counts: &[(String, usize)]) {
    for (label, n) in counts.iter().filter(|(_, n)| *n < FEW_EXAMPLES) {
        eprintln!("narrative: warning: label {label:?} has only {n} training sentence(s)");
    }
}

/// Labels with fewer training sentences than this get a warning.
pub const FEW_EXAMPLES: usize = 10;

/// Ends a command's use of a model without freeing it, as the process ends right after: the kernel
/// takes the memory back at once, where freeing the 1.67 million term names of the benchmark model one
/// by one took 0.37 s, a fifteenth of training it on two threads.
pub fn leave<T>(model: T) {
    std::mem::forget(model);
}

/// Loads a model file with `load` (`Classifier::load` to classify, `Model::load_with_digest` to update...);
/// a missing default model gets an error that says how to make one.
pub fn load_model<T>(path: &Path, load: impl FnOnce(&Path) -> narrative::error::Result<T>) -> anyhow::Result<T> {
    model_exists(path)?;
    Ok(load(path)?)
}

/// Fails with a hint when the model file is missing (the usual first-run mistake).
fn model_exists(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        let hint = if path == Path::new(DEFAULT_MODEL) {
            "; train one with `narrative train --data data/labelled/seeds.csv --data data/labelled/authored.csv`"
        } else {
            ""
        };
        anyhow::bail!("{}: model file not found{hint}", path.display());
    }
    Ok(())
}

/// Exits with a usage error (code 2) in clap's format.
pub fn usage_error(message: impl std::fmt::Display) -> ! {
    use clap::CommandFactory;
    Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit()
}
