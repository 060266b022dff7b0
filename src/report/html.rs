//! `report.html`: one self-contained page per run (or per comparison of runs)
//! that reads like a dashboard: the verdict, headline figures, the assertion
//! verdicts, the per-pool summary tables and every chart (inline SVG) with a
//! caption saying what to read in it. [`render_compare_html`] renders the
//! page of `poolsim compare`: the modes side by side, their verdicts and the
//! charts with the modes overlaid.
//!
//! No server, no network: no external CSS, scripts, fonts or images. The page
//! is a pure function of its inputs (deterministic bytes).

use crate::assertions::AssertionResult;
use crate::compare::{CompareRow, CompareSummary};
use crate::metrics::{LatencyMs, PoolSummary};
use crate::report::charts::ChartFile;
use crate::report::Summary;
use std::fmt::Write;

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A number for people, formatted as in the printed summary.
fn num(x: f64) -> String {
    super::text::fmt_num(x)
}

fn pct(r: Option<f64>) -> String {
    super::text::fmt_percent(r)
}

/// The HTML anchor id of a chart.
pub fn chart_id(stem: &str) -> String {
    format!("chart-{stem}")
}

const STYLE: &str = r#"
:root { --ok: #1a7f37; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { padding: 20px 32px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { margin: 0 0 4px 0; font-size: 26px; }
header p { margin: 2px 0; color: var(--muted); }
main { padding: 8px 32px 40px 32px; max-width: 1480px; }
figure { max-width: 1180px; }
h2 { font-size: 20px; margin: 28px 0 10px 0; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 6px; color: #fff; font-weight: 600; margin-top: 8px; }
.verdict.pass { background: var(--ok); }
.verdict.fail { background: var(--bad); }
.verdict.none { background: var(--muted); }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 170px; background: #fff; }
.tile .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.tile .v { font-size: 22px; font-weight: 600; margin-top: 2px; }
.tile .s { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: right; vertical-align: top; }
th { background: var(--bg); }
td.l, th.l { text-align: left; }
td.nw { white-space: nowrap; }
td.pass { color: var(--ok); font-weight: 700; text-align: left; }
td.fail { color: var(--bad); font-weight: 700; text-align: left; }
.scroll { overflow-x: auto; }
figure { margin: 18px 0 26px 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 14px; color: #1f2328; margin-top: 6px; }
figcaption b { display: block; margin-bottom: 2px; }
figcaption .f { color: var(--muted); font-size: 12px; }
nav a { margin-right: 14px; font-size: 13px; }
th.own, td.own, tr.own td, li.own { background: #fff8c5; }
td.k code { font-size: 13px; }
td.k span { display: block; color: var(--muted); font-size: 12px; }
header p.warn { color: var(--bad); font-weight: 600; }
"#;

fn verdict(runs: &[(&str, &Summary)]) -> (&'static str, String) {
    let total: usize = runs.iter().map(|r| r.1.assertions.len()).sum();
    let failed: usize = runs
        .iter()
        .map(|r| r.1.assertions.iter().filter(|a| !a.passed).count())
        .sum();
    if total == 0 {
        ("none", "no assertions".into())
    } else if failed == 0 {
        ("pass", format!("PASS: all {total} assertions hold"))
    } else {
        (
            "fail",
            format!("FAIL: {failed} of {total} assertions failed"),
        )
    }
}

fn tile(o: &mut String, key: &str, value: &str, sub: &str) {
    let _ = write!(
        o,
        "<div class=\"tile\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"s\">{}</div></div>",
        escape(key),
        escape(value),
        escape(sub)
    );
}

fn tiles(o: &mut String, label: Option<&str>, s: &Summary) {
    if let Some(l) = label {
        let _ = write!(o, "<h3>{}</h3>", escape(l));
    }
    let requests: u64 = s.pools.iter().map(|p| p.requests).sum();
    let hits: u64 = s.pools.iter().map(|p| p.hits).sum();
    let empty: u64 = s.pools.iter().map(|p| p.empty_events).sum();
    let failures: u64 = s.pools.iter().map(|p| p.failures).sum();
    let p99 = s
        .pools
        .iter()
        .map(|p| p.checkout_latency_ms.p99)
        .fold(0.0, f64::max);
    let max = s
        .pools
        .iter()
        .map(|p| p.checkout_latency_ms.max)
        .fold(0.0, f64::max);
    o.push_str("<div class=\"tiles\">");
    tile(
        o,
        "immediate hit ratio",
        &pct((requests > 0).then(|| hits as f64 / requests as f64)),
        &format!("{hits} of {requests} requests"),
    );
    tile(o, "empty events", &empty.to_string(), "all pools");
    tile(
        o,
        "failed requests",
        &failures.to_string(),
        "got no connection",
    );
    tile(
        o,
        "wait p99 (worst pool)",
        &format!("{} ms", num(p99)),
        &format!("max {} ms", num(max)),
    );
    tile(
        o,
        "peak connects/s",
        &s.cluster.max_connects_per_sec.to_string(),
        &format!("{} connects in total", s.cluster.connects),
    );
    tile(
        o,
        "peak connections",
        &s.cluster.peak_connections.to_string(),
        &format!(
            "{} refused for rate, {} at the limit",
            s.cluster.refused_rate_limit, s.cluster.refused_max_connections
        ),
    );
    o.push_str("</div>");
}

fn assertion_rows(o: &mut String, run: Option<&str>, list: &[AssertionResult], own: bool) {
    for a in list {
        let _ = write!(o, "{}", if own { "<tr class=\"own\">" } else { "<tr>" });
        if let Some(r) = run {
            let _ = write!(o, "<td class=\"l\">{}</td>", escape(r));
        }
        let (cls, word) = if a.passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = write!(
            o,
            "<td class=\"{cls}\">{word}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{} {}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(a.type_name),
            escape(a.pool.as_deref().unwrap_or("all pools")),
            a.observed.map_or("n/a".into(), num),
            escape(a.comparison),
            num(a.threshold),
            escape(a.unit),
            escape(&a.detail)
        );
    }
}

fn lat(l: &LatencyMs) -> String {
    format!("{} / {} / {}", num(l.p50), num(l.p99), num(l.max))
}

fn opt(v: Option<u32>) -> String {
    v.map_or("n/a".into(), |v| v.to_string())
}

/// Header of the requests table (after the optional run column).
const REQUESTS_HEAD: &str = "<th class=\"l\">pool</th><th class=\"l\">stack</th><th>serving from</th><th>requests</th><th>immediate hits</th><th>hits after wait</th><th>waited</th><th>wait p50 / p99 / max (ms)</th><th>request latency p50 / p99 / max (ms)</th><th>failures</th><th class=\"l\">by cause</th><th>empty events</th>";

fn requests_row(o: &mut String, run: Option<&str>, p: &PoolSummary) {
    o.push_str("<tr>");
    if let Some(r) = run {
        let _ = write!(o, "<td class=\"l\">{}</td>", escape(r));
    }
    let serving = match p.serving_since_s {
        Some(t) if p.initial_fill_timed_out => format!("{} s (fill timed out)", num(t)),
        Some(t) => format!("{} s", num(t)),
        None => "never".into(),
    };
    let _ = writeln!(
        o,
        "<td class=\"l nw\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
        escape(&p.name),
        escape(p.stack),
        escape(&serving),
        p.requests,
        pct(p.hit_ratio),
        p.hits_after_wait,
        p.waited,
        lat(&p.wait_ms),
        lat(&p.request_latency_ms),
        p.failures,
        escape(&super::text::nonzero(&p.failures_by_cause)),
        p.empty_events,
    );
}

/// Header of the connections table (after the optional run column).
const CONNECTIONS_HEAD: &str = "<th class=\"l\">pool</th><th class=\"l\">stack</th><th>target_size / target_ready / low watermark</th><th>opens</th><th>closes</th><th class=\"l\">by cause</th><th>open min / max (peak)</th><th>server closed</th><th>bad conns</th><th>connects</th><th>refills</th><th>discards</th><th class=\"l\">by reason</th><th>refill failures</th><th class=\"l\">by reason</th><th>limiter waits</th>";

fn connections_row(o: &mut String, run: Option<&str>, p: &PoolSummary) {
    o.push_str("<tr>");
    if let Some(r) = run {
        let _ = write!(o, "<td class=\"l\">{}</td>", escape(r));
    }
    let targets = if p.stack == "pool" {
        format!("{} / – / –", p.target_size)
    } else {
        format!(
            "{} / {} / {}",
            p.target_size, p.target_ready, p.low_watermark
        )
    };
    let closes: u64 = p.closes.values().sum();
    let discards: u64 = p.discards.values().sum();
    let failures: u64 = p.refill_failures.values().sum();
    let _ = writeln!(
        o,
        "<td class=\"l nw\">{}</td><td class=\"l\">{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"nw\">{} / {} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
        escape(&p.name),
        escape(p.stack),
        escape(&targets),
        p.opens,
        closes,
        escape(&super::text::nonzero(&p.closes)),
        opt(p.open_min),
        opt(p.open_max),
        p.open_peak,
        p.server_closed,
        p.bad_conns,
        p.connects,
        p.refills,
        discards,
        escape(&super::text::nonzero(&p.discards)),
        failures,
        escape(&super::text::nonzero(&p.refill_failures)),
        p.limiter_waits,
    );
}

/// A per-pool table: `head` cells after the optional run column, one `row`
/// per pool of every run.
fn pool_table(
    o: &mut String,
    runs: &[(&str, &Summary)],
    head: &str,
    row: fn(&mut String, Option<&str>, &PoolSummary),
) {
    let multi = runs.len() > 1;
    o.push_str("<div class=\"scroll\"><table>\n<tr>");
    if multi {
        o.push_str("<th class=\"l\">run</th>");
    }
    o.push_str(head);
    o.push_str("</tr>\n");
    for (label, s) in runs {
        for p in &s.pools {
            row(o, multi.then_some(*label), p);
        }
    }
    o.push_str("</table></div>\n");
}

/// The chart figures, each with its anchor and caption.
fn figures(o: &mut String, charts: &[ChartFile]) {
    for c in charts {
        let _ = write!(
            o,
            "<figure id=\"{}\">\n{}\n<figcaption><b>{}</b>{}<div class=\"f\">charts/{}.png, charts/{}.svg</div></figcaption>\n</figure>\n",
            escape(&chart_id(&c.stem)),
            strip_xml_prolog(&c.svg),
            escape(&c.title),
            escape(&c.caption),
            escape(&c.stem),
            escape(&c.stem)
        );
    }
}

fn nav(o: &mut String, charts: &[ChartFile]) {
    o.push_str("<nav>");
    for c in charts {
        let _ = write!(
            o,
            "<a href=\"#{}\">{}</a>",
            escape(&chart_id(&c.stem)),
            escape(&c.title)
        );
    }
    o.push_str("</nav>\n");
}

fn head(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{} - poolsim report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
}

/// The HTML page of one run (`runs` has one element) or of several runs
/// compared (each labelled, e.g. by mode), with `charts` inlined in order.
pub fn render_html(title: &str, runs: &[(&str, &Summary)], charts: &[ChartFile]) -> String {
    let multi = runs.len() > 1;
    let mut o =
        String::with_capacity(64 * 1024 + charts.iter().map(|c| c.svg.len() + 512).sum::<usize>());
    head(&mut o, title);
    let mut descriptions: Vec<&str> = runs.iter().map(|r| r.1.description.as_str()).collect();
    descriptions.dedup();
    for d in descriptions.iter().filter(|d| !d.is_empty()) {
        let _ = writeln!(o, "<p>{}</p>", escape(d));
    }
    for (label, s) in runs {
        let _ = writeln!(
            o,
            "<p>{}scenario “{}”{}, seed {}, {} s simulated, samples every {} s, {} events, {}; {}</p>",
            if multi { format!("<b>{}</b>: ", escape(label)) } else { String::new() },
            escape(&s.scenario),
            match &s.scenario_path {
                Some(p) => format!(" ({})", escape(p)),
                None => String::new(),
            },
            s.seed,
            num(s.duration_s),
            num(s.sample_every_s),
            s.events_processed,
            super::text::plural(s.pools.len(), "pool"),
            escape(&super::text::measure_after_text(s.measure_after_s)),
        );
        for w in &s.warnings {
            let _ = writeln!(o, "<p class=\"warn\">warning: {}</p>", escape(w));
        }
    }
    let (cls, text) = verdict(runs);
    let _ = writeln!(o, "<div class=\"verdict {cls}\">{}</div>", escape(&text));
    nav(&mut o, charts);
    o.push_str("</header>\n<main>\n");

    o.push_str("<h2>Headline</h2>\n");
    for (label, s) in runs {
        tiles(&mut o, multi.then_some(*label), s);
    }

    o.push_str("\n<h2>Assertions</h2>\n");
    let any = runs.iter().any(|r| !r.1.assertions.is_empty());
    if !any {
        o.push_str("<p>This scenario has no assertions.</p>\n");
    } else {
        o.push_str("<div class=\"scroll\"><table>\n<tr>");
        if multi {
            o.push_str("<th class=\"l\">run</th>");
        }
        o.push_str("<th class=\"l\">verdict</th><th class=\"l\">assertion</th><th class=\"l\">pool</th><th>observed</th><th>threshold</th><th class=\"l\">unit</th><th class=\"l\">detail</th></tr>\n");
        for (label, s) in runs {
            assertion_rows(&mut o, multi.then_some(*label), &s.assertions, false);
        }
        o.push_str("</table></div>\n");
    }

    o.push_str("\n<h2>Pools: requests</h2>\n");
    pool_table(&mut o, runs, REQUESTS_HEAD, requests_row);
    o.push_str("\n<h2>Pools: connections</h2>\n");
    pool_table(&mut o, runs, CONNECTIONS_HEAD, connections_row);

    o.push_str("\n<h2>Cluster</h2>\n<div class=\"scroll\"><table>\n<tr>");
    if multi {
        o.push_str("<th class=\"l\">run</th>");
    }
    o.push_str("<th>peak connects/s</th><th>peak connections</th><th>connects</th><th>refused (rate)</th><th>refused (max connections)</th><th>lease denials</th></tr>\n");
    for (label, s) in runs {
        let c = &s.cluster;
        o.push_str("<tr>");
        if multi {
            let _ = write!(o, "<td class=\"l\">{}</td>", escape(label));
        }
        let _ = writeln!(
            o,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.max_connects_per_sec,
            c.peak_connections,
            c.connects,
            c.refused_rate_limit,
            c.refused_max_connections,
            c.lease_denials
        );
    }
    o.push_str("</table></div>\n");

    o.push_str("\n<h2>Charts</h2>\n");
    figures(&mut o, charts);
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// SVG markup without an `<?xml ...?>` prolog (not allowed inside HTML).
fn strip_xml_prolog(svg: &str) -> &str {
    let s = svg.trim_start();
    if s.starts_with("<?xml") {
        match s.find("?>") {
            Some(i) => s[i + 2..].trim_start(),
            None => s,
        }
    } else {
        s
    }
}

/// The page of one run.
pub fn render_run_html(summary: &Summary, charts: &[ChartFile]) -> String {
    render_html(&summary.scenario, &[("run", summary)], charts)
}

/// What the comparison table's rows mean, in their order (keys of a
/// compare.json `modes[]` entry, nested objects flattened with a dot). Keys
/// not listed here are shown after these, in name order.
const COMPARE_ROWS: &[(&str, &str)] = &[
    ("passed", "every assertion held in this mode"),
    ("requests", "requests served"),
    (
        "rejected_before_ready",
        "requests refused before their pool took traffic",
    ),
    (
        "hit_ratio",
        "requests that got a connection without waiting",
    ),
    (
        "empty_events",
        "failed TryCheckouts (reservoir modes; 0 for the plain pool)",
    ),
    ("waited", "requests that waited at all"),
    ("wait_ms.mean", "wait for a connection, mean (ms)"),
    ("wait_ms.p50", "wait for a connection, median (ms)"),
    ("wait_ms.p99", "wait for a connection, 99th percentile (ms)"),
    ("wait_ms.max", "wait for a connection, maximum (ms)"),
    ("failures", "requests that got no connection"),
    (
        "failures_by_cause.deadline",
        "failed: the request timed out waiting",
    ),
    (
        "failures_by_cause.no_connection",
        "failed: Open() failed, or database/sql's retries ran out",
    ),
    (
        "failures_by_cause.open_failed",
        "failed: its own open was refused",
    ),
    (
        "failures_by_cause.bad_conn",
        "failed: it got a connection the server had closed",
    ),
    (
        "peak_connects_per_sec",
        "most connects in one second, cluster-wide",
    ),
    ("connects", "connect attempts that reached the cluster"),
    ("opens", "physical connections created"),
    (
        "churn_discards",
        "reservoir_full discards: refilled while out, surplus on return",
    ),
    ("discards", "all reservoir discards"),
    ("closes", "database/sql closes, all causes"),
    (
        "physical_min",
        "fewest physical connections at a sample once every pool served",
    ),
    (
        "physical_max",
        "most physical connections at a sample once every pool served",
    ),
    ("physical_peak", "most physical connections at once (exact)"),
];

/// A JSON value flattened into (dotted key, scalar) pairs.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        x => out.push((prefix.to_string(), x.clone())),
    }
}

/// A comparison row as dotted key -> value (every field of [`CompareRow`]).
fn compare_cells(r: &CompareRow) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut v = Vec::new();
    if let Ok(json) = serde_json::to_value(r) {
        flatten("", &json, &mut v);
    }
    v.into_iter().collect()
}

/// One cell of the comparison table: `(class, text)`.
fn compare_cell(key: &str, v: Option<&serde_json::Value>) -> (&'static str, String) {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => ("", "n/a".into()),
        Some(Value::Bool(true)) => ("pass", "PASS".into()),
        Some(Value::Bool(false)) => ("fail", "FAIL".into()),
        Some(Value::Number(n)) if key.ends_with("ratio") => ("", pct(n.as_f64())),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(u) => ("", u.to_string()),
            None => ("", num(n.as_f64().unwrap_or(0.0))),
        },
        Some(Value::String(s)) => ("", s.clone()),
        Some(x) => ("", x.to_string()),
    }
}

