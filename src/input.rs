//! Documents to classify: `.txt` articles, directories of them, CSV or JSON Lines with a `text` column,
//! or stdin. Input streams: one document is in memory at a time.
//!
//! A `.txt` article's first non-empty line is its title (and also its first sentence: headlines carry
//! narratives too). Text must be UTF-8 without NUL bytes; anything else (a binary file, another encoding)
//! is refused with the byte offset of the first bad byte, never decoded lossily, so no text is silently
//! changed. A leading UTF-8 byte order mark is skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::data::csv_error;
use crate::error::{Error, Result};

/// How rows of CSV/JSONL input are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Unit {
    /// Each row (or file) is an article, split into sentences.
    #[default]
    Article,
    /// Each row is one sentence, never split.
    Sentence,
}

/// The format of an input; `auto` goes by the file extension (`-` is read as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputFormat {
    /// By extension: `.csv`, `.jsonl`/`.ndjson`, anything else is text.
    #[default]
    Auto,
    /// One plain-text article.
    Txt,
    /// CSV with a header and a `text` column.
    Csv,
    /// One JSON object per line with a `text` field.
    Jsonl,
    /// Plain text, one document per line (blank lines skipped), as fastText and most corpora ship
    /// sentences; a line's id is `FILE:LINE`.
    Lines,
}

/// One document to classify.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// Identifier: the path of a text file, the `id` column, or `FILE:LINE` for a row without one.
    pub id: String,
    /// The title (first non-empty line of a text file, or a `title` column).
    pub title: Option<String>,
    /// The text.
    pub text: String,
    /// Other columns of a CSV/JSONL row (outlet, date, ...), by name.
    pub meta: BTreeMap<String, String>,
    /// Byte offset of `text` in its source file: a long text article arrives in parts.
    pub offset: usize,
    /// Which part of its article this is (0 for the first or only part).
    pub part: usize,
}

/// A text article longer than this arrives in parts of about this size, cut at a blank line where
/// possible, so memory stays bounded however large a file is.
pub const TEXT_PART_BYTES: usize = 1 << 20;

/// Bytes read from an input at a time: 64 KiB, where the 8 KiB that `BufReader` and the csv crate take
/// by default made reading the 161 MB training file of the benchmark 21,000 system calls.
pub const READ_BUFFER: usize = 1 << 16;

/// Opens a file for reading, or stdin for `-`.
pub fn open(path: &Path) -> Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    if path.is_dir() {
        return Err(Error::file(path, "is a directory, expected a file"));
    }
    Ok(Box::new(File::open(path).map_err(|e| Error::io(path, e))?))
}

fn format_of(path: &Path, format: InputFormat) -> InputFormat {
    if format != InputFormat::Auto {
        return format;
    }
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => InputFormat::Csv,
        Some("jsonl" | "ndjson") => InputFormat::Jsonl,
        _ => InputFormat::Txt,
    }
}

