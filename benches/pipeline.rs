//! Throughput of every pipeline stage and of the whole classify path, one thread, in sentences/s and
//! bytes/s.
//!
//! Text: the synthetic long-tail corpus of `support/corpus.rs` (Zipf–Mandelbrot over a million word types,
//! so word caches miss as they do on a real archive), 100,000 sentences to classify, generated from
//! another seed than the 100,000 the model is trained on; sentence splitting runs on the seed articles,
//! which are real article text. The model has the default options.
//!
//! The report's statistics run on generated label counts: twelve outlets of 500 articles, each article 5
//! to 60 sentences over four labels, with the report's default 1,000 resamples and 2,000 permutations.
//!
//! Run: `cargo bench --bench pipeline` (about three minutes; setup trains the model first).

#[path = "support/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use narrative::classify::{ClassifyOptions, Format, Numbering, RowFormat, classify_stream};
use narrative::features::{GramTrie, SENTENCES_AT_ONCE, SharedWords, Vocabulary, WordCache};
use narrative::input::{Document, Unit};
use narrative::model::Model;
use narrative::model::train::Trainer;
use narrative::params::TrainParams;
use narrative::report::stats::{Bootstrap, GroupCounts, PermutationTest, PreparedGroup, run_all};
use narrative::text::sentences;
use narrative::text::tokens::Tokenizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The binary's allocator, so that the stages run on the memory they have in `narrative`.
#[global_allocator]
static ALLOCATOR: narrative::memory::Allocator = narrative::memory::Allocator;

const TRAIN_SENTENCES: usize = 100_000;
const CLASSIFY_SENTENCES: usize = 100_000;

fn seed_articles() -> String {
    let mut paths: Vec<_> = std::fs::read_dir("seeds").unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let texts = paths.iter().filter(|p| p.extension().is_some_and(|e| e == "txt"));
    texts.map(|p| std::fs::read_to_string(p).unwrap() + "\n\n").collect()
}

fn train(sentences: &[(String, &str)]) -> Model {
    let mut trainer = Trainer::new(TrainParams::default().check().unwrap());
    for (text, label) in sentences {
        trainer.add(text, label).unwrap();
    }
    trainer.finish(std::num::NonZeroUsize::MIN).unwrap()
}

