//! Why the model decided: which n-grams raise a label's odds.
//!
//! For the model as a whole, an n-gram's weight for a label is its log-likelihood ratio against the other
//! labels, `ln P(t | label) − ln mean_{other} P(t | other)`: how much one occurrence multiplies the label's
//! odds. For one sentence, a term's contribution to the chosen label over the runner-up is
//! `value × (ln P(t | chosen) − ln P(t | runner-up))`; these contributions add up to the difference of the
//! two labels' log posteriors (less the prior), so they say exactly why the sentence went one way.

use crate::features::SparseRow;
use crate::model::{Classifier, Prediction};

/// An n-gram and its weight.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TermWeight {
    /// The n-gram (stems joined by spaces).
    pub term: String,
    /// Log-likelihood ratio or contribution, in nats.
    pub weight: f64,
}

/// For each label (model order), the `top` n-grams with the highest log-likelihood ratio against the other
/// labels; ties go to the term that sorts first.
pub fn top_terms(model: &Classifier, top: usize) -> Vec<Vec<TermWeight>> {
    let n = model.labels().len();
    (0..n)
        .map(|label| {
            let mut weights: Vec<(usize, f64)> = (0..model.vocabulary().len())
                .map(|j| {
                    let others: f64 = (0..n).filter(|&c| c != label).map(|c| model.log_prob(j, c).exp()).sum::<f64>()
                        / (n.max(2) - 1) as f64;
                    (j, model.log_prob(j, label) - others.ln())
                })
                .collect();
            weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            weights
                .into_iter()
                .take(top)
                .map(|(j, weight)| TermWeight { term: model.vocabulary().terms()[j].clone(), weight })
                .collect()
        })
        .collect()
}

/// The terms of `row` that most favour the predicted label over the runner-up, largest first (only
/// positive contributions, at most `top`).
pub fn sentence_evidence(model: &Classifier, row: &SparseRow, prediction: &Prediction, top: usize) -> Vec<TermWeight> {
    let chosen = prediction.label;
    let Some(runner_up) = (0..prediction.probabilities.len())
        .filter(|&l| l != chosen)
        .max_by(|&a, &b| prediction.probabilities[a].total_cmp(&prediction.probabilities[b]).then(b.cmp(&a)))
    else {
        return Vec::new();
    };
    let mut contributions: Vec<TermWeight> = row
        .iter()
        .map(|&(j, value)| TermWeight {
            term: model.vocabulary().terms()[j as usize].clone(),
            weight: value * (model.log_prob(j as usize, chosen) - model.log_prob(j as usize, runner_up)),
        })
        .filter(|t| t.weight > 0.0)
        .collect();
    contributions.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.term.cmp(&b.term)));
    contributions.truncate(top);
    contributions
}

/// Evidence as one field: `term (+1.23); other term (+0.45)`.
pub fn format_evidence(terms: &[TermWeight]) -> String {
    terms.iter().map(|t| format!("{} ({:+.2})", t.term, t.weight)).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;
    use crate::model::Model;
    use crate::params::TrainParams;

    fn model() -> Model {
        let examples: Vec<Example> = [
            ("Kyiv denied involvement", "blame"),
            ("Moscow blamed Kyiv", "blame"),
            ("Kyiv regime behind attack", "blame"),
            ("Islamic State claimed the attack", "isis"),
            ("Islamic State fighters attack", "isis"),
            ("The toll rose", "other"),
        ]
        .iter()
        .map(|(t, l)| Example { text: (*t).into(), label: (*l).into(), ..Example::default() })
        .collect();
        Model::train(&examples, &TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap()).unwrap()
    }

    #[test]
    fn top_terms_are_each_labels_own_words() {
        let m = model();
        let terms = top_terms(&m, 1);
        assert_eq!(terms.len(), 3);
        assert_eq!(terms[0][0].term, "kyiv", "{terms:?}");
        assert!(["islam", "state", "islam state"].contains(&terms[1][0].term.as_str()), "{terms:?}");
        assert!(terms.iter().all(|t| t[0].weight > 0.0));
    }

    #[test]
    fn sentence_evidence_sums_to_the_log_odds_over_the_runner_up() {
        let m = model();
        let mut f = m.featurizer();
        let row = f.transform("Kyiv denied the attack", m.vocabulary());
        let p = m.predict_row(&row);
        assert_eq!(m.labels()[p.label], "blame");
        let all = sentence_evidence(&m, &row, &p, usize::MAX);
        assert_eq!(all[0].term, "kyiv");
        let runner_up = (0..3)
            .filter(|&l| l != p.label)
            .max_by(|&a, &b| p.probabilities[a].total_cmp(&p.probabilities[b]))
            .unwrap();
        let mut jll = vec![0.0; 3];
        m.joint_log_likelihood(&row, &mut jll);
        let mut prior = vec![0.0; 3];
        m.joint_log_likelihood(&SparseRow::new(), &mut prior);
        let all_terms: f64 =
            row.iter().map(|&(j, v)| v * (m.log_prob(j as usize, p.label) - m.log_prob(j as usize, runner_up))).sum();
        let expected = (jll[p.label] - prior[p.label]) - (jll[runner_up] - prior[runner_up]);
        assert!((all_terms - expected).abs() < 1e-9);
        assert!(format_evidence(&all[..1]).starts_with("kyiv (+"));
    }
}
