//! Classifying documents: every sentence gets a label, a confidence and the posterior of every label, and
//! rows go out as CSV or JSON Lines with one `p_<label>` column per model label (pandas, R and DuckDB read
//! both as they are).

use std::io::Write;
use std::num::NonZeroUsize;

use smallvec::SmallVec;

use crate::error::Result;
use crate::explain::{format_evidence, sentence_evidence};
use crate::features::Featurizer;
use crate::input::{Document, Unit};
use crate::model::{Classifier, Prediction};
use crate::parallel::{Batching, IN_FLIGHT_PER_THREAD, map_ordered};
use crate::text::{Span, sentences};

/// One classified sentence of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified<'a> {
    /// Position in the document, from 1.
    pub sentence: usize,
    /// Byte span in the document's source file.
    pub span: Span,
    /// The sentence.
    pub text: &'a str,
    /// The model's posteriors.
    pub prediction: &'a Prediction,
}

/// A document (or one part of a long text article) with the posteriors of its sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedDoc {
    /// The document.
    pub doc: Document,
    /// Every sentence: its span in `doc.text` and its posteriors, in order (held inline when there is
    /// one, as for every row of sentence-per-row input, which then costs no allocation).
    pub sentences: SentencePredictions,
}

/// The sentences of a document, by span, with their posteriors.
pub type SentencePredictions = SmallVec<[(Span, Prediction); 1]>;

impl ClassifiedDoc {
    /// Classifies every sentence of `doc`: split into sentences, or, with [`Unit::Sentence`], the whole
    /// text (trimmed) as one sentence. A document with no text has no sentences.
    pub fn new(model: &Classifier, featurizer: &mut Featurizer, doc: Document, unit: Unit) -> Self {
        Self::all(model, featurizer, vec![doc], unit).pop().expect("one document in, one out")
    }

    /// [`ClassifiedDoc::new`] for each of `docs`, in order, their sentences classified a few at a time
    /// across documents (see [`Classifier::predict_all`]), which is faster than one document at a time
    /// when documents are single sentences.
    pub fn all(model: &Classifier, featurizer: &mut Featurizer, docs: Vec<Document>, unit: Unit) -> Vec<Self> {
        classify_docs(model, featurizer, unit, docs.into_iter().map(|doc| (doc, SmallVec::new())).collect())
    }

    /// The sentences as rows numbered from `first`, with spans counted from the start of the source file
    /// (`doc.offset`).
    pub fn rows(&self, first: usize) -> impl Iterator<Item = Classified<'_>> {
        self.sentences.iter().enumerate().map(move |(i, (span, prediction))| Classified {
            sentence: first + i,
            span: Span::new(span.start + self.doc.offset, span.end + self.doc.offset),
            text: &self.doc.text[span.start..span.end],
            prediction,
        })
    }
}

/// Classifies every sentence of `docs` (see [`ClassifiedDoc::new`]) with one call of
/// [`Classifier::predict_all`], keeping each document's sentences in the storage that comes with it
/// (emptied first), whose capacity is reused.
fn classify_docs(
    model: &Classifier,
    featurizer: &mut Featurizer,
    unit: Unit,
    docs: Vec<(Document, SentencePredictions)>,
) -> Vec<ClassifiedDoc> {
    let (mut spans, mut texts) = (Vec::new(), Vec::new());
    let mut counts = Vec::with_capacity(docs.len());
    for (doc, _) in &docs {
        let before = spans.len();
        match unit {
            Unit::Article => spans.extend(sentences::split(&doc.text).into_iter().map(|s| s.span)),
            Unit::Sentence => {
                let after_space = doc.text.trim_start();
                let start = doc.text.len() - after_space.len();
                let trimmed = after_space.trim_end();
                spans.extend((!trimmed.is_empty()).then(|| Span::new(start, start + trimmed.len())));
            }
        }
        texts.extend(spans[before..].iter().map(|span| &doc.text[span.start..span.end]));
        counts.push(spans.len() - before);
    }
    let mut predictions = Vec::with_capacity(texts.len());
    model.predict_all(featurizer, &texts, &mut predictions);
    drop(texts);
    let mut sentences = spans.into_iter().zip(predictions);
    let classified = docs.into_iter().zip(counts).map(|((doc, mut storage), count)| {
        storage.clear();
        storage.extend(sentences.by_ref().take(count));
        ClassifiedDoc { doc, sentences: storage }
    });
    classified.collect()
}

