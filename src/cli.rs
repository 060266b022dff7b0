//! Command-line interface. It parses arguments, calls the library and writes
//! files; it never simulates by itself.

use clap::{Parser, Subcommand};
use poolsim::compare::Gate;
use poolsim::engine::time::parse_duration;
use poolsim::model::world::{RunError, Stack};
use poolsim::report::files::{self, WriteOptions};
use poolsim::report::text;
use poolsim::scenario::{self, budget, Override, Scenario};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod gate;
mod seeds;

/// Exit code: every assertion passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: an assertion failed.
pub const EXIT_ASSERTION_FAILED: i32 = 1;
/// Exit code: the scenario or the arguments are invalid (or the run could not complete).
pub const EXIT_INVALID: i32 = 2;
/// Exit code: the reports could not be written.
pub const EXIT_IO: i32 = 3;
/// Exit code: stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

const AFTER_HELP: &str = "\
Exit codes:
  0    every assertion passed (or there are none)
  1    an assertion failed
  2    the scenario or the arguments are invalid (including a scenario whose
       estimated memory or event count is over the limits), or the run could
       not complete (the engine stopped it, or memory ran out)
  3    the reports could not be written (the previous reports are unchanged)
  130  interrupted by Ctrl-C: the run stopped, nothing was written, the
       previous reports are unchanged (a second Ctrl-C exits at once)

Reports replace --out whole: the new set appears only when every file of it
is written, and files of an earlier run that this run does not write are
removed with the old set. An --out that holds files poolsim did not write is
refused (exit 2) before the run.";

const SET_HELP: &str =
    "Override a key of the scenario before validation (repeatable): a dotted path \
with [N] or [*] for list items and a YAML value, e.g. --set pools[0].reservoir.target_ready=30, \
--set 'pools[*].pool.max_lifetime=30m', --set duration=2h";

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

