//! Reports: charts (PNG + SVG), report.html, metrics.prom (OpenMetrics) and
//! the files `report::files::write_all` and `write_compare` write: produced,
//! well formed, deterministic, and plotting exactly the values of the time
//! series.

use poolsim::model::refiller::RefillFailure;
use poolsim::model::sql_pool::CloseCause;
use poolsim::model::world::{FailCause, Observations, SampleRow, Stack};
use poolsim::report::charts::{self, ChartSpec, Run, XAxis};
use poolsim::report::{files, html, prom};
use poolsim::run::RunOutput;
use poolsim::scenario::{self, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Two pools of one service, bursts that drain the small reservoirs (empty
/// events, failures, waits), short lifetimes (expiry discards), a tight global
/// limit and failing IAM tokens (refill failures). Three simulated minutes.
const STRESSED: &str = r#"
name: "reports test"
description: "bursts on small reservoirs <with> \"odd\" & characters"
seed: 7
duration: 3m
sample_every: 1s
global_rate_limit: 30
global_rate_limit_burst: 5
global_rate_limiter: what_if_token_bucket
token_failure_rate: 0.05
workload:
  type: burst
  baseline_rate: 20
  burst_rate: 150
  burst_duration: 15s
  burst_interval: 1m
  hold_duration: 100ms
pools:
  - name: history-1
    target_size: 10
    reservoir:
      enabled: true
      target_ready: 10
      base_lifetime: 40s
      jitter: 10s
      guard_window: 5s
  - name: history-2
    target_size: 10
    reservoir:
      enabled: true
      target_ready: 10
      base_lifetime: 40s
      jitter: 10s
      guard_window: 5s
assertions:
  - type: reservoir_empty_events
    max: 5
  - type: max_connects_per_sec
    max: 100
"#;

/// The same bursts on two plain pools (database/sql over the rate-limited
/// driver): short lifetimes and a small MaxIdle (closes by cause), a request
/// timeout the bursts exceed (deadline failures), failing IAM tokens (open
/// failures). Three simulated minutes.
const PLAIN: &str = r#"
name: "plain reports test"
seed: 7
duration: 3m
sample_every: 1s
global_rate_limit: 30
global_rate_limit_burst: 5
global_rate_limiter: what_if_token_bucket
token_failure_rate: 0.05
workload:
  type: burst
  baseline_rate: 20
  burst_rate: 150
  burst_duration: 15s
  burst_interval: 1m
  hold_duration: 100ms
pool:
  max_idle: 4
  max_lifetime: 10s
  request_timeout: 2s
pools:
  - name: history-1
    target_size: 10
  - name: history-2
    target_size: 10
assertions:
  - type: max_connects_per_sec
    max: 100
"#;

fn scenario(yaml: &str) -> Scenario {
    match scenario::parse(yaml, "<test>", "t") {
        Ok(s) => s,
        Err(e) => panic!("invalid test scenario:\n{e}"),
    }
}

fn run(sc: &Scenario) -> RunOutput {
    poolsim::run::run(sc).expect("run completes")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("poolsim-reports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read_str(p: &Path) -> String {
    String::from_utf8(read(p)).expect("UTF-8")
}

/// Files in `dir` with extension `ext`, sorted.
fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .collect();
    v.sort();
    v
}

/// timeseries.csv as rows of column name -> value.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn parse(text: &str) -> Csv {
        let mut lines = text.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect();
        Csv { header, rows }
    }
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }
    /// (t_s, column) of one service.
    fn series(&self, service: &str, name: &str) -> Vec<(f64, f64)> {
        let (t, s, c) = (self.col("t_s"), self.col("service"), self.col(name));
        self.rows
            .iter()
            .filter(|r| r[s] == service)
            .map(|r| (r[t].parse().unwrap(), r[c].parse().unwrap()))
            .collect()
    }
    /// Per-window rate of a cumulative column, summed over `services`.
    fn rate(&self, services: &[&str], name: &str) -> Vec<(f64, f64)> {
        let per: Vec<Vec<(f64, f64)>> = services.iter().map(|s| self.series(s, name)).collect();
        let sum: Vec<(f64, f64)> = (0..per[0].len())
            .map(|k| (per[0][k].0, per.iter().map(|p| p[k].1).sum()))
            .collect();
        sum.windows(2)
            .map(|w| (w[1].0, (w[1].1 - w[0].1) / (w[1].0 - w[0].0)))
            .collect()
    }
}

fn assert_close(a: &[(f64, f64)], b: &[(f64, f64)], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (k, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() < 1e-9,
            "{what}: point {k} is {p:?} in the chart but {q:?} in the time series"
        );
    }
}

/// A pool's sampled quantity over time, straight from the samples
/// (independent of the chart helpers it checks).
fn samples_of(obs: &Observations, pool: u32, f: impl Fn(&SampleRow) -> f64) -> Vec<(f64, f64)> {
    obs.samples
        .iter()
        .filter(|r| r.pool == pool)
        .map(|r| (r.t as f64 / 1e9, f(r)))
        .collect()
}

/// (lowest, median, highest) of several series at each instant, computed
/// here rather than by the chart code.
type Band = (Vec<(f64, f64)>, Vec<(f64, f64)>, Vec<(f64, f64)>);
fn lo_med_hi(series: &[Vec<(f64, f64)>]) -> Band {
    let mut out: Band = (vec![], vec![], vec![]);
    for k in 0..series[0].len() {
        let mut v: Vec<f64> = series.iter().map(|s| s[k].1).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = v.len();
        let med = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let x = series[0][k].0;
        out.0.push((x, v[0]));
        out.1.push((x, med));
        out.2.push((x, v[n - 1]));
    }
    out
}

fn chart<'a>(specs: &'a [ChartSpec], stem: &str) -> &'a ChartSpec {
    specs
        .iter()
        .find(|s| s.stem == stem)
        .unwrap_or_else(|| panic!("no chart {stem}"))
}

