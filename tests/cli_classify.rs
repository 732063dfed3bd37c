//! `narrative classify`: the seed articles with the shipped model, every input kind, every output kind.

mod common;

use common::{SMALL_TRAINING, parse_csv, root, run, run_in, run_with_stdin, write};

const HEADER: [&str; 11] = [
    "doc",
    "sentence",
    "start",
    "end",
    "text",
    "label",
    "confidence",
    "p_isis_attribution",
    "p_neutral",
    "p_ukraine_west_blame",
    "p_warning_claim",
];

#[test]
fn classifies_every_seed_sentence_with_spans_and_posteriors() {
    let (header, rows) = parse_csv(&run(&["classify", "seeds/"]).ok());
    assert_eq!(header, HEADER);
    let labelled = std::fs::read_to_string(root().join("data/labelled/seeds.csv")).unwrap();
    let (_, hand) = parse_csv(&labelled);
    assert_eq!(rows.len(), hand.len(), "one row per sentence the splitter yields");
    let mut agree = 0;
    for (row, hand) in rows.iter().zip(&hand) {
        let source = std::fs::read_to_string(root().join(&row[0])).unwrap();
        let (start, end): (usize, usize) = (row[2].parse().unwrap(), row[3].parse().unwrap());
        assert_eq!(&source[start..end], row[4], "span of {}:{}", row[0], row[1]);
        assert_eq!(row[4], hand[0], "same sentences as data/labelled/seeds.csv");
        let p: Vec<f64> = row[7..].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
        let best = HEADER[7 + p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0];
        assert_eq!(format!("p_{}", row[5]), best);
        assert_eq!(row[6], row[7 + HEADER[7..].iter().position(|h| *h == best).unwrap()]);
        agree += usize::from(row[5] == hand[1]);
    }
    // The shipped model saw these sentences in training: this is a sanity check, not a score.
    assert!(agree * 10 >= rows.len() * 8, "{agree} of {} agree with the hand labels", rows.len());
}

#[test]
fn headline_sentences_get_the_narrative_a_reader_expects() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(
        dir.path(),
        "a.txt",
        "Kremlin says Kyiv regime and Western curators were behind Crocus massacre\n\n\
         Islamic State claimed responsibility for the attack through its Amaq news agency.\n\
         The U.S. Embassy had warned Americans on March 7 to avoid large gatherings.\n",
    );
    let (_, rows) = parse_csv(&run(&["classify", &article]).ok());
    let labels: Vec<&str> = rows.iter().map(|r| r[5].as_str()).collect();
    assert_eq!(labels, ["ukraine_west_blame", "isis_attribution", "warning_claim"]);
}

#[test]
fn jsonl_carries_the_same_rows_as_csv() {
    let path = "seeds/000_83e4cde7cd4e48bd.txt";
    let (_, csv_rows) = parse_csv(&run(&["classify", path]).ok());
    let jsonl = run(&["classify", "--format", "jsonl", path]).ok();
    let lines: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), csv_rows.len());
    for (json, row) in lines.iter().zip(&csv_rows) {
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = HEADER.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "same columns (serde_json orders keys)");
        assert_eq!(json["text"], row[4].as_str());
        assert_eq!(json["label"], row[5].as_str());
        assert_eq!(json["sentence"].to_string(), row[1]);
        assert_eq!(json["p_neutral"].as_f64().unwrap(), row[8].parse::<f64>().unwrap());
    }
}

#[test]
fn columns_pick_and_order_the_fields() {
    let path = "seeds/000_83e4cde7cd4e48bd.txt";
    let (_, full) = parse_csv(&run(&["classify", path]).ok());
    let (header, rows) = parse_csv(&run(&["classify", "--columns", "label,doc,sentence,probabilities", path]).ok());
    assert_eq!(
        header,
        ["label", "doc", "sentence", "p_isis_attribution", "p_neutral", "p_ukraine_west_blame", "p_warning_claim"]
    );
    assert_eq!(rows.len(), full.len());
    for (row, full) in rows.iter().zip(&full) {
        assert_eq!((&row[0], &row[1], &row[2]), (&full[5], &full[0], &full[1]));
        assert_eq!(row[3..], full[7..]);
    }
    let jsonl = run(&["classify", "--format", "jsonl", "--columns", "sentence,label", "--explain", "2", path]).ok();
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["evidence", "label", "sentence"]);
    assert_eq!(first["sentence"], 1);
    for bad in ["doc,doc", "doc,title", ""] {
        let err = run(&["classify", "--columns", bad, path]).fails(2);
        assert!(err.contains("--columns"), "{bad}: {err}");
    }
}

#[test]
fn stdin_csv_jsonl_and_sentence_units() {
    let (_, rows) = parse_csv(&run_with_stdin(&["classify", "-"], "Kyiv denied it. ISIS claimed it.").ok());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "-");

    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "in.csv", "id,outlet,text\nx1,TASS,One sentence. Two sentences.\n,RT,Three.\n");
    let (_, rows) = parse_csv(&run(&["classify", &csv]).ok());
    assert_eq!(rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), ["x1", "x1", format!("{csv}:3").as_str()]);
    let (_, rows) = parse_csv(&run(&["classify", "--unit", "sentence", &csv]).ok());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][4], "One sentence. Two sentences.");

    let jsonl = write(dir.path(), "in.jsonl", "{\"id\": \"a\", \"text\": \"Kyiv denied it.\"}\n");
    let (_, rows) = parse_csv(&run(&["classify", &jsonl]).ok());
    assert_eq!((rows[0][0].as_str(), rows[0][4].as_str()), ("a", "Kyiv denied it."));
    let piped = run_with_stdin(&["classify", "--input-format", "csv", "--unit", "sentence", "-"], "text\nHello.\n");
    assert_eq!(parse_csv(&piped.ok()).1.len(), 1);
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tagged.csv");
    let stdout = run(&["classify", "seeds/", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(stdout, "");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, run(&["classify", "seeds/"]).ok());
    let err = run(&["classify", "seeds/", "-o", "/nonexistent-dir/out.csv"]).fails(1);
    assert!(err.contains("/nonexistent-dir/out.csv"), "{err}");
}

