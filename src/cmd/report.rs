//! `narrative report`: each article's narrative mix, and groups of articles compared with intervals.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use narrative::classify::{ClassifyOptions, Format, Numbering, RowFormat, classify_stream};
use narrative::input::{Documents, InputFormat, Unit};
use narrative::io::AtomicDir;
use narrative::model::Classifier;
use narrative::report::{ArticleSummary, ModelSummary, Report, ReportBuilder, ReportOptions, StatisticsProgress};

/// Score each article's narrative mix and compare groups of articles (outlets) with uncertainty.
///
/// Per article: sentences, each label's share of sentences and mean posterior, the dominant
/// narrative, the narrative intensity (share of non-neutral sentences) and the sentences that carry
/// each narrative most strongly. Per group (--by): articles, sentences, each label's share pooled
/// over sentences and averaged over articles, with 95% bootstrap intervals over articles (seeded);
/// every pair of groups gets a permutation test over articles (p-value, total variation distance as
/// effect size) and, for reference, a chi-square test on sentence counts. Groups with fewer than
/// --min-articles articles are marked `*`: their intervals are not to be trusted.
///
/// Article metadata (outlet, outlet_type, date, title) comes from CSV/JSONL columns, or from a
/// --meta CSV keyed by file name (a `file`, `id` or `doc` column), such as seeds/index.csv.
///
/// Prints tables by default (at most 50 articles). --out DIR writes articles.csv, groups.csv,
/// comparisons.csv, sentences.csv, report.json (everything, with the model's hash and options),
/// charts/articles.svg, charts/groups.svg and a self-contained report.html; DIR is replaced only
/// once the new report is complete, and only if it is empty or an earlier report (has report.json).
///
/// Examples:
///   narrative report --meta seeds/index.csv seeds/
///   narrative report --meta seeds/index.csv --by outlet_type seeds/ --out report/
///   narrative report --by outlet --resamples 5000 articles.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ReportArgs {
    /// Articles: .txt files, directories of them, .csv/.jsonl with a `text` column, or `-`.
    ///
    /// Example: seeds/
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,

    /// Model file to use.
    ///
    /// Example: --model models/updated.model
    #[arg(long, value_name = "PATH", default_value = super::DEFAULT_MODEL)]
    model: PathBuf,

    /// CSV of article metadata keyed by file name (`file`, `id` or `doc` column).
    ///
    /// Example: --meta seeds/index.csv
    #[arg(long, value_name = "FILE.csv")]
    meta: Option<PathBuf>,

    /// Metadata column that forms the groups.
    ///
    /// Example: --by outlet_type
    #[arg(long, value_name = "COLUMN", default_value = "outlet")]
    by: String,

    /// Write the report files into this directory (replaced atomically; an existing one must be
    /// empty or an earlier report).
    ///
    /// Example: --out report/
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Bootstrap resamples for the intervals.
    ///
    /// Example: --resamples 5000
    #[arg(long, value_name = "N", default_value_t = 1000)]
    resamples: usize,

    /// Permutations for the group-difference tests.
    ///
    /// Example: --permutations 10000
    #[arg(long, value_name = "N", default_value_t = 2000)]
    permutations: usize,

    /// Seed of the bootstrap and the permutations (reports are reproducible).
    ///
    /// Example: --seed 7
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,

    /// Compare groups in pairs only when there are at most N of them (pairs grow with the square
    /// of the groups: a column with a value per day or per article would take hours).
    ///
    /// Example: --compared-groups 400
    #[arg(long, value_name = "N", default_value_t = 100)]
    compared_groups: usize,

    /// Groups with fewer articles are flagged as too small for confident numbers.
    ///
    /// Example: --min-articles 5
    #[arg(long, value_name = "N", default_value_t = 3)]
    min_articles: usize,

    /// Sentences quoted per narrative per article.
    ///
    /// Example: --top 2
    #[arg(long, value_name = "N", default_value_t = 3)]
    top: usize,

    /// The label that means "no narrative" (left out of intensity and quotes).
    ///
    /// Example: --neutral-label other
    #[arg(long, value_name = "LABEL", default_value = "neutral")]
    neutral_label: String,

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

    #[command(flatten)]
    threads: super::ThreadsArg,
}

/// The progress of the report's statistics, as a bar of their blocks of random draws.
struct StatisticsBar(ProgressBar);

impl StatisticsProgress for StatisticsBar {
    fn start(&self, blocks: usize) {
        self.0.set_length(blocks as u64);
    }

