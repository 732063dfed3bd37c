//! `narrative classify`: documents in, one row per sentence out.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use narrative::classify::{ClassifyOptions, Columns, Format, Numbering, RowFormat, classify_stream};
use narrative::input::{Documents, InputFormat, Unit};
use narrative::io::Sink;
use narrative::model::Classifier;

/// Tag every sentence of articles with a narrative.
///
/// INPUT is a .txt article (its first non-empty line is the title), a directory of .txt
/// articles, a .csv or .jsonl file with a `text` column (and optional `id`, `outlet`, `date`,
/// ... columns), or `-` for stdin (read as one text article unless --input-format says
/// otherwise).
///
/// Output: one row per sentence with the columns
///   doc, sentence, start, end, text, label, confidence, p_<label> for every label of the model
/// where `doc` is the file path or the row's `id`, `sentence` counts from 1, `start`/`end` are
/// byte offsets into the document's text, and `confidence` is the posterior of the chosen
/// label. --columns picks and orders them (leaving out `text` makes the output of a large
/// archive a tenth of the size).
///
/// Examples:
///   narrative classify seeds/
///   narrative classify --format jsonl articles.csv -o tagged.jsonl
///   narrative classify --unit sentence sentences.csv
///   narrative classify --input-format lines --unit sentence --threads 2 sentences.txt -o tagged.csv
///   narrative classify --columns doc,sentence,label,confidence archive.jsonl -o labels.csv
///   cat article.txt | narrative classify -
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ClassifyArgs {
    /// Articles to classify: .txt files, directories of .txt files, .csv/.jsonl files, or `-` (stdin).
    ///
    /// Example: seeds/ extra/article.txt more.jsonl
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,

    /// Model file to use.
    ///
    /// Example: --model models/experiment.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    model: PathBuf,

    /// Output format: `csv` (with header) or `jsonl` (one JSON object per sentence).
    ///
    /// Example: --format jsonl
    #[arg(long, value_enum, default_value_t)]
    format: Format,

    /// `article`: split each document into sentences; `sentence`: each CSV/JSONL row is one sentence.
    ///
    /// Example: --unit sentence
    #[arg(long, value_enum, default_value_t)]
    unit: Unit,

    /// How to read inputs: `auto` goes by extension (.csv, .jsonl, else text); `-` is text unless set.
    ///
    /// Example: cat rows.csv | narrative classify --input-format csv -
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    input_format: InputFormat,

    /// Add an `evidence` column: the N n-grams that most favour the chosen label over the runner-up,
    /// with their contributions in nats, e.g. `ukrainian trace (+2.31); kiev (+1.10)` [N default: 5].
    ///
    /// Example: --explain 3
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "5")]
    explain: Option<usize>,

    /// Columns to write, in this order: any of doc, sentence, start, end, text, label, confidence,
    /// probabilities (the p_<label> columns); --explain adds `evidence` last.
    ///
    /// Example: --columns doc,sentence,label,confidence
    #[arg(long, value_name = "LIST", default_value_t)]
    columns: Columns,

    /// Write rows here instead of stdout (written atomically: the file appears only when complete).
    ///
    /// Example: -o tagged.csv
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    output: PathBuf,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `classify`.
pub fn run(args: ClassifyArgs) -> anyhow::Result<()> {
    let model = super::load_model(&args.model, |p| Classifier::load(p, args.threads.get()))?;
    let rows = RowFormat::with_columns(args.format, args.columns, model.labels(), args.explain.is_some());
    let output = super::output_name(&args.output);
    let cannot_write = || format!("{output}: cannot write");
    let mut sink = Sink::create(&args.output)?;
    sink.write_all(&rows.header()).with_context(cannot_write)?;
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {pos} documents, {msg} sentences, {elapsed}").expect("valid template"),
    );
    let (mut sentences, mut numbering, mut empty) = (0usize, Numbering::default(), super::EmptyDocuments::default());
    let options =
        ClassifyOptions { unit: args.unit, rows: Some(&rows), explain: args.explain, threads: args.threads.get() };
    let documents = Documents::new(&args.inputs, args.input_format).map(|d| d.map_err(anyhow::Error::from));
    classify_stream(&model, documents, options, |batch| {
        batch.write_rows(&batch.number(&mut numbering), &mut sink).with_context(cannot_write)?;
        for d in batch.docs.iter().filter(|d| d.doc.part == 0) {
            empty.note(&d.doc.id, d.sentences.len());
        }
        sentences += batch.rendered.len();
        progress.inc(batch.docs.len() as u64);
        progress.set_message(sentences.to_string());
        Ok(())
    })?;
    progress.finish_and_clear();
    empty.warn();
    sink.flush().with_context(cannot_write)?;
    sink.finish()?;
    Ok(())
}
