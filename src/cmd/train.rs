//! `narrative train`: labelled CSV files in, one model file out.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use narrative::data::ReadOptions;
use narrative::model::Lineage;
use narrative::model::train::Trainer;

use super::TrainOptions;

/// Train a model from labelled sentences.
///
/// Each --data file is a CSV with a header, a `text` column (one sentence) and a `label`
/// column; other columns (source, doc, ...) are kept for provenance and ignored. Labels come
/// from the data: add a new label by labelling sentences with it. Labels are trimmed and lower-
/// cased. The same sentence under two labels is an error naming both lines; exact duplicates
/// are dropped with a warning. Training the same files with the same options writes a byte-
/// identical model.
///
/// Example:
///   narrative train --data data/labelled/seeds.csv --data data/labelled/authored.csv
///   narrative train --data mine.csv --out models/mine.model --ngrams 1-1 --alpha 0.5
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct TrainArgs {
    /// Labelled CSV file with `text` and `label` columns; repeat for several files, `-` for stdin.
    ///
    /// Example: --data data/labelled/seeds.csv --data data/labelled/authored.csv
    #[arg(long = "data", value_name = "FILE.csv", required = true)]
    data: Vec<PathBuf>,

    /// Where to write the model (written atomically: a failed run leaves the old file).
    ///
    /// Example: --out models/experiment.model
    #[arg(long, short, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    out: PathBuf,

    /// When files give the same sentence different labels, the later file (or row) wins, with a warning;
    /// without it such a conflict is an error naming both lines.
    ///
    /// Example: --data data/labelled/seeds.csv --data corrections.csv --prefer-later
    #[arg(long)]
    prefer_later: bool,

    #[command(flatten)]
    options: TrainOptions,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let params = args.options.params();
    let mut trainer = Trainer::new(params);
    let options = ReadOptions { prefer_later: args.prefer_later, ..Default::default() };
    let (summary, sentences) = super::train_from_files(&mut trainer, &args.data, options, args.threads.get())?;
    let mut model = trainer.finish(args.threads.get())?;
    let counts = super::label_counts(&model);
    super::warn_small_labels(&counts);
    model.set_lineage(Lineage { parent: None, data: summary.files });
    model.save(&args.out, args.threads.get())?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "trained {} from {} sentences in {} file(s) in {:.2} s",
        args.out.display(),
        sentences,
        args.data.len(),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(out, "options: {params}")?;
    writeln!(out, "vocabulary: {} n-grams", model.vocabulary().len())?;
    writeln!(out, "training data: blake3 {}", model.training_data())?;
    let width = counts.iter().map(|(l, _)| l.len()).max().unwrap_or(5).max(5);
    writeln!(out, "{:width$}  sentences", "label")?;
    for (label, n) in &counts {
        writeln!(out, "{label:width$}  {n:>9}")?;
    }
    super::leave(model);
    Ok(())
}
