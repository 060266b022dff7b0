//! README's quoted figures against the pinned figures of tests/snapshots/.
//!
//! `tests/snapshots.rs` checks that the golden files are what the shipped
//! scenarios produce; this test checks that README.md quotes the golden files:
//! every comparison table of the section "The shipped scenarios and their
//! verdicts" cell by cell, and the figures its prose quotes (and those of the
//! `reservoir-burst` example under Outputs). A change in results therefore
//! fails here until README says the new figures.

use poolsim::theory::mmc;
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The section "## The shipped scenarios and their verdicts".
fn shipped_section(text: &str) -> &str {
    let start = text
        .find("## The shipped scenarios")
        .expect("README has the shipped scenarios section");
    let rest = &text[start + 3..];
    let end = rest.find("\n## ").map_or(text.len(), |e| start + 3 + e);
    &text[start..end]
}

fn golden(stem: &str, kind: &str) -> Value {
    let p = root().join(format!("tests/snapshots/{stem}.{kind}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

fn stems() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode<'a>(cmp: &'a Value, name: &str) -> &'a Value {
    cmp["modes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mode"] == name)
        .unwrap_or_else(|| panic!("no mode {name}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{v} is not a whole number"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// 12268 -> "12,268", as README's prose writes counts.
fn c(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Whitespace runs (line wraps) as one space.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One cell of a README comparison table against a compare.json row: the
/// README value, written with some number of decimals, must be the JSON
/// value rounded to that many decimals.
fn cell_matches(label: &str, row: &Value, token: &str) -> Result<bool, String> {
    let mode = row["mode"].as_str().unwrap();
    let number = |v: &Value, token: &str| -> bool {
        let decimals = token.split_once('.').map_or(0, |(_, d)| d.len());
        v.as_f64()
            .is_some_and(|x| format!("{x:.decimals$}") == token.replace(',', ""))
    };
    let not_applicable = |applies: bool, field: &str| -> bool {
        if token == "-" {
            !applies
        } else {
            applies && number(&row[field], token)
        }
    };
    Ok(match label {
        "requests" => number(&row["requests"], token),
        "hit ratio" => number(&row["hit_ratio"], token),
        "empty events" => not_applicable(mode != "pool", "empty_events"),
        "waited" => number(&row["waited"], token),
        "wait p50 (ms)" => number(&row["wait_ms"]["p50"], token),
        "wait p99 (ms)" => number(&row["wait_ms"]["p99"], token),
        "wait max (ms)" => number(&row["wait_ms"]["max"], token),
        "request failures" => number(&row["failures"], token),
        "peak connects/s" => number(&row["peak_connects_per_sec"], token),
        "connects" => number(&row["connects"], token),
        "opens" => number(&row["opens"], token),
        "churn discards" => not_applicable(mode != "pool", "churn_discards"),
        "database/sql closes" => not_applicable(mode != "direct", "closes"),
        "physical min..max" => match token.split_once("..") {
            Some((lo, hi)) => number(&row["physical_min"], lo) && number(&row["physical_max"], hi),
            None => false,
        },
        "physical peak" => number(&row["physical_peak"], token),
        "assertions" => match token {
            "pass" => row["passed"] == true,
            "FAIL" => row["passed"] == false,
            _ => false,
        },
        other => return Err(format!("unknown row label '{other}'")),
    })
}

/// Every ```text block of the section that is a comparison table (its first
/// line names modes), with the scenario it belongs to: the last scenario the
/// text names before it.
fn tables(section: &str, stems: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = section[at..].find("```text\n") {
        let start = at + i + "```text\n".len();
        let end = start + section[start..].find("```").expect("closed code block");
        let lines: Vec<String> = section[start..end].lines().map(String::from).collect();
        at = end + 3;
        let is_table = lines.first().is_some_and(|h| {
            h.split_whitespace()
                .all(|m| ["direct", "database_sql", "pool"].contains(&m.trim_end_matches('*')))
        });
        if !is_table {
            continue;
        }
        let before = &section[..start];
        let stem = stems
            .iter()
            .filter_map(|s| before.rfind(s.as_str()).map(|p| (p, s)))
            .max()
            .map(|(_, s)| s.clone())
            .expect("a table follows the name of its scenario");
        out.push((stem, lines));
    }
    out
}

#[test]
fn readme_comparison_tables_match_the_compare_snapshots() {
    let text = readme();
    let section = shipped_section(&text);
    let stems = stems();
    let tables = tables(section, &stems);
    assert!(tables.len() >= 3, "found {} tables", tables.len());
    let mut bad = Vec::new();
    let mut cells = 0;
    for (stem, lines) in &tables {
        let cmp = golden(stem, "compare");
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        for h in &header {
            let name = h.trim_end_matches('*');
            let starred = h.ends_with('*');
            let is_file_mode = cmp["file_mode"] == name;
            if starred != is_file_mode {
                bad.push(format!(
                    "{stem}: the header marks '{h}' but file_mode is {}",
                    cmp["file_mode"]
                ));
            }
        }
        for line in &lines[1..] {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.len() <= header.len() {
                bad.push(format!("{stem}: cannot read the row '{line}'"));
                continue;
            }
            let (label, values) = tokens.split_at(tokens.len() - header.len());
            let label = label.join(" ");
            for (h, token) in header.iter().zip(values) {
                let row = mode(&cmp, h.trim_end_matches('*'));
                cells += 1;
                match cell_matches(&label, row, token) {
                    Ok(true) => {}
                    Ok(false) => bad.push(format!(
                        "{stem}: README says {label} = {token} for {h}; tests/snapshots/{stem}.compare.json has {}",
                        short_row(&label, row)
                    )),
                    Err(e) => bad.push(format!("{stem}: {e}")),
                }
            }
        }
    }
    assert!(cells >= 50, "{cells} cells checked");
    assert!(
        bad.is_empty(),
        "README's comparison tables disagree with the snapshots:\n{}",
        bad.join("\n")
    );
}

fn short_row(label: &str, row: &Value) -> String {
    let field = match label {
        "requests" => "requests",
        "hit ratio" => "hit_ratio",
        "empty events" => "empty_events",
        "waited" => "waited",
        "request failures" => "failures",
        "peak connects/s" => "peak_connects_per_sec",
        "connects" => "connects",
        "opens" => "opens",
        "churn discards" => "churn_discards",
        "database/sql closes" => "closes",
        "physical peak" => "physical_peak",
        "assertions" => "passed",
        "physical min..max" => {
            return format!("{}..{}", row["physical_min"], row["physical_max"]);
        }
        _ => return row["wait_ms"].to_string(),
    };
    row[field].to_string()
}

/// The figures README's prose quotes, each as the phrase README must
/// contain, built from the golden files.
fn quoted_phrases() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut say = |stem: &str, phrase: String| v.push((stem.to_string(), phrase));

    // reservoir-basic
    let s = golden("reservoir-basic", "summary");
    let cmp = golden("reservoir-basic", "compare");
    let p = &s["pools"][0];
    assert_eq!(p["hits"], p["requests"], "all immediate hits");
    say(
        "reservoir-basic",
        format!("takes traffic at {:.1} s", f(&p["serving_since_s"])),
    );
    say(
        "reservoir-basic",
        format!("{} requests, all immediate hits", c(u(&p["requests"]))),
    );
    say(
        "reservoir-basic",
        format!(
            "(`reservoir_hits_ratio` {:.1} >= 0.95), {} empty events (<= 10)",
            f(&s["assertions"][0]["observed"]),
            u(&p["empty_events"])
        ),
    );
    let connects = u(&p["connects"]);
    say(
        "reservoir-basic",
        format!(
            "{} connects in 30 minutes, {:.1} per second",
            c(connects),
            connects as f64 / f(&s["duration_s"])
        ),
    );
    say(
        "reservoir-basic",
        format!(
            "`reservoir_full` ({} times)",
            c(u(&p["discards"]["reservoir_full"]))
        ),
    );
    say(
        "reservoir-basic",
        format!(
            "connects {} times, not {}",
            c(u(&mode(&cmp, "database_sql")["connects"])),
            c(u(&mode(&cmp, "direct")["connects"]))
        ),
    );
    say(
        "reservoir-basic",
        format!(
            "The plain pool connects {} times",
            u(&mode(&cmp, "pool")["connects"])
        ),
    );
    say(
        "reservoir-basic",
        format!(
            "serves {} fewer requests",
            u(&mode(&cmp, "direct")["requests"]) - u(&mode(&cmp, "pool")["requests"])
        ),
    );

    // reservoir-burst
    let s = golden("reservoir-burst", "summary");
    let cmp = golden("reservoir-burst", "compare");
    let p = &s["pools"][0];
    assert_eq!(p["hits"], p["requests"], "all hit at once");
    let (requests, connects, full) = (
        c(u(&p["requests"])),
        c(u(&p["connects"])),
        c(u(&p["discards"]["reservoir_full"])),
    );
    say(
        "reservoir-burst",
        format!("all {requests} requests hit at once"),
    );
    say(
        "reservoir-burst",
        format!("{connects} connects ({full} discarded `reservoir_full`)"),
    );
    say(
        "reservoir-burst",
        format!("up to {} connects/s", u(&s["max_connects_per_sec"])),
    );
    let d = mode(&cmp, "database_sql");
    say(
        "reservoir-burst",
        format!(
            "`database_sql` {} connects and {}..{} physical connections",
            u(&d["connects"]),
            u(&d["physical_min"]),
            u(&d["physical_max"])
        ),
    );
    let pl = mode(&cmp, "pool");
    assert_eq!(pl["physical_min"], pl["physical_max"]);
    say(
        "reservoir-burst",
        format!(
            "`pool` {} connects and {}",
            u(&pl["connects"]),
            u(&pl["physical_max"])
        ),
    );
    // The same run in the Outputs example.
    assert_eq!(p["empty_events"], 0);
    say(
        "reservoir-burst",
        format!(
            "the run prints {requests} requests, all immediate hits (100%), and 0 empty events"
        ),
    );
    say(
        "reservoir-burst",
        format!("Of the {connects} connections created, {full} were discarded"),
    );
    say(
        "reservoir-burst",
        format!(
            "The highest rate in the run is {}/s",
            u(&s["max_connects_per_sec"])
        ),
    );

    // pool-expiry-burst
    let cmp = golden("pool-expiry-burst", "compare");
    let pool_assertions = cmp["assertions"]["pool"].as_array().unwrap();
    let find = |t: &str| {
        pool_assertions
            .iter()
            .find(|a| a["type"] == t)
            .unwrap_or_else(|| panic!("pool mode has no {t} assertion"))
    };
    let wait = find("wait_time");
    assert_eq!(wait["passed"], true);
    say(
        "pool-expiry-burst",
        format!("`wait_time` p99.99 ({:.1} ms) passes", f(&wait["observed"])),
    );
    let at_size = find("pool_at_size");
    assert_eq!(at_size["passed"], false);
    // detail: "lowest: 30 of 50 connections open in pool history-3 at t=3324s (...)"
    let detail = at_size["detail"].as_str().unwrap();
    let words: Vec<&str> = detail.split_whitespace().collect();
    let t = words
        .iter()
        .find_map(|w| w.strip_prefix("t=").and_then(|x| x.strip_suffix('s')))
        .unwrap_or_else(|| panic!("no t= in '{detail}'"));
    say(
        "pool-expiry-burst",
        format!(
            "{} of {} connections open in the worst instance at t = {t} s ({} < 0.9)",
            words[1],
            words[3],
            f(&at_size["observed"])
        ),
    );
    say(
        "pool-expiry-burst",
        format!(
            "the whole 20/s budget on churn ({} connects)",
            c(u(&mode(&cmp, "direct")["connects"]))
        ),
    );
    say(
        "pool-expiry-burst",
        format!(
            "holds {} physical connections",
            c(u(&mode(&cmp, "database_sql")["physical_max"]))
        ),
    );

    // reservoir-churn
    let cmp = golden("reservoir-churn", "compare");
    say(
        "reservoir-churn",
        format!(
            "{} in the busiest second",
            u(&mode(&cmp, "direct")["peak_connects_per_sec"])
        ),
    );
    say(
        "reservoir-churn",
        format!(
            "refreshes its buffer ({} connects)",
            u(&mode(&cmp, "database_sql")["connects"])
        ),
    );
    let pl = mode(&cmp, "pool");
    assert_eq!(
        pl["connects"], 0,
        "the plain pool opened nothing after the first minute"
    );
    say(
        "reservoir-churn",
        format!("opened its {} connections", u(&pl["physical_max"])),
    );

    // erlang-c
    let s = golden("erlang-c", "summary");
    let p = &s["pools"][0];
    let (waited, requests) = (u(&p["waited"]), u(&p["requests"]));
    say(
        "erlang-c",
        format!(
            "measures {} waits in {} requests ({:.4}) and a mean wait of {:.2} ms",
            c(waited),
            c(requests),
            waited as f64 / requests as f64,
            f(&p["wait_ms"]["mean"])
        ),
    );
    let cmp = golden("erlang-c", "compare");
    assert_eq!(
        mode(&cmp, "database_sql")["wait_ms"],
        mode(&cmp, "pool")["wait_ms"],
        "database_sql gives exactly the same waits"
    );
    say(
        "erlang-c",
        format!(
            "hands out up to {} connections",
            u(&mode(&cmp, "direct")["physical_peak"])
        ),
    );
    let at90 = mmc(90.0, 0.1, 10).unwrap();
    say(
        "erlang-c",
        format!(
            "predicts P(wait) = {:.4} and a mean wait of {:.2} ms",
            at90.p_wait,
            at90.mean_wait_s * 1e3
        ),
    );
    let at60 = mmc(60.0, 0.1, 10).unwrap();
    say(
        "erlang-c",
        format!(
            "utilisation 0.6 (P(wait) {:.4}, mean {:.3} ms)",
            at60.p_wait,
            at60.mean_wait_s * 1e3
        ),
    );
    v
}

#[test]
fn readme_prose_quotes_the_snapshot_figures() {
    let text = flat(&readme());
    let phrases = quoted_phrases();
    assert!(phrases.len() >= 25, "{} phrases", phrases.len());
    let missing: Vec<String> = phrases
        .iter()
        .filter(|(_, phrase)| !text.contains(phrase.as_str()))
        .map(|(stem, phrase)| format!("  {stem}: \"{phrase}\""))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not say these figures of tests/snapshots/ (update README, or the phrase here if only the wording changed):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_table_reader_catches_a_wrong_figure() {
    // The check above is not vacuous: one changed digit in a table is found.
    let text = readme();
    let section = shipped_section(&text).replacen("18196         18196", "18197         18196", 1);
    let stems = stems();
    let (stem, lines) = tables(&section, &stems)
        .into_iter()
        .find(|(s, _)| s == "reservoir-basic")
        .expect("reservoir-basic table");
    let cmp = golden(&stem, "compare");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "requests");
    assert_eq!(
        cell_matches("requests", mode(&cmp, "direct"), row[1]),
        Ok(false)
    );
    assert_eq!(
        cell_matches("requests", mode(&cmp, "database_sql"), row[2]),
        Ok(true)
    );
    assert_eq!(
        cell_matches("hit ratio", mode(&cmp, "pool"), "1.0000"),
        Ok(true)
    );
    assert_eq!(
        cell_matches("hit ratio", mode(&cmp, "pool"), "0.9999"),
        Ok(false)
    );
    assert_eq!(
        cell_matches("churn discards", mode(&cmp, "pool"), "-"),
        Ok(true)
    );
    assert_eq!(
        cell_matches("churn discards", mode(&cmp, "direct"), "-"),
        Ok(false)
    );
    assert!(cell_matches("no such row", mode(&cmp, "pool"), "1").is_err());
}