    fn block_done(&self) {
        self.0.inc(1);
    }
}

/// Runs `report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    // Checked before any work: a --out that cannot be written fails at once.
    let staging = args.out.as_deref().map(|out| AtomicDir::create(out, "report.json")).transpose()?;
    let (model, model_digest) =
        super::load_model(&args.model, |p| Classifier::load_with_digest(p, args.threads.get()))?;
    let meta = args.meta.as_deref().map(read_meta).transpose()?;
    let options = ReportOptions {
        group_by: args.by.clone(),
        resamples: args.resamples,
        permutations: args.permutations,
        seed: args.seed,
        min_articles: args.min_articles,
        top: args.top,
        neutral_label: args.neutral_label.clone(),
        shown_articles: SHOWN_ARTICLES,
        compared_groups: args.compared_groups,
    };
    let rows = RowFormat::new(Format::Csv, model.labels(), false);
    let mut sentences = match &staging {
        Some(s) => {
            let file = std::fs::File::create(s.staging().join("sentences.csv"))?;
            let mut file = std::io::BufWriter::new(file);
            file.write_all(&rows.header())?;
            Some(file)
        }
        None => None,
    };
    let mut articles = staging
        .as_ref()
        .map(|s| ArticleWriter::create(&s.staging().join("articles.csv"), model.labels()))
        .transpose()?;
    let mut builder = ReportBuilder::new(model.labels(), options);
    let progress = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {pos} articles, {elapsed}").expect("valid template"));
    let mut empty = super::EmptyDocuments::default();
    let mut numbering = Numbering::default();
    let options = ClassifyOptions {
        unit: args.unit,
        rows: sentences.is_some().then_some(&rows),
        explain: None,
        threads: args.threads.get(),
    };
    let documents = Documents::new(&args.inputs, args.input_format).map(|d| d.map_err(anyhow::Error::from));
    classify_stream(&model, documents, options, |batch| {
        let firsts = batch.number(&mut numbering);
        if let Some(w) = sentences.as_mut() {
            batch.write_rows(&firsts, w).context("sentences.csv: cannot write")?;
        }
        for (d, &first) in batch.docs.iter().zip(&firsts) {
            if d.doc.part == 0 {
                empty.note(&d.doc.id, d.sentences.len());
            }
            let rows: Vec<_> = d.rows(first).collect();
            let ended = builder.add(&d.doc, &rows, meta.as_ref().and_then(|m| lookup(m, &d.doc.id)));
            if let (Some(w), Some(article)) = (articles.as_mut(), ended) {
                w.write(&article)?;
            }
            progress.inc(1);
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    empty.warn();
    if let Some(mut w) = sentences {
        w.flush()?;
    }
    let summary = ModelSummary {
        path: args.model.display().to_string(),
        blake3: model_digest,
        options: model.params().to_string(),
        training_data: model.training_data().to_owned(),
    };
    let last = builder.end();
    if let (Some(w), Some(article)) = (articles.as_mut(), last) {
        w.write(&article)?;
    }
    if let Some(w) = articles {
        w.finish()?;
    }
    // The statistics keep every article's counts at hand: the model's memory is theirs now.
    drop(model);
    let bar = StatisticsBar(
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template("statistics {bar:30} {pos}/{len} blocks of draws, {eta} left")
                .expect("valid template"),
        ),
    );
    let report = builder.finish(summary, args.threads.get(), &bar);
    bar.0.finish_and_clear();
    if report.article_count == 0 {
        anyhow::bail!("no articles in the input");
    }
    if report.comparisons_skipped() {
        eprintln!(
            "narrative: warning: {} groups by {:?}, more than --compared-groups {}: no pairs compared",
            report.groups.len(),
            report.options.group_by,
            report.options.compared_groups
        );
    }
    match staging {
        Some(staging) => {
            write_files(&report, staging.staging())?;
            staging.commit()?;
            let out = args.out.as_deref().expect("staging implies --out");
            writeln!(
                std::io::stdout().lock(),
                "wrote report for {} articles to {}",
                report.article_count,
                out.display()
            )?;
        }
        None => print_tables(&mut std::io::stdout().lock(), &report)?,
    }
    Ok(())
}

/// Metadata rows by key (file name or id).
type Meta = BTreeMap<String, BTreeMap<String, String>>;

fn read_meta(path: &Path) -> anyhow::Result<Meta> {
    let mut reader = csv::Reader::from_reader(narrative::input::open(path)?);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| narrative::data::csv_error(path, e))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let key = ["file", "id", "doc"].iter().find_map(|k| headers.iter().position(|h| h == k)).with_context(|| {
        format!(
            "{}: no `file`, `id` or `doc` column to match articles by; columns found: {}",
            path.display(),
            headers.join(", ")
        )
    })?;
    let mut meta = Meta::new();
    for record in reader.records() {
        let record = record.map_err(|e| narrative::data::csv_error(path, e))?;
        let row = headers.iter().zip(record.iter()).filter(|(h, _)| **h != headers[key]);
        meta.insert(record[key].to_owned(), row.map(|(h, v)| (h.clone(), v.to_owned())).collect());
    }
    Ok(meta)
}

