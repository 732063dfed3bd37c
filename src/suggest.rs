//! What to label next: the sentences the model is least sure about, near-duplicates removed.
//!
//! Uncertainty is the margin (1 minus the gap between the two most probable labels) or the normalised
//! entropy of the posteriors; both are 0 for a certain prediction and 1 for a uniform one. The ranking keeps
//! a bounded pool of the most uncertain sentences, so memory does not grow with the corpus. Two sentences
//! whose stem sets overlap by [`NEAR_DUPLICATE`] (Jaccard) or more are near-duplicates: only the more
//! uncertain one is suggested, since labelling both teaches the model little more than labelling one.

use std::collections::BTreeSet;

use crate::model::Prediction;
use crate::text::tokens::Tokenizer;

/// Jaccard overlap of stem sets at which two sentences count as near-duplicates.
pub const NEAR_DUPLICATE: f64 = 0.8;

/// How uncertainty is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Uncertainty {
    /// 1 − (p₁ − p₂): small gap between the two most probable labels.
    #[default]
    Margin,
    /// Entropy of the posteriors divided by ln(number of labels).
    Entropy,
}

impl Uncertainty {
    /// The uncertainty of a prediction, in [0, 1].
    pub fn score(self, prediction: &Prediction) -> f64 {
        let p = &prediction.probabilities;
        match self {
            Self::Margin => {
                let (mut first, mut second) = (0.0f64, 0.0f64);
                for &v in p {
                    if v > first {
                        second = first;
                        first = v;
                    } else if v > second {
                        second = v;
                    }
                }
                1.0 - (first - second)
            }
            Self::Entropy if p.len() < 2 => 0.0,
            Self::Entropy => -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f64>() / (p.len() as f64).ln(),
        }
    }
}

/// One sentence proposed for labelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The sentence.
    pub text: String,
    /// Its document.
    pub doc: String,
    /// Its position in the document, from 1.
    pub sentence: usize,
    /// Index of the predicted label in the model's labels.
    pub predicted: usize,
    /// Posterior of the predicted label.
    pub confidence: f64,
    /// Uncertainty in [0, 1].
    pub uncertainty: f64,
}

/// Collects the most uncertain sentences of a stream.
#[derive(Debug)]
pub struct Suggester {
    n: usize,
    by: Uncertainty,
    pool: Vec<Suggestion>,
    capacity: usize,
}

impl Suggester {
    /// A suggester that will return up to `n` sentences ranked by `by`.
    pub fn new(n: usize, by: Uncertainty) -> Self {
        let capacity = n.saturating_mul(20).saturating_add(200);
        Self { n, by, pool: Vec::new(), capacity }
    }

    /// Considers one classified sentence.
    pub fn offer(&mut self, doc: &str, sentence: usize, text: &str, prediction: &Prediction) {
        self.pool.push(Suggestion {
            text: text.to_owned(),
            doc: doc.to_owned(),
            sentence,
            predicted: prediction.label,
            confidence: prediction.confidence(),
            uncertainty: self.by.score(prediction),
        });
        if self.pool.len() >= 2 * self.capacity {
            self.rank();
            self.pool.truncate(self.capacity);
        }
    }

    fn rank(&mut self) {
        self.pool.sort_by(|a, b| {
            b.uncertainty.total_cmp(&a.uncertainty).then_with(|| a.doc.cmp(&b.doc)).then(a.sentence.cmp(&b.sentence))
        });
    }

    /// The `n` most uncertain sentences, most uncertain first, without near-duplicates.
    pub fn finish(mut self, tokenizer: &mut Tokenizer) -> Vec<Suggestion> {
        self.rank();
        let mut chosen: Vec<(Suggestion, BTreeSet<String>)> = Vec::new();
        for candidate in self.pool {
            if chosen.len() == self.n {
                break;
            }
            let stems: BTreeSet<String> = tokenizer.stems(&candidate.text).into_iter().collect();
            if chosen.iter().all(|(_, other)| jaccard(&stems, other) < NEAR_DUPLICATE) {
                chosen.push((candidate, stems));
            }
        }
        chosen.into_iter().map(|(s, _)| s).collect()
    }
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 { 1.0 } else { a.intersection(b).count() as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(p: &[f64]) -> Prediction {
        let label = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        Prediction { label, probabilities: p.iter().copied().collect() }
    }

    #[test]
    fn scores_are_zero_when_certain_and_one_when_uniform() {
        for by in [Uncertainty::Margin, Uncertainty::Entropy] {
            assert!(by.score(&prediction(&[1.0, 0.0, 0.0])).abs() < 1e-12);
            assert!((by.score(&prediction(&[0.25; 4])) - 1.0).abs() < 1e-12);
        }
        assert!((Uncertainty::Margin.score(&prediction(&[0.6, 0.3, 0.1])) - 0.7).abs() < 1e-12);
    }

    #[test]
    fn most_uncertain_first_without_near_duplicates() {
        let mut s = Suggester::new(3, Uncertainty::Margin);
        s.offer("a", 1, "Kyiv denied any role in the attack.", &prediction(&[0.5, 0.5]));
        s.offer("a", 2, "Kyiv denied any role in the attack!", &prediction(&[0.52, 0.48]));
        s.offer("b", 1, "The toll rose.", &prediction(&[0.9, 0.1]));
        s.offer("b", 2, "Police detained four men.", &prediction(&[0.6, 0.4]));
        s.offer("b", 3, "Fire engulfed the hall.", &prediction(&[0.99, 0.01]));
        let picked = s.finish(&mut Tokenizer::new(false));
        let texts: Vec<&str> = picked.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Kyiv denied any role in the attack.", "Police detained four men.", "The toll rose."]);
    }

    #[test]
    fn the_pool_stays_bounded() {
        let mut s = Suggester::new(1, Uncertainty::Entropy);
        for i in 0..10_000 {
            let p = (i % 100) as f64 / 200.0;
            s.offer("d", i, &format!("sentence number {i}"), &prediction(&[1.0 - p, p]));
            assert!(s.pool.len() < 2 * s.capacity);
        }
        let best = s.finish(&mut Tokenizer::new(false));
        assert_eq!(best.len(), 1);
        assert!((best[0].confidence - 0.505).abs() < 1e-12);
    }
}
