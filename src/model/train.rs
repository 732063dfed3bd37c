//! Training in one streaming pass: sentences go in one at a time and only per-n-gram counts are kept, so
//! memory grows with the vocabulary (every distinct n-gram seen, before `min_df` pruning), not with the
//! number of sentences.
//!
//! For every n-gram the trainer counts the sentences that contain it (document frequency, for `min_df`)
//! and its summed feature value per label: exactly the sufficient statistics linfa-bayes'
//! `MultinomialNb` accumulates in `fit`/`fit_with` (a test checks the counts are identical). Most n-grams
//! of a large corpus occur once, so an n-gram seen in one sentence keeps that sentence's label and count
//! in its 8-byte `NodeStats`; only from the second sentence on does it get a row of per-label sums.
//!
//! Training has two stages with separate state: `Stemming` turns text into stem ids, `Counting`
//! counts n-grams of those ids. [`Trainer::feed`] runs them on two threads, in a pipeline, with the same
//! result as one: the feeding thread reads, the counting thread counts, and each batch of sentences is
//! stemmed by whichever of the two has time for it (see `Feeder::flush`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::num::NonZeroUsize;
use std::sync::{Mutex, atomic};

use crossbeam_channel::{Receiver, Sender};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::{Counts, MAX_SENTENCES, Model};
use crate::error::{Error, Result};
use crate::features::{FlatMap, StrMap, Vocabulary, WordCache, edge, for_each_gram, prefetch};
use crate::memory::{AtomicWords, Buffer};
use crate::parallel::{self, Offer};
use crate::params::{ValidTrainParams, Weighting};
use crate::text::Span;
use crate::text::tokens::Tokenizer;

/// What the trainer knows of one n-gram: the sentences containing it and where its per-label sums are.
#[derive(Debug, Clone, Copy, Default)]
struct NodeStats {
    df: u32,
    /// While `df <= 1` and it fits: the one sentence's label and count, packed by [`NodeStats::single`];
    /// else [`PROMOTED`] plus the index of the node's row in [`Counting::sums`].
    slot: u32,
}

/// Marks a slot that points at a row of sums.
const PROMOTED: u32 = 1 << 31;

/// Marks the id of an n-gram of two or more stems (ids without it are stems).
const GRAM: u32 = 1 << 31;

/// Where a node's per-label sums are.
enum Sums {
    /// No sentence yet.
    None,
    /// One sentence: its label and how often the n-gram occurs in it.
    Single { label: usize, count: u32 },
    /// The row with this index in [`Counting::sums`].
    Row(usize),
}

impl NodeStats {
    /// The packed form of one sentence's contribution, if it fits (label < 2^15, count < 2^16).
    fn single(label: usize, count: u32) -> Option<u32> {
        (label < 1 << 15 && count < 1 << 16).then_some(((label as u32) << 16) | count)
    }

    fn sums(self) -> Sums {
        if self.slot & PROMOTED != 0 {
            Sums::Row((self.slot & !PROMOTED) as usize)
        } else if self.df == 0 {
            Sums::None
        } else {
            Sums::Single { label: (self.slot >> 16) as usize, count: self.slot & 0xffff }
        }
    }
}

/// The first stage on one thread: words to stem ids, with a cache of the words that thread has seen.
///
/// The threads that stem share the ids of the stems ([`Trainer::stems`]): `0, 1, 2, ...` in the order a
/// thread first met them, which can change from run to run on two threads. Nothing the model holds
/// depends on it: its n-grams are named by their stems and sorted by name, and their counts are summed
/// in the order of the sentences, on one thread.
#[derive(Debug)]
struct Stemming {
    tokenizer: Tokenizer,
    words: WordCache,
}

impl Stemming {
    fn new(params: ValidTrainParams) -> Self {
        Self { tokenizer: Tokenizer::new(params.features().stop_words), words: WordCache::unbounded() }
    }

    /// The id of `stem`, added to `stems` if new.
    fn stem_id(stems: &mut StrMap, stem: &str) -> u32 {
        stems.get(stem).unwrap_or_else(|| {
            let id = stems.len() as u32;
            assert!(id < GRAM, "at most 2^31 distinct stems");
            stems.insert(stem, id);
            id
        })
    }

    /// Appends the stem ids of `text` to `out`; a word this thread has not seen before is stemmed, and its
    /// stem looked up in (or added to) `stems`.
    fn tokens(&mut self, stems: &Mutex<StrMap>, text: &str, out: &mut Vec<u32>) {
        let Self { tokenizer, words } = self;
        let stem_id = |stem: &str| Self::stem_id(&mut stems.lock().expect("no thread panics holding the stems"), stem);
        words.encode(text, tokenizer, None, stem_id, out);
    }

    /// Every stem of `stems` by id.
    fn names(stems: &StrMap) -> Vec<String> {
        let mut names = vec![String::new(); stems.len()];
        for (stem, id) in stems.iter() {
            names[id as usize] = stem;
        }
        names
    }
}

/// The second stage: n-grams of stem ids, and their counts per label.
#[derive(Debug)]
struct Counting {
    orders: (usize, usize),
    weighting: Weighting,
    /// (parent, stem id) to the id of the longer n-gram ([`GRAM`] set).
    children: FlatMap<u64>,
    stem_stats: Vec<NodeStats>,
    gram_stats: Vec<NodeStats>,
    /// Rows of per-label sums, `width` wide, for n-grams seen in more than one sentence.
    sums: Vec<f64>,
    width: usize,
    nodes: Vec<u32>,
    /// The current sentence's n-grams: (node, occurrences).
    counted: Vec<(u32, u32)>,
}