/// Numbers sentences across the parts of a long text article (see [`Document::part`]), so a 1 GB article
/// reads like any other: each document's first sentence number, in input order.
#[derive(Debug, Default)]
pub struct Numbering {
    current: Option<String>,
    so_far: usize,
}

impl Numbering {
    /// The number of the first sentence of `doc`, which has `sentences` sentences.
    pub fn first(&mut self, doc: &Document, sentences: usize) -> usize {
        let continues = doc.part > 0 && self.current.as_deref() == Some(doc.id.as_str());
        if !continues {
            // Into the buffer of the last id: no allocation per document.
            self.current.get_or_insert_default().clone_from(&doc.id);
            self.so_far = 0;
        }
        let first = self.so_far + 1;
        self.so_far += sentences;
        first
    }
}

/// A batch of documents classified by one worker, its rows already rendered when asked for.
#[derive(Debug, Default)]
pub struct ClassifiedBatch {
    /// The documents and their posteriors.
    pub docs: Vec<ClassifiedDoc>,
    /// Their rows, every sentence's number left open (see [`Rendered`]).
    pub rendered: Rendered,
}

impl ClassifiedBatch {
    /// The number of every document's first sentence, from `numbering` (which advances).
    pub fn number(&self, numbering: &mut Numbering) -> Vec<usize> {
        self.docs.iter().map(|d| numbering.first(&d.doc, d.sentences.len())).collect()
    }

    /// Writes the rendered rows, numbering each document's sentences from its entry in `firsts`.
    pub fn write_rows(&self, firsts: &[usize], out: &mut impl Write) -> std::io::Result<()> {
        let numbers = self.docs.iter().zip(firsts).flat_map(|(d, &first)| first..first + d.sentences.len());
        self.rendered.write_to(numbers, out)
    }
}

/// What the workers of [`classify_stream`] do.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyOptions<'a> {
    /// Article or sentence units.
    pub unit: Unit,
    /// Render rows in this format (none: posteriors only).
    pub rows: Option<&'a RowFormat>,
    /// With rows: add the evidence column with this many n-grams.
    pub explain: Option<usize>,
    /// Worker threads.
    pub threads: NonZeroUsize,
}

/// Documents per batch handed to a worker: text enough to make the hand-over cost nothing, little enough
/// that the batches in flight stay a few megabytes (weighed by their bytes of text). Every command that
/// classifies documents or labelled sentences batches them so.
pub const BATCHING: Batching = Batching { weight: 256 << 10, items: 4096 };

/// What a document or sentence of `text` weighs in a batch ([`BATCHING`]): its bytes, and a little for
/// what every item costs whatever its length.
pub fn batch_weight(text: &str) -> usize {
    text.len() + 64
}

