//! A deterministic generator of synthetic, labelled, news-like English sentences for benchmarks.
//!
//! Why: a benchmark corpus made by repeating a few hundred real sentences has a vocabulary of a few
//! thousand words, so every stem-cache and vocabulary lookup hits and the numbers flatter the code.
//! Real news has a long tail: most word types are rare, and a sizeable share of the running words are
//! types a cache has not seen recently. This generator reproduces that:
//!
//! - **Words** are drawn over ranks `r = 1..=1,000,000` from a Zipf–Mandelbrot head,
//!   `p(r) ∝ 1 / (r + q)^s` with `s = 1.07` and `q = 2.7` ([`ZIPF_EXPONENT`], [`ZIPF_Q`]; q = 2.7 is
//!   Mandelbrot's classic fit for English), that turns past rank 10,000 ([`TAIL_FROM`]) into a steeper
//!   power law, exponent 2 ([`TAIL_EXPONENT`]), as real news does. Calibrated on 1.16 million words of
//!   real news (the BBC News and AG News test corpora, used for the statistics only): there 54,049 word
//!   types, 1.9% of running words seen once, 8.8% outside the 10,000 and 2.2% outside the 30,000 most
//!   frequent types; here, at the same length and counted the same way, 61,980 types, 2.6%, 10.5% and
//!   2.9%: a little heavier than real news, so caches are not flattered. The type count
//!   grows as the square root of the text (Heaps' law with β = 0.5, as in news), so a gigabyte still
//!   brings hundreds of thousands of types a cache has never seen. (One exponent over all million types,
//!   `s = 1.07` throughout, makes 3.6 times as many types and six times as many once-seen words as real
//!   news: it measures a cache against a tail no archive has.)
//! - **The head** of the ranking is real English: the words of `data/labelled/*.csv` and `seeds/*.txt`,
//!   counted and sorted by frequency (most common spelling kept, so "Russia" stays capitalised), read at
//!   run time from the repository.
//! - **The tail** is synthetic English-like words made of syllables, in families sharing a stem with
//!   English suffixes (-s, -ed, -ing, -ation, -ly, -ness, ...) so that Snowball stemming does real work;
//!   some are capitalised proper names (a few with diacritics), possessives ("Varkov's"), numbers
//!   ("144", "2024", "3.5", "1,200"), hyphenated words ("anti-brelsing") and acronyms.
//! - **Sentences** have a log-normal length (mean about 23 words, clipped to 3..=80), a capitalised first
//!   word, commas, occasional quotes, parentheses and colons, and end with `.`, `?` or `!`. No tabs or
//!   line breaks occur inside a sentence.
//! - **Labels** are [`LABELS`] with priors 0.15 / 0.55 / 0.15 / 0.15. Each word comes, with probability
//!   [`TOPIC_SHARE`] (0.15), from the sentence label's topic: a Zipf distribution over 2,000 words, the
//!   real words most typical of that label in the labelled data first, then synthetic ones. So a
//!   classifier has something to learn, but most words carry no label signal, as in real text.
//!
//! Everything is seeded: the vocabulary and topics from a fixed seed (so training and classification
//! corpora share them), the sentences from the caller's seed. Words are drawn with Walker's alias method
//! (O(1) per word): one gigabyte takes seconds, single-threaded.
//!
//! Used by the `corpus` bench target (writes corpus files) and usable from the criterion benches with
//! `#[path = "support/corpus.rs"] mod corpus;` through [`sentences`].

