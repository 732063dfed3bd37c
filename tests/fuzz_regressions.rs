//! Inputs the fuzzers found (kept in tests/fuzz/regressions/), replayed: each must give an error, never a
//! panic. See tests/fuzz/README.md for the fuzz targets.

use std::path::Path;

use narrative::model::Model;
use narrative::model::file::envelope;

fn regression(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions").join(name)).unwrap()
}

#[test]
fn label_counts_that_overflow_are_a_corrupt_model() {
    let from_bytes = Model::from_bytes(&regression("model_from_bytes-class-count-overflow"), Path::new("m"));
    let err = from_bytes.unwrap_err().to_string();
    assert!(err.contains("corrupt model file"), "{err}");
    let payload = envelope(&regression("model_payload-class-count-overflow"));
    let err = Model::from_bytes(&payload, Path::new("m")).unwrap_err().to_string();
    assert!(err.contains("more than 9007199254740992 sentences"), "{err}");
}
