//! Training options, checked once.
//!
//! | name | default | range | purpose |
//! |---|---|---|---|
//! | `ngrams` | `1-2` | `1 ≤ min ≤ max ≤ 5` | word n-gram orders used as features |
//! | `min_df` | `2` | `≥ 1` | an n-gram must occur in at least this many training sentences |
//! | `alpha` | `0.3` | `> 0`, finite | additive (Lidstone) smoothing of the per-label counts |
//! | `stop_words` | on | on/off | drop Snowball English stop words before n-grams are formed |
//! | `weighting` | `count` | `count`, `log` | raw term counts, or `1 + ln(count)` per sentence |
//!
//! The defaults were chosen by leave-one-article-out cross-validation on the seed articles (see
//! `data/README.md`); they are not tuned on any test set.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest n-gram order accepted.
pub const MAX_NGRAM: u8 = 5;

/// An inclusive range of n-gram orders, such as `1-2` (unigrams and bigrams). Always `1 ≤ min ≤ max ≤ 5`,
/// also when read from a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawNgramRange")]
pub struct NgramRange {
    min: u8,
    max: u8,
}

impl NgramRange {
    /// A checked range.
    pub fn new(min: u8, max: u8) -> Result<Self> {
        if min == 0 || min > max || max > MAX_NGRAM {
            return Err(Error::InvalidParam {
                name: "n-gram range",
                value: format!("{min}-{max}"),
                expected: "MIN-MAX with 1 <= MIN <= MAX <= 5, such as 1-2",
            });
        }
        Ok(Self { min, max })
    }

    /// Smallest order.
    pub fn min(self) -> usize {
        usize::from(self.min)
    }

    /// Largest order.
    pub fn max(self) -> usize {
        usize::from(self.max)
    }
}

/// The stored form of an [`NgramRange`], checked on the way in.
#[derive(Deserialize)]
struct RawNgramRange {
    min: u8,
    max: u8,
}

impl TryFrom<RawNgramRange> for NgramRange {
    type Error = Error;

    fn try_from(raw: RawNgramRange) -> Result<Self> {
        Self::new(raw.min, raw.max)
    }
}

impl FromStr for NgramRange {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidParam {
            name: "n-gram range",
            value: s.to_owned(),
            expected: "MIN-MAX with 1 <= MIN <= MAX <= 5, such as 1-2",
        };
        let (lo, hi) = s.split_once('-').unwrap_or((s, s));
        let lo = lo.trim().parse().map_err(|_| bad())?;
        let hi = hi.trim().parse().map_err(|_| bad())?;
        Self::new(lo, hi).map_err(|_| bad())
    }
}

impl fmt::Display for NgramRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// How a sentence's n-gram counts become feature values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Weighting {
    /// The raw count (multinomial naive Bayes as in the textbook and scikit-learn).
    Count,
    /// `1 + ln(count)`: damps words repeated within one sentence.
    Log,
}

impl Weighting {
    /// The feature value of an n-gram seen `count` times in a sentence.
    pub fn apply(self, count: u32) -> f64 {
        match self {
            Self::Count => f64::from(count),
            Self::Log => 1.0 + f64::from(count).ln(),
        }
    }
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Count => "count",
            Self::Log => "log",
        })
    }
}

/// How sentences become feature vectors. Stored in the model file: classifying must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureOptions {
    /// N-gram orders.
    pub ngrams: NgramRange,
    /// Whether stop words are dropped before n-grams are formed.
    pub stop_words: bool,
    /// Count or log-count values.
    pub weighting: Weighting,
}

/// Unchecked training options, as a user or the command line gives them. Call [`TrainParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// N-gram orders.
    pub ngrams: NgramRange,
    /// Minimum number of training sentences an n-gram must occur in.
    pub min_df: u32,
    /// Smoothing.
    pub alpha: f64,
    /// Drop stop words.
    pub stop_words: bool,
    /// Count or log-count values.
    pub weighting: Weighting,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            ngrams: NgramRange { min: 1, max: 2 },
            min_df: 2,
            alpha: 0.3,
            stop_words: true,
            weighting: Weighting::Count,
        }
    }
}

