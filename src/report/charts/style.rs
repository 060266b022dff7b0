//! Colours and line styles: the palette, the fixed colour of each discard
//! reason, close cause and failure cause, and the colour and dash of each run
//! of a comparison.

use super::spec::Mark;
use super::Run;
use crate::model::reservoir::Discard;
use crate::model::sql_pool::CloseCause;
use crate::model::world::FailCause;
use plotters::style::RGBColor;

/// The colour palette (Tableau 10, then black and dark grey).
pub const PALETTE: [(u8, u8, u8); 14] = [
    (31, 119, 180),  // 0 blue
    (255, 127, 14),  // 1 orange
    (44, 160, 44),   // 2 green
    (214, 39, 40),   // 3 red
    (148, 103, 189), // 4 purple
    (140, 86, 75),   // 5 brown
    (227, 119, 194), // 6 pink
    (127, 127, 127), // 7 grey
    (188, 189, 34),  // 8 olive
    (23, 190, 207),  // 9 cyan
    (0, 0, 0),       // 10 black
    (80, 80, 80),    // 11 dark grey
    (26, 127, 55),   // 12 a passed assertion's green
    (207, 34, 46),   // 13 a failed assertion's red
];
pub(super) const BLUE: usize = 0;
pub(super) const ORANGE: usize = 1;
pub(super) const GREEN: usize = 2;
pub(super) const RED: usize = 3;
pub(super) const PURPLE: usize = 4;
pub(super) const BROWN: usize = 5;
pub(super) const PINK: usize = 6;
pub(super) const GREY: usize = 7;
pub(super) const OLIVE: usize = 8;
pub(super) const CYAN: usize = 9;
pub(super) const BLACK: usize = 10;
pub(super) const DARK: usize = 11;
pub(super) const PASS: usize = 12;
pub(super) const FAIL: usize = 13;

pub(super) fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Colours of the runs of a comparison, in run order: every series of a run
/// has its run's colour (and the quantity is told by the line style).
pub const RUN_COLORS: [usize; 8] = [BLUE, ORANGE, GREEN, PURPLE, BROWN, PINK, CYAN, OLIVE];

/// Colours of the pools (or services) of one run's per-pool lines; red,
/// black and the failure colours are kept for event marks.
pub(super) const GROUP_COLORS: [usize; 8] = [BLUE, ORANGE, GREEN, CYAN, OLIVE, GREY, DARK, PURPLE];

/// The colour of run `ri` of a comparison.
pub fn run_color(ri: usize) -> usize {
    RUN_COLORS[ri % RUN_COLORS.len()]
}

/// The colour of a quantity: `base` in a single run, the run's colour when
/// comparing.
pub(super) fn hue(runs: &[Run], ri: usize, base: usize) -> usize {
    if runs.len() > 1 {
        run_color(ri)
    } else {
        base
    }
}

/// The line style of run `ri` in a chart that draws one quantity per run:
/// solid, dashed, dotted, so that runs whose lines coincide stay visible.
pub(super) fn run_mark(runs: &[Run], ri: usize) -> Mark {
    if runs.len() > 1 {
        [Mark::Line, Mark::Dashed, Mark::Dotted][ri % 3]
    } else {
        Mark::Line
    }
}

/// Fixed colour of a request-failure cause.
pub(super) fn cause_color(f: FailCause) -> usize {
    match f {
        FailCause::Deadline => BLACK,
        FailCause::NoConnection => PURPLE,
        FailCause::OpenFailed => BROWN,
        FailCause::BadConn => PINK,
        FailCause::Unavailable => OLIVE,
    }
}

/// Fixed colour of a discard reason.
pub(super) fn discard_color(d: Discard) -> usize {
    match d {
        Discard::ReservoirFull => 7,
        Discard::ExpiredOnCheckout => 3,
        Discard::InsufficientRemainingLifetime => 1,
        Discard::ExpiredOnWait => 6,
        Discard::InsufficientRemainingLifetimeOnWait => 8,
        Discard::ExpiredOnReturn => 5,
        Discard::InsufficientRemainingLifetimeOnReturn => 9,
        Discard::ExpiredOnScan => 4,
        Discard::ExpiringSoonOnScan => 0,
    }
}

/// Fixed colour of a database/sql close cause.
pub(super) fn close_color(c: CloseCause) -> usize {
    match c {
        CloseCause::Lifetime => PURPLE,
        CloseCause::IdleTime => CYAN,
        CloseCause::MaxIdle => GREY,
        CloseCause::Bad => RED,
    }
}

/// Make a file-name-safe stem from a pool name.
pub fn stem_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "pool".into()
    } else {
        s
    }
}
