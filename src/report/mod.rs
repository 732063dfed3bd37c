//! The report stage: sentence labels become article and group (outlet) scores with uncertainty.
//!
//! Per article: sentence count, each label's share of sentences (hard counts) and mean posterior (soft
//! share), the dominant narrative, the narrative intensity (share of sentences not labelled with the
//! neutral label) and the sentences that carry each narrative most strongly. Per group of articles (an
//! outlet, an outlet type, any metadata column): shares pooled over sentences and averaged over articles,
//! each with a seeded bootstrap interval over articles, and a permutation test over articles for every
//! pair of groups ([`stats`]). Groups with fewer than `min_articles` articles are flagged, not hidden.
//! Articles are summarised as they stream past (the parts of a long article add up) and handed back one by
//! one as they end, to be written out at once; the builder keeps only each article's label counts (for the
//! group statistics) and the first [`ReportOptions::shown_articles`] summaries, so memory grows by a few
//! dozen bytes per article and not at all per sentence. The statistics, at the end, work on a copy of
//! those counts as `f64` shares (72 bytes an article with four labels), on every thread.

pub mod render;
pub mod stats;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde::Serialize;

use crate::classify::Classified;
use crate::input::Document;
use stats::{Blocked, Bootstrap, GroupCounts, GroupDifference, Interval, PermutationTest, PreparedGroup};

/// What the report's statistics tell of their progress (a report of many groups can spend a while on
/// them): their number of blocks of random draws, once, then each block as it is done, from any thread.
pub trait StatisticsProgress: Sync {
    /// The statistics have `blocks` blocks in all.
    fn start(&self, blocks: usize);
    /// One more block is done.
    fn block_done(&self);
}

/// No one is told.
impl StatisticsProgress for () {
    fn start(&self, _: usize) {}
    fn block_done(&self) {}
}

/// Report options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportOptions {
    /// Metadata column whose values form the groups (`outlet`, `outlet_type`, ...).
    pub group_by: String,
    /// Bootstrap resamples for the intervals.
    pub resamples: usize,
    /// Permutations for the group-difference tests.
    pub permutations: usize,
    /// Seed of the bootstrap and the permutations.
    pub seed: u64,
    /// Groups with fewer articles are flagged as too small for confident numbers.
    pub min_articles: usize,
    /// Sentences quoted per narrative per article.
    pub top: usize,
    /// The label that means "no narrative" (excluded from intensity and quoted evidence).
    pub neutral_label: String,
    /// Article summaries kept whole for tables, charts and report.json (all are handed out as they end).
    pub shown_articles: usize,
    /// Pairs of groups are compared only when there are at most this many groups: the pairs grow with the
    /// square of the groups, and grouping by a column with a value per article or per day would make the
    /// tests take hours.
    pub compared_groups: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            group_by: "outlet".into(),
            resamples: 1000,
            permutations: 2000,
            seed: 1,
            min_articles: 3,
            top: 3,
            neutral_label: "neutral".into(),
            shown_articles: 50,
            compared_groups: 100,
        }
    }
}

/// A sentence quoted as evidence of a narrative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The narrative.
    pub label: String,
    /// Position in the article, from 1.
    pub sentence: usize,
    /// The posterior of the narrative for this sentence.
    pub probability: f64,
    /// The sentence.
    pub text: String,
}

/// One article's narrative mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleSummary {
    /// Document id (file path or `id` column).
    pub doc: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Its group (value of the grouping column; `(none)` when missing).
    pub group: String,
    /// Metadata columns.
    pub meta: BTreeMap<String, String>,
    /// Sentences.
    pub sentences: u64,
    /// Sentences per label (model label order).
    pub counts: Vec<u64>,
    /// Share of sentences per label (hard counts).
    pub shares: Vec<f64>,
    /// Mean posterior per label (soft shares).
    pub soft_shares: Vec<f64>,
    /// The label with the most sentences (ties: the soft share decides, then label order).
    pub dominant: String,
    /// Share of sentences not labelled with the neutral label.
    pub intensity: f64,
    /// For each narrative present, the sentences that carry it most strongly.
    pub evidence: Vec<Evidence>,
}

/// One group's narrative mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// The group's value.
    pub group: String,
    /// Articles in the group.
    pub articles: usize,
    /// Sentences in the group.
    pub sentences: u64,
    /// Per label: share of all the group's sentences, with a bootstrap interval over articles.
    pub pooled: Vec<Interval>,
    /// Per label: mean of the articles' shares, with a bootstrap interval over articles.
    pub mean_of_articles: Vec<Interval>,
    /// Fewer articles than `min_articles`: the intervals are not to be trusted.
    pub too_few_articles: bool,
}

/// Whether two groups' mixes differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupComparison {
    /// First group.
    pub a: String,
    /// Second group.
    pub b: String,
    /// Test results and effect sizes.
    pub difference: GroupDifference,
}