/// Training options that passed [`TrainParams::check`]; only these reach training. Reading them from a model
/// file checks them again, so a corrupt file cannot smuggle in a zero or NaN alpha.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawValidParams")]
pub struct ValidTrainParams {
    features: FeatureOptions,
    min_df: u32,
    alpha: f64,
}

/// The stored form of [`ValidTrainParams`], checked on the way in.
#[derive(Deserialize)]
struct RawValidParams {
    features: FeatureOptions,
    min_df: u32,
    alpha: f64,
}

impl TryFrom<RawValidParams> for ValidTrainParams {
    type Error = Error;

    fn try_from(raw: RawValidParams) -> Result<Self> {
        let f = raw.features;
        TrainParams {
            ngrams: f.ngrams,
            min_df: raw.min_df,
            alpha: raw.alpha,
            stop_words: f.stop_words,
            weighting: f.weighting,
        }
        .check()
    }
}

impl TrainParams {
    /// Checks every option's range.
    pub fn check(self) -> Result<ValidTrainParams> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::InvalidParam {
                name: "alpha",
                value: self.alpha.to_string(),
                expected: "a finite number greater than 0, such as 0.3",
            });
        }
        if self.min_df == 0 {
            return Err(Error::InvalidParam {
                name: "min-df",
                value: "0".into(),
                expected: "a whole number of sentences, at least 1",
            });
        }
        Ok(ValidTrainParams {
            features: FeatureOptions { ngrams: self.ngrams, stop_words: self.stop_words, weighting: self.weighting },
            min_df: self.min_df,
            alpha: self.alpha,
        })
    }
}

impl ValidTrainParams {
    /// How sentences become features.
    pub fn features(&self) -> FeatureOptions {
        self.features
    }

    /// Minimum document frequency.
    pub fn min_df(&self) -> u32 {
        self.min_df
    }

    /// Smoothing.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl fmt::Display for ValidTrainParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ngrams={} min_df={} alpha={} stop_words={} weighting={}",
            self.features.ngrams,
            self.min_df,
            self.alpha,
            if self.features.stop_words { "on" } else { "off" },
            self.features.weighting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngram_ranges_parse_and_reject() {
        assert_eq!("1-2".parse::<NgramRange>().unwrap(), NgramRange::new(1, 2).unwrap());
        assert_eq!("2".parse::<NgramRange>().unwrap(), NgramRange::new(2, 2).unwrap());
        for bad in ["0-1", "2-1", "1-6", "a-b", "", "1-"] {
            assert!(bad.parse::<NgramRange>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn check_rejects_bad_alpha_and_min_df() {
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(TrainParams { alpha, ..TrainParams::default() }.check().is_err());
        }
        assert!(TrainParams { min_df: 0, ..TrainParams::default() }.check().is_err());
        assert!(TrainParams::default().check().is_ok());
    }

    #[test]
    fn stored_options_are_checked_when_read() {
        let valid = TrainParams::default().check().unwrap();
        let bytes = postcard::to_allocvec(&valid).unwrap();
        assert_eq!(postcard::from_bytes::<ValidTrainParams>(&bytes).unwrap(), valid);
        let bad_alpha = ValidTrainParams { alpha: f64::NAN, ..valid };
        assert!(postcard::from_bytes::<ValidTrainParams>(&postcard::to_allocvec(&bad_alpha).unwrap()).is_err());
        let bad_range = ValidTrainParams {
            features: FeatureOptions { ngrams: NgramRange { min: 3, max: 1 }, ..valid.features },
            ..valid
        };
        assert!(postcard::from_bytes::<ValidTrainParams>(&postcard::to_allocvec(&bad_range).unwrap()).is_err());
        let bad_min_df = ValidTrainParams { min_df: 0, ..valid };
        assert!(postcard::from_bytes::<ValidTrainParams>(&postcard::to_allocvec(&bad_min_df).unwrap()).is_err());
    }

    #[test]
    fn log_weighting_damps_repeats() {
        assert_eq!(Weighting::Count.apply(3), 3.0);
        assert!((Weighting::Log.apply(1) - 1.0).abs() < 1e-12);
        assert!(Weighting::Log.apply(3) < 3.0);
    }
}
