//! Rendering a [`ChartSpec`] with plotters, as SVG and as PNG (the DejaVu
//! Sans font compiled into the binary).

use super::axes::{fmt_decade, fmt_nines, fmt_tick, ranges, y_scale};
use super::spec::{ChartSpec, Mark, XAxis};
use super::style::color;
use super::text_bitmap::TextBitmap;
use super::{PLOT_HEIGHT, WIDTH};
use anyhow::anyhow;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// A pixel on the backend.
type BackendCoord = (i32, i32);

/// Height of one legend row, pixels.
const LEGEND_ROW: u32 = 24;

/// A rendered chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartFile {
    /// File stem (`charts/<stem>.png`, `charts/<stem>.svg`).
    pub stem: String,
    /// Title.
    pub title: String,
    /// What to read in it.
    pub caption: String,
    /// SVG markup.
    pub svg: String,
    /// PNG bytes.
    pub png: Vec<u8>,
}

static FONTS: Once = Once::new();

/// Register the embedded DejaVu Sans under the families plotters asks for.
/// Called by [`render`]; idempotent.
pub fn register_fonts() {
    FONTS.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            let ok = register_font(family, FontStyle::Normal, dejavu::sans::regular()).is_ok()
                && register_font(family, FontStyle::Bold, dejavu::sans::bold()).is_ok();
            assert!(ok, "the embedded DejaVu Sans font is valid");
        }
    });
}

pub(super) const FONT: &str = "sans-serif";
pub(super) const TITLE_SIZE: u32 = 24;
pub(super) const LABEL_SIZE: u32 = 15;
pub(super) const DESC_SIZE: u32 = 16;
pub(super) const LEGEND_SIZE: u32 = 15;

/// One legend entry.
pub(super) struct LegendItem {
    name: String,
    color: usize,
    kind: LegendKind,
}

#[derive(Clone, Copy)]
pub(super) enum LegendKind {
    Line(Mark),
    Area,
    Band,
    /// An assertion's threshold: thick long dashes.
    Threshold,
    /// The shaded span.
    Shade,
}

pub(super) struct Legend {
    /// Items with their position (row, x offset in pixels).
    items: Vec<(LegendItem, u32, u32)>,
    rows: u32,
}

pub(super) const SWATCH: u32 = 30;

pub(super) fn legend_items(spec: &ChartSpec) -> Vec<LegendItem> {
    let mut v = Vec::new();
    if let Some(sh) = &spec.shade {
        v.push(LegendItem {
            name: sh.name.clone(),
            color: 0,
            kind: LegendKind::Shade,
        });
    }
    // Stacked areas are listed top layer first, as they appear.
    for s in spec.stacked.iter().rev() {
        v.push(LegendItem {
            name: s.name.clone(),
            color: s.color,
            kind: LegendKind::Area,
        });
    }
    for b in &spec.bands {
        v.push(LegendItem {
            name: b.name.clone(),
            color: b.color,
            kind: LegendKind::Band,
        });
    }
    for s in &spec.lines {
        v.push(LegendItem {
            name: s.name.clone(),
            color: s.color,
            kind: LegendKind::Line(s.mark),
        });
    }
    // Whether each reference line is on the axis (a far-away one is named
    // in the legend but not drawn).
    let (_, _, ymax, ymin_pos) = ranges(spec);
    let ys = y_scale(spec, ymax, ymin_pos);
    for h in &spec.hlines {
        let name = if ys.shows(h.y) {
            h.name.clone()
        } else {
            format!("{} (off the axis)", h.name)
        };
        v.push(LegendItem {
            name,
            color: h.color,
            kind: if h.threshold {
                LegendKind::Threshold
            } else {
                LegendKind::Line(Mark::Dashed)
            },
        });
    }
    v
}

pub(super) fn text_width(text: &str, size: u32) -> u32 {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or(text.len() as u32 * size / 2)
}

pub(super) fn layout_legend(spec: &ChartSpec) -> Legend {
    let avail = WIDTH - 2 * 20;
    let mut items = Vec::new();
    let (mut row, mut x) = (0u32, 0u32);
    for it in legend_items(spec) {
        let w = SWATCH + 8 + text_width(&it.name, LEGEND_SIZE) + 26;
        if x > 0 && x + w > avail {
            row += 1;
            x = 0;
        }
        items.push((it, row, x));
        x += w;
    }
    let rows = if items.is_empty() { 0 } else { row + 1 };
    Legend { items, rows }
}