impl Counting {
    fn new(params: ValidTrainParams) -> Self {
        let options = params.features();
        Self {
            orders: (options.ngrams.min(), options.ngrams.max()),
            weighting: options.weighting,
            children: FlatMap::default(),
            stem_stats: Vec::new(),
            gram_stats: Vec::new(),
            sums: Vec::new(),
            width: 0,
            nodes: Vec::new(),
            counted: Vec::new(),
        }
    }

    fn stats(&mut self, node: u32) -> &mut NodeStats {
        if node & GRAM == 0 {
            let i = node as usize;
            if i >= self.stem_stats.len() {
                self.stem_stats.resize(i + 1, NodeStats::default());
            }
            &mut self.stem_stats[i]
        } else {
            &mut self.gram_stats[(node & !GRAM) as usize]
        }
    }

    /// The stats of `node`, if it has any yet (see [`prefetch`]).
    fn existing_stats(&self, node: u32) -> Option<&NodeStats> {
        if node & GRAM == 0 { self.stem_stats.get(node as usize) } else { self.gram_stats.get((node & !GRAM) as usize) }
    }

    /// Makes room in the table of n-grams for a batch of `tokens` tokens (each starts at most one n-gram
    /// of every order above one), the move to a bigger table offered on `helpers`. One thread or several,
    /// the table grows at the same points into the same layout.
    fn make_room(&mut self, tokens: usize, helpers: Option<&Sender<Offer>>) {
        if let Some(regrow) = self.children.regrow_for(tokens * self.orders.1.saturating_sub(1)) {
            self.children = parallel::work_with_help(regrow, helpers).into_map();
        }
    }

    /// The id of `parent` extended by the stem `stem`, added if new.
    fn child(&mut self, parent: u32, stem: u32) -> u32 {
        let grams = &mut self.gram_stats;
        self.children.get_or_insert_with(edge(parent, stem), || {
            assert!(grams.len() < (GRAM - 2) as usize, "at most 2^31 distinct n-grams");
            grams.push(NodeStats::default());
            GRAM | (grams.len() - 1) as u32
        })
    }

    /// Makes rows of sums `labels` wide.
    fn widen(&mut self, labels: usize) {
        if labels > self.width {
            if self.width > 0 {
                let pad = labels - self.width;
                let rows = self.sums.chunks(self.width);
                self.sums = rows.flat_map(|row| row.iter().copied().chain(std::iter::repeat_n(0.0, pad))).collect();
            }
            self.width = labels;
        }
    }

    /// The n-grams of `tokens` with their number of occurrences into `self.counted`.
    fn count_ngrams(&mut self, tokens: &[u32]) {
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.clear();
        // The table of every n-gram seen is hundreds of megabytes: fetch the bigrams' slots together.
        prefetch(tokens.windows(2).map(|pair| self.children.first_word(edge(pair[0], pair[1]))));
        for_each_gram(tokens, self.orders, |parent, stem| Some(self.child(parent, stem)), |node| nodes.push(node));
        nodes.sort_unstable();
        self.counted.clear();
        self.counted.extend(nodes.chunk_by(|a, b| a == b).map(|run| (run[0], run.len() as u32)));
        self.nodes = nodes;
    }

    /// Counts one sentence under label `l`.
    fn add(&mut self, l: usize, tokens: &[u32]) {
        self.widen(l + 1);
        self.count_ngrams(tokens);
        prefetch(self.counted.iter().filter_map(|&(node, _)| self.existing_stats(node)));
        for i in 0..self.counted.len() {
            let (node, count) = self.counted[i];
            let weight = self.weighting.apply(count);
            let stats = *self.stats(node);
            self.stats(node).df = stats.df.saturating_add(1);
            match (stats.sums(), NodeStats::single(l, count)) {
                (Sums::None, Some(slot)) => self.stats(node).slot = slot,
                (Sums::Row(row), _) => self.sums[row * self.width + l] += weight,
                (Sums::None, None) => {
                    let row = self.promote(node);
                    self.sums[row + l] += weight;
                }
                (Sums::Single { label: first, count: first_count }, _) => {
                    let row = self.promote(node);
                    self.sums[row + first] += self.weighting.apply(first_count);
                    self.sums[row + l] += weight;
                }
            }
        }
    }

    /// Moves a sentence counted under `from` to `to`.
    fn relabel(&mut self, from: usize, to: usize, tokens: &[u32]) {
        self.widen(from.max(to) + 1);
        self.count_ngrams(tokens);
        for i in 0..self.counted.len() {
            let (node, count) = self.counted[i];
            let weight = self.weighting.apply(count);
            let row = match (self.stats(node).sums(), NodeStats::single(to, count)) {
                // Only this sentence has the n-gram: it simply changes label.
                (Sums::Single { .. }, Some(slot)) => {
                    self.stats(node).slot = slot;
                    continue;
                }
                (Sums::Single { .. }, None) => {
                    let row = self.promote(node);
                    self.sums[row + from] += weight;
                    row
                }
                (Sums::Row(row), _) => row * self.width,
                (Sums::None, _) => unreachable!("the sentence was counted before"),
            };
            self.sums[row + from] -= weight;
            self.sums[row + to] += weight;
        }
    }

    /// Gives `node` a row of sums (zeros) and returns its start.
    fn promote(&mut self, node: u32) -> usize {
        let row = self.sums.len() / self.width;
        assert!(row < PROMOTED as usize, "at most 2^31 n-grams can be seen twice");
        self.sums.resize(self.sums.len() + self.width, 0.0);
        self.stats(node).slot = PROMOTED | row as u32;
        row * self.width
    }

