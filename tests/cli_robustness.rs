//! Bad input of every kind: a one-line error naming the file (and line or byte), exit 1, never a panic;
//! odd but valid input classified as it should be; nothing half-written.

mod common;

use common::{parse_csv, root, run, run_in, write};

#[test]
fn text_encodings_and_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = "Kyiv denied it.\nISIS claimed it.\n";
    let cases = [
        ("bom.txt", format!("\u{feff}{plain}").into_bytes()),
        ("crlf.txt", plain.replace('\n', "\r\n").into_bytes()),
        ("cr.txt", plain.replace('\n', "\r").into_bytes()),
    ];
    for (name, bytes) in cases {
        let path = write(d, name, bytes);
        let (_, rows) = parse_csv(&run(&["classify", &path]).ok());
        let texts: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
        assert_eq!(texts, ["Kyiv denied it.", "ISIS claimed it."], "{name}");
    }
    let nul = write(d, "nul.txt", b"Kyiv denied it.\nISIS\0 claimed it.\n");
    assert!(run(&["classify", &nul]).fails(1).contains("nul.txt:2: NUL byte at byte 20"));
    let latin1 = write(d, "latin1.txt", b"Caf\xe9 attack.\n");
    assert!(run(&["classify", &latin1]).fails(1).contains("latin1.txt:1: invalid UTF-8 at byte 3"));
    let binary = std::fs::read(env!("CARGO_BIN_EXE_narrative")).unwrap();
    let exe = write(d, "program.txt", &binary[..4096]);
    assert!(run(&["classify", &exe]).fails(1).contains("not a text article (a binary file?)"));
}

#[test]
fn empty_and_blank_files_give_no_rows_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.txt", "");
    let blank = write(dir.path(), "blank.txt", " \n\n\t\r\n");
    let result = run(&["classify", &empty, &blank]);
    assert!(result.stderr.contains("2 document(s) had no text to classify"), "{}", result.stderr);
    let (header, rows) = parse_csv(&result.ok());
    assert_eq!(header.len(), 11);
    assert!(rows.is_empty());
}

#[test]
fn a_fifty_megabyte_line_is_classified_without_trouble() {
    let dir = tempfile::tempdir().unwrap();
    let sentence = "Officials said the gunmen fled toward the border after the attack. ";
    let path = write(dir.path(), "line.txt", sentence.repeat(50 * 1024 * 1024 / sentence.len()));
    let out = run(&["classify", "--format", "jsonl", &path]).ok();
    let lines = out.lines().count();
    assert_eq!(lines, 50 * 1024 * 1024 / sentence.len());
}

#[test]
fn malformed_csv_and_jsonl_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let quote = write(d, "quote.csv", "text,label\n\"An unterminated quote,neutral\nNext.,neutral\n");
    let err = run(&["train", "--data", &quote, "--out", "/tmp/never.model"]).fails(1);
    assert!(err.contains("quote.csv:2"), "{err}");
    let jsonl = write(d, "bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"broken\n");
    let err = run(&["classify", &jsonl]).fails(1);
    assert!(err.contains("bad.jsonl:2: invalid JSON"), "{err}");
    let no_text = write(d, "no_text.jsonl", "{\"body\": \"x\"}\n");
    assert!(run(&["classify", &no_text]).fails(1).contains("no_text.jsonl:1: no \"text\" field"));
    let empty_cells = write(d, "cells.csv", "id,text\na,\nb,Kyiv denied it.\n");
    let result = run(&["classify", &empty_cells]);
    assert!(result.stderr.contains("1 document(s) had no text"), "{}", result.stderr);
    assert_eq!(parse_csv(&result.ok()).1.len(), 1);
}

#[test]
fn labels_are_normalised_not_rejected_for_case_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        dir.path(),
        "t.csv",
        "text,label\nKyiv denied it.,  Ukraine_West_Blame \nISIS claimed it.,ISIS_ATTRIBUTION\nThe toll rose.,neutral\n",
    );
    let out = run_in(dir.path(), &["train", "--data", &data, "--out", "m.model", "--min-df", "1"]).ok();
    assert!(out.contains("ukraine_west_blame") && out.contains("isis_attribution"), "{out}");
    assert!(!out.contains("Ukraine_West_Blame"));
}

#[test]
fn unwritable_outputs_are_errors_that_leave_nothing_behind() {
    let err = run(&["classify", "seeds/", "-o", "/dev/full"]).fails(1);
    assert!(err.contains("/dev/full: cannot write: No space left on device"), "{err}");
    let full = std::process::Command::new(env!("CARGO_BIN_EXE_narrative"))
        .args(["classify", "seeds/"])
        .current_dir(root())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&full.stderr).contains("stdout: cannot write: No space left on device"));
    // /proc does not take new files: the report and model writers fail cleanly there.
    let err = run(&["train", "--data", "data/labelled/seeds.csv", "--out", "/proc/narrative.model"]).fails(1);
    assert!(err.contains("/proc/narrative.model"), "{err}");
    let err = run(&["report", "seeds/", "--out", "/proc/narrative-report"]).fails(1);
    assert!(err.contains("/proc/narrative-report"), "{err}");
    let err = run(&["train", "--data", "data/labelled/seeds.csv", "--out", "/dev/null"]).fails(1);
    assert!(err.contains("/dev/null") && err.contains("not a regular file"), "{err}");
    assert!(std::fs::metadata("/dev/null").unwrap().len() == 0);
}