/// Decodes (part of) a text article that starts at byte `offset` of its file, refusing invalid UTF-8 and
/// NUL bytes (a binary file given by mistake) with their byte offset in the file. The line number in the
/// error counts from the start of this part.
pub fn decode_text(bytes: Vec<u8>, path: &Path, offset: usize) -> Result<String> {
    let line_of = |bytes: &[u8], at: usize| bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    if let Some(at) = memchr::memchr(0, &bytes) {
        let line = line_of(&bytes, at);
        let at = offset + at;
        return Err(Error::data(path, line, format!("NUL byte at byte {at}: not a text article (a binary file?)")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = line_of(e.as_bytes(), at);
        Error::data(path, line, format!("invalid UTF-8 at byte {}", offset + at))
    })
}

/// A text article read in parts.
struct TextSource {
    path: PathBuf,
    reader: Box<dyn Read>,
    buf: Vec<u8>,
    /// Bytes of the file before `buf`.
    offset: usize,
    part: usize,
    title: Option<String>,
    eof: bool,
}

impl TextSource {
    fn next_part(&mut self) -> Option<Result<Document>> {
        while !self.eof && self.buf.len() <= TEXT_PART_BYTES {
            let mut block = [0u8; 1 << 16];
            match self.reader.read(&mut block) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&block[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            }
        }
        if self.buf.is_empty() && (self.eof && self.part > 0) {
            return None;
        }
        let cut = if self.eof && self.buf.len() <= TEXT_PART_BYTES { self.buf.len() } else { part_end(&self.buf) };
        let mut bytes: Vec<u8> = self.buf.drain(..cut).collect();
        let mut offset = self.offset;
        self.offset += cut;
        if self.part == 0 && bytes.starts_with(b"\xef\xbb\xbf") {
            bytes.drain(..3);
            offset += 3;
        }
        let text = match decode_text(bytes, &self.path, offset) {
            Ok(text) => text,
            Err(e) => {
                self.eof = true;
                self.buf.clear();
                return Some(Err(e));
            }
        };
        if self.part == 0 {
            self.title = text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned);
        }
        let doc = Document {
            id: self.path.display().to_string(),
            title: self.title.clone(),
            text,
            meta: BTreeMap::new(),
            offset,
            part: self.part,
        };
        self.part += 1;
        Some(Ok(doc))
    }
}

/// Where to end a part of a long text: after the last blank line in the second half of the first
/// [`TEXT_PART_BYTES`], else after the last line break, else after the last sentence end (`. `), else after
/// the last space, else at a char boundary.
fn part_end(buf: &[u8]) -> usize {
    let limit = buf.len().min(TEXT_PART_BYTES);
    let window = &buf[limit / 2..limit];
    let at = |i: usize| limit / 2 + i;
    if let Some(i) = window.windows(2).rposition(|w| w == b"\n\n") {
        return at(i + 2);
    }
    if let Some(i) = window.iter().rposition(|&b| b == b'\n') {
        return at(i + 1);
    }
    if let Some(i) = window.windows(2).rposition(|w| matches!(w[0], b'.' | b'?' | b'!') && w[1] == b' ') {
        return at(i + 2);
    }
    if let Some(i) = window.iter().rposition(|&b| b == b' ' || b == b'\t') {
        return at(i + 1);
    }
    // No white space at all: cut before the char that straddles the limit (`limit < buf.len()`: the
    // caller reads past the limit before cutting).
    let mut end = limit;
    while end > 0 && (buf[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    if end == 0 { limit } else { end }
}

enum Source {
    Text(TextSource),
    Csv { path: PathBuf, reader: csv::Reader<Box<dyn Read>>, text: usize, headers: Vec<String> },
    Jsonl { path: PathBuf, lines: std::io::Lines<BufReader<Box<dyn Read>>>, line: u64 },
    Lines { path: PathBuf, name: String, reader: BufReader<Box<dyn Read>>, line: u64, offset: usize, buffer: Vec<u8> },
}

/// Streams the documents of every input in order; a directory yields its `.txt` files sorted by name.
pub struct Documents {
    pending: std::collections::VecDeque<PathBuf>,
    format: InputFormat,
    current: Option<Source>,
}

impl Documents {
    /// Documents from `inputs`, read as `format`.
    pub fn new(inputs: &[PathBuf], format: InputFormat) -> Self {
        Self { pending: inputs.iter().cloned().collect(), format, current: None }
    }

    fn expand_dir(&mut self, dir: &Path) -> Result<()> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")) {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::file(dir, "directory has no .txt articles"));
        }
        files.sort();
        for f in files.into_iter().rev() {
            self.pending.push_front(f);
        }
        Ok(())
    }

    fn next_from_source(&mut self) -> Option<Result<Document>> {
        let source = self.current.as_mut()?;
        let item = match source {
            Source::Text(text) => text.next_part(),
            Source::Csv { path, reader, text, headers } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => None,
                    Err(e) => Some(Err(csv_error(path, e))),
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let mut doc = Document { text: record[*text].to_owned(), ..Document::default() };
                        for (name, value) in headers.iter().zip(record.iter()) {
                            if name != "text" {
                                doc.meta.insert(name.clone(), value.to_owned());
                            }
                        }
                        Some(Ok(finish_row(doc, path, line)))
                    }
                }
            }
            Source::Lines { path, name, reader, line, offset, buffer } => {
                next_line(reader, path, name, line, offset, buffer)
            }
            Source::Jsonl { path, lines, line } => loop {
                *line += 1;
                match lines.next() {
                    None => break None,
                    Some(Err(e)) => break Some(Err(jsonl_io_error(path, *line, e))),
                    Some(Ok(l)) if l.trim().is_empty() => continue,
                    Some(Ok(l)) => break Some(parse_jsonl(&l, path, *line)),
                }
            },
        };
        if item.is_none() {
            self.current = None;
        }
        item
    }

    fn open_next(&mut self) -> Option<Result<Option<Document>>> {
        let path = self.pending.pop_front()?;
        if path.is_dir() {
            return Some(self.expand_dir(&path).map(|()| None));
        }
        Some(match format_of(&path, self.format) {
            InputFormat::Txt | InputFormat::Auto => open(&path).map(|reader| {
                self.current = Some(Source::Text(TextSource {
                    path,
                    reader,
                    buf: Vec::new(),
                    offset: 0,
                    part: 0,
                    title: None,
                    eof: false,
                }));
                None
            }),
            InputFormat::Csv => open_csv(&path).map(|s| {
                self.current = Some(s);
                None
            }),
            InputFormat::Jsonl => open(&path).map(|r| {
                self.current =
                    Some(Source::Jsonl { path, lines: BufReader::with_capacity(READ_BUFFER, r).lines(), line: 0 });
                None
            }),
            InputFormat::Lines => open(&path).map(|r| {
                let name = path.display().to_string();
                let reader = BufReader::with_capacity(READ_BUFFER, r);
                self.current = Some(Source::Lines { path, name, reader, line: 0, offset: 0, buffer: Vec::new() });
                None
            }),
        })
    }
}

