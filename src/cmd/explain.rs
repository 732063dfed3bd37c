//! `narrative explain`: the n-grams behind each label.

use std::io::Write;
use std::path::PathBuf;

use narrative::explain::top_terms;
use narrative::model::Classifier;

/// List, per label, the stems and n-grams that most raise its odds against the other labels.
///
/// The weight of an n-gram for a label is its log-likelihood ratio: ln P(n-gram | label) minus ln of
/// its mean probability under the other labels, in nats (+1 multiplies the label's odds by e ≈ 2.7
/// per occurrence). For why one sentence got its label, use `narrative classify --explain`.
///
/// Examples:
///   narrative explain
///   narrative explain --top 30 --csv > terms.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ExplainArgs {
    /// Model file to explain.
    ///
    /// Example: --model models/updated.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    model: PathBuf,

    /// How many n-grams per label.
    ///
    /// Example: --top 30
    #[arg(long, value_name = "N", default_value_t = 15)]
    top: usize,

    /// Print CSV (`label,rank,term,weight`) instead of a table.
    ///
    /// Example: --csv > terms.csv
    #[arg(long)]
    csv: bool,
}

/// Runs `explain`.
pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let model = super::load_model(&args.model, |p| Classifier::load(p, narrative::parallel::available_threads()))?;
    let terms = top_terms(&model, args.top);
    let mut out = std::io::stdout().lock();
    if args.csv {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(["label", "rank", "term", "weight"])?;
        for (label, list) in model.labels().iter().zip(&terms) {
            for (rank, t) in list.iter().enumerate() {
                w.write_record([label.as_str(), &(rank + 1).to_string(), &t.term, &format!("{:.4}", t.weight)])?;
            }
        }
        w.flush()?;
        return Ok(());
    }
    for (label, list) in model.labels().iter().zip(&terms) {
        writeln!(out, "{label}")?;
        for t in list {
            writeln!(out, "  {:>+6.2}  {}", t.weight, t.term)?;
        }
    }
    Ok(())
}