// Shared by several bench targets, each of which uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The labels, in the order used for label indices.
pub const LABELS: [&str; 4] = ["isis_attribution", "neutral", "ukraine_west_blame", "warning_claim"];
/// Prior probability of each label of [`LABELS`].
pub const LABEL_PRIORS: [f64; 4] = [0.15, 0.55, 0.15, 0.15];
/// Number of word types in the ranking.
pub const WORD_TYPES: usize = 1_000_000;
/// Zipf–Mandelbrot exponent `s` of the general word distribution.
pub const ZIPF_EXPONENT: f64 = 1.07;
/// Zipf–Mandelbrot rank offset `q` of the general word distribution.
pub const ZIPF_Q: f64 = 2.7;
/// Rank after which the general distribution falls off with [`TAIL_EXPONENT`].
pub const TAIL_FROM: usize = 10_000;
/// Power-law exponent of the general distribution past rank [`TAIL_FROM`].
pub const TAIL_EXPONENT: f64 = 2.0;
/// Probability that a word is drawn from the sentence label's topic instead of the general distribution.
pub const TOPIC_SHARE: f64 = 0.15;
/// Number of words in each label's topic.
pub const TOPIC_WORDS: usize = 2_000;
/// Zipf exponent of a topic's distribution (with offset [`ZIPF_Q`]).
pub const TOPIC_EXPONENT: f64 = 1.0;
/// Real words (typical of the label in the labelled data) at the head of each topic, at most.
const TOPIC_REAL_WORDS: usize = 150;
/// Log-normal sentence length: `exp(mu + sigma z)` words, mean `exp(mu + sigma²/2)` = 23.
const LENGTH_SIGMA: f64 = 0.5;
const LENGTH_MU: f64 = 3.010_491; // ln(23) - 0.5²/2
const MIN_WORDS: usize = 3;
const MAX_WORDS: usize = 80;
/// Seed of the vocabulary and the topics, fixed so that every corpus shares them.
const VOCABULARY_SEED: u64 = 0x6e61_7272_6174_6976;

/// Walker's alias table: draws an index from a fixed discrete distribution in O(1).
struct Alias {
    /// `threshold[i] / 2^32` is the probability of keeping `i` rather than taking `alias[i]`.
    threshold: Vec<u32>,
    alias: Vec<u32>,
}

impl Alias {
    /// Builds the table from non-negative weights (Vose's algorithm).
    fn new(weights: &[f64]) -> Alias {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut threshold = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            threshold[s] = (scaled[s] * 4_294_967_296.0) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left has probability 1 up to rounding: keep the defaults (threshold MAX, alias self).
        Alias { threshold, alias }
    }

    /// One draw: the high 32 bits pick a column, the low 32 bits decide between it and its alias.
    #[inline]
    fn sample(&self, rng: &mut impl RngCore) -> usize {
        let x = rng.next_u64();
        let i = (((x >> 32) * self.threshold.len() as u64) >> 32) as usize;
        if (x as u32) < self.threshold[i] { i } else { self.alias[i] as usize }
    }
}

/// Zipf–Mandelbrot weights `1 / (r + q)^s` for ranks `r = 1..=n`.
fn zipf_weights(n: usize, s: f64, q: f64) -> Vec<f64> {
    (1..=n).map(|r| (r as f64 + q).powf(-s)).collect()
}

/// The general word distribution: Zipf–Mandelbrot up to rank [`TAIL_FROM`], then a continuous power law
/// with exponent [`TAIL_EXPONENT`].
fn news_weights(n: usize) -> Vec<f64> {
    let mut weights = zipf_weights(n, ZIPF_EXPONENT, ZIPF_Q);
    let knee = (TAIL_FROM as f64 + ZIPF_Q, weights[TAIL_FROM - 1]);
    for (r, w) in weights.iter_mut().enumerate().skip(TAIL_FROM) {
        *w = knee.1 * (knee.0 / (r as f64 + 1.0 + ZIPF_Q)).powf(TAIL_EXPONENT);
    }
    weights
}

/// One label's topic: vocabulary ranks and a Zipf distribution over them.
struct Topic {
    ranks: Vec<u32>,
    alias: Alias,
}

/// The million word types (index = rank - 1, most frequent first) and the distributions over them.
pub struct Vocabulary {
    /// All words, concatenated; word `i` is `text[ends[i - 1]..ends[i]]`.
    text: String,
    ends: Vec<u32>,
    /// Number of real (head) words; the rest are synthetic.
    head: usize,
    general: Alias,
    topics: Vec<Topic>,
}

