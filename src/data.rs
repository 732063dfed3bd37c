//! Labelled sentences: CSV files with a `text` and a `label` column (other columns are provenance).
//!
//! Labels are trimmed and lower-cased (so `" Neutral "` and `neutral` are one label) and must consist of
//! letters, digits, `_` and `-`, because each becomes an output column `p_<label>`. The same sentence under
//! two labels is an error naming both places; an exact duplicate is dropped and reported.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::input::READ_BUFFER;

/// Where a labelled sentence came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file, as given.
    pub file: PathBuf,
    /// 1-based line of the record.
    pub line: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One labelled sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Example {
    /// The sentence.
    pub text: String,
    /// Its label (normalised).
    pub label: String,
    /// The value of the grouping column (the article), when one was asked for.
    pub group: Option<String>,
    /// Its file and line.
    pub origin: Origin,
}

/// Labelled sentences read from one or more files, duplicates removed.
#[derive(Debug, Clone, Default)]
pub struct LabelledData {
    /// The sentences, in file order.
    pub examples: Vec<Example>,
    /// What reading dropped or replaced, and the files read.
    pub summary: ReadSummary,
}

/// What reading labelled files dropped or replaced, and the files read.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    /// Exact duplicates that were dropped: (the dropped copy, the kept one).
    pub duplicates: Vec<(Origin, Origin)>,
    /// Conflicting labels resolved by [`ReadOptions::prefer_later`].
    pub overridden: Vec<Override>,
    /// Rows with an empty label, skipped (a suggestions file partly labelled, for example).
    pub unlabelled: Vec<Origin>,
    /// Every file read, with the BLAKE3 hash of its bytes (the model's lineage).
    pub files: Vec<FileDigest>,
}

/// A labelled row as [`read_labelled_with`] hands it over.
#[derive(Debug, Clone, Copy)]
pub enum Row<'r> {
    /// A sentence not seen before, the `index`-th (from 0) kept.
    New {
        /// Its position among the kept sentences.
        index: usize,
        /// The sentence.
        example: &'r Example,
    },
    /// With [`ReadOptions::prefer_later`]: the `index`-th kept sentence gets the label of a later row.
    Relabelled {
        /// Position of the sentence among the kept ones.
        index: usize,
        /// The later row (its label wins).
        example: &'r Example,
        /// The label it had.
        old_label: &'r str,
    },
}

/// A sentence whose earlier label was replaced by a later file's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Where the winning label is.
    pub later: Origin,
    /// Where the replaced label was.
    pub earlier: Origin,
    /// The replaced label.
    pub old_label: String,
    /// The winning label.
    pub new_label: String,
}

/// A data file and the BLAKE3 hash (hex) of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDigest {
    /// The path as given (`-` for stdin).
    pub path: String,
    /// BLAKE3 of the bytes read.
    pub blake3: String,
}

/// How labelled files are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Record this column of every row as the sentence's group (its article).
    pub group_by: Option<&'a str>,
    /// When the same sentence has two labels, let the later file (or row) win instead of failing.
    pub prefer_later: bool,
}

impl LabelledData {
    /// Number of sentences per label, sorted by label.
    pub fn label_counts(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for e in &self.examples {
            *counts.entry(&e.label).or_default() += 1;
        }
        counts.into_iter().map(|(l, n)| (l.to_owned(), n)).collect()
    }
}

/// Normalises a label (trim, lower-case) and checks its characters.
pub fn normalise_label(raw: &str) -> Result<String, String> {
    let label = raw.trim().to_lowercase();
    if label.is_empty() {
        return Err("empty label".into());
    }
    if let Some(c) = label.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(format!("label {raw:?} contains {c:?}: labels use letters, digits, '_' and '-'"));
    }
    Ok(label)
}

