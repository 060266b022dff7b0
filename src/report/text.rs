//! The printed summary: a table per pool and each assertion as PASS/FAIL.

use crate::assertions::AssertionResult;
use crate::engine::time::format_duration;
use crate::report::Summary;
use std::fmt::Write;

/// A number for people, by one rule everywhere (the printed summary, the
/// comparison table, report.html): a whole number in full; any other to 4
/// significant digits (at most 6 decimals), trailing zeros trimmed: 113.4,
/// 65.05, 0.6687, 3798.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// A ratio as a percentage by the same rule: "100%", "99.87%" ("n/a" for none).
pub fn fmt_percent(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{}%", fmt_num(r * 100.0)))
}

/// "1 pool", "3 pools".
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// What `measure_after` leaves out, in words, for the run header.
pub fn measure_after_text(measure_after_s: f64) -> String {
    if measure_after_s > 0.0 {
        format!(
            "measured after {}: requests that arrived before it are left out of every request figure and assertion, and the other counters count from it",
            format_duration((measure_after_s * 1e9).round() as u64)
        )
    } else {
        "measured from the start (measure_after 0: nothing left out)".to_string()
    }
}

/// One assertion as a line: `PASS  type (pool)  observed X <= threshold Y unit`.
pub fn assertion_line(a: &AssertionResult) -> String {
    let verdict = if a.passed { "PASS" } else { "FAIL" };
    let name = match &a.pool {
        Some(p) => format!("{} [{}]", a.type_name, p),
        None => a.type_name.to_string(),
    };
    let observed = a.observed.map_or("n/a".to_string(), fmt_num);
    format!(
        "  {verdict}  {name:<34} observed {observed} {} {} {}  ({})",
        a.comparison,
        fmt_num(a.threshold),
        a.unit,
        a.detail
    )
}

/// The whole printed summary.
pub fn render(s: &Summary, out_dir: Option<&str>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", s.scenario);
    if !s.description.is_empty() {
        let _ = writeln!(o, "{}", s.description);
    }
    let _ = writeln!(
        o,
        "seed {}, {} simulated, {}, {} events",
        s.seed,
        format_duration((s.duration_s * 1e9).round() as u64),
        plural(s.pools.len(), "pool"),
        s.events_processed
    );
    let _ = writeln!(o, "{}", measure_after_text(s.measure_after_s));
    for w in &s.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let _ = writeln!(o);
    for p in &s.pools {
        let reservoir = p.stack != "pool";
        let serving = match p.serving_since_s {
            Some(t) if p.initial_fill_timed_out => {
                format!("{}s, initial fill TIMED OUT", fmt_num(t))
            }
            Some(t) => format!("{}s", fmt_num(t)),
            None => "never".into(),
        };
        let head = match p.stack {
            "direct" => format!(
                "reservoir (direct): target_ready {}, low_watermark {}",
                p.target_ready, p.low_watermark
            ),
            "database_sql" => format!(
                "database/sql on the reservoir: MaxOpen {}, target_ready {}, low_watermark {}",
                p.target_size, p.target_ready, p.low_watermark
            ),
            _ => format!("plain pool: MaxOpen {}", p.target_size),
        };
        let _ = writeln!(o, "pool {}  ({head}; serving from {serving})", p.name);
        let ratio = fmt_percent(p.hit_ratio);
        let lat = |l: &crate::metrics::LatencyMs| {
            format!(
                "p50 {} ms, p99 {} ms, max {} ms",
                fmt_num(l.p50),
                fmt_num(l.p99),
                fmt_num(l.max)
            )
        };
        let mut rows: Vec<(&str, String)> = vec![
            ("requests", p.requests.to_string()),
            ("  served at once", format!("{} ({ratio})", p.hits)),
            ("  served after a wait", p.hits_after_wait.to_string()),
            (
                "  failures",
                if p.failures == 0 {
                    "0".to_string()
                } else {
                    format!("{} ({})", p.failures, nonzero(&p.failures_by_cause))
                },
            ),
            (
                "  refused before ready",
                p.rejected_before_ready.to_string(),
            ),
            ("waited", p.waited.to_string()),
            ("wait", lat(&p.wait_ms)),
            ("wait + hold", lat(&p.request_latency_ms)),
            (
                "connections",
                format!(
                    "{} opened; open {} after warmup; peak {}",
                    p.opens,
                    match (p.open_min, p.open_max) {
                        (Some(a), Some(b)) if a == b => format!("{a}"),
                        (Some(a), Some(b)) => format!("{a}..{b}"),
                        _ => "n/a".into(),
                    },
                    p.open_peak
                ),
            ),
        ];
        if p.stack != "direct" {
            rows.push(("database/sql closes", nonzero(&p.closes)));
        }
        if p.server_closed > 0 || p.bad_conns > 0 {
            rows.push((
                "closed by the server",
                format!(
                    "{} (60-min limit); {} bad uses",
                    p.server_closed, p.bad_conns
                ),
            ));
        }
        if reservoir {
            rows.push(("empty events", p.empty_events.to_string()));
            rows.push(("refills", p.refills.to_string()));
            rows.push(("discards", nonzero(&p.discards)));
            rows.push(("refill failures", nonzero(&p.refill_failures)));
        } else {
            rows.push(("open failures", nonzero(&p.refill_failures)));
        }
        rows.push(("connects", p.connects.to_string()));
        rows.push(("limiter waits", p.limiter_waits.to_string()));
        for (k, v) in rows {
            let _ = writeln!(o, "  {k:<24}{v}");
        }
        let _ = writeln!(o);
    }
    let c = &s.cluster;
    let _ = writeln!(
        o,
        "cluster: peak {} connects/s, peak {} connections, {} connects ({} refused for rate, {} at the connection limit)\n",
        c.max_connects_per_sec, c.peak_connections, c.connects, c.refused_rate_limit, c.refused_max_connections
    );
    if s.assertions.is_empty() {
        let _ = writeln!(o, "no assertions");
    } else {
        let failed = s.assertions.iter().filter(|a| !a.passed).count();
        let _ = writeln!(
            o,
            "assertions: {} passed, {} failed",
            s.assertions.len() - failed,
            failed
        );
        for a in &s.assertions {
            let _ = writeln!(o, "{}", assertion_line(a));
        }
    }
    if let Some(d) = out_dir {
        let _ = writeln!(o, "\nreports written to {d}");
    }
    o
}