impl Vocabulary {
    /// Builds the vocabulary from the repository's real text at `root` (the crate directory) and the fixed
    /// vocabulary seed. Takes about a second.
    pub fn new(root: &Path) -> Vocabulary {
        let real = RealText::read(root);
        let mut rng = ChaCha8Rng::seed_from_u64(VOCABULARY_SEED);
        let mut words: Vec<String> = real.ranked.clone();
        let mut seen: HashSet<String> = words.iter().cloned().collect();
        while words.len() < WORD_TYPES {
            for word in tail_family(&mut rng) {
                if words.len() < WORD_TYPES && seen.insert(word.clone()) {
                    words.push(word);
                }
            }
        }
        let mut text = String::with_capacity(words.iter().map(String::len).sum());
        let mut ends = Vec::with_capacity(words.len());
        for word in &words {
            text.push_str(word);
            ends.push(text.len() as u32);
        }
        let general = Alias::new(&news_weights(WORD_TYPES));
        let topic_weights = zipf_weights(TOPIC_WORDS, TOPIC_EXPONENT, ZIPF_Q);
        let mut taken: HashSet<u32> = HashSet::new();
        let topics = (0..LABELS.len())
            .map(|label| {
                let mut ranks: Vec<u32> = real.typical(label, TOPIC_REAL_WORDS);
                taken.extend(ranks.iter().copied());
                // Fill up with words spread log-uniformly over ranks 300..1,000,000: mostly rare words
                // in general text that are common in the topic, like a story's jargon and names.
                let (low, high) = ((300f64).ln(), (WORD_TYPES as f64).ln());
                while ranks.len() < TOPIC_WORDS {
                    let rank = rng.random_range(low..high).exp() as u32;
                    if (rank as usize) < WORD_TYPES && taken.insert(rank) {
                        ranks.push(rank);
                    }
                }
                Topic { ranks, alias: Alias::new(&topic_weights) }
            })
            .collect();
        Vocabulary { text, ends, head: real.ranked.len(), general, topics }
    }

    /// The word of rank index `i` (0 = most frequent).
    pub fn word(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Number of word types.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Number of real English words at the head of the ranking.
    pub fn real_words(&self) -> usize {
        self.head
    }
}

/// Word counts of the repository's real text.
struct RealText {
    /// Distinct words, most frequent first, each in its most common spelling.
    ranked: Vec<String>,
    /// Lower-cased word → rank index.
    index: HashMap<String, u32>,
    /// Per label: lower-cased word → count in that label's labelled sentences.
    by_label: Vec<HashMap<String, u32>>,
}

impl RealText {
    /// Reads the `text` column of `data/labelled/*.csv` and every `seeds/*.txt`.
    fn read(root: &Path) -> RealText {
        let mut counts: HashMap<String, (u64, HashMap<String, u64>)> = HashMap::new();
        let mut by_label: Vec<HashMap<String, u32>> = vec![HashMap::new(); LABELS.len()];
        let mut add = |text: &str, label: Option<usize>| {
            for word in real_words(text) {
                let lower = word.to_lowercase();
                let entry = counts.entry(lower.clone()).or_default();
                entry.0 += 1;
                *entry.1.entry(word.to_string()).or_default() += 1;
                if let Some(label) = label {
                    *by_label[label].entry(lower).or_default() += 1;
                }
            }
        };
        for path in sorted_files(&root.join("data/labelled"), "csv") {
            let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let headers = reader.headers().expect("CSV header").clone();
            let column = |name: &str| headers.iter().position(|h| h == name);
            let (text, label) = (column("text").expect("a `text` column"), column("label"));
            for record in reader.records() {
                let record = record.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let label = label
                    .and_then(|l| record.get(l))
                    .and_then(|l| LABELS.iter().position(|&known| known == l.trim().to_lowercase()));
                add(&record[text], label);
            }
        }
        for path in sorted_files(&root.join("seeds"), "txt") {
            add(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())), None);
        }
        let mut ranked: Vec<(String, u64, String)> = counts
            .into_iter()
            .map(|(lower, (n, spellings))| {
                let spelling = spellings.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).unwrap().0;
                (lower, n, spelling)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let index = ranked.iter().enumerate().map(|(i, (lower, ..))| (lower.clone(), i as u32)).collect();
        RealText { ranked: ranked.into_iter().map(|(.., spelling)| spelling).collect(), index, by_label }
    }

