#!/bin/sh
# Fills tests/fuzz/corpus/<target>/ with the project's real files (corpus/ is not committed; libFuzzer adds
# what it finds there). Run from anywhere; it builds the narrative CLI once to train a tiny model seed.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$root/tests/fuzz
corpus=$fuzz/corpus
for t in model_from_bytes model_payload labelled_csv documents_csv documents_jsonl; do
    mkdir -p "$corpus/$t"
done

# Models: the shipped one and a tiny one (a few hundred n-grams), whole and as bare payloads
# (model_payload adds the 28-byte header and the 32-byte BLAKE3 hash itself).
tiny=$(mktemp -d)
trap 'rm -rf "$tiny"' EXIT
(cd "$root" && cargo run --quiet -- train --data tests/fixtures/retrain/tass_style_labels.csv --min-df 2 \
    --out "$tiny/tiny.model" >/dev/null)
for m in "$root/models/narrative.model" "$tiny/tiny.model"; do
    name=$(basename "$m" .model)
    cp "$m" "$corpus/model_from_bytes/$name.model"
    size=$(wc -c <"$m")
    tail -c +29 "$m" | head -c $((size - 28 - 32)) >"$corpus/model_payload/$name.payload"
done

# Labelled CSV: the real files, and their first lines (small inputs mutate faster).
for f in "$root"/data/labelled/*.csv "$root"/tests/fixtures/retrain/tass_style_labels.csv; do
    name=$(basename "$f" .csv)
    cp "$f" "$corpus/labelled_csv/$name.csv"
    head -n 12 "$f" >"$corpus/labelled_csv/$name-head.csv"
    cp "$corpus/labelled_csv/$name-head.csv" "$corpus/documents_csv/"
done
cp "$root"/data/labelled/*.csv "$fuzz/seeds/sample.csv" "$corpus/documents_csv/"
cat "$root/seeds/index.csv" >"$corpus/documents_csv/no-text-column.csv"

# JSON Lines: a small hand-written file.
cp "$fuzz/seeds/sample.jsonl" "$corpus/documents_jsonl/"
head -n 1 "$fuzz/seeds/sample.jsonl" >"$corpus/documents_jsonl/one.jsonl"

echo "seeded $(find "$corpus" -type f | wc -l) files under $corpus"