#[test]
fn write_all_produces_well_formed_files() {
    let sc = scenario(STRESSED);
    let o = run(&sc);
    let out = tmp("files");
    files::write_all(&out, &sc, &o).unwrap();
    for f in [
        "summary.json",
        "timeseries.csv",
        "metrics.prom",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let charts_dir = out.join("charts");
    let pngs = files_with(&charts_dir, "png");
    let svgs = files_with(&charts_dir, "svg");
    // 2 pools + checkout rate, discards, refill failures, connects, cluster,
    // latency over time, latency distribution.
    assert_eq!(pngs.len(), 9, "{pngs:?}");
    assert_eq!(svgs.len(), pngs.len());

    for p in &pngs {
        let decoder = png::Decoder::new(std::fs::File::open(p).unwrap());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.width, charts::WIDTH, "{}", p.display());
        assert!(info.height >= charts::PLOT_HEIGHT, "{}", p.display());
        // Not blank: the picture has many colours (text, lines, areas).
        let px = &buf[..info.buffer_size()];
        let distinct: std::collections::BTreeSet<&[u8]> = px.chunks(3).collect();
        assert!(distinct.len() > 20, "{} looks blank", p.display());
    }
    for s in &svgs {
        let text = read_str(s);
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", s.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(text.contains("<text"), "{} has no text", s.display());
    }

    // The page: self-contained, every chart inline, verdicts and the table.
    let page = read_str(&out.join("report.html"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    for p in &pngs {
        let stem = p.file_stem().unwrap().to_str().unwrap();
        assert!(
            page.contains(&format!("id=\"{}\"", html::chart_id(stem))),
            "report.html lacks chart {stem}"
        );
    }
    assert_eq!(page.matches("<svg").count(), pngs.len());
    assert_eq!(page.matches("<figcaption>").count(), pngs.len());
    for bad in [
        "<script src",
        "<link",
        "<img src=\"http",
        "url(http",
        "@import",
    ] {
        assert!(
            !page.contains(bad),
            "report.html references something external: {bad}"
        );
    }
    let without_ns = page.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    assert!(page.contains("reports test"));
    assert!(page.contains("&lt;with&gt; &quot;odd&quot; &amp; characters"));
    assert!(page.contains("reservoir_empty_events"));
    assert!(page.contains(">FAIL<") || page.contains(">PASS<"));
    assert!(page.contains("history-1") && page.contains("history-2"));
    let failed = o.summary.assertions.iter().filter(|a| !a.passed).count();
    if failed > 0 {
        assert!(page.contains("verdict fail"));
    }
    // The HTML parses as XML once its doctype is dropped (well nested).
    let body = page.trim_start_matches("<!DOCTYPE html>\n");
    roxmltree::Document::parse(body).expect("report.html is well nested");

    // A second write replaces the charts (no stale files).
    std::fs::write(charts_dir.join("stale.svg"), "<svg/>").unwrap();
    files::write_all(&out, &sc, &o).unwrap();
    assert!(!charts_dir.join("stale.svg").exists());
    let _ = std::fs::remove_dir_all(&out);
}

/// One sample line of OpenMetrics text.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    ts: f64,
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let eq = rest.find("=\"").expect("label has =\"");
        let key = rest[..eq].to_string();
        assert!(
            key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad label name {key}"
        );
        let mut val = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end;
        loop {
            let (i, c) = chars.next().expect("unterminated label value");
            match c {
                '\\' => {
                    let (_, e) = chars.next().expect("escape");
                    assert!(matches!(e, '\\' | '"' | 'n'), "bad escape \\{e}");
                    val.push(e);
                }
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                '\n' => panic!("newline in label value"),
                c => val.push(c),
            }
        }
        out.push((key, val));
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

fn parse_sample(line: &str) -> Sample {
    let (name, rest) = match line.find('{') {
        Some(i) => {
            let close = line.rfind('}').expect("closing brace");
            (
                line[..i].to_string(),
                (&line[i + 1..close], line[close + 1..].trim_start()),
            )
        }
        None => {
            let sp = line.find(' ').expect("value");
            (line[..sp].to_string(), ("", line[sp + 1..].trim_start()))
        }
    };
    let (labels, tail) = rest;
    let parts: Vec<&str> = tail.split(' ').collect();
    assert_eq!(parts.len(), 2, "sample without value and timestamp: {line}");
    Sample {
        name,
        labels: parse_labels(labels),
        value: parts[0]
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}")),
        ts: parts[1]
            .parse()
            .unwrap_or_else(|_| panic!("bad timestamp in {line}")),
    }
}

/// Check the text format rules the exporter must keep (OpenMetrics, read by
/// `promtool tsdb create-blocks-from openmetrics`, and Prometheus' text format,
/// linted by `promtool check metrics`: `# HELP` and `# TYPE` name the samples
/// exactly, `_total` included). Every series carries the same `scenario`,
/// `seed` and `mode` labels; returns the samples by (name, other labels).
fn check_openmetrics(text: &str) -> BTreeMap<String, Vec<(f64, f64)>> {
    assert!(text.ends_with("# EOF\n"), "must end with # EOF");
    let body = &text[..text.len() - "# EOF\n".len()];
    assert!(!body.contains("# EOF"), "# EOF only once, last");
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: Vec<String> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut last_series = String::new();
    let mut run_labels: Option<Vec<(String, String)>> = None;
    for line in body.lines() {
        assert!(!line.is_empty(), "no blank lines");
        if let Some(rest) = line.strip_prefix("# ") {
            let mut it = rest.splitn(3, ' ');
            let (kw, fam, arg) = (
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap_or(""),
            );
            match kw {
                "HELP" => {
                    assert!(!helped.contains(&fam.to_string()), "HELP twice for {fam}");
                    assert!(!arg.is_empty(), "empty HELP for {fam}");
                    helped.push(fam.to_string());
                }
                "TYPE" => {
                    assert_eq!(
                        helped.last().map(String::as_str),
                        Some(fam),
                        "HELP then TYPE of {fam}"
                    );
                    assert!(
                        families.insert(fam.to_string(), arg.to_string()).is_none(),
                        "family {fam} is not contiguous (TYPE twice)"
                    );
                    assert!(
                        matches!(arg, "counter" | "gauge" | "histogram"),
                        "unexpected type {arg}"
                    );
                    assert_eq!(
                        fam.ends_with("_total"),
                        arg == "counter",
                        "{fam}: counters, and only counters, end in _total"
                    );
                    current = Some((fam.to_string(), arg.to_string()));
                }
                other => panic!("unknown descriptor {other}"),
            }
            continue;
        }
        let s = parse_sample(line);
        let (fam, kind) = current.as_ref().expect("a sample before any # TYPE");
        let ok = match kind.as_str() {
            "counter" | "gauge" => s.name == *fam,
            "histogram" => ["_bucket", "_count", "_sum"]
                .iter()
                .any(|suf| s.name == format!("{fam}{suf}")),
            _ => false,
        };
        assert!(ok, "sample {} outside its family {fam} ({kind})", s.name);
        let (run, own): (Vec<_>, Vec<_>) = s
            .labels
            .iter()
            .filter(|(k, v)| {
                if k == "stack" {
                    assert!(
                        matches!(v.as_str(), "direct" | "database_sql" | "pool"),
                        "stack {v}"
                    );
                }
                k != "stack"
            })
            .cloned()
            .partition(|(k, _)| matches!(k.as_str(), "scenario" | "seed" | "mode"));
        assert_eq!(run.len(), 3, "{}: scenario, seed and mode labels", s.name);
        match &run_labels {
            Some(r) => assert_eq!(r, &run, "one run per file"),
            None => run_labels = Some(run),
        }
        let key = format!(
            "{}{{{}}}",
            s.name,
            own.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if key != last_series {
            assert!(!series.contains_key(&key), "series {key} is not contiguous");
            last_series = key.clone();
        }
        let pts = series.entry(key.clone()).or_default();
        if let Some(&(t, v)) = pts.last() {
            assert!(s.ts > t, "timestamps of {key} must increase");
            if kind == "counter" {
                assert!(s.value >= v, "counter {key} decreased");
            }
        }
        assert!(s.ts > 1.0e9, "timestamps are seconds since the epoch");
        pts.push((s.ts, s.value));
    }
    series
}

#[test]
fn openmetrics_follows_the_format_and_matches_the_time_series() {
    let sc = scenario(STRESSED);
    let o = run(&sc);
    let text = prom::openmetrics(&o.observations, sc.start_unix_ns, &prom::RunLabels::of(&sc));
    let series = check_openmetrics(&text);
    let csv = Csv::parse(&poolsim::report::csv::timeseries_csv(
        &o.observations,
        sc.start_unix_ns,
    ));
    let start = sc.start_unix_ns as f64 / 1e9;

    for fam in [
        "# TYPE dsql_reservoir_size gauge",
        "# TYPE dsql_reservoir_target gauge",
        "# TYPE dsql_reservoir_checkouts_total counter",
        "# TYPE dsql_reservoir_empty_total counter",
        "# TYPE dsql_reservoir_discards_total counter",
        "# TYPE dsql_reservoir_refills_total counter",
        "# TYPE dsql_reservoir_refill_failures_total counter",
        "# TYPE dsql_reservoir_checkout_latency_milliseconds histogram",
    ] {
        assert!(text.contains(fam), "missing {fam}");
    }
    let check = |metric: &str, column: &str, service: &str| {
        let got = &series[&format!("{metric}{{service={service}}}")];
        let want: Vec<(f64, f64)> = csv
            .series(service, column)
            .into_iter()
            .map(|(t, v)| (start + t, v))
            .collect();
        assert_close(got, &want, metric);
    };
    for svc in ["history-1", "history-2"] {
        check("dsql_reservoir_size", "size", svc);
        check("dsql_reservoir_target", "target", svc);
        check("dsql_reservoir_checkouts_total", "checkouts", svc);
        check("dsql_reservoir_empty_total", "empty_events", svc);
        check("dsql_reservoir_refills_total", "refills", svc);
        for d in poolsim::model::reservoir::Discard::ALL {
            let got = &series[&format!(
                "dsql_reservoir_discards_total{{service={svc},reason={}}}",
                d.name()
            )];
            let want: Vec<(f64, f64)> = csv
                .series(svc, &format!("discard_{}", d.name()))
                .into_iter()
                .map(|(t, v)| (start + t, v))
                .collect();
            assert_close(got, &want, d.name());
        }
        // The final-state histogram: +Inf bucket = count = all Open() calls.
        let p = o.observations.pools.iter().find(|p| p.name == svc).unwrap();
        let inf = &series[&format!(
            "dsql_reservoir_checkout_latency_milliseconds_bucket{{service={svc},le=+Inf}}"
        )];
        assert_eq!(inf.len(), 1);
        assert_eq!(inf[0].1, p.checkout_latency.len() as f64);
        let mut prev = 0.0;
        for le in prom::LATENCY_BUCKETS_MS {
            let b = series[&format!(
                "dsql_reservoir_checkout_latency_milliseconds_bucket{{service={svc},le={le}}}"
            )][0]
                .1;
            assert!(b >= prev, "buckets are cumulative");
            prev = b;
        }
    }
    // The run had failures of every interesting kind, so the test means something.
    let total = |f: fn(&poolsim::model::world::PoolCounters) -> u64| -> u64 {
        o.observations.pools.iter().map(|p| f(&p.counters)).sum()
    };
    assert!(total(|c| c.reservoir.empty_events) > 0);
    assert!(total(|c| c.refiller.failures.iter().sum()) > 0);
    assert!(total(|c| c.reservoir.discards.iter().sum()) > 0);
}

#[test]
fn openmetrics_escapes_and_formats_timestamps() {
    assert_eq!(prom::escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(prom::fmt_timestamp(1_767_225_600_000_000_000), "1767225600");
    assert_eq!(
        prom::fmt_timestamp(1_767_225_600_500_000_000),
        "1767225600.5"
    );
    assert_eq!(
        prom::fmt_timestamp(1_767_225_600_000_000_001),
        "1767225600.000000001"
    );
}

#[test]
fn same_seed_same_bytes() {
    let a = tmp("det-a");
    let b = tmp("det-b");
    for d in [&a, &b] {
        let sc = scenario(STRESSED);
        let o = run(&sc);
        files::write_all(d, &sc, &o).unwrap();
    }
    let mut compared = 0;
    for f in [
        "timeseries.csv",
        "metrics.prom",
        "summary.json",
        "report.html",
    ] {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between two runs"
        );
        compared += 1;
    }
    for ext in ["svg", "png"] {
        for p in files_with(&a.join("charts"), ext) {
            let q = b.join("charts").join(p.file_name().unwrap());
            assert!(
                read(&p) == read(&q),
                "{} differs between two runs",
                p.display()
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 4 + 18);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn charts_plot_the_time_series() {
    let sc = scenario(STRESSED);
    let o = run(&sc);
    let obs = &o.observations;
    let csv = Csv::parse(&poolsim::report::csv::timeseries_csv(obs, sc.start_unix_ns));
    let runs: [Run; 1] = [("run", obs)];
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );

    // Pool state: one chart per pool (2 pools fit as lines).
    for (i, svc) in ["history-1", "history-2"].iter().enumerate() {
        let c = chart(&specs, &format!("pool-{:02}-{svc}", i + 1));
        assert_eq!(c.x_axis, XAxis::Time);
        assert!(c.bands.is_empty());
        assert_close(
            &c.series("ready (reservoir size)").unwrap().points,
            &csv.series(svc, "size"),
            "ready",
        );
        assert_close(
            &c.series("target_ready").unwrap().points,
            &csv.series(svc, "target"),
            "target",
        );
        assert_close(
            &c.series("in use").unwrap().points,
            &csv.series(svc, "in_use"),
            "in use",
        );
        // The direct stack has no database/sql: no idle, no open line.
        assert!(c.series("idle (database/sql free list)").is_none());
        assert!(c.series("open (physical)").is_none());
    }

    // Checkout rate: per pool, deltas of the cumulative counter per window.
    let c = chart(&specs, "checkout-rate");
    for svc in ["history-1", "history-2"] {
        assert_close(
            &c.series(svc).unwrap().points,
            &csv.rate(&[svc], "requests"),
            svc,
        );
    }
    let mean_of_pools = |col: &str| -> Vec<(f64, f64)> {
        csv.rate(&["history-1", "history-2"], col)
            .into_iter()
            .filter(|p| p.1 != 0.0)
            .map(|(t, v)| (t, v / 2.0))
            .collect()
    };
    let empties = &c.series("empty events/s (mean per pool)").unwrap().points;
    assert!(
        !empties.is_empty(),
        "the stressed run has empty events to mark"
    );
    assert_close(empties, &mean_of_pools("empty_events"), "empty events");
    // Failures marked by cause: one series per cause that happened.
    let mut marked = 0;
    for f in FailCause::ALL {
        let col = format!("failures_{}", f.name());
        let name = format!("failed requests/s, {} (mean per pool)", f.name());
        match c.series(&name) {
            Some(s) => {
                assert_close(&s.points, &mean_of_pools(&col), &name);
                marked += 1;
            }
            None => assert!(mean_of_pools(&col).is_empty(), "{name} not marked"),
        }
    }
    assert!(marked > 0, "the stressed run has failures to mark");

    // Discards: stacked by reason (only reasons that happened) + refills.
    let c = chart(&specs, "discards-refills");
    assert!(!c.stacked.is_empty());
    for layer in &c.stacked {
        let reason = layer.name.strip_prefix("discarded: ").unwrap();
        assert_close(
            &layer.points,
            &csv.rate(&["history-1", "history-2"], &format!("discard_{reason}")),
            reason,
        );
    }
    assert_close(
        &c.series("connections created/s").unwrap().points,
        &csv.rate(&["history-1", "history-2"], "opens"),
        "connections created",
    );
    // The direct stack has only refills to create connections.
    assert_eq!(
        csv.rate(&["history-1", "history-2"], "opens"),
        csv.rate(&["history-1", "history-2"], "refills")
    );

    // Refill failures by reason.
    let c = chart(&specs, "refill-failures");
    assert!(c.note.is_none());
    assert!(c.series("failed: token_provider").is_some());
    for layer in &c.stacked {
        let reason = layer.name.strip_prefix("failed: ").unwrap();
        let want = csv.rate(
            &["history-1", "history-2"],
            &format!("open_failure_{reason}"),
        );
        assert_close(&layer.points, &want, reason);
        // In the direct stack only the refiller opens.
        assert_eq!(
            want,
            csv.rate(
                &["history-1", "history-2"],
                &format!("refill_failure_{reason}")
            )
        );
    }

    // Connects per second: the cluster's per-second counts, the limits as lines.
    let c = chart(&specs, "connects-per-second");
    let want: Vec<(f64, f64)> = obs
        .connects_per_second
        .iter()
        .enumerate()
        .map(|(i, &n)| ((i + 1) as f64, n as f64))
        .collect();
    assert_close(&c.lines[0].points, &want, "connects");
    let limits: Vec<f64> = c.hlines.iter().map(|h| h.y).collect();
    assert_eq!(limits, vec![100.0, 30.0]);

    // Cluster connections: the connections column of cluster.csv.
    let c = chart(&specs, "cluster-connections");
    let cluster = Csv::parse(&poolsim::report::csv::cluster_csv(obs, sc.start_unix_ns));
    let want: Vec<(f64, f64)> = cluster
        .rows
        .iter()
        .map(|r| {
            (
                r[cluster.col("t_s")].parse().unwrap(),
                r[cluster.col("connections")].parse().unwrap(),
            )
        })
        .collect();
    assert_close(&c.lines[0].points, &want, "cluster");

    // Latency over time: each pool's window p50 / p99, the CSV's columns.
    let c = chart(&specs, "checkout-latency-over-time");
    assert_eq!(c.x_axis, XAxis::Time);
    assert!(c.y_log, "the stressed run waits: latencies on a log axis");
    for svc in ["history-1", "history-2"] {
        let p50 = csv.series(svc, "wait_p50_ms");
        let p99 = csv.series(svc, "wait_p99_ms");
        assert!(p99.iter().any(|p| p.1 > 0.0));
        assert_close(
            &c.series(&format!("{svc}: p50")).unwrap().points,
            &p50,
            "p50",
        );
        assert_close(
            &c.series(&format!("{svc}: p99")).unwrap().points,
            &p99,
            "p99",
        );
    }

    // Latency distribution: non-decreasing, ends at the maximum.
    let c = chart(&specs, "checkout-latency-distribution");
    assert_eq!(c.x_axis, XAxis::Nines);
    for (s, p) in c.lines.iter().zip(&obs.pools) {
        assert!(s
            .points
            .windows(2)
            .all(|w| w[1].1 >= w[0].1 && w[1].0 > w[0].0));
        assert_eq!(
            s.points.last().unwrap().1,
            p.checkout_latency.max() as f64 / 1e6
        );
        assert_eq!(
            s.points[0].1,
            p.checkout_latency.value_at_quantile(0.0) as f64 / 1e6
        );
    }
}

fn many_pools_yaml(services: &[(&str, usize)], duration: &str) -> String {
    let mut y = format!(
        "name: many\nduration: {duration}\nworkload:\n  type: constant\n  checkout_rate: 2\n  hold_duration: 50ms\npools:\n"
    );
    for (svc, n) in services {
        for i in 1..=*n {
            y.push_str(&format!(
                "  - name: {svc}-{i}\n    target_size: 5\n    reservoir:\n      enabled: true\n      target_ready: 5\n"
            ));
        }
    }
    y
}

#[test]
fn pools_are_grouped_beyond_eight_lines() {
    assert_eq!(charts::service_of("history-12"), "history");
    assert_eq!(charts::service_of("history"), "history");
    assert_eq!(charts::service_of("a-b-3"), "a-b");
    assert_eq!(charts::service_of("-3"), "-3");
    assert_eq!(charts::service_of("x-"), "x-");
    let names: Vec<String> = (1..=8).map(|i| format!("p{i}")).collect();
    assert_eq!(charts::pool_groups(&names, 8).len(), 8);
    let names: Vec<String> = (1..=9).map(|i| format!("p{i}")).collect();
    let g = charts::pool_groups(&names, 8);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].name, "all pools");
    assert_eq!(g[0].pools.len(), 9);

    // 20 pools of 4 services, 30 simulated minutes at 1 s samples.
    let sc = scenario(&many_pools_yaml(
        &[
            ("history", 8),
            ("matching", 6),
            ("frontend", 4),
            ("worker", 2),
        ],
        "30m",
    ));
    let o = run(&sc);
    let runs: [Run; 1] = [("run", &o.observations)];
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );
    let state: Vec<&ChartSpec> = specs
        .iter()
        .filter(|s| s.stem.starts_with("pool-"))
        .collect();
    let stems: Vec<&str> = state.iter().map(|s| s.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "pool-01-history",
            "pool-02-matching",
            "pool-03-frontend",
            "pool-04-worker"
        ]
    );
    for s in &specs {
        assert!(
            s.lines.len() + s.bands.len() <= 2 * charts::MAX_LINES + 3,
            "{} is a tangle",
            s.stem
        );
    }
    // history: ready is a band of 8 pools around its median; target one line.
    let h = state[0];
    let band = h
        .bands
        .iter()
        .find(|b| b.name.starts_with("ready"))
        .unwrap();
    let per: Vec<Vec<(f64, f64)>> = (0..8)
        .map(|p| samples_of(&o.observations, p, |r| r.ready as f64))
        .collect();
    let (lo, med, hi) = lo_med_hi(&per);
    assert_eq!(band.lower, lo);
    assert_eq!(band.upper, hi);
    assert_eq!(
        h.series("ready (reservoir size): median").unwrap().points,
        med
    );
    assert!(h.series("target_ready (all 8 pools)").is_some());
    assert!(lo.iter().zip(&hi).all(|(a, b)| a.1 <= b.1));

    // Rendering all charts of 20 pools x 1,800 samples stays fast.
    let t = std::time::Instant::now();
    let files = charts::render_all(&specs).unwrap();
    let took = t.elapsed();
    assert_eq!(files.len(), specs.len());
    if !cfg!(debug_assertions) {
        assert!(took.as_secs_f64() < 5.0, "charts of 20 pools took {took:?}");
    }
}

