//! `narrative compare`: two models side by side, before replacing one with the other.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use narrative::classify::{BATCHING, ClassifiedDoc, Numbering, batch_weight};
use narrative::compare::LabelChanges;
use narrative::data::ReadOptions;
use narrative::eval::{Metrics, evaluate};
use narrative::input::{Document, Documents, InputFormat, Unit};
use narrative::model::Classifier;
use narrative::parallel::map_ordered;

/// Compare two models: scores per label on labelled data, and label changes over a corpus.
///
/// Scores both models on --data (labels one model does not know count as errors for it) and prints
/// accuracy, macro-F1 and each label's F1 side by side with the change. With INPUT files, classifies
/// every sentence with both models and reports how many changed label, from which label to which,
/// with example sentences, so you can see whether new labels helped before replacing a model.
///
/// Examples:
///   narrative compare models/narrative.model models/updated.model --data heldout.csv
///   narrative compare old.model new.model --data heldout.csv new_articles/ --examples 5
///   narrative compare old.model new.model --data heldout.csv --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CompareArgs {
    /// The current model.
    #[arg(value_name = "OLD_MODEL")]
    old: PathBuf,

    /// The candidate model.
    #[arg(value_name = "NEW_MODEL")]
    new: PathBuf,

    /// Labelled CSV file(s) (`text`, `label`) to score both models on; repeat for several.
    ///
    /// Example: --data heldout.csv
    #[arg(long = "data", value_name = "FILE.csv", required = true)]
    data: Vec<PathBuf>,

    /// Unlabelled articles to classify with both models (as in `classify`).
    ///
    /// Example: new_articles/
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Example sentences to show per label change.
    ///
    /// Example: --examples 5
    #[arg(long, value_name = "N", default_value_t = 3)]
    examples: usize,

    /// `article`: split documents into sentences; `sentence`: each CSV/JSONL row is one sentence.
    ///
    /// Example: --unit sentence
    #[arg(long, value_enum, default_value_t)]
    unit: Unit,

    /// How to read INPUT files: `auto` goes by extension.
    ///
    /// Example: --input-format csv
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    input_format: InputFormat,

    /// Print one JSON object: {"old": scores, "new": scores, "changes": ...}.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// Runs `compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let threads = args.threads.get();
    let old = super::load_model(&args.old, |p| Classifier::load(p, threads))?;
    let new = super::load_model(&args.new, |p| Classifier::load(p, threads))?;
    let data = super::read_labelled_reporting(&args.data, ReadOptions::default())?;
    super::eval::warn_unknown_labels(&old, &data.examples, &args.old);
    super::eval::warn_unknown_labels(&new, &data.examples, &args.new);
    let (old_scores, new_scores) = (evaluate(&old, &data.examples, threads), evaluate(&new, &data.examples, threads));

    let mut changes = LabelChanges::new(args.examples);
    if !args.inputs.is_empty() {
        let mut numbering = Numbering::default();
        let documents = Documents::new(&args.inputs, args.input_format).map(|d| d.map_err(anyhow::Error::from));
        map_ordered(
            documents,
            threads,
            BATCHING,
            |doc: &Document| batch_weight(&doc.text),
            || (old.featurizer(), new.featurizer()),
            |(old_features, new_features), docs: Vec<Document>| {
                let after = ClassifiedDoc::all(&new, new_features, docs.clone(), args.unit);
                let before = ClassifiedDoc::all(&old, old_features, docs, args.unit);
                before.into_iter().zip(after).collect::<Vec<_>>()
            },
            |pairs| {
                for (before, after) in pairs {
                    let first = numbering.first(&before.doc, before.sentences.len());
                    for (b, a) in before.rows(first).zip(after.rows(first)) {
                        let (from, to) = (&old.labels()[b.prediction.label], &new.labels()[a.prediction.label]);
                        changes.record(&before.doc.id, b.sentence, b.text, from, to);
                    }
                }
                Ok(())
            },
        )?;
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "old": {"model": args.old, "scores": old_scores},
            "new": {"model": args.new, "scores": new_scores},
            "changes": if args.inputs.is_empty() { serde_json::Value::Null } else { serde_json::to_value(&changes)? },
        });
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "old: {}\nnew: {}\nscored on {} labelled sentences\n",
        args.old.display(),
        args.new.display(),
        data.examples.len()
    )?;
    print_scores(&mut out, &old_scores, &new_scores)?;
    if !args.inputs.is_empty() {
        let share =
            if changes.sentences == 0 { 0.0 } else { 100.0 * changes.changed as f64 / changes.sentences as f64 };
        writeln!(
            out,
            "\nover the inputs: {} sentences, {} changed label ({share:.1}%)",
            changes.sentences, changes.changed
        )?;
        for (from, tos) in &changes.moves {
            for (to, n) in tos {
                writeln!(out, "  {from} -> {to}: {n}")?;
                for c in &changes.examples[from][to] {
                    writeln!(out, "      {}:{}  {}", c.doc, c.sentence, narrative::data::abbreviate(&c.text))?;
                }
            }
        }
    }
    Ok(())
}

fn print_scores(out: &mut impl Write, old: &Metrics, new: &Metrics) -> std::io::Result<()> {
    let labels: BTreeSet<&String> = old.per_label.keys().chain(new.per_label.keys()).collect();
    let width = labels.iter().map(|l| l.len() + 3).max().unwrap_or(8).max(8);
    writeln!(out, "{:width$}  {:>7}  {:>7}  {:>7}", "", "old", "new", "change")?;
    for (name, a, b) in [("accuracy", old.accuracy, new.accuracy), ("macro-F1", old.macro_f1, new.macro_f1)] {
        writeln!(out, "{name:width$}  {a:>7.3}  {b:>7.3}  {:>+7.3}", b - a)?;
    }
    for label in labels {
        let f1 = |m: &Metrics| m.per_label.get(label).map(|s| s.f1);
        let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
        let change = match (f1(old), f1(new)) {
            (Some(a), Some(b)) => format!("{:+.3}", b - a),
            _ => "-".to_owned(),
        };
        writeln!(out, "{:width$}  {:>7}  {:>7}  {change:>7}", format!("F1 {label}"), show(f1(old)), show(f1(new)))?;
    }
    Ok(())
}
