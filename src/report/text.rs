//! The printed summary: a table per pool and each assertion as PASS/FAIL.

use crate::assertions::AssertionResult;
use crate::engine::time::format_duration;
use crate::report::Summary;
use std::fmt::Write;

/// A number for people: integers without decimals, others with up to 4
/// (1 from 100 up). Shared by the printed summary and report.html.
pub(crate) fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
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
        "seed {}, {} simulated, {} events\n",
        s.seed,
        format_duration((s.duration_s * 1e9).round() as u64),
        s.events_processed
    );
    for p in &s.pools {
        let _ = writeln!(
            o,
            "pool {}  (target_ready {}, low_watermark {}, serving from {})",
            p.name,
            p.target_ready,
            p.low_watermark,
            match p.serving_since_s {
                Some(t) if p.initial_fill_timed_out =>
                    format!("{}s, initial fill TIMED OUT", fmt_num(t)),
                Some(t) => format!("{}s", fmt_num(t)),
                None => "never".into(),
            }
        );
        let ratio = p
            .hit_ratio
            .map_or("n/a".into(), |r| format!("{:.2}%", r * 100.0));
        let rows: Vec<(&str, String)> = vec![
            ("requests", p.requests.to_string()),
            ("  immediate hits", format!("{} ({ratio})", p.hits)),
            ("  hits after wait", p.hits_after_wait.to_string()),
            ("  failures", p.failures.to_string()),
            (
                "  refused before ready",
                p.rejected_before_ready.to_string(),
            ),
            ("empty events", p.empty_events.to_string()),
            (
                "checkout latency",
                format!(
                    "p50 {} ms, p99 {} ms, max {} ms",
                    fmt_num(p.checkout_latency_ms.p50),
                    fmt_num(p.checkout_latency_ms.p99),
                    fmt_num(p.checkout_latency_ms.max)
                ),
            ),
            ("connects", p.connects.to_string()),
            ("refills", p.refills.to_string()),
            ("limiter waits", p.limiter_waits.to_string()),
        ];
        for (k, v) in rows {
            let _ = writeln!(o, "  {k:<24}{v}");
        }
        let nonzero: Vec<String> = p
            .discards
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "  {:<24}{}",
            "discards",
            if nonzero.is_empty() {
                "none".into()
            } else {
                nonzero.join(", ")
            }
        );
        let fails: Vec<String> = p
            .refill_failures
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "  {:<24}{}\n",
            "refill failures",
            if fails.is_empty() {
                "none".into()
            } else {
                fails.join(", ")
            }
        );
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
