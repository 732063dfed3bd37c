//! `Model::from_bytes` past its header and checksum: the fuzz input is the payload (header and raw
//! sections), wrapped in a valid envelope (magic, format version, length) and its BLAKE3 hash, so the
//! payload decoding and the consistency checks of the vocabulary and `Model::from_counts` see the
//! mutations instead of the checksum rejecting them.
//! A model that loads classifies a short article and survives a save/load round trip unchanged.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use narrative::model::Model;
use narrative::model::file::envelope;

fuzz_target!(|payload: &[u8]| {
    let data = envelope(payload);
    let Ok(model) = Model::from_bytes(&data, Path::new("fuzz.model")) else { return };
    narrative_fuzz::exercise_model(&model);
    let bytes = model.to_bytes();
    let again = Model::from_bytes(&bytes, Path::new("again.model")).expect("a saved model loads");
    assert!(again.to_bytes() == bytes, "save/load/save changed the bytes");
});
