//! `Model::from_bytes` on arbitrary bytes: every input is either a model or an error, never a panic.
//! A model that loads classifies a short article and survives a save/load round trip unchanged.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use narrative::model::Model;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::from_bytes(data, Path::new("fuzz.model")) else { return };
    narrative_fuzz::exercise_model(&model);
    let bytes = model.to_bytes();
    let again = Model::from_bytes(&bytes, Path::new("again.model")).expect("a saved model loads");
    assert!(again.to_bytes() == bytes, "save/load/save changed the bytes");
});
