//! The smoothed log-probabilities of a classifier, stored as small codes into a table of their values.
//!
//! `ln P(term | label) = ln(count + alpha) - ln Σ(count + alpha)` depends only on the count and the label,
//! and a model's counts take few distinct values: nearly all are small whole numbers, and most are zero (an
//! n-gram is seen under one label or two). So each (feature, label) keeps a 2-byte code of its count, and
//! one small table holds the value of every code under every label. That is a quarter of the memory of
//! plain f64 values (13 MB instead of 53 for a model of 1.67M n-grams and four labels), less to write on
//! load and less to miss in the cache on every n-gram looked up, for the very same bits. Counts with more
//! distinct values than a code can tell apart (fractional weights over a huge vocabulary) keep plain
//! values.

use rustc_hash::FxHashMap;

use crate::features::{SparseRow, prefetch};
use crate::memory::Buffer;

/// `ln P(term | label)` of every feature and label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LogProbs {
    /// The code of each count, `[feature * labels + label]`, and the value of each code under each label,
    /// `[code * labels + label]`.
    Coded { labels: usize, codes: Buffer<u16>, values: Vec<f64> },
    /// Plain values, `[feature * labels + label]`.
    Plain { labels: usize, values: Buffer<f64> },
}

impl LogProbs {
    /// `ln P(term | label)` of one feature and label.
    pub(crate) fn get(&self, feature: usize, label: usize) -> f64 {
        match self {
            Self::Coded { labels, codes, values } => {
                values[usize::from(codes[feature * labels + label]) * labels + label]
            }
            Self::Plain { labels, values } => values[feature * labels + label],
        }
    }

    /// Fetches what [`LogProbs::add_row`] reads for `row` (see [`prefetch`]): the rows are megabytes apart.
    pub(crate) fn prefetch(&self, row: &SparseRow) {
        match self {
            Self::Coded { labels, codes, .. } => {
                prefetch(row.iter().map(|&(feature, _)| &codes[feature as usize * labels]))
            }
            Self::Plain { labels, values } => {
                prefetch(row.iter().map(|&(feature, _)| &values[feature as usize * labels]))
            }
        }
    }

    /// Adds `value × ln P(term | label)` of every `(feature, value)` of `row` to `out[label]`.
    pub(crate) fn add_row(&self, row: &SparseRow, out: &mut [f64]) {
        self.prefetch(row);
        match self {
            Self::Coded { labels, codes, values } => {
                let n = *labels;
                for &(feature, value) in row {
                    let codes = &codes[feature as usize * n..][..n];
                    for (label, (o, &code)) in out.iter_mut().zip(codes).enumerate() {
                        *o += value * values[usize::from(code) * n + label];
                    }
                }
            }
            Self::Plain { labels, values } => {
                let n = *labels;
                for &(feature, value) in row {
                    for (o, p) in out.iter_mut().zip(&values[feature as usize * n..][..n]) {
                        *o += value * p;
                    }
                }
            }
        }
    }
}

/// `ln(count + alpha)` of every feature and label, set one at a time in any order, and turned into
/// [`LogProbs`] once each label's log total is known.
pub(crate) struct LnStore {
    ln: SmoothedLn,
    labels: usize,
    kind: Store,
}

/// Where the values are kept as they are set: as codes while the counts allow, plain after.
enum Store {
    /// The code of each count so far; code `k` below [`SmoothedLn::SMALL`] is the whole count `k`, and
    /// each other count gets the next code as it first comes (`others`, with its `ln(count + alpha)` in
    /// `other_ln`).
    Coded { codes: Buffer<u16>, others: FxHashMap<u64, u16>, other_ln: Vec<f64> },
    /// `ln(count + alpha)` of each count, `[feature * labels + label]`.
    Plain(Buffer<f64>),
}

impl LnStore {
    /// Room for `terms` features of `labels` labels, all of count zero.
    pub(crate) fn new(labels: usize, terms: usize, alpha: f64) -> Self {
        let codes = Buffer::zeroed(terms * labels);
        Self {
            ln: SmoothedLn::new(alpha),
            labels,
            kind: Store::Coded { codes, others: FxHashMap::default(), other_ln: Vec::new() },
        }
    }

    /// The `alpha` counts are smoothed with.
    pub(crate) fn alpha(&self) -> f64 {
        self.ln.alpha
    }

