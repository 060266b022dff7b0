//! Charts of `compare --seeds`: error bars across seeds.
//!
//! - `intervals`: one panel per figure, one bar per mode: the mean over the
//!   seeds (dot) and its 95% Student t interval (bar with caps);
//! - `paired-differences`: one panel per figure, one bar per pair of modes:
//!   the mean of the per-seed differences `a - b` and its interval, with the
//!   zero line; a bar that excludes zero is drawn in colour, one that does
//!   not in grey.
//!
//! These charts have a categorical x axis (modes, or pairs), so they are
//! drawn here directly with plotters rather than through [`super::ChartSpec`]
//! (whose x axis is time or percentile); the fonts, colours and the PNG
//! text rasteriser are the other charts'. Output is deterministic.

use super::render::{register_fonts, ChartFile, BLACK_TEXT, FONT};
use super::style::{color, run_color, GREY, RED};
use super::text_bitmap::TextBitmap;
use super::WIDTH;
use crate::compare::seeds::{applies, Replications, FIGURES};
use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// Height of one panel, pixels.
const PANEL_HEIGHT: u32 = 230;
/// Height of the title band, pixels.
const TITLE_HEIGHT: u32 = 56;

/// One bar of a panel: its label, colour, and (lo, mean, hi) or why none.
struct Bar {
    label: String,
    color: usize,
    value: Result<(f64, f64, f64), &'static str>,
}

/// One panel: a figure's bars.
struct Panel {
    title: String,
    bars: Vec<Bar>,
    zero_line: bool,
}

/// A tick label with as many decimals as the axis span needs.
fn tick(v: f64, span: f64) -> String {
    let decimals = if span <= 0.0 || !span.is_finite() {
        0
    } else {
        (1 - (span / 4.0).log10().floor() as i32).clamp(0, 8) as usize
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

fn label_of(key: &str) -> String {
    match FIGURES.iter().find(|f| f.key == key) {
        Some(f) if !f.unit.is_empty() => format!("{} ({})", f.label, f.unit),
        Some(f) => f.label.to_string(),
        None => key.to_string(),
    }
}

fn y_range(panel: &Panel) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for b in &panel.bars {
        if let Ok((l, _, h)) = b.value {
            lo = lo.min(l);
            hi = hi.max(h);
        }
    }
    if panel.zero_line {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.12
    } else {
        (hi.abs() * 0.1)
            .max(1e-9)
            .max(if hi == 0.0 { 1.0 } else { 0.0 })
    };
    (lo - pad, hi + pad)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let k = panel.bars.len().max(1);
    let (ylo, yhi) = y_range(panel);
    let span = yhi - ylo;
    let title_font = (FONT, 15).into_font().style(FontStyle::Bold);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, title_font)
        .margin(8)
        .margin_right(16)
        .x_label_area_size(26)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..(k as f64 - 0.5), ylo..yhi)?;
    let names: Vec<String> = panel.bars.iter().map(|b| b.label.clone()).collect();
    let x_fmt = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let y_fmt = |y: &f64| tick(*y, span);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(k)
        .y_labels(5)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 12))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(WHITE)
        .axis_style(RGBColor(90, 90, 90))
        .draw()?;
    if panel.zero_line {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (k as f64 - 0.5, 0.0)],
            RGBColor(60, 60, 60).stroke_width(1),
        )))?;
    }
    let note_style = (FONT, 13)
        .into_font()
        .color(&RGBColor(90, 90, 90))
        .pos(Pos::new(HPos::Center, VPos::Center));
    for (i, b) in panel.bars.iter().enumerate() {
        let x = i as f64;
        match b.value {
            Ok((lo, mean, hi)) => {
                let c = color(b.color);
                let style = c.stroke_width(2);
                // Caps of the same width in pixels whatever the bar count.
                let cap = 0.04 * k as f64;
                chart.draw_series([
                    PathElement::new(vec![(x, lo), (x, hi)], style),
                    PathElement::new(vec![(x - cap, lo), (x + cap, lo)], style),
                    PathElement::new(vec![(x - cap, hi), (x + cap, hi)], style),
                ])?;
                chart.draw_series(std::iter::once(Circle::new((x, mean), 4, c.filled())))?;
            }
            Err(why) => {
                chart.draw_series(std::iter::once(Text::new(
                    why.to_string(),
                    (x, (ylo + yhi) / 2.0),
                    note_style.clone(),
                )))?;
            }
        }
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    panels: &[Panel],
    cols: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(TITLE_HEIGHT);
    head.draw(&Text::new(
        title.to_string(),
        (14, 8),
        (FONT, 22)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK_TEXT),
    ))?;
    head.draw(&Text::new(
        subtitle.to_string(),
        (14, 36),
        (FONT, 14).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let rows = panels.len().div_ceil(cols).max(1);
    let areas = body.split_evenly((rows, cols));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        draw_panel(area, panel)?;
    }
    root.present()?;
    Ok(())
}

