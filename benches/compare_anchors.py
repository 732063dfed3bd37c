"""The anchors of `benches/compare`: scikit-learn and fastText doing narrative's job, as a competent Python
user would write it, plus the helpers that score agreement and print the results table.

Subcommands (run with the venv's python; `benches/compare` calls them under /usr/bin/time):

  imports {sklearn,fasttext}                       interpreter start + imports only (the fixed cost)
  sklearn-train  --data train.csv --out M.pkl      CountVectorizer (words, stop words, Snowball stems,
                                                   1-2-grams, min_df=2) + MultinomialNB(alpha=0.3)
  sklearn-classify --model M.pkl --input X.txt --out Y.csv
  fasttext-train --data train.ft --out M.bin       fasttext.train_supervised(wordNgrams=2), else defaults
  fasttext-classify --model M.bin --input X.txt --out Y.csv
  agreement --truth L --reference A.csv OTHER.csv...   label agreement and accuracy (sanity check)
  arithmetic --out R.txt                           integer arithmetic alone (no input; what it works on
                                                   fits in a core's cache): how the machine scales N of it
  table --results R.tsv --machine M.txt            the markdown table

Classification reads the input one line = one sentence, in chunks of CHUNK lines so memory stays bounded,
and writes a CSV `line,label,confidence` (confidence = the chosen label's probability, 6 decimals), i.e.
the same end-to-end job as `narrative classify --input-format lines --unit sentence`: read, tokenise,
stem, n-grams, predict, write.
"""

import argparse
import csv
import re
import sys
from pathlib import Path

CHUNK = 10_000
REPO = Path(__file__).resolve().parent.parent
# narrative's stop-word list, so both drop the same words.
STOP_WORDS = frozenset(REPO.joinpath("src/text/stop_words.txt").read_text(encoding="utf-8").split())
WORD = re.compile(r"\w+")

_stemmer = None


class _Stems(dict):
    """word -> Snowball stem, computed once per word (narrative caches stems too)."""

    def __missing__(self, word):
        stem = self[word] = _stemmer.stem(word)
        return stem


_STEMS = _Stems()


def tokenize(text):
    """Lower-cased \\w+ words, stop words dropped, Snowball (Porter2) English stems, memoised.

    Module-level so that the pickled vectorizer refers to it by name (the stem cache is not pickled).
    """
    global _stemmer
    if _stemmer is None:
        from nltk.stem.snowball import SnowballStemmer

        _stemmer = SnowballStemmer("english")
    stems = _STEMS
    return [stems[w] for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


def read_chunks(path):
    """Lists of at most CHUNK lines of `path`, without their line ends."""
    with open(path, encoding="utf-8") as f:
        chunk = []
        for line in f:
            chunk.append(line.rstrip("\r\n"))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def sklearn_train(args):
    import pickle

    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    texts, labels = [], []
    with open(args.data, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        text, label = header.index("text"), header.index("label")
        for row in reader:
            texts.append(row[text])
            labels.append(row[label])
    pipeline = make_pipeline(
        CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, ngram_range=(1, 2), min_df=2),
        MultinomialNB(alpha=0.3),
    )
    pipeline.fit(texts, labels)
    with open(args.out, "wb") as f:
        pickle.dump(pipeline, f, protocol=pickle.HIGHEST_PROTOCOL)
    vocabulary = len(pipeline[0].vocabulary_)
    print(f"scikit-learn: trained on {len(texts)} sentences, vocabulary {vocabulary} n-grams", file=sys.stderr)


def sklearn_classify(args):
    import pickle

    import numpy as np

    with open(args.model, "rb") as f:
        pipeline = pickle.load(f)
    classes = pipeline.classes_
    line = 0
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "label", "confidence"])
        for chunk in read_chunks(args.input):
            proba = pipeline.predict_proba(chunk)
            best = proba.argmax(axis=1)
            confidence = proba[np.arange(len(best)), best]
            writer.writerows(
                (line + i + 1, classes[b], f"{c:.6f}") for i, (b, c) in enumerate(zip(best, confidence))
            )
            line += len(chunk)


