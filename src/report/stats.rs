//! Statistics for the report stage: turning per-article sentence-label counts into article and group
//! (outlet) narrative shares with uncertainty, and testing whether two groups' narrative mixes differ.
//!
//! Why these choices:
//!
//! * Two different "shares" answer two different questions. The *pooled* share (all sentences of a group
//!   counted together) weights long articles more; the *mean article share* (each article's own mix,
//!   averaged) gives every article one vote. The report shows both, because they can disagree.
//! * Sentences within one article are not independent draws (an article about a strike talks about the
//!   strike all the way through), so uncertainty is measured by resampling or permuting whole
//!   **articles**: a percentile bootstrap for intervals, a permutation test for group differences. The
//!   classic chi-square test on the pooled sentence table is also given, for readers used to it, but it
//!   treats sentences as independent and so overstates significance.
//! * Everything is pure and deterministic for a given seed (ChaCha8), so reports are reproducible. The
//!   random work is cut into blocks with random streams of their own, which any number of threads can
//!   run ([`run_all`]) with the same result.
//!
//! Label counts are read for labels `0..n_labels` only: a count vector shorter than `n_labels` is read
//! as zero for the missing labels, and entries at or past `n_labels` are ignored (they count towards
//! neither a label nor the article's total), so the shares of a non-empty article always sum to 1.
//! Articles with no sentences (under that reading) carry no information about the mix: they add nothing
//! to pooled shares, are skipped by mean article shares, and are left out of the bootstrap and the
//! permutation test. None of the functions here panic or return NaN for empty input; what each returns
//! then is documented on it. Only [`chi_square_sf`] passes a NaN argument through as NaN.

use std::num::NonZeroUsize;
use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::parallel;

/// The sentence-label counts of a group's articles, one row per article (index = label, in the model's
/// sorted label order), stored flat at 4 bytes a count: a report keeps these for every article, so they
/// must stay small.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupCounts {
    counts: Vec<u32>,
    /// Where each article's row ends in `counts`.
    ends: Vec<usize>,
}

impl GroupCounts {
    /// Adds an article's counts (each saturating at `u32::MAX`, far beyond any article).
    pub fn push(&mut self, counts: &[u64]) {
        self.counts.extend(counts.iter().map(|&c| u32::try_from(c).unwrap_or(u32::MAX)));
        self.ends.push(self.counts.len());
    }

    /// Number of articles.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no articles.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every article's counts, in the order added.
    pub fn rows(&self) -> impl Iterator<Item = &[u32]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.counts[start..end])
    }

    /// Number of sentences in all the articles.
    pub fn sentences(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }
}

impl<R: AsRef<[u64]>> FromIterator<R> for GroupCounts {
    fn from_iter<I: IntoIterator<Item = R>>(rows: I) -> Self {
        let mut group = Self::default();
        for row in rows {
            group.push(row.as_ref());
        }
        group
    }
}

/// An estimate with a 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The point estimate, computed on the data as observed.
    pub estimate: f64,
    /// Lower end of the 95% interval (2.5th percentile of the bootstrap distribution).
    pub low: f64,
    /// Upper end of the 95% interval (97.5th percentile of the bootstrap distribution).
    pub high: f64,
}

impl Interval {
    /// An interval of zero width at `value`.
    fn point(value: f64) -> Self {
        Self { estimate: value, low: value, high: value }
    }
}

/// A group's narrative shares per label, each with a bootstrap 95% interval (see [`bootstrap_shares`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupShares {
    /// Per label: the share of the group's sentences with that label (see [`pooled_shares`]).
    pub pooled: Vec<Interval>,
    /// Per label: the mean over the group's articles of each article's share (see [`mean_article_shares`]).
    pub mean_of_articles: Vec<Interval>,
}

/// How different two groups' narrative mixes are, and how sure we can be that they differ
/// (see [`compare_groups`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupDifference {
    /// Total variation distance between the groups' mean article shares, `0.5 * sum_l |a_l - b_l|`:
    /// the effect size, from 0 (same mix) to 1 (no label in common).
    pub tvd: f64,
    /// p-value of the permutation test over articles, with the add-one correction
    /// `(1 + #{permuted statistic >= observed}) / (1 + permutations)`, so never 0.
    pub permutation_p: f64,
    /// Number of random permutations run (0 when a group had no article with sentences).
    pub permutations: usize,
    /// Pearson chi-square statistic of the pooled 2 x L sentence-count table (no continuity correction).
    /// Treats sentences as independent, so it overstates significance: prefer `permutation_p`.
    pub chi_square: f64,
    /// Degrees of freedom of the chi-square test, after dropping all-zero rows and columns:
    /// (rows kept - 1) * (labels kept - 1), i.e. the number of labels with any count - 1 when both groups
    /// have sentences.
    pub degrees_of_freedom: usize,
    /// p-value of the chi-square test (survival function at `chi_square`); 1 when there are no degrees of
    /// freedom. Overstates significance for the same reason as `chi_square`.
    pub chi_square_p: f64,
    /// Cramér's V of the pooled table, `sqrt(chi_square / (n * (min(rows, columns) - 1)))`, from 0 to 1;
    /// 0 when the table has fewer than two rows or columns left.
    pub cramers_v: f64,
}

impl GroupDifference {
    /// The result when a group has no articles with sentences: no distance, no evidence of a difference.
    pub const NO_EVIDENCE: Self = Self {
        tvd: 0.0,
        permutation_p: 1.0,
        permutations: 0,
        chi_square: 0.0,
        degrees_of_freedom: 0,
        chi_square_p: 1.0,
        cramers_v: 0.0,
    };
}

/// Resamples of a bootstrap, or permutations of a permutation test, that one thread runs at a time: the
/// unit that [`run_all`] hands out. Each block draws from a random stream of its own (ChaCha8 seeded with
/// the seed, the block's number as its stream), so a result does not depend on how many threads ran it.
pub const BLOCK: usize = 250;