/// The model a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The model file.
    pub path: String,
    /// BLAKE3 of the model file's bytes.
    pub blake3: String,
    /// Its training options.
    pub options: String,
    /// BLAKE3 of its training data.
    pub training_data: String,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The model's labels; every per-label vector follows this order.
    pub labels: Vec<String>,
    /// The model used.
    pub model: ModelSummary,
    /// The options used.
    pub options: ReportOptions,
    /// The first [`ReportOptions::shown_articles`] articles, in input order.
    pub articles: Vec<ArticleSummary>,
    /// Articles in all.
    pub article_count: usize,
    /// Sentences in all.
    pub sentences: u64,
    /// Groups sorted by name.
    pub groups: Vec<GroupSummary>,
    /// Every pair of groups, in name order (none when there are more groups than
    /// [`ReportOptions::compared_groups`]: see [`Report::comparisons_skipped`]).
    pub comparisons: Vec<GroupComparison>,
}

impl Report {
    /// Whether the groups were too many to compare in pairs.
    pub fn comparisons_skipped(&self) -> bool {
        self.groups.len() > self.options.compared_groups
    }
}

/// Builds a report from classified documents as they stream past.
#[derive(Debug)]
pub struct ReportBuilder {
    labels: Vec<String>,
    options: ReportOptions,
    neutral: Option<usize>,
    /// The first articles, whole.
    shown: Vec<ArticleSummary>,
    /// Every article's label counts, by group.
    groups: BTreeMap<String, GroupCounts>,
    article_count: usize,
    sentences: u64,
    pending: Option<Pending>,
}

/// The article being read: raw sums, so that the parts of a long article add up.
#[derive(Debug)]
struct Pending {
    doc: String,
    title: Option<String>,
    group: String,
    meta: BTreeMap<String, String>,
    counts: Vec<u64>,
    soft: Vec<f64>,
    /// Per label, the strongest sentences so far, strongest first.
    evidence: Vec<Vec<Evidence>>,
}

impl ReportBuilder {
    /// A builder for a model's `labels`.
    pub fn new(labels: &[String], options: ReportOptions) -> Self {
        let neutral = labels.iter().position(|l| *l == options.neutral_label);
        Self {
            labels: labels.to_vec(),
            options,
            neutral,
            shown: Vec::new(),
            groups: BTreeMap::new(),
            article_count: 0,
            sentences: 0,
            pending: None,
        }
    }