    /// Sets the counts under `label` of features `first`, `first + 1`, ..., one per value of `counts`.
    ///
    /// The common case, a small whole count that is its own code, runs in a loop of its own over the
    /// codes: setting the counts one call at a time, each checking how values are kept, took nearly twice
    /// as long (about 57 ms against 30 of a load of the 6.7 million counts of the 1M-sentence bench model).
    pub(crate) fn set_run(&mut self, first: usize, label: usize, counts: &[f64]) {
        let labels = self.labels;
        let mut done = 0;
        while done < counts.len() {
            if let Store::Coded { codes, .. } = &mut self.kind {
                let slots = codes[(first + done) * labels + label..].iter_mut().step_by(labels);
                for (slot, &count) in slots.zip(&counts[done..]) {
                    let Some(whole) = self.ln.small_whole(count) else { break };
                    *slot = whole as u16;
                    done += 1;
                }
                if done == counts.len() {
                    break;
                }
            }
            self.set_other((first + done) * labels + label, counts[done]);
            done += 1;
        }
    }

    /// A count, at index `at`, that is not small and whole, or any count once the values are plain.
    fn set_other(&mut self, at: usize, count: f64) {
        if let Store::Coded { codes, others, other_ln } = &mut self.kind {
            if let Some(code) = Self::code(&self.ln, others, other_ln, count) {
                codes[at] = code;
                return;
            }
            self.switch_to_plain();
        }
        if let Store::Plain(values) = &mut self.kind {
            values[at] = self.ln.ln(count);
        }
    }

    /// The code of a `count` that is not small and whole: the code it was given when it first came, else
    /// the next code, if any is left.
    fn code(ln: &SmoothedLn, others: &mut FxHashMap<u64, u16>, other_ln: &mut Vec<f64>, count: f64) -> Option<u16> {
        if let Some(&code) = others.get(&count.to_bits()) {
            return Some(code);
        }
        let code = u16::try_from(SmoothedLn::SMALL + other_ln.len()).ok()?;
        others.insert(count.to_bits(), code);
        other_ln.push(ln.ln(count));
        Some(code)
    }

    /// Trades the codes for plain values, once the counts have more distinct values than codes.
    #[cold]
    fn switch_to_plain(&mut self) {
        let Store::Coded { codes, other_ln, .. } = &self.kind else { return };
        let ln_of: Vec<f64> = ln_of_codes(&self.ln, other_ln).copied().collect();
        let values = Buffer::from_exact_iter(codes.iter().map(|&code| ln_of[usize::from(code)]));
        self.kind = Store::Plain(values);
    }

    /// The log-probabilities, given `ln Σ(count + alpha)` of every label (of none when there are no
    /// features).
    pub(crate) fn finish(self, log_totals: &[f64]) -> LogProbs {
        let labels = self.labels;
        match self.kind {
            Store::Coded { codes, other_ln, .. } => {
                let ln_of = ln_of_codes(&self.ln, &other_ln);
                let values = ln_of.flat_map(|ln| log_totals.iter().map(move |log_total| ln - log_total)).collect();
                LogProbs::Coded { labels, codes, values }
            }
            Store::Plain(mut values) => {
                for row in values.chunks_exact_mut(labels) {
                    for (p, log_total) in row.iter_mut().zip(log_totals) {
                        *p -= log_total;
                    }
                }
                LogProbs::Plain { labels, values }
            }
        }
    }
}

/// `ln(count + alpha)` of every code given so far, in code order: the small whole counts, then the others.
fn ln_of_codes<'a>(ln: &'a SmoothedLn, other_ln: &'a [f64]) -> impl Iterator<Item = &'a f64> {
    ln.small.iter().chain(other_ln)
}

/// `ln(count + alpha)`, with the values for the small whole counts that make up nearly all of a model
/// computed once: loading a large model takes millions of these, and a table lookup gives the very same
/// bits as the logarithm it stores.
struct SmoothedLn {
    alpha: f64,
    small: Vec<f64>,
}

impl SmoothedLn {
    /// Whole counts below this are looked up.
    const SMALL: usize = 1 << 12;

    fn new(alpha: f64) -> Self {
        Self { alpha, small: (0..Self::SMALL).map(|k| (k as f64 + alpha).ln()).collect() }
    }

