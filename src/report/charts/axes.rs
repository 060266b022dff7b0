//! Axes: ranges, linear and log scales, and tick labels.

use super::spec::{ChartSpec, XAxis};

/// A "nice" upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten, above `v`.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

/// Tick label of a value on an axis whose largest value is `span`.
pub(super) fn fmt_tick(v: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
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

/// "90%", "99.9%" for a nines value.
pub(super) fn fmt_nines(v: f64) -> String {
    let n = v.round();
    let p = 100.0 * (1.0 - 10f64.powf(-v));
    let decimals = if (v - n).abs() < 1e-9 {
        (n as usize).saturating_sub(2)
    } else {
        1
    };
    format!("{p:.decimals$}%")
}

/// Tick label of a log axis at `v` = log10(value): "0.01", "1", "100"; the
/// bottom tick `lo` reads "≤0.01" (it also carries zeros); blank between
/// decades.
pub(super) fn fmt_decade(v: f64, lo: f64) -> String {
    let k = v.round();
    if (v - k).abs() > 1e-6 {
        return String::new();
    }
    let e = k as i32;
    let s = if e < 0 {
        format!("{:.*}", (-e) as usize, 10f64.powi(e))
    } else {
        format!("{}", 10u64.saturating_pow(e as u32))
    };
    if (k - lo).abs() < 1e-6 {
        format!("≤{s}")
    } else {
        s
    }
}

/// The y axis: linear from 0, or log10 between two powers of ten.
#[derive(Clone, Copy, Debug)]
pub(super) struct YScale {
    pub(super) log: bool,
    /// Axis bounds in axis coordinates (log10 of the value on a log axis).
    pub(super) lo: f64,
    pub(super) hi: f64,
}

impl YScale {
    /// A value in axis coordinates (on a log axis, at least the floor).
    pub(super) fn at(&self, y: f64) -> f64 {
        if self.log {
            if y > 0.0 {
                y.log10().max(self.lo)
            } else {
                self.lo
            }
        } else {
            y
        }
    }

    /// Whether a reference line at value `y` is on the axis.
    pub(super) fn shows(&self, y: f64) -> bool {
        let a = if self.log {
            if y > 0.0 {
                y.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            y
        };
        a >= self.lo && a <= self.hi
    }
}

/// Smallest floor of a log axis, ms or whatever the unit: 10^-3.
pub(super) const LOG_FLOOR_EXP: f64 = -3.0;

/// The y axis of a spec whose largest value (reference lines within reach
/// included) is `ymax` and smallest positive value `ymin_pos` (linear: from
/// 0 to a nice ceiling; log: whole decades around the positive values and
/// the reference lines, the bottom at least 10^-3).
pub(super) fn y_scale(spec: &ChartSpec, ymax: f64, ymin_pos: f64) -> YScale {
    if spec.y_log && ymin_pos.is_finite() && ymin_pos > 0.0 {
        // The bottom decade strictly below the smallest positive value and
        // every reference line, so that zeros (drawn on the bottom line)
        // stay apart from them.
        let m = spec
            .hlines
            .iter()
            .map(|h| h.y)
            .filter(|&y| y > 0.0)
            .fold(ymin_pos, f64::min);
        let lo = (m.log10().ceil() - 1.0).max(LOG_FLOOR_EXP);
        let hi = (ymax.log10() + 0.02).ceil().max(lo + 1.0);
        YScale { log: true, lo, hi }
    } else {
        YScale {
            log: false,
            lo: 0.0,
            hi: nice_ceiling(ymax * 1.05),
        }
    }
}

/// The data ranges of a spec: (x min, x max, y max, smallest positive y);
/// y max includes the reference lines within reach.
pub(super) fn ranges(spec: &ChartSpec) -> (f64, f64, f64, f64) {
    let mut xmin = f64::INFINITY;
    let mut xmax = f64::NEG_INFINITY;
    let mut ymax: f64 = 0.0;
    let mut ymin_pos = f64::INFINITY;
    let mut see = |pts: &[(f64, f64)]| {
        for p in pts {
            xmin = xmin.min(p.0);
            xmax = xmax.max(p.0);
            ymax = ymax.max(p.1);
            if p.1 > 0.0 {
                ymin_pos = ymin_pos.min(p.1);
            }
        }
    };
    for s in &spec.lines {
        see(&s.points);
    }
    for b in &spec.bands {
        see(&b.upper);
    }
    if let Some(first) = spec.stacked.first() {
        let n = first.points.len();
        for k in 0..n {
            let y: f64 = spec
                .stacked
                .iter()
                .filter_map(|s| s.points.get(k))
                .map(|p| p.1)
                .sum();
            xmin = xmin.min(first.points[k].0);
            xmax = xmax.max(first.points[k].0);
            ymax = ymax.max(y);
        }
    }
    if !xmin.is_finite() {
        xmin = 0.0;
        xmax = 1.0;
    }
    if let Some(x) = spec.x_max {
        xmax = xmax.max(x);
    }
    if spec.x_axis == XAxis::Time {
        xmin = xmin.min(0.0);
    }
    // A reference line is shown when it is within reach of the data (no more
    // than 3x above it; an assertion's threshold, which carries the verdict,
    // 10x), so a far-away limit does not flatten the curves.
    let data_ymax = ymax;
    for h in &spec.hlines {
        let reach = if h.threshold { 10.0 } else { 3.0 };
        if h.y <= (data_ymax * reach).max(1.0) {
            ymax = ymax.max(h.y);
        }
    }
    // A percentile marked on the nines axis stays on it.
    if spec.x_axis == XAxis::Nines {
        for v in &spec.vlines {
            xmax = xmax.max(v.x);
        }
    }
    if xmax <= xmin {
        xmax = xmin + 1.0;
    }
    (xmin, xmax, ymax, ymin_pos)
}
