//! metrics.prom against Prometheus' own tools, and the shipped Grafana
//! dashboard against a real Prometheus.
//!
//! - `promtool check metrics` on every shipped scenario's metrics.prom finds
//!   nothing but the one finding poolsim keeps on purpose (the production
//!   histogram's millisecond unit).
//! - A run's metrics.prom is backfilled into a TSDB (`promtool tsdb
//!   create-blocks-from openmetrics`), Prometheus serves it on a loopback
//!   port, and every query of `dashboards/poolsim.json` (and every template
//!   variable's `label_values`) returns data for the run over its HTTP API.
//!
//! Both need the `prometheus` and `promtool` binaries (Debian's `prometheus`
//! package; `.ci/run` installs it). Without them the tests print why they
//! skip and pass, unless `POOLSIM_REQUIRE_PROMETHEUS` is set (as `.ci/run`
//! sets it once the package is installed), when they fail.
//! The dashboard's structure is checked without them.

use poolsim::report::prom;
use poolsim::scenario::{self, Scenario};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The one finding of `promtool check metrics` that poolsim keeps: the
/// production histogram's name and unit (docs/domain.md section 8, README "metrics.prom").
const KEPT_FINDING: &str =
    "dsql_reservoir_checkout_latency_milliseconds use base unit \"seconds\" instead of \"milliseconds\"";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// Whether the binaries are there; if not, say why the test skips (straight
/// to stderr, past the test harness' capture) or fail when they are required.
fn have(bins: &[&str], test: &str) -> bool {
    let missing: Vec<&str> = bins.iter().copied().filter(|b| !on_path(b)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: skipped: {} not on PATH (install Debian's `prometheus` package; .ci/run does)",
        missing.join(" and ")
    );
    assert!(
        std::env::var_os("POOLSIM_REQUIRE_PROMETHEUS").is_none(),
        "{msg}, but POOLSIM_REQUIRE_PROMETHEUS is set"
    );
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("poolsim-prom-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn metrics_of(sc: &Scenario) -> String {
    let o = poolsim::run::run(sc).expect("the run completes");
    prom::openmetrics(&o.observations, sc.start_unix_ns, &prom::RunLabels::of(sc))
}

/// `promtool check metrics` on a file: its findings, one per line.
fn promtool_findings(file: &Path) -> Vec<String> {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn promtool_check_metrics_is_clean_on_every_shipped_scenario() {
    if !have(
        &["promtool"],
        "promtool_check_metrics_is_clean_on_every_shipped_scenario",
    ) {
        return;
    }
    let dir = tmp("check");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the shipped scenarios");
    for f in files {
        let sc = scenario::load(&f).unwrap();
        let out = dir.join("metrics.prom");
        std::fs::write(&out, metrics_of(&sc)).unwrap();
        assert_eq!(
            promtool_findings(&out),
            vec![KEPT_FINDING.to_string()],
            "{}",
            f.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run with every stack, so every panel of the dashboard has something to show.
const MIXED: &str = "
name: prometheus-check
seed: 7
duration: 6m
start_time: 2026-01-01T00:00:00Z
global_rate_limit: 30
workload:
  type: burst
  baseline_rate: 20
  burst_rate: 300
  burst_duration: 10s
  burst_interval: 2m
  hold_duration: 50ms
  hold_distribution: exponential
pools:
  - name: history-1
    target_size: 10
    reservoir: {enabled: true, base_lifetime: 2m, jitter: 30s, guard_window: 10s}
  - name: matching-1
    target_size: 10
    reservoir: {enabled: true, stack: database_sql, base_lifetime: 2m, jitter: 30s, guard_window: 10s}
  - name: frontend-1
    target_size: 10
    pool: {max_lifetime: 2m, max_idle: 5}
";

/// A Prometheus we started; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port: the kernel picks it (port 0), so tests running at
/// once get different ones.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn percent_encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// GET a path of the server; (status code, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
    Ok((code, body))
}

fn get_json(port: u16, path: &str) -> serde_json::Value {
    let (code, body) = get(port, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(code, 200, "GET {path}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "GET {path}: {body}");
    v
}

/// Start Prometheus on `tsdb`; retried on another port if the one picked was
/// taken meanwhile. Waits (at most 60 s) until it is ready.
fn start_prometheus(tsdb: &Path, dir: &Path) -> (Server, u16) {
    for _ in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                root().join("dashboards/prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut server = Server(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = server.0.try_wait() {
                break; // exited: the port was taken, or worse; see below
            }
            if let Ok((200, _)) = get(port, "/-/ready") {
                return (server, port);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        drop(server);
    }
    panic!(
        "prometheus did not become ready:\n{}",
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    );
}

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("dashboards/poolsim.json")).unwrap();
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every (panel title, PromQL expression) of the dashboard, rows included.
fn queries(d: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(p: &serde_json::Value, out: &mut Vec<(String, String)>) {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap_or("").to_string(),
                t["expr"].as_str().expect("a target has expr").to_string(),
            ));
        }
        for q in p["panels"].as_array().into_iter().flatten() {
            walk(q, out);
        }
    }
    for p in d["panels"].as_array().unwrap() {
        walk(p, &mut out);
    }
    out
}

/// The dashboard's query with its variables set to one run.
fn bind(expr: &str, sc: &Scenario, mode: &str) -> String {
    expr.replace("$scenario", &sc.name)
        .replace("$seed", &sc.world.seed.to_string())
        .replace("$mode", mode)
        .replace("$service", ".*")
        .replace("$__rate_interval", "1m")
}

#[test]
fn dashboard_is_importable_and_names_only_written_metrics() {
    let d = dashboard();
    assert_eq!(d["uid"], "poolsim");
    assert!(d["schemaVersion"].as_u64().unwrap() >= 30);
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "scenario", "seed", "mode", "service"]);
    let mut ids = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        ids.push(p["id"].as_u64().unwrap());
        assert!(p["gridPos"]["w"].as_u64().unwrap() > 0);
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "panel ids are unique");
    // The production reservoir panels (Task 10 of the reservoir task list).
    let titles: Vec<String> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_lowercase())
        .collect();
    for want in [
        "size vs target",
        "checkouts",
        "empty events",
        "discards",
        "refill failures",
        "checkout latency",
        "database/sql",
        "cluster",
    ] {
        assert!(titles.iter().any(|t| t.contains(want)), "a panel on {want}");
    }
    // Every metric a query names is one metrics.prom writes.
    let sc = scenario::parse(MIXED, "<mixed>", "mixed").unwrap();
    let text = metrics_of(&sc);
    let written: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let qs = queries(&d);
    assert!(qs.len() >= 20, "{} queries", qs.len());
    for (title, q) in &qs {
        let mut rest = q.as_str();
        while let Some(i) = rest.find(|c: char| c.is_ascii_lowercase()) {
            rest = &rest[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if word.starts_with("dsql_") || word.starts_with("poolsim_") {
                let family = word.strip_suffix("_bucket").unwrap_or(word);
                assert!(written.contains(family), "{title}: {word} is not written");
            }
            rest = &rest[end..];
        }
    }
}

