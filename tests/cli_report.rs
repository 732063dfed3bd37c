//! `narrative report` and `narrative explain`: numbers that can be checked by hand from `classify`,
//! files written whole, charts that show what the tables say, a page that renders in a browser.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{parse_csv, root, run};

/// Per document, the sentence count per label, recomputed from `classify` output.
fn counts_from_classify() -> (Vec<String>, BTreeMap<String, Vec<u64>>) {
    let (header, rows) = parse_csv(&run(&["classify", "seeds/"]).ok());
    let labels: Vec<String> = header[7..].iter().map(|h| h.trim_start_matches("p_").to_owned()).collect();
    let mut counts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for row in rows {
        let entry = counts.entry(row[0].clone()).or_insert_with(|| vec![0; labels.len()]);
        entry[labels.iter().position(|l| *l == row[5]).unwrap()] += 1;
    }
    (labels, counts)
}

#[test]
fn article_shares_match_classify_output() {
    let (labels, counts) = counts_from_classify();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let stdout = run(&["report", "--meta", "seeds/index.csv", "seeds/", "--out", out.to_str().unwrap()]).ok();
    assert!(stdout.contains("wrote report for 5 articles"), "{stdout}");
    let (header, rows) = parse_csv(&std::fs::read_to_string(out.join("articles.csv")).unwrap());
    assert_eq!(rows.len(), 5);
    for row in &rows {
        let c = &counts[&row[0]];
        let total: u64 = c.iter().sum();
        assert_eq!(row[3], total.to_string());
        for (i, l) in labels.iter().enumerate() {
            let col = header.iter().position(|h| *h == format!("share_{l}")).unwrap();
            let share: f64 = row[col].parse().unwrap();
            assert!((share - c[i] as f64 / total as f64).abs() < 1e-6, "{} {l}", row[0]);
        }
    }
    // Outlets come from seeds/index.csv; every seed outlet is its own group of one article, flagged.
    let (_, groups) = parse_csv(&std::fs::read_to_string(out.join("groups.csv")).unwrap());
    assert_eq!(groups.len(), 5);
    assert!(groups.iter().any(|g| g[0] == "Breitbart" && g[1] == "1" && g[3] == "true"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let model = std::fs::read(root().join("models/narrative.model")).unwrap();
    assert_eq!(json["model"]["blake3"], blake3::hash(&model).to_hex().to_string());
    let (_, sentences) = parse_csv(&std::fs::read_to_string(out.join("sentences.csv")).unwrap());
    assert_eq!(sentences.len() as u64, counts.values().flatten().sum::<u64>());
}

#[test]
fn grouping_by_type_pools_articles_and_flags_small_groups() {
    let out = run(&["report", "--meta", "seeds/index.csv", "--by", "outlet_type", "seeds/"]).ok();
    assert!(out.contains("think_tank"), "{out}");
    assert!(out.contains("COMPARISONS"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    run(&["report", "--meta", "seeds/index.csv", "--by", "outlet_type", "seeds/", "--out", path.to_str().unwrap()])
        .ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("report.json")).unwrap()).unwrap();
    let groups = json["groups"].as_array().unwrap();
    let think_tank = groups.iter().find(|g| g["group"] == "think_tank").unwrap();
    assert_eq!(think_tank["articles"], 2);
    assert_eq!(think_tank["too_few_articles"], true);
    let single = groups.iter().find(|g| g["articles"] == 1).unwrap();
    for i in 0..4 {
        let width =
            |g: &serde_json::Value| g["pooled"][i]["high"].as_f64().unwrap() - g["pooled"][i]["low"].as_f64().unwrap();
        assert_eq!(width(single), 0.0, "one article: no spread to resample");
        assert!(width(think_tank) >= 0.0);
    }
}

#[test]
fn intervals_widen_when_a_group_has_fewer_articles() {
    let text = std::fs::read_to_string(root().join("seeds/004_34eb516a271d2c87.txt")).unwrap();
    let paragraphs: Vec<&str> = text.split("\n\n").filter(|p| p.len() > 150).collect();
    assert!(paragraphs.len() >= 15, "{}", paragraphs.len());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "outlet", "text"]).unwrap();
    for (i, p) in paragraphs.iter().enumerate() {
        w.write_record([&format!("many-{i}"), "many", p]).unwrap();
    }
    for (i, p) in paragraphs.iter().take(4).enumerate() {
        w.write_record([&format!("few-{i}"), "few", p]).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "paragraphs.csv", w.into_inner().unwrap());
    let out = dir.path().join("r");
    run(&["report", &input, "--out", out.to_str().unwrap()]).ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let mean_width = |name: &str| {
        let g = json["groups"].as_array().unwrap().iter().find(|g| g["group"] == name).unwrap();
        let widths: Vec<f64> = g["mean_of_articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["high"].as_f64().unwrap() - i["low"].as_f64().unwrap())
            .collect();
        widths.iter().sum::<f64>() / widths.len() as f64
    };
    assert!(mean_width("few") > 1.2 * mean_width("many"), "few {} vs many {}", mean_width("few"), mean_width("many"));
}

#[test]
fn the_report_is_the_same_on_one_thread_and_on_three() {
    // Three outlets of a seed article's paragraphs: three bootstraps and three permutation tests, each of
    // several blocks of random draws for the threads to share.
    let text = std::fs::read_to_string(root().join("seeds/004_34eb516a271d2c87.txt")).unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "outlet", "text"]).unwrap();
    for (i, p) in text.split("\n\n").filter(|p| p.len() > 100).enumerate() {
        w.write_record([&format!("p{i}"), ["a", "b", "c"][i % 3], p]).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "paragraphs.csv", w.into_inner().unwrap());
    let report = |threads: &str| {
        let out = dir.path().join(format!("r{threads}"));
        run(&["report", &input, "--threads", threads, "--resamples", "700", "--out", out.to_str().unwrap()]).ok();
        ["report.json", "groups.csv", "comparisons.csv", "articles.csv", "sentences.csv"]
            .map(|file| std::fs::read_to_string(out.join(file)).unwrap())
    };
    let one = report("1");
    assert_eq!(report("3"), one);
    let (_, comparisons) = common::parse_csv(&one[2]);
    assert_eq!(comparisons.len(), 3, "{comparisons:?}");

    // More groups than --compared-groups: the groups are reported, the pairs are not, and a warning says so.
    let out = dir.path().join("capped");
    let args = ["report", &input, "--compared-groups", "2", "--resamples", "700", "--out", out.to_str().unwrap()];
    let capped = run(&args);
    let stderr = capped.stderr.clone();
    capped.ok();
    assert!(stderr.contains("3 groups by \"outlet\", more than --compared-groups 2: no pairs compared"), "{stderr}");
    let (header, rows) = common::parse_csv(&std::fs::read_to_string(out.join("comparisons.csv")).unwrap());
    assert!(!header.is_empty() && rows.is_empty(), "{rows:?}");
    assert_eq!(std::fs::read_to_string(out.join("groups.csv")).unwrap(), one[1]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Not compared: 3 groups"), "the page says why the table is empty");
    let table = run(&["report", &input, "--compared-groups", "2"]).ok();
    assert!(table.contains("COMPARISONS not made: 3 groups, more than --compared-groups 2"), "{table}");
}