    /// `count` as a whole number below [`SmoothedLn::SMALL`], if it is one (`-0.0` is zero).
    #[inline]
    fn small_whole(&self, count: f64) -> Option<usize> {
        // The range check first, both ends (`-0.0` passes): the conversion below is then a plain truncation,
        // without the clamping `as` does to negative numbers.
        if (0.0..Self::SMALL as f64).contains(&count) {
            let whole = count as u32;
            if f64::from(whole) == count {
                return Some(whole as usize);
            }
        }
        None
    }

    fn ln(&self, count: f64) -> f64 {
        match self.small_whole(count) {
            Some(whole) => self.small[whole],
            None => (count + self.alpha).ln(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoothed_log_table_gives_the_logarithms_bits() {
        for alpha in [0.3, 1.0, 1e-9] {
            let table = SmoothedLn::new(alpha);
            for count in [0.0, -0.0, 1.0, 2.5, 17.0, 4095.0, 4095.5, 4096.0, 1e6, 2f64.powi(52) + 1.0] {
                assert_eq!(table.ln(count).to_bits(), (count + alpha).ln().to_bits(), "ln({count} + {alpha})");
            }
        }
    }

    /// Stores `counts` (`[label][feature]`) and returns them finished, with made-up log totals.
    fn stored(counts: &[Vec<f64>], alpha: f64) -> (LogProbs, Vec<f64>) {
        let (labels, terms) = (counts.len(), counts[0].len());
        let mut store = LnStore::new(labels, terms, alpha);
        for (label, row) in counts.iter().enumerate() {
            // In two runs, the second starting mid-row, as the counts of a model file come in chunks.
            let (head, tail) = row.split_at(row.len() / 3);
            store.set_run(0, label, head);
            store.set_run(head.len(), label, tail);
        }
        let log_totals: Vec<f64> = (0..labels).map(|l| (l as f64 + 2.5).ln()).collect();
        (store.finish(&log_totals), log_totals)
    }

    /// Every value and every row sum of `probs` has the bits of plain smoothing of `counts`.
    fn assert_exact(probs: &LogProbs, counts: &[Vec<f64>], log_totals: &[f64], alpha: f64) {
        let labels = counts.len();
        for (label, row) in counts.iter().enumerate() {
            for (feature, &count) in row.iter().enumerate() {
                let expected = (count + alpha).ln() - log_totals[label];
                assert_eq!(probs.get(feature, label).to_bits(), expected.to_bits(), "{feature}, {label}: {count}");
            }
        }
        let row: SparseRow = vec![(0, 1.0), (3, 2.0), (counts[0].len() as u32 - 1, 0.5)];
        let mut out = vec![0.0; labels];
        probs.add_row(&row, &mut out);
        for (label, sum) in out.iter().enumerate() {
            let expected: f64 = row
                .iter()
                .fold(0.0, |s, &(f, v)| s + v * ((counts[label][f as usize] + alpha).ln() - log_totals[label]));
            assert_eq!(sum.to_bits(), expected.to_bits(), "label {label}");
        }
    }

    #[test]
    fn coded_values_have_the_bits_of_plain_smoothing() {
        let alpha = 0.37;
        let counts = vec![
            vec![0.0, 1.0, 2.0, 4095.0, 4096.0, 1e9, 2.5, -0.0],
            vec![3.0, 0.0, 0.0, 1e9, 7.25, 4096.0, 0.0, 1.0],
            vec![0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 2.5],
        ];
        let (probs, log_totals) = stored(&counts, alpha);
        assert!(matches!(probs, LogProbs::Coded { .. }));
        assert_exact(&probs, &counts, &log_totals, alpha);
    }

    #[test]
    fn counts_with_more_distinct_values_than_codes_fall_back_to_plain_values_exactly() {
        let alpha = 1.0;
        // 70,000 distinct fractional counts under the first label: more than 2^16 - 4,096 codes.
        let terms = 70_000;
        let counts =
            vec![(0..terms).map(|i| i as f64 + 0.5).collect::<Vec<_>>(), (0..terms).map(|i| (i % 5) as f64).collect()];
        let (probs, log_totals) = stored(&counts, alpha);
        assert!(matches!(probs, LogProbs::Plain { .. }));
        assert_exact(&probs, &counts, &log_totals, alpha);
    }
}
