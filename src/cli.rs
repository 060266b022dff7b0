//! Command-line interface. It parses arguments, calls the library and writes
//! files; it never simulates by itself.

use clap::{Parser, Subcommand};
use poolsim::engine::time::parse_duration;
use poolsim::model::world::Stack;
use poolsim::report::text;
use poolsim::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

mod gate;

/// Exit code: every assertion passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: an assertion failed.
pub const EXIT_ASSERTION_FAILED: i32 = 1;
/// Exit code: the scenario or the arguments are invalid (or the run could not complete).
pub const EXIT_INVALID: i32 = 2;
/// Exit code: the reports could not be written.
pub const EXIT_IO: i32 = 3;

const AFTER_HELP: &str = "\
Exit codes:
  0  every assertion passed
  1  an assertion failed
  2  the scenario or the arguments are invalid, or the run could not complete
     (e.g. the engine stopped a scenario that would spin or exhaust memory)
  3  the reports could not be written";

#[derive(Parser)]
#[command(
    name = "poolsim",
    version,
    about = "Deterministic simulator of connection pools and reservoirs for Temporal on Aurora DSQL",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario, print its summary, write its reports and check its assertions.
    #[command(after_help = AFTER_HELP)]
    Run {
        /// Scenario file (YAML).
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's duration (Go syntax: 90s, 30m, 1h30m).
        #[arg(long, value_parser = parse_duration_arg)]
        duration: Option<u64>,
        /// Directory for summary.json, timeseries.csv, metrics.prom, report.html and charts/ [default: reports/<file stem>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a scenario in each mode on identical requests and compare them side by side.
    ///
    /// Modes: `direct` (requests take from the reservoir and give back),
    /// `database_sql` (database/sql on the reservoir driver: the production
    /// wiring) and `pool` (the plain database/sql pool). Every pool of the
    /// file is switched to the mode; the seed, the arrivals and the hold times
    /// are the same in every mode. Writes compare.json, report.html, charts/
    /// with the modes overlaid, and each mode's full reports in <out>/<mode>/.
    /// The exit code is that of the assertions of the mode the file selects.
    #[command(after_help = AFTER_HELP)]
    Compare {
        /// Scenario file (YAML).
        file: PathBuf,
        /// Modes to run, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "direct,database_sql,pool"
        )]
        modes: Vec<ModeArg>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's duration (Go syntax: 90s, 30m, 1h30m).
        #[arg(long, value_parser = parse_duration_arg)]
        duration: Option<u64>,
        /// Output directory [default: reports/<file stem>-compare/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a scenario file without running it.
    #[command(after_help = AFTER_HELP)]
    Validate {
        /// Scenario file (YAML).
        file: PathBuf,
    },
    /// Check many scenarios over many seeds at once (the CI gate).
    ///
    /// Runs every scenario file found (files, directories searched
    /// recursively, glob patterns) with every seed, in parallel. Prints one
    /// line per scenario with, per assertion, the seeds it held in and its
    /// worst observed value; writes JUnit XML, check.json and GitHub
    /// annotations on request. Exit 0 if every assertion held (in
    /// --min-pass-rate of the seeds), 1 if one did not (or a figure
    /// regressed, with --fail-on-regression), 2 if a file is invalid (all
    /// are reported) or a run could not complete, 3 if an output could not
    /// be written.
    #[command(after_help = AFTER_HELP)]
    Check(gate::CheckArgs),
    /// Join the --json outputs of `check --shard I/N` into those of one check.
    #[command(after_help = AFTER_HELP)]
    Merge(gate::MergeArgs),
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
    /// Write a commented starter scenario.
    Init(gate::InitArgs),
    /// Measure the engine's speed on a heavy built-in scenario.
    Bench {
        /// Pools (one instance each).
        #[arg(long, default_value_t = 20)]
        pools: u32,
        /// Requests per second per pool.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Simulated duration.
        #[arg(long, default_value = "30m", value_parser = parse_duration_arg)]
        duration: u64,
        /// How requests get connections.
        #[arg(long, value_enum, default_value = "direct")]
        mode: ModeArg,
    },
}