#[test]
fn reports_are_reproducible_and_replace_the_old_directory_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    let args = ["report", "--meta", "seeds/index.csv", "--by", "outlet_type", "seeds/", "--out"];
    let err = run(&[&args[..], &[out.to_str().unwrap()]].concat()).fails(1);
    assert!(err.contains("has no report.json"), "a directory we did not write is never replaced: {err}");
    assert!(out.join("stale.txt").exists());
    std::fs::write(out.join("report.json"), "{}").unwrap();
    run(&[&args[..], &[out.to_str().unwrap()]].concat()).ok();
    assert!(!out.join("stale.txt").exists(), "the old report is replaced, not merged");
    let first = std::fs::read(out.join("report.json")).unwrap();
    let svg = std::fs::read(out.join("charts/articles.svg")).unwrap();
    run(&[&args[..], &[out.to_str().unwrap()]].concat()).ok();
    assert_eq!(std::fs::read(out.join("report.json")).unwrap(), first);
    assert_eq!(std::fs::read(out.join("charts/articles.svg")).unwrap(), svg);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["report"], "no staging directory is left behind");
    let err = run(&["report", "seeds/", "--out", "/nonexistent-dir/report"]).fails(1);
    assert!(err.contains("/nonexistent-dir/report"), "{err}");
}

