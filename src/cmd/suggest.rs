//! `narrative suggest`: the sentences worth labelling next.

use std::path::PathBuf;

use anyhow::Context;
use narrative::classify::{ClassifyOptions, Numbering, classify_stream};
use narrative::input::{Documents, InputFormat, Unit};
use narrative::io::Sink;
use narrative::model::Classifier;
use narrative::suggest::{Suggester, Uncertainty};
use narrative::text::tokens::Tokenizer;

/// Rank unlabelled sentences by how unsure the model is, for labelling.
///
/// Classifies every sentence of the inputs, keeps the N with the most uncertain posteriors (margin
/// between the two most probable labels, or entropy), drops near-duplicates (stem-set overlap of 0.8
/// or more), and writes a CSV ready for labelling, most uncertain first:
///   text, doc, predicted, confidence, label
/// with `label` empty. Fill in the labels you are sure of (rows left empty are skipped) and fold the
/// file into the model with `narrative update`.
///
/// Examples:
///   narrative suggest --n 30 new_articles/ -o to_label.csv
///   narrative suggest --by entropy --unit sentence scraped.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SuggestArgs {
    /// Unlabelled articles: .txt files, directories, .csv/.jsonl with a `text` column, or `-`.
    ///
    /// Example: new_articles/
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,

    /// Model file to use.
    ///
    /// Example: --model models/updated.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    model: PathBuf,

    /// How many sentences to suggest.
    ///
    /// Example: --n 50
    #[arg(long, short, value_name = "N", default_value_t = 20)]
    n: usize,

    /// Uncertainty measure: `margin` (1 - gap between the top two labels) or `entropy`.
    ///
    /// Example: --by entropy
    #[arg(long, value_enum, default_value_t)]
    by: Uncertainty,

    /// `article`: split documents into sentences; `sentence`: each CSV/JSONL row is one sentence.
    ///
    /// Example: --unit sentence
    #[arg(long, value_enum, default_value_t)]
    unit: Unit,

    /// How to read inputs: `auto` goes by extension; `-` is text unless set.
    ///
    /// Example: --input-format jsonl
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    input_format: InputFormat,

    /// Write the CSV here instead of stdout (atomically).
    ///
    /// Example: -o to_label.csv
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    output: PathBuf,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `suggest`.
pub fn run(args: SuggestArgs) -> anyhow::Result<()> {
    let model = super::load_model(&args.model, |p| Classifier::load(p, args.threads.get()))?;
    let mut suggester = Suggester::new(args.n, args.by);
    let mut numbering = Numbering::default();
    let options = ClassifyOptions { unit: args.unit, rows: None, explain: None, threads: args.threads.get() };
    classify_stream(&model, Documents::new(&args.inputs, args.input_format), options, |batch| {
        for (d, first) in batch.docs.iter().zip(batch.number(&mut numbering)) {
            for row in d.rows(first) {
                suggester.offer(&d.doc.id, row.sentence, row.text, row.prediction);
            }
        }
        Ok(())
    })?;
    let suggestions = suggester.finish(&mut Tokenizer::new(model.params().features().stop_words));
    let output = super::output_name(&args.output);
    let write = || -> anyhow::Result<()> {
        let mut writer = csv::Writer::from_writer(Sink::create(&args.output)?);
        writer.write_record(["text", "doc", "predicted", "confidence", "label"])?;
        for s in &suggestions {
            let confidence = format!("{:.6}", s.confidence);
            writer.write_record([s.text.as_str(), &s.doc, &model.labels()[s.predicted], &confidence, ""])?;
        }
        writer.into_inner().map_err(|e| e.into_error())?.finish()?;
        Ok(())
    };
    write().with_context(|| format!("{output}: cannot write"))?;
    Ok(())
}
