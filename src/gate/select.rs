//! What `poolsim check` runs: the scenario files named by paths, directories
//! and globs, the seeds (`1..20`, `1,5,9`), the shard (`2/3`) and the
//! thresholds given as fractions or percentages. Every parser here returns an
//! error that names the argument and what is wrong with it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Most seeds one `--seeds` may list (a range counts every seed in it).
pub const MAX_SEEDS: usize = 100_000;

/// File name endings a directory walk picks up.
pub const SCENARIO_EXTENSIONS: [&str; 2] = ["yaml", "yml"];

/// A scenario file to check: the path to open and how it is named in every
/// output (the path as given, `./` dropped, `/` between components).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioFile {
    /// Path to read.
    pub path: PathBuf,
    /// Name in outputs, e.g. `scenarios/reservoir-basic.yaml`.
    pub display: String,
}

/// The display form of a path: `./a//b/` becomes `a/b`.
pub fn display_path(p: &Path) -> String {
    let mut out = String::new();
    for c in p.components() {
        match c {
            Component::CurDir => continue,
            Component::RootDir => {
                out.push('/');
                continue;
            }
            Component::Prefix(pre) => out.push_str(&pre.as_os_str().to_string_lossy()),
            Component::ParentDir => out.push_str(".."),
            Component::Normal(s) => out.push_str(&s.to_string_lossy()),
        }
        out.push('/');
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn has_scenario_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| SCENARIO_EXTENSIONS.contains(&e))
}

/// Every scenario file under `dir`, recursively, in name order. Hidden
/// entries (names starting with `.`) are skipped; a directory reached twice
/// (through a symbolic link) is walked once.
fn walk(
    dir: &Path,
    seen_dirs: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let canon = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", display_path(dir)))?;
    if !seen_dirs.insert(canon) {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", display_path(dir)))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{}: cannot list: {e}", display_path(dir)))?;
        names.push(e.file_name());
    }
    names.sort();
    for name in names {
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let p = dir.join(&name);
        if p.is_dir() {
            walk(&p, seen_dirs, out)?;
        } else if p.is_file() && has_scenario_extension(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The scenario files `args` name: files as they are, directories walked
/// recursively for `*.yaml` and `*.yml`, and glob patterns (`*`, `?`,
/// `[...]`, `**`) expanded, each match being a file or a directory to walk.
/// A file reached twice is checked once. The result is sorted by display
/// name, so the order of the arguments does not matter.
///
/// Errors: every argument that names nothing (a missing path, a glob that
/// matches nothing, a directory without scenarios), all of them at once.
pub fn find_scenarios(args: &[PathBuf]) -> Result<Vec<ScenarioFile>, Vec<String>> {
    let mut errors = Vec::new();
    let mut found: Vec<PathBuf> = Vec::new();
    let mut seen_dirs = BTreeSet::new();
    if args.is_empty() {
        errors.push("no scenario path given".to_string());
    }
    for arg in args {
        let text = arg.to_string_lossy();
        let before = found.len();
        if is_glob(&text) && !arg.exists() {
            let paths = match glob::glob(&text) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(format!("{text}: invalid glob pattern: {e}"));
                    continue;
                }
            };
            let mut matched = false;
            for p in paths {
                match p {
                    Ok(p) => {
                        matched = true;
                        if p.is_dir() {
                            if let Err(e) = walk(&p, &mut seen_dirs, &mut found) {
                                errors.push(e);
                            }
                        } else {
                            found.push(p);
                        }
                    }
                    Err(e) => errors.push(format!("{text}: {e}")),
                }
            }
            if !matched {
                errors.push(format!("{text}: the glob pattern matches no file"));
            } else if found.len() == before {
                errors.push(format!(
                    "{text}: the glob pattern matches only directories without .yaml or .yml files"
                ));
            }
        } else if arg.is_dir() {
            match walk(arg, &mut seen_dirs, &mut found) {
                Ok(()) if found.len() == before => errors.push(format!(
                    "{}: the directory holds no .yaml or .yml file",
                    display_path(arg)
                )),
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        } else if arg.is_file() {
            found.push(arg.clone());
        } else if arg.exists() {
            errors.push(format!(
                "{}: neither a file nor a directory",
                display_path(arg)
            ));
        } else {
            errors.push(format!("{}: no such file or directory", display_path(arg)));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // One entry per file: the same file named twice (or by two spellings)
    // is checked once, under the first spelling in display order.
    let mut files: Vec<ScenarioFile> = found
        .into_iter()
        .map(|path| ScenarioFile {
            display: display_path(&path),
            path,
        })
        .collect();
    files.sort_by(|a, b| a.display.cmp(&b.display));
    let mut seen = BTreeSet::new();
    files
        .retain(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    Ok(files)
}

/// Parse `--seeds`: comma-separated seeds and inclusive ranges, e.g.
/// `1..20`, `7`, `1,5,9`, `1..4,10..12`. Returns the seeds in ascending
/// order. Errors: an empty range (`5..1`), a seed listed twice, a word that
/// is not a seed, more than [`MAX_SEEDS`] seeds.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let mut seeds = BTreeSet::new();
    let num = |t: &str| -> Result<u64, String> {
        t.trim().parse::<u64>().map_err(|_| {
            format!(
                "'{}' is not a seed (a whole number from 0 to 18446744073709551615)",
                t.trim()
            )
        })
    };
    if s.trim().is_empty() {
        return Err("no seed given (write 1..20, 7 or 1,5,9)".into());
    }
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("'{s}' has an empty item between commas"));
        }
        let (lo, hi) = match part.split_once("..") {
            Some((a, b)) => {
                let inclusive = b.strip_prefix('=').unwrap_or(b);
                let (lo, hi) = (num(a)?, num(inclusive)?);
                if lo > hi {
                    return Err(format!(
                        "the range {part} is empty: its start ({lo}) is above its end ({hi}); ranges include both ends, e.g. 1..20"
                    ));
                }
                (lo, hi)
            }
            None => {
                let v = num(part)?;
                (v, v)
            }
        };
        if (hi - lo) as u128 + 1 + seeds.len() as u128 > MAX_SEEDS as u128 {
            return Err(format!("more than {MAX_SEEDS} seeds"));
        }
        for v in lo..=hi {
            if !seeds.insert(v) {
                return Err(format!("seed {v} is listed twice"));
            }
        }
    }
    Ok(seeds.into_iter().collect())
}