impl Iterator for Documents {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_some() {
                if let Some(item) = self.next_from_source() {
                    return Some(item);
                }
                continue;
            }
            match self.open_next()? {
                Ok(Some(doc)) => return Some(Ok(doc)),
                Ok(None) => continue,
                Err(e) => {
                    self.pending.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

fn open_csv(path: &Path) -> Result<Source> {
    let mut reader = csv::ReaderBuilder::new().buffer_capacity(READ_BUFFER).from_reader(open(path)?);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let text = headers
        .iter()
        .position(|h| h == "text")
        .ok_or_else(|| Error::file(path, format!("no \"text\" column; columns found: {}", headers.join(", "))))?;
    Ok(Source::Csv { path: path.to_owned(), reader, text, headers })
}

/// Moves `id` and `title` out of the metadata and names rows without an id by their place.
fn finish_row(mut doc: Document, path: &Path, line: u64) -> Document {
    doc.id = doc.meta.remove("id").filter(|s| !s.is_empty()).unwrap_or_else(|| format!("{}:{line}", path.display()));
    doc.title = doc.meta.remove("title").filter(|s| !s.is_empty());
    doc
}

/// The next non-blank line of a one-document-per-line file, as a document named `FILE:LINE`; `line` and
/// `offset` (bytes before the line) advance.
fn next_line(
    reader: &mut impl BufRead,
    path: &Path,
    name: &str,
    line: &mut u64,
    offset: &mut usize,
    buffer: &mut Vec<u8>,
) -> Option<Result<Document>> {
    loop {
        // Read into a buffer kept across lines, then copy the line out at its exact size: one
        // allocation a line instead of the several of a vector growing to fit it.
        buffer.clear();
        let start = *offset;
        match reader.read_until(b'\n', buffer) {
            Ok(0) => return None,
            Ok(n) => (*line, *offset) = (*line + 1, start + n),
            Err(e) => return Some(Err(Error::io(path, e))),
        }
        let mut bytes = buffer.as_slice();
        while let [rest @ .., b'\n' | b'\r'] = bytes {
            bytes = rest;
        }
        let bom = if *line == 1 && bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
        bytes = &bytes[bom..];
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match decode_text(bytes.to_vec(), path, start + bom) {
            Ok(text) => text,
            Err(Error::Data { path, message, .. }) => return Some(Err(Error::Data { path, line: *line, message })),
            Err(e) => return Some(Err(e)),
        };
        // `FILE:LINE`, built directly: the formatting machinery cost more than the allocation.
        let mut number = itoa::Buffer::new();
        let number = number.format(*line);
        let mut id = String::with_capacity(name.len() + 1 + number.len());
        id.extend([name, ":", number]);
        return Some(Ok(Document { id, text, ..Document::default() }));
    }
}

fn jsonl_io_error(path: &Path, line: u64, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::InvalidData {
        Error::data(path, line, "invalid UTF-8")
    } else {
        Error::io(path, e)
    }
}

fn parse_jsonl(line_text: &str, path: &Path, line: u64) -> Result<Document> {
    let value: serde_json::Value =
        serde_json::from_str(line_text).map_err(|e| Error::data(path, line, format!("invalid JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(Error::data(path, line, "expected a JSON object with a \"text\" field"));
    };
    let mut doc = Document::default();
    let mut has_text = false;
    for (key, value) in map {
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        if key == "text" {
            has_text = true;
            doc.text = value;
        } else {
            doc.meta.insert(key, value);
        }
    }
    if !has_text {
        return Err(Error::data(path, line, "no \"text\" field"));
    }
    Ok(finish_row(doc, path, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_article(path: &Path) -> Result<Document> {
        Documents::new(&[path.to_owned()], InputFormat::Auto).next().unwrap()
    }

    #[test]
    fn text_articles_have_titles_and_refuse_bad_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "\u{feff}\n\n  Headline here \nBody.").unwrap();
        let doc = read_article(&p).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Headline here"));
        assert!(doc.text.starts_with('\n'));
        assert_eq!(doc.offset, 3, "spans count from the start of the file, byte order mark included");
        std::fs::write(&p, b"ok\nbad \xff byte").unwrap();
        let err = read_article(&p).unwrap_err().to_string();
        assert!(err.ends_with("a.txt:2: invalid UTF-8 at byte 7"), "{err}");
        std::fs::write(&p, b"\x7fELF\x02\x01\x01\x00\x00").unwrap();
        let err = read_article(&p).unwrap_err().to_string();
        assert!(err.ends_with("a.txt:1: NUL byte at byte 7: not a text article (a binary file?)"), "{err}");
    }

    #[test]
    fn long_text_arrives_in_parts_cut_at_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.txt");
        let paragraph = "A sentence about the attack. Another one follows here.\n\n";
        let body = paragraph.repeat(3 * TEXT_PART_BYTES / paragraph.len());
        std::fs::write(&p, format!("Title line\n\n{body}")).unwrap();
        let parts: Vec<Document> =
            Documents::new(std::slice::from_ref(&p), InputFormat::Auto).collect::<Result<_>>().unwrap();
        assert!(parts.len() >= 3);
        let mut expected_offset = 0;
        for (i, part) in parts.iter().enumerate() {
            assert_eq!((part.part, part.offset), (i, expected_offset));
            assert_eq!(part.title.as_deref(), Some("Title line"));
            assert!(part.text.len() <= TEXT_PART_BYTES);
            if i + 1 < parts.len() {
                assert!(part.text.ends_with("\n\n"), "part {i} ends at a blank line");
            }
            expected_offset += part.text.len();
        }
        assert_eq!(parts.iter().map(|p| p.text.as_str()).collect::<String>(), std::fs::read_to_string(&p).unwrap());
        let bad = dir.path().join("bad.txt");
        let mut bytes = paragraph.repeat(2 * TEXT_PART_BYTES / paragraph.len()).into_bytes();
        let at = bytes.len() - 10;
        bytes[at] = 0xff;
        std::fs::write(&bad, &bytes).unwrap();
        let err = Documents::new(&[bad], InputFormat::Auto).find_map(Result::err).unwrap().to_string();
        assert!(err.contains(&format!("invalid UTF-8 at byte {at}")), "{err}");
    }

    #[test]
    fn csv_and_jsonl_rows_become_documents() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "id,outlet,text\nx1,TASS,First text.\n,RT,Second.\n").unwrap();
        let jsonl = dir.path().join("b.jsonl");
        std::fs::write(&jsonl, "{\"id\": 7, \"text\": \"Third.\", \"outlet\": \"BBC\"}\n\n{\"text\": \"Fourth.\"}\n")
            .unwrap();
        let docs: Vec<Document> =
            Documents::new(&[csv.clone(), jsonl.clone()], InputFormat::Auto).collect::<Result<_>>().unwrap();
        let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["x1", &format!("{}:3", csv.display()), "7", &format!("{}:3", jsonl.display())]);
        assert_eq!(docs[1].meta["outlet"], "RT");
        assert_eq!(docs[2].text, "Third.");
    }

    #[test]
    fn directories_yield_sorted_txt_files_and_empty_ones_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "B").unwrap();
        std::fs::write(dir.path().join("a.txt"), "A").unwrap();
        std::fs::write(dir.path().join("c.md"), "C").unwrap();
        let docs: Vec<Document> =
            Documents::new(&[dir.path().to_owned()], InputFormat::Auto).collect::<Result<_>>().unwrap();
        assert_eq!(docs.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        let empty = tempfile::tempdir().unwrap();
        let mut it = Documents::new(&[empty.path().to_owned()], InputFormat::Auto);
        assert!(it.next().unwrap().unwrap_err().to_string().contains("no .txt articles"));
        assert!(it.next().is_none());
    }

    #[test]
    fn line_files_give_a_document_per_non_blank_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.txt");
        std::fs::write(&p, "First sentence.\r\n\n  \nSecond one.\nlast without newline").unwrap();
        let docs: Vec<Document> =
            Documents::new(std::slice::from_ref(&p), InputFormat::Lines).collect::<Result<_>>().unwrap();
        let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        let name = p.display();
        assert_eq!(ids, [format!("{name}:1"), format!("{name}:4"), format!("{name}:5")]);
        assert_eq!(docs[0].text, "First sentence.");
        assert_eq!(docs[2].text, "last without newline");
        std::fs::write(&p, b"fine\nbad \xff here\n").unwrap();
        let err = Documents::new(std::slice::from_ref(&p), InputFormat::Lines).find_map(Result::err).unwrap();
        assert!(err.to_string().ends_with("s.txt:2: invalid UTF-8 at byte 9"), "{err}");
    }

    #[test]
    fn jsonl_rows_need_a_text_field() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("a.jsonl");
        std::fs::write(&jsonl, "{\"body\": \"text\"}\n").unwrap();
        let err = Documents::new(&[jsonl], InputFormat::Auto).next().unwrap().unwrap_err().to_string();
        assert!(err.ends_with("a.jsonl:1: no \"text\" field"), "{err}");
    }

    #[test]
    fn csv_without_text_column_names_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "body,id\nx,1\n").unwrap();
        let err = Documents::new(&[csv], InputFormat::Auto).next().unwrap().unwrap_err().to_string();
        assert!(err.contains("columns found: body, id"), "{err}");
    }
}
