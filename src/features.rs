//! Features: word n-grams over stems, a vocabulary of them, sparse count rows.
//!
//! An n-gram is named by its stems joined by one space (`"pin blame"`), but on the hot path it is never
//! built as a string: stems and n-grams are nodes of a [`GramTrie`], a word is mapped to its stem's node
//! once per featurizer (a cache keyed by the raw word, which skips normalising and stemming), and the
//! bigram `a b` is the child of node `a` by stem `b`, found by hashing two ids. Rows are sparse
//! `(feature id, value)` lists sorted by id: a sentence touches a few dozen features out of tens of
//! thousands, so nothing ever builds a dense row over the whole vocabulary.

mod flat;
mod shared;
mod stems;

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use flat::{BulkFill, FlatKey, FlatMap, Regrow};
pub use shared::SharedWords;
pub use stems::StemList;

use crate::memory::Buffer;
use crate::parallel::{self, Pieces};
use crate::params::{FeatureOptions, MAX_NGRAM};
use crate::text::tokens::{Tokenizer, words};

/// A sparse feature row: `(feature id, value)` pairs sorted by id, each id once.
pub type SparseRow = Vec<(u32, f64)>;

/// Word code of a stop word: dropped before n-grams are formed, so its neighbours become adjacent.
pub const STOP_WORD: u32 = u32::MAX;

/// Word code of a stem that no n-gram of the vocabulary contains: it breaks n-grams.
pub const UNKNOWN_STEM: u32 = u32::MAX - 1;

/// Sentences worth taking through each stage of featurizing together (see [`Featurizer::features_all`]):
/// enough for their cache misses to overlap, few enough for the lines they fetch to stay in the cache. 8
/// and 16 measured alike.
pub const SENTENCES_AT_ONCE: usize = 8;

/// The most nodes a trie can hold (ids above are the word codes).
pub const MAX_NODES: usize = (u32::MAX - 1) as usize;

/// A map from strings to `u32` values that is fast for short strings: a key of 1 to 15 bytes
/// (nearly every word and stem) is packed into one `u128` in a [`FlatMap`], so a lookup hashes and
/// compares two machine words instead of a string; longer keys (and the empty one) go to an ordinary map.
#[derive(Debug, Clone, Default)]
pub struct StrMap {
    short: FlatMap<u128>,
    long: FxHashMap<Box<str>, u32>,
}

/// Packed form of a string that is not short (see [`pack`]).
const LONG: u128 = 0;

/// A string of 1 to 15 bytes as a `u128`: its bytes, then its length in the last byte (so no two
/// strings share a key); [`LONG`] for any other string.
fn pack(key: &str) -> u128 {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 15 {
        return LONG;
    }
    let mut packed = [0u8; 16];
    packed[..bytes.len()].copy_from_slice(bytes);
    packed[15] = bytes.len() as u8;
    u128::from_le_bytes(packed)
}

impl StrMap {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<u32> {
        self.get_packed(pack(key), key)
    }

    /// The value of `key`, packed already as `packed`.
    fn get_packed(&self, packed: u128, key: &str) -> Option<u32> {
        match packed {
            LONG => self.long.get(key).copied(),
            short => self.short.get(short),
        }
    }

    /// Sets the value of `key`.
    pub fn insert(&mut self, key: &str, value: u32) {
        self.insert_packed(pack(key), key, value);
    }

    /// Sets the value of `key`, packed already as `packed`.
    fn insert_packed(&mut self, packed: u128, key: &str, value: u32) {
        match packed {
            LONG => _ = self.long.insert(key.into(), value),
            short => self.short.insert(short, value),
        }
    }

    /// Makes room for `additional` more keys (as short keys, the usual case).
    pub fn reserve(&mut self, additional: usize) {
        self.short.reserve(additional);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
    }

    /// Every key and its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (String, u32)> + '_ {
        let short = self.short.iter().map(|(key, value)| {
            let bytes = key.to_le_bytes();
            let text = std::str::from_utf8(&bytes[..usize::from(bytes[15])]).expect("keys are strings");
            (text.to_owned(), value)
        });
        short.chain(self.long.iter().map(|(key, &value)| (key.to_string(), value)))
    }
}

/// Stems and n-grams as a trie of `u32` nodes: every stem is a node, and the n-gram `a b c` is the child of
/// `a b` by the stem `c`. Children are found by hashing (parent, stem) as one `u64`.
#[derive(Debug, Clone, Default)]
pub struct GramTrie {
    stems: StrMap,
    children: FlatMap<u64>,
    nodes: u32,
}

/// The key of the trie edge from `parent` by `stem` (never `u64::MAX`: a stem is never [`STOP_WORD`]).
pub fn edge(parent: u32, stem: u32) -> u64 {
    (u64::from(parent) << 32) | u64::from(stem)
}

impl GramTrie {
    /// Number of nodes (stems and longer n-grams).
    pub fn len(&self) -> usize {
        self.nodes as usize
    }

    /// Whether the trie is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    /// A trie of `nodes` nodes (see [`GramTrie::len`]), no edges yet, with the stems `stems` and their nodes.
    fn of_stems<'s>(nodes: usize, stems: impl Iterator<Item = (&'s str, u32)> + Clone) -> Self {
        let mut trie = Self { nodes: nodes as u32, ..Self::default() };
        trie.stems.reserve(stems.clone().count());
        for (stem, node) in stems {
            trie.stems.insert(stem, node);
        }
        trie
    }

    /// The node of a stem, if known.
    pub fn stem(&self, stem: &str) -> Option<u32> {
        self.stems.get(stem)
    }

    /// The node of `parent` extended by the stem node `stem`, if known.
    pub fn child(&self, parent: u32, stem: u32) -> Option<u32> {
        self.children.get(edge(parent, stem))
    }

    /// Takes the next node id from `nodes`.
    fn new_node(nodes: &mut u32) -> u32 {
        assert!((*nodes as usize) < MAX_NODES, "an n-gram trie holds at most {MAX_NODES} nodes");
        *nodes += 1;
        *nodes - 1
    }

    /// The node of a stem, added if new.
    pub fn intern_stem(&mut self, stem: &str) -> u32 {
        if let Some(node) = self.stems.get(stem) {
            return node;
        }
        let node = Self::new_node(&mut self.nodes);
        self.stems.insert(stem, node);
        node
    }

    /// The node of `parent` extended by `stem`, added if new.
    pub fn intern_child(&mut self, parent: u32, stem: u32) -> u32 {
        let nodes = &mut self.nodes;
        self.children.get_or_insert_with(edge(parent, stem), || Self::new_node(nodes))
    }

    /// The node of an n-gram given by its stems, if known.
    pub fn find<'s>(&self, stems: impl IntoIterator<Item = &'s str>) -> Option<u32> {
        let mut node = None;
        for stem in stems {
            let stem = self.stem(stem)?;
            node = Some(match node {
                None => stem,
                Some(parent) => self.child(parent, stem)?,
            });
        }
        node
    }
}

