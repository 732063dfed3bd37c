//! The model file: one self-describing file with everything needed to classify, update and explain.
//!
//! Layout: the 16-byte magic `NARRATIVE-MODEL\n`, the format version (u32), the payload length (u64), the
//! payload and the BLAKE3 hash of the payload (32 bytes). The payload is the length of a header (u64),
//! the header (postcard-encoded `Header`: options, labels, stems, lineage...), then the raw sections:
//! every longer n-gram of the vocabulary's trie as (parent node, stem node) in u32 pairs, then the
//! feature counts, label by label: as u16 codes into a table of their distinct values (f64s, before the
//! codes), or, for a model whose counts take more values than a code tells apart, as f64s. Integers and
//! floats are little-endian.
//!
//! The raw sections, nearly all of a large model's bytes, are read through one small buffer straight into
//! their final place: loading never holds the whole file in memory, and the hashes are computed on the way.
//! Loading checks each part in turn, so a foreign file, another format version, a truncated file and a
//! corrupt one each get their own clear error (a corrupt payload is reported as a checksum mismatch
//! before any decoding error). Every collection is stored in a fixed order, so the same data and options
//! always give the same bytes. Writes go to a temporary file in the target directory that is renamed into
//! place only when complete.

use std::collections::hash_map::Entry;
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use serde::{Deserialize, Serialize};

use super::{Classifier, Lineage, Model, Smoothing};
use crate::error::{Error, Result};
use crate::features::{BulkFill, FillingIndex, StemIndex, StemList, StoredVocabulary, Vocabulary};
use crate::memory::Buffer;
use crate::parallel::{self, Pieces};
use crate::params::ValidTrainParams;
use crate::text::tokens::TOKENIZER_ID;

/// First bytes of every model file.
pub const MAGIC: &[u8; 16] = b"NARRATIVE-MODEL\n";

/// The model format this build reads and writes.
pub const FORMAT_VERSION: u32 = 3;

const HEADER_LEN: usize = MAGIC.len() + 4 + 8;
const HASH_LEN: usize = 32;

/// Bytes read at a time from the raw sections.
const CHUNK: usize = 1 << 20;

/// The payload's header: everything but the two raw sections.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    crate_version: String,
    tokenizer: String,
    params: ValidTrainParams,
    labels: Vec<String>,
    class_count: Vec<u64>,
    /// Number of terms (feature ids `0..terms`).
    terms: u32,
    /// The vocabulary's stem nodes (see [`StoredVocabulary`]).
    stems: StemList,
    /// Number of (parent, stem) pairs in the first raw section.
    children: u64,
    /// Number of distinct count values the counts are coded by; 0 when the counts are stored as f64s.
    count_values: u32,
    training_data: String,
    lineage: Lineage,
}

