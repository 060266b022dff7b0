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
//! <out>/charts/           every standard chart, the modes overlaid (with
//!                         --seeds also intervals and paired-differences)
//! <out>/<mode>/           each mode's run, as write_all writes it
//! ```
//!
//! **A report set is replaced whole, never written in place.** Every file is
//! written into a fresh hidden directory beside `<out>`
//! (`.<name>.poolsim-tmp-<pid>`); only when all of them are whole does that
//! directory take `<out>`'s place, in one atomic exchange of the two
//! directories where the system has one (Linux `renameat2`), else by two
//! renames. So a failed write (a full disk), an error or Ctrl-C leaves the
//! previous set exactly as it was, with no truncated file and no mix of old
//! and new files; outputs of an earlier run that this one does not write (a
//! `compare.json` under a `run`, modes not chosen this time) are gone with
//! the old set; a symlink inside `<out>` is removed with it, never followed.
//!
//! Because the whole directory is replaced, poolsim refuses (before running,
//! [`check_out_dir`]) an `<out>` that holds anything it does not write itself:
//! a user's file there would otherwise be deleted.

use crate::compare::Comparison;
use crate::report::charts::{self, ChartFile, Decor, Run};
use crate::report::{csv, html, prom};
use crate::run::RunOutput;
use crate::scenario::Scenario;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Files poolsim writes at the top of a run's directory.
pub const RUN_FILES: [&str; 5] = [
    "summary.json",
    "timeseries.csv",
    "cluster.csv",
    "metrics.prom",
    "report.html",
];
/// Files poolsim writes at the top of a comparison's directory (besides
/// `report.html`, `charts/` and one folder per mode).
pub const COMPARE_FILES: [&str; 1] = ["compare.json"];
/// The folders of the modes in a comparison's directory.
pub const MODE_DIRS: [&str; 3] = ["direct", "database_sql", "pool"];

/// The write stopped because the user asked it to (Ctrl-C); nothing of the
/// new set is visible.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// How reports are written: a flag that stops the write (set by Ctrl-C), and,
/// for tests, a simulated full disk.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// When set, the write stops before its next file and leaves nothing.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Fail like a full disk (`ENOSPC`) once this many bytes are written in
    /// all, part of a file included (tests).
    pub disk_full_after: Option<u64>,
}

/// The staging directory of one report set, removed unless committed.
struct Stage<'a> {
    out: PathBuf,
    tmp: PathBuf,
    committed: bool,
    opts: &'a WriteOptions,
    written: AtomicU64,
    check: fn(&Path) -> Result<(), String>,
}

impl Drop for Stage<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// The directory reports go to: `out` itself, or, when it exists, its
/// canonical path (a symlink to a directory is written where it points;
/// `.` and `..` become a name that can be swapped).
fn resolve_out(out: &Path) -> std::io::Result<PathBuf> {
    if is_symlink(out) || out.exists() {
        std::fs::canonicalize(out)
    } else {
        Ok(out.to_path_buf())
    }
}

fn foreign(dir: &Path, name: &str) -> String {
    format!(
        "{} holds '{name}', which poolsim did not write; poolsim replaces the whole directory with each run, so it will not write there: choose a new or empty --out, or move that file away",
        dir.display()
    )
}

/// Whether `dir` holds only a run's files (and, with `compare`, a
/// comparison's); `Err` names the first thing poolsim did not write.
fn check_report_dir(dir: &Path, compare: bool, top: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let link = is_symlink(&path);
        let is_dir = !link && path.is_dir();
        let ok = if RUN_FILES.contains(&name.as_str())
            || (compare && COMPARE_FILES.contains(&name.as_str()))
        {
            link || !is_dir
        } else if name == "charts" {
            link || (is_dir && check_charts(&path).is_ok())
        } else if compare && MODE_DIRS.contains(&name.as_str()) {
            link || (is_dir && check_report_dir(&path, false, top).is_ok())
        } else {
            false
        };
        if !ok {
            let shown = path
                .strip_prefix(top)
                .unwrap_or(&path)
                .display()
                .to_string();
            return Err(foreign(top, &shown));
        }
    }
    Ok(())
}

fn check_charts(dir: &Path) -> Result<(), ()> {
    for e in std::fs::read_dir(dir).map_err(|_| ())? {
        let p = e.map_err(|_| ())?.path();
        let chart = matches!(p.extension().and_then(|x| x.to_str()), Some("png" | "svg"));
        if !chart || (!is_symlink(&p) && p.is_dir()) {
            return Err(());
        }
    }
    Ok(())
}