    /// The summed values of the `kept` n-grams, a column for each label of `labels` (indices, in column
    /// order). One pass: each n-gram's row of sums is fetched once for all its labels, where a pass per
    /// label fetched the rows from all over the table once per label.
    fn columns(&self, kept: &[Kept], labels: &[usize]) -> Vec<Buffer<f64>> {
        let mut columns: Vec<Buffer<f64>> = labels.iter().map(|_| Buffer::zeroed(kept.len())).collect();
        let mut column_of = vec![None; self.width.max(labels.iter().max().map_or(0, |&l| l + 1))];
        for (column, &l) in labels.iter().enumerate() {
            column_of[l] = Some(column);
        }
        for (i, k) in kept.iter().enumerate() {
            match k.stats.sums() {
                Sums::None => {}
                Sums::Single { label, count } => {
                    if let Some(column) = column_of[label] {
                        columns[column][i] = self.weighting.apply(count);
                    }
                }
                Sums::Row(row) => {
                    let sums = &self.sums[row * self.width..][..self.width];
                    for (column, &l) in columns.iter_mut().zip(labels) {
                        column[i] = sums[l];
                    }
                }
            }
        }
        columns
    }

    /// The names and stats of every n-gram with `df >= min_df`, named with `stems` (stem names by id), in
    /// name order, and the edge to every n-gram of two or more stems (its parent and last stem) by id.
    /// Each of `threads` threads names and sorts a part; the parts are merged. The table of n-grams by edge
    /// is read once and freed first: no count needs it any more.
    fn kept(&mut self, min_df: u32, stems: &[String], threads: NonZeroUsize) -> (Vec<String>, Vec<Kept>, Buffer<u64>) {
        /// Consecutive ids a part takes in turn.
        const STRIPE: usize = 1 << 12;
        // Each n-gram's edge: its parent and last stem.
        let up = AtomicWords::zeroed(self.gram_stats.len());
        parallel::in_parts(threads, |part, parts| {
            let up = up.words();
            for (edge, node) in self.children.iter_part(part, parts) {
                up[(node & !GRAM) as usize].store(edge, atomic::Ordering::Relaxed);
            }
        });
        self.children = FlatMap::default();
        let up = up.into_buffer();
        // The name of an n-gram: its parent's name, a space and its last stem.
        let name = |mut node: u32| {
            let mut parts: SmallVec<[&str; 4]> = SmallVec::new();
            while node & GRAM != 0 {
                let edge = up[(node & !GRAM) as usize];
                parts.push(&stems[edge as u32 as usize]);
                node = (edge >> 32) as u32;
            }
            parts.push(&stems[node as usize]);
            parts.reverse();
            parts.join(" ")
        };
        // Stripes of ids, the stems' and then the n-grams', taken by whichever part is free: ids come in
        // order of first sight, and early ones are kept more often, so equal shares would not be equal work.
        let (stem_stats, gram_stats) = (&self.stem_stats, &self.gram_stats);
        let stem_stripes = stem_stats.len().div_ceil(STRIPE);
        let stripes = parallel::Tickets::new(stem_stripes + gram_stats.len().div_ceil(STRIPE));
        let runs = parallel::in_parts(threads, |_, _| {
            let mut run = Vec::new();
            while let Some(stripe) = stripes.take() {
                let (all, start, tag) = match stripe.checked_sub(stem_stripes) {
                    None => (stem_stats, stripe * STRIPE, 0),
                    Some(stripe) => (gram_stats, stripe * STRIPE, GRAM),
                };
                for i in start..(start + STRIPE).min(all.len()) {
                    let (stats, node) = (all[i], tag | i as u32);
                    if stats.df >= min_df {
                        let name = if tag == GRAM { name(node) } else { stems[i].clone() };
                        run.push(Term::new(name, Kept { stats, node }));
                    }
                }
            }
            run.sort_unstable_by(Term::by_name);
            run
        });
        let (names, kept) = merge_by_name(runs, threads);
        (names, kept, up)
    }
}

/// A kept n-gram: its stats and its node in the counting's trie.
#[derive(Debug, Clone, Copy)]
struct Kept {
    stats: NodeStats,
    node: u32,
}

/// The vocabulary's trie by term id: the ids of the terms of one stem, and the edge to each longer term
/// (its parent's id and its last stem's id) with its id.
struct KeptTrie {
    stems: Vec<u32>,
    edges: Vec<(u64, u32)>,
}

impl KeptTrie {
    /// The trie of the `kept` n-grams (ids are places in `kept`), from the counting's (`up`: the edge to
    /// each n-gram of two or more stems, by id; `stems`: the number of stems counted). `None` when a kept
    /// n-gram's parent or last stem was not kept, as when unigrams are not counted.
    ///
    /// A kept n-gram's id is written over its edge in `up` once the edge is read: a table of ids by
    /// n-gram would be 64 MB of fresh pages for the 1M-sentence corpus, and the AMD VM we first measured
    /// on handed those over at about 1 GB/s, which made this the longer of the two tasks that finish side
    /// by side.
    fn of(kept: &[Kept], mut up: Buffer<u64>, stems: usize) -> Option<Self> {
        let mut stem_ids = Buffer::<u32>::zeroed(stems);
        let (mut kept_stems, mut edges) = (Vec::new(), Vec::new());
        for (id, k) in kept.iter().enumerate() {
            let node = (k.node & !GRAM) as usize;
            if k.node & GRAM == 0 {
                stem_ids[node] = id as u32 + 1;
                kept_stems.push(id as u32);
            } else {
                // Each n-gram's own word is the only one read here, so its id can take the edge's place.
                edges.push((std::mem::replace(&mut up[node], KEPT_ID | id as u64), id as u32));
            }
        }
        let id = |node: u32| {
            if node & GRAM == 0 {
                stem_ids.get(node as usize)?.checked_sub(1)
            } else {
                let word = *up.get((node & !GRAM) as usize)?;
                (word & KEPT_ID != 0).then_some((word & !KEPT_ID) as u32)
            }
        };
        for (edge_up, _) in &mut edges {
            *edge_up = edge(id((*edge_up >> 32) as u32)?, id(*edge_up as u32)?);
        }
        Some(Self { stems: kept_stems, edges })
    }
}