impl Model {
    /// The model as file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes, NonZeroUsize::MIN).expect("writing to a Vec cannot fail");
        bytes
    }

    /// Writes the model file to `out` in one pass: the payload's length is known before it is written,
    /// and its hash is computed on the way. With two threads or more, the vocabulary's stored form and
    /// the counts' codes are made side by side.
    fn write_to<W: Write + ?Sized>(&self, out: &mut W, threads: NonZeroUsize) -> std::io::Result<()> {
        let feature_count = self.feature_count();
        let (StoredVocabulary { terms, stems, children }, coded) =
            parallel::side_by_side(threads, || self.vocabulary().stored(), || CodedCounts::of(feature_count));
        let header = Header {
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            tokenizer: TOKENIZER_ID.to_owned(),
            params: *self.params(),
            labels: self.labels().to_vec(),
            class_count: self.class_count().to_vec(),
            terms,
            stems,
            children: children.len() as u64,
            count_values: coded.as_ref().map_or(0, |coded| coded.values.len() as u32),
            training_data: self.training_data().to_owned(),
            lineage: self.lineage().clone(),
        };
        let header = postcard::to_allocvec(&header).expect("model header serialises");
        let counts = counts_len(coded.as_ref().map(|coded| coded.values.len()), self.labels().len(), terms);
        let payload_len = 8 + header.len() as u128 + children.len() as u128 * 8 + counts;
        out.write_all(&head(payload_len as u64))?;
        let mut payload = std::io::BufWriter::with_capacity(CHUNK, Hashed { out, hasher: blake3::Hasher::new() });
        payload.write_all(&(header.len() as u64).to_le_bytes())?;
        payload.write_all(&header)?;
        let edges = children.iter().map(|&(parent, stem)| (u64::from(stem) << 32 | u64::from(parent)).to_le_bytes());
        write_in_blocks(&mut payload, edges)?;
        match coded {
            Some(CodedCounts { values, codes }) => {
                write_in_blocks(&mut payload, values.iter().map(|value| value.to_le_bytes()))?;
                write_in_blocks(&mut payload, codes.iter().map(|code| code.to_le_bytes()))?;
            }
            None => {
                let plain = feature_count.iter().flat_map(|label| label.iter());
                write_in_blocks(&mut payload, plain.map(|count| count.to_le_bytes()))?;
            }
        }
        let Hashed { out, hasher } = payload.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        out.write_all(hasher.finalize().as_bytes())
    }

    /// Reads a model from file bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        read(bytes, bytes.len() as u64, path, false, NonZeroUsize::MIN).map(|(model, _)| model)
    }

    /// Loads a model file, on up to `threads` threads (a large model's index and log-probabilities are
    /// derived side by side).
    pub fn load(path: &Path, threads: NonZeroUsize) -> Result<Self> {
        load(path, false, threads).map(|(model, _)| model)
    }

    /// Loads a model file (see [`Model::load`]) and returns the BLAKE3 hash (hex) of its bytes too,
    /// reading the file once (lineage names the exact model file a model was updated from).
    pub fn load_with_digest(path: &Path, threads: NonZeroUsize) -> Result<(Self, String)> {
        load(path, true, threads).map(|(model, digest)| (model, hex(digest)))
    }

    /// Writes the model to `path` atomically (temporary file in the same directory, then rename), on up
    /// to `threads` threads.
    pub fn save(&self, path: &Path, threads: NonZeroUsize) -> Result<()> {
        crate::io::write_atomically(path, |w| self.write_to(w, threads))
    }
}

impl Classifier {
    /// Loads the classifier of a model file, on up to `threads` threads: its counts are smoothed as they
    /// are read and not kept.
    pub fn load(path: &Path, threads: NonZeroUsize) -> Result<Self> {
        load(path, false, threads).map(|(classifier, _)| classifier)
    }

    /// Loads a classifier (see [`Classifier::load`]) and returns the BLAKE3 hash (hex) of the file's bytes
    /// too, reading the file once (reports name the exact model file they came from).
    pub fn load_with_digest(path: &Path, threads: NonZeroUsize) -> Result<(Self, String)> {
        load(path, true, threads).map(|(classifier, digest)| (classifier, hex(digest)))
    }
}

/// What a load makes of a model file: a [`Model`] keeps the file's counts, a [`Classifier`] only their
/// smoothed log-probabilities.
trait Loaded: Sized {
    const KEEPS_COUNTS: bool;

    /// Assembles the result from the classifier and the counts (empty unless kept).
    fn assemble(classifier: Classifier, feature_count: Vec<Buffer<f64>>) -> Self;
}

impl Loaded for Model {
    const KEEPS_COUNTS: bool = true;

    fn assemble(classifier: Classifier, feature_count: Vec<Buffer<f64>>) -> Self {
        Model { classifier, feature_count }
    }
}

impl Loaded for Classifier {
    const KEEPS_COUNTS: bool = false;

    fn assemble(classifier: Classifier, _: Vec<Buffer<f64>>) -> Self {
        classifier
    }
}

/// The hex form of a digest a load was asked for.
fn hex(digest: Option<blake3::Hash>) -> String {
    digest.expect("asked for").to_hex().to_string()
}

/// The first bytes of a model file whose payload is `len` bytes: magic, format version, payload length.
fn head(len: u64) -> [u8; HEADER_LEN] {
    let mut head = [0; HEADER_LEN];
    head[..MAGIC.len()].copy_from_slice(MAGIC);
    head[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    head[MAGIC.len() + 4..].copy_from_slice(&len.to_le_bytes());
    head
}

/// A writer that hashes what it writes to `out`: the payload of a model file.
struct Hashed<'w, W: ?Sized> {
    out: &'w mut W,
    hasher: blake3::Hasher,
}

