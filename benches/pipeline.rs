//! Throughput of each pipeline stage and of whole-article classification, on the seed articles with the
//! shipped model (offline, no network). Reported in bytes and in sentences per second.
//!
//! Run: `cargo bench --bench pipeline`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use narrative::features::{GramTrie, WordCache};
use narrative::model::Model;
use narrative::text::sentences;
use narrative::text::tokens::Tokenizer;

fn seeds() -> String {
    let mut text = String::new();
    let mut paths: Vec<_> = std::fs::read_dir("seeds").unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "txt")) {
        text.push_str(&std::fs::read_to_string(path).unwrap());
        text.push_str("\n\n");
    }
    text
}

fn stages(c: &mut Criterion) {
    let text = seeds();
    let model = Model::load(Path::new("models/narrative.model")).unwrap();
    let split: Vec<&str> = sentences::split(&text).iter().map(|s| s.text).collect();
    let sentence_bytes: usize = split.iter().map(|s| s.len()).sum();

    let mut group = c.benchmark_group("bytes");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("split", |b| b.iter(|| sentences::split(black_box(&text)).len()));
    group.bench_function("classify_articles", |b| {
        let mut featurizer = model.featurizer();
        b.iter(|| {
            sentences::split(black_box(&text))
                .iter()
                .map(|s| model.predict(&mut featurizer, s.text).label)
                .sum::<usize>()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sentences");
    group.throughput(Throughput::Elements(split.len() as u64));
    group.bench_function("tokenise_stem", |b| {
        let tokenizer = Tokenizer::new(model.params().features().stop_words);
        let (mut words, mut trie) = (WordCache::default(), GramTrie::default());
        let mut out = Vec::new();
        b.iter(|| {
            for s in &split {
                out.clear();
                words.encode(black_box(s), &tokenizer, |stem| trie.intern_stem(stem), &mut out);
            }
        })
    });
    group.bench_function("vectorise", |b| {
        let mut featurizer = model.featurizer();
        b.iter(|| split.iter().map(|s| featurizer.transform(black_box(s), model.vocabulary()).len()).sum::<usize>())
    });
    group.bench_function("predict", |b| {
        let mut featurizer = model.featurizer();
        let rows: Vec<_> = split.iter().map(|s| featurizer.transform(s, model.vocabulary())).collect();
        b.iter(|| rows.iter().map(|r| model.predict_row(black_box(r)).label).sum::<usize>())
    });
    group.finish();
    eprintln!("corpus: {} bytes, {} sentences ({} bytes of sentence text)", text.len(), split.len(), sentence_bytes);
}

criterion_group!(benches, stages);
criterion_main!(benches);