/// The random numbers of block `block` of a statistic seeded with `seed`.
fn block_rng(seed: u64, block: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(block as u64);
    rng
}

/// The resamples or permutations, of `total`, that block `block` runs.
fn block_range(total: usize, block: usize) -> Range<usize> {
    block * BLOCK..((block + 1) * BLOCK).min(total)
}

/// A statistic whose random work is cut into independent [`BLOCK`]s.
pub trait Blocked: Sync {
    /// What one block finds.
    type Output: Send;
    /// The statistic, from what every block found.
    type Result;

    /// How many blocks there are (none when there is nothing random to do).
    fn blocks(&self) -> usize;

    /// Runs block `block`.
    fn run(&self, block: usize) -> Self::Output;

    /// The statistic, from the output of every block in block order.
    fn result(&self, outputs: Vec<Self::Output>) -> Self::Result;
}

/// Statistics whose blocks' outputs are held at once by [`run_all`]: enough blocks to keep every thread
/// busy, and a bound on memory however many groups a report has (a bootstrap's outputs take 64 KB).
const AT_ONCE: usize = 64;

/// Runs every block of every statistic in `all` on up to `threads` threads, taking blocks as threads come
/// free (a report has a bootstrap per group and a permutation test per pair of groups, of any sizes), and
/// returns the statistics in order: the same on any number of threads. `block_done` is called after each
/// block, on the thread that ran it.
pub fn run_all<B: Blocked>(all: &[B], threads: NonZeroUsize, block_done: &(dyn Fn() + Sync)) -> Vec<B::Result> {
    let mut results = Vec::with_capacity(all.len());
    for some in all.chunks(AT_ONCE) {
        let jobs: Vec<(usize, usize)> =
            some.iter().enumerate().flat_map(|(stat, b)| (0..b.blocks()).map(move |block| (stat, block))).collect();
        let mut outputs = parallel::map_jobs(threads, jobs.len(), |job| {
            let output = some[jobs[job].0].run(jobs[job].1);
            block_done();
            output
        })
        .into_iter();
        results.extend(some.iter().map(|stat| stat.result(outputs.by_ref().take(stat.blocks()).collect())));
    }
    results
}

/// Values summed at once by [`sum_rows`]: the rows of a [`PreparedGroup`] are padded with zeros to a
/// multiple of this, so a sum over many rows keeps its running totals in registers.
const LANES: usize = 4;

/// Sums the rows `rows` (repeats allowed) of `matrix`, row-major with `width` columns (a multiple of
/// [`LANES`]), into `out` (`width` long), adding the rows in the order given.
fn sum_rows(matrix: &[f64], width: usize, rows: &[u32], out: &mut [f64]) {
    for (lane, out) in out.chunks_exact_mut(LANES).enumerate() {
        let mut sums = [0.0; LANES];
        for &row in rows {
            let values = &matrix[row as usize * width + lane * LANES..][..LANES];
            for (sum, value) in sums.iter_mut().zip(values) {
                *sum += value;
            }
        }
        out.copy_from_slice(&sums);
    }
}

/// The articles of a group that have sentences, as flat row-major `f64` matrices (one row per article,
/// `n_labels` columns padded with zeros to `width`), with each article's total and shares precomputed:
/// made once per group and used by its bootstrap and by every permutation test it is in.
#[derive(Debug)]
pub struct PreparedGroup {
    n_labels: usize,
    width: usize,
    counts: Vec<f64>,
    totals: Vec<f64>,
    shares: Vec<f64>,
}

impl PreparedGroup {
    /// The articles of `articles` that have sentences, read for labels `0..n_labels`.
    pub fn new(articles: &GroupCounts, n_labels: usize) -> Self {
        let width = n_labels.next_multiple_of(LANES);
        let mut prepared = Self { n_labels, width, counts: Vec::new(), totals: Vec::new(), shares: Vec::new() };
        for article in articles.rows() {
            let row: Vec<u64> =
                (0..width).map(|l| article.get(l).filter(|_| l < n_labels).map_or(0, |&c| u64::from(c))).collect();
            let total: u64 = row.iter().sum();
            if total == 0 {
                continue;
            }
            let total = total as f64;
            prepared.totals.push(total);
            for &count in &row {
                let count = count as f64;
                prepared.counts.push(count);
                prepared.shares.push(count / total);
            }
        }
        prepared
    }

    /// Number of articles with sentences.
    fn len(&self) -> usize {
        self.totals.len()
    }

    /// Every article, in order.
    fn all(&self) -> Vec<u32> {
        (0..self.len() as u32).collect()
    }

    /// Pooled shares and mean article shares of the articles `rows` (repeats allowed), written into
    /// `pooled` and `mean` (each `width` long). Both are all zero when `rows` is empty.
    fn shares_over(&self, rows: &[u32], pooled: &mut [f64], mean: &mut [f64]) {
        if rows.is_empty() {
            pooled.fill(0.0);
            mean.fill(0.0);
            return;
        }
        sum_rows(&self.counts, self.width, rows, pooled);
        sum_rows(&self.shares, self.width, rows, mean);
        let total: f64 = rows.iter().map(|&row| self.totals[row as usize]).sum();
        for p in pooled.iter_mut() {
            *p /= total;
        }
        let n = rows.len() as f64;
        for m in mean.iter_mut() {
            *m /= n;
        }
    }

    /// (pooled shares, mean article shares) over all the articles, `n_labels` each.
    fn estimates(&self) -> (Vec<f64>, Vec<f64>) {
        let mut pooled = vec![0.0; self.width];
        let mut mean = vec![0.0; self.width];
        self.shares_over(&self.all(), &mut pooled, &mut mean);
        pooled.truncate(self.n_labels);
        mean.truncate(self.n_labels);
        (pooled, mean)
    }

    /// The group's sentences per label, `n_labels` of them.
    fn column_sums(&self) -> Vec<f64> {
        let mut sums = vec![0.0; self.width];
        sum_rows(&self.counts, self.width, &self.all(), &mut sums);
        sums.truncate(self.n_labels);
        sums
    }
}