impl<W: Write + ?Sized> Write for Hashed<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes `items` (each a value's bytes) to `out` a block at a time: a `write_all` per 2-byte code took a
/// third of the time to write the benchmark model's 27 MB (12 of 35 ms, with the hashing).
fn write_in_blocks<const N: usize>(out: &mut impl Write, items: impl Iterator<Item = [u8; N]>) -> std::io::Result<()> {
    let mut block = [0; 1 << 14];
    let mut len = 0;
    for item in items {
        if len + N > block.len() {
            out.write_all(&block[..len])?;
            len = 0;
        }
        block[len..len + N].copy_from_slice(&item);
        len += N;
    }
    out.write_all(&block[..len])
}

/// A model's counts as 2-byte codes into a table of their distinct values, label by label: the counts
/// are nearly all small whole numbers (2,753 distinct values among the 6.7M counts of the benchmark
/// model), so the file holds a quarter of the bytes (27 MB instead of 67), to write, sync, read and hash.
struct CodedCounts {
    /// Every distinct value (by its bits), in order of first appearance.
    values: Vec<f64>,
    codes: Vec<u16>,
}

impl CodedCounts {
    /// Whole counts below this are coded through an array rather than a hash map.
    const SMALL: usize = 1024;

    /// The codes of `counts`, or `None` if they take more values than a code tells apart.
    fn of(counts: &[Buffer<f64>]) -> Option<Self> {
        let mut coded = Self { values: Vec::new(), codes: Vec::with_capacity(counts.iter().map(|c| c.len()).sum()) };
        let mut small = [None; Self::SMALL];
        let mut others: rustc_hash::FxHashMap<u64, u16> = rustc_hash::FxHashMap::default();
        for &count in counts.iter().flat_map(|counts| counts.iter()) {
            let whole = count as usize;
            let code = if whole < Self::SMALL && (whole as f64).to_bits() == count.to_bits() {
                match small[whole] {
                    Some(code) => code,
                    None => *small[whole].insert(coded.add(count)?),
                }
            } else {
                match others.entry(count.to_bits()) {
                    Entry::Occupied(code) => *code.get(),
                    Entry::Vacant(slot) => *slot.insert(coded.add(count)?),
                }
            };
            coded.codes.push(code);
        }
        Some(coded)
    }

    /// The code of a new distinct value, if one is left.
    fn add(&mut self, value: f64) -> Option<u16> {
        let code = u16::try_from(self.values.len()).ok()?;
        self.values.push(value);
        Some(code)
    }
}

/// A little-endian `f64` read as a native one.
fn f64_from_le(value: f64) -> f64 {
    f64::from_bits(u64::from_le(value.to_bits()))
}

/// Bytes of a counts section: `values` distinct values and a code per count, or plain f64s (`None`).
/// Wide enough for any header a file may declare.
fn counts_len(values: Option<usize>, labels: usize, terms: u32) -> u128 {
    let counts = labels as u128 * u128::from(terms);
    values.map_or(counts * 8, |values| values as u128 * 8 + counts * 2)
}

/// The file bytes of `payload` (its header and raw sections) in the envelope [`Model::to_bytes`] writes
/// around it: for tests and fuzzing, which build or mutate payloads past the checksum.
pub fn envelope(payload: &[u8]) -> Vec<u8> {
    let mut bytes = head(payload.len() as u64).to_vec();
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(blake3::hash(payload).as_bytes());
    bytes
}

/// Loads a model file, hashing all its bytes when `digest` is set.
fn load<T: Loaded>(path: &Path, digest: bool, threads: NonZeroUsize) -> Result<(T, Option<blake3::Hash>)> {
    if path.is_dir() {
        return Err(Error::Model { path: path.to_owned(), message: "is a directory, not a model file".into() });
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    read(file, len, path, digest, threads)
}

/// Reads a model from `reader`, which holds `len` bytes, on up to `threads` threads; returns it with the
/// BLAKE3 hash of all the bytes when `digest` is set.
fn read<T: Loaded>(
    reader: impl Read,
    len: u64,
    path: &Path,
    digest: bool,
    threads: NonZeroUsize,
) -> Result<(T, Option<blake3::Hash>)> {
    let fail = |message: String| Error::Model { path: path.to_owned(), message };
    let file = digest.then(blake3::Hasher::new);
    let mut reader = Hashing { inner: reader, file, payload: None, path };
    if len < MAGIC.len() as u64 || reader.fill([0; MAGIC.len()])? != *MAGIC {
        return Err(fail("not a narrative model file (no NARRATIVE-MODEL header)".into()));
    }
    if len < HEADER_LEN as u64 {
        return Err(fail(format!("truncated model file: {len} bytes, header alone is {HEADER_LEN}")));
    }
    let version = u32::from_le_bytes(reader.fill([0; 4])?);
    if version != FORMAT_VERSION {
        return Err(fail(format!(
            "model format version {version}, this build of narrative reads version {FORMAT_VERSION}: \
             retrain it with `narrative train`"
        )));
    }
    let declared = u64::from_le_bytes(reader.fill([0; 8])?);
    let expected_len = (HEADER_LEN as u64).saturating_add(declared).saturating_add(HASH_LEN as u64);
    if len < expected_len {
        return Err(fail(format!("truncated model file: {len} of {expected_len} bytes")));
    }
    if len > expected_len {
        return Err(fail(format!("corrupt model file: {len} bytes, expected {expected_len}")));
    }
    reader.payload = Some((blake3::Hasher::new(), declared));
    let header = parse_header(&mut reader);
    let (model, reader) = std::thread::scope(|scope| {
        let mut header = header;
        let mut indexing = header.as_mut().ok().map(|header| Indexing::start(scope, threads, header));
        let parsed = header.and_then(|header| {
            let children = parse_children(&mut reader, &header)?;
            if let Some(indexing) = &mut indexing {
                indexing.send(children);
            }
            let counts = parse_counts(&mut reader, &header, T::KEEPS_COUNTS)?;
            Ok((header, counts))
        });
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
        let (payload_hash, _) = reader.payload.take().expect("the payload is being read");
        let stored_hash: [u8; HASH_LEN] = reader.fill([0; HASH_LEN])?;
        // A payload that does not decode is reported only once its checksum has been checked: a corrupt
        // file is named as such, whatever its damage looks like to the decoder.
        let (header, (smoothing, feature_count)) = match parsed {
            Err(Parse::Io(e)) => return Err(Error::io(path, e)),
            _ if payload_hash.finalize().as_bytes() != &stored_hash => {
                return Err(fail("corrupt model file: checksum mismatch".into()));
            }
            Err(Parse::Corrupt(message)) => return Err(fail(format!("corrupt model file: {message}"))),
            Ok(parsed) => parsed,
        };
        let indexing = indexing.expect("a payload with counts has a header");
        let classifier = into_classifier(header, smoothing, indexing).map_err(fail)?;
        Ok((T::assemble(classifier, feature_count), reader))
    })?;
    Ok((model, reader.file.map(|hasher| hasher.finalize())))
}

/// Why a payload could not be read.
enum Parse {
    /// The file could not be read.
    Io(std::io::Error),
    /// The bytes do not make a model.
    Corrupt(String),
}

impl From<std::io::Error> for Parse {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Parse::Corrupt("the payload ends early".into()),
            _ => Parse::Io(e),
        }
    }
}

