//! `narrative train`: models from labelled CSV, reproducible bytes, clear errors.

mod common;

use common::{SMALL_TRAINING, root, run, run_in, write};

#[test]
fn retraining_reproduces_the_shipped_model_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read(root().join("models/narrative.model")).unwrap();
    // The README's command (every core), then one thread and three: saving splits its work by thread count.
    for threads in [&[][..], &["--threads", "1"], &["--threads", "3"]] {
        let out = dir.path().join(format!("narrative{}.model", threads.concat()));
        let data = ["--data", "data/labelled/seeds.csv", "--data", "data/labelled/authored.csv"];
        let stdout = run(&[&["train"], &data[..], threads, &["--out", out.to_str().unwrap()]].concat()).ok();
        assert!(stdout.contains("vocabulary:"), "{stdout}");
        let retrained = std::fs::read(&out).unwrap();
        assert!(
            shipped == retrained,
            "retraining with the README's command {threads:?} must give the shipped model's bytes"
        );
    }
}

#[test]
fn train_prints_labels_counts_vocabulary_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "train.csv", SMALL_TRAINING);
    let stdout = run_in(dir.path(), &["train", "--data", &data, "--out", "m.model", "--min-df", "1"]).ok();
    assert!(stdout.starts_with("trained m.model from 6 sentences in 1 file(s) in "), "{stdout}");
    assert!(stdout.contains("vocabulary: "), "{stdout}");
    for line in ["isis_attribution            2", "neutral                     2", "ukraine_west_blame          2"] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    assert!(dir.path().join("m.model").is_file());
    let again = run_in(dir.path(), &["train", "--data", &data, "--out", "m2.model", "--min-df", "1"]);
    again.ok();
    assert_eq!(std::fs::read(dir.path().join("m.model")).unwrap(), std::fs::read(dir.path().join("m2.model")).unwrap());
}

#[test]
fn a_new_label_needs_no_code_change() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "text,label\nSecurity services failed to stop the gunmen.,russian_security_failure\n\
                 Police arrived an hour late.,russian_security_failure\n";
    let a = write(dir.path(), "a.csv", SMALL_TRAINING);
    let b = write(dir.path(), "b.csv", extra);
    run_in(dir.path(), &["train", "--data", &a, "--data", &b, "--out", "m.model", "--min-df", "1"]).ok();
    let article = write(dir.path(), "x.txt", "Police failed to stop the gunmen.\n");
    let out = run_in(dir.path(), &["classify", "--model", "m.model", &article]).ok();
    let (header, rows) = common::parse_csv(&out);
    assert!(header.contains(&"p_russian_security_failure".to_string()), "{header:?}");
    assert_eq!(rows[0][5], "russian_security_failure");
}

#[test]
fn stderr_carries_no_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "train.csv", SMALL_TRAINING);
    let run = run_in(dir.path(), &["train", "--data", &data, "--out", "m.model", "--min-df", "1"]);
    assert_eq!(run.code, 0);
    assert!(!run.stderr.contains("ClassHistogram"), "linfa-bayes' dbg! output reached stderr:\n{}", run.stderr);
    assert!(run.stderr.lines().all(|l| l.starts_with("narrative: warning: ")), "{}", run.stderr);
    assert!(run.stderr.contains("label \"neutral\" has only 2 training sentence(s)"), "{}", run.stderr);
}

#[test]
fn conflicting_labels_name_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", SMALL_TRAINING);
    let b = write(dir.path(), "b.csv", "text,label\nFirefighters fought the blaze for hours.,warning_claim\n");
    let err = run_in(dir.path(), &["train", "--data", &a, "--data", &b, "--out", "m.model", "--min-df", "1"]).fails(1);
    assert!(err.contains("b.csv:2") && err.contains("a.csv:7"), "{err}");
    assert!(!dir.path().join("m.model").exists(), "no model is written on error");
}

#[test]
fn bad_training_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("single.csv", "text,label\nA sentence.,neutral\nAnother one.,neutral\n", "at least two labels"),
        ("cols.csv", "sentence,tag\nx,y\n", "no \"text\" column; columns found: sentence, tag"),
        ("ragged.csv", "text,label\nfine,neutral\nbad,neutral,extra\n", "ragged.csv:3: row has 3 fields"),
        ("empty.csv", "", "empty file"),
        ("header.csv", "text,label\n", "no labelled rows"),
    ];
    for (name, body, expected) in cases {
        let path = write(dir.path(), name, body);
        let err = run_in(dir.path(), &["train", "--data", &path, "--out", "m.model", "--min-df", "1"]).fails(1);
        assert!(err.contains(expected), "{name}: {err}");
    }
    let bytes = write(dir.path(), "bytes.csv", b"text,label\nfine \xff,neutral\nok,x\n");
    let err = run_in(dir.path(), &["train", "--data", &bytes, "--out", "m.model", "--min-df", "1"]).fails(1);
    assert!(err.contains("bytes.csv:2: invalid UTF-8"), "{err}");
    let missing = run_in(dir.path(), &["train", "--data", "nope.csv"]).fails(1);
    assert!(missing.contains("nope.csv"), "{missing}");
}

#[test]
fn out_of_range_options_are_usage_errors() {
    for args in [["--alpha", "0"], ["--ngrams", "3-1"], ["--min-df", "0"], ["--weighting", "tfidf"]] {
        let mut all = vec!["train", "--data", "data/labelled/seeds.csv", "--out", "/tmp/never.model"];
        all.extend(args);
        run(&all).fails(2);
    }
    run(&["train"]).fails(2);
}
