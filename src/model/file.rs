//! The model file: one self-describing file with everything needed to classify, update and explain.
//!
//! Layout: the 16-byte magic `NARRATIVE-MODEL\n`, the format version (u32 little-endian), the payload
//! length (u64 little-endian), the payload (postcard-encoded `ModelFile`) and the BLAKE3 hash of the
//! payload (32 bytes). The payload also records the model's lineage: its parent model's hash and
//! the hash of every data file that went into it. Loading checks each part in turn, so a foreign file, another format version, a
//! truncated file and a corrupt one each get their own clear error. Every collection in the payload is
//! sorted, so the same data and options always give the same bytes. Writes go to a temporary file in the
//! target directory that is renamed into place only when complete.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Counts, Lineage, Model};
use crate::error::{Error, Result};
use crate::features::{StoredVocabulary, Vocabulary};
use crate::params::ValidTrainParams;
use crate::text::tokens::TOKENIZER_ID;

/// First bytes of every model file.
pub const MAGIC: &[u8; 16] = b"NARRATIVE-MODEL\n";

/// The model format this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;

const HEADER_LEN: usize = MAGIC.len() + 4 + 8;
const HASH_LEN: usize = 32;

/// What the payload holds.
#[derive(Debug, Serialize, Deserialize)]
struct ModelFile {
    crate_version: String,
    tokenizer: String,
    params: ValidTrainParams,
    labels: Vec<String>,
    class_count: Vec<u64>,
    vocabulary: StoredVocabulary,
    feature_count: Vec<Vec<f64>>,
    training_data: String,
    lineage: Lineage,
}

impl Model {
    /// The model as file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let file = ModelFile {
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            tokenizer: TOKENIZER_ID.to_owned(),
            params: *self.params(),
            labels: self.labels().to_vec(),
            class_count: self.class_count().to_vec(),
            vocabulary: self.vocabulary().stored(),
            feature_count: self.feature_count().to_vec(),
            training_data: self.training_data().to_owned(),
            lineage: self.lineage().clone(),
        };
        let payload = postcard::to_allocvec(&file).expect("model payload serialises");
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + HASH_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
        bytes
    }

    /// Reads a model from file bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let fail = |message: String| Error::Model { path: path.to_owned(), message };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(fail("not a narrative model file (no NARRATIVE-MODEL header)".into()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(fail(format!("truncated model file: {} bytes, header alone is {HEADER_LEN}", bytes.len())));
        }
        let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(fail(format!(
                "model format version {version}, this build of narrative reads version {FORMAT_VERSION}: \
                 retrain it with `narrative train`"
            )));
        }
        let declared = u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
        let expected_len = (HEADER_LEN as u64).saturating_add(declared).saturating_add(HASH_LEN as u64);
        if (bytes.len() as u64) < expected_len {
            return Err(fail(format!("truncated model file: {} of {expected_len} bytes", bytes.len())));
        }
        if bytes.len() as u64 > expected_len {
            return Err(fail(format!("corrupt model file: {} bytes, expected {expected_len}", bytes.len())));
        }
        let payload = &bytes[HEADER_LEN..bytes.len() - HASH_LEN];
        if blake3::hash(payload).as_bytes() != &bytes[bytes.len() - HASH_LEN..] {
            return Err(fail("corrupt model file: checksum mismatch".into()));
        }
        let file: ModelFile = postcard::from_bytes(payload).map_err(|e| fail(format!("corrupt model file: {e}")))?;
        if file.tokenizer != TOKENIZER_ID {
            return Err(fail(format!(
                "model was built with tokenizer {:?}, this build uses {TOKENIZER_ID:?}: retrain it",
                file.tokenizer
            )));
        }
        let vocabulary =
            Vocabulary::from_stored(&file.vocabulary).map_err(|m| fail(format!("corrupt model file: {m}")))?;
        let counts = Counts { class_count: file.class_count, feature_count: file.feature_count };
        let mut model = Model::from_counts(file.params, vocabulary, file.labels, counts, file.training_data)
            .map_err(|e| fail(format!("corrupt model file: {e}")))?;
        model.set_lineage(file.lineage);
        Ok(model)
    }

    /// Writes the model to `path` atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes();
        crate::io::write_atomically(path, |w| w.write_all(&bytes))
    }

    /// Loads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_digest(path).map(|(model, _)| model)
    }

    /// Loads a model file and returns the BLAKE3 hash (hex) of its bytes too, reading the file once
    /// (reports and lineage name the exact model file they came from).
    pub fn load_with_digest(path: &Path) -> Result<(Self, String)> {
        if path.is_dir() {
            return Err(Error::Model { path: path.to_owned(), message: "is a directory, not a model file".into() });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let digest = blake3::hash(&bytes).to_hex().to_string();
        Ok((Self::from_bytes(&bytes, path)?, digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;
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
        Model::train(&examples, &TrainParams::default().check().unwrap()).unwrap()
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
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = model().to_bytes();
        for len in 0..bytes.len() {
            assert!(Model::from_bytes(&bytes[..len], Path::new("m")).is_err(), "length {len}");
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
