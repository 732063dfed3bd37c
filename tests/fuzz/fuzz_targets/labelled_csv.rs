//! `data::read_labelled` on an arbitrary `.csv` file, with the default options and with
//! `--group-by doc --prefer-later`; the text of every example read is split into sentences and featurized
//! (once: from the first read that succeeds).

#![no_main]

use libfuzzer_sys::fuzz_target;
use narrative::data::{ReadOptions, read_labelled};

fuzz_target!(|data: &[u8]| {
    let path = narrative_fuzz::input_file("csv", data);
    let mut exercised = false;
    for options in [ReadOptions::default(), ReadOptions { group_by: Some("doc"), prefer_later: true }] {
        let Ok(labelled) = read_labelled(std::slice::from_ref(&path), options) else { continue };
        let _ = labelled.label_counts();
        if !exercised {
            for example in &labelled.examples {
                narrative_fuzz::exercise_text(&example.text);
            }
            exercised = true;
        }
    }
});
