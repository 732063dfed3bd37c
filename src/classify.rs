//! Classifying documents: every sentence gets a label, a confidence and the posterior of every label, and
//! rows go out as CSV or JSON Lines with one `p_<label>` column per model label (pandas, R and DuckDB read
//! both as they are).

use std::io::Write;

use serde::Serialize;

use crate::features::Featurizer;
use crate::input::{Document, Unit};
use crate::model::{Model, Prediction};
use crate::text::{Span, sentences};

/// One classified sentence of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified<'a> {
    /// Position in the document, from 1.
    pub sentence: usize,
    /// Byte span in the document's text.
    pub span: Span,
    /// The sentence.
    pub text: &'a str,
    /// The model's posteriors.
    pub prediction: Prediction,
}

/// Classifies a stream of documents, numbering sentences on across the parts of a long text article
/// (see [`Document::part`]), so a 1 GB article reads like any other.
#[derive(Debug)]
pub struct Classifier<'m> {
    model: &'m Model,
    featurizer: Featurizer,
    unit: Unit,
    current: Option<String>,
    sentences_so_far: usize,
}

impl<'m> Classifier<'m> {
    /// A classifier for `model`, reading documents as `unit`s.
    pub fn new(model: &'m Model, unit: Unit) -> Self {
        Self { model, featurizer: model.featurizer(), unit, current: None, sentences_so_far: 0 }
    }

    /// Classifies one document (or one part of a long article).
    pub fn classify<'a>(&mut self, doc: &'a Document) -> Vec<Classified<'a>> {
        let continues = doc.part > 0 && self.current.as_deref() == Some(doc.id.as_str());
        if !continues {
            self.current = Some(doc.id.clone());
            self.sentences_so_far = 0;
        }
        let mut rows = classify_document(self.model, &mut self.featurizer, doc, self.unit);
        for row in &mut rows {
            row.sentence += self.sentences_so_far;
        }
        self.sentences_so_far += rows.len();
        rows
    }

    /// The featurizer, for work on the same sentences (explanations).
    pub fn featurizer(&mut self) -> &mut Featurizer {
        &mut self.featurizer
    }
}

/// Classifies every sentence of `doc`: split into sentences, or, with [`Unit::Sentence`], the whole text
/// (trimmed) as one sentence. Spans count from the start of the source file (`doc.offset`); sentences
/// are numbered from 1 within this document. A document with no text yields nothing.
pub fn classify_document<'a>(
    model: &Model,
    featurizer: &mut Featurizer,
    doc: &'a Document,
    unit: Unit,
) -> Vec<Classified<'a>> {
    let pieces: Vec<(Span, &str)> = match unit {
        Unit::Article => sentences::split(&doc.text).into_iter().map(|s| (s.span, s.text)).collect(),
        Unit::Sentence => {
            let trimmed = doc.text.trim();
            if trimmed.is_empty() {
                Vec::new()
            } else {
                let start = doc.text.len() - doc.text.trim_start().len();
                vec![(Span::new(start, start + trimmed.len()), trimmed)]
            }
        }
    };
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, (span, text))| Classified {
            sentence: i + 1,
            span: Span::new(span.start + doc.offset, span.end + doc.offset),
            text,
            prediction: model.predict(featurizer, text),
        })
        .collect()
}

/// Output format of classified rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// CSV with a header row.
    #[default]
    Csv,
    /// One JSON object per line, same fields as the CSV columns.
    Jsonl,
}

/// Writes classified rows: `doc, sentence, start, end, text, label, confidence, p_<label>...`, and an
/// `evidence` column last when asked for.
pub struct RowWriter<W: Write> {
    format: Format,
    labels: Vec<String>,
    evidence: bool,
    csv: Option<csv::Writer<W>>,
    raw: Option<W>,
    line: String,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    doc: &'a str,
    sentence: usize,
    start: usize,
    end: usize,
    text: &'a str,
    label: &'a str,
    confidence: f64,
}

/// Probabilities are written with this many decimals (fixed, so output is byte-stable).
const DECIMALS: usize = 6;