#[test]
fn runs_can_be_compared_on_one_axis() {
    let sc = scenario(STRESSED);
    let a = run(&sc);
    let b = run(&sc.clone().with_seed(8));
    let runs: [Run; 2] = [("seed 7", &a.observations), ("seed 8", &b.observations)];
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );
    let c = chart(&specs, "connects-per-second");
    assert_eq!(c.lines.len(), 2);
    assert!(c.lines[0].name.starts_with("seed 7: ") && c.lines[1].name.starts_with("seed 8: "));
    // Connects in second k drawn at its end, k + 1.
    let connects: Vec<(f64, f64)> = b
        .observations
        .connects_per_second
        .iter()
        .enumerate()
        .map(|(k, &n)| ((k + 1) as f64, f64::from(n)))
        .collect();
    assert_eq!(c.lines[1].points, connects);
    // Each run in its own colour; the pool chart shows what every stack has.
    assert_ne!(c.lines[0].color, c.lines[1].color);
    let c = chart(&specs, "pool-01-history-1");
    assert_close(
        &c.series("seed 8: open (physical)").unwrap().points,
        &samples_of(&b.observations, 0, |r| r.open as f64),
        "open",
    );
    assert!(c.series("seed 7: in use").is_some());
    assert!(c.series("target (every run)").is_some());
    for s in specs.iter() {
        for l in &s.lines {
            if let Some(run) = ["seed 7", "seed 8"]
                .iter()
                .position(|r| l.name.starts_with(&format!("{r}: ")))
            {
                assert_eq!(l.color, charts::run_color(run), "{}: {}", s.stem, l.name);
            }
        }
    }
    let files = charts::render_all(&specs).unwrap();
    let page = html::render_html(
        "compare",
        &[("seed 7", &a.summary), ("seed 8", &b.summary)],
        &files,
    );
    assert!(page.contains("<th class=\"l\">run</th>"));
    assert!(page.contains(">seed 8<"));
    for f in &files {
        roxmltree::Document::parse(&f.svg).unwrap();
    }
}