#[test]
fn killing_a_model_write_leaves_the_previous_model_intact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "small.csv", common::SMALL_TRAINING);
    run_in(d, &["train", "--data", "small.csv", "--out", "m.model", "--min-df", "1"]).ok();
    let old = std::fs::read(d.join("m.model")).unwrap();
    // A training file whose model is large (many distinct n-grams), so the write takes a while.
    let mut big = String::from("text,label\n");
    for i in 0..60_000 {
        let label = ["isis_attribution", "neutral", "ukraine_west_blame"][i % 3];
        big.push_str(&format!("w{i}a w{i}b w{i}c w{i}d token{} token{},{label}\n", i % 97, i % 89));
    }
    write(d, "big.csv", big);
    let mut new: Option<Vec<u8>> = None;
    for delay_ms in [0u64, 50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400] {
        let mut child = common::command_in(d, &["train", "--data", "big.csv", "--out", "m.model", "--min-df", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let finished = child.wait().unwrap().success();
        let now = std::fs::read(d.join("m.model")).unwrap();
        narrative::model::Model::from_bytes(&now, &d.join("m.model")).expect("the model file is always whole");
        if finished || now != old {
            assert!(new.as_ref().is_none_or(|n| *n == now), "only the old or the complete new model");
            new = Some(now);
        } else {
            assert_eq!(now, old);
        }
    }
}

/// Ctrl-C (or SIGTERM) in the middle of writing an output: exit code 130, and no temporary file or
/// directory left beside the output (a signal runs no destructors; the handler removes them first). A
/// run started with SIGHUP ignored (`nohup`) goes on through it.
#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_no_temporary_output() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let article = std::fs::read_to_string(root().join("seeds/000_83e4cde7cd4e48bd.txt")).unwrap();
    // About 40 MB: seconds of work even on a fast machine, so the signal comes while the output is written.
    write(d, "big.txt", article.repeat(8000));
    std::fs::create_dir(d.join("out")).unwrap();
    let entries = || -> Vec<String> {
        let names = std::fs::read_dir(d.join("out")).unwrap().map(|e| e.unwrap().file_name());
        names.map(|n| n.to_string_lossy().into_owned()).collect()
    };
    // Runs `command` until its temporary output appears, then sends it `signal` and waits for it.
    let interrupt = |mut command: std::process::Command, signal: Signal| {
        let mut child =
            command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let started = std::time::Instant::now();
        while entries().is_empty() {
            assert!(child.try_wait().unwrap().is_none(), "{command:?} ended before it wrote anything");
            assert!(started.elapsed().as_secs() < 60, "{command:?}: no temporary output appeared");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let temporary = entries();
        assert!(temporary.iter().all(|n| n.starts_with(".narrative-")), "{command:?}: {temporary:?}");
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        child.wait().unwrap()
    };
    let model = root().join("models/narrative.model");
    let model = model.to_str().unwrap();
    let runs = [
        (Signal::SIGINT, ["classify", "--model", model, "big.txt", "-o", "out/rows.csv"]),
        (Signal::SIGTERM, ["report", "--model", model, "big.txt", "--out", "out/report"]),
    ];
    for (signal, args) in runs {
        let status = interrupt(common::command_in(d, &args), signal);
        assert_eq!(status.code(), Some(130), "{args:?} ended by {signal}: {status}");
        assert!(entries().is_empty(), "{args:?} ended by {signal} left {:?}", entries());
    }
    // About 10 MB: long enough that the signal comes mid-run even when the test thread is slow to see it.
    write(d, "small.txt", article.repeat(2000));
    let mut nohup = std::process::Command::new("nohup");
    nohup.arg(env!("CARGO_BIN_EXE_narrative")).current_dir(d).stdin(std::process::Stdio::null());
    nohup.args(["classify", "--model", model, "small.txt", "-o", "out/rows.csv"]);
    let status = interrupt(nohup, Signal::SIGHUP);
    assert!(status.success(), "under nohup, SIGHUP ended the run: {status}");
    assert_eq!(entries(), ["rows.csv"]);
}

#[test]
fn every_subcommand_reports_a_bad_model_or_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad_model = write(d, "bad.model", b"NARRATIVE-MODEL\ntruncated");
    let good = root().join("models/narrative.model");
    let good = good.to_str().unwrap();
    let data = root().join("data/labelled/seeds.csv");
    let data = data.to_str().unwrap();
    let article = root().join("seeds/000_83e4cde7cd4e48bd.txt");
    let article = article.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["classify", "--model", &bad_model, article],
        vec!["report", "--model", &bad_model, article],
        vec!["explain", "--model", &bad_model],
        vec!["suggest", "--model", &bad_model, article],
        vec!["eval", "--model", &bad_model, "--data", data],
        vec!["update", "--model", &bad_model, "--data", data, "--out", "new.model"],
        vec!["compare", &bad_model, good, "--data", data],
        vec!["compare", good, &bad_model, "--data", data],
    ];
    for args in cases {
        let err = run_in(d, &args).fails(1);
        assert!(err.contains("bad.model: truncated model file"), "{args:?}: {err}");
    }
    let missing: Vec<Vec<&str>> = vec![
        vec!["report", "--model", good, "missing.txt"],
        vec!["suggest", "--model", good, "missing.txt"],
        vec!["compare", good, good, "--data", data, "missing.txt"],
        vec!["report", "--model", good, "--meta", "missing.csv", article],
    ];
    for args in missing {
        let err = run_in(d, &args).fails(1);
        assert!(err.contains("missing."), "{args:?}: {err}");
    }
    assert!(!d.join("new.model").exists());
}