    /// Rank indices of up to `n` real words most typical of `label`: seen at least 3 times with it, sorted
    /// by the smoothed log ratio of their rate in the label's sentences to their rate in the others'.
    fn typical(&self, label: usize, n: usize) -> Vec<u32> {
        let total = |counts: &HashMap<String, u32>| counts.values().map(|&c| c as f64).sum::<f64>();
        let in_label = total(&self.by_label[label]);
        let others: f64 = (0..LABELS.len()).filter(|&l| l != label).map(|l| total(&self.by_label[l])).sum();
        let mut scored: Vec<(f64, &str)> = self.by_label[label]
            .iter()
            .filter(|&(_, &count)| count >= 3)
            .map(|(word, &count)| {
                let elsewhere: u32 =
                    (0..LABELS.len()).filter(|&l| l != label).filter_map(|l| self.by_label[l].get(word)).sum();
                let ratio = ((count as f64 + 0.5) / in_label) / ((elsewhere as f64 + 0.5) / others);
                (ratio.ln(), word.as_str())
            })
            .filter(|&(score, _)| score > 0.5)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.iter().take(n).map(|(_, word)| self.index[*word]).collect()
    }
}

/// The files of `dir` with extension `ext`, sorted by name.
fn sorted_files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<_> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
}

/// Words of real text: runs of letters and digits, joined by inner apostrophes and hyphens, and by a dot
/// or comma between digits ("3.5", "1,200").
fn real_words(text: &str) -> impl Iterator<Item = &str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        while i < chars.len() {
            let c = chars[i].1;
            let next = chars.get(i + 1).map(|&(_, c)| c);
            let prev = if i > 0 { chars[i - 1].1 } else { ' ' };
            let joins = match c {
                '\'' | '\u{2019}' | '-' => next.is_some_and(char::is_alphanumeric),
                '.' | ',' => prev.is_ascii_digit() && next.is_some_and(|c| c.is_ascii_digit()),
                _ => c.is_alphanumeric(),
            };
            if !joins {
                break;
            }
            i += 1;
        }
        let end = chars.get(i).map_or(text.len(), |&(at, _)| at);
        words.push(&text[start..end]);
    }
    words.into_iter()
}

const ONSETS: &[&str] = &["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"];
const CLUSTERS: &[&str] = &[
    "br", "cr", "dr", "fr", "gr", "pr", "tr", "bl", "cl", "fl", "gl", "pl", "sl", "ch", "sh", "th", "st", "sp", "sk",
    "sm", "sn", "sw", "qu", "wh", "str",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "e", "y"];
const DIGRAPHS: &[&str] = &["ai", "ea", "ee", "ou", "oo", "ie", "oa", "au"];
const CODAS: &[&str] =
    &["n", "r", "l", "s", "t", "m", "d", "k", "nd", "nt", "st", "rk", "ck", "ng", "rt", "ll", "sh", "ct"];
/// English suffixes with relative weights; "" is the bare stem.
const SUFFIXES: &[(&str, u32)] = &[
    ("", 30),
    ("s", 14),
    ("ed", 9),
    ("ing", 9),
    ("er", 4),
    ("ers", 3),
    ("ation", 3),
    ("ations", 2),
    ("ly", 4),
    ("ness", 2),
    ("ment", 2),
    ("ments", 1),
    ("ity", 2),
    ("ive", 2),
    ("ism", 1),
    ("ist", 1),
    ("ists", 1),
    ("ful", 1),
    ("less", 1),
    ("able", 1),
    ("ize", 1),
    ("ized", 1),
    ("izing", 1),
    ("ional", 1),
    ("al", 2),
    ("ic", 1),
];
const NAME_ENDINGS: &[&str] =
    &["", "", "", "ov", "ova", "enko", "sky", "stan", "ia", "ville", "burg", "son", "ez", "ani", "berg", "ski"];
const PREFIXES: &[&str] = &["pro", "anti", "non", "post", "pre", "ex", "self", "co", "counter", "well", "semi", "mid"];

fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A pronounceable stem of 1 to 3 syllables, mostly simple consonant-vowel ones ("balentor", "strimak").
fn stem(rng: &mut impl Rng) -> String {
    let syllables = match rng.random_range(0..100) {
        0..35 => 1,
        35..85 => 2,
        _ => 3,
    };
    let mut out = String::new();
    for s in 0..syllables {
        let last = s + 1 == syllables;
        if s > 0 || rng.random_bool(0.8) {
            out.push_str(if rng.random_bool(0.8) { pick(rng, ONSETS) } else { pick(rng, CLUSTERS) });
        }
        out.push_str(if rng.random_bool(0.85) { pick(rng, VOWELS) } else { pick(rng, DIGRAPHS) });
        if rng.random_bool(if last { 0.7 } else { 0.25 }) {
            out.push_str(if last { pick(rng, CODAS) } else { pick(rng, &CODAS[..8]) });
        }
    }
    out
}

/// `stem` with `suffix`, dropping a final "e" before a suffix that starts with a vowel ("rate" + "ing").
fn inflect(stem: &str, suffix: &str) -> String {
    let vowel_suffix = suffix.starts_with(['a', 'e', 'i', 'o', 'u']);
    let stem = if vowel_suffix && stem.len() > 2 { stem.strip_suffix('e').unwrap_or(stem) } else { stem };
    format!("{stem}{suffix}")
}

fn suffix(rng: &mut impl Rng) -> &'static str {
    let total: u32 = SUFFIXES.iter().map(|s| s.1).sum();
    let mut x = rng.random_range(0..total);
    for &(suffix, weight) in SUFFIXES {
        if x < weight {
            return suffix;
        }
        x -= weight;
    }
    ""
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A family of synthetic word types that enter the ranking next to each other: inflections of one stem, a
/// proper name and its possessive, a number, a hyphenated word or an acronym.
fn tail_family(rng: &mut impl Rng) -> Vec<String> {
    match rng.random_range(0..100) {
        // Inflections of one common word.
        0..76 => {
            let stem = stem(rng);
            let n = match rng.random_range(0..10) {
                0..4 => 1,
                4..7 => 2,
                7..9 => 3,
                _ => 4,
            };
            (0..n).map(|_| inflect(&stem, suffix(rng))).collect()
        }
        // A proper name, maybe with a diacritic, often with its possessive.
        76..88 => {
            let mut name = capitalise(&format!("{}{}", stem(rng), pick(rng, NAME_ENDINGS)));
            if rng.random_bool(0.05) {
                name = name.replacen('o', "ö", 1).replacen('e', "é", 1);
            }
            let mut family = vec![name.clone()];
            if rng.random_bool(0.5) {
                let apostrophe = if rng.random_bool(0.25) { '\u{2019}' } else { '\'' };
                family.push(format!("{name}{apostrophe}s"));
            }
            family
        }
        // A number: a count, a year, a decimal, a thousands figure or a percentage.
        88..92 => vec![match rng.random_range(0..10) {
            0..4 => rng.random_range(0..10_000u32).to_string(),
            4..6 => rng.random_range(1900..2100u32).to_string(),
            6..8 => format!("{}.{}", rng.random_range(0..1000u32), rng.random_range(0..100u32)),
            8 => format!("{},{:03}", rng.random_range(1..1000u32), rng.random_range(0..1000u32)),
            _ => format!("{}%", rng.random_range(0..100u32)),
        }],
        // A hyphenated word.
        92..97 => {
            let first = if rng.random_bool(0.6) { pick(rng, PREFIXES).to_string() } else { stem(rng) };
            vec![format!("{first}-{}", inflect(&stem(rng), suffix(rng)))]
        }
        // An acronym.
        _ => {
            let n = rng.random_range(2..=5);
            vec![(0..n).map(|_| rng.random_range(b'A'..=b'Z') as char).collect()]
        }
    }
}

/// Draws sentences: each one's label from [`LABEL_PRIORS`], then its words. Counts how often each word
/// type was drawn, for [`Generator::stats`].
pub struct Generator<'v> {
    vocabulary: &'v Vocabulary,
    rng: ChaCha8Rng,
    counts: Vec<u64>,
}

/// Word statistics of everything a [`Generator`] produced.
#[derive(Debug, Clone, Copy)]
pub struct WordStats {
    /// Words drawn.
    pub tokens: u64,
    /// Distinct word types drawn.
    pub types: usize,
    /// Share of the words whose type is not among the 100,000 most frequent types of this corpus.
    pub outside_top_100k: f64,
}

