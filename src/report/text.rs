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
    let _ = writeln!(o, "{}\n", steady_state_line(&s.steady_state));
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

/// `x ± h (lo..hi)` with the figure's unit.
fn pm(e: &crate::stats::steady::BatchEstimate, percent: bool) -> String {
    if percent {
        format!(
            "{}% ± {} ({}%..{}%)",
            fmt_num(e.estimate * 100.0),
            fmt_num(e.half_width * 100.0),
            fmt_num(e.lo * 100.0),
            fmt_num(e.hi * 100.0)
        )
    } else {
        format!(
            "{} ms ± {} ({}..{})",
            fmt_num(e.estimate),
            fmt_num(e.half_width),
            fmt_num(e.lo),
            fmt_num(e.hi)
        )
    }
}

/// The run's steady-state line: the batch-means intervals, or why there are none.
pub fn steady_state_line(st: &crate::stats::steady::SteadyState) -> String {
    let mut o = match (st.from_s, st.batch_s) {
        (Some(from), Some((lo, hi))) => format!(
            "steady state from {} ({}% batch means, {} batches of {} s):",
            format_duration((from * 1e9).round() as u64),
            fmt_num(st.confidence * 100.0),
            st.batches,
            if lo == hi {
                fmt_num(lo)
            } else {
                format!("{}..{}", fmt_num(lo), fmt_num(hi))
            }
        ),
        _ => "steady state:".to_string(),
    };
    let mut parts = Vec::new();
    if let Some(e) = &st.mean_wait_ms {
        parts.push(format!("mean wait {}", pm(e, false)));
    }
    if let Some(e) = &st.hit_ratio {
        parts.push(format!("hit ratio {}", pm(e, true)));
    }
    if !parts.is_empty() {
        let _ = write!(o, " {}", parts.join("; "));
    }
    for n in &st.notes {
        let _ = write!(o, "\n  note: {n}");
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

/// The printed comparison: one column per mode (with `--seeds`: the
/// intervals across seeds and the paired differences, [`render_replications`]).
pub fn render_compare(c: &crate::compare::CompareSummary, out_dir: Option<&str>) -> String {
    use crate::compare::CompareRow;
    if let Some(r) = &c.replications {
        return render_replications(c, r, out_dir);
    }
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

/// Seeds in few characters: `1..20`, `1, 5, 9`, `1..4, 9`.
pub fn seeds_text(seeds: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j] + 1 {
            j += 1;
        }
        parts.push(if j > i + 1 {
            format!("{}..{}", seeds[i], seeds[j])
        } else if j == i + 1 {
            format!("{}, {}", seeds[i], seeds[j])
        } else {
            seeds[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// A verdict over seeds as one line: the bound for an assertion with
/// `confidence`, the seeds it held in and its worst value.
pub fn seeds_verdict_line(v: &crate::assertions::SeedsVerdict) -> String {
    let label = &v.label;
    let verdict = if v.passed { "PASS" } else { "FAIL" };
    let held = format!("held in {} of {} seeds", v.passes, v.seeds);
    let worst = match v.worst {
        None => String::new(),
        Some((seed, None)) => format!("; nothing to measure (seed {seed})"),
        Some((seed, Some(x))) => {
            let upper = v.comparison != ">=";
            let holds = (upper && x <= v.threshold) || (!upper && x >= v.threshold);
            format!(
                "; worst {} (seed {seed}) {} {}{}",
                fmt_num(x),
                if holds {
                    v.comparison
                } else if upper {
                    ">"
                } else {
                    "<"
                },
                fmt_num(v.threshold),
                if v.unit == "ms" || v.unit == "s" {
                    format!(" {}", v.unit)
                } else {
                    String::new()
                }
            )
        }
    };
    let body = match &v.bound {
        Some(b) => format!("{}; {held}{worst}", b.detail),
        None => format!("{held}{worst}"),
    };
    format!("  {verdict}  {label:<34} {body}")
}

/// The printed result of `poolsim run --seeds`: each seed's verdicts, then
/// each assertion over the seeds (with its confidence bound when it has one).
pub fn render_seeds(
    sc: &crate::scenario::Scenario,
    threads: usize,
    per_seed: &[(u64, Vec<AssertionResult>)],
    verdicts: &[crate::assertions::SeedsVerdict],
) -> String {
    let mut o = String::new();
    let seeds: Vec<u64> = per_seed.iter().map(|s| s.0).collect();
    let _ = writeln!(
        o,
        "{}: {} ({}) x {} simulated, on {}\n",
        sc.name,
        plural(seeds.len(), "seed"),
        seeds_text(&seeds),
        format_duration(sc.world.duration),
        plural(threads.min(seeds.len().max(1)), "thread")
    );
    let labels: Vec<String> = sc
        .assertions
        .iter()
        .map(|d| crate::assertions::label(d, d.pool.map(|p| sc.world.pools[p].name.as_str())))
        .collect();
    if labels.is_empty() {
        let _ = writeln!(o, "no assertions: nothing to judge over the seeds");
        return o;
    }
    let widths: Vec<usize> = labels.iter().map(|l| l.len().max(10)).collect();
    let mut head = format!("  {:>6}  {:<7}", "seed", "verdict");
    for (l, w) in labels.iter().zip(&widths) {
        let _ = write!(head, "  {l:<w$}");
    }
    let _ = writeln!(o, "{}", head.trim_end());
    for (seed, results) in per_seed {
        let all = results.iter().all(|r| r.passed);
        let mut line = format!("  {seed:>6}  {:<7}", if all { "PASS" } else { "FAIL" });
        for (r, w) in results.iter().zip(&widths) {
            let cell = format!(
                "{}{}{}",
                if r.passed { "" } else { "!" },
                r.observed.map_or("n/a".into(), fmt_num),
                if r.unit == "ms" || r.unit == "s" {
                    format!(" {}", r.unit)
                } else {
                    String::new()
                }
            );
            let _ = write!(line, "  {cell:<w$}");
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let _ = writeln!(
        o,
        "  (! marks a seed in which the assertion did not hold)\n\nassertions over {}: {} passed, {} failed",
        plural(seeds.len(), "seed"),
        verdicts.len() - failed,
        failed
    );
    for v in verdicts {
        let _ = writeln!(o, "{}", seeds_verdict_line(v));
    }
    o
}

/// `mean ± half-width` of an interval (`n/a` without one).
fn interval_cell(i: Option<&crate::stats::Interval>, percent: bool) -> String {
    match i {
        None => "n/a".into(),
        Some(i) if percent => format!(
            "{}% ± {}",
            fmt_num(i.mean * 100.0),
            fmt_num(i.half_width * 100.0)
        ),
        Some(i) => format!("{} ± {}", fmt_num(i.mean), fmt_num(i.half_width)),
    }
}

/// The printed result of `compare --seeds`: per figure and mode the mean
/// and its interval across seeds, per pair of modes the paired differences,
/// and each mode's assertions judged over the seeds.
pub fn render_replications(
    c: &crate::compare::CompareSummary,
    r: &crate::compare::seeds::Replications,
    out_dir: Option<&str>,
) -> String {
    use crate::compare::seeds::{applies, Method, FIGURES};
    let mut o = String::new();
    let n = r.seeds.len();
    let _ = writeln!(
        o,
        "{}: compared on identical requests over {} ({}), {} simulated each{}\n",
        c.scenario,
        plural(n, "seed"),
        seeds_text(&r.seeds),
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
    let conf = fmt_num(r.confidence * 100.0);
    let _ = writeln!(
        o,
        "mean over the seeds ± half-width of its {conf}% interval (Student t, {} df):",
        n.saturating_sub(1)
    );
    let modes: Vec<&str> = c.modes.iter().map(|m| m.mode).collect();
    let label_of = |key: &str| {
        let f = FIGURES.iter().find(|f| f.key == key);
        match f {
            Some(f) if !f.unit.is_empty() => format!("{} ({})", f.label, f.unit),
            Some(f) => f.label.to_string(),
            None => key.to_string(),
        }
    };
    let mut header = format!("  {:<22}", "");
    for m in &modes {
        let name = if c.file_mode == Some(*m) {
            format!("{m}*")
        } else {
            m.to_string()
        };
        let _ = write!(header, "{name:>22}");
    }
    let _ = writeln!(o, "{}", header.trim_end());
    for f in &r.figures {
        let percent = f.key == "hit_ratio";
        let mut line = format!("  {:<22}", label_of(f.key));
        for m in &modes {
            let cell = if !applies(f.key, m) {
                "-".to_string()
            } else {
                interval_cell(f.modes.get(m).and_then(|x| x.interval.as_ref()), percent)
            };
            let _ = write!(line, "{cell:>22}");
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    let percentiles: Vec<String> = r
        .figures
        .iter()
        .filter(|f| f.method == Method::Percentile)
        .map(|f| label_of(f.key))
        .collect();
    let _ = writeln!(
        o,
        "\n  * the mode the file selects.\n  {}: the mean of the {n} per-seed values (each seed's from its own wait histogram over all pools), i.e. the expected value for one run of this length, not the percentile of all seeds' requests pooled.",
        percentiles.join(", ")
    );
    // Paired differences, one block per pair.
    let pairs: Vec<(&str, &str)> = r
        .figures
        .first()
        .map(|f| f.paired.iter().map(|p| (p.a, p.b)).collect())
        .unwrap_or_default();
    for (a, b) in pairs {
        let _ = writeln!(
            o,
            "\npaired differences {a} - {b} (per seed, on the same requests; {conf}% interval; \"differs\": the interval excludes 0):"
        );
        for f in &r.figures {
            if !applies(f.key, a) || !applies(f.key, b) {
                continue;
            }
            let Some(p) = f.paired.iter().find(|p| p.a == a && p.b == b) else {
                continue;
            };
            let percent = f.key == "hit_ratio";
            let scale = if percent { 100.0 } else { 1.0 };
            let unit = if percent { " pts" } else { "" };
            let text = match &p.difference {
                None => "n/a".to_string(),
                Some(d) => {
                    let i = &d.difference;
                    format!(
                        "{:>12} ± {:<10} [{} .. {}]{}{}",
                        format!("{}{unit}", signed(i.mean * scale)),
                        fmt_num(i.half_width * scale),
                        fmt_num(i.lo * scale),
                        fmt_num(i.hi * scale),
                        if d.excludes_zero {
                            format!(
                                "  differs: {} {}",
                                if i.mean > 0.0 { a } else { b },
                                "higher"
                            )
                        } else {
                            "  no difference shown".into()
                        },
                        d.unpaired_half_width
                            .filter(|&u| u > 0.0)
                            .map(|u| format!("  (unpaired ± {})", fmt_num(u * scale)))
                            .unwrap_or_default()
                    )
                }
            };
            let _ = writeln!(o, "  {:<22}{text}", label_of(f.key));
        }
    }
    // Assertions over the seeds.
    for m in &modes {
        let Some(list) = r.assertions.get(m) else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "\nassertions in mode {m} over {}: {}",
            plural(n, "seed"),
            if r.passed.get(m).copied().unwrap_or(false) {
                "pass"
            } else {
                "FAIL"
            }
        );
        for v in list {
            let _ = writeln!(o, "{}", seeds_verdict_line(v));
        }
    }
    if let Some(d) = out_dir {
        let _ = writeln!(
            o,
            "\nreports written to {d} (compare.json holds every seed's values; the per-mode reports and the overlaid charts are seed {}'s)",
            c.seed
        );
    }
    o
}

/// A number with its sign: `+1.5`, `-0.25`, `0`.
fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", fmt_num(x))
    } else {
        fmt_num(x)
    }
}