#[test]
fn a_closed_stdout_exits_quietly() {
    use std::io::Read;
    let mut child = common::command_in(&root(), &["classify", "seeds/"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn model_problems_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let article = write(dir.path(), "a.txt", "Kyiv denied it.");
    let err = run_in(dir.path(), &["classify", &article]).fails(1);
    assert!(err.contains("models/narrative.model: model file not found; train one with `narrative train"), "{err}");

    let shipped = std::fs::read(root().join("models/narrative.model")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated.model", shipped[..shipped.len() / 2].to_vec(), "truncated"),
        (
            "random.model",
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            "not a narrative model",
        ),
        ("foreign.model", b"%PDF-1.7 not a model".to_vec(), "not a narrative model"),
        ("old.model", [&shipped[..16], &[0, 0, 0, 0][..], &shipped[20..]].concat(), "format version 0"),
    ];
    for (name, bytes, expected) in cases {
        let model = write(dir.path(), name, bytes);
        let err = run_in(dir.path(), &["classify", "--model", &model, &article]).fails(1);
        assert!(err.contains(expected) && err.contains(name), "{name}: {err}");
    }
    let err = run_in(dir.path(), &["classify", "--model", dir.path().to_str().unwrap(), &article]).fails(1);
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.txt", b"Fine line.\nBroken \xc3( here.\n");
    let err = run(&["classify", &bad]).fails(1);
    assert!(err.contains("bad.txt:2: invalid UTF-8 at byte 18"), "{err}");
    let empty_dir = tempfile::tempdir().unwrap();
    let err = run(&["classify", empty_dir.path().to_str().unwrap()]).fails(1);
    assert!(err.contains("no .txt articles"), "{err}");
    let err = run(&["classify", "missing.txt"]).fails(1);
    assert!(err.contains("missing.txt"), "{err}");
    run(&["classify"]).fails(2);
    run(&["classify", "--format", "xml", "seeds/"]).fails(2);
}

#[test]
fn classify_uses_the_model_given() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "t.csv", SMALL_TRAINING);
    run_in(dir.path(), &["train", "--data", &data, "--out", "small.model", "--min-df", "1"]).ok();
    let (header, _) = parse_csv(&run_in(dir.path(), &["classify", "--model", "small.model", &data]).ok());
    assert_eq!(header[7..], ["p_isis_attribution", "p_neutral", "p_ukraine_west_blame"]);
}

#[test]
fn every_thread_count_writes_the_same_bytes_in_input_order() {
    // Enough text for many batches, and a long article that arrives in several parts.
    let dir = tempfile::tempdir().unwrap();
    let seeds: Vec<String> = std::fs::read_dir(root().join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let long = seeds.join("\n\n").repeat(1 + (9 << 20) / seeds.iter().map(String::len).sum::<usize>());
    let long = write(dir.path(), "long.txt", long);
    let mut rows = String::from("id,text\n");
    for i in 0..3000 {
        let text: String = seeds[i % seeds.len()].chars().skip(i % 50).take(400).collect();
        rows.push_str(&format!("r{i},\"{}\"\n", text.replace('"', "\"\"")));
    }
    let csv = write(dir.path(), "rows.csv", rows);
    let outputs: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|threads| run(&["classify", "--threads", threads, &csv, &long, "seeds/"]).ok())
        .collect();
    assert!(outputs[0] == outputs[1] && outputs[0] == outputs[2], "output depends on --threads");
    let (_, rows) = parse_csv(&outputs[0]);
    let first_long = rows.iter().position(|r| r[0] == long).unwrap();
    let numbers: Vec<usize> =
        rows[first_long..].iter().take_while(|r| r[0] == long).map(|r| r[1].parse().unwrap()).collect();
    assert!(numbers.len() > 10_000, "the long article has many sentences");
    assert!(numbers.iter().enumerate().all(|(i, &n)| n == i + 1), "one numbering across the article's parts");
    assert_eq!(rows[0][0], "r0");
    assert!(run(&["classify", "--threads", "0", &csv]).fails(2).contains("--threads"));
}

#[test]
fn line_files_are_one_sentence_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = write(
        dir.path(),
        "sentences.txt",
        "Islamic State claimed responsibility for the attack.\n\nKyiv denied any involvement in the attack.\n",
    );
    let out = run(&["classify", "--input-format", "lines", "--unit", "sentence", &lines]).ok();
    let (_, rows) = parse_csv(&out);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, [format!("{lines}:1"), format!("{lines}:3")]);
    assert_eq!(rows[1][4], "Kyiv denied any involvement in the attack.");
    assert_eq!((rows[0][5].as_str(), rows[1][5].as_str()), ("isis_attribution", "ukraine_west_blame"));
}
