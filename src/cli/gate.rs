//! `poolsim check`, `merge`, `schema` and `init`: arguments, files and exit
//! codes. The work is the library's (`poolsim::gate`, `schema_json`, `starter`).

use super::{EXIT_ASSERTION_FAILED, EXIT_INVALID, EXIT_IO, EXIT_OK};
use poolsim::gate::{self, baseline, select, CheckReport};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Where GitHub annotations go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Annotations {
    /// GitHub's when the environment has GITHUB_ACTIONS=true, none otherwise.
    Auto,
    /// GitHub Actions workflow commands (::error file=...,line=...::) on stdout.
    Github,
    /// None.
    None,
}

/// Outputs of `check` and `merge`.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Write JUnit XML here: a testsuite per scenario, a testcase per assertion x seed.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write every verdict and key figure here (check.json; what `merge` and `--baseline` read).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print CI annotations pointing at the YAML line of each failure.
    #[arg(long, value_enum, default_value = "auto")]
    annotations: Annotations,
    /// Compare each scenario's key figures with this check.json (e.g. from the main branch).
    #[arg(long, value_name = "BASE.json")]
    baseline: Option<PathBuf>,
    /// Largest worsening of a key figure that is not a regression, in percent.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = select::parse_percent)]
    max_regression: f64,
    /// Exit 1 when a key figure regressed against --baseline.
    #[arg(long, requires = "baseline")]
    fail_on_regression: bool,
    /// Print nothing but errors and annotations.
    #[arg(long, short)]
    quiet: bool,
}

/// `poolsim check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, directories (searched recursively for *.yaml and *.yml) and glob patterns (quote them).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Seeds to run each scenario with: 1..20 (both ends included), 7, 1,5,9 [default: each file's seed].
    #[arg(long, value_parser = parse_seeds)]
    seeds: Option<Seeds>,
    /// Runs at once, on as many threads [default: the number of cores]. Results do not depend on it.
    #[arg(long, short, value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// Fraction of seeds in which each assertion must hold: 0.9 or 90%.
    #[arg(long, value_name = "RATE", default_value = "1", value_parser = select::parse_fraction)]
    min_pass_rate: f64,
    /// Write each run's full reports (summary.json, charts, ...) to DIR/<file>/seed-<N>/.
    #[arg(long, value_name = "DIR")]
    reports: Option<PathBuf>,
    /// Run only the I-th of N parts of the runs (1 <= I <= N); join the parts' --json with `poolsim merge`.
    #[arg(long, value_name = "I/N", value_parser = select::Shard::parse)]
    shard: Option<select::Shard>,
    #[command(flatten)]
    out: OutputArgs,
}

/// `poolsim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The --json files of every shard of one check.
    #[arg(required = true, value_name = "SHARD.json")]
    shards: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

/// The kind of starter scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InitMode {
    /// database/sql on the connection reservoir (the production wiring).
    Reservoir,
    /// A plain database/sql pool.
    Pool,
}

/// `poolsim init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// File to write (`-`: print it).
    #[arg(default_value = "scenario.yaml")]
    file: PathBuf,
    /// The kind of pool.
    #[arg(long, value_enum, default_value = "reservoir")]
    mode: InitMode,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

/// A parsed `--seeds` (a newtype, so that clap takes it as one value).
#[derive(Clone, Debug)]
pub struct Seeds(pub Vec<u64>);

/// Parse `--seeds` (1..20, 7, 1,5,9).
pub fn parse_seeds(s: &str) -> Result<Seeds, String> {
    select::parse_seeds(s).map(Seeds)
}

/// Parse `--jobs` (1 to 1024).
pub fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n > 1024 => Err("must be at most 1024".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

fn load_baseline(out: &OutputArgs) -> Result<Option<CheckReport>, i32> {
    let Some(p) = &out.baseline else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(p).map_err(|e| {
        eprintln!("error: --baseline {}: {e}", p.display());
        EXIT_INVALID
    })?;
    let base = CheckReport::from_json(&text)
        .and_then(|b| baseline::usable(&b).map(|_| b))
        .map_err(|e| {
            eprintln!("error: --baseline {}: {e}", p.display());
            EXIT_INVALID
        })?;
    Ok(Some(base))
}

fn write(path: &Path, body: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, body).map_err(|e| format!("{}: {e}", path.display()))
}