/// Per label: share pooled over sentences (sum of counts / sum of totals) of a group of articles.
///
/// Long articles weigh more than short ones. Returns `n_labels` zeros when the group has no sentences;
/// otherwise the shares sum to 1.
pub fn pooled_shares(articles: &GroupCounts, n_labels: usize) -> Vec<f64> {
    PreparedGroup::new(articles, n_labels).estimates().0
}

/// Per label: mean over articles of each article's share (articles with no sentences skipped).
///
/// Every article has the same weight whatever its length. Returns `n_labels` zeros when no article has
/// sentences; otherwise the shares sum to 1.
pub fn mean_article_shares(articles: &GroupCounts, n_labels: usize) -> Vec<f64> {
    PreparedGroup::new(articles, n_labels).estimates().1
}

/// Percentile bootstrap over articles (resample articles with replacement, `resamples` times, seeded with
/// `seed`: see [`BLOCK`]), 95% interval (2.5th and 97.5th percentiles, linear interpolation) for both
/// pooled shares and mean article shares, per label. Deterministic for a given seed. [`Bootstrap`] is the
/// same, run on threads.
///
/// The estimates are [`pooled_shares`] and [`mean_article_shares`] of `articles`. Only the articles with
/// sentences are resampled (each resample draws as many of them as there are), since empty ones change
/// neither statistic.
///
/// The interval only reflects article-to-article variation, and it can do so only when there are
/// several articles: with **one** article (with sentences) every resample is that article and the
/// interval collapses to the estimate, which is not certainty. Callers should flag small groups. The
/// interval also collapses when `resamples` is 0, and when no article has sentences, where every
/// estimate and bound is 0.
pub fn bootstrap_shares(articles: &GroupCounts, n_labels: usize, resamples: usize, seed: u64) -> GroupShares {
    let group = PreparedGroup::new(articles, n_labels);
    run_all(&[Bootstrap::new(&group, resamples, seed)], NonZeroUsize::MIN, &|| {}).remove(0)
}

/// The bootstrap of [`bootstrap_shares`] over a prepared group, block by block.
#[derive(Debug)]
pub struct Bootstrap<'g> {
    group: &'g PreparedGroup,
    resamples: usize,
    seed: u64,
}

impl<'g> Bootstrap<'g> {
    /// `resamples` resamples of `group`'s articles, seeded with `seed`.
    pub fn new(group: &'g PreparedGroup, resamples: usize, seed: u64) -> Self {
        Self { group, resamples, seed }
    }
}

impl Blocked for Bootstrap<'_> {
    /// Every resample's pooled shares, then its mean article shares.
    type Output = Vec<f64>;
    type Result = GroupShares;

    fn blocks(&self) -> usize {
        if self.group.len() == 0 { 0 } else { self.resamples.div_ceil(BLOCK) }
    }

    fn run(&self, block: usize) -> Vec<f64> {
        let (n, n_labels, width) = (self.group.len(), self.group.n_labels, self.group.width);
        let range = block_range(self.resamples, block);
        let mut rng = block_rng(self.seed, block);
        let mut out = Vec::with_capacity(range.len() * 2 * n_labels);
        let mut draws = vec![0u32; n];
        let (mut pooled, mut mean) = (vec![0.0; width], vec![0.0; width]);
        for _ in range {
            for d in draws.iter_mut() {
                *d = rng.random_range(0..n as u32);
            }
            self.group.shares_over(&draws, &mut pooled, &mut mean);
            out.extend_from_slice(&pooled[..n_labels]);
            out.extend_from_slice(&mean[..n_labels]);
        }
        out
    }

    fn result(&self, outputs: Vec<Vec<f64>>) -> GroupShares {
        let (pooled, mean) = self.group.estimates();
        let n_labels = self.group.n_labels;
        let resamples: Vec<&[f64]> = outputs.iter().flat_map(|block| block.chunks(2 * n_labels)).collect();
        if resamples.is_empty() {
            return GroupShares {
                pooled: pooled.into_iter().map(Interval::point).collect(),
                mean_of_articles: mean.into_iter().map(Interval::point).collect(),
            };
        }
        let mut values = vec![0.0; resamples.len()];
        let mut interval = |estimate: f64, column: usize| {
            for (value, resample) in values.iter_mut().zip(&resamples) {
                *value = resample[column];
            }
            values.sort_by(f64::total_cmp);
            Interval { estimate, low: percentile(&values, 0.025), high: percentile(&values, 0.975) }
        };
        let pooled = pooled.into_iter().enumerate().map(|(l, estimate)| interval(estimate, l)).collect();
        let mean = mean.into_iter().enumerate().map(|(l, estimate)| interval(estimate, n_labels + l)).collect();
        GroupShares { pooled, mean_of_articles: mean }
    }
}

/// The `q` quantile (0..=1) of sorted, non-empty `values`, interpolating linearly between the two
/// nearest ranks (NumPy's default `linear` method).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// Total variation distance between two share vectors: `0.5 * sum |a_l - b_l|`.
fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// Difference test between two groups' narrative mixes: a permutation test over ARTICLES (sentences in one
/// article are not independent). Statistic: total variation distance between the two groups' mean article
/// shares (0.5 * sum |a_l - b_l|), which is also the reported effect size (0 = same mix, 1 = disjoint).
/// p-value = (1 + #permutations with statistic >= observed - 1e-12) / (1 + permutations), seeded with
/// `seed` (see [`BLOCK`]). [`PermutationTest`] is the same, run on threads.
///
/// Each permutation reassigns the articles with sentences of both groups at random to two groups of the
/// original sizes (drawing the smaller group's articles, the rest forming the other).
///
/// Also returns the chi-square test of the pooled 2 x L sentence-count table (no continuity correction;
/// rows and columns with a zero total are dropped; degrees of freedom = (number of labels with any
/// count) minus 1; p-value from [`chi_square_sf`]) and Cramér's V, for readers used to them. **Note:** the
/// chi-square test treats every sentence as an independent observation, which they are not, so its
/// p-value overstates significance (often by orders of magnitude); report `permutation_p` as the test.
///
/// When either group has no article with sentences there is nothing to compare: the result is
/// `tvd = 0`, `permutation_p = 1` with `permutations = 0`, `chi_square = 0`, `degrees_of_freedom = 0`,
/// `chi_square_p = 1` and `cramers_v = 0`.
pub fn compare_groups(
    a: &GroupCounts,
    b: &GroupCounts,
    n_labels: usize,
    permutations: usize,
    seed: u64,
) -> GroupDifference {
    let (a, b) = (PreparedGroup::new(a, n_labels), PreparedGroup::new(b, n_labels));
    run_all(&[PermutationTest::new(&a, &b, permutations, seed)], NonZeroUsize::MIN, &|| {}).remove(0)
}