def fasttext_train(args):
    import fasttext

    model = fasttext.train_supervised(input=args.data, wordNgrams=2, verbose=0)
    model.save_model(args.out)
    params = {k: getattr(getattr(model, k), "name", getattr(model, k)) for k in ("lr", "dim", "ws", "epoch", "minCount", "wordNgrams", "loss",
                                             "bucket", "thread", "minn", "maxn", "neg")}
    print(f"fastText: {len(model.words)} words, parameters {params}", file=sys.stderr)


def fasttext_classify(args):
    import fasttext

    model = fasttext.load_model(args.model)
    line = 0
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "label", "confidence"])
        for chunk in read_chunks(args.input):
            labels, probs = model.predict(chunk, k=1)
            writer.writerows(
                (line + i + 1, l[0][9:], f"{p[0]:.6f}") for i, (l, p) in enumerate(zip(labels, probs))
            )
            line += len(chunk)


def imports(args):
    if args.tool == "sklearn":
        import pickle  # noqa: F401

        import numpy  # noqa: F401
        import sklearn.feature_extraction.text  # noqa: F401
        import sklearn.naive_bayes  # noqa: F401
        import sklearn.pipeline  # noqa: F401
        from nltk.stem.snowball import SnowballStemmer  # noqa: F401
    else:
        import fasttext  # noqa: F401


def arithmetic(args):
    """A loop of integer arithmetic and nothing else (no input, nothing beyond the interpreter's own
    memory), its result written to `--out` so that the work cannot be skipped: N of these at once against
    one show what the machine gives N workers that share neither data nor caches."""
    x = 0
    for i in range(args.steps):
        x = (x * 31 + i) & 0xFFFFFFFF
    Path(args.out).write_text(f"{x}\n", encoding="utf-8")