/// Compare with the baseline, write the files, print, and choose the exit code.
fn finish(
    mut report: CheckReport,
    base: Option<CheckReport>,
    out: &OutputArgs,
    mut io_errors: Vec<String>,
) -> i32 {
    if let Some(b) = &base {
        report.baseline = Some(baseline::compare(&report, b, out.max_regression));
    }
    if let Some(p) = &out.json {
        io_errors.extend(write(p, &report.to_json()).err());
    }
    if let Some(p) = &out.junit {
        io_errors.extend(write(p, &gate::junit::render(&report)).err());
    }
    if !out.quiet {
        print!("{}", gate::text::render(&report));
    }
    let github = match out.annotations {
        Annotations::Github => true,
        Annotations::None => false,
        Annotations::Auto => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    };
    if github {
        print!(
            "{}",
            gate::annotate::render(&report, out.fail_on_regression)
        );
    }
    for e in &io_errors {
        eprintln!("error: cannot write {e}");
    }
    let regressed = report.baseline.as_ref().is_some_and(|b| b.regressions > 0);
    if report.verdict == "invalid" {
        EXIT_INVALID
    } else if !io_errors.is_empty() {
        EXIT_IO
    } else if report.verdict == "fail" || (out.fail_on_regression && regressed) {
        EXIT_ASSERTION_FAILED
    } else {
        EXIT_OK
    }
}

/// `poolsim check`.
pub fn check(a: CheckArgs) -> i32 {
    let files = match select::find_scenarios(&a.paths) {
        Ok(f) => f,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            return EXIT_INVALID;
        }
    };
    let base = match load_baseline(&a.out) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let loaded = gate::load_all(&files, &poolsim::scenario::parse);
    let seeds = a.seeds.as_ref().map(|s| s.0.as_slice());
    let without = gate::confidence_without_seeds(&loaded, seeds);
    if !without.is_empty() {
        for e in without {
            eprintln!("error: {e}");
        }
        return EXIT_INVALID;
    }
    let points = gate::plan(&loaded, seeds, a.shard);
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let show = !a.out.quiet && std::io::stderr().is_terminal();
    if !a.out.quiet {
        eprintln!(
            "poolsim check: {} scenario file{}, {} run{}{} on {} thread{}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            points.len(),
            if points.len() == 1 { "" } else { "s" },
            a.shard.map(|s| format!(" (shard {s})")).unwrap_or_default(),
            jobs.min(points.len().max(1)),
            if jobs.min(points.len().max(1)) == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    let ex = gate::execute(
        &loaded,
        &points,
        jobs,
        a.reports.as_deref(),
        |done, total| {
            if show {
                eprint!("\r[{done}/{total}] runs done");
                if done == total {
                    eprint!("\r{}\r", " ".repeat(40));
                }
            }
        },
    );
    let report = gate::assemble(&loaded, seeds, a.min_pass_rate, a.shard, &points, ex.runs);
    finish(report, base, &a.out, ex.io_errors)
}

/// `poolsim merge`.
pub fn merge(a: MergeArgs) -> i32 {
    let mut shards = Vec::new();
    let mut bad = false;
    for p in &a.shards {
        let name = p.display().to_string();
        match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| CheckReport::from_json(&t))
        {
            Ok(r) => shards.push((name, r)),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                bad = true;
            }
        }
    }
    if bad {
        return EXIT_INVALID;
    }
    let base = match load_baseline(&a.out) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match gate::merge::merge(shards) {
        Ok(r) => finish(r, base, &a.out, Vec::new()),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            EXIT_INVALID
        }
    }
}

/// `poolsim schema`.
pub fn schema() -> i32 {
    print!("{}", poolsim::schema_json::render());
    EXIT_OK
}

/// `poolsim init`.
pub fn init(a: InitArgs) -> i32 {
    use poolsim::starter::{starter, StarterMode};
    let text = starter(match a.mode {
        InitMode::Reservoir => StarterMode::Reservoir,
        InitMode::Pool => StarterMode::Pool,
    });
    if a.file.as_os_str() == "-" {
        print!("{text}");
        return EXIT_OK;
    }
    if a.file.exists() && !a.force {
        eprintln!(
            "error: {} exists; pass --force to overwrite it",
            a.file.display()
        );
        return EXIT_INVALID;
    }
    match write(&a.file, &text) {
        Ok(()) => {
            println!(
                "wrote {} (validate: poolsim validate {0}; run: poolsim run {0})",
                a.file.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot write {e}");
            EXIT_IO
        }
    }
}