/// A stored vocabulary being indexed: on a thread of its own, or on this one once the file is read.
enum Indexing<'scope> {
    /// The thread indexes the stems while their children are read, then the children it is sent while
    /// the counts are read; this thread then helps fill the trie's child table (whichever thread is
    /// done first takes more of it).
    Thread {
        thread: ScopedJoinHandle<'scope, std::result::Result<FillingIndex, String>>,
        children: SyncSender<Vec<(u32, u32)>>,
        fill: Receiver<Arc<BulkFill<u64>>>,
    },
    /// Indexed here, after the counts, from the children kept meanwhile.
    Here { terms: u32, stems: StemList, children: Vec<(u32, u32)> },
}

impl<'scope> Indexing<'scope> {
    /// Starts indexing the vocabulary of `header`, taking its stems (on a thread of its own when
    /// `threads` allows).
    fn start<'env>(scope: &'scope Scope<'scope, 'env>, threads: NonZeroUsize, header: &mut Header) -> Self {
        let (terms, stems, children) = (header.terms, std::mem::take(&mut header.stems), header.children as usize);
        if threads.get() == 1 {
            return Indexing::Here { terms, stems, children: Vec::new() };
        }
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<(u32, u32)>>(1);
        let (share, fill) = std::sync::mpsc::sync_channel(1);
        let thread = scope.spawn(move || {
            let index = StemIndex::new(terms, &stems, children)?;
            drop(stems);
            // No children means the file could not be read: its error is the one reported.
            let children = receive.recv().map_err(|_| "the vocabulary's children were not read".to_owned())?;
            // Never blocks (room for one); a loader that is gone has failed already.
            index.filling_children(children, |fill| _ = share.send(Arc::clone(fill)))
        });
        Indexing::Thread { thread, children: send, fill }
    }

    /// Hands over the stored children: to the indexing thread, or kept to be indexed here.
    fn send(&mut self, children: Vec<(u32, u32)>) {
        match self {
            // A thread that hung up has failed on the stems already, and says so when joined.
            Indexing::Thread { children: send, .. } => _ = send.send(children),
            Indexing::Here { children: kept, .. } => *kept = children,
        }
    }

    /// The indexed vocabulary, and the result of `beside` run while it is being indexed.
    fn finish<T>(self, beside: impl FnOnce() -> T) -> (std::result::Result<Vocabulary, String>, T) {
        match self {
            Indexing::Thread { thread, children: sender, fill } => {
                // Sent already; dropped so that a thread still waiting for them stops instead of hanging.
                drop(sender);
                let result = beside();
                // No fill means the thread failed before it: its error is reported when it is joined.
                if let Ok(fill) = fill.recv() {
                    fill.work_all();
                }
                let index = thread.join().expect("indexing a vocabulary does not panic");
                (index.and_then(FillingIndex::finish), result)
            }
            Indexing::Here { terms, stems, children } => {
                (Vocabulary::from_stored_parts(terms, &stems, children), beside())
            }
        }
    }
}