/// Classifies a stream of documents on `options.threads` threads and hands each batch to `sink` in input
/// order (so output is identical with any number of threads). Memory stays bounded: documents are read
/// a batch at a time and at most a few batches per thread are in flight. The first error, from the
/// documents or from `sink`, ends the run (see [`map_ordered`]).
pub fn classify_stream<E>(
    model: &Classifier,
    documents: impl Iterator<Item = Result<Document, E>>,
    options: ClassifyOptions<'_>,
    mut sink: impl FnMut(&ClassifiedBatch) -> Result<(), E>,
) -> Result<(), E> {
    // The large buffers of sunk batches go back to the workers (see `Spare::of`).
    let (spare, spares) = crossbeam_channel::bounded::<Spare>(options.threads.get() * IN_FLIGHT_PER_THREAD);
    map_ordered(
        documents,
        options.threads,
        BATCHING,
        |doc: &Document| batch_weight(&doc.text),
        || model.featurizer(),
        |featurizer, docs| {
            let Spare { rendered, mut sentences } = spares.try_recv().unwrap_or_default();
            let mut batch = ClassifiedBatch { docs: Vec::with_capacity(docs.len()), rendered };
            let docs = docs.into_iter().map(|doc| (doc, sentences.pop().unwrap_or_default())).collect();
            for classified in classify_docs(model, featurizer, options.unit, docs) {
                if let Some(format) = options.rows {
                    for row in classified.rows(1) {
                        let evidence = options.explain.map(|top| {
                            let features = featurizer.features(row.text, model.vocabulary());
                            format_evidence(&sentence_evidence(model, features, row.prediction, top))
                        });
                        format.render(&classified.doc.id, &row, evidence.as_deref().unwrap_or(""), &mut batch.rendered);
                    }
                }
                batch.docs.push(classified);
            }
            batch
        },
        |batch| {
            sink(&batch)?;
            if let Some(buffers) = Spare::of(batch) {
                _ = spare.try_send(buffers);
            }
            Ok(())
        },
    )
}

/// The reusable buffers of a sunk batch: its rendered rows, and the sentence lists that outgrew their
/// inline room.
#[derive(Default)]
struct Spare {
    rendered: Rendered,
    sentences: Vec<SentencePredictions>,
}

impl Spare {
    /// Rendered rows from this many bytes up are worth passing back.
    const LARGE: usize = 1 << 20;

    /// The buffers of `batch` to pass back to the workers: when it has rendered rows of [`Spare::LARGE`]
    /// bytes or more, or sentence lists on the heap (documents of more than one sentence). A part of a
    /// long text article has megabytes of rows and a sentence list of hundreds of kilobytes, which were
    /// allocated on a worker and freed on the calling thread part after part, and glibc's arenas grew over
    /// the run (peak RSS at 1 GB of one article on two threads 51.6 MB against 36.7 MB at 10 MB; 46.0
    /// against 38.2 MB with them passed back; an articles CSV, 24.6 MB against 25.8 before). The rows
    /// of a batch of sentences are left to malloc: passed back as well, they raised that input's peak at
    /// 1 GB from 89 to 97 MB.
    fn of(batch: ClassifiedBatch) -> Option<Self> {
        let mut sentences = batch.docs.into_iter().map(|d| d.sentences).filter(SmallVec::spilled).peekable();
        if batch.rendered.bytes.capacity() < Self::LARGE && sentences.peek().is_none() {
            return None;
        }
        let sentences = sentences.collect();
        let mut rendered = batch.rendered;
        rendered.clear();
        Some(Spare { rendered, sentences })
    }
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

/// Probabilities are written with this many decimals (fixed, so output is byte-stable).
pub const DECIMALS: usize = 6;

/// A column of classified rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Column {
    /// The document's id: its file path, `FILE:LINE`, or its `id` field.
    Doc,
    /// The sentence's position in its document, from 1.
    Sentence,
    /// Byte offset of the sentence's start in the source.
    Start,
    /// Byte offset one past the sentence's end.
    End,
    /// The sentence itself.
    Text,
    /// The chosen label.
    Label,
    /// The chosen label's posterior.
    Confidence,
    /// One `p_<label>` column per label of the model: every posterior.
    Probabilities,
}

impl Column {
    /// The column's name, as `--columns` takes it.
    fn name(self) -> String {
        let value = clap::ValueEnum::to_possible_value(&self).expect("every column has a name");
        value.get_name().to_owned()
    }
}

/// The columns of classified rows, in order, each at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns(Vec<Column>);