/// The chart type every chart here uses.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Map data points to backend pixels, dropping repeated pixels and the
/// interior points of horizontal or vertical runs: the same picture with a
/// few vertices per pixel column at most (and no zero-length segments, which
/// plotters' thick-line rasteriser turns into spikes).
pub(super) fn to_pixels<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    points: &[(f64, f64)],
) -> Vec<BackendCoord> {
    let mut out: Vec<BackendCoord> = Vec::with_capacity(points.len().min(4096));
    for p in points {
        let q = chart.backend_coord(p);
        if out.last() == Some(&q) {
            continue;
        }
        let n = out.len();
        if n >= 2 {
            let (a, b) = (out[n - 2], out[n - 1]);
            let same_row = a.1 == b.1 && b.1 == q.1 && (a.0 <= b.0) == (b.0 <= q.0);
            let same_col = a.0 == b.0 && b.0 == q.0 && (a.1 <= b.1) == (b.1 <= q.1);
            if same_row || same_col {
                out[n - 1] = q;
                continue;
            }
        }
        out.push(q);
    }
    out
}

/// Cut a pixel polyline into dashes `on` pixels long with `off`-pixel gaps.
pub(super) fn dashes(px: &[BackendCoord], on: u32, off: u32) -> Vec<Vec<BackendCoord>> {
    let mut out = Vec::new();
    let mut cur: Vec<BackendCoord> = Vec::new();
    let (on, off) = (on as f64, off as f64);
    let mut drawing = true;
    let mut left = on;
    for w in px.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
        let len = (dx * dx + dy * dy).sqrt();
        let at = |d: f64| {
            (
                (a.0 as f64 + dx * d / len).round() as i32,
                (a.1 as f64 + dy * d / len).round() as i32,
            )
        };
        if drawing && cur.is_empty() {
            cur.push(a);
        }
        let mut pos = 0.0;
        while len - pos > left {
            pos += left;
            cur.push(at(pos));
            if drawing {
                out.push(std::mem::take(&mut cur));
                left = off;
            } else {
                cur.clear();
                cur.push(at(pos));
                left = on;
            }
            drawing = !drawing;
        }
        left -= len - pos;
        if drawing {
            cur.push(b);
        }
    }
    if drawing && cur.len() >= 2 {
        out.push(cur);
    }
    out.retain(|d| d.len() >= 2);
    out
}

/// Stroke a pixel polyline. On a bitmap a line wider than 1 px is drawn as
/// offset 1 px lines (a square brush): plotters' polygonised thick lines
/// spike at sharp turns.
pub(super) fn stroke<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    px: &[BackendCoord],
    c: RGBColor,
    width: u32,
    bitmap: bool,
) -> DrawResult<DB> {
    if px.len() < 2 {
        return Ok(());
    }
    if bitmap && width > 1 {
        let w = width as i32;
        for dx in 0..w {
            for dy in 0..w {
                let shifted: Vec<BackendCoord> = px
                    .iter()
                    .map(|p| (p.0 + dx - w / 2, p.1 + dy - w / 2))
                    .collect();
                root.draw(&PathElement::new(shifted, c.stroke_width(1)))?;
            }
        }
        Ok(())
    } else {
        root.draw(&PathElement::new(px.to_vec(), c.stroke_width(width)))
    }
}

pub(super) fn shape(c: usize, width: u32) -> ShapeStyle {
    color(c).stroke_width(width)
}

