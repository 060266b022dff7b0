#!/usr/bin/env python3
"""Write dashboards/poolsim.json, the Grafana dashboard of poolsim's metrics.prom.

The dashboard is committed; this script is how it was made, so a change to
the panels is a change here followed by `python3 scripts/gen-dashboard.py`.
tests/prometheus.rs runs every query of the written file against a real
Prometheus holding a run.
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
RUN = 'scenario="$scenario",seed="$seed",mode="$mode"'
POOL = RUN + ',service=~"$service"'
RES = POOL + ',stack!="pool"'      # pools with a reservoir
SQL = POOL + ',stack!="direct"'    # pools with database/sql
RI = "$__rate_interval"

panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                   "id": len(panels) + 1, "panels": []})
    y += 1


def panel(title, desc, targets, unit="short", x=0, w=12, h=8, stack=False,
          log=False, kind="timeseries", thresholds=None, dashed=None):
    global y
    tg = []
    for i, (expr, legend) in enumerate(targets):
        t = {"refId": chr(65 + i), "datasource": DS, "expr": expr,
             "legendFormat": legend, "range": kind == "timeseries",
             "instant": kind != "timeseries"}
        tg.append(t)
    custom = {}
    if kind == "timeseries":
        custom = {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 0,
                  "showPoints": "never", "spanNulls": False}
        if stack:
            custom.update({"stacking": {"mode": "normal", "group": "A"},
                           "fillOpacity": 60})
        if log:
            custom["scaleDistribution"] = {"type": "log", "log": 10}
        if thresholds:
            custom["thresholdsStyle"] = {"mode": "dashed"}
    defaults = {"unit": unit, "custom": custom}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
    else:
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": [{"color": "green", "value": None}]}
    overrides = []
    if dashed:
        overrides.append({
            "matcher": {"id": "byRegexp", "options": dashed},
            "properties": [{"id": "custom.lineStyle",
                            "value": {"fill": "dash", "dash": [10, 6]}},
                           {"id": "color",
                            "value": {"mode": "fixed", "fixedColor": "gray"}}]})
    p = {"type": kind, "title": title, "description": desc,
         "datasource": DS, "id": len(panels) + 1,
         "gridPos": {"h": h, "w": w, "x": x, "y": y},
         "targets": tg,
         "fieldConfig": {"defaults": defaults, "overrides": overrides}}
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    else:
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"],
                                          "fields": "", "values": False},
                        "orientation": "horizontal", "displayMode": "basic",
                        "showUnfilled": True}
    panels.append(p)
    if x + w >= 24:
        y += h


row("Reservoir (the panels of the production reservoir dashboard)")
panel("Reservoir size vs target",
      "dsql_reservoir_size (ready connections) against dsql_reservoir_target "
      "(target_ready, dashed). Ready should sit on the target; a dip is demand "
      "draining the buffer, the climb back the refiller.",
      [(f"dsql_reservoir_size{{{RES}}}", "{{service}} size"),
       (f"dsql_reservoir_target{{{RES}}}", "{{service}} target")],
      x=0, dashed="/target/")
panel("Reservoir fill: size / target",
      "The production alert fires below 0.5 for 5 minutes (red line).",
      [(f"dsql_reservoir_size{{{RES}}} / dsql_reservoir_target{{{RES}}}",
        "{{service}}")],
      unit="percentunit", x=12,
      thresholds=[{"color": "red", "value": None},
                  {"color": "green", "value": 0.5}])
panel("Checkouts per second",
      "rate(dsql_reservoir_checkouts_total): successful reservoir checkouts.",
      [(f"sum by (service) (rate(dsql_reservoir_checkouts_total{{{RES}}}[{RI}]))",
        "{{service}}")], unit="ops", x=0)
panel("Empty events per second",
      "rate(dsql_reservoir_empty_total): TryCheckout found no usable "
      "connection. The production alert fires on any for 2 minutes.",
      [(f"sum by (service) (rate(dsql_reservoir_empty_total{{{RES}}}[{RI}]))",
        "{{service}}")], unit="ops", x=12,
      thresholds=[{"color": "green", "value": None},
                  {"color": "red", "value": 0.0001}])
panel("Discards per second by reason",
      "rate(dsql_reservoir_discards_total) stacked by reason. reservoir_full "
      "is a returned connection that found the buffer full; expiry and guard "
      "reasons are lifetime turnover.",
      [(f"sum by (reason) (rate(dsql_reservoir_discards_total{{{RES}}}[{RI}]))",
        "{{reason}}")], unit="ops", x=0, stack=True)
panel("Refills and refill failures per second",
      "rate(dsql_reservoir_refills_total) per pool, and "
      "rate(dsql_reservoir_refill_failures_total) by the step that failed.",
      [(f"sum by (service) (rate(dsql_reservoir_refills_total{{{RES}}}[{RI}]))",
        "{{service}} refills"),
       (f"sum by (reason) (rate(dsql_reservoir_refill_failures_total{{{RES}}}[{RI}]))",
        "failed: {{reason}}")], unit="ops", x=12)
panel("Checkout latency over the whole run (p50, p99)",
      "dsql_reservoir_checkout_latency_milliseconds: poolsim writes one "
      "histogram per pool at the end of the run, so this panel reads it at "
      "the end of the time range: end the range at most 5 minutes after the "
      "run. Healthy is p99 below 1 ms; the production alert level is 10 ms.",
      [(f"histogram_quantile(0.5, sum by (le, service) "
        f"(dsql_reservoir_checkout_latency_milliseconds_bucket{{{POOL}}}))",
        "{{service}} p50"),
       (f"histogram_quantile(0.99, sum by (le, service) "
        f"(dsql_reservoir_checkout_latency_milliseconds_bucket{{{POOL}}}))",
        "{{service}} p99")],
      unit="ms", x=0, kind="bargauge",
      thresholds=[{"color": "green", "value": None},
                  {"color": "orange", "value": 1},
                  {"color": "red", "value": 10}])
panel("Wait for a connection per sample window (p50, p99)",
      "poolsim_window_wait_p50_seconds and _p99_seconds: the waits that ended "
      "in each sample window (0 without waits), every stack.",
      [(f"poolsim_window_wait_p50_seconds{{{POOL}}}", "{{service}} p50"),
       (f"poolsim_window_wait_p99_seconds{{{POOL}}}", "{{service}} p99")],
      unit="s", x=12)

row("database/sql (plain pools, and the production wiring on the reservoir)")
panel("database/sql connections: open, in use, idle vs MaxOpen",
      "dsql_pool_open (idle + in use, what database/sql holds), dsql_pool_in_use, "
      "dsql_pool_idle against dsql_pool_max_open (dashed).",
      [(f"dsql_pool_open{{{SQL}}}", "{{service}} open"),
       (f"dsql_pool_in_use{{{SQL}}}", "{{service}} in use"),
       (f"dsql_pool_idle{{{SQL}}}", "{{service}} idle"),
       (f"dsql_pool_max_open{{{SQL}}}", "{{service}} max_open")],
      x=0, dashed="/max_open/")
panel("database/sql closes per second by cause",
      "rate of dsql_db_closed_max_lifetime_total (ConnMaxLifetime), "
      "dsql_db_closed_max_idle_time_total (ConnMaxIdleTime) and "
      "dsql_db_closed_max_idle_total (returns that found MaxIdle idle).",
      [(f"sum by (service) (rate(dsql_db_closed_max_lifetime_total{{{SQL}}}[{RI}]))",
        "{{service}} max_lifetime"),
       (f"sum by (service) (rate(dsql_db_closed_max_idle_time_total{{{SQL}}}[{RI}]))",
        "{{service}} max_idle_time"),
       (f"sum by (service) (rate(dsql_db_closed_max_idle_total{{{SQL}}}[{RI}]))",
        "{{service}} max_idle")], unit="ops", x=12)
panel("Requests per second and failed requests by cause",
      "poolsim_requests_total per pool and poolsim_request_failures_total by "
      "cause (deadline, no_connection, open_failed, bad_conn).",
      [(f"sum by (service) (rate(poolsim_requests_total{{{POOL}}}[{RI}]))",
        "{{service}} requests"),
       (f"sum by (cause) (rate(poolsim_request_failures_total{{{POOL}}}[{RI}]))",
        "failed: {{cause}}")], unit="reqps", x=0)
panel("Requests waiting for a connection",
      "poolsim_requests_waiting: the reservoir's brief wait and database/sql's queue.",
      [(f"poolsim_requests_waiting{{{POOL}}}", "{{service}}")], x=12)
panel("Physical connections per pool, and opens per second",
      "poolsim_pool_physical_connections (ready + idle + in use) and the rate "
      "of poolsim_pool_opens_total (every opener).",
      [(f"poolsim_pool_physical_connections{{{POOL}}}", "{{service}} physical"),
       (f"sum by (service) (rate(poolsim_pool_opens_total{{{POOL}}}[{RI}]))",
        "{{service}} opens/s")], x=0, w=24)

row("Cluster")
panel("Connections open on the cluster",
      "poolsim_cluster_connections: every pool together (the cluster's "
      "max_connections bounds it).",
      [(f"poolsim_cluster_connections{{{RUN}}}", "open connections")], x=0)
panel("Connect attempts per second, cluster-wide",
      "rate(poolsim_cluster_connect_attempts_total): averaged over the rate "
      "interval (the report's chart shows every second).",
      [(f"rate(poolsim_cluster_connect_attempts_total{{{RUN}}}[{RI}])",
        "connect attempts/s")], unit="ops", x=12)


def var(name, label, query, multi=False):
    v = {"name": name, "label": label, "type": "query", "datasource": DS,
         "query": {"query": query, "refId": f"{name}-var"},
         "definition": query, "refresh": 1, "sort": 1,
         "multi": multi, "includeAll": multi, "current": {}, "options": []}
    if multi:
        v["allValue"] = ".*"
    return v


dashboard = {
    "title": "poolsim: reservoir, database/sql and cluster",
    "uid": "poolsim",
    "description": "A poolsim run's metrics.prom, backfilled into Prometheus. "
                   "Pick the run with scenario, seed and mode; set the time "
                   "range to the run (start_time of the scenario, 2026-01-01 "
                   "00:00 UTC by default).",
    "tags": ["poolsim", "dsql"],
    "timezone": "utc",
    "editable": True,
    "schemaVersion": 39,
    "version": 1,
    "graphTooltip": 1,
    "time": {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T00:35:00.000Z"},
    "refresh": "",
    "templating": {"list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {}, "options": [], "refresh": 1,
         "hide": 0},
        var("scenario", "scenario", "label_values(poolsim_cluster_connections, scenario)"),
        var("seed", "seed",
            'label_values(poolsim_cluster_connections{scenario="$scenario"}, seed)'),
        var("mode", "mode",
            'label_values(poolsim_cluster_connections{scenario="$scenario",seed="$seed"}, mode)'),
        var("service", "service",
            f'label_values(poolsim_requests_total{{{RUN}}}, service)', multi=True),
    ]},
    "annotations": {"list": []},
    "panels": panels,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dashboards",
                   "poolsim.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
print("wrote", os.path.normpath(out))