#[test]
fn latency_over_time_takes_window_percentiles() {
    let sc = scenario(PLAIN);
    let o = run(&sc);
    let obs = &o.observations;
    let runs: [Run; 1] = [("run", obs)];
    let spec = charts::latency_over_time_chart(&runs, &charts::Decor::default());
    for (i, svc) in ["history-1", "history-2"].iter().enumerate() {
        let rows: Vec<&SampleRow> = obs.samples.iter().filter(|r| r.pool == i as u32).collect();
        let p50: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r.t as f64 / 1e9, r.wait_p50_ns as f64 / 1e6))
            .collect();
        let p99: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r.t as f64 / 1e9, r.wait_p99_ns as f64 / 1e6))
            .collect();
        assert!(p99.iter().any(|p| p.1 > 0.0), "the plain pools wait");
        assert_eq!(spec.series(&format!("{svc}: p50")).unwrap().points, p50);
        assert_eq!(spec.series(&format!("{svc}: p99")).unwrap().points, p99);
        let w = charts::window_latency(obs, i);
        assert_eq!(w.len(), rows.len());
        assert!(w.iter().zip(&p99).all(|(a, b)| a.0 == b.0 && a.2 == b.1));
        assert!(w.iter().zip(&p50).all(|(a, b)| a.1 == b.1));
    }
    // More than 4 pools: per service, the median p50 and the worst p99.
    let many = scenario(&many_pools_yaml(&[("history", 3), ("matching", 2)], "1m"));
    let m = run(&many);
    let runs: [Run; 1] = [("run", &m.observations)];
    let spec = charts::latency_over_time_chart(&runs, &charts::Decor::default());
    let per: Vec<Vec<(f64, f64)>> = (0..3)
        .map(|p| samples_of(&m.observations, p, |r| r.wait_p99_ns as f64 / 1e6))
        .collect();
    assert_eq!(
        spec.series("history: p99 (worst of 3 pools)")
            .unwrap()
            .points,
        lo_med_hi(&per).2
    );
    assert!(spec.series("matching: p50 (median of 2 pools)").is_some());
    let f = charts::render(&spec).unwrap();
    roxmltree::Document::parse(&f.svg).unwrap();
    assert!(f.png.starts_with(&[0x89, b'P', b'N', b'G']));
}