pub(super) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    legend: &Legend,
    bitmap: bool,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (plot, legend_area) = root.split_vertically(PLOT_HEIGHT);
    let (xmin, xmax, ymax, ymin_pos) = ranges(spec);
    let ys = y_scale(spec, ymax, ymin_pos);
    // Time: seconds on the data, minutes on the axis of a long run.
    let (xs, xunit) = match spec.x_axis {
        XAxis::Time if xmax - xmin > 600.0 => (60.0, "simulated time (min)"),
        XAxis::Time => (1.0, "simulated time (s)"),
        XAxis::Nines => (1.0, "percentile of requests (log scale of 1 / (1 - p))"),
    };
    let (x0, x1) = match spec.x_axis {
        XAxis::Nines => (0.0, xmax.ceil().max(2.0)),
        XAxis::Time => (xmin / xs, xmax / xs),
    };
    let sc = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter().map(|p| (p.0 / xs, ys.at(p.1))).collect()
    };
    let y_desc = if ys.log {
        format!("{} (log scale)", spec.y_label)
    } else {
        spec.y_label.clone()
    };

    let title_font = (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&spec.title, title_font)
        .margin(14)
        .margin_right(56)
        .x_label_area_size(56)
        .y_label_area_size(86)
        .build_cartesian_2d(x0..x1, ys.lo..ys.hi)?;
    let xspan = x1 - x0;
    let x_fmt = |v: &f64| match spec.x_axis {
        XAxis::Nines => fmt_nines(*v),
        XAxis::Time => fmt_tick(*v, xspan),
    };
    let y_fmt = |v: &f64| {
        if ys.log {
            fmt_decade(*v, ys.lo)
        } else {
            fmt_tick(*v, ys.hi)
        }
    };
    let x_labels = match spec.x_axis {
        XAxis::Nines => (x1 - x0) as usize + 1,
        XAxis::Time => 12,
    };
    let y_labels = if ys.log {
        (ys.hi - ys.lo) as usize + 1
    } else {
        8
    };
    let light = if ys.log {
        // Plotters' minor lines would split decades evenly; the log minor
        // lines (2..9 x 10^k) are drawn below instead.
        WHITE
    } else {
        RGBColor(243, 243, 243)
    };
    chart
        .configure_mesh()
        .x_desc(xunit)
        .y_desc(y_desc.as_str())
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .x_labels(x_labels)
        .y_labels(y_labels)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(light)
        .axis_style(RGBColor(90, 90, 90))
        .draw()?;
    if ys.log {
        let mut k = ys.lo;
        while k < ys.hi {
            for m in 2..10 {
                let y = k + (m as f64).log10();
                let px = [chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))];
                root.draw(&PathElement::new(px.to_vec(), RGBColor(238, 238, 238)))?;
            }
            k += 1.0;
        }
    }

    // The shaded span (before measure_after), under everything.
    if let Some(sh) = &spec.shade {
        let (a, b) = ((sh.from / xs).max(x0), (sh.to / xs).min(x1));
        if b > a {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(a, ys.lo), (b, ys.hi)],
                SHADE.filled(),
            )))?;
        }
    }

    // Stacked areas.
    if let Some(first) = spec.stacked.first() {
        let n = first.points.len();
        let mut base = vec![0.0f64; n];
        for s in &spec.stacked {
            let top: Vec<f64> = (0..n)
                .map(|k| base[k] + s.points.get(k).map_or(0.0, |p| p.1))
                .collect();
            let mut poly: Vec<(f64, f64)> = (0..n)
                .map(|k| (first.points[k].0 / xs, ys.at(top[k])))
                .collect();
            poly.extend(
                (0..n)
                    .rev()
                    .map(|k| (first.points[k].0 / xs, ys.at(base[k]))),
            );
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                color(s.color).mix(0.7).filled(),
            )))?;
            let edge: Vec<(f64, f64)> = (0..n)
                .map(|k| (first.points[k].0 / xs, ys.at(top[k])))
                .collect();
            stroke(root, &to_pixels(&chart, &edge), color(s.color), 1, bitmap)?;
            base = top;
        }
    }
    // Bands.
    for b in &spec.bands {
        let mut poly = sc(&b.upper);
        poly.extend(sc(&b.lower).into_iter().rev());
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            color(b.color).mix(0.22).filled(),
        )))?;
        // The edges, thin, so that a brief excursion of one pool (a dip to
        // a threshold) shows even where the band is one pixel wide.
        let edge = blend(color(b.color), 0.55);
        for side in [&b.lower, &b.upper] {
            stroke(root, &to_pixels(&chart, &sc(side)), edge, 1, bitmap)?;
        }
    }
    // Reference lines (limits and guides; thresholds come after the data).
    for h in spec.hlines.iter().filter(|h| !h.threshold) {
        if ys.shows(h.y) {
            let y = ys.at(h.y);
            let px = vec![chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))];
            for d in dashes(&px, 10, 6) {
                stroke(root, &d, color(h.color), 2, bitmap)?;
            }
        }
    }
    // Solid lines, then dashed and dotted lines (targets stay visible on top
    // of the quantity that tracks them), then markers.
    for s in spec.lines.iter().filter(|s| s.mark == Mark::Line) {
        let px = to_pixels(&chart, &sc(&s.points));
        stroke(root, &px, color(s.color), 2, bitmap)?;
    }
    for s in &spec.lines {
        let (on, off) = match s.mark {
            Mark::Dashed => (9, 6),
            Mark::Dotted => (3, 4),
            _ => continue,
        };
        let px = to_pixels(&chart, &sc(&s.points));
        for d in dashes(&px, on, off) {
            stroke(root, &d, color(s.color), 2, bitmap)?;
        }
    }
    // Assertion thresholds, over the data they judge.
    for h in spec.hlines.iter().filter(|h| h.threshold) {
        if ys.shows(h.y) {
            let y = ys.at(h.y);
            let px = vec![chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))];
            for d in dashes(&px, 18, 7) {
                stroke(root, &d, color(h.color), 3, bitmap)?;
            }
        }
    }
    // Vertical lines (events, deadlines, percentiles), each labelled at the
    // top; labels step down so that neighbours do not overwrite each other.
    let label_style = (FONT, VLABEL_SIZE)
        .into_font()
        .color(&BLACK_TEXT)
        .pos(Pos::new(HPos::Left, VPos::Top));
    for (i, v) in spec.vlines.iter().enumerate() {
        let x = v.x / xs;
        if x < x0 || x > x1 {
            continue;
        }
        let top = chart.backend_coord(&(x, ys.hi));
        let bottom = chart.backend_coord(&(x, ys.lo));
        for d in dashes(&[top, bottom], 6, 4) {
            stroke(root, &d, color(v.color), 2, bitmap)?;
        }
        let (tw, _) = (text_width(&v.label, VLABEL_SIZE), 0);
        let right_edge = chart.backend_coord(&(x1, ys.hi)).0;
        let lx = if top.0 + 4 + tw as i32 > right_edge {
            top.0 - 4 - tw as i32
        } else {
            top.0 + 4
        };
        root.draw(&Text::new(
            v.label.clone(),
            (lx, top.1 + 4 + (i % 4) as i32 * (VLABEL_SIZE as i32 + 3)),
            label_style.clone(),
        ))?;
    }
    for s in &spec.lines {
        let pts = sc(&s.points);
        match s.mark {
            Mark::Cross => {
                chart.draw_series(pts.iter().map(|&p| Cross::new(p, 5, shape(s.color, 2))))?;
            }
            Mark::Triangle => {
                chart.draw_series(
                    pts.iter()
                        .map(|&p| TriangleMarker::new(p, 5, color(s.color).filled())),
                )?;
            }
            Mark::Line | Mark::Dashed | Mark::Dotted => {}
        }
    }
    let note = spec
        .note
        .clone()
        .or_else(|| spec.is_empty().then(|| "no data".to_string()));
    if let Some(note) = note {
        let style = (FONT, 20)
            .into_font()
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(
            note,
            ((x0 + x1) / 2.0, ys.lo + (ys.hi - ys.lo) * 0.55),
            style,
        )))?;
    }

    // Legend, below the plot.
    let text_style = (FONT, LEGEND_SIZE)
        .into_font()
        .color(&BLACK_TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (it, row, x) in &legend.items {
        let x = 20 + *x as i32;
        let y = (8 + row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        let c = color(it.color);
        match it.kind {
            LegendKind::Area => {
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    c.mix(0.7).filled(),
                ))?;
            }
            LegendKind::Shade => {
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    SHADE.filled(),
                ))?;
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    RGBColor(200, 200, 200).stroke_width(1),
                ))?;
            }
            LegendKind::Threshold => {
                for k in 0..2 {
                    let a = x + k * 17;
                    legend_area.draw(&PathElement::new(
                        vec![(a, y), (a + 12, y)],
                        c.stroke_width(4),
                    ))?;
                }
            }
            LegendKind::Band => {
                legend_area.draw(&Rectangle::new(
                    [(x, y - 7), (x + SWATCH as i32, y + 7)],
                    c.mix(0.22).filled(),
                ))?;
            }
            LegendKind::Line(Mark::Line) => {
                legend_area.draw(&PathElement::new(
                    vec![(x, y), (x + SWATCH as i32, y)],
                    c.stroke_width(3),
                ))?;
            }
            LegendKind::Line(Mark::Dashed) => {
                for k in 0..3 {
                    let a = x + k * 12;
                    legend_area.draw(&PathElement::new(
                        vec![(a, y), (a + 7, y)],
                        c.stroke_width(3),
                    ))?;
                }
            }
            LegendKind::Line(Mark::Dotted) => {
                for k in 0..5 {
                    let a = x + k * 7;
                    legend_area.draw(&PathElement::new(
                        vec![(a, y), (a + 3, y)],
                        c.stroke_width(3),
                    ))?;
                }
            }
            LegendKind::Line(Mark::Cross) => {
                legend_area.draw(&Cross::new(
                    (x + SWATCH as i32 / 2, y),
                    5,
                    c.stroke_width(2),
                ))?;
            }
            LegendKind::Line(Mark::Triangle) => {
                legend_area.draw(&TriangleMarker::new(
                    (x + SWATCH as i32 / 2, y),
                    6,
                    c.filled(),
                ))?;
            }
        }
        legend_area.draw(&Text::new(
            it.name.clone(),
            (x + SWATCH as i32 + 8, y),
            text_style.clone(),
        ))?;
    }
    root.present()?;
    Ok(())
}