/// The 128-bit fingerprint by which a sentence's repeats are found (XXH3: a few nanoseconds for a
/// sentence, where BLAKE3 took 220; a billion distinct sentences hold a shared one with odds under 2^-68).
fn fingerprint(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

/// Passes bytes through while hashing them.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads labelled CSV files (`-` is stdin): a `text` and a `label` column, other columns ignored.
pub fn read_labelled(paths: &[PathBuf], options: ReadOptions<'_>) -> Result<LabelledData> {
    let mut examples: Vec<Example> = Vec::new();
    let summary = read_labelled_with(paths, options, |row| {
        match row {
            Row::New { example, .. } => examples.push(example.clone()),
            Row::Relabelled { index, example, .. } => {
                examples[index].label.clone_from(&example.label);
                examples[index].origin.clone_from(&example.origin);
            }
        }
        Ok(())
    })?;
    Ok(LabelledData { examples, summary })
}

/// What is remembered of every distinct sentence: a 128-bit fingerprint of its text maps to this, so
/// duplicates and conflicts are found without keeping the text (24 bytes a sentence).
#[derive(Debug, Clone, Copy)]
struct Seen {
    label: u32,
    file: u32,
    line: u64,
    index: u32,
}

/// Reads labelled CSV files as [`read_labelled`] does, but streams: every kept row goes to `on_row` as it
/// is read, and only a fingerprint of each distinct sentence stays in memory.
pub fn read_labelled_with(
    paths: &[PathBuf],
    options: ReadOptions<'_>,
    mut on_row: impl FnMut(Row<'_>) -> Result<()>,
) -> Result<ReadSummary> {
    let mut summary = ReadSummary::default();
    let mut seen: HashMap<u128, Seen, rustc_hash::FxBuildHasher> = HashMap::default();
    let mut labels: Vec<String> = Vec::new();
    // Label cells as written (` Neutral `, `neutral`) to their label's index: a row's label is normalised
    // and checked once per spelling, not once per row.
    let mut label_of_cell: HashMap<String, u32, rustc_hash::FxBuildHasher> = HashMap::default();
    let mut kept = 0usize;
    let mut record = csv::StringRecord::new();
    // One example whose buffers every row reuses: no allocation per row.
    let mut example = Example::default();
    for (file, path) in paths.iter().enumerate() {
        let reader = HashingReader { inner: crate::input::open(path)?, hasher: blake3::Hasher::new() };
        let mut csv = csv::ReaderBuilder::new().flexible(false).buffer_capacity(READ_BUFFER).from_reader(reader);
        let headers = csv.headers().map_err(|e| csv_error(path, e))?.clone();
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::file(path, "empty file: expected a CSV header with `text` and `label` columns"));
        }
        let column = |name: &str| -> Result<usize> {
            headers.iter().position(|h| h.trim().trim_start_matches('\u{feff}') == name).ok_or_else(|| {
                let found: Vec<&str> = headers.iter().collect();
                Error::file(path, format!("no {name:?} column; columns found: {}", found.join(", ")))
            })
        };
        let text_col = column("text")?;
        let label_col = column("label")?;
        let group_col = options.group_by.map(column).transpose()?;
        example.origin.file.clone_from(path);
        let mut rows = 0usize;
        while csv.read_record(&mut record).map_err(|e| csv_error(path, e))? {
            rows += 1;
            let line = record.position().map_or(0, |p| p.line());
            example.origin.line = line;
            let text = record[text_col].trim();
            if text.is_empty() {
                return Err(Error::data(path, line, "empty text cell"));
            }
            let cell = &record[label_col];
            if cell.trim().is_empty() {
                summary.unlabelled.push(example.origin.clone());
                continue;
            }
            let label_id = match label_of_cell.get(cell) {
                Some(&id) => id,
                None => {
                    let label = normalise_label(cell).map_err(|m| Error::data(path, line, m))?;
                    let id = labels.iter().position(|l| *l == label).unwrap_or_else(|| {
                        labels.push(label);
                        labels.len() - 1
                    }) as u32;
                    label_of_cell.insert(cell.to_owned(), id);
                    id
                }
            };
            example.label.clone_from(&labels[label_id as usize]);
            example.text.clear();
            example.text.push_str(text);
            if let Some(c) = group_col {
                let group = example.group.get_or_insert_default();
                group.clear();
                group.push_str(record[c].trim());
            }
            let here = Seen { label: label_id, file: file as u32, line, index: kept as u32 };
            match seen.entry(fingerprint(text)) {
                Entry::Vacant(entry) => {
                    entry.insert(here);
                    on_row(Row::New { index: kept, example: &example })?;
                    kept += 1;
                }
                Entry::Occupied(mut entry) => {
                    let first = entry.get_mut();
                    let first_origin = Origin { file: paths[first.file as usize].clone(), line: first.line };
                    let first_label = &labels[first.label as usize];
                    if first.label == label_id {
                        summary.duplicates.push((example.origin.clone(), first_origin));
                    } else if options.prefer_later {
                        on_row(Row::Relabelled {
                            index: first.index as usize,
                            example: &example,
                            old_label: first_label,
                        })?;
                        summary.overridden.push(Override {
                            later: example.origin.clone(),
                            earlier: first_origin,
                            old_label: first_label.clone(),
                            new_label: example.label.clone(),
                        });
                        *first = Seen { index: first.index, ..here };
                    } else {
                        return Err(Error::data(
                            path,
                            line,
                            format!(
                                "sentence labelled {:?} here and {first_label:?} at {first_origin} (--prefer-later lets the later win): {}",
                                example.label,
                                abbreviate(text)
                            ),
                        ));
                    }
                }
            }
        }
        if rows == 0 {
            return Err(Error::file(path, "no labelled rows (the file has only a header or is empty)"));
        }
        let hasher = csv.into_inner().hasher;
        summary
            .files
            .push(FileDigest { path: path.display().to_string(), blake3: hasher.finalize().to_hex().to_string() });
    }
    Ok(summary)
}

