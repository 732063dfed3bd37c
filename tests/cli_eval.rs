//! `narrative eval`: held-out scores and cross-validation, as tables and JSON.

mod common;

use common::{SMALL_TRAINING, root, run, run_in, write};

#[test]
fn json_has_the_documented_keys_and_consistent_numbers() {
    let out = run(&["eval", "--data", "data/labelled/seeds.csv", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["accuracy", "macro_f1", "per_label", "confusion"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let matrix: Vec<Vec<u64>> = serde_json::from_value(v["confusion"]["matrix"].clone()).unwrap();
    let total: u64 = matrix.iter().flatten().sum();
    let correct: u64 = (0..matrix.len()).map(|i| matrix[i][i]).sum();
    assert_eq!(total, 316, "318 seed sentences less 2 exact duplicates");
    assert!((v["accuracy"].as_f64().unwrap() - correct as f64 / total as f64).abs() < 1e-12);
    let support: u64 = v["per_label"].as_object().unwrap().values().map(|s| s["support"].as_u64().unwrap()).sum();
    assert_eq!(support, total);
}

#[test]
fn table_output_lists_every_label() {
    let out = run(&["eval", "--data", "data/labelled/seeds.csv"]).ok();
    assert!(out.contains("accuracy ") && out.contains("macro-F1 "), "{out}");
    for label in ["isis_attribution", "neutral", "ukraine_west_blame", "warning_claim"] {
        assert!(out.contains(label), "{label} missing:\n{out}");
    }
    assert!(out.contains("confusion (rows: true label, columns: predicted)"));
}

/// The README's score table must be what `eval --cv` prints today.
#[test]
fn cross_validation_reproduces_the_readme_numbers() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let cases = [("seeds only", vec![]), ("seeds + authored", vec!["--train-only", "data/labelled/authored.csv"])];
    for (name, extra) in cases {
        let mut args = vec!["eval", "--cv", "5", "--group-by", "doc", "--data", "data/labelled/seeds.csv", "--json"];
        args.extend(extra);
        let v: serde_json::Value = serde_json::from_str(&run(&args).ok()).unwrap();
        let f1 = format!("{:.3}", v["macro_f1"].as_f64().unwrap());
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {name} (default options)")))
            .unwrap_or_else(|| panic!("README has no row starting with `| {name} (default options)`"));
        assert!(row.contains(&format!("| {f1} |")), "README row {row:?} should show macro-F1 {f1}");
        assert_eq!(v["cv"]["folds"], 5);
        assert_eq!(v["cv"]["fold_macro_f1"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn cross_validation_is_deterministic_and_grouped() {
    let args = ["eval", "--cv", "5", "--group-by", "doc", "--data", "data/labelled/seeds.csv", "--json"];
    let first = run(&args).ok();
    assert_eq!(run(&args).ok(), first);
    // The folds run side by side on several threads, with the same scores.
    for threads in ["1", "3"] {
        assert_eq!(run(&[&args[..], &["--threads", threads]].concat()).ok(), first, "--threads {threads}");
    }
    let err = run(&["eval", "--cv", "6", "--group-by", "doc", "--data", "data/labelled/seeds.csv"]).fails(1);
    assert!(err.contains("5 groups cannot fill 6 folds"), "{err}");
    let err = run(&["eval", "--cv", "5", "--group-by", "article", "--data", "data/labelled/seeds.csv"]).fails(1);
    assert!(err.contains("no \"article\" column"), "{err}");
}

#[test]
fn unknown_labels_count_as_errors_and_misused_options_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "e.csv",
        "text,label\nKyiv denied it.,ukraine_west_blame\nPolice were slow.,security_failure\n",
    );
    let run_ = run(&["eval", "--data", &data, "--json"]);
    assert!(run_.stderr.contains("label \"security_failure\" (1 sentence(s)) is not one of"), "{}", run_.stderr);
    let v: serde_json::Value = serde_json::from_str(&run_.ok()).unwrap();
    assert_eq!(v["per_label"]["security_failure"]["support"], 1);
    assert_eq!(v["per_label"]["security_failure"]["recall"], 0.0);
    run(&["eval", "--data", &data, "--alpha", "0.5"]).fails(2);
    run(&["eval", "--data", &data, "--group-by", "doc"]).fails(2);
    run(&["eval", "--data", &data, "--cv", "1"]).fails(1);
}

#[test]
fn eval_scores_a_model_given_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "t.csv", SMALL_TRAINING);
    run_in(dir.path(), &["train", "--data", &data, "--out", "m.model", "--min-df", "1"]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&run_in(dir.path(), &["eval", "--model", "m.model", "--data", &data, "--json"]).ok())
            .unwrap();
    assert_eq!(v["accuracy"], 1.0, "a model scores perfectly on six sentences it was trained on");
}