pub(super) const BLACK_TEXT: RGBColor = RGBColor(30, 30, 30);

/// `c` blended with white: `alpha` of `c` (an opaque colour, so that PNG
/// and SVG match without transparency).
fn blend(c: RGBColor, alpha: f64) -> RGBColor {
    let mix = |v: u8| (v as f64 * alpha + 255.0 * (1.0 - alpha)).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Fill of the shaded span (the part of the run before measure_after).
const SHADE: RGBColor = RGBColor(232, 232, 232);

/// Size of a vertical line's label.
const VLABEL_SIZE: u32 = 13;

pub(super) fn height(legend: &Legend) -> u32 {
    PLOT_HEIGHT
        + if legend.rows == 0 {
            0
        } else {
            16 + legend.rows * LEGEND_ROW
        }
}

/// Render a chart as SVG markup.
pub fn render_svg(spec: &ChartSpec) -> anyhow::Result<String> {
    register_fonts();
    let legend = layout_legend(spec);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(&legend))).into_drawing_area();
        draw(&root, spec, &legend, false)
            .map_err(|e| anyhow!("cannot draw chart {}: {e}", spec.stem))?;
    }
    Ok(svg)
}

/// Render a chart as PNG bytes.
pub fn render_png(spec: &ChartSpec) -> anyhow::Result<Vec<u8>> {
    register_fonts();
    let legend = layout_legend(spec);
    let (w, h) = (WIDTH, height(&legend));
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = TextBitmap(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw(&root, spec, &legend, true)
            .map_err(|e| anyhow!("cannot draw chart {}: {e}", spec.stem))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut wr = enc.write_header()?;
        wr.write_image_data(&rgb)?;
    }
    Ok(out)
}

/// Render a chart as both SVG and PNG.
pub fn render(spec: &ChartSpec) -> anyhow::Result<ChartFile> {
    Ok(ChartFile {
        stem: spec.stem.clone(),
        title: spec.title.clone(),
        caption: spec.caption.clone(),
        svg: render_svg(spec)?,
        png: render_png(spec)?,
    })
}

/// Render several charts, in order, on up to two threads.
pub fn render_all(specs: &[ChartSpec]) -> anyhow::Result<Vec<ChartFile>> {
    register_fonts();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    if threads == 1 || specs.len() < 2 {
        return specs.iter().map(render).collect();
    }
    let chunk = specs.len().div_ceil(threads);
    let parts: Vec<anyhow::Result<Vec<ChartFile>>> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(render).collect::<anyhow::Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("chart rendering panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(specs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}