/// A CSV error as a `file:line` error.
pub fn csv_error(path: &Path, error: csv::Error) -> Error {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        csv::ErrorKind::Utf8 { err, .. } => {
            Error::data(path, line, format!("invalid UTF-8 in field {} (byte {})", err.field() + 1, err.valid_up_to()))
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            Error::data(path, line, format!("row has {len} fields, the header has {expected_len}"))
        }
        other => Error::data(path, line, format!("{other:?}")),
    }
}

/// The first 60 characters of `text` in quotes, for messages and tables; line breaks and other control
/// characters become spaces so the result stays on one line.
pub fn abbreviate(text: &str) -> String {
    let shown: String = text.chars().take(60).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let more = if text.chars().nth(60).is_some() { "…" } else { "" };
    format!("\"{shown}\"{more}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn reads_labels_normalised_and_keeps_provenance() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.csv",
            "source,text,label,doc\nseed,Kyiv denied it., Ukraine_West_Blame ,d1\nseed,\"A, b\",neutral,d2\n",
        );
        let data =
            read_labelled(std::slice::from_ref(&p), ReadOptions { group_by: Some("doc"), ..ReadOptions::default() })
                .unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[0].label, "ukraine_west_blame");
        assert_eq!(data.examples[0].group.as_deref(), Some("d1"));
        assert_eq!(data.examples[1].origin, Origin { file: p, line: 3 });
        assert_eq!(data.label_counts(), [("neutral".to_string(), 1), ("ukraine_west_blame".to_string(), 1)]);
    }

    #[test]
    fn conflicting_labels_name_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "text,label\nSame sentence.,neutral\n");
        let b = write(dir.path(), "b.csv", "text,label\nOther.,neutral\nSame sentence.,warning_claim\n");
        let err = read_labelled(&[a, b], ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("b.csv:3"), "{err}");
        assert!(err.contains("a.csv:2"), "{err}");
    }

    #[test]
    fn prefer_later_lets_corrections_win() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "text,label\nSame sentence.,neutral\nOther.,neutral\n");
        let b = write(dir.path(), "b.csv", "text,label\nSame sentence.,warning_claim\n");
        let data = read_labelled(&[a.clone(), b.clone()], ReadOptions { prefer_later: true, ..ReadOptions::default() })
            .unwrap();
        assert_eq!(data.examples[0].label, "warning_claim");
        assert_eq!(data.examples[0].origin, Origin { file: b.clone(), line: 2 });
        assert_eq!(data.summary.overridden.len(), 1);
        assert_eq!(data.summary.overridden[0].earlier, Origin { file: a, line: 2 });
        assert_eq!(data.summary.overridden[0].old_label, "neutral");
        assert_eq!(data.summary.files.len(), 2);
        assert_eq!(data.summary.files[1].blake3, blake3::hash(&std::fs::read(&b).unwrap()).to_hex().to_string());
    }

    #[test]
    fn rows_without_a_label_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "text,label\nOne.,x\nTwo.,\nThree., y \n");
        let data = read_labelled(&[a], ReadOptions::default()).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.summary.unlabelled.len(), 1);
        assert_eq!(data.summary.unlabelled[0].line, 3);
    }

    #[test]
    fn exact_duplicates_are_dropped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "text,label\nOne.,x\nTwo.,y\n One. ,x\n");
        let data = read_labelled(&[a], ReadOptions::default()).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.summary.duplicates.len(), 1);
        assert_eq!(data.summary.duplicates[0].0.line, 4);
    }

    #[test]
    fn missing_columns_list_what_was_found() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "sentence,tag\nx,y\n");
        let err = read_labelled(&[a], ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("no \"text\" column; columns found: sentence, tag"), "{err}");
    }

    #[test]
    fn bad_rows_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let ragged = write(dir.path(), "r.csv", "text,label\nok,x\nnot,ok,at all\n");
        assert!(
            read_labelled(&[ragged], ReadOptions::default())
                .unwrap_err()
                .to_string()
                .contains("r.csv:3: row has 3 fields")
        );
        let empty = write(dir.path(), "e.csv", "text,label\n  ,x\n");
        assert!(
            read_labelled(&[empty], ReadOptions::default()).unwrap_err().to_string().contains("e.csv:2: empty text")
        );
        let label = write(dir.path(), "l.csv", "text,label\nfine,a label\n");
        assert!(read_labelled(&[label], ReadOptions::default()).unwrap_err().to_string().contains("l.csv:2: label"));
        let header_only = write(dir.path(), "h.csv", "text,label\n");
        assert!(
            read_labelled(&[header_only], ReadOptions::default()).unwrap_err().to_string().contains("no labelled rows")
        );
    }
}