fn stages(c: &mut Criterion) {
    let training = corpus::sentences(TRAIN_SENTENCES, 1);
    let model = train(&training);
    let text: Vec<String> = corpus::sentences(CLASSIFY_SENTENCES, 2).into_iter().map(|(t, _)| t).collect();
    let bytes: u64 = text.iter().map(|t| t.len() as u64 + 1).sum();
    eprintln!(
        "model: {} n-grams from {TRAIN_SENTENCES} sentences; input: {CLASSIFY_SENTENCES} sentences, {bytes} bytes",
        model.vocabulary().len()
    );

    let articles = seed_articles();
    let mut group = c.benchmark_group("split");
    group.throughput(Throughput::Bytes(articles.len() as u64));
    group.bench_function("seed_articles", |b| b.iter(|| sentences::split(black_box(&articles)).len()));
    group.finish();

    let mut group = c.benchmark_group("stage");
    group.sample_size(10).throughput(Throughput::Elements(text.len() as u64));
    group.bench_function("tokenise_stem", |b| {
        let tokenizer = Tokenizer::new(model.params().features().stop_words);
        // As classification caches words: in a table shared between threads first, then its own.
        let (mut words, mut trie) = (WordCache::default(), GramTrie::default());
        let shared = SharedWords::new(Vocabulary::SHARED_WORDS);
        let mut out = Vec::new();
        b.iter(|| {
            for s in &text {
                out.clear();
                words.encode(black_box(s), &tokenizer, Some(&shared), |stem| trie.intern_stem(stem), &mut out);
            }
        })
    });
    group.bench_function("vectorise", |b| {
        // As classification takes sentences: a few at a time (see `Featurizer::features_all`).
        let mut featurizer = model.featurizer();
        let texts: Vec<&str> = text.iter().map(String::as_str).collect();
        let groups = || texts.chunks(SENTENCES_AT_ONCE);
        b.iter(|| {
            let rows = groups().map(|group| {
                featurizer.features_all(black_box(group), model.vocabulary()).iter().map(Vec::len).sum::<usize>()
            });
            rows.sum::<usize>()
        })
    });
    group.bench_function("predict", |b| {
        let mut featurizer = model.featurizer();
        let rows: Vec<_> = text.iter().map(|s| featurizer.transform(s, model.vocabulary())).collect();
        b.iter(|| rows.iter().map(|r| model.predict_row(black_box(r)).label).sum::<usize>())
    });
    // Training runs on a quarter of the sentences, and its throughput counts those.
    let train_sentences = &training[..CLASSIFY_SENTENCES / 4];
    group.throughput(Throughput::Elements(train_sentences.len() as u64));
    group.bench_function("train", |b| b.iter(|| train(black_box(train_sentences)).labels().len()));
    group.finish();

    // The whole path of `classify --unit sentence`: documents in, CSV rows out, one thread.
    let documents: Vec<Document> = (text.iter().enumerate())
        .map(|(i, t)| Document { id: format!("input.txt:{}", i + 1), text: t.clone(), ..Document::default() })
        .collect();
    let rows = RowFormat::new(Format::Csv, model.labels(), false);
    let classify = |model: &Model, docs: &[Document]| {
        let mut out = std::io::sink();
        let mut numbering = Numbering::default();
        let options =
            ClassifyOptions { unit: Unit::Sentence, rows: Some(&rows), explain: None, threads: NonZeroUsize::MIN };
        classify_stream(model, docs.iter().cloned().map(Ok::<_, std::io::Error>), options, |batch| {
            batch.write_rows(&batch.number(&mut numbering), &mut out)
        })
        .unwrap();
    };
    for (name, throughput) in
        [("sentences", Throughput::Elements(text.len() as u64)), ("bytes", Throughput::Bytes(bytes))]
    {
        let mut group = c.benchmark_group("classify");
        group.sample_size(10).throughput(throughput);
        // A fresh copy of the model each time: its shared word cache starts empty, as in a new process.
        group.bench_function(BenchmarkId::new("whole_path", name), |b| {
            let run = |model: Model| {
                classify(&model, black_box(&documents));
                model
            };
            b.iter_batched(|| model.clone(), run, BatchSize::PerIteration)
        });
        group.finish();
    }
}

/// The report's bootstraps (one per outlet) and permutation tests (one per pair of outlets), one thread,
/// in articles drawn per second.
fn statistics(c: &mut Criterion) {
    const OUTLETS: usize = 12;
    const ARTICLES: usize = 500;
    let (resamples, permutations, seed) = (1000, 2000, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let outlets: Vec<GroupCounts> = (0..OUTLETS)
        .map(|_| {
            (0..ARTICLES)
                .map(|_| {
                    let mut counts = [0u64; 4];
                    for _ in 0..rng.random_range(5..=60) {
                        counts[rng.random_range(0..4)] += 1;
                    }
                    counts
                })
                .collect()
        })
        .collect();
    let prepared: Vec<PreparedGroup> = outlets.iter().map(|articles| PreparedGroup::new(articles, 4)).collect();
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    let bootstraps: Vec<Bootstrap> = prepared.iter().map(|p| Bootstrap::new(p, resamples, seed)).collect();
    group.throughput(Throughput::Elements((OUTLETS * ARTICLES * resamples) as u64));
    group.bench_function("bootstrap", |b| b.iter(|| run_all(black_box(&bootstraps), NonZeroUsize::MIN, &|| {})));
    let tests: Vec<PermutationTest> = (0..OUTLETS)
        .flat_map(|a| (a + 1..OUTLETS).map(move |b| (a, b)))
        .map(|(a, b)| PermutationTest::new(&prepared[a], &prepared[b], permutations, seed))
        .collect();
    group.throughput(Throughput::Elements((tests.len() * ARTICLES * permutations) as u64));
    group.bench_function("permutation_tests", |b| b.iter(|| run_all(black_box(&tests), NonZeroUsize::MIN, &|| {})));
    group.finish();
}

criterion_group!(benches, stages, statistics);
criterion_main!(benches);