#[test]
fn dashboard_queries_return_data_from_a_real_prometheus() {
    if !have(
        &["prometheus", "promtool"],
        "dashboard_queries_return_data_from_a_real_prometheus",
    ) {
        return;
    }
    let dir = tmp("serve");
    let sc = scenario::parse(MIXED, "<mixed>", "mixed").unwrap();
    let file = dir.join("metrics.prom");
    std::fs::write(&file, metrics_of(&sc)).unwrap();
    let tsdb = dir.join("tsdb");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&tsdb)
        .stdout(Stdio::null())
        .status()
        .expect("promtool runs");
    assert!(
        status.success(),
        "promtool tsdb create-blocks-from openmetrics"
    );

    let (server, port) = start_prometheus(&tsdb, &dir);
    let start = sc.start_unix_ns / 1_000_000_000;
    let end = start + sc.world.duration / 1_000_000_000;
    let mode = "mixed";

    // The template variables' label_values, in order.
    let series = |matcher: &str, label: &str| -> Vec<String> {
        let v = get_json(
            port,
            &format!(
                "/api/v1/label/{label}/values?match[]={}&start={start}&end={}",
                percent_encode(matcher),
                end + 60
            ),
        );
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        series("poolsim_cluster_connections", "scenario"),
        std::slice::from_ref(&sc.name)
    );
    assert_eq!(
        series(
            &format!("poolsim_cluster_connections{{scenario=\"{}\"}}", sc.name),
            "seed"
        ),
        ["7"]
    );
    assert_eq!(
        series(
            &format!(
                "poolsim_cluster_connections{{scenario=\"{}\",seed=\"7\"}}",
                sc.name
            ),
            "mode"
        ),
        [mode]
    );
    assert_eq!(
        series(
            &format!(
                "poolsim_requests_total{{scenario=\"{}\",seed=\"7\",mode=\"{mode}\"}}",
                sc.name
            ),
            "service"
        ),
        ["frontend-1", "history-1", "matching-1"]
    );

    // Every panel query, over the run (and the 5 minutes' lookback after it,
    // where the final-state latency histogram is read).
    let d = dashboard();
    let mut empty = Vec::new();
    for (title, q) in queries(&d) {
        let expr = bind(&q, &sc, mode);
        let v = get_json(
            port,
            &format!(
                "/api/v1/query_range?query={}&start={start}&end={}&step=15",
                percent_encode(&expr),
                end + 60
            ),
        );
        let result = v["data"]["result"].as_array().unwrap();
        let points: usize = result
            .iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum();
        if points == 0 {
            empty.push(format!("{title}: {expr}"));
        }
    }
    drop(server);
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