#[test]
fn the_html_page_renders_its_tables_and_charts_in_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        // CI (CI=true) installs Debian's chromium in .ci/run, so there this test always runs.
        assert!(std::env::var_os("CI").is_none(), "headless Chromium is needed: `apt-get install chromium`");
        eprintln!("skipped: no /usr/bin/chromium (`apt-get install chromium` to run this test)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    run(&["report", "--meta", "seeds/index.csv", "seeds/", "--out", out.to_str().unwrap()]).ok();
    let page = format!("file://{}", out.join("report.html").display());
    let profile = dir.path().join("profile");
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &page,
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("id=\"articles\""), "rendered DOM lacks the articles table:\n{dom:.2000}");
    assert!(dom.contains("id=\"groups\"") && dom.contains("id=\"comparisons\""));
    assert!(dom.contains("<svg") && dom.contains("id=\"articles-chart\"") && dom.contains("id=\"groups-chart\""));
    assert!(dom.matches("<tr").count() > 10, "one row per article and group at least");
}

#[test]
fn explain_lists_each_labels_strongest_ngrams() {
    let out = run(&["explain", "--top", "5"]).ok();
    for label in ["isis_attribution", "neutral", "ukraine_west_blame", "warning_claim"] {
        assert!(out.lines().any(|l| l == label), "{label} missing:\n{out}");
    }
    let (header, rows) = parse_csv(&run(&["explain", "--top", "5", "--csv"]).ok());
    assert_eq!(header, ["label", "rank", "term", "weight"]);
    assert_eq!(rows.len(), 20);
    let blame: Vec<&str> = rows.iter().filter(|r| r[0] == "ukraine_west_blame").map(|r| r[2].as_str()).collect();
    assert!(blame.iter().any(|t| t.contains("kiev") || t.contains("ukrain") || t.contains("kyiv")), "{blame:?}");
    let (header, rows) = parse_csv(
        &common::run_with_stdin(&["classify", "--explain", "2", "-"], "The Kiev regime ordered the attack.").ok(),
    );
    assert_eq!(header.last().unwrap(), "evidence");
    assert!(rows[0].last().unwrap().contains("kiev (+"), "{rows:?}");
}

/// An attribute's numeric value in an SVG element.
fn attr(element: &str, name: &str) -> f64 {
    let start = element.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    element[start..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn the_article_chart_draws_the_shares_in_articles_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    run(&["report", "--meta", "seeds/index.csv", "seeds/", "--out", out.to_str().unwrap()]).ok();
    let (header, rows) = parse_csv(&std::fs::read_to_string(out.join("articles.csv")).unwrap());
    let share_cols: Vec<usize> = (0..header.len()).filter(|&i| header[i].starts_with("share_")).collect();
    let svg = std::fs::read_to_string(out.join("charts/articles.svg")).unwrap();
    // Bar segments are the rects taller than the 10-pixel legend swatches; group them by row (y).
    let mut bars: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for element in svg.split("<rect").skip(1).map(|e| e.split('>').next().unwrap()) {
        let (height, width) = (attr(element, "height"), attr(element, "width"));
        if height > 10.0 && width < 900.0 {
            bars.entry(attr(element, "y") as i64).or_default().push((attr(element, "x"), width));
        }
    }
    assert_eq!(bars.len(), rows.len(), "one bar per article");
    let full: Vec<f64> = bars.values().map(|segments| segments.iter().map(|s| s.1).sum()).collect();
    for (row, (segments, total)) in rows.iter().zip(bars.values().zip(&full)) {
        assert!((total - full[0]).abs() <= 1.0, "every bar spans the same width");
        let shares: Vec<f64> = share_cols.iter().map(|&c| row[c].parse().unwrap()).filter(|&s| s > 0.0).collect();
        assert_eq!(segments.len(), shares.len(), "{}: one segment per label present", row[0]);
        for ((_, width), share) in segments.iter().zip(&shares) {
            assert!((width - share * total).abs() <= 1.5, "{}: segment {width} for share {share}", row[0]);
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(&svg), "the page embeds the same chart");
}