#[test]
fn charts_without_data_still_render() {
    // No workload: no requests, no latency, nothing to stack.
    let sc = scenario(
        "name: idle\nduration: 20s\npools:\n  - name: idle\n    target_size: 3\n    reservoir:\n      enabled: true\n",
    );
    let o = run(&sc);
    let runs: [Run; 1] = [("run", &o.observations)];
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );
    let lat = chart(&specs, "checkout-latency-distribution");
    assert_eq!(lat.note.as_deref(), Some("no checkouts in this run"));
    let fails = chart(&specs, "refill-failures");
    assert!(fails.note.is_some());
    for f in charts::render_all(&specs).unwrap() {
        roxmltree::Document::parse(&f.svg).unwrap();
    }
}

/// The columns timeseries.csv had before the database/sql columns were
/// appended (less `cluster_connections` and `cluster_connects`, which moved
/// to cluster.csv so that pool rows can be summed)
/// appended: they keep their names and their positions.
const OLD_HEADER: &str = "t_s,t_rfc3339,service,size,target,in_use,waiting,serving,requests,hits,hits_after_wait,failures,rejected_before_ready,checkouts,empty_events,discards,discard_expired,discard_guard,discard_full,scan_evictions,discard_expired_on_checkout,discard_insufficient_remaining_lifetime,discard_expired_on_wait,discard_insufficient_remaining_lifetime_on_wait,discard_expired_on_return,discard_insufficient_remaining_lifetime_on_return,discard_reservoir_full,discard_expired_on_scan,discard_expiring_soon_on_scan,refills,refill_failures,refill_failure_lease_acquire,refill_failure_rate_limit,refill_failure_token_provider,refill_failure_connection_open,limiter_waits,connects,work_started,work_completed";

/// The appended columns and their values in a sample row.
fn new_columns(r: &SampleRow) -> Vec<(String, f64)> {
    let c = &r.counters;
    let mut v: Vec<(String, f64)> = vec![
        ("idle".into(), r.idle as f64),
        ("open".into(), r.open as f64),
        ("waited".into(), c.waited as f64),
        ("wait_count".into(), r.wait_count as f64),
        ("wait_p50_ms".into(), r.wait_p50_ns as f64 / 1e6),
        ("wait_p99_ms".into(), r.wait_p99_ns as f64 / 1e6),
        ("wait_max_ms".into(), r.wait_max_ns as f64 / 1e6),
    ];
    for f in FailCause::ALL {
        v.push((
            format!("failures_{}", f.name()),
            c.failed[f as usize] as f64,
        ));
    }
    v.push(("opens".into(), c.created as f64));
    for k in CloseCause::ALL {
        v.push((
            format!("closes_{}", k.name()),
            c.sql.closes[k as usize] as f64,
        ));
    }
    v.push(("server_closed".into(), c.server_closed as f64));
    v.push(("bad_conns".into(), c.bad_conns as f64));
    for f in RefillFailure::ALL {
        v.push((
            format!("open_failure_{}", f.name()),
            c.open_failures[f as usize] as f64,
        ));
    }
    v
}

/// The kind of a CSV cell: an integer, a decimal, or text.
fn cell_kind(v: &str) -> &'static str {
    if v.parse::<i64>().is_ok() {
        "integer"
    } else if v.parse::<f64>().is_ok() && v.contains('.') {
        "decimal"
    } else {
        "text"
    }
}

#[test]
fn csv_columns_keep_one_type_and_pool_rows_sum_without_double_counting() {
    // Two runs that differ in everything that could change a cell's look:
    // whole vs fractional sample times, waits vs none, reservoir vs plain.
    let a = scenario(STRESSED);
    let b = scenario(&PLAIN.replace("sample_every: 1s", "sample_every: 250ms"));
    let mut kinds: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut kinds_cluster: BTreeMap<String, &'static str> = BTreeMap::new();
    for sc in [&a, &b] {
        let o = run(sc);
        let obs = &o.observations;
        for (text, kinds) in [
            (
                poolsim::report::csv::timeseries_csv(obs, sc.start_unix_ns),
                &mut kinds,
            ),
            (
                poolsim::report::csv::cluster_csv(obs, sc.start_unix_ns),
                &mut kinds_cluster,
            ),
        ] {
            let csv = Csv::parse(&text);
            for row in &csv.rows {
                for (h, v) in csv.header.iter().zip(row) {
                    let k = cell_kind(v);
                    let prev = *kinds.entry(h.clone()).or_insert(k);
                    assert_eq!(prev, k, "column {h}: {v} is {k}, elsewhere {prev}");
                }
            }
        }
        // Pool rows only: no column repeats a cluster-wide figure, and
        // cluster.csv has one row per sample instant.
        let csv = Csv::parse(&poolsim::report::csv::timeseries_csv(obs, sc.start_unix_ns));
        assert!(csv.header.iter().all(|h| !h.starts_with("cluster")));
        let cluster = Csv::parse(&poolsim::report::csv::cluster_csv(obs, sc.start_unix_ns));
        assert_eq!(
            cluster.header.join(","),
            poolsim::report::csv::CLUSTER_HEADER
        );
        assert_eq!(cluster.rows.len() * obs.pools.len(), csv.rows.len());
        let last = cluster.rows.last().unwrap();
        let total: u64 = obs.connects_per_second.iter().map(|&c| c as u64).sum();
        assert_eq!(last[cluster.col("connect_attempts")], total.to_string());
        // The pools' connects at the last sample add up to the cluster's attempts.
        let n = obs.pools.len();
        let pools_connects: u64 = csv.rows[csv.rows.len() - n..]
            .iter()
            .map(|r| r[csv.col("connects")].parse::<u64>().unwrap())
            .sum();
        assert_eq!(pools_connects, total);
    }
    assert_eq!(kinds["t_s"], "decimal");
    assert_eq!(kinds["wait_p99_ms"], "decimal");
    assert_eq!(kinds["requests"], "integer");
    assert_eq!(kinds_cluster["t_s"], "decimal");
}

#[test]
fn csv_appends_the_database_sql_columns() {
    let header = poolsim::report::csv::header();
    assert!(
        header.starts_with(&format!("{OLD_HEADER},")),
        "the old columns keep their order"
    );
    let sc = scenario(PLAIN);
    let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
    let mut seen_idle = false;
    let mut seen_closes = false;
    for m in &cmp.modes {
        let obs = &m.output.observations;
        let text = poolsim::report::csv::timeseries_csv(obs, sc.start_unix_ns);
        let csv = Csv::parse(&text);
        let appended: Vec<&str> = csv.header[OLD_HEADER.split(',').count()..]
            .iter()
            .map(String::as_str)
            .collect();
        let want: Vec<String> = new_columns(&obs.samples[0])
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(appended, want, "appended columns, in order");
        assert_eq!(csv.rows.len(), obs.samples.len());
        for (row, r) in csv.rows.iter().zip(&obs.samples) {
            assert_eq!(row.len(), csv.header.len());
            assert_eq!(row[csv.col("service")], obs.pools[r.pool as usize].name);
            for (name, value) in new_columns(r) {
                let got: f64 = row[csv.col(&name)].parse().unwrap();
                assert!(
                    (got - value).abs() < 1e-9,
                    "{}: {name} at t={} is {got} in the CSV but {value} in the sample",
                    m.stack.name(),
                    r.t
                );
            }
            seen_idle |= r.idle > 0;
            seen_closes |= r.counters.sql.closes.iter().sum::<u64>() > 0;
        }
    }
    assert!(
        seen_idle && seen_closes,
        "the runs exercise the new columns"
    );
}