/// Marks a word of the counting's `up` that holds a kept n-gram's id in place of its edge: an edge's low
/// half is a stem's id, which never has this bit ([`GRAM`]).
const KEPT_ID: u64 = GRAM as u64;

/// What the counting stage does with a sentence.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Count it under this label.
    Add { label: u32 },
    /// Move it from one label to another.
    Relabel { from: u32, to: u32 },
}

/// Sentences on their way from the feeding thread to the counting stage, stemmed on the way.
#[derive(Debug, Default)]
struct Batch {
    /// Each sentence's op and where its text is in `rows`.
    ops: Vec<(Op, Span)>,
    /// The bytes of its rows that the training data's digest hashes ([`Trainer::digest`]): a batch's
    /// rows, hundreds of kilobytes, in one update, which BLAKE3 hashes eight 1 KiB chunks at a time, where
    /// a row of a few dozen bytes goes one 64-byte block at a time.
    rows: String,
    /// The stem ids of the sentences stemmed so far.
    tokens: Vec<u32>,
    /// Where each of those sentences' stem ids end in `tokens`.
    ends: Vec<u32>,
}

impl Batch {
    /// Sentences per batch.
    const SIZE: usize = 4096;

    /// Adds a sentence, its row (a marker for the op, text, label) to those the training data's digest
    /// hashes.
    fn push(&mut self, op: Op, text: &str, label: &str) {
        let marker = match op {
            Op::Add { .. } => "",
            Op::Relabel { .. } => "\x01",
        };
        self.rows.push_str(marker);
        let start = self.rows.len();
        self.rows.push_str(text);
        self.ops.push((op, Span::new(start, self.rows.len())));
        for part in ["\0", label, "\n"] {
            self.rows.push_str(part);
        }
    }

    /// Stems the sentences not stemmed yet.
    fn stem(&mut self, stemming: &mut Stemming, stems: &Mutex<StrMap>) {
        let Self { ops, rows, tokens, ends } = self;
        for &(_, text) in &ops[ends.len()..] {
            stemming.tokens(stems, &rows[text.start..text.end], tokens);
            ends.push(tokens.len() as u32);
        }
    }

    /// Stems what is left to stem and counts the batch's sentences, the table of n-grams grown first if
    /// they need room: its move to a bigger table is offered on `helpers` (see
    /// [`parallel::work_with_help`]), so that a feeding thread kept waiting meanwhile moves part of it.
    fn run(
        &mut self,
        stemming: &mut Stemming,
        stems: &Mutex<StrMap>,
        counting: &mut Counting,
        helpers: Option<&Sender<Offer>>,
    ) {
        self.stem(stemming, stems);
        counting.make_room(self.tokens.len(), helpers);
        let mut start = 0;
        for (&(op, _), &end) in self.ops.iter().zip(&self.ends) {
            let tokens = &self.tokens[start..end as usize];
            match op {
                Op::Add { label } => counting.add(label as usize, tokens),
                Op::Relabel { from, to } => counting.relabel(from as usize, to as usize, tokens),
            }
            start = end as usize;
        }
    }

    /// Empties the batch, its buffers kept.
    fn clear(&mut self) {
        self.ops.clear();
        self.rows.clear();
        self.tokens.clear();
        self.ends.clear();
    }
}

/// Accumulates labelled sentences into naive Bayes counts.
#[derive(Debug)]
pub struct Trainer {
    params: ValidTrainParams,
    /// The feeding thread's stemming.
    stemming: Stemming,
    /// Every stem seen, with its id (see [`Stemming`]).
    stems: StrMap,
    counting: Counting,
    /// Labels in the order first seen.
    labels: Vec<String>,
    label_ids: FxHashMap<String, usize>,
    class_count: Vec<u64>,
    sentences: u64,
    /// Sentences not yet counted.
    batch: Batch,
    /// The BLAKE3 hash of the rows fed, in order (the training data's digest): hashed on the feeding
    /// thread, a batch at a time, since the counting thread is the one the other waits for.
    digest: blake3::Hasher,
}

/// Hands sentences to a [`Trainer`] inside [`Trainer::feed`].
pub struct Feeder<'t> {
    trainer: &'t mut Trainer,
    /// The trainer's stems, shared with the counting thread while it runs.
    stems: &'t Mutex<StrMap>,
    /// The counting thread's batches, and its offers of work while they are full.
    counter: Option<(&'t Sender<Batch>, &'t Receiver<Offer>)>,
}

/// Batches waiting for the counting thread from which the feeding thread stems a batch itself: with
/// fewer, the counting thread is about to run out of work, and stems it instead. Either thread keeps
/// the other busy, however fast reading, stemming and counting go on a machine.
const STEM_HERE_FROM: usize = 1;