/// A mode of `compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    /// Requests take from the reservoir and give back after each use.
    Direct,
    /// database/sql on top of the reservoir driver.
    #[value(name = "database_sql")]
    DatabaseSql,
    /// The plain database/sql pool.
    Pool,
}

impl ModeArg {
    fn stack(self) -> Stack {
        match self {
            ModeArg::Direct => Stack::Direct,
            ModeArg::DatabaseSql => Stack::DatabaseSql,
            ModeArg::Pool => Stack::Plain,
        }
    }
}

fn parse_duration_arg(s: &str) -> Result<u64, String> {
    parse_duration(s)
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_INVALID
            } else {
                EXIT_OK
            };
        }
    };
    match cli.command {
        Command::Run {
            file,
            seed,
            duration,
            out,
            quiet,
        } => cmd_run(&file, seed, duration, out, quiet),
        Command::Compare {
            file,
            modes,
            seed,
            duration,
            out,
            quiet,
        } => cmd_compare(&file, &modes, seed, duration, out, quiet),
        Command::Validate { file } => match scenario::load(&file) {
            Ok(sc) => {
                println!(
                    "{}: valid ({} pools, {} assertions)",
                    file.display(),
                    sc.world.pools.len(),
                    sc.assertions.len()
                );
                EXIT_OK
            }
            Err(e) => {
                eprintln!("error: invalid scenario\n{e}");
                EXIT_INVALID
            }
        },
        Command::Bench {
            pools,
            rate,
            duration,
            mode,
        } => cmd_bench(pools, rate, duration, mode),
        Command::Check(a) => gate::check(a),
        Command::Merge(a) => gate::merge(a),
        Command::Schema => gate::schema(),
        Command::Init(a) => gate::init(a),
    }
}

fn load(file: &Path, seed: Option<u64>, duration: Option<u64>) -> Result<Scenario, i32> {
    let mut sc = scenario::load(file).map_err(|e| {
        eprintln!("error: invalid scenario\n{e}");
        EXIT_INVALID
    })?;
    if let Some(s) = seed {
        sc = sc.with_seed(s);
    }
    if let Some(d) = duration {
        sc = sc.with_duration(d).map_err(|e| {
            eprintln!("error: {e}");
            EXIT_INVALID
        })?;
    }
    Ok(sc)
}

fn default_out(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    PathBuf::from("reports").join(stem)
}

fn cmd_run(
    file: &Path,
    seed: Option<u64>,
    duration: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
) -> i32 {
    let sc = match load(file, seed, duration) {
        Ok(sc) => sc,
        Err(code) => return code,
    };
    let mut bar = Progress::new(!quiet, sc.world.duration);
    let output = poolsim::run::run_with_progress(&sc, |t| bar.update(t));
    bar.finish();
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: the run could not complete: {e}");
            return EXIT_INVALID;
        }
    };
    let out = out.unwrap_or_else(|| default_out(file));
    if let Err(e) = poolsim::report::files::write_all(&out, &sc, &output) {
        eprintln!("error: {e:#}");
        return EXIT_IO;
    }
    if !quiet {
        print!(
            "{}",
            text::render(&output.summary, Some(&out.display().to_string()))
        );
    }
    if output.passed() {
        EXIT_OK
    } else {
        EXIT_ASSERTION_FAILED
    }
}