/// The page of `poolsim compare`: the scenario, every mode side by side
/// (every [`CompareRow`] field), the assertion verdicts per mode (the file's
/// own mode, `file_mode`, highlighted: it decides the exit code) and `charts`
/// (the modes overlaid) inlined. Each mode's own report is linked as
/// `<mode>/report.html`.
pub fn render_compare_html(cmp: &CompareSummary, charts: &[ChartFile]) -> String {
    let mut o =
        String::with_capacity(64 * 1024 + charts.iter().map(|c| c.svg.len() + 512).sum::<usize>());
    head(&mut o, &format!("{}: modes compared", cmp.scenario));
    let modes: Vec<&str> = cmp.modes.iter().map(|m| m.mode).collect();
    let own = |m: &str| cmp.file_mode == Some(m);
    let _ = writeln!(
        o,
        "<p>scenario “{}”, {}, {} s simulated, requests counted from {} s; every mode runs the same requests (arrivals and holds).</p>",
        escape(&cmp.scenario),
        match &cmp.replications {
            Some(r) => format!(
                "{} seeds ({}; the tables of one run and the overlaid charts are seed {}'s)",
                r.seeds.len(),
                escape(&super::text::seeds_text(&r.seeds)),
                cmp.seed
            ),
            None => format!("seed {}", cmp.seed),
        },
        num(cmp.duration_s),
        num(cmp.measure_after_s)
    );
    let _ = writeln!(
        o,
        "<p>{}</p>",
        match cmp.file_mode {
            Some(m) => format!(
                "The file's own mode is <b>{}</b> (highlighted): its assertions decide the verdict.",
                escape(m)
            ),
            None => "The file's pools use different modes: no mode decides the verdict.".into(),
        }
    );
    // The verdict: the file's own mode's assertions.
    let gating: Vec<&AssertionResult> = cmp
        .file_mode
        .and_then(|m| cmp.assertions.get(m))
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let failed = gating.iter().filter(|a| !a.passed).count();
    let over_seeds = |m: &str| {
        let r = cmp.replications.as_ref()?;
        let v = r.assertions.get(m)?;
        let bad = v.iter().filter(|a| !a.passed).count();
        Some(if v.is_empty() {
            ("none", format!("{m}: no assertions"))
        } else if bad == 0 {
            (
                "pass",
                format!(
                    "{m}: PASS over {} seeds: all {} assertions hold",
                    r.seeds.len(),
                    v.len()
                ),
            )
        } else {
            (
                "fail",
                format!(
                    "{m}: FAIL over {} seeds: {bad} of {} assertions failed",
                    r.seeds.len(),
                    v.len()
                ),
            )
        })
    };
    let (cls, text) = match (cmp.file_mode, gating.len()) {
        (None, _) => ("none", "no file mode: see each mode's verdicts".to_string()),
        (Some(m), _) if cmp.replications.is_some() => {
            over_seeds(m).unwrap_or(("none", format!("{m}: not run")))
        }
        (Some(m), 0) => ("none", format!("{m}: no assertions")),
        (Some(m), n) if failed == 0 => ("pass", format!("{m}: PASS: all {n} assertions hold")),
        (Some(m), n) => (
            "fail",
            format!("{m}: FAIL: {failed} of {n} assertions failed"),
        ),
    };
    let _ = writeln!(o, "<div class=\"verdict {cls}\">{}</div>", escape(&text));
    o.push_str("<p>Each mode's full report: ");
    for (i, m) in modes.iter().enumerate() {
        let _ = write!(
            o,
            "{}<a href=\"{}/report.html\">{}</a>",
            if i > 0 { ", " } else { "" },
            escape(m),
            escape(m)
        );
    }
    o.push_str("</p>\n");
    nav(&mut o, charts);
    o.push_str("</header>\n<main>\n");

    // The modes side by side.
    o.push_str("<h2>Modes side by side</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">figure</th>");
    for m in &modes {
        let c = if own(m) { " class=\"own\"" } else { "" };
        let _ = write!(
            o,
            "<th{c}>{}{}</th>",
            escape(m),
            if own(m) { " (file)" } else { "" }
        );
    }
    o.push_str("</tr>\n");
    let cells: Vec<_> = cmp.modes.iter().map(compare_cells).collect();
    let mut keys: Vec<(String, &str)> = COMPARE_ROWS
        .iter()
        .filter(|(k, _)| cells.iter().any(|c| c.contains_key(*k)))
        .map(|(k, d)| (k.to_string(), *d))
        .collect();
    let mut rest: Vec<&String> = cells
        .iter()
        .flat_map(|c| c.keys())
        .filter(|k| k.as_str() != "mode" && !COMPARE_ROWS.iter().any(|(r, _)| r == k))
        .collect();
    rest.sort();
    rest.dedup();
    keys.extend(rest.into_iter().map(|k| (k.clone(), "")));
    for (k, desc) in &keys {
        let _ = write!(
            o,
            "<tr><td class=\"l k\"><code>{}</code>{}</td>",
            escape(k),
            if desc.is_empty() {
                String::new()
            } else {
                format!("<span>{}</span>", escape(desc))
            }
        );
        for (m, c) in modes.iter().zip(&cells) {
            let (cls, text) = compare_cell(k, c.get(k));
            let mut classes: Vec<&str> = Vec::new();
            if !cls.is_empty() {
                classes.push(cls);
            }
            if own(m) {
                classes.push("own");
            }
            if classes.is_empty() {
                let _ = write!(o, "<td>{}</td>", escape(&text));
            } else {
                let _ = write!(
                    o,
                    "<td class=\"{}\">{}</td>",
                    classes.join(" "),
                    escape(&text)
                );
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n");

    // Assertions per mode.
    o.push_str("\n<h2>Assertions per mode</h2>\n");
    let any = cmp.assertions.values().any(|v| !v.is_empty());
    if !any {
        o.push_str("<p>This scenario has no assertions.</p>\n");
    } else {
        o.push_str("<ul>\n");
        for m in &modes {
            let list = cmp.assertions.get(m).map_or(&[][..], |v| v.as_slice());
            let bad = list.iter().filter(|a| !a.passed).count();
            let _ = writeln!(
                o,
                "<li{}><b>{}</b>{}: {}</li>",
                if own(m) { " class=\"own\"" } else { "" },
                escape(m),
                if own(m) { " (the file's mode)" } else { "" },
                if list.is_empty() {
                    "no assertions".to_string()
                } else if bad == 0 {
                    format!("PASS, all {} hold", list.len())
                } else {
                    format!("FAIL, {bad} of {} failed", list.len())
                }
            );
        }
        o.push_str("</ul>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">mode</th><th class=\"l\">verdict</th><th class=\"l\">assertion</th><th class=\"l\">pool</th><th>observed</th><th>threshold</th><th class=\"l\">unit</th><th class=\"l\">detail</th></tr>\n");
        for m in &modes {
            if let Some(list) = cmp.assertions.get(m) {
                assertion_rows(&mut o, Some(m), list, own(m));
            }
        }
        o.push_str("</table></div>\n");
    }

    let (seed_charts, overlaid): (Vec<ChartFile>, Vec<ChartFile>) = charts
        .iter()
        .cloned()
        .partition(|c| REPLICATION_CHARTS.contains(&c.stem.as_str()));
    if let Some(r) = &cmp.replications {
        replications_section(&mut o, cmp, r, &seed_charts);
    }
    o.push_str(&format!(
        "\n<h2>Charts (modes overlaid{})</h2>\n",
        if cmp.replications.is_some() {
            format!(", seed {}", cmp.seed)
        } else {
            String::new()
        }
    ));
    figures(&mut o, &overlaid);
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// The stems of the charts of `compare --seeds` (drawn in their own section).
const REPLICATION_CHARTS: [&str; 2] = ["intervals", "paired-differences"];

/// `mean ± half-width` in a table cell.
fn interval_html(i: Option<&crate::stats::Interval>, percent: bool) -> String {
    let k = if percent { 100.0 } else { 1.0 };
    match i {
        None => "n/a".into(),
        Some(i) => format!(
            "{}{} ± {}",
            num(i.mean * k),
            if percent { "%" } else { "" },
            num(i.half_width * k)
        ),
    }
}

/// The section of `compare --seeds`: the table of intervals, the paired
/// differences, the verdicts over the seeds and the error-bar charts.
fn replications_section(
    o: &mut String,
    cmp: &CompareSummary,
    r: &crate::compare::seeds::Replications,
    charts: &[ChartFile],
) {
    use crate::compare::seeds::{applies, FIGURES};
    let n = r.seeds.len();
    let conf = num(r.confidence * 100.0);
    let modes: Vec<&str> = cmp.modes.iter().map(|m| m.mode).collect();
    let label = |key: &str| match FIGURES.iter().find(|f| f.key == key) {
        Some(f) if !f.unit.is_empty() => format!("{} ({})", f.label, f.unit),
        Some(f) => f.label.to_string(),
        None => key.to_string(),
    };
    let _ = writeln!(
        o,
        "\n<h2>Across {n} seeds ({})</h2>\n<p>Mean over the seeds ± half-width of its {conf}% interval. Means and counts: {}. Percentiles and the maximum: {}.</p>",
        escape(&super::text::seeds_text(&r.seeds)),
        escape(crate::stats::MEAN_METHOD),
        escape(crate::stats::PERCENTILE_METHOD)
    );
    o.push_str("<div class=\"scroll\"><table>\n<tr><th class=\"l\">figure</th>");
    for m in &modes {
        let own = cmp.file_mode == Some(*m);
        let _ = write!(
            o,
            "<th{}>{}{}</th>",
            if own { " class=\"own\"" } else { "" },
            escape(m),
            if own { " (file)" } else { "" }
        );
    }
    o.push_str("</tr>\n");
    for f in &r.figures {
        let _ = write!(
            o,
            "<tr><td class=\"l k\"><code>{}</code><span>{}</span></td>",
            escape(f.key),
            escape(&label(f.key))
        );
        for m in &modes {
            let text = if applies(f.key, m) {
                interval_html(
                    f.modes.get(m).and_then(|x| x.interval.as_ref()),
                    f.key == "hit_ratio",
                )
            } else {
                "-".into()
            };
            let cls = if cmp.file_mode == Some(*m) {
                " class=\"own nw\""
            } else {
                " class=\"nw\""
            };
            let _ = write!(o, "<td{cls}>{}</td>", escape(&text));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n");
    let _ = writeln!(
        o,
        "<h3>Paired differences (same requests)</h3>\n<p>{}. A difference is shown when its {conf}% interval excludes 0.</p>",
        escape(crate::stats::PAIRED_METHOD)
    );
    o.push_str("<div class=\"scroll\"><table>\n<tr><th class=\"l\">figure</th><th class=\"l\">pair</th><th>mean difference</th><th>paired interval</th><th>unpaired ± (Welch)</th><th class=\"l\">verdict</th></tr>\n");
    for f in &r.figures {
        for p in &f.paired {
            if !applies(f.key, p.a) || !applies(f.key, p.b) {
                continue;
            }
            let k = if f.key == "hit_ratio" { 100.0 } else { 1.0 };
            let (mean, iv, unpaired, verdict, cls) = match &p.difference {
                None => (
                    "n/a".into(),
                    "n/a".into(),
                    "n/a".into(),
                    "no interval".to_string(),
                    "",
                ),
                Some(d) => {
                    let i = &d.difference;
                    (
                        num(i.mean * k),
                        format!(
                            "{} .. {} (± {})",
                            num(i.lo * k),
                            num(i.hi * k),
                            num(i.half_width * k)
                        ),
                        d.unpaired_half_width.map_or("n/a".into(), |u| num(u * k)),
                        if d.excludes_zero {
                            format!("{} higher", if i.mean > 0.0 { p.a } else { p.b })
                        } else {
                            "no difference shown".to_string()
                        },
                        if d.excludes_zero { "fail" } else { "" },
                    )
                }
            };
            let _ = writeln!(
                o,
                "<tr><td class=\"l\">{}</td><td class=\"l nw\">{} − {}</td><td>{}</td><td class=\"nw\">{}</td><td>{}</td><td class=\"l {cls}\">{}</td></tr>",
                escape(&label(f.key)),
                escape(p.a),
                escape(p.b),
                escape(&mean),
                escape(&iv),
                escape(&unpaired),
                escape(&verdict)
            );
        }
    }
    o.push_str("</table></div>\n");
    let any = r.assertions.values().any(|v| !v.is_empty());
    if any {
        o.push_str("<h3>Assertions over the seeds</h3>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">mode</th><th class=\"l\">verdict</th><th class=\"l\">assertion</th><th>held in</th><th class=\"l\">confidence bound</th></tr>\n");
        for m in &modes {
            for v in r.assertions.get(m).map_or(&[][..], |v| v.as_slice()) {
                let _ = writeln!(
                    o,
                    "<tr{}><td class=\"l\">{}</td><td class=\"{}\">{}</td><td class=\"l\">{}</td><td>{} of {}</td><td class=\"l\">{}</td></tr>",
                    if cmp.file_mode == Some(*m) { " class=\"own\"" } else { "" },
                    escape(m),
                    if v.passed { "pass" } else { "fail" },
                    if v.passed { "PASS" } else { "FAIL" },
                    escape(&v.label),
                    v.passes,
                    v.seeds,
                    v.bound.as_ref().map_or("none (judged seed by seed)".into(), |b| escape(&b.detail))
                );
            }
        }
        o.push_str("</table></div>\n");
    }
    figures(o, charts);
}