/// A Bloom filter (one hash, 16 bits per edge) over the child edges of a trie. On new text most
/// adjacent stem pairs are not in the vocabulary; the filter, small enough to stay in cache, rules most of
/// them out without touching the trie's much larger child map.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeFilter {
    bits: Buffer<u64>,
    shift: u32,
}

impl EdgeFilter {
    const BITS_PER_EDGE: usize = 16;

    fn new(edges: impl IntoIterator<Item = u64>, count: usize) -> Self {
        let bits = (count * Self::BITS_PER_EDGE).next_power_of_two().max(64);
        let mut filter = Self { bits: Buffer::zeroed(bits / 64), shift: 64 - bits.trailing_zeros() };
        for edge in edges {
            let bit = filter.bit(edge);
            filter.bits[bit / 64] |= 1 << (bit % 64);
        }
        filter
    }

    /// The edge's bit: the top bits of a multiplicative hash.
    fn bit(&self, edge: u64) -> usize {
        (edge.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// The word holding the edge's bit, for [`prefetch`].
    fn word_of(&self, edge: u64) -> &u64 {
        &self.bits[self.bit(edge) / 64]
    }

    /// False when the edge is certainly absent.
    fn may_contain(&self, edge: u64) -> bool {
        let bit = self.bit(edge);
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// A stored vocabulary indexed in stages, so that a loader can index its stems as soon as they are read
/// and its children once their section is, with other threads helping to fill the child table:
/// `StemIndex::new(..)?.with_children(..)`. Each stage checks its part (see [`Vocabulary::from_stored`]).
pub(crate) struct StemIndex {
    /// The stems indexed; no children yet.
    trie: GramTrie,
    terms: u32,
    /// The stems' nodes, in order.
    stem_nodes: Vec<u32>,
}

impl StemIndex {
    /// Indexes the stem nodes of a stored vocabulary of `terms` terms that has `children` other nodes.
    pub(crate) fn new(terms: u32, stems: &StemList, children: usize) -> Result<Self, String> {
        let nodes = stems.len() + children;
        if nodes >= MAX_NODES {
            return Err("vocabulary has more than 2^32 n-grams".into());
        }
        if terms as usize > nodes {
            return Err(format!("vocabulary has {terms} terms but {nodes} n-grams"));
        }
        let mut trie = GramTrie { nodes: nodes as u32, ..GramTrie::default() };
        trie.stems.reserve(stems.len());
        let mut stem_nodes = Vec::with_capacity(stems.len());
        for (node, stem) in stems.iter() {
            if stem_nodes.last().is_some_and(|&last| node <= last) || node as usize >= nodes {
                return Err(format!("stem node {node} is out of order or out of range"));
            }
            if stem.is_empty() || stem.contains(' ') || trie.stems.get(stem).is_some() {
                return Err(format!("stem {stem:?} is empty, holds a space or comes twice"));
            }
            trie.stems.insert(stem, node);
            stem_nodes.push(node);
        }
        Ok(Self { trie, terms, stem_nodes })
    }

    /// Adds the other nodes, `(parent, stem)` by id, checking that they form a trie over the stems.
    pub(crate) fn with_children(self, children: Vec<(u32, u32)>) -> Result<Vocabulary, String> {
        self.filling_children(children, |_| ())?.finish()
    }

    /// [`StemIndex::with_children`] in two steps, so that other threads can help: checks the children
    /// and fills the trie's child table, after handing the fill to `share` (other threads may then fill
    /// ranges of it too, see [`BulkFill`], while this one builds the filter over the edges);
    /// [`FillingIndex::finish`] completes it once they are done.
    pub(crate) fn filling_children(
        self,
        children: Vec<(u32, u32)>,
        share: impl FnOnce(&Arc<BulkFill<u64>>),
    ) -> Result<FillingIndex, String> {
        let Self { mut trie, terms, stem_nodes } = self;
        let nodes = trie.len();
        assert_eq!(stem_nodes.len() + children.len(), nodes, "as many children as StemIndex::new was told");
        // The scratch tables are buffers on huge pages: a large model has millions of nodes.
        let mut parents_buffer = Buffer::<u32>::zeroed(nodes);
        let parents = &mut *parents_buffer;
        for &node in &stem_nodes {
            parents[node as usize] = NO_PARENT;
        }
        // The children are the nodes that are not stems, in id order.
        // (stems are distinct nodes, so there are exactly as many as stored children).
        let mut child_nodes = Buffer::<u32>::zeroed(children.len());
        let not_stems = (0..nodes as u32).filter(|&node| parents[node as usize] != NO_PARENT);
        for (slot, node) in child_nodes.iter_mut().zip(not_stems) {
            *slot = node;
        }
        for (&node, &(parent, stem)) in child_nodes.iter().zip(&children) {
            if parent as usize >= nodes || parents.get(stem as usize) != Some(&NO_PARENT) {
                return Err(format!("n-gram node {node} extends node {parent} by node {stem}, which is not a stem"));
            }
        }
        for (&node, &(parent, _)) in child_nodes.iter().zip(&children) {
            parents[node as usize] = parent;
        }
        // Every node must reach a stem within MAX_NGRAM - 1 steps (which also rules out cycles).
        for start in 0..nodes {
            let mut node = start;
            for _ in 1..MAX_NGRAM {
                node = match parents[node] {
                    NO_PARENT => break,
                    parent => parent as usize,
                };
            }
            if parents[node] != NO_PARENT {
                return Err(format!("n-gram node {start} is longer than {MAX_NGRAM} stems or part of a cycle"));
            }
        }
        // Each scratch table is freed as soon as it has served, before the next large table is touched:
        // the kernel hands the freed pages to it, where a load that kept them would touch fresh memory.
        drop(parents_buffer);
        let entries = child_nodes.iter().zip(&children).map(|(&node, &(parent, stem))| (edge(parent, stem), node));
        let fill = Arc::new(BulkFill::new(std::mem::take(&mut trie.children), entries));
        let count = children.len();
        drop((child_nodes, children));
        share(&fill);
        // From the fill's copy of the edges, while the threads it was shared with fill the table.
        let edges = EdgeFilter::new(fill.keys(), count);
        fill.work_all();
        Ok(FillingIndex { trie, terms, fill, children: count, edges })
    }
}

/// A stored vocabulary's trie whose child table is being filled (see [`StemIndex::filling_children`]).
pub(crate) struct FillingIndex {
    trie: GramTrie,
    terms: u32,
    fill: Arc<BulkFill<u64>>,
    children: usize,
    edges: EdgeFilter,
}

impl FillingIndex {
    /// The vocabulary, checked, once no other thread fills its child table.
    pub(crate) fn finish(self) -> Result<Vocabulary, String> {
        let Self { mut trie, terms, fill, children, edges } = self;
        let fill = Arc::into_inner(fill).expect("the threads that helped with the fill have let it go");
        trie.children = fill.into_map();
        if trie.children.len() != children {
            return Err("vocabulary holds an n-gram twice".into());
        }
        Ok(Vocabulary::new(terms as usize, TermIndex { trie, edges }, OnceLock::new()))
    }
}

/// Asks the CPU to fetch `places` from tables too large for the cache, in a tight loop before the lookups
/// that branch on them (or that do more work per place): the misses overlap, where a lookup loop waits for
/// each in turn. A prefetch, unlike a load, never holds up the instructions after it while its line is on
/// the way, so all the words, stem pairs, trie slots or log-probability rows of a few sentences are fetched
/// at once (100 MB take 12% less time on one thread with the benchmark model than with plain loads, which
/// made 5-10% less than no fetching ahead). Other architectures fetch nothing ahead: the lookups are the
/// same.
pub(crate) fn prefetch<'a, T: 'a>(places: impl Iterator<Item = &'a T>) {
    #[cfg(target_arch = "x86_64")]
    for place in places {
        // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has, and a prefetch never faults, reads
        // nothing into the program and writes nothing: it only moves a line of a live reference's memory
        // closer to the core.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((place as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = places;
}

/// Calls `emit` with the node of every n-gram of `tokens` whose order is in `min..=max`, in text order,
/// shortest first at each position. `child` finds (or makes) the node of an n-gram extended by a stem;
/// an [`UNKNOWN_STEM`] token, or a missing child, ends the n-grams at that position.
pub fn for_each_gram(
    tokens: &[u32],
    (min, max): (usize, usize),
    mut child: impl FnMut(u32, u32) -> Option<u32>,
    mut emit: impl FnMut(u32),
) {
    for start in 0..tokens.len() {
        let mut node = tokens[start];
        if node == UNKNOWN_STEM {
            continue;
        }
        if min == 1 {
            emit(node);
        }
        for (n, &stem) in tokens[start + 1..].iter().take(max - 1).enumerate() {
            match (stem != UNKNOWN_STEM).then(|| child(node, stem)).flatten() {
                Some(next) => node = next,
                None => break,
            }
            if n + 2 >= min {
                emit(node);
            }
        }
    }
}

/// Caches the code of every raw word seen (its stem's node, [`STOP_WORD`] or [`UNKNOWN_STEM`]) for one
/// trie: a hit skips lower-casing, normalising and stemming. Given a [`SharedWords`] table, it looks
/// words up there first and caches new ones there, so threads stem each word once between them; it keeps
/// only what the shared table has no room for (and words too long to pack). A bounded cache holds up to
/// its limit of words in one table allocated at full size, and starts afresh when full: the frequent
/// words come back within a few sentences, and memory is the same on any input, small or large (a cache
/// that kept an older generation beside the current one would add a second table only on large inputs).
#[derive(Debug)]
pub struct WordCache {
    words: StrMap,
    limit: usize,
    owner: u64,
    /// The current sentences' words: start, end and packed form.
    pending: Vec<(u32, u32, u128)>,
    /// Where each current sentence's words end in `pending`, then where its codes end in the output.
    ends: Vec<usize>,
}

impl Default for WordCache {
    fn default() -> Self {
        Self::bounded(Self::LIMIT)
    }
}

impl WordCache {
    /// Words held by default: a 4 MB table, beside a shared table that holds the first
    /// [`Vocabulary::SHARED_WORDS`] words of a run.
    pub const LIMIT: usize = 1 << 16;

    /// A cache of at most `limit` words.
    pub fn bounded(limit: usize) -> Self {
        Self { words: StrMap::default(), limit, owner: 0, pending: Vec::new(), ends: Vec::new() }
    }

    /// A cache that keeps every word: for training, whose memory follows the vocabulary anyway.
    pub fn unbounded() -> Self {
        Self::bounded(usize::MAX)
    }

    /// Makes sure the cache holds codes for the trie identified by `owner` (forgets them if not).
    pub fn serve(&mut self, owner: u64) {
        if self.owner != owner {
            self.words.clear();
            self.owner = owner;
        }
    }

    /// Appends the codes of `sentence`'s words to `out`, stop words left out; a word not cached (here or
    /// in `shared`, which must serve the same trie and tokenizer settings) is stemmed by `tokenizer` and
    /// its stem resolved by `resolve`.
    pub fn encode(
        &mut self,
        sentence: &str,
        tokenizer: &Tokenizer,
        shared: Option<&SharedWords>,
        resolve: impl FnMut(&str) -> u32,
        out: &mut Vec<u32>,
    ) {
        self.encode_all(&[sentence], tokenizer, shared, resolve, out);
    }

    /// [`WordCache::encode`] for each of `sentences` in turn, with the cache slots of all their words
    /// fetched at once; [`WordCache::ends`] then tells where each sentence's codes end in `out`.
    pub fn encode_all(
        &mut self,
        sentences: &[&str],
        tokenizer: &Tokenizer,
        shared: Option<&SharedWords>,
        mut resolve: impl FnMut(&str) -> u32,
        out: &mut Vec<u32>,
    ) {
        let Self { words: cache, limit, pending, ends, .. } = self;
        pending.clear();
        ends.clear();
        for sentence in sentences {
            pending.extend(words(sentence).map(|w| (w.span.start as u32, w.span.end as u32, pack(w.text))));
            ends.push(pending.len());
        }
        match shared {
            Some(shared) => prefetch(pending.iter().map(|&(_, _, packed)| shared.first_word(packed))),
            None => prefetch(pending.iter().map(|&(_, _, packed)| cache.short.first_word(packed))),
        }
        let mut first = 0;
        for (sentence, end) in sentences.iter().zip(ends.iter_mut()) {
            for &(start, stop, packed) in &pending[first..*end] {
                let word = &sentence[start as usize..stop as usize];
                let shared = shared.filter(|_| packed != LONG);
                let cached = shared.and_then(|shared| shared.get(packed)).or_else(|| cache.get_packed(packed, word));
                let code = cached.unwrap_or_else(|| {
                    let code = tokenizer.stem(word).map_or(STOP_WORD, |stem| resolve(&stem));
                    if !shared.is_some_and(|shared| shared.insert(packed, code)) {
                        Self::keep(cache, *limit, packed, word, code);
                    }
                    code
                });
                if code != STOP_WORD {
                    out.push(code);
                }
            }
            first = *end;
            *end = out.len();
        }
    }

    /// Where the codes of each sentence of the last [`WordCache::encode_all`] end in its `out`.
    pub fn ends(&self) -> &[usize] {
        &self.ends
    }

    /// Caches the code of `word` (packed as `packed`) in `words`, which holds up to `limit` words and
    /// starts afresh when full.
    fn keep(words: &mut StrMap, limit: usize, packed: u128, word: &str, code: u32) {
        if words.len() >= limit {
            words.clear();
        }
        if limit != usize::MAX && words.is_empty() {
            // Full size at once: the table never rehashes, and its memory is the same however many words
            // arrive (the kernel hands the pages over as they are touched).
            words.reserve(limit);
        }
        words.insert_packed(packed, word, code);
    }
}

/// Gives every vocabulary a distinct identity, so a featurizer's word cache is never read against a
/// vocabulary it was not filled for.
static NEXT_VOCABULARY: AtomicU64 = AtomicU64::new(1);

/// The n-grams known to a model, each with its id. Ids follow the terms' sorted order.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    len: usize,
    index: TermIndex,
    /// The terms by id: given when trained, rebuilt from the index on first use when loaded (classifying
    /// never needs them, and a million strings are a tenth of a second and a hundred megabytes).
    terms: OnceLock<Vec<String>>,
    identity: u64,
    /// The word caches its featurizers share, one per stop-word setting (which changes words' codes).
    shared_words: [OnceLock<SharedWords>; 2],
}

/// A vocabulary as a model file stores it: its trie, without the term names. Nodes `0..terms` are the
/// terms, in id order; the nodes after them are prefixes of terms that are not terms themselves. A node
/// is a stem, or the n-gram of its parent node followed by a stem node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVocabulary {
    /// Number of terms.
    pub terms: u32,
    /// Every stem node (id, stem), by id.
    pub stems: StemList,
    /// Every other node (parent node, stem node), by id.
    pub children: Vec<(u32, u32)>,
}

/// The terms as a trie whose node for a term is its id, with a filter over its edges.
#[derive(Debug, Clone)]
struct TermIndex {
    /// Terms and their prefixes; a term's node is its id.
    trie: GramTrie,
    /// The trie's child edges, to skip lookups of pairs that are not there.
    edges: EdgeFilter,
}

impl PartialEq for Vocabulary {
    fn eq(&self, other: &Self) -> bool {
        self.terms() == other.terms()
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self::from_sorted(Vec::new(), NonZeroUsize::MIN)
    }
}

impl Vocabulary {
    /// A vocabulary from sorted, unique, well-formed terms (stems joined by single spaces).
    pub(crate) fn from_sorted(terms: Vec<String>, threads: NonZeroUsize) -> Self {
        Self::new(terms.len(), TermIndex::new(&terms, threads), OnceLock::from(terms))
    }

    /// [`Vocabulary::from_sorted`] when the trie's edges are known, so that no term is parsed: `stems` are
    /// the ids of the terms of one stem, `edges` the edge to every other term (the ids of its parent and
    /// its last stem, both terms) with the term's id.
    pub(crate) fn from_sorted_edges(
        terms: Vec<String>,
        stems: &[u32],
        edges: &[(u64, u32)],
        threads: NonZeroUsize,
    ) -> Self {
        let mut trie = GramTrie::of_stems(terms.len(), stems.iter().map(|&id| (&*terms[id as usize], id)));
        trie.children.extend(edges.iter().copied(), threads);
        Self::new(terms.len(), TermIndex::filtered(trie), OnceLock::from(terms))
    }

    /// A vocabulary of `len` terms indexed by `index`, with a new identity and empty shared word caches.
    fn new(len: usize, index: TermIndex, terms: OnceLock<Vec<String>>) -> Self {
        let identity = NEXT_VOCABULARY.fetch_add(1, Ordering::Relaxed);
        Self { len, index, terms, identity, shared_words: Default::default() }
    }

    /// A vocabulary from its stored form, checked: ids in range, each stem and each n-gram once, every
    /// n-gram at most [`MAX_NGRAM`] stems long. (The model loader does the same in stages, spread over
    /// threads.)
    pub fn from_stored(stored: &StoredVocabulary) -> Result<Self, String> {
        Self::from_stored_parts(stored.terms, &stored.stems, stored.children.clone())
    }

    /// [`Vocabulary::from_stored`] from the parts of a stored vocabulary.
    pub fn from_stored_parts(terms: u32, stems: &StemList, children: Vec<(u32, u32)>) -> Result<Self, String> {
        StemIndex::new(terms, stems, children.len())?.with_children(children)
    }

    /// The stored form (stems and children by node id, so the same vocabulary always gives the same form).
    pub fn stored(&self) -> StoredVocabulary {
        let mut stems: Vec<(u32, String)> = self.index.trie.stems.iter().map(|(stem, node)| (node, stem)).collect();
        stems.sort_unstable();
        let stems = stems.into_iter().collect();
        // Each node's edge, put in place by node id (a stem has none: never an edge, `u64::MAX` marks it).
        let mut edges = vec![u64::MAX; self.index.trie.len()];
        for (edge, node) in self.index.trie.children.iter() {
            edges[node as usize] = edge;
        }
        let children = edges.into_iter().filter(|&edge| edge != u64::MAX);
        let children = children.map(|edge| ((edge >> 32) as u32, edge as u32)).collect();
        StoredVocabulary { terms: self.len as u32, stems, children }
    }

    /// Words the shared word cache of a vocabulary holds (an 8 MB table): the first words of a run,
    /// which are nearly all the frequent ones.
    pub const SHARED_WORDS: usize = 1 << 17;

    /// The word cache shared by the featurizers of this vocabulary that have the stop-word setting
    /// `stop_words`.
    fn shared_words(&self, stop_words: bool) -> &SharedWords {
        self.shared_words[usize::from(stop_words)].get_or_init(|| SharedWords::new(Self::SHARED_WORDS))
    }

    /// The feature id of a trie node: the node itself when it is a term.
    fn feature(&self, node: u32) -> Option<u32> {
        ((node as usize) < self.len).then_some(node)
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The terms in id order.
    pub fn terms(&self) -> &[String] {
        self.terms.get_or_init(|| self.index.names(self.len))
    }

    /// The id of `term`, if known.
    pub fn get(&self, term: &str) -> Option<u32> {
        let node = self.index.trie.find(term.split(' '))?;
        self.feature(node)
    }
}

/// No parent: the node is a stem.
const NO_PARENT: u32 = u32::MAX;

impl TermIndex {
    /// Indexes sorted, unique, well-formed terms, on up to `threads` threads. A term's node is its id, so
    /// a node found on the hot path is its feature id with no further lookup; prefixes that are not terms
    /// get the ids after the last term.
    fn new(terms: &[String], threads: NonZeroUsize) -> Self {
        // Each term's order, counted once: every pass below would otherwise fetch every name again, and a
        // million names scattered over the heap cost a cache miss each.
        let orders: Vec<u8> = parallel::in_parts(threads, |part, parts| {
            let orders = terms[parallel::part_of(terms.len(), part, parts)]
                .iter()
                .map(|term| term.bytes().filter(|&b| b == b' ').count() + 1);
            orders.map(|n| u8::try_from(n).expect("terms of at most 255 stems")).collect::<Vec<_>>()
        })
        .concat();
        let orders = &orders;
        let of_order = |n: u8, ids: Range<usize>| ids.filter(move |&id| orders[id] == n).map(|id| (id, &*terms[id]));
        let unigrams = of_order(1, 0..terms.len()).map(|(id, term)| (term, id as u32));
        let mut trie = GramTrie::of_stems(terms.len(), unigrams);
        // Order by order, so that every prefix of a term is in the trie before the term: the edges of one
        // order are gathered first and then inserted in bulk (see `FlatMap::extend`). Each thread finds
        // the edges of the terms of its part whose prefix and stems are in the trie already (all of them
        // when every prefix of a term is a term, as with unigrams); the nodes the other terms lack are then
        // added here, in term order, so that they get the ids one thread would give them.
        for n in 2..=orders.iter().copied().max().unwrap_or(1) {
            let found = parallel::in_parts(threads, |part, parts| {
                let (mut edges, mut missing) = (Vec::new(), Vec::new());
                // Sorted terms come in runs that share their first stem: look it up once per run.
                let mut head: Option<(&str, u32)> = None;
                for (id, term) in of_order(n, parallel::part_of(terms.len(), part, parts)) {
                    let (prefix, last) = term.rsplit_once(' ').expect("a term of two or more stems");
                    let mut stems = prefix.split(' ');
                    let first = stems.next().unwrap_or_default();
                    let node = match head {
                        Some((stem, node)) if stem == first => Some(node),
                        _ => trie.stem(first),
                    };
                    head = node.map(|node| (first, node));
                    let node =
                        node.and_then(|node| stems.try_fold(node, |node, stem| trie.child(node, trie.stem(stem)?)));
                    match node.zip(trie.stem(last)) {
                        Some((node, last)) => edges.push((edge(node, last), id as u32)),
                        None => missing.push(id),
                    }
                }
                (edges, missing)
            });
            let (mut edges, missing): (Vec<_>, Vec<_>) = found.into_iter().unzip();
            let mut added = Vec::new();
            for id in missing.into_iter().flatten() {
                let (prefix, last) = terms[id].rsplit_once(' ').expect("a term of two or more stems");
                let mut stems = prefix.split(' ');
                let first = trie.intern_stem(stems.next().unwrap_or_default());
                let node = stems.fold(first, |node, stem| {
                    let stem = trie.intern_stem(stem);
                    trie.intern_child(node, stem)
                });
                added.push((edge(node, trie.intern_stem(last)), id as u32));
            }
            edges.push(added);
            trie.children.extend(edges.into_iter().flatten(), threads);
        }
        Self::filtered(trie)
    }

    /// The index of `trie`, with the filter over its edges.
    fn filtered(trie: GramTrie) -> Self {
        let edges = EdgeFilter::new(trie.children.iter().map(|(edge, _)| edge), trie.children.len());
        Self { trie, edges }
    }

    /// The names of the first `terms` nodes: stems joined by spaces.
    fn names(&self, terms: usize) -> Vec<String> {
        let nodes = self.trie.len();
        let mut names = vec![String::new(); nodes];
        let mut links = vec![(NO_PARENT, NO_PARENT); nodes];
        for (stem, node) in self.trie.stems.iter() {
            names[node as usize] = stem;
        }
        for (edge, node) in self.trie.children.iter() {
            links[node as usize] = ((edge >> 32) as u32, edge as u32);
        }
        // A node's name is its parent's, a space and its last stem: name the parents first.
        let mut chain = Vec::new();
        for start in 0..terms {
            let mut node = start;
            while names[node].is_empty() {
                chain.push(node);
                node = links[node].0 as usize;
            }
            while let Some(node) = chain.pop() {
                let (parent, stem) = links[node];
                names[node] = format!("{} {}", names[parent as usize], names[stem as usize]);
            }
        }
        names.truncate(terms);
        names
    }
}

/// Turns sentences into sparse rows over a vocabulary. Keeps buffers and a word cache: one per thread.
#[derive(Debug)]
pub struct Featurizer {
    options: FeatureOptions,
    tokenizer: Tokenizer,
    words: WordCache,
    tokens: Vec<u32>,
    ids: Vec<u32>,
    /// The rows of the last sentences featurized.
    rows: Vec<SparseRow>,
}

impl Featurizer {
    /// A featurizer for `options`.
    pub fn new(options: FeatureOptions) -> Self {
        Self {
            options,
            tokenizer: Tokenizer::new(options.stop_words),
            words: WordCache::default(),
            tokens: Vec::new(),
            ids: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// The options this featurizer applies.
    pub fn options(&self) -> FeatureOptions {
        self.options
    }

    /// The sparse row of `sentence` over `vocabulary`, in a buffer reused by the next call; n-grams outside
    /// the vocabulary are ignored.
    pub fn features(&mut self, sentence: &str, vocabulary: &Vocabulary) -> &SparseRow {
        &self.features_all(&[sentence], vocabulary)[0]
    }

    /// The sparse rows of `sentences` over `vocabulary` (see [`Featurizer::features`]), in buffers reused by
    /// the next call. Each stage is done for all the sentences before the next stage, so the cache misses of
    /// a few sentences' lookups overlap where one sentence's alone would each wait in turn.
    pub fn features_all(&mut self, sentences: &[&str], vocabulary: &Vocabulary) -> &[SparseRow] {
        let Self { options, tokenizer, words, tokens, ids, rows } = self;
        words.serve(vocabulary.identity);
        tokens.clear();
        let TermIndex { trie, edges } = &vocabulary.index;
        let shared = vocabulary.shared_words(options.stop_words);
        words.encode_all(sentences, tokenizer, Some(shared), |stem| trie.stem(stem).unwrap_or(UNKNOWN_STEM), tokens);
        let starts = std::iter::once(0).chain(words.ends().iter().copied());
        let each = || starts.clone().zip(words.ends()).map(|(start, &end)| &tokens[start..end]);
        let pairs = || each().flat_map(|tokens| tokens.windows(2).map(|pair| edge(pair[0], pair[1])));
        prefetch(pairs().map(|pair| edges.word_of(pair)));
        prefetch(pairs().filter(|&pair| edges.may_contain(pair)).map(|pair| trie.children.first_word(pair)));
        let orders = (options.ngrams.min(), options.ngrams.max());
        let child = |parent, stem| {
            let known = edges.may_contain(edge(parent, stem));
            known.then(|| trie.child(parent, stem)).flatten()
        };
        if rows.len() < sentences.len() {
            rows.resize_with(sentences.len(), SparseRow::new);
        }
        for (tokens, row) in each().zip(rows.iter_mut()) {
            ids.clear();
            for_each_gram(tokens, orders, child, |node| ids.extend(vocabulary.feature(node)));
            counted_row(ids, options.weighting, row);
        }
        &rows[..sentences.len()]
    }

    /// The sparse row of `sentence` over `vocabulary`.
    pub fn transform(&mut self, sentence: &str, vocabulary: &Vocabulary) -> SparseRow {
        self.features(sentence, vocabulary).clone()
    }
}

/// Sorts `ids` and writes each distinct id with the weighted number of times it occurs into `row`.
pub fn counted_row(ids: &mut [u32], weighting: crate::params::Weighting, row: &mut SparseRow) {
    ids.sort_unstable();
    row.clear();
    for run in ids.chunk_by(|a, b| a == b) {
        row.push((run[0], weighting.apply(run.len() as u32)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{NgramRange, Weighting};

    fn options(lo: u8, hi: u8) -> FeatureOptions {
        FeatureOptions { ngrams: NgramRange::new(lo, hi).unwrap(), stop_words: false, weighting: Weighting::Count }
    }

    fn vocabulary(terms: &[&str]) -> Vocabulary {
        let mut terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
        terms.sort();
        Vocabulary::from_sorted(terms, NonZeroUsize::MIN)
    }

    /// The name of a node of `trie` (its stems joined by spaces), by searching the trie.
    fn name(trie: &GramTrie, node: u32) -> String {
        let stems: Vec<(String, u32)> = trie.stems.iter().collect();
        if let Some((stem, _)) = stems.iter().find(|(_, id)| *id == node) {
            return stem.clone();
        }
        let (key, _) = trie.children.iter().find(|&(_, child)| child == node).expect("a node of the trie");
        let stem = &stems.iter().find(|(_, id)| *id == key as u32).expect("a stem").0;
        format!("{} {stem}", name(trie, (key >> 32) as u32))
    }

    /// Every n-gram of `s` (by name), from a trie that learns them.
    fn grams(s: &str, lo: u8, hi: u8) -> Vec<String> {
        let tokenizer = Tokenizer::new(false);
        let mut trie = GramTrie::default();
        let mut tokens = Vec::new();
        WordCache::default().encode(s, &tokenizer, None, |stem| trie.intern_stem(stem), &mut tokens);
        let mut nodes = Vec::new();
        let orders = (usize::from(lo), usize::from(hi));
        for_each_gram(&tokens, orders, |p, c| Some(trie.intern_child(p, c)), |node| nodes.push(node));
        nodes.iter().map(|&n| name(&trie, n)).collect()
    }

    #[test]
    fn ngrams_follow_the_range() {
        assert_eq!(grams("Kyiv denied it", 1, 2), ["kyiv", "kyiv deni", "deni", "deni it", "it"]);
        assert_eq!(grams("Kyiv denied it", 2, 3), ["kyiv deni", "kyiv deni it", "deni it"]);
        assert!(grams("Kyiv", 2, 2).is_empty());
    }

    #[test]
    fn unknown_stems_break_ngrams_and_stop_words_do_not() {
        let v = vocabulary(&["kyiv", "kyiv deni", "deni", "deni attack", "attack"]);
        let mut f = Featurizer::new(options(1, 2));
        let names = |row: &SparseRow| row.iter().map(|&(id, _)| v.terms()[id as usize].clone()).collect::<Vec<_>>();
        assert_eq!(names(f.features("Kyiv denied the attack", &v)), ["attack", "deni", "kyiv", "kyiv deni"]);
        let mut f = Featurizer::new(FeatureOptions { stop_words: true, ..options(1, 2) });
        assert_eq!(
            names(f.features("Kyiv denied the attack", &v)),
            ["attack", "deni", "deni attack", "kyiv", "kyiv deni"]
        );
        assert_eq!(names(f.features("Kyiv firmly denied the attack", &v)), ["attack", "deni", "deni attack", "kyiv"]);
    }

    #[test]
    fn featurizers_of_one_vocabulary_share_the_words_they_stem() {
        let v = vocabulary(&["kyiv", "kyiv deni", "deni", "attack"]);
        let mut first = Featurizer::new(options(1, 2));
        let row = first.transform("Kyiv denied the attack", &v);
        // Every word the first featurizer stemmed is in the shared table, with its stem's code.
        let shared = v.shared_words(false);
        assert_eq!(shared.len(), 4);
        assert_eq!(shared.get(pack("denied")), v.index.trie.stem("deni"));
        assert_eq!(shared.get(pack("the")), Some(UNKNOWN_STEM));
        // A second featurizer finds them there: it caches nothing itself and gives the same row.
        let mut second = Featurizer::new(options(1, 2));
        assert_eq!(second.transform("Kyiv denied the attack", &v), row);
        assert!(second.words.words.is_empty());
        // A word too long to pack is cached by the featurizer itself.
        assert!(second.transform("internationalisation", &v).is_empty());
        assert_eq!((second.words.words.len(), shared.len()), (1, 4));
    }

    #[test]
    fn rows_are_sparse_counts_sorted_by_id() {
        let v = vocabulary(&["russia", "warn"]);
        let mut f = Featurizer::new(options(1, 1));
        let row = f.transform("Russia warned, warned and warned again", &v);
        assert_eq!(row, vec![(v.get("russia").unwrap(), 1.0), (v.get("warn").unwrap(), 3.0)]);
        let mut f = Featurizer::new(FeatureOptions { weighting: Weighting::Log, ..options(1, 1) });
        assert_eq!(f.transform("warned warned", &v), vec![(v.get("warn").unwrap(), 1.0 + 2f64.ln())]);
    }

    #[test]
    fn a_featurizer_serves_any_vocabulary() {
        let a = vocabulary(&["kyiv", "warn"]);
        let b = vocabulary(&["isi", "kyiv"]);
        let mut f = Featurizer::new(options(1, 1));
        assert_eq!(f.transform("Kyiv warned", &a), vec![(0, 1.0), (1, 1.0)]);
        assert_eq!(f.transform("Kyiv warned", &b), vec![(1, 1.0)], "the word cache must not leak across vocabularies");
        assert_eq!(f.transform("ISIS", &b), vec![(0, 1.0)]);
    }

    #[test]
    fn terms_are_found_by_name_and_prefixes_are_not_terms() {
        let v = vocabulary(&["kyiv deni", "us warn", "us warn it", "west curat order"]);
        for (id, term) in v.terms().iter().enumerate() {
            assert_eq!(v.get(term), Some(id as u32), "{term}");
        }
        assert_eq!(v.get("kyiv"), None, "a prefix node is not a feature");
        assert_eq!(v.get("west curat"), None);
        assert_eq!(v.get("us warn them"), None);
        assert_eq!(v, v.clone());
    }

    #[test]
    fn prefixes_that_are_not_terms_get_ids_in_term_order_on_any_number_of_threads() {
        let terms = ["a b c d", "x y"].map(str::to_owned).to_vec();
        // As one thread interns them: `x y` (order 2) first, then `a b c d`'s stems and prefixes in turn.
        let stems = [(2, "x"), (3, "y"), (4, "a"), (5, "b"), (7, "c"), (9, "d")];
        // The (parent, stem) of nodes 0 (`a b c d`), 1 (`x y`), 6 (`a b`) and 8 (`a b c`).
        let children = [(8, 9), (2, 3), (4, 5), (6, 7)];
        for threads in 1..=3 {
            let stored = Vocabulary::from_sorted(terms.clone(), NonZeroUsize::new(threads).unwrap()).stored();
            assert_eq!(stored.stems.iter().collect::<Vec<_>>(), stems, "{threads} threads");
            assert_eq!(stored.children, children, "{threads} threads");
        }
        let many: Vec<String> = (0..5000).map(|i| format!("s{} t{}", i % 70, i / 70)).collect();
        let mut many = many.into_iter().chain((0..70).map(|i| format!("s{i}"))).collect::<Vec<_>>();
        many.sort();
        many.dedup();
        let one = Vocabulary::from_sorted(many.clone(), NonZeroUsize::MIN).stored();
        assert_eq!(Vocabulary::from_sorted(many, NonZeroUsize::new(4).unwrap()).stored(), one);
    }

    #[test]
    fn the_stored_form_rebuilds_the_same_vocabulary() {
        let v = vocabulary(&["a b c d e", "kyiv", "kyiv deni", "us warn it", "west curat order", "x"]);
        let stored = v.stored();
        // 14 stems (2 of them terms) and 9 longer n-grams (4 of them terms).
        assert_eq!((stored.terms, stored.stems.len(), stored.children.len()), (6, 14, 9));
        let back = Vocabulary::from_stored(&stored).unwrap();
        assert_eq!(back.terms(), v.terms(), "names rebuilt from the trie");
        assert_eq!(back.stored(), stored);
        let mut f = Featurizer::new(options(1, 5));
        assert_eq!(f.transform("Kyiv denied it: a b c d e", &back), f.transform("Kyiv denied it: a b c d e", &v));
    }

    #[test]
    fn from_stored_rejects_broken_tries() {
        let good = vocabulary(&["kyiv", "kyiv deni", "us warn"]).stored();
        assert!(Vocabulary::from_stored(&good).is_ok());
        let broken = |change: fn(&mut StoredVocabulary)| {
            let mut stored = good.clone();
            change(&mut stored);
            Vocabulary::from_stored(&stored).unwrap_err()
        };
        assert!(broken(|s| s.terms = 9).contains("9 terms"));
        fn restem(s: &mut StoredVocabulary, change: fn(&mut Vec<(u32, &str)>)) {
            let mut stems = s.stems.iter().collect();
            change(&mut stems);
            s.stems = stems.into_iter().collect();
        }
        assert!(broken(|s| restem(s, |stems| stems[1].1 = "kyiv")).contains("twice"));
        assert!(broken(|s| restem(s, |stems| stems[0].1 = "a b")).contains("space"));
        assert!(broken(|s| restem(s, |stems| stems.swap(0, 1))).contains("out of order"));
        assert!(broken(|s| s.children[0].1 = 1).contains("not a stem"), "node 1 is an n-gram");
        assert!(broken(|s| s.children[0].0 = 99).contains("not a stem"));
        assert!(broken(|s| s.children[1] = s.children[0]).contains("twice"));
        // Node 1 ("kyiv deni") made its own parent: a cycle.
        assert!(broken(|s| s.children[0].0 = 1).contains("cycle"));
    }

    #[test]
    fn short_and_long_words_are_cached_apart_and_exactly() {
        let tokenizer = Tokenizer::new(false);
        let mut cache = WordCache::default();
        let mut out = Vec::new();
        let mut trie = GramTrie::default();
        let text = "war wars warned a a\u{0} internationalisation internationalisations Warned";
        cache.encode(text, &tokenizer, None, |stem| trie.intern_stem(stem), &mut out);
        cache.encode(text, &tokenizer, None, |_| unreachable!("every word is cached"), &mut out);
        let names: Vec<String> = out.iter().map(|&n| name(&trie, n)).collect();
        let once = ["war", "war", "warn", "a", "a", "internationalis", "internationalis", "warn"];
        assert_eq!(names, [once, once].concat());
    }

    #[test]
    fn str_maps_keep_short_and_long_keys_apart() {
        let mut map = StrMap::default();
        for key in ["", "a", "a\u{0}", "fifteen-bytes-x", "sixteen-bytes-xx", "ukrainian"] {
            map.insert(key, key.len() as u32);
        }
        assert_eq!(map.len(), 6);
        assert_eq!(map.get("a\u{0}"), Some(2));
        assert_eq!(map.get("sixteen-bytes-xx"), Some(16));
        assert_eq!(map.get("sixteen-bytes-xy"), None);
        let mut all: Vec<(String, u32)> = map.iter().collect();
        all.sort();
        assert_eq!(all[1], ("a".to_owned(), 1));
        assert!(all.iter().all(|(k, v)| k.len() == *v as usize));
        map.clear();
        assert!(map.is_empty());
    }

    #[test]
    fn the_edge_filter_never_misses_an_edge() {
        let edges: Vec<u64> = (0..5000u64).map(|i| i * 7919 + (i << 32)).collect();
        let filter = EdgeFilter::new(edges.iter().copied(), edges.len());
        assert!(edges.iter().all(|&e| filter.may_contain(e)));
        let false_positives = (0..100_000u64).map(|i| (i << 33) + 1).filter(|&e| filter.may_contain(e)).count();
        assert!(false_positives < 10_000, "{false_positives} false positives in 100,000");
    }

    #[test]
    fn the_word_cache_stays_bounded_and_starts_afresh_when_full() {
        let tokenizer = Tokenizer::new(false);
        let limit = 1000;
        let mut cache = WordCache::bounded(limit);
        let mut out = Vec::new();
        let mut stemmed = 0;
        for i in 0..3 * limit {
            let word = if i % 2 == 0 { format!("w{i}") } else { format!("averyveryverylongword{i}") };
            // A frequent word, seen after every other word, is stemmed again only after a fresh start.
            for w in [word.as_str(), "frequent"] {
                let count = |_: &str| {
                    stemmed += usize::from(w == "frequent");
                    0
                };
                cache.encode(w, &tokenizer, None, count, &mut out);
            }
        }
        assert!(cache.words.len() <= limit);
        assert_eq!(out.len(), 6 * limit);
        // 3,000 rare words fill the cache three times over: three fresh starts.
        assert_eq!(stemmed, 4, "once at first and once after each fresh start");
    }
}
