//! What a chart shows: [`ChartSpec`] and its parts, pure data that
//! [`super::render`] draws.

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A solid line.
    Line,
    /// A dashed line (targets, limits, the second quantity of a pair).
    Dashed,
    /// A dotted line (a third quantity of one colour).
    Dotted,
    /// A cross at each point (events: only the windows where they happened).
    Cross,
    /// A triangle at each point.
    Triangle,
}

/// One named series of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points, x ascending.
    pub points: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
    /// How it is drawn.
    pub mark: Mark,
}

/// A min..max band (drawn translucent; its median goes in `lines`).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// Legend name.
    pub name: String,
    /// Lower edge (min), x ascending.
    pub lower: Vec<(f64, f64)>,
    /// Upper edge (max), same x as `lower`.
    pub upper: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
}

/// A horizontal reference line (a limit or a threshold).
#[derive(Clone, Debug, PartialEq)]
pub struct HLine {
    /// Legend name.
    pub name: String,
    /// Its value.
    pub y: f64,
    /// Palette index.
    pub color: usize,
    /// An assertion's threshold (drawn thicker, with long dashes, and kept
    /// on the axis when within 10x of the data; a limit or guide line only
    /// when within 3x).
    pub threshold: bool,
}

/// A vertical reference line: an event at an instant (time axis), an
/// assertion's deadline, or a percentile (nines axis).
#[derive(Clone, Debug, PartialEq)]
pub struct VLine {
    /// Label drawn beside the line at the top of the plot.
    pub label: String,
    /// Its x, in data units (seconds, or nines).
    pub x: f64,
    /// Palette index.
    pub color: usize,
}

/// A shaded span of the x axis, with its legend name.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    /// Legend name.
    pub name: String,
    /// From, in data units.
    pub from: f64,
    /// To, in data units.
    pub to: f64,
}

/// The x axis of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    /// Simulated seconds (labelled in minutes when the run is longer than 10 minutes).
    Time,
    /// Percentile, as "nines": x = log10(1 / (1 - p)), so 1 = 90%, 2 = 99%, 3 = 99.9%.
    Nines,
}

/// Everything one chart shows: pure data, rendered by [`render`].
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSpec {
    /// File stem under `charts/` (also the HTML anchor).
    pub stem: String,
    /// Title drawn on the chart.
    pub title: String,
    /// One line saying what to read in it (the HTML caption).
    pub caption: String,
    /// The x axis.
    pub x_axis: XAxis,
    /// Y axis description with its unit.
    pub y_label: String,
    /// Stacked areas, bottom first; all share the same x.
    pub stacked: Vec<Series>,
    /// Min..max bands.
    pub bands: Vec<Band>,
    /// Lines and markers, drawn over the areas.
    pub lines: Vec<Series>,
    /// Horizontal reference lines.
    pub hlines: Vec<HLine>,
    /// Vertical reference lines (events, deadlines, percentiles).
    pub vlines: Vec<VLine>,
    /// A shaded span (the part of the run before `measure_after`).
    pub shade: Option<Shade>,
    /// A remark drawn in the middle of the plot (e.g. "no refill failures").
    pub note: Option<String>,
    /// The end of the x axis in data units (a time chart spans the whole run
    /// even when it has nothing to draw); None: the data's extent.
    pub x_max: Option<f64>,
    /// A logarithmic y axis (values at or below its floor, zeros included,
    /// are drawn on the bottom line). The points keep their values.
    pub y_log: bool,
}

impl ChartSpec {
    pub(super) fn new(
        stem: &str,
        title: &str,
        caption: String,
        x_axis: XAxis,
        y_label: &str,
    ) -> Self {
        ChartSpec {
            stem: stem.to_string(),
            title: title.to_string(),
            caption,
            x_axis,
            y_label: y_label.to_string(),
            stacked: Vec::new(),
            bands: Vec::new(),
            lines: Vec::new(),
            hlines: Vec::new(),
            vlines: Vec::new(),
            shade: None,
            note: None,
            x_max: None,
            y_log: false,
        }
    }

    /// The series (stacked layers first, then lines) with this legend name.
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.stacked
            .iter()
            .chain(self.lines.iter())
            .find(|s| s.name == name)
    }

    /// Keep lines that coincide visible: a line whose points equal an
    /// earlier line's is drawn with another dash (dashed and dotted lines
    /// are drawn over solid ones) and its legend name says which line it
    /// covers.
    pub fn mark_coincident(&mut self) {
        let drawn = |m: Mark| matches!(m, Mark::Line | Mark::Dashed | Mark::Dotted);
        for i in 1..self.lines.len() {
            if self.lines[i].points.is_empty() || !drawn(self.lines[i].mark) {
                continue;
            }
            let Some(j) = (0..i).find(|&j| {
                drawn(self.lines[j].mark) && self.lines[j].points == self.lines[i].points
            }) else {
                continue;
            };
            if self.lines[i].mark == self.lines[j].mark {
                self.lines[i].mark = match self.lines[j].mark {
                    Mark::Line | Mark::Dotted => Mark::Dashed,
                    _ => Mark::Dotted,
                };
            }
            let other = self.lines[j].name.clone();
            self.lines[i].name.push_str(&format!(" (same as {other})"));
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.stacked.iter().all(|s| s.points.is_empty())
            && self.lines.iter().all(|s| s.points.is_empty())
            && self.bands.iter().all(|b| b.upper.is_empty())
    }
}
