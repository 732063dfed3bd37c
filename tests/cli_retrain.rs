//! The retraining loop end to end: train on the seeds, suggest from a new article, label the
//! suggestions (from a fixture), update, compare; plus `--prefer-later` and lineage.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{parse_csv, root, run_in, write};
use narrative::model::Model;

const ARTICLE: &str = "tests/fixtures/retrain/tass_style_article.txt";
const LABELS: &str = "tests/fixtures/retrain/tass_style_labels.csv";

fn fixture_labels() -> HashMap<String, String> {
    let (_, rows) = parse_csv(&std::fs::read_to_string(root().join(LABELS)).unwrap());
    rows.into_iter().map(|r| (r[0].clone(), r[1].clone())).collect()
}

fn csv_of(rows: &[(String, String)]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["text", "label"]).unwrap();
    for (t, l) in rows {
        w.write_record([t, l]).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

#[test]
fn suggest_label_update_compare_improves_on_the_new_articles_held_out_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seeds = root().join("data/labelled/seeds.csv");
    let article = root().join(ARTICLE);
    run_in(d, &["train", "--data", seeds.to_str().unwrap(), "--out", "old.model"]).ok();

    // 1. What to label next, from the new article.
    run_in(d, &["suggest", "--model", "old.model", "--n", "25", article.to_str().unwrap(), "-o", "to_label.csv"]).ok();
    let (header, suggested) = parse_csv(&std::fs::read_to_string(d.join("to_label.csv")).unwrap());
    assert_eq!(header, ["text", "doc", "predicted", "confidence", "label"]);
    assert_eq!(suggested.len(), 25);
    assert!(suggested.iter().all(|r| r[4].is_empty() && r[1].ends_with("tass_style_article.txt")));
    let confidences: Vec<f64> = suggested.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(confidences.iter().all(|&c| c < 0.999), "suggestions are the uncertain ones: {confidences:?}");

    // 2. An analyst labels them (the fixture plays the analyst) and updates the model.
    let truth = fixture_labels();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for r in &suggested {
        let label = truth.get(&r[0]).unwrap_or_else(|| panic!("fixture has no label for {:?}", r[0]));
        w.write_record([&r[0], &r[1], &r[2], &r[3], label]).unwrap();
    }
    write(d, "labelled.csv", w.into_inner().unwrap());
    let out = run_in(d, &["update", "--model", "old.model", "--data", "labelled.csv", "--out", "new.model"]).ok();
    assert!(out.contains("with 25 new sentences"), "{out}");

    // 3. Compare on the article's sentences that were not suggested (held out from the update).
    let labelled: std::collections::HashSet<&str> = suggested.iter().map(|r| r[0].as_str()).collect();
    let held_out: Vec<(String, String)> =
        truth.iter().filter(|(t, _)| !labelled.contains(t.as_str())).map(|(t, l)| (t.clone(), l.clone())).collect();
    assert!(held_out.len() >= 30, "{} held-out sentences", held_out.len());
    write(d, "heldout.csv", csv_of(&held_out));
    let json =
        run_in(d, &["compare", "old.model", "new.model", "--data", "heldout.csv", "--json", article.to_str().unwrap()])
            .ok();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (old_f1, new_f1) =
        (v["old"]["scores"]["macro_f1"].as_f64().unwrap(), v["new"]["scores"]["macro_f1"].as_f64().unwrap());
    let (old_acc, new_acc) =
        (v["old"]["scores"]["accuracy"].as_f64().unwrap(), v["new"]["scores"]["accuracy"].as_f64().unwrap());
    assert!(
        new_f1 > old_f1 && new_acc > old_acc,
        "macro-F1 {old_f1:.3} -> {new_f1:.3}, accuracy {old_acc:.3} -> {new_acc:.3}"
    );
    assert!(v["changes"]["changed"].as_u64().unwrap() > 0);
    assert_eq!(v["changes"]["sentences"].as_u64().unwrap() as usize, truth.len());

    // The human-readable form shows the same comparison.
    let table =
        run_in(d, &["compare", "old.model", "new.model", "--data", "heldout.csv", article.to_str().unwrap()]).ok();
    let line = table.lines().find(|l| l.starts_with("macro-F1")).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields,
        ["macro-F1", &format!("{old_f1:.3}"), &format!("{new_f1:.3}"), &format!("{:+.3}", new_f1 - old_f1)]
    );
    assert!(table.contains(" changed label ("), "{table}");
    // Over more documents than a batch holds, the changes (and their examples, in input order) are the
    // same on one thread and on three.
    let lines: String = truth.keys().cycle().take(5_000).map(|t| format!("{t}\n")).collect();
    write(d, "lines.txt", lines);
    let on = |threads| {
        let args = ["compare", "old.model", "new.model", "--data", "heldout.csv", "--json", "--input-format", "lines"];
        run_in(d, &[&args[..], &["lines.txt", "--threads", threads]].concat()).ok()
    };
    let one = on("1");
    assert_eq!(on("3"), one);
    assert!(one.contains("\"sentences\":5000"), "{one}");

    // 4. The new model knows where it came from.
    let new = Model::load(&d.join("new.model"), std::num::NonZeroUsize::MIN).unwrap();
    let parent = blake3::hash(&std::fs::read(d.join("old.model")).unwrap()).to_hex().to_string();
    assert_eq!(new.lineage().parent.as_deref(), Some(parent.as_str()));
    let hashes: Vec<&str> = new.lineage().data.iter().map(|f| f.blake3.as_str()).collect();
    let expected = [digest(&seeds), digest(&d.join("labelled.csv"))];
    assert_eq!(hashes, expected.iter().map(String::as_str).collect::<Vec<_>>());
}