/// Reads the payload's header, checking that the sections' sizes add up to the payload.
fn parse_header(reader: &mut Hashing<'_, impl Read>) -> std::result::Result<Header, Parse> {
    let payload = reader.payload.as_ref().map_or(0, |&(_, left)| left);
    let mut header_len = [0; 8];
    reader.read_exact(&mut header_len)?;
    let header_len = u64::from_le_bytes(header_len);
    if header_len > payload.saturating_sub(8) {
        return Err(Parse::Corrupt(format!("header of {header_len} bytes in a payload of {payload}")));
    }
    let mut header = vec![0; header_len as usize];
    reader.read_exact(&mut header)?;
    let header: Header = postcard::from_bytes(&header).map_err(|e| Parse::Corrupt(e.to_string()))?;
    let values = (header.count_values > 0).then_some(header.count_values as usize);
    let raw = u128::from(header.children) * 8 + counts_len(values, header.labels.len(), header.terms);
    if raw != u128::from(payload - 8 - header_len) {
        return Err(Parse::Corrupt("the sections' sizes do not add up to the payload".into()));
    }
    Ok(header)
}

/// Reads the vocabulary's raw section: its children, (parent, stem) by id.
fn parse_children(reader: &mut Hashing<'_, impl Read>, header: &Header) -> std::result::Result<Vec<(u32, u32)>, Parse> {
    let mut children = Vec::with_capacity(header.children as usize);
    reader.chunks(header.children * 8, |chunk| {
        children.extend(chunk.chunks_exact(8).map(|pair| (le_u32(&pair[..4]), le_u32(&pair[4..]))));
    })?;
    Ok(children)
}

/// Reads the counts' raw section, label by label, a chunk at a time straight into their place (a reused
/// buffer, or the kept counts when `keep` is set), decoding and smoothing each chunk as it comes.
fn parse_counts(
    reader: &mut Hashing<'_, impl Read>,
    header: &Header,
    keep: bool,
) -> std::result::Result<(Smoothing, Vec<Buffer<f64>>), Parse> {
    let terms = header.terms as usize;
    let mut smoothing = Smoothing::new(header.labels.len(), terms, header.params.alpha());
    let mut feature_count = Vec::new();
    let per_chunk = CHUNK / 8;
    // The table of count values (its length checked against the payload's with the header).
    let mut table = vec![0.0; header.count_values as usize];
    reader.read_le(&mut table, f64_from_le)?;
    let mut codes = vec![0u16; if table.is_empty() { 0 } else { per_chunk.min(terms) }];
    let mut values = if keep { Vec::new() } else { vec![0.0; per_chunk.min(terms)] };
    for _ in &header.labels {
        let mut counts = keep.then(|| Buffer::zeroed(terms));
        for start in (0..terms).step_by(per_chunk) {
            let len = per_chunk.min(terms - start);
            let chunk = match &mut counts {
                Some(counts) => &mut counts[start..start + len],
                None => &mut values[..len],
            };
            if table.is_empty() {
                reader.read_le(chunk, f64_from_le)?;
            } else {
                reader.read_le(&mut codes[..len], u16::from_le)?;
                for (count, &code) in chunk.iter_mut().zip(&codes[..len]) {
                    *count = *table.get(usize::from(code)).ok_or_else(|| {
                        Parse::Corrupt(format!("count code {code} past the {} count values", table.len()))
                    })?;
                }
            }
            smoothing.push(chunk);
        }
        feature_count.extend(counts);
    }
    Ok((smoothing, feature_count))
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("4 bytes"))
}