/// Overrides shared by run, compare and validate.
#[derive(clap::Args, Clone, Debug, Default)]
struct OverrideArgs {
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's duration (Go syntax: 90s, 30m, 1h30m); validated like the file's.
    #[arg(long, value_parser = check_duration_arg)]
    duration: Option<String>,
    #[arg(long = "set", value_name = "KEY=VALUE", help = SET_HELP)]
    set: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario, print its summary, write its reports and check its assertions.
    #[command(after_help = AFTER_HELP)]
    Run {
        /// Scenario file (YAML); - reads it from standard input.
        file: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Directory for summary.json, timeseries.csv, metrics.prom, report.html and charts/, replaced whole [default: reports/<file stem>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run with each of these seeds (1..20, 7, 1,5,9) in parallel and judge the assertions over them: prints every seed's verdicts and, for an assertion with `confidence`, its confidence bound across the seeds (at least 2 seeds then). Writes no reports (check --reports DIR writes each run's).
        #[arg(long, value_parser = gate::parse_seeds, conflicts_with_all = ["seed", "out"])]
        seeds: Option<gate::Seeds>,
        /// Runs at once with --seeds, on as many threads [default: the number of cores]. Results do not depend on it.
        #[arg(long, short, value_parser = gate::parse_jobs, requires = "seeds")]
        jobs: Option<usize>,
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
    /// --gate chooses whose assertions decide the exit code.
    #[command(after_help = AFTER_HELP)]
    Compare {
        /// Scenario file (YAML); - reads it from standard input.
        file: PathBuf,
        /// Modes to run, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "direct,database_sql,pool"
        )]
        modes: Vec<ModeArg>,
        /// Whose assertions decide the exit code: `file` (the mode the file's
        /// pools select; refused, exit 2, when they differ or that mode is
        /// not in --modes), a mode (direct, database_sql, pool; it must be in
        /// --modes), `all` (every mode run must pass) or `none` (exit 0 whatever
        /// the assertions say).
        #[arg(long, default_value = "file", value_parser = parse_gate)]
        gate: Gate,
        /// Run every mode with each of these seeds (1..20, 7, 1,5,9; at least 2) in parallel: per figure and mode the mean across seeds with its 95% interval, and per pair of modes the paired difference on the same requests with its interval. The per-mode reports and the overlaid charts are the first seed's.
        #[arg(long, value_parser = gate::parse_seeds, conflicts_with = "seed")]
        seeds: Option<gate::Seeds>,
        /// Runs at once with --seeds, on as many threads [default: the number of cores]. Results do not depend on it.
        #[arg(long, short, value_parser = gate::parse_jobs, requires = "seeds")]
        jobs: Option<usize>,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Output directory, replaced whole [default: reports/<file stem>-compare/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a scenario file without running it.
    #[command(after_help = AFTER_HELP)]
    Validate {
        /// Scenario file (YAML); - reads it from standard input.
        file: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
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
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        pools: u32,
        /// Requests per second per pool (above 0, at most 1e6).
        #[arg(long, default_value_t = 1000.0, value_parser = parse_rate)]
        rate: f64,
        /// Simulated duration.
        #[arg(long, default_value = "30m", value_parser = parse_positive_duration)]
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

fn check_duration_arg(s: &str) -> Result<String, String> {
    parse_duration(s).map(|_| s.to_string())
}

fn parse_positive_duration(s: &str) -> Result<u64, String> {
    match parse_duration(s)? {
        0 => Err("must be greater than 0".into()),
        d => Ok(d),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of requests per second"))?;
    if r.is_finite() && r > 0.0 && r <= 1e6 {
        Ok(r)
    } else {
        Err(format!(
            "must be a number of requests per second above 0 and at most 1e6 (got {s})"
        ))
    }
}

fn parse_gate(s: &str) -> Result<Gate, String> {
    Gate::parse(s)
}

// ----- allocation failure ------------------------------------------------

/// The system allocator, except that an allocation the system refuses ends
/// the process with a one-line message and exit code 2 instead of Rust's
/// abort (exit 134). Validation's memory estimate keeps runs within budget;
/// this is the last line of defence when the machine has less memory than
/// the budget. Reports are never half-written: they are staged and only
/// moved into place whole.
struct ExitOnOom;

// SAFETY: every call is passed to the system allocator unchanged; only a
// null result (failure) is intercepted, and then the process exits.
unsafe impl std::alloc::GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new) };
        if p.is_null() {
            out_of_memory(new);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: ExitOnOom = ExitOnOom;

/// Print a message without allocating, and exit with code 2 at once.
fn out_of_memory(size: usize) -> ! {
    let mut buf = [0u8; 256];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        for &b in bytes {
            if n < buf.len() {
                buf[n] = b;
                n += 1;
            }
        }
    };
    put(b"error: out of memory: the system refused an allocation of ");
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    let mut v = size;
    loop {
        k -= 1;
        digits[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(&digits[k..]);
    put(b" bytes; no report was written (shorten duration, lengthen sample_every or use fewer pools)\n");
    // SAFETY: writing a stack buffer to stderr and exiting without running
    // destructors or atexit handlers (which could allocate).
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(EXIT_INVALID);
    }
}

// ----- Ctrl-C ----------------------------------------------------------------

/// A flag that the first Ctrl-C (SIGINT) sets; a second Ctrl-C, once it is
/// set, exits at once with 130.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    use signal_hook::consts::SIGINT;
    // Registered first, so it sees the flag as the previous Ctrl-C left it.
    let _ = signal_hook::flag::register_conditional_shutdown(
        SIGINT,
        EXIT_INTERRUPTED,
        Arc::clone(&flag),
    );
    let _ = signal_hook::flag::register(SIGINT, Arc::clone(&flag));
    flag
}

fn interrupted_message(what: &str, out: Option<&Path>) {
    let kept = match out {
        Some(o) if o.exists() => format!("; the reports in {} are unchanged", o.display()),
        _ => String::new(),
    };
    eprintln!("interrupted: {what}; no report was written{kept}");
}

// ----- commands -----------------------------------------------------------------

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
            overrides,
            out,
            seeds: Some(seeds),
            jobs,
            quiet,
        } => {
            let _ = out;
            seeds::cmd_run_seeds(&file, &overrides, &seeds.0, jobs, quiet)
        }
        Command::Run {
            file,
            overrides,
            out,
            quiet,
            ..
        } => cmd_run(&file, &overrides, out, quiet),
        Command::Compare {
            file,
            modes,
            gate,
            seeds,
            jobs,
            overrides,
            out,
            quiet,
        } => cmd_compare(
            &file,
            &modes,
            gate,
            &overrides,
            out,
            quiet,
            seeds.map(|s| s.0).as_deref(),
            jobs,
        ),
        Command::Validate { file, overrides } => cmd_validate(&file, &overrides),
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

/// The overrides, in the order they apply: --seed, --duration, then each --set.
fn overrides_of(a: &OverrideArgs) -> Result<Vec<Override>, String> {
    let mut v = Vec::new();
    if let Some(s) = a.seed {
        v.push(Override::seed(s));
    }
    if let Some(d) = &a.duration {
        v.push(Override::duration(d));
    }
    for s in &a.set {
        v.push(Override::parse_assignment("--set", s)?);
    }
    Ok(v)
}

fn load(file: &Path, a: &OverrideArgs) -> Result<Scenario, i32> {
    let overrides = overrides_of(a).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_INVALID
    })?;
    scenario::load_with(file, &overrides).map_err(|e| {
        eprintln!("error: invalid scenario\n{e}");
        EXIT_INVALID
    })
}