fn digest(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap()).to_hex().to_string()
}

#[test]
fn update_adds_a_new_label_and_skips_unlabelled_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.csv", common::SMALL_TRAINING);
    run_in(d, &["train", "--data", "base.csv", "--out", "old.model", "--min-df", "1"]).ok();
    write(
        d,
        "new.csv",
        "text,label\nPolice arrived an hour late.,russian_security_failure\nSecurity services failed again.,\n\
         The guards fled before the gunmen arrived.,russian_security_failure\n",
    );
    let result = run_in(d, &["update", "--model", "old.model", "--data", "new.csv", "--out", "new.model"]);
    assert!(result.stderr.contains("1 row(s) with an empty label skipped (first: new.csv:3)"), "{}", result.stderr);
    let out = result.ok();
    assert!(out.contains("russian_security_failure          2  (new)"), "{out}");
    let (header, rows) = parse_csv(&run_in(d, &["classify", "--model", "new.model", "-"]).ok());
    assert!(header.contains(&"p_russian_security_failure".to_string()));
    assert!(rows.is_empty(), "no stdin input, no rows");
    let err = run_in(d, &["update", "--model", "old.model", "--data", "new.csv"]).fails(2);
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn prefer_later_lets_a_correction_file_win() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.csv", common::SMALL_TRAINING);
    write(d, "fix.csv", "text,label\nFirefighters fought the blaze for hours.,isis_attribution\n");
    let err = run_in(d, &["train", "--data", "base.csv", "--data", "fix.csv", "--out", "m.model"]).fails(1);
    assert!(err.contains("fix.csv:2") && err.contains("base.csv:7") && err.contains("--prefer-later"), "{err}");
    let result = run_in(
        d,
        &["train", "--data", "base.csv", "--data", "fix.csv", "--out", "m.model", "--prefer-later", "--min-df", "1"],
    );
    assert!(
        result.stderr.contains("fix.csv:2 relabels \"neutral\" as \"isis_attribution\" (was base.csv:7)"),
        "{}",
        result.stderr
    );
    let out = result.ok();
    assert!(out.contains("isis_attribution            3"), "{out}");
}