/// The test of [`compare_groups`] between two prepared groups, block by block.
#[derive(Debug)]
pub struct PermutationTest<'g> {
    /// The group with fewer articles (the one each permutation draws) and the other.
    smaller: &'g PreparedGroup,
    larger: &'g PreparedGroup,
    /// The observed statistic.
    tvd: f64,
    permutations: usize,
    seed: u64,
}

impl<'g> PermutationTest<'g> {
    /// `permutations` permutations of the articles of `a` and `b` (prepared with the same labels), seeded
    /// with `seed`.
    pub fn new(a: &'g PreparedGroup, b: &'g PreparedGroup, permutations: usize, seed: u64) -> Self {
        let tvd = total_variation(&a.estimates().1, &b.estimates().1);
        let (smaller, larger) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        Self { smaller, larger, tvd, permutations, seed }
    }

    fn is_empty(&self) -> bool {
        self.smaller.len() == 0
    }
}

impl Blocked for PermutationTest<'_> {
    /// Permutations whose statistic is at least the observed one.
    type Output = usize;
    type Result = GroupDifference;

    fn blocks(&self) -> usize {
        if self.is_empty() { 0 } else { self.permutations.div_ceil(BLOCK) }
    }

    fn run(&self, block: usize) -> usize {
        let width = self.smaller.width;
        let (n_small, n_large) = (self.smaller.len(), self.larger.len());
        let n = (n_small + n_large) as u32;
        // Every article's shares, the smaller group's first, and their sum: copied for each block (a
        // millisecond at most) rather than held by each test, as tests held at once would hold every
        // pair's articles.
        let shares = [&self.smaller.shares[..], &self.larger.shares].concat();
        let mut order: Vec<u32> = (0..n).collect();
        let mut sum_all = vec![0.0; width];
        sum_rows(&shares, width, &order, &mut sum_all);
        let (mut drawn, mut rest) = (vec![0.0; width], vec![0.0; width]);
        let mut rng = block_rng(self.seed, block);
        let mut at_least = 0;
        for _ in block_range(self.permutations, block) {
            // A partial Fisher-Yates shuffle: the first n_small entries become a uniform random subset.
            for i in 0..n_small {
                order.swap(i, rng.random_range(i as u32..n) as usize);
            }
            sum_rows(&shares, width, &order[..n_small], &mut drawn);
            for ((r, d), total) in rest.iter_mut().zip(drawn.iter_mut()).zip(&sum_all) {
                *r = (total - *d) / n_large as f64;
                *d /= n_small as f64;
            }
            if total_variation(&drawn, &rest) >= self.tvd - 1e-12 {
                at_least += 1;
            }
        }
        at_least
    }

    fn result(&self, outputs: Vec<usize>) -> GroupDifference {
        if self.is_empty() {
            return GroupDifference::NO_EVIDENCE;
        }
        let at_least: usize = outputs.iter().sum();
        let permutation_p = (1 + at_least) as f64 / (1 + self.permutations) as f64;
        // Chi-square on the pooled 2 x L sentence-count table.
        let table = [self.smaller.column_sums(), self.larger.column_sums()];
        let (chi_square, degrees_of_freedom, cramers_v) = chi_square_table(&table);
        let chi_square_p = chi_square_sf(chi_square, degrees_of_freedom);
        GroupDifference {
            tvd: self.tvd,
            permutation_p,
            permutations: self.permutations,
            chi_square,
            degrees_of_freedom,
            chi_square_p,
            cramers_v,
        }
    }
}

/// Pearson chi-square test of independence on a contingency table of counts (rows of equal length),
/// after dropping rows and columns whose total is 0. Returns (statistic, degrees of freedom, Cramér's V);
/// (0, 0, 0) when fewer than two rows or columns are left.
fn chi_square_table(table: &[Vec<f64>]) -> (f64, usize, f64) {
    let width = table.iter().map(Vec::len).max().unwrap_or(0);
    let rows: Vec<&Vec<f64>> = table.iter().filter(|row| row.iter().sum::<f64>() > 0.0).collect();
    let columns: Vec<usize> = (0..width).filter(|&j| rows.iter().map(|row| row[j]).sum::<f64>() > 0.0).collect();
    if rows.len() < 2 || columns.len() < 2 {
        return (0.0, 0, 0.0);
    }
    let row_sums: Vec<f64> = rows.iter().map(|row| columns.iter().map(|&j| row[j]).sum()).collect();
    let column_sums: Vec<f64> = columns.iter().map(|&j| rows.iter().map(|row| row[j]).sum()).collect();
    let n: f64 = row_sums.iter().sum();
    let mut statistic = 0.0;
    for (row, row_sum) in rows.iter().zip(&row_sums) {
        for (&j, column_sum) in columns.iter().zip(&column_sums) {
            let expected = row_sum * column_sum / n;
            let diff = row[j] - expected;
            statistic += diff * diff / expected;
        }
    }
    let dof = (rows.len() - 1) * (columns.len() - 1);
    let min_dim = rows.len().min(columns.len()) - 1;
    let cramers_v = (statistic / (n * min_dim as f64)).sqrt().min(1.0);
    (statistic, dof, cramers_v)
}