impl Feeder<'_> {
    /// Counts one labelled sentence.
    pub fn add(&mut self, text: &str, label: &str) -> Result<()> {
        let t = &mut *self.trainer;
        if t.sentences >= MAX_SENTENCES {
            return Err(Error::Invalid(format!("more than {MAX_SENTENCES} training sentences")));
        }
        let l = t.label(label);
        t.batch.push(Op::Add { label: l as u32 }, text, label);
        t.class_count[l] += 1;
        t.sentences += 1;
        self.flush_if_full();
        Ok(())
    }

    /// Moves a sentence counted under `old` to `new` (a later file corrects its label). With `count`
    /// weighting this is exact; with `log` weighting the old label's sums may keep a rounding residue of a
    /// few units in the last place.
    pub fn relabel(&mut self, text: &str, old: &str, new: &str) -> Result<()> {
        let t = &mut *self.trainer;
        let (from, to) = (t.label(old), t.label(new));
        if t.class_count[from] == 0 {
            return Err(Error::Invalid(format!("no sentence labelled {old:?} to relabel")));
        }
        t.batch.push(Op::Relabel { from: from as u32, to: to as u32 }, text, new);
        t.class_count[from] -= 1;
        t.class_count[to] += 1;
        self.flush_if_full();
        Ok(())
    }

    fn flush_if_full(&mut self) {
        if self.trainer.batch.ops.len() >= Batch::SIZE {
            self.flush();
        }
    }

    /// Counts the batch's sentences, here or on the counting thread; there they are stemmed here first if
    /// the counting thread has work waiting (see [`STEM_HERE_FROM`]).
    fn flush(&mut self) {
        let t = &mut *self.trainer;
        t.digest.update(t.batch.rows.as_bytes());
        match self.counter {
            Some((counter, help)) => {
                let mut batch = std::mem::take(&mut t.batch);
                if counter.len() >= STEM_HERE_FROM {
                    batch.stem(&mut t.stemming, self.stems);
                }
                parallel::send_or_help(counter, batch, help).expect("the counting thread runs until the channel closes")
            }
            None => {
                t.batch.run(&mut t.stemming, self.stems, &mut t.counting, None);
                t.batch.clear();
            }
        }
    }
}

impl Trainer {
    /// A trainer with nothing counted yet.
    pub fn new(params: ValidTrainParams) -> Self {
        Self {
            params,
            stemming: Stemming::new(params),
            stems: StrMap::default(),
            counting: Counting::new(params),
            labels: Vec::new(),
            label_ids: FxHashMap::default(),
            class_count: Vec::new(),
            sentences: 0,
            batch: Batch::default(),
            digest: blake3::Hasher::new(),
        }
    }

    /// A trainer that starts from `model`'s counts, options and labels (see [`Model::update`]). The model's
    /// n-grams stay in the vocabulary whatever `min_df` says: their document frequency is not stored.
    pub fn from_model(model: &Model) -> Self {
        let mut trainer = Self::new(model.params);
        trainer.digest.update(model.training_data.as_bytes());
        for (label, &n) in model.labels.iter().zip(&model.class_count) {
            let l = trainer.label(label);
            trainer.class_count[l] = n;
        }
        trainer.sentences = model.class_count.iter().sum();
        let (stems, counting) = (&mut trainer.stems, &mut trainer.counting);
        counting.widen(model.labels.len());
        let min_df = model.params.min_df();
        for (feature, term) in model.vocabulary.terms().iter().enumerate() {
            let mut parts = term.split(' ').map(|stem| Stemming::stem_id(stems, stem));
            let first = parts.next().expect("split yields a part");
            let node = parts.fold(first, |parent, stem| counting.child(parent, stem));
            let row = counting.promote(node);
            for (l, counts) in model.feature_count.iter().enumerate() {
                counting.sums[row + l] = counts[feature];
            }
            counting.stats(node).df = min_df;
        }
        trainer
    }

    /// Counts one labelled sentence.
    pub fn add(&mut self, text: &str, label: &str) -> Result<()> {
        self.feed(NonZeroUsize::MIN, |feeder| feeder.add(text, label))
    }

    /// Moves a sentence counted under `old` to `new` (see [`Feeder::relabel`]).
    pub fn relabel(&mut self, text: &str, old: &str, new: &str) -> Result<()> {
        self.feed(NonZeroUsize::MIN, |feeder| feeder.relabel(text, old, new))
    }