/// Whether reports may be written to `out`: it does not exist, or it is a
/// directory (or a symlink to one) holding nothing but what poolsim writes
/// (a run's or a comparison's files), since the new set replaces it whole.
pub fn check_out_dir(out: &Path) -> Result<(), String> {
    let target = match resolve_out(out) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot resolve {}: {e}", out.display())),
    };
    match std::fs::metadata(&target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot read {}: {e}", out.display())),
        Ok(m) if !m.is_dir() => Err(format!(
            "{} is a file; poolsim writes a directory of reports there: choose another --out",
            out.display()
        )),
        Ok(_) => {
            if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
                if cwd.starts_with(&target) {
                    return Err(format!(
                        "{} is the current directory or holds it; poolsim replaces --out whole: choose a directory below it",
                        out.display()
                    ));
                }
            }
            check_report_dir(&target, true, &target)
        }
    }
}

/// Remove staging directories that earlier poolsim processes left beside
/// `out` (killed by a second Ctrl-C): those whose process is gone.
fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let proc_fs = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix) else {
            continue;
        };
        let alive = match pid.parse::<u32>() {
            Ok(p) if proc_fs => Path::new("/proc").join(p.to_string()).exists(),
            _ => true,
        };
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl<'a> Stage<'a> {
    fn new(out: &Path, opts: &'a WriteOptions) -> anyhow::Result<Stage<'a>> {
        Stage::open(out, opts, check_out_dir)
    }

    /// Stage a new set for `out`, after `check` allowed replacing it.
    fn open(
        out: &Path,
        opts: &'a WriteOptions,
        check: fn(&Path) -> Result<(), String>,
    ) -> anyhow::Result<Stage<'a>> {
        check(out).map_err(anyhow::Error::msg)?;
        let out = resolve_out(out).with_context(|| format!("cannot resolve {}", out.display()))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "reports".into());
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let prefix = format!(".{name}.poolsim-tmp-");
        remove_stale(&parent, &prefix);
        let tmp = parent.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Stage {
            out,
            tmp,
            committed: false,
            opts,
            written: AtomicU64::new(0),
            check,
        })
    }

    fn check_cancel(&self) -> anyhow::Result<()> {
        if self
            .opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
        {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    /// Write `body` to `rel` inside the staging directory.
    fn write(&self, rel: &Path, body: &[u8]) -> anyhow::Result<()> {
        self.check_cancel()?;
        let path = self.tmp.join(rel);
        let shown = self.out.join(rel);
        let fail = || format!("cannot write {}", shown.display());
        let mut f = std::fs::File::create(&path).with_context(fail)?;
        let (body, full) = match self.opts.disk_full_after {
            Some(limit) => {
                let done = self.written.load(Ordering::SeqCst);
                let room = limit.saturating_sub(done).min(body.len() as u64) as usize;
                (&body[..room], room < body.len())
            }
            None => (body, false),
        };
        f.write_all(body).with_context(fail)?;
        self.written.fetch_add(body.len() as u64, Ordering::SeqCst);
        if full {
            return Err(std::io::Error::from_raw_os_error(28)).with_context(fail);
        }
        f.flush().with_context(fail)?;
        Ok(())
    }

    fn mkdir(&self, rel: &Path) -> anyhow::Result<()> {
        let path = self.tmp.join(rel);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", self.out.join(rel).display()))
    }

    /// Put the staged set in `out`'s place.
    fn commit(mut self) -> anyhow::Result<()> {
        self.check_cancel()?;
        // Checked again: something may have appeared in `out` meanwhile.
        (self.check)(&self.out).map_err(anyhow::Error::msg)?;
        swap_into_place(&self.tmp, &self.out)
            .with_context(|| format!("cannot move the reports into {}", self.out.display()))?;
        self.committed = true;
        // `tmp` now holds the previous set (or nothing).
        let _ = std::fs::remove_dir_all(&self.tmp);
        Ok(())
    }
}

/// Exchange two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the working
    // directory; the call only renames.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Replace `out` by `staged`; afterwards `staged` holds the previous `out`
/// (or does not exist).
fn swap_into_place(staged: &Path, out: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::rename(staged, out),
        Err(e) => Err(e),
        Ok(_) => {
            if exchange(staged, out).is_ok() {
                return Ok(());
            }
            // Two renames: for an instant `out` is missing, but the old set
            // is whole (beside it) until the new one is in place.
            let mut old = staged.as_os_str().to_owned();
            old.push("-old");
            let old = PathBuf::from(old);
            std::fs::rename(out, &old)?;
            if let Err(e) = std::fs::rename(staged, out) {
                let _ = std::fs::rename(&old, out);
                return Err(e);
            }
            std::fs::rename(&old, staged)
        }
    }
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

fn stage_charts(st: &Stage, dir: &Path, files: &[ChartFile]) -> anyhow::Result<()> {
    st.mkdir(dir)?;
    for f in files {
        st.write(&dir.join(format!("{}.png", f.stem)), &f.png)?;
        st.write(&dir.join(format!("{}.svg", f.stem)), f.svg.as_bytes())?;
    }
    Ok(())
}

fn stage_run(st: &Stage, dir: &Path, sc: &Scenario, o: &RunOutput) -> anyhow::Result<()> {
    st.mkdir(dir)?;
    st.write(&dir.join("summary.json"), o.summary.to_json().as_bytes())?;
    st.write(
        &dir.join("timeseries.csv"),
        csv::timeseries_csv(&o.observations, sc.start_unix_ns).as_bytes(),
    )?;
    st.write(
        &dir.join("cluster.csv"),
        csv::cluster_csv(&o.observations, sc.start_unix_ns).as_bytes(),
    )?;
    st.write(
        &dir.join("metrics.prom"),
        prom::openmetrics(&o.observations, sc.start_unix_ns, &prom::RunLabels::of(sc)).as_bytes(),
    )?;
    st.check_cancel()?;
    let files = run_chart_files(sc, o)?;
    stage_charts(st, &dir.join("charts"), &files)?;
    st.write(
        &dir.join("report.html"),
        html::render_run_html(&o.summary, &files).as_bytes(),
    )?;
    Ok(())
}

/// Write a comparison into `out`: `compare.json`, each mode's full reports
/// in `<out>/<mode>/`, the overlaid charts in `<out>/charts/` and
/// `<out>/report.html`, replacing what `out` held (see the module's notes).
pub fn write_compare(out: &Path, cmp: &Comparison) -> anyhow::Result<()> {
    write_compare_with(out, cmp, &WriteOptions::default())
}

/// [`write_compare`] with [`WriteOptions`].
pub fn write_compare_with(out: &Path, cmp: &Comparison, opts: &WriteOptions) -> anyhow::Result<()> {
    let st = Stage::new(out, opts)?;
    let top = Path::new("");
    st.write(Path::new("compare.json"), cmp.summary.to_json().as_bytes())?;
    for m in &cmp.modes {
        stage_run(&st, Path::new(m.stack.name()), &m.scenario, &m.output)?;
    }
    st.check_cancel()?;
    let mut files = compare_chart_files(cmp)?;
    if let Some(r) = &cmp.summary.replications {
        let modes: Vec<&'static str> = cmp.summary.modes.iter().map(|m| m.mode).collect();
        files.extend(charts::replication_charts(r, &modes)?);
    }
    stage_charts(&st, &top.join("charts"), &files)?;
    st.write(
        Path::new("report.html"),
        html::render_compare_html(&cmp.summary, &files).as_bytes(),
    )?;
    st.commit()
}

/// Write every report of a run into `out`, replacing what `out` held (see
/// the module's notes).
pub fn write_all(out: &Path, sc: &Scenario, o: &RunOutput) -> anyhow::Result<()> {
    write_all_with(out, sc, o, &WriteOptions::default())
}

/// [`write_all`] with [`WriteOptions`].
pub fn write_all_with(
    out: &Path,
    sc: &Scenario,
    o: &RunOutput,
    opts: &WriteOptions,
) -> anyhow::Result<()> {
    let st = Stage::new(out, opts)?;
    stage_run(&st, Path::new(""), sc, o)?;
    st.commit()
}

/// Write rendered charts as `<dir>/<stem>.png` and `<dir>/<stem>.svg`,
/// replacing the directory whole (it may hold only charts).
pub fn write_charts(dir: &Path, files: &[ChartFile]) -> anyhow::Result<()> {
    let opts = WriteOptions::default();
    let st = Stage::open(dir, &opts, |d| match std::fs::metadata(d) {
        Ok(m) if m.is_dir() && check_charts(d).is_err() => {
            Err(foreign(d, "files other than charts"))
        }
        _ => Ok(()),
    })?;
    stage_charts(&st, Path::new(""), files)?;
    st.commit()
}
