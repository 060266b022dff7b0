//! Writing a run's reports into a directory ([`write_all`]):
//!
//! ```text
//! <out>/summary.json      report::Summary
//! <out>/timeseries.csv    report::csv (one row per pool per sample)
//! <out>/cluster.csv       report::csv::cluster_csv (one row per sample)
//! <out>/metrics.prom      report::prom (OpenMetrics)
//! <out>/report.html       report::html (self-contained)
//! <out>/charts/<stem>.png and <stem>.svg   report::charts
//! ```
//!
//! and a comparison's ([`write_compare`]):
//!
//! ```text
//! <out>/compare.json      compare::CompareSummary
//! <out>/report.html       report::html::render_compare_html
//! <out>/charts/           every standard chart, the modes overlaid
//! <out>/<mode>/           each mode's run, as write_all writes it
//! ```

use crate::compare::Comparison;
use crate::report::charts::{self, ChartFile, Decor, Run};
use crate::report::{csv, html, prom};
use crate::run::RunOutput;
use crate::scenario::Scenario;
use anyhow::Context;
use std::path::Path;

fn write(path: &Path, body: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))
}

/// Write rendered charts as `<dir>/<stem>.png` and `<dir>/<stem>.svg`, after
/// removing the `.png` and `.svg` files a previous run left in `dir`.
pub fn write_charts(dir: &Path, files: &[ChartFile]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        let ours = matches!(p.extension().and_then(|x| x.to_str()), Some("png" | "svg"));
        if ours && p.is_file() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    for f in files {
        write(&dir.join(format!("{}.png", f.stem)), &f.png)?;
        write(&dir.join(format!("{}.svg", f.stem)), f.svg.as_bytes())?;
    }
    Ok(())
}

/// What a run's charts draw besides the data: the scenario's connect-rate
/// limits, its assertions' thresholds with their verdicts, and the span
/// before `measure_after` (no event marks yet: the model has no fault
/// timeline; one would pass its instants here).
pub fn run_decor(sc: &Scenario, o: &RunOutput) -> Decor {
    let names: Vec<&str> = sc.world.pools.iter().map(|p| p.name.as_str()).collect();
    Decor {
        limits: charts::connect_limits(&sc.world),
        thresholds: charts::thresholds(&sc.assertions, &names, &[("run", &o.assertions)]),
        measure_after_s: sc.world.measure_after as f64 / 1e9,
        events: Vec::new(),
    }
}

/// The standard charts of a scenario's run, rendered.
pub fn run_chart_files(sc: &Scenario, o: &RunOutput) -> anyhow::Result<Vec<ChartFile>> {
    let runs: [Run; 1] = [("run", &o.observations)];
    let specs = charts::run_charts(&runs, &run_decor(sc, o));
    charts::render_all(&specs)
}

/// What a comparison's charts draw besides the data: as [`run_decor`], each
/// threshold with every mode's verdict.
pub fn compare_decor(cmp: &Comparison) -> Decor {
    let Some(first) = cmp.modes.first() else {
        return Decor::default();
    };
    let sc = &first.scenario;
    let names: Vec<&str> = sc.world.pools.iter().map(|p| p.name.as_str()).collect();
    let verdicts: Vec<(&str, &[crate::assertions::AssertionResult])> = cmp
        .modes
        .iter()
        .map(|m| (m.stack.name(), m.output.assertions.as_slice()))
        .collect();
    Decor {
        limits: charts::connect_limits(&sc.world),
        thresholds: charts::thresholds(&sc.assertions, &names, &verdicts),
        measure_after_s: sc.world.measure_after as f64 / 1e9,
        events: Vec::new(),
    }
}

/// The standard charts of a comparison, every mode overlaid on one axis
/// (labelled by mode name, one colour per mode), rendered.
pub fn compare_chart_files(cmp: &Comparison) -> anyhow::Result<Vec<ChartFile>> {
    let runs: Vec<Run> = cmp
        .modes
        .iter()
        .map(|m| (m.stack.name(), &m.output.observations))
        .collect();
    charts::render_all(&charts::run_charts(&runs, &compare_decor(cmp)))
}

/// Write a comparison into `out` (created if missing): `compare.json`, each
/// mode's full reports in `<out>/<mode>/`, the overlaid charts in
/// `<out>/charts/` and `<out>/report.html`.
pub fn write_compare(out: &Path, cmp: &Comparison) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write(&out.join("compare.json"), cmp.summary.to_json().as_bytes())?;
    for m in &cmp.modes {
        write_all(&out.join(m.stack.name()), &m.scenario, &m.output)?;
    }
    let files = compare_chart_files(cmp)?;
    write_charts(&out.join("charts"), &files)?;
    write(
        &out.join("report.html"),
        html::render_compare_html(&cmp.summary, &files).as_bytes(),
    )?;
    Ok(())
}

/// Write every report of a run into `out` (created if missing).
pub fn write_all(out: &Path, sc: &Scenario, o: &RunOutput) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write(&out.join("summary.json"), o.summary.to_json().as_bytes())?;
    write(
        &out.join("timeseries.csv"),
        csv::timeseries_csv(&o.observations, sc.start_unix_ns).as_bytes(),
    )?;
    write(
        &out.join("cluster.csv"),
        csv::cluster_csv(&o.observations, sc.start_unix_ns).as_bytes(),
    )?;
    write(
        &out.join("metrics.prom"),
        prom::openmetrics(&o.observations, sc.start_unix_ns, &prom::RunLabels::of(sc)).as_bytes(),
    )?;
    let files = run_chart_files(sc, o)?;
    write_charts(&out.join("charts"), &files)?;
    write(
        &out.join("report.html"),
        html::render_run_html(&o.summary, &files).as_bytes(),
    )?;
    Ok(())
}