/// Chi-square survival function P(X >= x) for k degrees of freedom (regularized upper incomplete gamma
/// Q(k/2, x/2), series/continued fraction as in Numerical Recipes), accurate to 1e-10.
///
/// The accuracy is absolute, and also relative down to far smaller p-values (tested against SciPy for
/// k from 1 to 20 000). Edge cases: `k = 0` gives 1 (a distribution concentrated at 0 has nothing to
/// reject), `x <= 0` gives 1, `x = +inf` gives 0, and a NaN `x` gives NaN.
pub fn chi_square_sf(x: f64, k: usize) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if k == 0 || x <= 0.0 {
        return 1.0;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    regularized_gamma_q(k as f64 / 2.0, x / 2.0)
}

/// Relative precision at which the series and the continued fraction stop.
const GAMMA_EPS: f64 = 1e-16;
/// Iteration cap; both expansions need O(sqrt(a)) terms, far fewer than this for any realistic `a`.
const GAMMA_MAX_ITER: usize = 1_000_000;
/// A number near the smallest representable, to keep Lentz's method away from division by zero.
const GAMMA_FPMIN: f64 = f64::MIN_POSITIVE / GAMMA_EPS;

/// Regularized upper incomplete gamma Q(a, x) for a > 0, x > 0 (finite).
fn regularized_gamma_q(a: f64, x: f64) -> f64 {
    if x < a + 1.0 { 1.0 - gamma_p_series(a, x) } else { gamma_q_continued_fraction(a, x) }
}

/// `exp(-x + a ln x - ln Gamma(a))`, the common prefactor of both expansions.
fn gamma_prefactor(a: f64, x: f64) -> f64 {
    (-x + a * x.ln() - ln_gamma(a)).exp()
}

/// P(a, x) by its series, which converges quickly for x < a + 1.
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut term = 1.0 / a;
    let mut sum = term;
    for _ in 0..GAMMA_MAX_ITER {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * GAMMA_EPS {
            break;
        }
    }
    (sum * gamma_prefactor(a, x)).min(1.0)
}