/// `--shard I/N`: run the I-th of N disjoint parts (1 <= I <= N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Most shards.
    pub const MAX: u32 = 10_000;

    /// Parse `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not of the form I/N (e.g. 2/3)"))?;
        let parse = |t: &str, what: &str| -> Result<u32, String> {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("'{s}': the {what} '{t}' is not a whole number"))
        };
        let (index, count) = (parse(i, "shard index")?, parse(n, "shard count")?);
        if count == 0 {
            return Err(format!("'{s}': the shard count must be at least 1"));
        }
        if count > Self::MAX {
            return Err(format!("'{s}': at most {} shards", Self::MAX));
        }
        if index == 0 {
            return Err(format!(
                "'{s}': shard indexes start at 1 (1/{count} to {count}/{count})"
            ));
        }
        if index > count {
            return Err(format!(
                "'{s}': shard {index} does not exist, there are only {count} (1/{count} to {count}/{count})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the `k`-th point (0-based, in the canonical order) is in this shard.
    pub fn holds(&self, k: usize) -> bool {
        k % self.count as usize == (self.index - 1) as usize
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parse a fraction given as `0.9` or `90%`, between 0 and 1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|v| v / 100.0)
            .map_err(|_| format!("'{s}' is not a percentage"))?,
        None => t
            .parse::<f64>()
            .map_err(|_| format!("'{s}' is not a number (write 0.9 or 90%)"))?,
    };
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        return Err(format!("'{s}' must be between 0 and 1 (0% and 100%)"));
    }
    Ok(v)
}

/// Parse a regression tolerance given as a percentage, `10%` or `10`
/// (both mean a tenth); returns the fraction.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let p = t.strip_suffix('%').unwrap_or(t).trim();
    let v: f64 = p
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage (write 10%)"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("'{s}' must be a percentage of at least 0"));
    }
    Ok(v / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_ranges_and_lists() {
        assert_eq!(parse_seeds("1..4").unwrap(), [1, 2, 3, 4]);
        assert_eq!(parse_seeds("7").unwrap(), [7]);
        assert_eq!(parse_seeds("9, 1,5").unwrap(), [1, 5, 9]);
        assert_eq!(parse_seeds("1..2,10..=11").unwrap(), [1, 2, 10, 11]);
        assert_eq!(parse_seeds("3..3").unwrap(), [3]);
    }

    #[test]
    fn bad_seeds_are_named() {
        let e = parse_seeds("5..1").unwrap_err();
        assert!(e.contains("5..1 is empty"), "{e}");
        assert!(parse_seeds("1,x")
            .unwrap_err()
            .contains("'x' is not a seed"));
        assert!(parse_seeds("1..3,2")
            .unwrap_err()
            .contains("seed 2 is listed twice"));
        assert!(parse_seeds("").is_err());
        assert!(parse_seeds("1,,2").unwrap_err().contains("empty item"));
        assert!(parse_seeds("-1").is_err());
        assert!(parse_seeds("0..100000000")
            .unwrap_err()
            .contains("more than"));
    }

    #[test]
    fn shards() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        let e = Shard::parse("3/2").unwrap_err();
        assert!(
            e.contains("shard 3 does not exist, there are only 2"),
            "{e}"
        );
        assert!(Shard::parse("0/2").unwrap_err().contains("start at 1"));
        assert!(Shard::parse("1/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("12").unwrap_err().contains("I/N"));
        assert!(Shard::parse("a/2").is_err());
        // Every point lands in exactly one shard.
        for n in 1..6u32 {
            for k in 0..50 {
                let owners = (1..=n)
                    .filter(|&i| Shard { index: i, count: n }.holds(k))
                    .count();
                assert_eq!(owners, 1);
            }
        }
    }

    #[test]
    fn fractions_and_percentages() {
        assert_eq!(parse_fraction("0.9").unwrap(), 0.9);
        assert_eq!(parse_fraction("90%").unwrap(), 0.9);
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("x").is_err());
        assert_eq!(parse_percent("10%").unwrap(), 0.1);
        assert_eq!(parse_percent("25").unwrap(), 0.25);
        assert!(parse_percent("-1%").is_err());
    }

    #[test]
    fn display_paths() {
        assert_eq!(display_path(Path::new("./a//b/")), "a/b");
        assert_eq!(display_path(Path::new("/x/y")), "/x/y");
        assert_eq!(display_path(Path::new(".")), ".");
        assert_eq!(display_path(Path::new("../s.yaml")), "../s.yaml");
    }
}