/// The non-zero entries of a count map, `a 1, b 2`, or `none`. Shared by the
/// printed summary and report.html.
pub(crate) fn nonzero(m: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let parts: Vec<String> = m
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The printed comparison: one column per mode.
pub fn render_compare(c: &crate::compare::CompareSummary, out_dir: Option<&str>) -> String {
    use crate::compare::CompareRow;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: compared on identical requests (seed {}, {} simulated{})\n",
        c.scenario,
        c.seed,
        format_duration((c.duration_s * 1e9).round() as u64),
        if c.measure_after_s > 0.0 {
            format!(
                ", measured after {}",
                format_duration((c.measure_after_s * 1e9).round() as u64)
            )
        } else {
            String::new()
        }
    );
    let opt = |x: Option<u32>| x.map_or("n/a".to_string(), |v| v.to_string());
    type Cell = fn(&CompareRow) -> String;
    let lines: Vec<(&str, Cell)> = vec![
        ("requests", |r| r.requests.to_string()),
        ("hit ratio", |r| r.hit_ratio.map_or("n/a".into(), fmt_num)),
        ("empty events", |r| {
            if r.mode == "pool" {
                "-".into()
            } else {
                r.empty_events.to_string()
            }
        }),
        ("waited", |r| r.waited.to_string()),
        ("wait p50 (ms)", |r| fmt_num(r.wait_ms.p50)),
        ("wait p99 (ms)", |r| fmt_num(r.wait_ms.p99)),
        ("wait max (ms)", |r| fmt_num(r.wait_ms.max)),
        ("request failures", |r| r.failures.to_string()),
        ("peak connects/s", |r| r.peak_connects_per_sec.to_string()),
        ("connects", |r| r.connects.to_string()),
        ("opens", |r| r.opens.to_string()),
        ("churn discards", |r| {
            if r.mode == "pool" {
                "-".into()
            } else {
                r.churn_discards.to_string()
            }
        }),
        ("database/sql closes", |r| {
            if r.mode == "direct" {
                "-".into()
            } else {
                r.closes.to_string()
            }
        }),
        ("physical min..max", |_| String::new()),
        ("physical peak", |r| r.physical_peak.to_string()),
        ("assertions", |r| {
            if r.passed {
                "pass".into()
            } else {
                "FAIL".into()
            }
        }),
    ];
    let mut header = format!("  {:<22}", "");
    for r in &c.modes {
        let name = if c.file_mode == Some(r.mode) {
            format!("{}*", r.mode)
        } else {
            r.mode.to_string()
        };
        let _ = write!(header, "{name:>14}");
    }
    let _ = writeln!(o, "{}", header.trim_end());
    for (label, cell) in lines {
        let mut line = format!("  {label:<22}");
        for r in &c.modes {
            let v = if label == "physical min..max" {
                format!("{}..{}", opt(r.physical_min), opt(r.physical_max))
            } else {
                cell(r)
            };
            let _ = write!(line, "{v:>14}");
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    let _ = writeln!(
        o,
        "\n  * the mode the file selects; its assertions decide the exit code.\n  physical: connections open on the cluster, sampled once every pool serves; peak: exact."
    );
    for r in &c.modes {
        let Some(results) = c.assertions.get(r.mode) else {
            continue;
        };
        if results.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\nassertions in mode {}:", r.mode);
        for a in results {
            let _ = writeln!(o, "{}", assertion_line(a));
        }
    }
    if let Some(d) = out_dir {
        let _ = writeln!(o, "\nreports written to {d}");
    }
    o
}
