//! Writes a synthetic benchmark corpus with a realistic long-tail vocabulary (see `support/corpus.rs`)
//! for `benches/compare`, which times `narrative`, scikit-learn and fastText on the same files.
//!
//! Run: `cargo bench --bench corpus -- --out DIR --sentences 1000000 --bytes 100M [--seed 1]`
//!
//! - `--sentences N` writes `DIR/train.csv` (header `text,label`) and `DIR/train.ft` (fastText's
//!   `__label__<label> <text>`), the same N labelled sentences in the same order;
//! - `--bytes SIZE` (`10M`, `100M`, `1G`: powers of 1000) writes `DIR/classify.txt`, one sentence per
//!   line and at least SIZE bytes, from an independent stream of the same seed (so no sentence sequence
//!   is shared with training), and `DIR/classify.labels`, the label each line was generated with.
//!
//! Each file is written beside its target and renamed into place when complete, and a
//! `train.summary.json` / `classify.summary.json` records what was written. Without `--out` (as under a
//! plain `cargo bench`) it prints a usage line and exits.

#[path = "support/corpus.rs"]
mod corpus;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use corpus::{Generator, LABELS, Vocabulary};

const USAGE: &str = "usage: cargo bench --bench corpus -- --out DIR [--sentences N] [--bytes 10M|100M|1G] [--seed S]";

/// Command line; `--bench` is what cargo passes to every bench target, and is ignored.
#[derive(Parser)]
#[command(about = "Writes a synthetic long-tail benchmark corpus", override_usage = USAGE)]
struct Args {
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of labelled training sentences for train.csv and train.ft.
    #[arg(long)]
    sentences: Option<u64>,
    /// Size of classify.txt: a number of bytes with an optional K, M or G suffix (powers of 1000).
    #[arg(long, value_parser = parse_size)]
    bytes: Option<u64>,
    /// Seed of the sentences (the vocabulary is fixed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let scale = match unit.to_ascii_uppercase().trim_end_matches('B') {
        "" => 1,
        "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return Err(format!("unknown size unit in {text:?}; use K, M or G")),
    };
    digits.parse::<u64>().map(|n| n * scale).map_err(|_| format!("not a size: {text:?}; e.g. 100M"))
}

/// What one output file holds, printed and saved as JSON beside it.
struct Summary {
    sentences: u64,
    /// Bytes of sentence text, one line break per sentence counted (the size of classify.txt).
    text_bytes: u64,
    file_bytes: u64,
    labels: [u64; LABELS.len()],
    stats: corpus::WordStats,
    seconds: f64,
}

impl Summary {
    fn print(&self, name: &str) {
        let labels: Vec<String> = LABELS.iter().zip(self.labels).map(|(l, n)| format!("{l} {n}")).collect();
        println!(
            "{name}: {} sentences, {:.1} MB of text ({} bytes), {:.1} words per sentence, {} distinct word \
             types, {:.1}% of words outside the 100k most frequent types; labels: {}; {:.1} s",
            self.sentences,
            self.text_bytes as f64 / 1e6,
            self.file_bytes,
            self.stats.tokens as f64 / self.sentences.max(1) as f64,
            self.stats.types,
            100.0 * self.stats.outside_top_100k,
            labels.join(", "),
            self.seconds,
        );
    }

    fn json(&self, seed: u64, stream: u64) -> serde_json::Value {
        let labels: serde_json::Map<String, serde_json::Value> =
            LABELS.iter().zip(self.labels).map(|(l, n)| (l.to_string(), n.into())).collect();
        serde_json::json!({
            "sentences": self.sentences,
            "text_bytes": self.text_bytes,
            "file_bytes": self.file_bytes,
            "words": self.stats.tokens,
            "word_types": self.stats.types,
            "outside_top_100k": self.stats.outside_top_100k,
            "labels": labels,
            "seed": seed,
            "stream": stream,
            "zipf_exponent": corpus::ZIPF_EXPONENT,
            "zipf_q": corpus::ZIPF_Q,
            "tail_from": corpus::TAIL_FROM,
            "tail_exponent": corpus::TAIL_EXPONENT,
            "vocabulary_types": corpus::WORD_TYPES,
            "topic_share": corpus::TOPIC_SHARE,
        })
    }
}

/// A file written under a temporary name beside its target and renamed into place by [`Partial::finish`],
/// so an interrupted run never leaves a partial file under the final name.
struct Partial {
    path: PathBuf,
    tmp: PathBuf,
    writer: BufWriter<File>,
}