impl Default for Columns {
    /// Every column: `doc, sentence, start, end, text, label, confidence, p_<label>...`.
    fn default() -> Self {
        use clap::ValueEnum;
        Self(Column::value_variants().to_vec())
    }
}

impl std::str::FromStr for Columns {
    type Err = String;

    /// Parses a comma-separated list such as `doc,sentence,label,confidence`.
    fn from_str(list: &str) -> std::result::Result<Self, String> {
        use clap::ValueEnum;
        let mut columns = Vec::new();
        for name in list.split(',').map(str::trim) {
            let column = Column::from_str(name, true)
                .map_err(|_| format!("unknown column {name:?} (known: {})", Columns::default()))?;
            if columns.contains(&column) {
                return Err(format!("column {name:?} is listed twice"));
            }
            columns.push(column);
        }
        Ok(Self(columns))
    }
}

impl std::fmt::Display for Columns {
    /// The comma-separated list [`std::str::FromStr`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.0.iter().map(|c| c.name()).collect();
        f.write_str(&names.join(","))
    }
}

/// How classified rows are written: the chosen [`Columns`] (all by default), and an `evidence` column
/// last when asked for, as CSV (quoted as the csv crate does) or JSON Lines. Probabilities have
/// [`DECIMALS`] decimals in both.
#[derive(Debug, Clone)]
pub struct RowFormat {
    format: Format,
    columns: Columns,
    labels: Vec<String>,
    evidence: bool,
    /// What goes before each field: a comma in CSV (none first), the key in JSON Lines.
    prefixes: Vec<Vec<u8>>,
}

impl RowFormat {
    /// Rows of every column for `labels` (the model's), with an `evidence` column when `evidence` is set.
    pub fn new(format: Format, labels: &[String], evidence: bool) -> Self {
        Self::with_columns(format, Columns::default(), labels, evidence)
    }

    /// Rows of `columns` for `labels` (the model's), with an `evidence` column when `evidence` is set.
    pub fn with_columns(format: Format, columns: Columns, labels: &[String], evidence: bool) -> Self {
        let mut rows = Self { format, columns, labels: labels.to_vec(), evidence, prefixes: Vec::new() };
        rows.prefixes = (rows.names().iter().enumerate())
            .map(|(i, name)| {
                let mut prefix = Vec::new();
                if format == Format::Jsonl {
                    prefix.push(if i == 0 { b'{' } else { b',' });
                    push_json_string(&mut prefix, name);
                    prefix.push(b':');
                } else if i > 0 {
                    prefix.push(b',');
                }
                prefix
            })
            .collect();
        rows
    }

    /// Every column's name, in order.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for column in &self.columns.0 {
            match column {
                Column::Probabilities => names.extend(self.labels.iter().map(|l| format!("p_{l}"))),
                other => names.push(other.name()),
            }
        }
        if self.evidence {
            names.push("evidence".into());
        }
        names
    }

    /// The header: the CSV column names line, nothing for JSON Lines.
    pub fn header(&self) -> Vec<u8> {
        if self.format == Format::Jsonl {
            return Vec::new();
        }
        let mut line = Vec::new();
        for (i, column) in self.names().iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            push_csv_field(&mut line, column);
        }
        line.push(b'\n');
        line
    }

    /// Appends one row to `out`, its sentence number left open; `evidence` fills the evidence column
    /// (when there is one).
    pub fn render(&self, doc: &str, row: &Classified<'_>, evidence: &str, out: &mut Rendered) {
        let p = row.prediction;
        let json = self.format == Format::Jsonl;
        let bytes = &mut out.bytes;
        let mut int = itoa::Buffer::new();
        let mut prefixes = self.prefixes.iter();
        let mut field =
            |bytes: &mut Vec<u8>| bytes.extend_from_slice(prefixes.next().expect("a prefix for every field"));
        let string = |bytes: &mut Vec<u8>, text: &str| {
            if json { push_json_string(bytes, text) } else { push_csv_field(bytes, text) }
        };
        for column in &self.columns.0 {
            if *column != Column::Probabilities {
                field(bytes);
            }
            match column {
                Column::Doc => string(bytes, doc),
                Column::Sentence => out.slots.push(bytes.len()),
                Column::Start => bytes.extend_from_slice(int.format(row.span.start).as_bytes()),
                Column::End => bytes.extend_from_slice(int.format(row.span.end).as_bytes()),
                Column::Text => string(bytes, row.text),
                Column::Label => string(bytes, &self.labels[p.label]),
                Column::Confidence => push_fixed(bytes, p.confidence()),
                Column::Probabilities => {
                    for &v in &p.probabilities {
                        field(bytes);
                        push_fixed(bytes, v);
                    }
                }
            }
        }
        if self.evidence {
            field(bytes);
            string(bytes, evidence);
        }
        if json {
            bytes.push(b'}');
        }
        bytes.push(b'\n');
        out.rows += 1;
    }
}