#[test]
fn openmetrics_has_the_database_sql_families() {
    let sc = scenario(PLAIN);
    let o = run(&sc);
    let text = prom::openmetrics(&o.observations, sc.start_unix_ns, &prom::RunLabels::of(&sc));
    let series = check_openmetrics(&text);
    for fam in [
        "# TYPE dsql_pool_max_open gauge",
        "# TYPE dsql_pool_open gauge",
        "# TYPE dsql_pool_idle gauge",
        "# TYPE dsql_pool_in_use gauge",
        "# TYPE dsql_db_closed_max_lifetime_total counter",
        "# TYPE dsql_db_closed_max_idle_time_total counter",
        "# TYPE dsql_db_closed_max_idle_total counter",
        "# TYPE poolsim_pool_physical_connections gauge",
        "# TYPE poolsim_pool_opens_total counter",
        "# TYPE poolsim_pool_closes_total counter",
        "# TYPE poolsim_request_failures_total counter",
    ] {
        assert!(text.contains(fam), "missing {fam}");
    }
    let csv = Csv::parse(&poolsim::report::csv::timeseries_csv(
        &o.observations,
        sc.start_unix_ns,
    ));
    let start = sc.start_unix_ns as f64 / 1e9;
    let check = |key: &str, column: &str, service: &str| {
        let got = series.get(key).unwrap_or_else(|| panic!("no series {key}"));
        let want: Vec<(f64, f64)> = csv
            .series(service, column)
            .into_iter()
            .map(|(t, v)| (start + t, v))
            .collect();
        assert_close(got, &want, key);
    };
    for svc in ["history-1", "history-2"] {
        let s = format!("service={svc}");
        // A plain pool: database/sql holds every physical connection.
        check(&format!("dsql_pool_open{{{s}}}"), "open", svc);
        check(
            &format!("poolsim_pool_physical_connections{{{s}}}"),
            "open",
            svc,
        );
        check(&format!("dsql_pool_idle{{{s}}}"), "idle", svc);
        check(&format!("dsql_pool_in_use{{{s}}}"), "in_use", svc);
        check(&format!("poolsim_pool_opens_total{{{s}}}"), "opens", svc);
        check(
            &format!("dsql_db_closed_max_lifetime_total{{{s}}}"),
            "closes_lifetime",
            svc,
        );
        check(
            &format!("dsql_db_closed_max_idle_total{{{s}}}"),
            "closes_max_idle",
            svc,
        );
        for k in CloseCause::ALL {
            check(
                &format!("poolsim_pool_closes_total{{{s},cause={}}}", k.name()),
                &format!("closes_{}", k.name()),
                svc,
            );
        }
        for f in FailCause::ALL {
            check(
                &format!("poolsim_request_failures_total{{{s},cause={}}}", f.name()),
                &format!("failures_{}", f.name()),
                svc,
            );
        }
    }
}

#[test]
fn plain_pool_charts_show_idle_and_open() {
    let sc = scenario(PLAIN);
    let o = run(&sc);
    let obs = &o.observations;
    let csv = Csv::parse(&poolsim::report::csv::timeseries_csv(obs, sc.start_unix_ns));
    let runs: [Run; 1] = [("run", obs)];
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );
    for (i, svc) in ["history-1", "history-2"].iter().enumerate() {
        let c = chart(&specs, &format!("pool-{:02}-{svc}", i + 1));
        for (series, column) in [
            ("open (physical)", "open"),
            ("idle (database/sql free list)", "idle"),
            ("in use", "in_use"),
            ("target_size (MaxOpen)", "target"),
        ] {
            assert_close(
                &c.series(series).unwrap().points,
                &csv.series(svc, column),
                series,
            );
        }
        // A plain pool has no reservoir.
        assert!(c.series("ready (reservoir size)").is_none());
    }
    // Closes by cause stacked with the connections created.
    let c = chart(&specs, "discards-refills");
    let closes: Vec<&str> = c
        .stacked
        .iter()
        .filter_map(|s| s.name.strip_prefix("closed: "))
        .collect();
    assert!(closes.contains(&"max_idle") && closes.contains(&"lifetime"));
    for layer in &c.stacked {
        let cause = layer.name.strip_prefix("closed: ").unwrap();
        assert_close(
            &layer.points,
            &csv.rate(&["history-1", "history-2"], &format!("closes_{cause}")),
            cause,
        );
    }
    // Failed opens of database/sql, failures by cause on the rate chart.
    let c = chart(&specs, "refill-failures");
    assert!(c.series("failed: token_provider").is_some());
    let c = chart(&specs, "checkout-rate");
    assert!(c
        .series("failed requests/s, deadline (mean per pool)")
        .is_some());
    assert!(c.series("empty events/s (mean per pool)").is_none());
    for f in charts::render_all(&specs).unwrap() {
        roxmltree::Document::parse(&f.svg).unwrap();
    }
}

/// A short scenario for the comparison tests (two minutes, two pools).
fn compare_scenario() -> Scenario {
    scenario(&PLAIN.replace("duration: 3m", "duration: 2m"))
}

