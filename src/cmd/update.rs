//! `narrative update`: fold newly labelled sentences into an existing model.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use narrative::data::ReadOptions;
use narrative::model::train::Trainer;
use narrative::model::{Lineage, Model};

/// Add labelled sentences to an existing model without retraining from scratch.
///
/// Naive Bayes is additive, so the new sentences' counts are added to the old model's (through
/// linfa-bayes `fit_with`), in time proportional to the new data. The model keeps its training
/// options. A label found only in the new data becomes a new class. An n-gram the old model never
/// saw joins the vocabulary when it occurs in at least min-df of the new sentences; its count in the
/// old data is taken as zero (old sentences are not stored), so with min-df 1 the result equals
/// training on old and new data together, and with a larger min-df it differs only in n-grams that
/// were rarer than min-df in each part. Rows with an empty label are skipped with a warning.
///
/// The new model records its lineage: the hash of the old model file and of every data file.
///
/// Example:
///   narrative suggest --n 20 new_articles/ -o to_label.csv    # label the `label` column, then:
///   narrative update --model models/narrative.model --data to_label.csv --out models/updated.model
///   narrative compare models/narrative.model models/updated.model --data heldout.csv new_articles/
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct UpdateArgs {
    /// The model to start from (it is not changed).
    ///
    /// Example: --model models/narrative.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    model: PathBuf,

    /// Newly labelled CSV file(s) with `text` and `label` columns; repeat for several.
    ///
    /// Example: --data to_label.csv
    #[arg(long = "data", value_name = "FILE.csv", required = true)]
    data: Vec<PathBuf>,

    /// Where to write the updated model (written atomically).
    ///
    /// Example: --out models/updated.model
    #[arg(long, short, value_name = "PATH")]
    out: PathBuf,

    /// When the new files give one sentence two labels, the later wins (with a warning).
    ///
    /// Example: --data first_pass.csv --data corrections.csv --prefer-later
    #[arg(long)]
    prefer_later: bool,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `update`.
pub fn run(args: UpdateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (old, parent) = super::load_model(&args.model, |p| Model::load_with_digest(p, args.threads.get()))?;
    let mut trainer = Trainer::from_model(&old);
    let options = ReadOptions { prefer_later: args.prefer_later, ..Default::default() };
    let (summary, sentences) = super::train_from_files(&mut trainer, &args.data, options, args.threads.get())?;
    if sentences == 0 {
        anyhow::bail!(
            "no new training sentences in {}",
            args.data.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut model = trainer.finish(args.threads.get())?;
    let mut files = old.lineage().data.clone();
    files.extend(summary.files);
    model.set_lineage(Lineage { parent: Some(parent), data: files });
    let counts = super::label_counts(&model);
    super::warn_small_labels(&counts);
    model.save(&args.out, args.threads.get())?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "updated {} into {} with {} new sentences in {:.2} s",
        args.model.display(),
        args.out.display(),
        sentences,
        started.elapsed().as_secs_f64()
    )?;
    writeln!(out, "options: {}", model.params())?;
    writeln!(out, "vocabulary: {} -> {} n-grams", old.vocabulary().len(), model.vocabulary().len())?;
    let width = counts.iter().map(|(l, _)| l.len()).max().unwrap_or(5).max(5);
    writeln!(out, "{:width$}  sentences  (before)", "label")?;
    for (label, n) in &counts {
        let before = old.labels().binary_search(label).map_or("new".to_owned(), |i| old.class_count()[i].to_string());
        writeln!(out, "{label:width$}  {n:>9}  ({before})")?;
    }
    super::leave((old, model));
    Ok(())
}