    /// Lets `feed` hand over sentences; with two threads or more, this thread reads while a second counts
    /// the n-grams of the sentences read before, and both stem (same counts as one thread).
    pub fn feed<R>(&mut self, threads: NonZeroUsize, feed: impl FnOnce(&mut Feeder<'_>) -> Result<R>) -> Result<R> {
        let stems = Mutex::new(std::mem::take(&mut self.stems));
        let result = if threads.get() == 1 {
            let mut feeder = Feeder { trainer: self, stems: &stems, counter: None };
            let result = feed(&mut feeder);
            feeder.flush();
            result
        } else {
            let mut counting = std::mem::replace(&mut self.counting, Counting::new(self.params));
            let mut stemming = Stemming::new(self.params);
            let result = std::thread::scope(|scope| {
                let (sender, batches) = crossbeam_channel::bounded::<Batch>(4);
                let (offer, help) = parallel::offers();
                let (counting, stemming, stems) = (&mut counting, &mut stemming, &stems);
                let counter = scope.spawn(move || {
                    for mut batch in batches {
                        batch.run(stemming, stems, counting, Some(&offer));
                    }
                });
                let mut feeder = Feeder { trainer: self, stems, counter: Some((&sender, &help)) };
                let result = feed(&mut feeder);
                feeder.flush();
                drop(sender);
                counter.join().expect("the counting thread does not panic");
                result
            });
            self.counting = counting;
            result
        };
        self.stems = stems.into_inner().expect("no thread panics holding the stems");
        result
    }

    /// The model: n-grams in at least `min_df` sentences, labels sorted (labels left with no sentence
    /// dropped), smoothed as linfa-bayes does; on up to `threads` threads.
    pub fn finish(mut self, threads: NonZeroUsize) -> Result<Model> {
        let mut labels: Vec<(String, usize)> = (self.labels.iter().cloned().enumerate())
            .filter(|&(l, _)| self.class_count[l] > 0)
            .map(|(l, name)| (name, l))
            .collect();
        labels.sort_unstable();
        match labels.as_slice() {
            [] => return Err(Error::Invalid("no training sentences".into())),
            [(only, _)] => {
                return Err(Error::Invalid(format!(
                    "all training sentences have the label {only:?}: a classifier needs at least two labels"
                )));
            }
            _ => {}
        }
        let min_df = self.params.min_df();
        let stem_names = Stemming::names(&self.stems);
        let (names, kept, up) = self.counting.kept(min_df, &stem_names, threads);
        if names.is_empty() {
            return Err(Error::Invalid(format!(
                "the training sentences give no n-gram that occurs in at least {min_df} sentences (lower --min-df)"
            )));
        }
        let class_count = labels.iter().map(|&(_, l)| self.class_count[l]).collect();
        let label_ids: Vec<usize> = labels.iter().map(|&(_, l)| l).collect();
        let labels = labels.into_iter().map(|(name, _)| name).collect();
        let training_data = self.digest.finalize().to_hex().to_string();
        let Self { params, counting, stemming, stems, .. } = self;
        // The sums of the kept n-grams are gathered beside the vocabulary's index, and then the counts of
        // every n-gram seen, pruned ones included, are freed with the stems' tables and names (a quarter of
        // a million strings): on two threads, by the thread that finishes first; on one, before the index
        // is built, so that the two never take memory at once.
        let (stems_counted, kept) = (counting.stem_stats.len(), &kept);
        let (vocabulary, feature_count) = parallel::side_by_side(
            threads,
            // The kept n-grams' trie is the counting's, renumbered: no name need be read again.
            || match KeptTrie::of(kept, up, stems_counted) {
                Some(trie) => Vocabulary::from_sorted_edges(names, &trie.stems, &trie.edges, threads),
                None => Vocabulary::from_sorted(names, threads),
            },
            move || {
                let columns = counting.columns(kept, &label_ids);
                drop((counting, stemming, stems, stem_names));
                columns
            },
        );
        let counts = Counts { class_count, feature_count };
        Model::from_counts(params, vocabulary, labels, counts, training_data)
    }

    /// The index of `label`, added if new.
    fn label(&mut self, label: &str) -> usize {
        if let Some(&l) = self.label_ids.get(label) {
            return l;
        }
        let l = self.labels.len();
        self.labels.push(label.to_owned());
        self.label_ids.insert(label.to_owned(), l);
        self.class_count.push(0);
        l
    }
}

/// A term (an n-gram's name) with a value. Terms sort by name, and a million names compared as strings
/// spend most of the time fetching them from all over the heap for a `memcmp` each: the first 16 bytes
/// of each name, as integers in the array itself, decide nearly every comparison.
#[derive(Debug)]
struct Term<T> {
    head: [u64; 2],
    name: Box<str>,
    value: T,
}

impl<T> Term<T> {
    fn new(name: String, value: T) -> Self {
        // Big-endian and zero-padded, the integers order as the bytes do (a prefix first).
        let mut bytes = [0; 16];
        let n = name.len().min(16);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        let half = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Self { head: [half(0), half(8)], name: name.into_boxed_str(), value }
    }

    /// The term, its name taken from `self` (left empty).
    fn take(&mut self) -> Self
    where
        T: Copy,
    {
        Self { head: self.head, name: std::mem::take(&mut self.name), value: self.value }
    }

    /// Byte order of the names.
    fn by_name(a: &Self, b: &Self) -> Ordering {
        a.head.cmp(&b.head).then_with(|| a.name.cmp(&b.name))
    }
}

/// The first term of a run still to merge; the heap of runs pops the one whose term comes first.
struct Next<T> {
    term: Term<T>,
    run: usize,
}

impl<T> Ord for Next<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        Term::by_name(&other.term, &self.term)
    }
}

impl<T> PartialOrd for Next<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> PartialEq for Next<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl<T> Eq for Next<T> {}