fn cmd_compare(
    file: &Path,
    modes: &[ModeArg],
    seed: Option<u64>,
    duration: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
) -> i32 {
    let sc = match load(file, seed, duration) {
        Ok(sc) => sc,
        Err(code) => return code,
    };
    let stacks: Vec<Stack> = modes.iter().map(|m| m.stack()).collect();
    let n = Stack::ALL.iter().filter(|s| stacks.contains(s)).count() as u64;
    let mut bar = Progress::new(!quiet, sc.world.duration * n);
    let cmp = poolsim::compare::compare(&sc, &stacks, |k, t| {
        bar.update(k as u64 * sc.world.duration + t)
    });
    bar.finish();
    let cmp = match cmp {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the run could not complete: {e}");
            return EXIT_INVALID;
        }
    };
    let out = out.unwrap_or_else(|| {
        let mut d = default_out(file);
        let name = format!(
            "{}-compare",
            d.file_name().unwrap_or_default().to_string_lossy()
        );
        d.set_file_name(name);
        d
    });
    if let Err(e) = poolsim::report::files::write_compare(&out, &cmp) {
        eprintln!("error: {e:#}");
        return EXIT_IO;
    }
    if !quiet {
        print!(
            "{}",
            text::render_compare(&cmp.summary, Some(&out.display().to_string()))
        );
        if cmp.gating().is_none() {
            println!(
                "note: {}; no assertions decide the exit code",
                match cmp.summary.file_mode {
                    Some(m) => format!("the file's own mode ({m}) was not run"),
                    None => "the file's pools use different modes".to_string(),
                }
            );
        }
    }
    match cmp.gating() {
        Some(m) if !m.output.passed() => EXIT_ASSERTION_FAILED,
        _ => EXIT_OK,
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal and the run
/// has taken more than half a second of wall time.
struct Progress {
    enabled: bool,
    total: u64,
    started: std::time::Instant,
    drawn: bool,
    last_percent: u64,
}

impl Progress {
    fn new(wanted: bool, total: u64) -> Self {
        use std::io::IsTerminal;
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            total: total.max(1),
            started: std::time::Instant::now(),
            drawn: false,
            last_percent: u64::MAX,
        }
    }

    fn update(&mut self, t: u64) {
        if !self.enabled || self.started.elapsed().as_millis() < 500 {
            return;
        }
        let percent = t.saturating_mul(100) / self.total;
        if percent == self.last_percent {
            return;
        }
        self.last_percent = percent;
        let filled = (percent / 4) as usize;
        eprint!(
            "\r[{}{}] {percent:>3}%  simulated {} of {}",
            "#".repeat(filled),
            " ".repeat(25 - filled.min(25)),
            poolsim::engine::time::format_duration(t - t % 1_000_000_000),
            poolsim::engine::time::format_duration(self.total)
        );
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprint!("\r{}\r", " ".repeat(72));
        }
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cmd_bench(pools: u32, rate: f64, duration: u64, mode: ModeArg) -> i32 {
    let yaml = bench_scenario(pools, rate, duration, mode);
    let sc = match scenario::parse(&yaml, "<bench>", "bench") {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("error: invalid bench parameters\n{e}");
            return EXIT_INVALID;
        }
    };
    println!(
        "bench: {pools} pools x {rate} requests/s x {} simulated ({} mode, Poisson arrivals, exponential holds)",
        poolsim::engine::time::format_duration(duration),
        mode.stack().name()
    );
    let start = std::time::Instant::now();
    let obs = match poolsim::model::world::simulate(&sc.world) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let events = obs.events_processed;
    let requests: u64 = obs.pools.iter().map(|p| p.counters.requests).sum();
    println!("  events      {events}");
    println!("  requests    {requests}");
    println!("  wall time   {wall:.3} s");
    println!("  events/s    {:.2} million", events as f64 / wall / 1e6);
    match peak_rss_kib() {
        Some(k) => println!("  peak memory {:.1} MiB (VmHWM)", k as f64 / 1024.0),
        None => println!("  peak memory unknown (no /proc/self/status)"),
    }
    EXIT_OK
}

/// The heavy scenario `poolsim bench` runs.
fn bench_scenario(pools: u32, rate: f64, duration: u64, mode: ModeArg) -> String {
    let reservoir = match mode {
        ModeArg::Direct => "{enabled: true}",
        ModeArg::DatabaseSql => "{enabled: true, stack: database_sql}",
        ModeArg::Pool => "{enabled: false}",
    };
    let mut y = format!(
        "name: bench\nseed: 1\nduration: {}\nglobal_rate_limit: 100\ncluster:\n  connect_rate: 100000\n  connect_burst: 100000\n  max_connections: 1000000\nworkload:\n  type: constant\n  checkout_rate: {rate}\n  hold_duration: 20ms\n  hold_distribution: exponential\npools:\n",
        poolsim::engine::time::format_duration(duration)
    );
    for i in 0..pools {
        y.push_str(&format!(
            "  - name: pool{i}\n    target_size: 50\n    reservoir: {reservoir}\n"
        ));
    }
    y
}