/// The classifier, once its parts are checked to fit together: the vocabulary is indexed and the
/// smoothing is finished (side by side, if the index is built on a thread of its own).
fn into_classifier(
    header: Header,
    smoothing: Smoothing,
    indexing: Indexing<'_>,
) -> std::result::Result<Classifier, String> {
    if header.tokenizer != TOKENIZER_ID {
        return Err(format!(
            "model was built with tokenizer {:?}, this build uses {TOKENIZER_ID:?}: retrain it",
            header.tokenizer
        ));
    }
    let Header { params, labels, class_count, training_data, lineage, .. } = header;
    let (vocabulary, smoothed) = indexing.finish(|| smoothing.finish(class_count));
    let vocabulary = vocabulary.map_err(|m| format!("corrupt model file: {m}"))?;
    let corrupt = |e: Error| format!("corrupt model file: {e}");
    let classifier = Classifier::from_smoothed(params, vocabulary, labels, smoothed.map_err(corrupt)?, training_data);
    let mut classifier = classifier.map_err(corrupt)?;
    classifier.lineage = lineage;
    Ok(classifier)
}

/// Reads a model file and hashes it on the way: every byte into `file` (if set), and the payload's bytes
/// into the payload hash, never reading past the payload while it is being read.
struct Hashing<'p, R> {
    inner: R,
    file: Option<blake3::Hasher>,
    /// The payload hash and the payload bytes not read yet.
    payload: Option<(blake3::Hasher, u64)>,
    path: &'p Path,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let limit = self.payload.as_ref().map_or(buf.len() as u64, |&(_, left)| left.min(buf.len() as u64));
        let n = self.inner.read(&mut buf[..limit as usize])?;
        if let Some(file) = &mut self.file {
            file.update(&buf[..n]);
        }
        if let Some((hasher, left)) = &mut self.payload {
            hasher.update(&buf[..n]);
            *left -= n as u64;
        }
        Ok(n)
    }
}