/// Merges runs of terms sorted by name (no name in two runs) into the names and the values of all of
/// them, in name order, on up to `threads` threads: the runs are cut at the same names into one piece per
/// thread, and each piece is merged into its own stretch of the output. The two runs of a 1M-sentence
/// model's 1.67M terms took 90 to 170 ms to merge on one thread, and take 59 to 115 ms on two: as long as
/// moving one run's terms out, most of which is the kernel handing over the output's fresh pages.
fn merge_by_name<T: Copy + Send>(mut runs: Vec<Vec<Term<T>>>, threads: NonZeroUsize) -> (Vec<String>, Vec<T>) {
    let len = runs.iter().map(Vec::len).sum();
    let parts = threads.get().min(len / MERGE_PIECE + 1);
    // Where each run is cut: before the first term not below each of the longest run's evenly spaced names.
    let longest = runs.iter().max_by_key(|run| run.len()).map_or(&[][..], Vec::as_slice);
    let cuts: Vec<Vec<usize>> = (runs.iter())
        .map(|run| {
            let below = |at: &Term<T>| run.partition_point(|term| Term::by_name(term, at).is_lt());
            let inner = (1..parts).map(|part| below(&longest[parallel::part_of(longest.len(), part, parts).start]));
            std::iter::once(0).chain(inner).chain([run.len()]).collect()
        })
        .collect();
    let (mut names, mut values) = (Vec::with_capacity(len), Vec::with_capacity(len));
    let (mut names_left, mut values_left) =
        (&mut names.spare_capacity_mut()[..len], &mut values.spare_capacity_mut()[..len]);
    let mut runs_left: Vec<&mut [Term<T>]> = runs.iter_mut().map(Vec::as_mut_slice).collect();
    let front = "cuts within the slice";
    let pieces: Vec<_> = (0..parts)
        .map(|part| {
            let runs: Vec<&mut [Term<T>]> = (runs_left.iter_mut().zip(&cuts))
                .map(|(left, cut)| left.split_off_mut(..cut[part + 1] - cut[part]).expect(front))
                .collect();
            let piece_len = runs.iter().map(|run| run.len()).sum();
            let names = names_left.split_off_mut(..piece_len).expect(front);
            (runs, names, values_left.split_off_mut(..piece_len).expect(front))
        })
        .collect();
    parallel::each_on_a_thread(pieces, |(runs, names, values)| {
        let mut runs: Vec<_> = runs.into_iter().map(|run| run.iter_mut().map(Term::take)).collect();
        let mut heap: BinaryHeap<Next<T>> =
            (runs.iter_mut().enumerate()).filter_map(|(run, terms)| Some(Next { term: terms.next()?, run })).collect();
        let mut slots = names.iter_mut().zip(values.iter_mut());
        while let Some(Next { term, run }) = heap.pop() {
            let (name, value) = slots.next().expect("a slot for every term of the piece");
            name.write(term.name.into_string());
            value.write(term.value);
            heap.extend(runs[run].next().map(|term| Next { term, run }));
        }
        assert!(slots.next().is_none(), "as many terms as slots");
    });
    // SAFETY: the pieces' stretches of output tile the first `len` slots, and each piece has written every
    // slot of its stretch (its terms are as many, as the assertions check).
    unsafe {
        names.set_len(len);
        values.set_len(len);
    }
    (names, values)
}