def labels_of(path):
    """The `label` column of a CSV, in row order."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        column = next(reader).index("label")
        return [row[column] for row in reader]


def agreement(args):
    """Share of lines where each output agrees with the reference output, and each one's accuracy against
    the labels the generator drew. Outputs are NAME=PATH; prints TSV: name, lines, agreement, accuracy."""
    with open(args.truth, encoding="utf-8") as f:
        truth = [line.strip() for line in f]
    outputs = [pair.split("=", 1) for pair in [args.reference] + args.outputs]
    reference = labels_of(outputs[0][1])
    for name, path in outputs:
        labels = labels_of(path)
        if len(labels) != len(truth):
            sys.exit(f"{path}: {len(labels)} rows, but the input has {len(truth)} lines")
        agree = sum(a == b for a, b in zip(labels, reference)) / len(labels)
        accuracy = sum(a == b for a, b in zip(labels, truth)) / len(labels)
        print(f"{name}\t{len(labels)}\t{agree:.4f}\t{accuracy:.4f}")


def table(args):
    """Markdown table of results.tsv: task, input, tool, sentences, bytes, seconds, peak RSS (KB), CPU, runs
    (absent from the rows of runs before the script counted them); with runs.tsv, each row's fastest and
    slowest run, and the spread of narrative's speed-up over itself on one thread, run by run."""
    rows = []
    with open(args.results, encoding="utf-8") as f:
        for line in f:
            task, size, tool, sentences, nbytes, seconds, rss, cpu, *runs = line.rstrip("\n").split("\t")
            runs = runs[0] if runs else ""
            rows.append((task, size, tool, int(sentences), int(nbytes), float(seconds), runs, int(rss), cpu))
    # Every run's seconds by (task, input, tool), then by run number.
    each = {}
    if args.runs:
        with open(args.runs, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                each.setdefault((r["task"], r["input"], r["tool"]), {})[int(r["run"])] = float(r["seconds"])

    # Rows kept from an earlier run of some tools come first in the file: order by task, input, tool.
    sizes = list(dict.fromkeys(r[1] for r in rows))
    tasks = ["startup", "train", "classify"]
    tools = ["scikit-learn", "fastText"]
    rows.sort(key=lambda r: (tasks.index(r[0]), sizes.index(r[1]), tools.index(r[2]) if r[2] in tools else 2,
                             r[2].startswith("arithmetic"), r[2].endswith("processes"),
                             int(r[2].split(", ")[1].split()[0]) if ", " in r[2] else 0))
    print("| task | input | tool | sentences | MB | seconds | runs | fastest–slowest | sentences/s | MB/s "
          "| peak RSS MB | CPU | narrative × scikit-learn | narrative × fastText | × 1 thread (run by run) |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for task, size, tool, sentences, nbytes, seconds, runs, rss, cpu in rows:
        # Sentences a second: N runs at once did N times the sentences.
        speeds = {r[2]: r[3] / r[5] for r in rows if r[0] == task and r[1] == size and r[5] > 0}
        mine = each.get((task, size, tool), {})
        ratios = []
        # The anchors' ratios to one decimal; the thread scaling (the target is 1.8) to two. Runs at once
        # are the machine's measure, not a way to run narrative: no anchors' ratios. The arithmetic loops
        # (sentences and MB are narrative's, a count of their work only) are compared with one loop alone.
        arithmetic = tool.startswith("arithmetic")
        one = "arithmetic, 1 process" if arithmetic else "narrative, 1 thread"
        for name, digits in (("scikit-learn", 1), ("fastText", 1), (one, 2)):
            ours = task != "startup" and tool.startswith(("narrative", "arithmetic")) and tool != name
            ours = ours and (name == one or tool.startswith("narrative") and not tool.endswith("processes"))
            ratios.append(f"{speeds[tool] / speeds[name]:.{digits}f}×" if ours and name in speeds else "")
        # The runs of one and N threads took turns: the ratio of each pair shows how far one run can stray.
        single = each.get((task, size, one), {})
        base = next((r[3] for r in rows if r[:3] == (task, size, one)), 0)
        work = sentences / base if base else 1
        paired = sorted(work * single[run] / mine[run] for run in mine.keys() & single.keys())
        if ratios[2] and paired:
            ratios[2] += f" ({paired[0]:.2f}–{paired[-1]:.2f})"
        time = f"{seconds:.3f}" if seconds < 10 else f"{seconds:.2f}"
        spread = f"{min(mine.values()):.3f}–{max(mine.values()):.3f}" if mine else ""
        # Rows of no sentences: start-up, and the arithmetic (with its ratio to one loop alone).
        if task == "startup" or arithmetic:
            print(f"| {task} | {size} | {tool} | | | {time} | {runs} | {spread} | | | {rss / 1024:,.0f} | {cpu} "
                  f"| | | {ratios[2]} |")
            continue
        mb = nbytes / 1e6
        print(f"| {task} | {size} | {tool} | {sentences:,} | {mb:,.1f} | {time} | {runs} | {spread} "
              f"| {sentences / seconds:,.0f} | {mb / seconds:,.2f} | {rss / 1024:,.0f} | {cpu} | {' | '.join(ratios)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("imports")
    p.add_argument("tool", choices=["sklearn", "fasttext"])
    p.set_defaults(run=imports)
    for name, run in (("sklearn-train", sklearn_train), ("fasttext-train", fasttext_train)):
        p = sub.add_parser(name)
        p.add_argument("--data", required=True)
        p.add_argument("--out", required=True)
        p.set_defaults(run=run)
    for name, run in (("sklearn-classify", sklearn_classify), ("fasttext-classify", fasttext_classify)):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--input", required=True)
        p.add_argument("--out", required=True)
        p.set_defaults(run=run)
    p = sub.add_parser("agreement")
    p.add_argument("--truth", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("outputs", nargs="*")
    p.set_defaults(run=agreement)
    p = sub.add_parser("arithmetic")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=8_000_000)
    p.set_defaults(run=arithmetic)
    p = sub.add_parser("table")
    p.add_argument("--results", required=True)
    p.add_argument("--runs", help="runs.tsv: every run's seconds")
    p.set_defaults(run=table)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    # Run as the module `compare_anchors`, not `__main__`, so that the pickled pipeline refers to
    # `compare_anchors.tokenize`, which the classify step (another process) can import. No __pycache__ is
    # left in benches/.
    sys.dont_write_bytecode = True
    import compare_anchors

    compare_anchors.main()