impl Partial {
    fn create(path: PathBuf) -> Result<Partial> {
        let mut tmp = path.clone().into_os_string();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Partial { path, tmp, writer: BufWriter::with_capacity(1 << 20, file) })
    }

    fn finish(self) -> Result<()> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all().with_context(|| format!("writing {}", self.tmp.display()))?;
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("renaming {} to {}", self.tmp.display(), self.path.display()))
    }
}

fn write_json(path: PathBuf, json: &serde_json::Value) -> Result<()> {
    let mut file = Partial::create(path)?;
    serde_json::to_writer_pretty(&mut file.writer, json)?;
    writeln!(file.writer)?;
    file.finish()
}

/// Writes `train.csv` and `train.ft` in one pass, streaming (memory does not grow with `n`).
fn train(vocabulary: &Vocabulary, dir: &Path, n: u64, seed: u64) -> Result<()> {
    let started = Instant::now();
    let mut generator = Generator::new(vocabulary, seed, 0);
    let mut csv_file = Partial::create(dir.join("train.csv"))?;
    let mut ft = Partial::create(dir.join("train.ft"))?;
    let mut labels = [0; LABELS.len()];
    let mut text_bytes = 0;
    let mut text = String::new();
    {
        let mut csv = csv::Writer::from_writer(&mut csv_file.writer);
        csv.write_record(["text", "label"])?;
        for _ in 0..n {
            let label = generator.sentence(&mut text);
            labels[LABELS.iter().position(|&l| l == label).expect("a known label")] += 1;
            text_bytes += text.len() as u64 + 1;
            csv.write_record([text.as_str(), label])?;
            writeln!(ft.writer, "__label__{label} {text}")?;
        }
        csv.flush()?;
    }
    csv_file.finish()?;
    ft.finish()?;
    let summary = Summary {
        sentences: n,
        text_bytes,
        file_bytes: std::fs::metadata(dir.join("train.csv"))?.len(),
        labels,
        stats: generator.stats(),
        seconds: started.elapsed().as_secs_f64(),
    };
    summary.print("train.csv + train.ft");
    write_json(dir.join("train.summary.json"), &summary.json(seed, 0))
}

/// Writes `classify.txt` (at least `bytes` bytes) and `classify.labels`, streaming.
fn classify(vocabulary: &Vocabulary, dir: &Path, bytes: u64, seed: u64) -> Result<()> {
    const STREAM: u64 = 1;
    let started = Instant::now();
    let mut generator = Generator::new(vocabulary, seed, STREAM);
    let mut lines = Partial::create(dir.join("classify.txt"))?;
    let mut truth = Partial::create(dir.join("classify.labels"))?;
    let mut labels = [0; LABELS.len()];
    let (mut sentences, mut text_bytes) = (0, 0);
    let mut text = String::new();
    while text_bytes < bytes {
        let label = generator.sentence(&mut text);
        labels[LABELS.iter().position(|&l| l == label).expect("a known label")] += 1;
        writeln!(lines.writer, "{text}")?;
        writeln!(truth.writer, "{label}")?;
        text_bytes += text.len() as u64 + 1;
        sentences += 1;
    }
    lines.finish()?;
    truth.finish()?;
    let summary = Summary {
        sentences,
        text_bytes,
        file_bytes: text_bytes,
        labels,
        stats: generator.stats(),
        seconds: started.elapsed().as_secs_f64(),
    };
    summary.print("classify.txt");
    write_json(dir.join("classify.summary.json"), &summary.json(seed, STREAM))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let Some(dir) = args.out else {
        println!("{USAGE}");
        return Ok(());
    };
    if args.sentences.is_none() && args.bytes.is_none() {
        bail!("nothing to write: give --sentences N (train.csv, train.ft) and/or --bytes SIZE (classify.txt)");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = Instant::now();
    let vocabulary = Vocabulary::new(corpus::repository());
    println!(
        "vocabulary: {} word types ({} real), Zipf-Mandelbrot s={} q={}, topic share {}; built in {:.1} s",
        vocabulary.len(),
        vocabulary.real_words(),
        corpus::ZIPF_EXPONENT,
        corpus::ZIPF_Q,
        corpus::TOPIC_SHARE,
        started.elapsed().as_secs_f64()
    );
    if let Some(n) = args.sentences {
        train(&vocabulary, &dir, n, args.seed)?;
    }
    if let Some(bytes) = args.bytes {
        classify(&vocabulary, &dir, bytes, args.seed)?;
    }
    Ok(())
}