/// Terms a merge takes per thread at least: fewer are merged on fewer threads.
const MERGE_PIECE: usize = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{NgramRange, TrainParams};

    #[test]
    fn the_training_data_digest_is_the_hash_of_every_row_in_order_on_any_number_of_threads() {
        // Rows over several batches, a relabel among them.
        let rows: Vec<(String, &str)> =
            (0..3 * Batch::SIZE).map(|i| (format!("row {i} {}", "x".repeat(i % 97)), ["a", "b"][i % 2])).collect();
        let mut expected = Vec::new();
        for (text, label) in &rows {
            expected.extend_from_slice(format!("{text}\0{label}\n").as_bytes());
        }
        expected.extend_from_slice(format!("\x01{}\0b\n", rows[0].0).as_bytes());
        for threads in [1, 2] {
            let mut trainer = Trainer::new(params());
            trainer
                .feed(NonZeroUsize::new(threads).unwrap(), |feeder| {
                    for (text, label) in &rows {
                        feeder.add(text, label)?;
                    }
                    feeder.relabel(&rows[0].0, "a", "b")
                })
                .unwrap();
            let model = trainer.finish(NonZeroUsize::new(threads).unwrap()).unwrap();
            assert_eq!(model.training_data(), blake3::hash(&expected).to_hex().as_str(), "{threads} threads");
        }
    }

    #[test]
    fn terms_sort_and_merge_in_byte_order_of_their_names() {
        let few = ["attack", "at", "attack on", "a", "attacker", "attack of", "", "a\0", "zz", "é", "attack on the"];
        // Enough names for a merge on several threads, cut at names that fall unevenly between the runs.
        let many: Vec<String> = (0..3 * MERGE_PIECE as u64)
            .map(|i| format!("{:x} {}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 50, i % 7))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        for names in [&few[..], &many] {
            let mut expected: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
            expected.sort();
            for (runs, threads) in (1..=5).flat_map(|runs| (1..=4).map(move |threads| (runs, threads))) {
                let runs: Vec<Vec<Term<usize>>> = (0..runs)
                    .map(|run| {
                        let terms = (names.iter().enumerate().skip(run).step_by(runs))
                            .map(|(i, &n)| Term::new(n.to_owned(), i));
                        let mut terms: Vec<_> = terms.collect();
                        terms.sort_unstable_by(Term::by_name);
                        terms
                    })
                    .collect();
                let (merged, values) = merge_by_name(runs, NonZeroUsize::new(threads).unwrap());
                assert!(merged == expected, "{} names, {threads} threads", names.len());
                assert!(merged.iter().zip(values).all(|(name, i)| names[i] == name), "values stay with their names");
            }
        }
    }

    fn params() -> ValidTrainParams {
        TrainParams { min_df: 1, ..TrainParams::default() }.check().unwrap()
    }

    #[test]
    fn relabelling_equals_training_with_the_corrected_label() {
        let mut corrected = Trainer::new(params());
        corrected.add("Kyiv denied it", "blame").unwrap();
        corrected.add("The US warned of an attack", "neutral").unwrap();
        corrected.add("ISIS claimed the attack", "isis").unwrap();
        corrected.relabel("The US warned of an attack", "neutral", "warning").unwrap();
        let corrected = corrected.finish(NonZeroUsize::MIN).unwrap();

        let mut direct = Trainer::new(params());
        direct.add("Kyiv denied it", "blame").unwrap();
        direct.add("The US warned of an attack", "warning").unwrap();
        direct.add("ISIS claimed the attack", "isis").unwrap();
        let direct = direct.finish(NonZeroUsize::MIN).unwrap();
        assert_eq!(corrected.labels(), ["blame", "isis", "warning"], "a label left with no sentence is dropped");
        assert_eq!(corrected.class_count(), direct.class_count());
        assert_eq!(corrected.feature_count(), direct.feature_count());
        assert_eq!(corrected.vocabulary(), direct.vocabulary());
    }

    #[test]
    fn min_df_counts_sentences_not_occurrences() {
        let mut t = Trainer::new(TrainParams { min_df: 2, ..TrainParams::default() }.check().unwrap());
        t.add("warned warned warned", "a").unwrap();
        t.add("Kyiv warned", "b").unwrap();
        t.add("Kyiv", "a").unwrap();
        t.add("Moscow", "b").unwrap();
        let model = t.finish(NonZeroUsize::MIN).unwrap();
        assert_eq!(model.vocabulary().terms(), ["kyiv", "warn"]);
        assert_eq!(model.feature_count()[0][1], 3.0, "every occurrence counts once the n-gram is kept");
    }

    #[test]
    fn more_threads_count_and_finish_as_one_does() {
        let sentences: Vec<(String, &str)> = (0..20_000)
            .map(|i| {
                (
                    format!("Kyiv denied claim {} of attack {} warned {}", i % 97, i % 13, i % 1000),
                    ["a", "b", "c"][i % 3],
                )
            })
            .collect();
        let train = |threads: usize| {
            let mut trainer = Trainer::new(params());
            trainer
                .feed(NonZeroUsize::new(threads).unwrap(), |feeder| {
                    for (i, (text, label)) in sentences.iter().enumerate() {
                        feeder.add(text, label)?;
                        if i % 1000 == 999 {
                            feeder.relabel(text, label, "d")?;
                        }
                    }
                    Ok(())
                })
                .unwrap();
            trainer.finish(NonZeroUsize::new(threads).unwrap()).unwrap()
        };
        let one = train(1);
        for threads in [2, 3] {
            let more = train(threads);
            assert_eq!(one, more);
            assert_eq!(one.training_data(), more.training_data());
            assert_eq!(one.to_bytes(), more.to_bytes(), "{threads} threads");
        }
        assert_eq!(one.class_count()[3], 20);
    }

    #[test]
    fn the_model_does_not_depend_on_the_order_in_which_stems_got_their_ids() {
        // On two threads, which thread meets a stem first changes its id from run to run.
        let sentences: Vec<(String, &str)> = (0..3_000)
            .map(|i| (format!("Kyiv denied claim {} of attack {} warned", i % 97, i % 13), ["a", "b", "c"][i % 3]))
            .collect();
        let train = |stems: StrMap| {
            let mut trainer = Trainer::new(params());
            trainer.stems = stems;
            for (text, label) in &sentences {
                trainer.add(text, label).unwrap();
            }
            let names = Stemming::names(&trainer.stems);
            (trainer.finish(NonZeroUsize::MIN).unwrap().to_bytes(), names)
        };
        let (model, names) = train(StrMap::default());
        assert!(names.len() > 5, "{names:?}");
        // The same stems, numbered the other way round.
        let mut backwards = StrMap::default();
        for (id, stem) in names.iter().rev().enumerate() {
            backwards.insert(stem, id as u32);
        }
        let (again, renumbered) = train(backwards);
        assert_eq!(renumbered.iter().rev().collect::<Vec<_>>(), names.iter().collect::<Vec<_>>());
        assert!(again == model, "another model from other stem ids");
    }

    #[test]
    fn the_vocabulary_from_the_counting_trie_is_the_one_its_terms_give() {
        // Words of letters only (digits are not words): "ba", "bb", ... for 0, 1, ...
        let word = |i: usize| format!("{}{}", char::from(b'b' + (i / 26) as u8), char::from(b'a' + (i % 26) as u8));
        let sentences: Vec<String> = (0..5_000)
            .map(|i| format!("Kyiv {} denied {} the attack {}", word(i % 7), word(i % 31), word(i % 500)))
            .collect();
        for (ngrams, min_df) in [((1, 3), 1), ((1, 2), 3), ((2, 3), 2), ((3, 3), 1)] {
            let ngrams = NgramRange::new(ngrams.0, ngrams.1).unwrap();
            let mut trainer = Trainer::new(TrainParams { min_df, ngrams, ..TrainParams::default() }.check().unwrap());
            for (i, text) in sentences.iter().enumerate() {
                trainer.add(text, ["a", "b"][i % 2]).unwrap();
            }
            let model = trainer.finish(NonZeroUsize::new(2).unwrap()).unwrap();
            // The names training gave the terms, not names read back from its trie.
            let terms = model.vocabulary().terms().to_vec();
            assert!(terms.len() > 500, "{ngrams}: {} terms", terms.len());
            let parsed = Vocabulary::from_sorted(terms, NonZeroUsize::MIN).stored();
            assert!(model.vocabulary().stored() == parsed, "{ngrams}, min_df {min_df}: another trie");
        }
    }

    #[test]
    fn training_needs_two_labels_and_a_vocabulary() {
        let mut t = Trainer::new(params());
        t.add("only one", "a").unwrap();
        assert!(t.finish(NonZeroUsize::MIN).unwrap_err().to_string().contains("at least two labels"));
        assert!(
            Trainer::new(params()).finish(NonZeroUsize::MIN).unwrap_err().to_string().contains("no training sentences")
        );
        let mut t = Trainer::new(TrainParams { min_df: 3, ..TrainParams::default() }.check().unwrap());
        t.add("one", "a").unwrap();
        t.add("two", "b").unwrap();
        assert!(t.finish(NonZeroUsize::MIN).unwrap_err().to_string().contains("lower --min-df"));
    }
}
