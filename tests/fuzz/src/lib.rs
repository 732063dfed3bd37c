//! Shared helpers for the fuzz targets: writing an input to a file the readers can open, and running the
//! text stages (sentence splitting, n-grams, a vocabulary, sparse rows) over whatever text came out.

use std::path::PathBuf;

use narrative::model::Model;
use narrative::model::train::Trainer;
use narrative::params::{NgramRange, TrainParams, ValidTrainParams, Weighting};
use narrative::text::sentences;

/// Writes `data` to `input.<extension>` in a directory of this process (so parallel jobs never share a
/// file) and returns its path. The file is rewritten for every input.
pub fn input_file(extension: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("narrative-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the fuzz input directory");
    let path = dir.join(format!("input.{extension}"));
    std::fs::write(&path, data).expect("write the fuzz input file");
    path
}

/// The training options tried on every text: the defaults at min-df 1, and every order up to 5 without stop
/// words with log weighting.
fn train_params() -> [ValidTrainParams; 2] {
    let defaults = TrainParams { min_df: 1, ..TrainParams::default() };
    let longest = TrainParams {
        ngrams: NgramRange::new(1, 5).expect("valid"),
        stop_words: false,
        weighting: Weighting::Log,
        ..defaults
    };
    [defaults.check().expect("valid"), longest.check().expect("valid")]
}

/// Splits `text` into sentences, checks the documented span properties, and featurizes the sentences with
/// each option set: a model trained on them (its vocabulary of n-grams), then every sentence's sparse row
/// over it.
/// Models and featurizers are made fresh for every text: their word caches would otherwise carry state from one
/// input to the next (a crash must reproduce from its input alone).
pub fn exercise_text(text: &str) {
    let split = sentences::split(text);
    let mut previous_end = 0;
    for s in &split {
        let span = s.span;
        assert!(span.start >= previous_end && span.start <= span.end, "span {span:?} after {previous_end}");
        assert_eq!(text.get(span.start..span.end), Some(s.text), "span {span:?} is not the sentence's text");
        previous_end = span.end;
    }
    for params in train_params() {
        let mut trainer = Trainer::new(params);
        for (i, s) in split.iter().enumerate() {
            trainer.add(s.text, ["a", "b"][i % 2]).expect("a few sentences are always accepted");
        }
        // Too few sentences, or none with a word, make no model: that is an error, not a crash.
        let Ok(model) = trainer.finish(std::num::NonZeroUsize::MIN) else { continue };
        let (vocabulary, mut featurizer) = (model.vocabulary(), model.featurizer());
        for s in &split {
            let row = featurizer.transform(s.text, vocabulary);
            assert!(row.windows(2).all(|w| w[0].0 < w[1].0), "row ids not sorted and unique");
            assert!(row.iter().all(|&(id, _)| (id as usize) < vocabulary.len()), "row id outside vocabulary");
        }
    }
}

/// Classifies a fixed short article with `model` (every sentence), as `classify` would.
pub fn exercise_model(model: &Model) {
    let article = "Investigators see Kiev trace in Crocus attack\n\nThe Investigative Committee said it had found \
                   evidence of links between the gunmen and Ukrainian nationalists. Islamic State had claimed the \
                   attack within hours. The U.S. warned of an attack approx. 2 weeks before.";
    let mut featurizer = model.featurizer();
    for s in sentences::split(article) {
        let prediction = model.predict(&mut featurizer, s.text);
        assert!(prediction.label < model.labels().len());
        assert_eq!(prediction.probabilities.len(), model.labels().len());
    }
    // An empty row: the priors alone.
    let _ = model.predict_row(&Vec::new());
}
