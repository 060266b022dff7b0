//! `report.html`: one self-contained page per run (or per comparison of runs)
//! that reads like a dashboard: the verdict, headline figures, the assertion
//! verdicts, the per-pool summary table and every chart (inline SVG) with a
//! caption saying what to read in it.
//!
//! No server, no network: no external CSS, scripts, fonts or images. The page
//! is a pure function of its inputs (deterministic bytes).

use crate::assertions::AssertionResult;
use crate::metrics::PoolSummary;
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
    r.map_or("n/a".into(), |r| format!("{:.2}%", r * 100.0))
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
        "checkout p99 (worst pool)",
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

fn assertion_rows(o: &mut String, run: Option<&str>, list: &[AssertionResult]) {
    for a in list {
        let _ = write!(o, "<tr>");
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

fn nonzero_map(m: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let v: Vec<String> = m
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn pool_row(o: &mut String, run: Option<&str>, p: &PoolSummary) {
    o.push_str("<tr>");
    if let Some(r) = run {
        let _ = write!(o, "<td class=\"l\">{}</td>", escape(r));
    }
    let serving = match p.serving_since_s {
        Some(t) if p.initial_fill_timed_out => format!("{} s (fill timed out)", num(t)),
        Some(t) => format!("{} s", num(t)),
        None => "never".into(),
    };
    let l = &p.checkout_latency_ms;
    let discards: u64 = p.discards.values().sum();
    let failures: u64 = p.refill_failures.values().sum();
    let _ = write!(
        o,
        "<td class=\"l nw\">{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
        escape(&p.name),
        p.target_ready,
        p.low_watermark,
        escape(&serving),
        p.requests,
        pct(p.hit_ratio),
        p.hits_after_wait,
        p.failures,
        p.empty_events,
        num(l.p50),
        num(l.p99),
        num(l.max),
        p.connects,
        p.refills,
        discards,
        escape(&nonzero_map(&p.discards)),
        failures,
        escape(&nonzero_map(&p.refill_failures)),
        p.limiter_waits,
    );
}

/// The HTML page of one run (`runs` has one element) or of several runs
/// compared (each labelled, e.g. by mode), with `charts` inlined in order.
pub fn render_html(title: &str, runs: &[(&str, &Summary)], charts: &[ChartFile]) -> String {
    let multi = runs.len() > 1;
    let mut o =
        String::with_capacity(64 * 1024 + charts.iter().map(|c| c.svg.len() + 512).sum::<usize>());
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{} - poolsim report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    let mut descriptions: Vec<&str> = runs.iter().map(|r| r.1.description.as_str()).collect();
    descriptions.dedup();
    for d in descriptions.iter().filter(|d| !d.is_empty()) {
        let _ = writeln!(o, "<p>{}</p>", escape(d));
    }
    for (label, s) in runs {
        let _ = writeln!(
            o,
            "<p>{}scenario “{}”, seed {}, {} s simulated, samples every {} s, {} events, {} pool(s)</p>",
            if multi { format!("<b>{}</b>: ", escape(label)) } else { String::new() },
            escape(&s.scenario),
            s.seed,
            num(s.duration_s),
            num(s.sample_every_s),
            s.events_processed,
            s.pools.len()
        );
    }
    let (cls, text) = verdict(runs);
    let _ = writeln!(o, "<div class=\"verdict {cls}\">{}</div>", escape(&text));
    o.push_str("<nav>");
    for c in charts {
        let _ = write!(
            o,
            "<a href=\"#{}\">{}</a>",
            escape(&chart_id(&c.stem)),
            escape(&c.title)
        );
    }
    o.push_str("</nav>\n</header>\n<main>\n");

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
            assertion_rows(&mut o, multi.then_some(*label), &s.assertions);
        }
        o.push_str("</table></div>\n");
    }

    o.push_str("\n<h2>Pools</h2>\n<div class=\"scroll\"><table>\n<tr>");
    if multi {
        o.push_str("<th class=\"l\">run</th>");
    }
    o.push_str("<th class=\"l\">pool</th><th>target / low watermark</th><th>serving from</th><th>requests</th><th>immediate hits</th><th>hits after wait</th><th>failures</th><th>empty events</th><th>checkout p50 / p99 / max (ms)</th><th>connects</th><th>refills</th><th>discards</th><th class=\"l\">by reason</th><th>refill failures</th><th class=\"l\">by reason</th><th>limiter waits</th></tr>\n");
    for (label, s) in runs {
        for p in &s.pools {
            pool_row(&mut o, multi.then_some(*label), p);
        }
    }
    o.push_str("</table></div>\n");

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