#[test]
fn compare_writes_every_report() {
    let sc = compare_scenario();
    let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
    let out = tmp("compare");
    files::write_compare(&out, &cmp).unwrap();

    let json: serde_json::Value =
        serde_json::from_str(&read_str(&out.join("compare.json"))).expect("compare.json parses");
    let modes = json["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 3);
    let names: Vec<&str> = modes.iter().map(|m| m["mode"].as_str().unwrap()).collect();
    assert_eq!(names, ["direct", "database_sql", "pool"]);
    assert_eq!(json["file_mode"], "pool");

    // Each mode's full reports.
    for m in &names {
        let d = out.join(m);
        for f in [
            "summary.json",
            "timeseries.csv",
            "metrics.prom",
            "report.html",
        ] {
            assert!(d.join(f).is_file(), "{m}/{f} missing");
        }
        assert_eq!(files_with(&d.join("charts"), "svg").len(), 9, "{m}");
        let summary: serde_json::Value =
            serde_json::from_str(&read_str(&d.join("summary.json"))).unwrap();
        assert!(summary["pools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["stack"] == *m));
    }

    // The overlaid charts: the modes on one axis, labelled by mode.
    let charts_dir = out.join("charts");
    let svgs = files_with(&charts_dir, "svg");
    assert_eq!(svgs.len(), 9, "{svgs:?}");
    assert_eq!(files_with(&charts_dir, "png").len(), 9);
    for s in &svgs {
        let text = read_str(s);
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", s.display()));
        if !s.ends_with("refill-failures.svg") {
            for m in &names {
                assert!(
                    text.contains(&format!("{m}: ")),
                    "{} has no {m} series",
                    s.display()
                );
            }
        }
    }

    // The page: self-contained, every chart inline, every field of every mode.
    let page = read_str(&out.join("report.html"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    let body = page.trim_start_matches("<!DOCTYPE html>\n");
    roxmltree::Document::parse(body).expect("report.html is well nested");
    for s in &svgs {
        let stem = s.file_stem().unwrap().to_str().unwrap();
        assert!(
            page.contains(&format!("id=\"{}\"", html::chart_id(stem))),
            "report.html lacks chart {stem}"
        );
        assert!(page.contains(&format!("charts/{stem}.png")));
    }
    assert_eq!(page.matches("<svg").count(), svgs.len());
    let without_ns = page.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    assert!(page.contains("plain reports test"));
    for m in &names {
        assert!(page.contains(&format!("href=\"{m}/report.html\"")));
    }
    // The file's own mode is highlighted, in the table and the verdicts.
    assert!(page.contains("<th class=\"own\">pool (file)</th>"));
    assert!(page.contains("<tr class=\"own\"><td class=\"l\">pool</td>"));
    // Every CompareRow field, nested ones flattened with a dot.
    fn keys(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    keys(&key, x, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut all = Vec::new();
    keys("", &modes[0], &mut all);
    assert!(all.len() > 20);
    for k in all.iter().filter(|k| *k != "mode") {
        assert!(
            page.contains(&format!("<code>{k}</code>")),
            "report.html lacks row {k}"
        );
    }
    // The side-by-side figures are the compare.json values.
    let requests: Vec<String> = modes
        .iter()
        .map(|m| m["requests"].as_u64().unwrap().to_string())
        .collect();
    let row = format!(
        "<td>{}</td><td>{}</td><td class=\"own\">{}</td>",
        requests[0], requests[1], requests[2]
    );
    assert!(page.contains(&row), "requests row {row}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn compare_overlays_one_colour_per_mode() {
    let sc = compare_scenario();
    let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
    let runs: Vec<Run> = cmp
        .modes
        .iter()
        .map(|m| (m.stack.name(), &m.output.observations))
        .collect();
    let specs = charts::run_charts(
        &runs,
        &charts::Decor::limits(charts::connect_limits(&sc.world)),
    );
    for s in &specs {
        assert!(
            s.lines.len() + s.bands.len() <= 2 * charts::MAX_LINES + 3,
            "{} is a tangle",
            s.stem
        );
        for l in &s.lines {
            if let Some(ri) = ["direct", "database_sql", "pool"]
                .iter()
                .position(|m| l.name.starts_with(&format!("{m}: ")))
            {
                assert_eq!(l.color, charts::run_color(ri), "{}: {}", s.stem, l.name);
            }
        }
    }
    // Pool state: each mode's open and in-use connections of the pool.
    let c = chart(&specs, "pool-01-history-1");
    for (ri, m) in cmp.modes.iter().enumerate() {
        let obs = &m.output.observations;
        let name = m.stack.name();
        assert_close(
            &c.series(&format!("{name}: open (physical)"))
                .unwrap()
                .points,
            &samples_of(obs, 0, |r| r.open as f64),
            name,
        );
        assert_close(
            &c.series(&format!("{name}: in use")).unwrap().points,
            &samples_of(obs, 0, |r| r.in_use as f64),
            name,
        );
        assert_eq!(
            c.series(&format!("{name}: open (physical)")).unwrap().color,
            charts::run_color(ri)
        );
    }
    // Latency over time: each mode's p99 (2 pools: the worse pool per window).
    let c = chart(&specs, "checkout-latency-over-time");
    for m in &cmp.modes {
        let obs = &m.output.observations;
        let per: Vec<Vec<(f64, f64)>> = (0..2)
            .map(|p| samples_of(obs, p, |r| r.wait_p99_ns as f64 / 1e6))
            .collect();
        assert_eq!(
            c.series(&format!("{}: p99 (worst of 2 pools)", m.stack.name()))
                .unwrap()
                .points,
            lo_med_hi(&per).2
        );
    }
}

#[test]
fn compare_is_deterministic() {
    let a = tmp("cmp-det-a");
    let b = tmp("cmp-det-b");
    for d in [&a, &b] {
        let sc = compare_scenario();
        let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
        files::write_compare(d, &cmp).unwrap();
    }
    assert!(read(&a.join("compare.json")) == read(&b.join("compare.json")));
    assert!(read(&a.join("report.html")) == read(&b.join("report.html")));
    let mut compared = 0;
    for dir in [
        "charts",
        "direct/charts",
        "database_sql/charts",
        "pool/charts",
    ] {
        for p in files_with(&a.join(dir), "svg") {
            let q = b.join(dir).join(p.file_name().unwrap());
            assert!(read(&p) == read(&q), "{} differs", p.display());
            compared += 1;
        }
    }
    assert_eq!(compared, 4 * 9);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn summary_traces_the_run_to_what_produced_it() {
    let dir = tmp("trace");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.yaml");
    let yaml = STRESSED.replace("duration: 3m", "duration: 3m\nmeasure_after: 30s");
    std::fs::write(&file, &yaml).unwrap();
    let sc = scenario::load(&file).unwrap();
    let o = run(&sc);
    let v: serde_json::Value = serde_json::from_str(&o.summary.to_json()).unwrap();
    assert_eq!(v["poolsim_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["scenario_path"], file.display().to_string());
    // sha256 of the bytes, as `sha256sum` prints it.
    let sha = v["scenario_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(sha
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    std::fs::write(&file, format!("{yaml}\n# a comment\n")).unwrap();
    let other = scenario::load(&file).unwrap();
    assert_ne!(
        other.source.as_ref().unwrap().sha256,
        sha,
        "another byte, another hash"
    );
    assert_eq!(v["measure_after_s"], 30.0);
    assert_eq!(v["warnings"], serde_json::json!([]));
    // From text alone there is no path to give.
    let parsed = scenario(STRESSED);
    assert_eq!(
        serde_json::to_value(&run(&parsed).summary).unwrap()["scenario_path"],
        serde_json::Value::Null
    );
    // compare.json carries the same trace.
    let c = poolsim::compare::compare(&sc, &poolsim::model::world::Stack::ALL, |_, _| {}).unwrap();
    let cv: serde_json::Value = serde_json::from_str(&c.summary.to_json()).unwrap();
    for k in [
        "poolsim_version",
        "scenario_path",
        "scenario_sha256",
        "measure_after_s",
    ] {
        assert_eq!(cv[k], v[k], "{k}");
    }
    // The printed header says what measure_after leaves out.
    let text = poolsim::report::text::render(&o.summary, None);
    assert!(text.contains("2 pools"), "{text}");
    assert!(text.contains("measured after 30s: requests that arrived before it are left out"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_scenario_that_measures_nothing_says_so() {
    let sc = scenario("name: idle\nduration: 10s\npools:\n  - name: only\n    target_size: 2\n");
    let o = run(&sc);
    assert_eq!(o.summary.warnings.len(), 1);
    assert!(o.summary.warnings[0].contains("measures nothing"));
    let text = poolsim::report::text::render(&o.summary, None);
    assert!(text.contains("warning: this scenario has no workload and no assertion"));
    assert!(text.contains(", 1 pool, "), "{text}");
    let html = html::render_run_html(&o.summary, &[]);
    assert!(html.contains("measures nothing"));
    assert!(!html.contains("pool(s)"));
}

#[test]
fn numbers_follow_one_precision_rule() {
    use poolsim::report::text::{fmt_num, fmt_percent};
    assert_eq!(fmt_num(113.4), "113.4");
    assert_eq!(fmt_num(3797.6), "3798");
    assert_eq!(fmt_num(65.0512), "65.05");
    assert_eq!(fmt_num(0.668_712), "0.6687");
    assert_eq!(fmt_num(0.000_123_4), "0.000123");
    assert_eq!(fmt_num(12_268.0), "12268");
    assert_eq!(fmt_num(0.5), "0.5");
    assert_eq!(fmt_percent(Some(1.0)), "100%");
    assert_eq!(fmt_percent(Some(0.998_72)), "99.87%");
    assert_eq!(fmt_percent(None), "n/a");
}

/// A run with one assertion of every kind a chart can show, measured after 30 s.
fn verdict_scenario() -> Scenario {
    scenario(&STRESSED.replace(
        "assertions:\n  - type: reservoir_empty_events\n    max: 5\n  - type: max_connects_per_sec\n    max: 100\n",
        "measure_after: 30s\nassertions:\n  - type: max_connects_per_sec\n    max: 20\n  - type: wait_time\n    percentile: 99\n    max: 50ms\n  - type: pool_at_size\n    pool: history-2\n    min_fraction: 0.8\n  - type: max_physical_connections\n    max: 40\n  - type: converge_within\n    duration: 20s\n",
    ))
}

#[test]
fn charts_draw_each_threshold_with_its_verdict() {
    let sc = verdict_scenario();
    assert_eq!(sc.assertions.len(), 5);
    let o = run(&sc);
    let decor = files::run_decor(&sc, &o);
    assert_eq!(decor.measure_after_s, 30.0);
    assert_eq!(decor.thresholds.len(), 5);
    let runs: [Run; 1] = [("run", &o.observations)];
    let specs = charts::run_charts(&runs, &decor);
    let verdict = |i: usize| {
        if o.assertions[i].passed {
            "PASS"
        } else {
            "FAIL"
        }
    };
    let threshold = |stem: &str, y: f64| -> charts::HLine {
        chart(&specs, stem)
            .hlines
            .iter()
            .find(|h| h.threshold && h.y == y)
            .unwrap_or_else(|| panic!("{stem}: no threshold at {y}"))
            .clone()
    };
    // max_connects_per_sec on the connects chart.
    let h = threshold("connects-per-second", 20.0);
    assert!(
        h.name.starts_with("assertion max_connects_per_sec ≤ 20/s"),
        "{}",
        h.name
    );
    assert!(h.name.contains(verdict(0)), "{}", h.name);
    let (pass, fail) = (charts::PALETTE[12], charts::PALETTE[13]);
    assert_eq!(
        charts::PALETTE[h.color],
        if o.assertions[0].passed { pass } else { fail }
    );
    // The wait percentile on both latency charts, and p99 marked on the x axis.
    for stem in [
        "checkout-latency-distribution",
        "checkout-latency-over-time",
    ] {
        let h = threshold(stem, 50.0);
        assert!(h.name.contains("wait_time ≤ 50 ms at p99"), "{}", h.name);
        assert!(h.name.contains(verdict(1)));
    }
    let dist = chart(&specs, "checkout-latency-distribution");
    assert_eq!(dist.vlines.len(), 1);
    assert!((dist.vlines[0].x - 2.0).abs() < 1e-12, "p99 is 2 nines");
    // pool_at_size: 0.8 x target_size on history-2's chart only.
    let h = threshold("pool-02-history-2", 8.0);
    assert!(
        h.name.contains("[history-2] ≥ 0.8 × target_size = 8 open"),
        "{}",
        h.name
    );
    assert!(chart(&specs, "pool-01-history-1")
        .hlines
        .iter()
        .all(|h| !h.name.contains("pool_at_size")));
    // max_physical_connections without a pool: the cluster chart.
    let h = threshold("cluster-connections", 40.0);
    assert!(h.name.contains(verdict(3)));
    // converge_within: a vertical line at 20 s on every pool chart.
    for stem in ["pool-01-history-1", "pool-02-history-2"] {
        let v = chart(&specs, stem)
            .vlines
            .iter()
            .find(|v| v.label.starts_with("converge_within 20s"))
            .unwrap();
        assert_eq!(v.x, 20.0);
        assert!(v.label.ends_with(verdict(4)));
    }
    // measure_after is shaded on every time chart, nowhere else.
    for s in &specs {
        match s.x_axis {
            XAxis::Time => {
                let sh = s.shade.as_ref().unwrap_or_else(|| panic!("{}", s.stem));
                assert_eq!((sh.from, sh.to), (0.0, 30.0));
                assert!(sh.name.contains("before measure_after (30s): not measured"));
            }
            XAxis::Nines => assert!(s.shade.is_none()),
        }
    }
    // No event marks without events; with some, every time chart shows them.
    assert!(specs
        .iter()
        .all(|s| s.vlines.iter().all(|v| !v.label.contains("fault"))));
    let mut with_events = decor.clone();
    with_events.events = vec![
        (60.0, "fault: cluster restart".into()),
        (90.0, "fault: heal".into()),
    ];
    for s in charts::run_charts(&runs, &with_events) {
        let marks: Vec<f64> = s
            .vlines
            .iter()
            .filter(|v| v.label.starts_with("fault"))
            .map(|v| v.x)
            .collect();
        match s.x_axis {
            XAxis::Time => assert_eq!(marks, vec![60.0, 90.0], "{}", s.stem),
            XAxis::Nines => assert!(marks.is_empty()),
        }
    }
    // They all render, PNG and SVG.
    for f in charts::render_all(&charts::run_charts(&runs, &with_events)).unwrap() {
        assert!(f.svg.contains("</svg>"));
        assert!(!f.png.is_empty());
    }
}

#[test]
fn coinciding_lines_stay_visible() {
    // Two pools with the same workload and seed streams of their own: their
    // request rates differ; make a chart where two lines are equal.
    let mut spec = charts::checkout_rate_chart(
        &[("run", &run(&scenario(STRESSED)).observations)],
        &charts::Decor::default(),
    );
    let first = spec.lines[0].clone();
    spec.lines.push(charts::Series {
        name: "copy".into(),
        ..first.clone()
    });
    spec.mark_coincident();
    let copy = spec.lines.last().unwrap();
    assert_eq!(copy.name, format!("copy (same as {})", first.name));
    assert_ne!(copy.mark, first.mark, "drawn with another dash");
    // Compared modes on one scenario see the same arrivals: their request
    // lines coincide and say so.
    let sc = compare_scenario();
    let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
    let specs = charts::run_charts(
        &cmp.modes
            .iter()
            .map(|m| (m.stack.name(), &m.output.observations))
            .collect::<Vec<Run>>(),
        &files::compare_decor(&cmp),
    );
    let c = chart(&specs, "checkout-rate");
    let reqs: Vec<&charts::Series> = c
        .lines
        .iter()
        .filter(|s| s.name.contains("requests/s (all pools)"))
        .collect();
    assert_eq!(reqs.len(), 3);
    let marks: std::collections::BTreeSet<String> =
        reqs.iter().map(|s| format!("{:?}", s.mark)).collect();
    assert_eq!(marks.len(), 3, "three dashes for three modes");
}

#[test]
fn compare_captions_never_add_modes_up() {
    let sc = compare_scenario();
    let cmp = poolsim::compare::compare(&sc, &Stack::ALL, |_, _| {}).unwrap();
    let runs: Vec<Run> = cmp
        .modes
        .iter()
        .map(|m| (m.stack.name(), &m.output.observations))
        .collect();
    let specs = charts::run_charts(&runs, &files::compare_decor(&cmp));
    for s in &specs {
        assert!(!s.caption.contains("in total"), "{}: {}", s.stem, s.caption);
    }
    let d = chart(&specs, "discards-refills");
    for m in &cmp.modes {
        let created: u64 = m
            .output
            .observations
            .pools
            .iter()
            .map(|p| p.counters.created)
            .sum();
        assert!(
            d.caption.contains(&format!("{}: ", m.stack.name()))
                && d.caption.contains(&format!("{created} created")),
            "{}",
            d.caption
        );
    }
}

#[test]
fn more_than_four_pools_become_bands() {
    let sc = scenario(&many_pools_yaml(&[("history", 6)], "2m"));
    let o = run(&sc);
    let runs: [Run; 1] = [("run", &o.observations)];
    for spec in [
        charts::checkout_rate_chart(&runs, &charts::Decor::default()),
        charts::latency_over_time_chart(&runs, &charts::Decor::default()),
    ] {
        let per_pool = spec
            .lines
            .iter()
            .filter(|s| s.name.starts_with("history-"))
            .count();
        assert_eq!(per_pool, 0, "{}: no line per pool", spec.stem);
        assert!(
            spec.lines
                .iter()
                .any(|s| s.name.starts_with("history") || s.name.contains("of 6 pools")),
            "{}: one curve for the service",
            spec.stem
        );
    }
    let c = charts::checkout_rate_chart(&runs, &charts::Decor::default());
    assert_eq!(c.bands.len(), 1, "min–max of the 6 pools");
}