    /// Adds one classified document (or the next part of the same long article); `meta` overrides the
    /// document's own metadata. Returns the article this document's start has ended, if any.
    pub fn add(
        &mut self,
        doc: &Document,
        rows: &[Classified<'_>],
        meta: Option<&BTreeMap<String, String>>,
    ) -> Option<ArticleSummary> {
        let continues = doc.part > 0 && self.pending.as_ref().is_some_and(|p| p.doc == doc.id);
        let mut ended = None;
        if !continues {
            ended = self.end();
            let mut all_meta = doc.meta.clone();
            if let Some(extra) = meta {
                all_meta.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let title = all_meta.get("title").cloned().filter(|t| !t.is_empty()).or_else(|| doc.title.clone());
            let group = all_meta
                .get(&self.options.group_by)
                .cloned()
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| "(none)".into());
            let n = self.labels.len();
            self.pending = Some(Pending {
                doc: doc.id.clone(),
                title,
                group,
                meta: all_meta,
                counts: vec![0; n],
                soft: vec![0.0; n],
                evidence: vec![Vec::new(); n],
            });
        }
        let pending = self.pending.as_mut().expect("set above");
        for row in rows {
            let l = row.prediction.label;
            pending.counts[l] += 1;
            for (s, p) in pending.soft.iter_mut().zip(&row.prediction.probabilities) {
                *s += p;
            }
            if Some(l) != self.neutral && self.options.top > 0 {
                let kept = &mut pending.evidence[l];
                kept.push(Evidence {
                    label: self.labels[l].clone(),
                    sentence: row.sentence,
                    probability: row.prediction.probabilities[l],
                    text: row.text.to_owned(),
                });
                kept.sort_by(|a, b| b.probability.total_cmp(&a.probability).then(a.sentence.cmp(&b.sentence)));
                kept.truncate(self.options.top);
            }
        }
        ended
    }

    /// Ends the article being read (call it after the last document) and returns its summary.
    pub fn end(&mut self) -> Option<ArticleSummary> {
        let p = self.pending.take()?;
        let n = self.labels.len();
        let total: u64 = p.counts.iter().sum();
        let share = |x: f64| if total == 0 { 0.0 } else { x / total as f64 };
        let shares: Vec<f64> = p.counts.iter().map(|&c| share(c as f64)).collect();
        let soft_shares: Vec<f64> = p.soft.iter().map(|&s| share(s)).collect();
        let dominant = (0..n)
            .rev()
            .max_by(|&a, &b| p.counts[a].cmp(&p.counts[b]).then(soft_shares[a].total_cmp(&soft_shares[b])))
            .map_or_else(String::new, |i| self.labels[i].clone());
        let intensity = if total == 0 { 0.0 } else { 1.0 - self.neutral.map_or(0.0, |i| shares[i]) };
        self.groups.entry(p.group.clone()).or_default().push(&p.counts);
        self.article_count += 1;
        self.sentences += total;
        let article = ArticleSummary {
            doc: p.doc,
            title: p.title,
            group: p.group,
            meta: p.meta,
            sentences: total,
            counts: p.counts,
            shares,
            soft_shares,
            dominant,
            intensity,
            evidence: p.evidence.into_iter().flatten().collect(),
        };
        if self.shown.len() < self.options.shown_articles {
            self.shown.push(article.clone());
        }
        Some(article)
    }

    /// Computes the group statistics on up to `threads` threads (the same on any number), telling
    /// `progress` how far they have got, and returns the report. An article still being read is ended here
    /// (call [`ReportBuilder::end`] first to see it).
    pub fn finish(mut self, model: ModelSummary, threads: NonZeroUsize, progress: &dyn StatisticsProgress) -> Report {
        self.end();
        let n = self.labels.len();
        let o = &self.options;
        let prepared: Vec<PreparedGroup> =
            self.groups.values().map(|articles| PreparedGroup::new(articles, n)).collect();
        let bootstraps: Vec<Bootstrap> =
            prepared.iter().map(|group| Bootstrap::new(group, o.resamples, o.seed)).collect();
        let compared = if prepared.len() <= o.compared_groups { prepared.len() } else { 0 };
        let pairs: Vec<(usize, usize)> = (0..compared).flat_map(|a| (a + 1..compared).map(move |b| (a, b))).collect();
        let tests: Vec<PermutationTest> = pairs
            .iter()
            .map(|&(a, b)| PermutationTest::new(&prepared[a], &prepared[b], o.permutations, o.seed))
            .collect();
        progress.start(bootstraps.iter().map(Blocked::blocks).chain(tests.iter().map(Blocked::blocks)).sum());
        let block_done = || progress.block_done();
        let groups: Vec<GroupSummary> = self
            .groups
            .iter()
            .zip(stats::run_all(&bootstraps, threads, &block_done))
            .map(|((name, articles), shares)| GroupSummary {
                group: name.clone(),
                articles: articles.len(),
                sentences: articles.sentences(),
                pooled: shares.pooled,
                mean_of_articles: shares.mean_of_articles,
                too_few_articles: articles.len() < o.min_articles,
            })
            .collect();
        let names: Vec<&String> = self.groups.keys().collect();
        let comparisons = pairs
            .iter()
            .zip(stats::run_all(&tests, threads, &block_done))
            .map(|(&(a, b), difference)| GroupComparison { a: names[a].clone(), b: names[b].clone(), difference })
            .collect();
        Report {
            labels: self.labels,
            model,
            options: self.options,
            articles: self.shown,
            article_count: self.article_count,
            sentences: self.sentences,
            groups,
            comparisons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Prediction;
    use crate::text::Span;

    #[test]
    fn articles_are_handed_back_as_they_end_and_only_the_first_are_kept() {
        let labels: Vec<String> = ["a", "neutral"].map(String::from).to_vec();
        let options = ReportOptions { shown_articles: 2, resamples: 10, permutations: 10, ..ReportOptions::default() };
        let mut builder = ReportBuilder::new(&labels, options);
        let prediction = Prediction { label: 0, probabilities: [0.9, 0.1].into_iter().collect() };
        let mut ended = Vec::new();
        for i in 0..5 {
            let doc = Document {
                id: format!("d{i}"),
                text: "One. Two.".into(),
                meta: [("outlet".to_owned(), ["x", "y"][i % 2].to_owned())].into(),
                ..Document::default()
            };
            let row = |n| Classified { sentence: n, span: Span::new(0, 4), text: "One.", prediction: &prediction };
            // Two parts of article d4: the second continues it.
            ended.extend(builder.add(&doc, &[row(1), row(2)], None));
            if i == 4 {
                let part = Document { part: 1, ..doc };
                assert!(builder.add(&part, &[row(3)], None).is_none(), "a continued article has not ended");
            }
        }
        ended.extend(builder.end());
        assert_eq!(ended.iter().map(|a| a.doc.as_str()).collect::<Vec<_>>(), ["d0", "d1", "d2", "d3", "d4"]);
        assert_eq!(ended[4].sentences, 3);
        let model = ModelSummary {
            path: "m".into(),
            blake3: "0".repeat(64),
            options: String::new(),
            training_data: String::new(),
        };
        let report = builder.finish(model, NonZeroUsize::MIN, &());
        assert_eq!((report.articles.len(), report.article_count, report.sentences), (2, 5, 11));
        assert_eq!(report.groups.iter().map(|g| g.articles).collect::<Vec<_>>(), [3, 2]);
    }
}