impl<'v> Generator<'v> {
    /// A generator over `vocabulary` whose sentences are determined by `seed` and `stream`: the same pair
    /// always gives the same sentences, different streams give independent ones.
    pub fn new(vocabulary: &'v Vocabulary, seed: u64, stream: u64) -> Generator<'v> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Generator { vocabulary, rng, counts: vec![0; vocabulary.len()] }
    }

    /// Writes the next sentence into `out` (cleared first) and returns its label.
    pub fn sentence(&mut self, out: &mut String) -> &'static str {
        out.clear();
        let rng = &mut self.rng;
        let mut x: f64 = rng.random();
        let label = LABEL_PRIORS
            .iter()
            .position(|&p| {
                x -= p;
                x < 0.0
            })
            .unwrap_or(LABELS.len() - 1);
        let topic = &self.vocabulary.topics[label];

        // Box–Muller: one standard normal draw for the log-normal length.
        let (u1, u2): (f64, f64) = (rng.random(), rng.random());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let n = ((LENGTH_MU + LENGTH_SIGMA * z).exp().round() as usize).clamp(MIN_WORDS, MAX_WORDS);

        // An optional quoted span (straight or curly quotes) and an optional parenthesis, as word ranges.
        let span = |rng: &mut ChaCha8Rng, p: f64| {
            rng.random_bool(p).then(|| {
                let start = rng.random_range(0..n - 1);
                (start, rng.random_range(start + 1..n))
            })
        };
        let quote = span(rng, 0.12);
        let (open, close) = if rng.random_bool(0.5) { ("\u{201c}", "\u{201d}") } else { ("\"", "\"") };
        let paren = span(rng, 0.03).filter(|&(s, e)| quote.is_none_or(|(qs, qe)| e < qs || s > qe) && e < n - 1);

        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            if quote.is_some_and(|(s, _)| s == i) {
                out.push_str(open);
            }
            if paren.is_some_and(|(s, _)| s == i) {
                out.push('(');
            }
            let rank = if rng.random_bool(TOPIC_SHARE) {
                topic.ranks[topic.alias.sample(rng)] as usize
            } else {
                self.vocabulary.general.sample(rng)
            };
            self.counts[rank] += 1;
            let word = self.vocabulary.word(rank);
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(word);
            }
            if paren.is_some_and(|(_, e)| e == i) {
                out.push(')');
            }
            if i + 1 == n {
                out.push(match rng.random_range(0..100) {
                    0..93 => '.',
                    93..98 => '?',
                    _ => '!',
                });
            } else {
                match rng.random_range(0..1000) {
                    0..70 => out.push(','),
                    70..74 => out.push(':'),
                    74..77 => out.push(';'),
                    77..80 => out.push_str(" \u{2014}"),
                    _ => {}
                }
            }
            if quote.is_some_and(|(_, e)| e == i) {
                out.push_str(close);
            }
        }
        LABELS[label]
    }

    /// Word statistics of all sentences generated so far.
    pub fn stats(&self) -> WordStats {
        let mut counts: Vec<u64> = self.counts.iter().copied().filter(|&c| c > 0).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let tokens: u64 = counts.iter().sum();
        let outside: u64 = counts.iter().skip(100_000).sum();
        WordStats { tokens, types: counts.len(), outside_top_100k: outside as f64 / tokens.max(1) as f64 }
    }
}

/// The repository root: benches run from anywhere, the real text is found relative to the crate.
pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `n` labelled sentences generated in memory from `seed` (stream 0, as in the `corpus` bench's
/// `train.csv` with the same seed), for criterion benches. Building the vocabulary takes about a second.
pub fn sentences(n: usize, seed: u64) -> Vec<(String, &'static str)> {
    let vocabulary = Vocabulary::new(repository());
    let mut generator = Generator::new(&vocabulary, seed, 0);
    (0..n)
        .map(|_| {
            let mut text = String::new();
            let label = generator.sentence(&mut text);
            (text, label)
        })
        .collect()
}