/// Rows rendered except for their sentence numbers, which only the writer, reading documents in order,
/// can know (a long article's later parts continue its numbering): `slots` holds where each row's number
/// goes.
#[derive(Debug, Default)]
pub struct Rendered {
    bytes: Vec<u8>,
    slots: Vec<usize>,
    rows: usize,
}

impl Rendered {
    /// Forgets every row, keeping the buffers' capacity.
    fn clear(&mut self) {
        self.bytes.clear();
        self.slots.clear();
        self.rows = 0;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Writes the rows, filling in their sentence numbers (if they have that column) from `numbers` (one
    /// per row, in order).
    pub fn write_to(&self, mut numbers: impl Iterator<Item = usize>, out: &mut impl Write) -> std::io::Result<()> {
        let mut int = itoa::Buffer::new();
        let mut written = 0;
        for &slot in &self.slots {
            out.write_all(&self.bytes[written..slot])?;
            out.write_all(int.format(numbers.next().expect("a number for every row")).as_bytes())?;
            written = slot;
        }
        out.write_all(&self.bytes[written..])
    }
}

/// Appends `field` as a CSV field, quoted (with `"` doubled) when it holds a comma, a quote or a line
/// break: the csv crate's `QuoteStyle::Necessary`.
fn push_csv_field(out: &mut Vec<u8>, field: &str) {
    if memchr::memchr3(b',', b'"', b'\n', field.as_bytes()).is_none()
        && memchr::memchr(b'\r', field.as_bytes()).is_none()
    {
        out.extend_from_slice(field.as_bytes());
        return;
    }
    out.push(b'"');
    for (i, piece) in field.split('"').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(piece.as_bytes());
    }
    out.push(b'"');
}

/// Appends `text` as a JSON string.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
}