/// The metadata of a document: by its id, else by its file name.
fn lookup<'a>(meta: &'a Meta, id: &str) -> Option<&'a BTreeMap<String, String>> {
    meta.get(id).or_else(|| Path::new(id).file_name().and_then(|f| f.to_str()).and_then(|f| meta.get(f)))
}

/// The terminal table lists at most this many articles; `--out` files have them all.
/// Articles shown in full: in the terminal tables, the HTML page, its chart and report.json (articles.csv
/// has every one).
const SHOWN_ARTICLES: usize = 50;

/// Writes articles.csv one article at a time, as articles end.
struct ArticleWriter {
    csv: csv::Writer<std::fs::File>,
}

impl ArticleWriter {
    fn create(path: &Path, labels: &[String]) -> anyhow::Result<Self> {
        let mut csv = csv::Writer::from_path(path)?;
        let mut header: Vec<String> =
            ["doc", "title", "group", "sentences", "dominant", "intensity"].map(String::from).to_vec();
        header.extend(labels.iter().map(|l| format!("share_{l}")));
        header.extend(labels.iter().map(|l| format!("soft_{l}")));
        csv.write_record(&header)?;
        Ok(Self { csv })
    }

    fn write(&mut self, a: &ArticleSummary) -> anyhow::Result<()> {
        let mut row = vec![
            a.doc.clone(),
            a.title.clone().unwrap_or_default(),
            a.group.clone(),
            a.sentences.to_string(),
            a.dominant.clone(),
            format!("{:.6}", a.intensity),
        ];
        row.extend(a.shares.iter().chain(&a.soft_shares).map(|v| format!("{v:.6}")));
        self.csv.write_record(&row).context("articles.csv: cannot write")
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.csv.flush().context("articles.csv: cannot write")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

fn write_csv(path: &Path, header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(header)?;
    for row in rows {
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn write_files(report: &Report, dir: &Path) -> anyhow::Result<()> {
    let labels = &report.labels;
    let mut header: Vec<String> = ["group", "articles", "sentences", "too_few_articles"].map(String::from).to_vec();
    for l in labels {
        for part in ["pooled", "pooled_low", "pooled_high", "mean", "mean_low", "mean_high"] {
            header.push(format!("{part}_{l}"));
        }
    }
    write_csv(
        &dir.join("groups.csv"),
        &header,
        report.groups.iter().map(|g| {
            let mut row =
                vec![g.group.clone(), g.articles.to_string(), g.sentences.to_string(), g.too_few_articles.to_string()];
            for (p, m) in g.pooled.iter().zip(&g.mean_of_articles) {
                row.extend([p.estimate, p.low, p.high, m.estimate, m.low, m.high].map(|v| format!("{v:.6}")));
            }
            row
        }),
    )?;
    let header: Vec<String> = [
        "a",
        "b",
        "tvd",
        "permutation_p",
        "permutations",
        "chi_square",
        "degrees_of_freedom",
        "chi_square_p",
        "cramers_v",
    ]
    .map(String::from)
    .to_vec();
    write_csv(
        &dir.join("comparisons.csv"),
        &header,
        report.comparisons.iter().map(|c| {
            let d = &c.difference;
            vec![
                c.a.clone(),
                c.b.clone(),
                format!("{:.6}", d.tvd),
                format!("{:.6}", d.permutation_p),
                d.permutations.to_string(),
                format!("{:.6}", d.chi_square),
                d.degrees_of_freedom.to_string(),
                format!("{:.6e}", d.chi_square_p),
                format!("{:.6}", d.cramers_v),
            ]
        }),
    )?;
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(report)?)?;
    let charts = dir.join("charts");
    std::fs::create_dir(&charts)?;
    let articles_svg = narrative::report::render::articles_chart(report);
    let groups_svg = narrative::report::render::groups_chart(report);
    std::fs::write(charts.join("articles.svg"), &articles_svg)?;
    std::fs::write(charts.join("groups.svg"), &groups_svg)?;
    std::fs::write(dir.join("report.html"), narrative::report::render::html(report, &articles_svg, &groups_svg))?;
    Ok(())
}

fn print_tables(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let labels = &report.labels;
    writeln!(
        out,
        "{} articles, {} sentences, grouped by {}; model {} (blake3 {})\n",
        report.article_count,
        report.sentences,
        report.options.group_by,
        report.model.path,
        &report.model.blake3[..16]
    )?;
    let width = |items: &mut dyn Iterator<Item = usize>| items.max().unwrap_or(5).max(5);
    let doc_w = width(&mut report.articles.iter().map(|a| a.doc.len()));
    let group_w = width(
        &mut report.articles.iter().map(|a| a.group.len()).chain(report.groups.iter().map(|g| g.group.len() + 2)),
    );
    let label_w = width(&mut labels.iter().map(String::len)).max(19);
    writeln!(out, "ARTICLES (share of sentences, %)")?;
    write!(out, "{:doc_w$}  {:group_w$}  {:>5}  {:label_w$}  {:>9}", "doc", "group", "sent", "dominant", "intensity")?;
    for l in labels {
        write!(out, "  {:>w$}", l, w = l.len().max(6))?;
    }
    writeln!(out)?;
    for a in report.articles.iter() {
        write!(
            out,
            "{:doc_w$}  {:group_w$}  {:>5}  {:label_w$}  {:>9}",
            a.doc,
            a.group,
            a.sentences,
            a.dominant,
            pct(a.intensity)
        )?;
        for (l, s) in labels.iter().zip(&a.shares) {
            write!(out, "  {:>w$}", pct(*s), w = l.len().max(6))?;
        }
        writeln!(out)?;
    }
    if report.article_count > report.articles.len() {
        writeln!(
            out,
            "... {} more articles (--out DIR writes them all)",
            report.article_count - report.articles.len()
        )?;
    }
    writeln!(out, "\nSTRONGEST SENTENCES (per narrative: sentence number, posterior)")?;
    for a in report.articles.iter().filter(|a| !a.evidence.is_empty()) {
        writeln!(out, "{}", a.doc)?;
        for e in &a.evidence {
            writeln!(
                out,
                "  {:label_w$}  #{:<4} {:.3}  {}",
                e.label,
                e.sentence,
                e.probability,
                narrative::data::abbreviate(&e.text)
            )?;
        }
    }
    writeln!(
        out,
        "\nGROUPS (share of sentences pooled, %, with 95% bootstrap interval over articles; * fewer than {} articles)",
        report.options.min_articles
    )?;
    write!(out, "{:group_w$}  {:>8}  {:>9}", "group", "articles", "sentences")?;
    for l in labels {
        write!(out, "  {:>w$}", l, w = l.len().max(19))?;
    }
    writeln!(out)?;
    for g in &report.groups {
        let name = if g.too_few_articles { format!("{} *", g.group) } else { g.group.clone() };
        write!(out, "{name:group_w$}  {:>8}  {:>9}", g.articles, g.sentences)?;
        for (l, i) in labels.iter().zip(&g.pooled) {
            let cell = format!("{} [{}-{}]", pct(i.estimate), pct(i.low), pct(i.high));
            write!(out, "  {:>w$}", cell, w = l.len().max(19))?;
        }
        writeln!(out)?;
    }
    if report.comparisons_skipped() {
        writeln!(
            out,
            "\nCOMPARISONS not made: {} groups, more than --compared-groups {}",
            report.groups.len(),
            report.options.compared_groups
        )?;
    }
    if !report.comparisons.is_empty() {
        writeln!(
            out,
            "\nCOMPARISONS (permutation test over articles; TVD = distance between mean article mixes, 0-1)"
        )?;
        writeln!(
            out,
            "{:group_w$}  {:group_w$}  {:>6}  {:>8}  {:>10}  {:>10}",
            "a", "b", "TVD", "p", "chi2 p", "Cramer V"
        )?;
        for c in &report.comparisons {
            let d = &c.difference;
            writeln!(
                out,
                "{:group_w$}  {:group_w$}  {:>6.3}  {:>8.4}  {:>10.2e}  {:>10.3}",
                c.a, c.b, d.tvd, d.permutation_p, d.chi_square_p, d.cramers_v
            )?;
        }
    }
    Ok(())
}