impl<W: Write> RowWriter<W> {
    /// A writer for `model`'s labels, with an `evidence` column when `evidence` is set; CSV writes its
    /// header at once.
    pub fn new(out: W, format: Format, labels: &[String], evidence: bool) -> std::io::Result<Self> {
        let mut writer = Self { format, labels: labels.to_vec(), evidence, csv: None, raw: None, line: String::new() };
        match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                let mut header: Vec<String> =
                    ["doc", "sentence", "start", "end", "text", "label", "confidence"].map(String::from).to_vec();
                header.extend(labels.iter().map(|l| format!("p_{l}")));
                if evidence {
                    header.push("evidence".into());
                }
                csv.write_record(&header).map_err(std::io::Error::from)?;
                writer.csv = Some(csv);
            }
            Format::Jsonl => writer.raw = Some(out),
        }
        Ok(writer)
    }

    /// Writes one row; `evidence` fills the evidence column (when the writer has one).
    pub fn write(&mut self, doc: &str, row: &Classified<'_>, evidence: &str) -> std::io::Result<()> {
        let p = &row.prediction;
        let label = self.labels[p.label].as_str();
        match self.format {
            Format::Csv => {
                let csv = self.csv.as_mut().expect("csv writer for csv format");
                let mut record: Vec<String> = vec![
                    doc.to_owned(),
                    row.sentence.to_string(),
                    row.span.start.to_string(),
                    row.span.end.to_string(),
                    row.text.to_owned(),
                    label.to_owned(),
                    format!("{:.DECIMALS$}", p.confidence()),
                ];
                record.extend(p.probabilities.iter().map(|v| format!("{v:.DECIMALS$}")));
                if self.evidence {
                    record.push(evidence.to_owned());
                }
                csv.write_record(&record).map_err(std::io::Error::from)
            }
            Format::Jsonl => {
                let out = self.raw.as_mut().expect("raw writer for jsonl format");
                let head = JsonRow {
                    doc,
                    sentence: row.sentence,
                    start: row.span.start,
                    end: row.span.end,
                    text: row.text,
                    label,
                    confidence: round(p.confidence()),
                };
                self.line.clear();
                let object = serde_json::to_string(&head).map_err(std::io::Error::from)?;
                self.line.push_str(&object[..object.len() - 1]);
                for (l, v) in self.labels.iter().zip(&p.probabilities) {
                    let key = serde_json::to_string(&format!("p_{l}")).map_err(std::io::Error::from)?;
                    let value = serde_json::to_string(&round(*v)).map_err(std::io::Error::from)?;
                    self.line.push_str(&format!(",{key}:{value}"));
                }
                if self.evidence {
                    let value = serde_json::to_string(evidence).map_err(std::io::Error::from)?;
                    self.line.push_str(&format!(",\"evidence\":{value}"));
                }
                self.line.push_str("}\n");
                out.write_all(self.line.as_bytes())
            }
        }
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        match (self.csv, self.raw) {
            (Some(csv), _) => csv.into_inner().map_err(|e| e.into_error()),
            (None, Some(mut raw)) => {
                raw.flush()?;
                Ok(raw)
            }
            (None, None) => unreachable!("a writer always holds one output"),
        }
    }
}

fn round(v: f64) -> f64 {
    format!("{v:.DECIMALS$}").parse().expect("formatted float parses")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;
    use crate::params::TrainParams;

    fn model() -> Model {
        let examples: Vec<Example> = [
            ("Kyiv denied involvement in the attack", "blame"),
            ("Moscow blamed Kyiv for the attack", "blame"),
            ("Islamic State claimed the attack", "isis"),
            ("The toll rose to 140", "neutral"),
        ]
        .iter()
        .map(|(t, l)| Example { text: (*t).into(), label: (*l).into(), ..Example::default() })
        .collect();
        Model::train(&examples, &TrainParams::default().check().unwrap()).unwrap()
    }

    fn doc(text: &str) -> Document {
        Document { id: "d".into(), text: text.into(), ..Document::default() }
    }

    #[test]
    fn articles_are_split_and_sentence_units_are_not() {
        let m = model();
        let mut f = m.featurizer();
        let d = doc("  Kyiv denied it. Islamic State claimed it.  ");
        let rows = classify_document(&m, &mut f, &d, Unit::Article);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].sentence, rows[1].text), (2, "Islamic State claimed it."));
        assert_eq!(&d.text[rows[1].span.start..rows[1].span.end], rows[1].text);
        let rows = classify_document(&m, &mut f, &d, Unit::Sentence);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text, "Kyiv denied it. Islamic State claimed it.");
        assert!(classify_document(&m, &mut f, &doc("   "), Unit::Sentence).is_empty());
    }

    #[test]
    fn parts_of_one_article_continue_numbering_and_offsets() {
        let m = model();
        let mut c = Classifier::new(&m, Unit::Article);
        let first = Document { id: "a.txt".into(), text: "One. Two.\n\n".into(), ..Document::default() };
        let second = Document { id: "a.txt".into(), text: "Three.".into(), offset: 11, part: 1, ..Document::default() };
        let other = Document { id: "b.txt".into(), text: "Four.".into(), ..Document::default() };
        assert_eq!(c.classify(&first).len(), 2);
        let rows = c.classify(&second);
        assert_eq!((rows[0].sentence, rows[0].span), (3, Span::new(11, 17)));
        assert_eq!(c.classify(&other)[0].sentence, 1);
    }

    #[test]
    fn csv_and_jsonl_rows_carry_every_label() {
        let m = model();
        let mut f = m.featurizer();
        let d = doc("Moscow blamed Kyiv, \"again\".");
        let rows = classify_document(&m, &mut f, &d, Unit::Article);
        let mut csv = RowWriter::new(Vec::new(), Format::Csv, m.labels(), false).unwrap();
        csv.write("a.txt", &rows[0], "").unwrap();
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), "doc,sentence,start,end,text,label,confidence,p_blame,p_isis,p_neutral");
        assert!(lines.next().unwrap().starts_with("a.txt,1,0,28,\"Moscow blamed Kyiv, \"\"again\"\".\",blame,"));

        let mut jsonl = RowWriter::new(Vec::new(), Format::Jsonl, m.labels(), true).unwrap();
        jsonl.write("a.txt", &rows[0], "kyiv (+1.00)").unwrap();
        let line = String::from_utf8(jsonl.into_inner().unwrap()).unwrap();
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(value["label"], "blame");
        assert_eq!(value["evidence"], "kyiv (+1.00)");
        assert_eq!(value["text"], "Moscow blamed Kyiv, \"again\".");
        let sum: f64 = ["p_blame", "p_isis", "p_neutral"].iter().map(|k| value[k].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
}