fn cmd_validate(file: &Path, a: &OverrideArgs) -> i32 {
    match load(file, a) {
        Ok(sc) => {
            println!(
                "{}: valid ({}, {})",
                if file.as_os_str() == "-" {
                    "<stdin>".to_string()
                } else {
                    file.display().to_string()
                },
                text::plural(sc.world.pools.len(), "pool"),
                text::plural(sc.assertions.len(), "assertion")
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

fn default_out(file: &Path) -> PathBuf {
    let stem = if file.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    };
    PathBuf::from("reports").join(stem)
}

/// Refuse an --out that poolsim may not replace, before anything runs.
fn check_out(out: &Path) -> Result<(), i32> {
    files::check_out_dir(out).map_err(|e| {
        eprintln!("error: --out: {e}");
        EXIT_INVALID
    })
}

fn report_write_error(e: &anyhow::Error, what: &str, out: &Path) -> i32 {
    if e.downcast_ref::<files::Interrupted>().is_some() {
        interrupted_message(what, Some(out));
        EXIT_INTERRUPTED
    } else {
        let kept = if out.exists() {
            format!(" (the reports in {} are unchanged)", out.display())
        } else {
            String::new()
        };
        eprintln!("error: {e:#}{kept}");
        EXIT_IO
    }
}

fn cmd_run(file: &Path, a: &OverrideArgs, out: Option<PathBuf>, quiet: bool) -> i32 {
    let sc = match load(file, a) {
        Ok(sc) => sc,
        Err(code) => return code,
    };
    let out = out.unwrap_or_else(|| default_out(file));
    if let Err(code) = check_out(&out) {
        return code;
    }
    let stop = interrupt_flag();
    let mut bar = Progress::new(!quiet, sc.world.duration);
    let output = poolsim::run::run_until(&sc, |t| {
        bar.update(t);
        !stop.load(Ordering::SeqCst)
    });
    bar.finish();
    let output = match output {
        Ok(o) => o,
        Err(RunError::Interrupted { at }) => {
            interrupted_message(
                &format!(
                    "the run stopped at t={} of {}",
                    poolsim::engine::time::format_duration(at),
                    poolsim::engine::time::format_duration(sc.world.duration)
                ),
                Some(&out),
            );
            return EXIT_INTERRUPTED;
        }
        Err(e) => {
            eprintln!("error: the run could not complete: {e}");
            return EXIT_INVALID;
        }
    };
    let opts = WriteOptions {
        cancel: Some(Arc::clone(&stop)),
        ..WriteOptions::default()
    };
    if let Err(e) = files::write_all_with(&out, &sc, &output, &opts) {
        return report_write_error(&e, "while the reports were written", &out);
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

#[allow(clippy::too_many_arguments)]
fn cmd_compare(
    file: &Path,
    modes: &[ModeArg],
    gate: Gate,
    a: &OverrideArgs,
    out: Option<PathBuf>,
    quiet: bool,
    seeds: Option<&[u64]>,
    jobs: Option<usize>,
) -> i32 {
    if let Some(s) = seeds.filter(|s| s.len() < 2) {
        eprintln!(
            "error: --seeds: the intervals of compare --seeds need at least 2 seeds (got {}: {}); for one seed use --seed {0}",
            s.len(),
            s.first().map_or(String::new(), |x| x.to_string())
        );
        return EXIT_INVALID;
    }
    let sc = match load(file, a) {
        Ok(sc) => sc,
        Err(code) => return code,
    };
    let stacks: Vec<Stack> = Stack::ALL
        .into_iter()
        .filter(|s| modes.iter().any(|m| m.stack() == *s))
        .collect();
    if let Err(e) = gate.modes(poolsim::compare::file_mode(&sc), &stacks) {
        eprintln!("error: --gate: {e}");
        return EXIT_INVALID;
    }
    // Every mode's observations are kept until the reports are written.
    let est = budget::memory(&sc.world, 0.0);
    let need = est.compare_total(stacks.len());
    if need > budget::MEMORY_BUDGET {
        eprintln!(
            "error: comparing {} modes would need about {} of memory (each mode's {} kept until the reports are written); the limit is {}: compare fewer modes (--modes), shorten duration or lengthen sample_every",
            stacks.len(),
            budget::bytes(need),
            budget::bytes(est.kept_per_mode),
            budget::bytes(budget::MEMORY_BUDGET)
        );
        return EXIT_INVALID;
    }
    let out = out.unwrap_or_else(|| {
        let mut d = default_out(file);
        let name = format!(
            "{}-compare",
            d.file_name().unwrap_or_default().to_string_lossy()
        );
        d.set_file_name(name);
        d
    });
    if let Err(code) = check_out(&out) {
        return code;
    }
    let stop = interrupt_flag();
    let n = stacks.len() as u64;
    let cmp = match seeds {
        Some(seeds) => {
            // The first seed's modes are kept (counted above); each other
            // run in flight needs a run's memory until it ends.
            let jobs = seeds::jobs_within_budget(jobs, |j| {
                need.saturating_add(est.run_total().saturating_mul(j as u64 - 1))
            });
            let total = n * seeds.len() as u64;
            let mut bar = Progress::new(!quiet, sc.world.duration * total);
            let cmp = poolsim::compare::seeds::compare_seeds(
                &sc,
                &stacks,
                seeds,
                jobs,
                &stop,
                |done, _| bar.update(done as u64 * sc.world.duration),
            );
            bar.finish();
            cmp
        }
        None => {
            let mut bar = Progress::new(!quiet, sc.world.duration * n);
            let cmp = poolsim::compare::compare_until(&sc, &stacks, |k, t| {
                bar.update(k as u64 * sc.world.duration + t);
                !stop.load(Ordering::SeqCst)
            });
            bar.finish();
            cmp
        }
    };
    let cmp = match cmp {
        Ok(c) => c,
        Err(RunError::Interrupted { at }) => {
            let what = if seeds.is_some() {
                "the comparison stopped".to_string()
            } else {
                format!(
                    "the comparison stopped at t={}",
                    poolsim::engine::time::format_duration(at)
                )
            };
            interrupted_message(&what, Some(&out));
            return EXIT_INTERRUPTED;
        }
        Err(e) => {
            eprintln!("error: the run could not complete: {e}");
            return EXIT_INVALID;
        }
    };
    let opts = WriteOptions {
        cancel: Some(Arc::clone(&stop)),
        ..WriteOptions::default()
    };
    if let Err(e) = files::write_compare_with(&out, &cmp, &opts) {
        return report_write_error(&e, "while the reports were written", &out);
    }
    if !quiet {
        print!(
            "{}",
            text::render_compare(&cmp.summary, Some(&out.display().to_string()))
        );
        let gated = gate
            .modes(cmp.summary.file_mode_stack(), &stacks)
            .unwrap_or_default();
        let names: Vec<&str> = gated.iter().map(|s| s.name()).collect();
        match gate {
            Gate::None => println!("note: --gate none: no assertions decide the exit code"),
            _ => println!("exit code from the assertions of: {}", names.join(", ")),
        }
    }
    if cmp.passed(&gate) {
        EXIT_OK
    } else {
        EXIT_ASSERTION_FAILED
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