/// Q(a, x) by its continued fraction (modified Lentz), which converges quickly for x >= a + 1.
fn gamma_q_continued_fraction(a: f64, x: f64) -> f64 {
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / GAMMA_FPMIN;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..GAMMA_MAX_ITER {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < GAMMA_FPMIN {
            d = GAMMA_FPMIN;
        }
        c = b + an / c;
        if c.abs() < GAMMA_FPMIN {
            c = GAMMA_FPMIN;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() <= GAMMA_EPS {
            break;
        }
    }
    (gamma_prefactor(a, x) * h).clamp(0.0, 1.0)
}

/// ln Gamma(x) for x > 0, by the Lanczos approximation of Numerical Recipes (3rd ed., `gammln`),
/// relative error below 1e-15.
#[expect(clippy::excessive_precision, reason = "the coefficients are kept exactly as published, for checking")]
fn ln_gamma(x: f64) -> f64 {
    const COF: [f64; 14] = [
        57.156_235_665_862_923_5,
        -59.597_960_355_475_491_2,
        14.136_097_974_741_747_1,
        -0.491_913_816_097_620_199,
        0.339_946_499_848_118_887e-4,
        0.465_236_289_270_485_756e-4,
        -0.983_744_753_048_795_646e-4,
        0.158_088_703_224_912_494e-3,
        -0.210_264_441_724_104_883e-3,
        0.217_439_618_115_212_643e-3,
        -0.164_318_106_536_763_890e-3,
        0.844_182_239_838_527_433e-4,
        -0.261_908_384_015_814_087e-4,
        0.368_991_826_595_316_234e-5,
    ];
    let tmp = x + 5.242_187_5;
    let tmp = (x + 0.5) * tmp.ln() - tmp;
    let mut ser = 0.999_999_999_999_997_092;
    let mut y = x;
    for c in COF {
        y += 1.0;
        ser += c / y;
    }
    tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(counts: &[u64]) -> Vec<u64> {
        counts.to_vec()
    }

    fn group<const N: usize>(articles: [Vec<u64>; N]) -> GroupCounts {
        articles.into_iter().collect()
    }

    fn close(actual: f64, expected: f64, tol: f64) -> bool {
        (actual - expected).abs() <= tol
    }

    /// Draws an article of `len` sentences whose labels follow `mix` (probabilities summing to 1).
    fn draw_article(rng: &mut ChaCha8Rng, mix: &[f64], len: usize) -> Vec<u64> {
        let mut counts = vec![0u64; mix.len()];
        for _ in 0..len {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut label = mix.len() - 1;
            for (l, p) in mix.iter().enumerate() {
                acc += p;
                if u < acc {
                    label = l;
                    break;
                }
            }
            counts[label] += 1;
        }
        counts
    }

    #[test]
    fn group_counts_keep_each_articles_row() {
        let g = group([art(&[3, 0, 4]), art(&[]), art(&[u64::MAX])]);
        assert_eq!((g.len(), g.sentences()), (3, 7 + u64::from(u32::MAX)));
        assert_eq!(g.rows().collect::<Vec<_>>(), [&[3, 0, 4][..], &[], &[u32::MAX]]);
        assert!(GroupCounts::default().is_empty());
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // ln Gamma(0.5) = ln sqrt(pi); ln Gamma(10) = ln 9!; the others from scipy.special.gammaln.
        let cases = [
            (0.5, std::f64::consts::PI.sqrt().ln()),
            (1.0, 0.0),
            (10.0, 362_880f64.ln()),
            (100.5, 361.435_540_467_777_57),
            (1e4, 82_099.717_496_442_38),
        ];
        for (x, expected) in cases {
            let got = ln_gamma(x);
            assert!(close(got, expected, 1e-13 * expected.abs().max(1.0)), "ln_gamma({x}) = {got}, want {expected}");
        }
    }

    #[test]
    fn chi_square_sf_matches_scipy() {
        // Reference values: scipy.stats.chi2.sf(x, k), SciPy 1.17.1.
        let cases = [
            (0.5, 1, 0.479_500_122_186_953_37),
            (3.84, 1, 0.050_043_521_248_705_19),
            (2.0, 1, 0.157_299_207_050_281_05),
            (0.001, 1, 0.974_772_879_369_960_4),
            (1.0, 2, 0.606_530_659_712_633_4),
            (0.0001, 2, 0.999_950_001_249_979_1),
            (10.0, 3, 0.018_566_135_463_043_25),
            (50.0, 3, 7.989_179_244_951_495e-11),
            (200.0, 4, 3.757_276_735_781_06e-42),
            (7.5, 5, 0.186_029_833_602_867),
            (0.1, 7, 0.999_997_688_581_201_4),
            (20.0, 10, 0.029_252_688_076_961_124),
            (30.0, 30, 0.465_653_708_944_009_8),
            (100.0, 50, 3.454_931_382_984_871e-5),
            (5.0, 100, 1.0),
            (1000.0, 1000, 0.494_052_853_829_239_64),
            (1100.0, 1000, 0.014_614_408_126_295_192),
            (20000.0, 20000, 0.498_670_191_660_044_8),
        ];
        for (x, k, expected) in cases {
            let got = chi_square_sf(x, k);
            assert!(close(got, expected, 1e-10), "chi_square_sf({x}, {k}) = {got}, want {expected}");
            // Relative accuracy holds too, deep into the tail.
            assert!(close(got, expected, 1e-9 * expected), "chi_square_sf({x}, {k}) = {got}, want {expected}");
        }
    }

    #[test]
    fn chi_square_sf_edge_cases() {
        assert_eq!(chi_square_sf(5.0, 0), 1.0);
        assert_eq!(chi_square_sf(0.0, 3), 1.0);
        assert_eq!(chi_square_sf(-1.0, 3), 1.0);
        assert_eq!(chi_square_sf(f64::INFINITY, 3), 0.0);
        assert_eq!(chi_square_sf(1e6, 3), 0.0);
        assert!(chi_square_sf(f64::NAN, 3).is_nan());
    }

    #[test]
    fn chi_square_of_2x3_table_matches_scipy() {
        // Pooled table [[10, 20, 30], [25, 15, 5]], split over two articles per group. Reference:
        // scipy.stats.chi2_contingency(table, correction=False) gives statistic 23.333333333333336,
        // p 8.57493910267228e-06, dof 2; Cramér's V = sqrt(23.333.../(105 * 1)) = 0.4714045207910317.
        let a = group([art(&[3, 5, 10]), art(&[7, 15, 20])]);
        let b = group([art(&[20, 10, 0]), art(&[5, 5, 5])]);
        let d = compare_groups(&a, &b, 3, 99, 1);
        assert!(close(d.chi_square, 23.333_333_333_333_336, 1e-10), "{d:?}");
        assert_eq!(d.degrees_of_freedom, 2);
        assert!(close(d.chi_square_p, 8.574_939_102_672_28e-6, 1e-12), "{d:?}");
        assert!(close(d.cramers_v, 0.471_404_520_791_031_7, 1e-12), "{d:?}");

        // A label nobody uses (column of zeros) and an empty article are dropped: same test.
        let a4 = group([art(&[3, 5, 10, 0]), art(&[7, 15, 20, 0]), art(&[0, 0, 0, 0])]);
        let b4 = group([art(&[20, 10, 0, 0]), art(&[5, 5, 5])]);
        let d4 = compare_groups(&a4, &b4, 4, 99, 1);
        assert!(close(d4.chi_square, d.chi_square, 1e-12));
        assert_eq!(d4.degrees_of_freedom, 2);
        assert!(close(d4.chi_square_p, d.chi_square_p, 1e-15));
        assert!(close(d4.cramers_v, d.cramers_v, 1e-12));
    }

    #[test]
    fn pooled_and_mean_shares_differ_on_hand_example() {
        // A long article that is 90% label 0 and a short one that is all label 1, plus an empty article.
        // Pooled: (9 + 0) / 12 = 0.75 and (1 + 2) / 12 = 0.25.
        // Mean of articles: (0.9 + 0) / 2 = 0.45 and (0.1 + 1) / 2 = 0.55 (the empty article is skipped).
        let articles = group([art(&[9, 1]), art(&[0, 2]), art(&[0, 0])]);
        let pooled = pooled_shares(&articles, 2);
        let mean = mean_article_shares(&articles, 2);
        assert!(close(pooled[0], 0.75, 1e-15) && close(pooled[1], 0.25, 1e-15), "{pooled:?}");
        assert!(close(mean[0], 0.45, 1e-15) && close(mean[1], 0.55, 1e-15), "{mean:?}");
    }

    #[test]
    fn shares_handle_short_long_and_empty_inputs() {
        // Missing trailing labels read as 0; labels past n_labels are ignored.
        assert_eq!(pooled_shares(&group([art(&[1]), art(&[1, 3, 5])]), 2), vec![0.4, 0.6]);
        assert_eq!(mean_article_shares(&group([art(&[2])]), 3), vec![1.0, 0.0, 0.0]);
        assert_eq!(pooled_shares(&GroupCounts::default(), 3), vec![0.0; 3]);
        assert_eq!(mean_article_shares(&group([art(&[0, 0])]), 2), vec![0.0; 2]);
        assert!(pooled_shares(&group([art(&[1, 2])]), 0).is_empty());
    }

    #[test]
    fn bootstrap_is_deterministic_and_contains_estimate() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let articles: GroupCounts = (0..30).map(|i| draw_article(&mut rng, &[0.5, 0.3, 0.2], 5 + i % 20)).collect();
        let first = bootstrap_shares(&articles, 3, 500, 42);
        assert_eq!(first, bootstrap_shares(&articles, 3, 500, 42));
        assert_ne!(first, bootstrap_shares(&articles, 3, 500, 43));

        let pooled = pooled_shares(&articles, 3);
        let mean = mean_article_shares(&articles, 3);
        for l in 0..3 {
            assert_eq!(first.pooled[l].estimate, pooled[l]);
            assert_eq!(first.mean_of_articles[l].estimate, mean[l]);
            for iv in [first.pooled[l], first.mean_of_articles[l]] {
                assert!(iv.low < iv.estimate && iv.estimate < iv.high, "{iv:?}");
                assert!(iv.low >= 0.0 && iv.high <= 1.0, "{iv:?}");
            }
        }
    }

    #[test]
    fn bootstrap_intervals_widen_with_fewer_articles() {
        // The same five per-article mixes, once (5 articles) and eight times over (40 articles): the
        // estimates are identical, but the intervals must be wider for the smaller group.
        let mixes = [art(&[8, 1, 1]), art(&[2, 6, 2]), art(&[5, 5, 0]), art(&[1, 1, 8]), art(&[4, 3, 3])];
        let few: GroupCounts = mixes.iter().collect();
        let many: GroupCounts = mixes.iter().cycle().take(40).collect();
        let small = bootstrap_shares(&few, 3, 1000, 7);
        let large = bootstrap_shares(&many, 3, 1000, 7);
        let width = |iv: &Interval| iv.high - iv.low;
        for l in 0..3 {
            assert!(close(small.pooled[l].estimate, large.pooled[l].estimate, 1e-12));
            assert!(close(small.mean_of_articles[l].estimate, large.mean_of_articles[l].estimate, 1e-12));
            assert!(width(&small.pooled[l]) > 1.5 * width(&large.pooled[l]), "label {l}: {small:?} {large:?}");
            assert!(
                width(&small.mean_of_articles[l]) > 1.5 * width(&large.mean_of_articles[l]),
                "label {l}: {small:?} {large:?}"
            );
        }
    }

    #[test]
    fn bootstrap_collapses_for_one_article_and_handles_empty_input() {
        let one = bootstrap_shares(&group([art(&[1, 2, 7]), art(&[0, 0, 0])]), 3, 200, 1);
        for iv in one.pooled.iter().chain(&one.mean_of_articles) {
            assert_eq!(iv.low, iv.estimate);
            assert_eq!(iv.high, iv.estimate);
        }
        assert!(close(one.pooled[2].estimate, 0.7, 1e-15));

        let empty = bootstrap_shares(&GroupCounts::default(), 2, 200, 1);
        assert_eq!(empty.pooled, vec![Interval::point(0.0); 2]);
        assert_eq!(empty.mean_of_articles, vec![Interval::point(0.0); 2]);

        let no_resamples = bootstrap_shares(&group([art(&[1, 3]), art(&[3, 1])]), 2, 0, 1);
        assert_eq!(no_resamples.pooled, vec![Interval::point(0.5); 2]);
    }

    #[test]
    fn percentile_interpolates_linearly() {
        // numpy.percentile([1, 2, 3, 4, 5], [2.5, 97.5]) = [1.1, 4.9].
        let values = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(close(percentile(&values, 0.025), 1.1, 1e-12));
        assert!(close(percentile(&values, 0.975), 4.9, 1e-12));
        assert_eq!(percentile(&[2.5], 0.975), 2.5);
    }

    #[test]
    fn permutation_test_detects_different_mixes() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let a: GroupCounts = (0..15).map(|i| draw_article(&mut rng, &[0.7, 0.2, 0.1], 8 + i % 7)).collect();
        let b: GroupCounts = (0..15).map(|i| draw_article(&mut rng, &[0.2, 0.3, 0.5], 8 + i % 7)).collect();
        let d = compare_groups(&a, &b, 3, 999, 5);
        assert_eq!(d, compare_groups(&a, &b, 3, 999, 5), "deterministic for a seed");
        let expected_tvd = total_variation(&mean_article_shares(&a, 3), &mean_article_shares(&b, 3));
        assert_eq!(d.tvd, expected_tvd);
        assert!(d.tvd > 0.3, "{d:?}");
        assert_eq!(d.permutations, 999);
        assert!(d.permutation_p < 0.01, "{d:?}");
        assert!(d.permutation_p >= 1.0 / 1000.0, "add-one correction keeps p above 0: {d:?}");
        assert!(d.chi_square_p < 1e-6, "{d:?}");
    }

    #[test]
    fn permutation_test_is_not_significant_for_same_mix() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mix = [0.4, 0.35, 0.25];
        let a: GroupCounts = (0..15).map(|i| draw_article(&mut rng, &mix, 8 + i % 7)).collect();
        let b: GroupCounts = (0..15).map(|i| draw_article(&mut rng, &mix, 8 + i % 7)).collect();
        let d = compare_groups(&a, &b, 3, 999, 5);
        assert!(d.permutation_p > 0.2, "{d:?}");
        assert!(d.tvd < 0.2, "{d:?}");
    }

    #[test]
    fn identical_groups_give_zero_distance_and_p_one() {
        let a = group([art(&[3, 1]), art(&[1, 3])]);
        let d = compare_groups(&a, &a, 2, 200, 1);
        assert_eq!(d.tvd, 0.0);
        assert_eq!(d.permutation_p, 1.0);
        assert_eq!(d.chi_square, 0.0);
        assert_eq!(d.degrees_of_freedom, 1);
        assert_eq!(d.chi_square_p, 1.0);
        assert_eq!(d.cramers_v, 0.0);
    }

    #[test]
    fn disjoint_groups_have_distance_one() {
        let a = group([art(&[4, 0]), art(&[2, 0]), art(&[3, 0])]);
        let b = group([art(&[0, 5]), art(&[0, 1]), art(&[0, 2])]);
        let d = compare_groups(&a, &b, 2, 20_000, 1);
        assert_eq!(d.tvd, 1.0);
        // Pooled table [[9, 0], [0, 8]]: chi-square = n * V^2 = 17 with V = 1.
        assert!(close(d.chi_square, 17.0, 1e-12) && close(d.cramers_v, 1.0, 1e-12), "{d:?}");
        // Exact permutation distribution: of the C(6, 3) = 20 splits of six articles into two groups of
        // three, only 2 are as extreme, so p = 0.1 (not tiny: three articles a side cannot show more).
        assert!(close(d.permutation_p, 0.1, 0.01), "{d:?}");
    }

    #[test]
    fn empty_groups_give_neutral_result() {
        let a = group([art(&[1, 2])]);
        let neutral = GroupDifference {
            tvd: 0.0,
            permutation_p: 1.0,
            permutations: 0,
            chi_square: 0.0,
            degrees_of_freedom: 0,
            chi_square_p: 1.0,
            cramers_v: 0.0,
        };
        assert_eq!(compare_groups(&a, &GroupCounts::default(), 2, 100, 1), neutral);
        assert_eq!(compare_groups(&group([art(&[0, 0])]), &a, 2, 100, 1), neutral);
        assert_eq!(compare_groups(&GroupCounts::default(), &GroupCounts::default(), 2, 100, 1), neutral);
        // No labels at all: nothing differs.
        let d = compare_groups(&a, &a, 0, 10, 1);
        assert_eq!((d.tvd, d.permutation_p, d.degrees_of_freedom, d.chi_square_p), (0.0, 1.0, 0, 1.0));
    }

    #[test]
    fn statistics_are_the_same_on_any_number_of_threads_and_as_one_at_a_time() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mixes = [[0.5, 0.3, 0.1, 0.05, 0.05], [0.3, 0.3, 0.2, 0.1, 0.1], [0.6, 0.1, 0.1, 0.1, 0.1]];
        let outlets: Vec<GroupCounts> = (mixes.iter().zip([40, 7, 23]))
            .map(|(mix, articles)| (0..articles).map(|i| draw_article(&mut rng, mix, 3 + i % 11)).collect())
            .collect();
        let prepared: Vec<PreparedGroup> = outlets.iter().map(|g| PreparedGroup::new(g, 5)).collect();
        // Not a whole number of blocks, so the last block is short.
        let (resamples, permutations) = (BLOCK * 2 + 17, BLOCK * 3 + 1);
        let bootstraps: Vec<Bootstrap> = prepared.iter().map(|g| Bootstrap::new(g, resamples, 9)).collect();
        let tests: Vec<PermutationTest> = [(0, 1), (0, 2), (1, 2)]
            .map(|(a, b)| PermutationTest::new(&prepared[a], &prepared[b], permutations, 9))
            .into();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let count = || _ = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let one = (run_all(&bootstraps, NonZeroUsize::MIN, &count), run_all(&tests, NonZeroUsize::MIN, &count));
        assert_eq!(
            done.into_inner(),
            3 * 3 + 3 * 4,
            "every block is counted once: three bootstraps of three, three tests of four"
        );
        for threads in [2, 3, 8] {
            let threads = NonZeroUsize::new(threads).unwrap();
            assert_eq!((run_all(&bootstraps, threads, &|| {}), run_all(&tests, threads, &|| {})), one);
        }
        for (outlet, shares) in outlets.iter().zip(&one.0) {
            assert_eq!(&bootstrap_shares(outlet, 5, resamples, 9), shares);
        }
        assert_eq!(compare_groups(&outlets[0], &outlets[2], 5, permutations, 9), one.1[1]);
        assert!(one.1.iter().all(|d| d.permutations == permutations));

        // More statistics than are run at once: every one still comes back, in order.
        let many: Vec<GroupCounts> =
            (0..AT_ONCE * 2 + 5).map(|i| group([art(&[1 + i as u64 % 4, 2]), art(&[3, 1])])).collect();
        let prepared: Vec<PreparedGroup> = many.iter().map(|g| PreparedGroup::new(g, 2)).collect();
        let bootstraps: Vec<Bootstrap> = prepared.iter().map(|g| Bootstrap::new(g, 300, 2)).collect();
        let on_three = run_all(&bootstraps, NonZeroUsize::new(3).unwrap(), &|| {});
        assert_eq!(on_three, run_all(&bootstraps, NonZeroUsize::MIN, &|| {}));
        for (g, shares) in many.iter().zip(&on_three) {
            assert_eq!(&bootstrap_shares(g, 2, 300, 2), shares);
        }
    }

    #[test]
    fn the_test_of_a_against_b_is_the_test_of_b_against_a() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let a: GroupCounts = (0..9).map(|i| draw_article(&mut rng, &[0.5, 0.5], 4 + i)).collect();
        let b: GroupCounts = (0..25).map(|i| draw_article(&mut rng, &[0.4, 0.6], 4 + i % 9)).collect();
        let d = compare_groups(&a, &b, 2, 999, 3);
        assert_eq!(d, compare_groups(&b, &a, 2, 999, 3));
        assert!(d.permutation_p > 0.0 && d.permutation_p <= 1.0 && d.tvd > 0.0, "{d:?}");
    }

    #[test]
    fn rows_are_summed_over_every_label_past_the_padding() {
        // Six labels are padded to eight columns; the sums cover the six and leave the padding at zero.
        let g = group([art(&[1, 0, 0, 0, 0, 2]), art(&[0, 3, 0, 0, 4, 0]), art(&[0; 6])]);
        let prepared = PreparedGroup::new(&g, 6);
        assert_eq!((prepared.len(), prepared.width), (2, 8));
        assert_eq!(prepared.column_sums(), [1.0, 3.0, 0.0, 0.0, 4.0, 2.0]);
        let mut sums = vec![f64::NAN; 8];
        sum_rows(&prepared.counts, 8, &[1, 1, 0], &mut sums);
        assert_eq!(sums, [1.0, 6.0, 0.0, 0.0, 8.0, 2.0, 0.0, 0.0]);
    }

    #[test]
    fn results_serialize() {
        fn assert_serialize<T: Serialize>() {}
        assert_serialize::<Interval>();
        assert_serialize::<GroupShares>();
        assert_serialize::<GroupDifference>();
    }
}