fn render_grid(
    stem: &str,
    title: &str,
    subtitle: &str,
    caption: String,
    panels: &[Panel],
    cols: usize,
) -> anyhow::Result<ChartFile> {
    register_fonts();
    let rows = panels.len().div_ceil(cols).max(1) as u32;
    let (w, h) = (WIDTH, TITLE_HEIGHT + rows * PANEL_HEIGHT);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw(&root, title, subtitle, panels, cols)
            .map_err(|e| anyhow!("cannot draw chart {stem}: {e}"))?;
    }
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = TextBitmap(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw(&root, title, subtitle, panels, cols)
            .map_err(|e| anyhow!("cannot draw chart {stem}: {e}"))?;
    }
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut wr = enc.write_header()?;
        wr.write_image_data(&rgb)?;
    }
    Ok(ChartFile {
        stem: stem.to_string(),
        title: title.to_string(),
        caption,
        svg,
        png,
    })
}

/// The panels of the `intervals` chart: per figure, each mode's mean and interval.
fn interval_panels(r: &Replications, modes: &[&'static str]) -> Vec<Panel> {
    r.figures
        .iter()
        .filter(|f| modes.iter().any(|m| applies(f.key, m)))
        .map(|f| {
            let percent = f.key == "hit_ratio";
            let scale = if percent { 100.0 } else { 1.0 };
            Panel {
                title: if percent {
                    "hit ratio (%)".to_string()
                } else {
                    label_of(f.key)
                },
                zero_line: false,
                bars: modes
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Bar {
                        label: m.to_string(),
                        color: run_color(i),
                        value: if !applies(f.key, m) {
                            Err("not in this mode")
                        } else {
                            match f.modes.get(m).and_then(|x| x.interval.as_ref()) {
                                Some(iv) => Ok((iv.lo * scale, iv.mean * scale, iv.hi * scale)),
                                None => Err("n/a"),
                            }
                        },
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The panels of the `paired-differences` chart.
fn paired_panels(r: &Replications) -> Vec<Panel> {
    r.figures
        .iter()
        .filter_map(|f| {
            let pairs: Vec<_> = f
                .paired
                .iter()
                .filter(|p| applies(f.key, p.a) && applies(f.key, p.b))
                .collect();
            if pairs.is_empty() {
                return None;
            }
            let percent = f.key == "hit_ratio";
            let scale = if percent { 100.0 } else { 1.0 };
            Some(Panel {
                title: if percent {
                    "hit ratio (percentage points)".to_string()
                } else {
                    label_of(f.key)
                },
                zero_line: true,
                bars: pairs
                    .iter()
                    .map(|p| {
                        let (value, c) = match &p.difference {
                            Some(d) => {
                                let i = &d.difference;
                                (
                                    Ok((i.lo * scale, i.mean * scale, i.hi * scale)),
                                    if d.excludes_zero { RED } else { GREY },
                                )
                            }
                            None => (Err("n/a"), GREY),
                        };
                        Bar {
                            label: format!("{} − {}", p.a, p.b),
                            color: c,
                            value,
                        }
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The two charts of `compare --seeds`, rendered; `modes` in table order.
pub fn replication_charts(
    r: &Replications,
    modes: &[&'static str],
) -> anyhow::Result<Vec<ChartFile>> {
    let n = r.seeds.len();
    let conf = crate::report::text::fmt_num(r.confidence * 100.0);
    let mut out = vec![render_grid(
        "intervals",
        &format!("Across {n} seeds: mean and {conf}% interval per mode"),
        "dot: mean over the seeds; bar: two-sided Student t interval; percentiles and the maximum: mean of the per-seed values",
        format!(
            "Each panel is one figure; each bar one mode: the mean over {n} seeds and its {conf}% Student t interval. Bars that overlap do not prove the modes equal: the paired differences below are the sharper test."
        ),
        &interval_panels(r, modes),
        3,
    )?];
    let paired = paired_panels(r);
    if !paired.is_empty() {
        out.push(render_grid(
            "paired-differences",
            &format!("Paired differences over {n} seeds (same requests)"),
            "per seed the first mode minus the second; red: the interval excludes 0 (a difference shown); grey: it does not",
            format!(
                "Each bar is the mean of the per-seed differences between two modes on the same requests, with its {conf}% interval; the line is 0. Red: the interval excludes 0."
            ),
            &paired,
            2,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn ticks_keep_the_digits_the_span_needs() {
        assert_eq!(tick(0.99975, 0.0004), "0.99975");
        assert_eq!(tick(1500.0, 2000.0), "1500");
        assert_eq!(tick(-0.0, 1.0), "0");
        assert_eq!(tick(2.25, 3.0), "2.25");
    }
}
