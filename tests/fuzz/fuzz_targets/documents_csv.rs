//! `input::Documents` over an arbitrary `.csv` file, drained to the end (errors included); the text and
//! title of every document are split into sentences and featurized.

#![no_main]

use libfuzzer_sys::fuzz_target;
use narrative::input::{Documents, InputFormat};

fuzz_target!(|data: &[u8]| {
    let path = narrative_fuzz::input_file("csv", data);
    for document in Documents::new(&[path], InputFormat::Auto).flatten() {
        narrative_fuzz::exercise_text(&document.text);
        if let Some(title) = &document.title {
            narrative_fuzz::exercise_text(title);
        }
    }
});