impl<R: Read> Hashing<'_, R> {
    /// Fills `buf` (the file's length was checked, so running short is a read error).
    fn fill<B: AsMut<[u8]>>(&mut self, mut buf: B) -> Result<B> {
        self.read_exact(buf.as_mut()).map_err(|e| Error::io(self.path, e))?;
        Ok(buf)
    }

    /// Fills `values` with little-endian numbers read straight into them (no copy through a byte buffer:
    /// the counts are most of a model's bytes), each then read by `from_le`.
    fn read_le<T: bytemuck::Pod>(&mut self, values: &mut [T], from_le: impl Fn(T) -> T) -> std::io::Result<()> {
        self.read_exact(bytemuck::cast_slice_mut(values))?;
        if cfg!(target_endian = "big") {
            for value in values.iter_mut() {
                *value = from_le(*value);
            }
        }
        Ok(())
    }

    /// Reads `len` bytes and hands them to `each` in chunks of whole 8-byte values.
    fn chunks(&mut self, len: u64, mut each: impl FnMut(&[u8])) -> std::io::Result<()> {
        let mut buf = vec![0; CHUNK.min(len as usize)];
        let mut left = len;
        while left > 0 {
            let n = (CHUNK as u64).min(left) as usize;
            self.read_exact(&mut buf[..n])?;
            each(&buf[..n]);
            left -= n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;
    use crate::model::Counts;
    use crate::params::TrainParams;

    fn model() -> Model {
        let examples: Vec<Example> = [
            ("Kyiv denied involvement", "blame"),
            ("ISIS claimed the attack", "isis"),
            ("The US warned of an attack", "warning"),
        ]
        .iter()
        .map(|(t, l)| Example { text: (*t).into(), label: (*l).into(), ..Example::default() })
        .collect();
        // Every n-gram kept: the vocabulary has children (bigrams) as well as stems.
        Model::train(&examples, &TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap()).unwrap()
    }

    #[test]
    fn save_load_save_is_identity() {
        let mut m = model();
        m.set_lineage(Lineage {
            parent: Some("ab".repeat(32)),
            data: vec![crate::data::FileDigest { path: "a.csv".into(), blake3: "cd".repeat(32) }],
        });
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes, Path::new("m")).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn a_model_larger_than_one_read_chunk_loads_back_unchanged_as_a_model_or_a_classifier_on_any_thread_count() {
        // 40,000 sentences of 5 words never seen elsewhere: 200,000 unigrams and 160,000 bigrams, so every
        // label's counts span several 1 MiB chunks of the file.
        let word = |mut i: usize| {
            let mut w = String::from("q");
            while i > 0 {
                w.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
            }
            w
        };
        let examples: Vec<Example> = (0..40_000)
            .map(|s| Example {
                text: (0..5).map(|k| word(s * 5 + k)).collect::<Vec<_>>().join(" "),
                label: ["blame", "isis", "warning"][s % 3].into(),
                ..Example::default()
            })
            .collect();
        let params = TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap();
        let m = Model::train(&examples, &params).unwrap();
        assert!(m.vocabulary.len() * 8 > 2 * CHUNK, "{} n-grams", m.vocabulary.len());
        let bytes = m.to_bytes();
        for threads in [1, 2].map(|t| NonZeroUsize::new(t).unwrap()) {
            // Not assert_eq: the Debug dump of 350,000 terms would bury the message.
            let back: Model = read(bytes.as_slice(), bytes.len() as u64, Path::new("m"), false, threads).unwrap().0;
            assert!(back == m, "{threads} thread(s): the loaded model differs from the saved one");
            // Smoothed as it is read, without the counts, a classifier has the very same log-probabilities.
            let classifier: Classifier =
                read(bytes.as_slice(), bytes.len() as u64, Path::new("m"), false, threads).unwrap().0;
            assert!(classifier == *m, "{threads} thread(s): the loaded classifier differs from the model's");
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = model().to_bytes();
        for len in 0..bytes.len() {
            assert!(Model::from_bytes(&bytes[..len], Path::new("m")).is_err(), "length {len}");
        }
    }

    #[test]
    fn payloads_that_do_not_add_up_are_corrupt_even_with_a_valid_checksum() {
        let bytes = model().to_bytes();
        let payload = &bytes[HEADER_LEN..bytes.len() - HASH_LEN];
        let message = |payload: &[u8]| Model::from_bytes(&envelope(payload), Path::new("m")).unwrap_err().to_string();
        assert!(message(&payload[..payload.len() - 8]).contains("sizes do not add up"));
        assert!(message(&payload[..4]).contains("ends early"));
        let mut huge_header = payload.to_vec();
        huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(message(&huge_header).contains("header of"));
        assert_eq!(Model::from_bytes(&envelope(payload), Path::new("m")).unwrap(), model());
    }

    /// `model`'s file and where its table of count values starts in the payload.
    fn coded(model: &Model) -> (Vec<u8>, usize) {
        let bytes = model.to_bytes();
        let values = CodedCounts::of(model.feature_count()).expect("few count values").values.len();
        let codes = model.labels().len() * model.vocabulary().len() * 2;
        let payload = bytes.len() - HEADER_LEN - HASH_LEN;
        (bytes, payload - codes - values * 8)
    }

    /// The error of loading `payload` as a model and as a classifier, which must be the same.
    fn both_fail(payload: &[u8]) -> String {
        let file = envelope(payload);
        let as_model = read::<Model>(file.as_slice(), file.len() as u64, Path::new("m"), false, NonZeroUsize::MIN);
        let as_classifier =
            read::<Classifier>(file.as_slice(), file.len() as u64, Path::new("m"), false, NonZeroUsize::MIN);
        let message = as_model.unwrap_err().to_string();
        assert_eq!(as_classifier.unwrap_err().to_string(), message);
        message
    }

    #[test]
    fn counts_that_are_not_finite_and_non_negative_are_corrupt_for_models_and_classifiers() {
        let (bytes, table) = coded(&model());
        let payload = &bytes[HEADER_LEN..bytes.len() - HASH_LEN];
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            // The first count value: every count that takes it goes bad.
            let mut changed = payload.to_vec();
            changed[table..table + 8].copy_from_slice(&bad.to_le_bytes());
            let message = both_fail(&changed);
            assert!(message.contains("finite and non-negative"), "{bad}: {message}");
        }
    }

    #[test]
    fn counts_are_stored_as_codes_of_their_few_values_and_a_code_past_them_is_corrupt() {
        let m = model();
        let (bytes, table) = coded(&m);
        let values = CodedCounts::of(m.feature_count()).unwrap().values;
        // Whole counts, each value once, in order of first appearance: 0 and 1 in this small model.
        assert_eq!(values, [0.0, 1.0]);
        assert_eq!(bytes.len() - HASH_LEN - HEADER_LEN, table + 16 + m.labels().len() * m.vocabulary().len() * 2);
        let mut payload = bytes[HEADER_LEN..bytes.len() - HASH_LEN].to_vec();
        let last = payload.len() - 2;
        payload[last..].copy_from_slice(&2u16.to_le_bytes());
        assert!(both_fail(&payload).contains("count code 2 past the 2 count values"));
    }

    #[test]
    fn counts_with_more_values_than_codes_are_stored_plain_and_load_back() {
        let terms = 70_000;
        let names: Vec<String> = (0..terms).map(|i| format!("t{i:05}")).collect();
        let counts = Counts {
            class_count: vec![3, 4],
            feature_count: vec![
                Buffer::from_exact_iter((0..terms).map(|i| i as f64 + 0.5)),
                Buffer::from_exact_iter((0..terms).map(|i| (i % 3) as f64)),
            ],
        };
        assert!(CodedCounts::of(&counts.feature_count).is_none(), "70,000 distinct values have no codes");
        let vocabulary = Vocabulary::from_sorted(names, NonZeroUsize::MIN);
        let params = TrainParams::default().check().unwrap();
        let m = Model::from_counts(params, vocabulary, vec!["a".into(), "b".into()], counts, "data".into()).unwrap();
        let bytes = m.to_bytes();
        assert!(bytes.len() > 2 * terms * 8, "the counts are stored as f64s");
        let back = Model::from_bytes(&bytes, Path::new("m")).unwrap();
        assert!(back == m, "the loaded model differs from the saved one");
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn a_broken_vocabulary_gets_the_same_error_on_one_thread_and_two() {
        let bytes = model().to_bytes();
        let payload = &bytes[HEADER_LEN..bytes.len() - HASH_LEN];
        let children = 8 + u64::from_le_bytes(payload[..8].try_into().unwrap()) as usize;
        let load = |payload: &[u8], threads: usize| {
            let file = envelope(payload);
            let threads = NonZeroUsize::new(threads).unwrap();
            read::<Classifier>(file.as_slice(), file.len() as u64, Path::new("m"), false, threads)
                .unwrap_err()
                .to_string()
        };
        // A stem holds a space (the indexing thread fails before it is sent the children); the first
        // n-gram extends its parent by a node that is no stem; the payload ends early.
        let mut spaced = payload.to_vec();
        let at = spaced.windows(4).position(|w| w == b"kyiv").expect("the stem kyiv is stored");
        spaced[at + 1] = b' ';
        let mut not_a_stem = payload.to_vec();
        not_a_stem[children + 4..children + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let cases = [spaced, not_a_stem, payload[..payload.len() - 4].to_vec()];
        for (case, expected) in cases.iter().zip(["holds a space", "not a stem", "do not add up"]) {
            let one = load(case, 1);
            assert!(one.contains(expected), "{one}");
            assert_eq!(load(case, 2), one);
        }
    }

    #[test]
    fn corruption_foreign_files_and_other_versions_are_named() {
        let bytes = model().to_bytes();
        let message = |b: &[u8]| Model::from_bytes(b, Path::new("m.model")).unwrap_err().to_string();
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 5] ^= 0x40;
        assert!(message(&flipped).contains("checksum"));
        assert!(message(b"PK\x03\x04 a zip file").contains("not a narrative model"));
        let mut old = bytes.clone();
        old[16..20].copy_from_slice(&0u32.to_le_bytes());
        assert!(message(&old).contains("format version 0"));
        assert!(message(&bytes[..bytes.len() - 1]).starts_with("m.model: truncated"));
    }
}
