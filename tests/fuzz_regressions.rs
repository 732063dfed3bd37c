//! Inputs the fuzzers found (kept in tests/fuzz/regressions/), replayed: each must give an error, never a
//! panic. See tests/fuzz/README.md for the fuzz targets.

use std::path::Path;

use narrative::model::Model;
use narrative::model::file::{FORMAT_VERSION, MAGIC};

fn regression(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions").join(name)).unwrap()
}

/// Wraps a payload in a valid header and checksum, as the `model_payload` target does.
fn with_valid_envelope(payload: &[u8]) -> Vec<u8> {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    data.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    data.extend_from_slice(payload);
    data.extend_from_slice(blake3::hash(payload).as_bytes());
    data
}

#[test]
fn label_counts_that_overflow_are_a_corrupt_model() {
    let from_bytes = Model::from_bytes(&regression("model_from_bytes-class-count-overflow"), Path::new("m"));
    let err = from_bytes.unwrap_err().to_string();
    assert!(err.contains("corrupt model file"), "{err}");
    let payload = with_valid_envelope(&regression("model_payload-class-count-overflow"));
    let err = Model::from_bytes(&payload, Path::new("m")).unwrap_err().to_string();
    assert!(err.contains("more than 9007199254740992 sentences"), "{err}");
}