/// Appends a probability (in `[0, 1]`) with [`DECIMALS`] decimals, rounded half away from zero.
fn push_fixed(out: &mut Vec<u8>, value: f64) {
    const SCALE: u64 = 10u64.pow(DECIMALS as u32);
    let scaled = (value * SCALE as f64).round() as u64;
    let mut int = itoa::Buffer::new();
    out.extend_from_slice(int.format(scaled / SCALE).as_bytes());
    out.push(b'.');
    let fraction = int.format(scaled % SCALE);
    out.extend(std::iter::repeat_n(b'0', DECIMALS - fraction.len()));
    out.extend_from_slice(fraction.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;
    use crate::model::Model;
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
    fn a_document_classified_into_reused_storage_is_classified_as_into_new_storage() {
        let m = model();
        let mut f = m.featurizer();
        let long = doc("Kyiv denied it. Islamic State claimed it. The toll rose. Moscow blamed Kyiv.");
        let used = ClassifiedDoc::new(&m, &mut f, long, Unit::Article).sentences;
        assert!(used.spilled(), "four sentences outgrow the inline room");
        for unit in [Unit::Article, Unit::Sentence] {
            let short = doc("Islamic State claimed the attack. The toll rose.");
            let reused = classify_docs(&m, &mut f, unit, vec![(short.clone(), used.clone())]);
            assert_eq!(reused, [ClassifiedDoc::new(&m, &mut f, short, unit)], "{unit:?}");
        }
    }

    #[test]
    fn documents_classified_together_are_classified_as_one_by_one() {
        let m = model();
        let mut f = m.featurizer();
        let texts = [
            "Islamic State claimed the attack. The toll rose.",
            "",
            "Kyiv denied it.  Moscow blamed Kyiv and the West. Iran warned Moscow.",
            " \n ",
            "The US warned of an imminent attack. Putin dismissed the warning as blackmail. Gunmen opened fire.",
            "ISIS-K. Kyiv. Kyiv. Kyiv. Kyiv. Kyiv. Kyiv. Kyiv. Kyiv. Kyiv.",
        ];
        for unit in [Unit::Article, Unit::Sentence] {
            let together = ClassifiedDoc::all(&m, &mut f, texts.iter().map(|&t| doc(t)).collect(), unit);
            let alone: Vec<_> = texts.iter().map(|&t| ClassifiedDoc::new(&m, &mut f, doc(t), unit)).collect();
            assert_eq!(together, alone, "{unit:?}");
        }
    }

    #[test]
    fn articles_are_split_and_sentence_units_are_not() {
        let m = model();
        let mut f = m.featurizer();
        let d = doc("  Kyiv denied it. Islamic State claimed it.  ");
        let classified = ClassifiedDoc::new(&m, &mut f, d.clone(), Unit::Article);
        let rows: Vec<Classified<'_>> = classified.rows(1).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].sentence, rows[1].text), (2, "Islamic State claimed it."));
        assert_eq!(&d.text[rows[1].span.start..rows[1].span.end], rows[1].text);
        let classified = ClassifiedDoc::new(&m, &mut f, d, Unit::Sentence);
        assert_eq!(
            classified.rows(1).map(|r| r.text).collect::<Vec<_>>(),
            ["Kyiv denied it. Islamic State claimed it."]
        );
        assert!(ClassifiedDoc::new(&m, &mut f, doc("   "), Unit::Sentence).sentences.is_empty());
    }

    #[test]
    fn a_sentence_row_is_classified_without_heap_allocations_for_its_result() {
        let m = model();
        let classified = ClassifiedDoc::new(&m, &mut m.featurizer(), doc("Kyiv denied it."), Unit::Sentence);
        assert!(!classified.sentences.spilled(), "one sentence is held inline");
        let (_, prediction) = &classified.sentences[0];
        assert_eq!(prediction.probabilities.len(), m.labels().len());
        assert!(!prediction.probabilities.spilled(), "posteriors of {} labels are held inline", m.labels().len());
    }

    #[test]
    fn parts_of_one_article_continue_numbering_and_offsets() {
        let m = model();
        let mut f = m.featurizer();
        let mut numbering = Numbering::default();
        let first = Document { id: "a.txt".into(), text: "One. Two.\n\n".into(), ..Document::default() };
        let second = Document { id: "a.txt".into(), text: "Three.".into(), offset: 11, part: 1, ..Document::default() };
        let other = Document { id: "b.txt".into(), text: "Four.".into(), ..Document::default() };
        assert_eq!(numbering.first(&first, 2), 1);
        let second = ClassifiedDoc::new(&m, &mut f, second, Unit::Article);
        let rows: Vec<Classified<'_>> = second.rows(numbering.first(&second.doc, 1)).collect();
        assert_eq!((rows[0].sentence, rows[0].span), (3, Span::new(11, 17)));
        assert_eq!(numbering.first(&other, 1), 1);
    }

    fn rendered(format: Format, evidence: bool, text: &str) -> String {
        let m = model();
        let mut f = m.featurizer();
        let rows = RowFormat::new(format, m.labels(), evidence);
        let classified = ClassifiedDoc::new(&m, &mut f, doc(text), Unit::Article);
        let mut out = Rendered::default();
        for row in classified.rows(1) {
            rows.render("a.txt", &row, "kyiv (+1.00)", &mut out);
        }
        let mut bytes = rows.header();
        out.write_to(7.., &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn csv_and_jsonl_rows_carry_every_label() {
        let text = rendered(Format::Csv, false, "Moscow blamed Kyiv, \"again\".");
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), "doc,sentence,start,end,text,label,confidence,p_blame,p_isis,p_neutral");
        let row = lines.next().unwrap();
        assert!(row.starts_with("a.txt,7,0,28,\"Moscow blamed Kyiv, \"\"again\"\".\",blame,"), "{row}");
        let record = csv::Reader::from_reader(text.as_bytes()).records().next().unwrap().unwrap();
        assert_eq!(&record[4], "Moscow blamed Kyiv, \"again\".");
        let sum: f64 = (7..10).map(|i| record[i].parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5);

        let line = rendered(Format::Jsonl, true, "Moscow blamed Kyiv, \"again\".");
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(value["sentence"], 7);
        assert_eq!(value["label"], "blame");
        assert_eq!(value["evidence"], "kyiv (+1.00)");
        assert_eq!(value["text"], "Moscow blamed Kyiv, \"again\".");
        let sum: f64 = ["p_blame", "p_isis", "p_neutral"].iter().map(|k| value[k].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }

    #[test]
    fn probabilities_have_fixed_decimals() {
        let fixed = |v: f64| {
            let mut out = Vec::new();
            push_fixed(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(fixed(0.0), "0.000000");
        assert_eq!(fixed(1.0), "1.000000");
        assert_eq!(fixed(0.1234565), "0.123457");
        assert_eq!(fixed(0.9999996), "1.000000");
        assert_eq!(fixed(2e-7), "0.000000");
        assert_eq!(fixed(0.5), format!("{:.6}", 0.5));
    }

    proptest::proptest! {
        #[test]
        fn csv_fields_are_quoted_as_the_csv_crate_does(doc in "[a-z,\"]{1,8}", text in "[ a-z,.\"\n\r']{1,30}") {
            let mut ours = Vec::new();
            push_csv_field(&mut ours, &doc);
            ours.push(b',');
            push_csv_field(&mut ours, &text);
            ours.push(b'\n');
            let mut theirs = csv::Writer::from_writer(Vec::new());
            theirs.write_record([&doc, &text]).unwrap();
            proptest::prop_assert_eq!(ours, theirs.into_inner().unwrap());
        }
    }

    #[test]
    fn any_number_of_threads_writes_the_same_bytes() {
        let m = model();
        let rows = RowFormat::new(Format::Csv, m.labels(), true);
        let docs: Vec<Document> = (0..3000)
            .map(|i| Document {
                id: format!("doc{}", i / 3),
                text: format!("Kyiv denied it {i}. Islamic State claimed the attack. "),
                part: i % 3,
                offset: i % 3 * 60,
                ..Document::default()
            })
            .collect();
        let run = |threads: usize| {
            let mut out = rows.header();
            let mut numbering = Numbering::default();
            let options = ClassifyOptions {
                unit: Unit::Article,
                rows: Some(&rows),
                explain: Some(2),
                threads: NonZeroUsize::new(threads).unwrap(),
            };
            classify_stream(&m, docs.iter().cloned().map(Ok), options, |batch| {
                batch.write_rows(&batch.number(&mut numbering), &mut out)
            })
            .unwrap();
            out
        };
        let one = run(1);
        assert_eq!(String::from_utf8_lossy(&one).lines().count(), 6001);
        assert!(String::from_utf8_lossy(&one).contains("\ndoc0,5,120,"), "parts continue numbering");
        for threads in [2, 3] {
            assert!(one == run(threads), "{threads} threads");
        }
    }
}
