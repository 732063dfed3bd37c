//! `narrative` reads news articles and measures which narratives they carry.
//!
//! The pipeline, one module per stage: [`text::sentences`] splits an article into sentences with byte
//! spans, [`text::tokens`] turns a sentence into lower-cased Snowball stems, [`features`] forms word
//! n-grams and sparse count rows over a learned [`features::Vocabulary`], and [`model`] is multinomial
//! naive Bayes (fitted through linfa-bayes) that gives every sentence the posterior of every label.
//! [`data`] reads labelled sentences, [`input`] reads documents to classify, [`eval`] scores models.
//!
//! ```
//! use narrative::{data::Example, model::Model, params::TrainParams, text::sentences};
//!
//! let examples: Vec<Example> = [
//!     ("Islamic State claimed responsibility for the attack.", "isis_attribution"),
//!     ("Kyiv denied any involvement in the attack.", "ukraine_west_blame"),
//!     ("The death toll rose to 140.", "neutral"),
//! ]
//! .into_iter()
//! .map(|(text, label)| Example { text: text.into(), label: label.into(), ..Example::default() })
//! .collect();
//! let params = TrainParams { min_df: 1, ..TrainParams::default() }.check()?;
//! let model = Model::train(&examples, &params)?;
//! let mut featurizer = model.featurizer();
//! let article = "Ukraine denied involvement. The toll rose.";
//! let labels: Vec<&str> = sentences::split(article)
//!     .iter()
//!     .map(|s| model.labels()[model.predict(&mut featurizer, s.text).label].as_str())
//!     .collect();
//! assert_eq!(labels, ["ukraine_west_blame", "neutral"]);
//! # Ok::<(), narrative::Error>(())
//! ```

#![warn(missing_docs)]

pub mod classify;
pub mod compare;
pub mod data;
pub mod error;
pub mod eval;
pub mod explain;
pub mod features;
pub mod input;
pub mod io;
pub mod memory;
pub mod model;
pub mod parallel;
pub mod params;
pub mod report;
pub mod suggest;
pub mod text;

pub use error::{Error, Result};
