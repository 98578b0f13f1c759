//! The report's charts, drawn with `plotters`' SVG backend into strings
//! that the page inlines. Two shapes cover every suite:
//!
//! - [`TimeChart`]: lines (and stacked bars) over a time axis, with shaded
//!   bands (load phases, a fault window), horizontal threshold lines (SLOs)
//!   and vertical markers (recovery, RTO);
//! - [`LaneChart`]: one lane per row (a probe, a journey step, a drill
//!   step) holding coloured spans on the same kind of time axis: pass/fail
//!   strips, waterfalls and step timelines.
//!
//! Why plotters: it is a Rust library that writes plain SVG (no JavaScript,
//! no fonts to embed, nothing fetched), so the page stays one file that
//! reads with scripts off and prints; it escapes the text it draws.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of every chart, in SVG pixels (the page scales them to fit).
pub const WIDTH: u32 = 960;

const FONT: &str = "sans-serif";

/// A colour from the report's palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// The n-th series colour (wraps around).
    Series(usize),
    Pass,
    Fail,
    /// Neither: skipped, not judged.
    Neutral,
    /// The fault window.
    Fault,
    /// The n-th phase band (alternating greys).
    Phase(usize),
    /// Threshold lines and markers.
    Limit,
}

const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

impl Colour {
    fn rgb(self) -> RGBColor {
        let (r, g, b) = match self {
            Colour::Series(i) => PALETTE[i % PALETTE.len()],
            Colour::Pass => (46, 160, 67),
            Colour::Fail => (207, 34, 46),
            Colour::Neutral => (160, 160, 160),
            Colour::Fault => (207, 34, 46),
            Colour::Phase(_) => (90, 90, 90),
            Colour::Limit => (120, 20, 20),
        };
        RGBColor(r, g, b)
    }

    fn band_style(self) -> ShapeStyle {
        let opacity = match self {
            Colour::Fault => 0.14,
            Colour::Phase(i) if i % 2 == 0 => 0.05,
            Colour::Phase(_) => 0.11,
            _ => 0.12,
        };
        self.rgb().mix(opacity).filled()
    }
}

/// A shaded stretch of the time axis, labelled at its top left.
#[derive(Debug, Clone)]
pub struct Band {
    pub label: String,
    pub from: f64,
    pub to: f64,
    pub colour: Colour,
}

impl Band {
    /// The part of the band on an axis from 0 to `x_max`, if any.
    fn within(&self, x_max: f64) -> Option<(f64, f64)> {
        let (from, to) = (self.from.max(0.0), self.to.min(x_max));
        (to > from).then_some((from, to))
    }
}

/// A vertical marker at `at`, labelled.
#[derive(Debug, Clone)]
pub struct Marker {
    pub label: String,
    pub at: f64,
    pub colour: Colour,
}

/// A horizontal dashed line at `y` from `from` to `to` (a threshold).
#[derive(Debug, Clone)]
pub struct Threshold {
    pub label: String,
    pub y: f64,
    pub from: f64,
    pub to: f64,
}

/// A line through `(x, y)` points; `None` breaks it (no data there).
#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub colour: Colour,
    pub points: Vec<(f64, Option<f64>)>,
}

/// Bars stacked from 0 upward: `layers[k].values[i]` sits on top of the
/// layers before it, over `[x[i], x[i] + width)`.
#[derive(Debug, Clone)]
pub struct Stack {
    pub x: Vec<f64>,
    pub width: f64,
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub label: String,
    pub colour: Colour,
    pub values: Vec<f64>,
}

/// Lines and stacked bars over time.
#[derive(Debug, Clone)]
pub struct TimeChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_max: f64,
    pub height: u32,
    pub bands: Vec<Band>,
    pub stack: Option<Stack>,
    pub lines: Vec<Line>,
    pub thresholds: Vec<Threshold>,
    pub markers: Vec<Marker>,
}

/// Why a chart could not be drawn (plotters' own error, as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chart `{title}` could not be drawn: {reason}")]
pub struct ChartError {
    pub title: String,
    pub reason: String,
}

fn chart_error(title: &str) -> impl Fn(String) -> ChartError + '_ {
    move |reason| ChartError {
        title: title.to_string(),
        reason,
    }
}

/// How far above the data a threshold may lie and still be drawn: a limit
/// ten times the data would flatten the lines into the axis.
const THRESHOLD_REACH: f64 = 3.0;

/// The largest y a chart shows: the data and the thresholds within reach,
/// plus headroom.
fn y_extent(chart: &TimeChart) -> f64 {
    let lines = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|(_, y)| *y));
    let stacked = chart
        .stack
        .iter()
        .flat_map(|s| (0..s.x.len()).map(|i| s.layers.iter().map(|l| l.values[i]).sum::<f64>()));
    let data = lines.chain(stacked).fold(0.0, f64::max);
    let limits = chart
        .thresholds
        .iter()
        .map(|t| t.y)
        .filter(|y| data <= 0.0 || *y <= data * THRESHOLD_REACH)
        .fold(0.0, f64::max);
    let max = data.max(limits);
    if max > 0.0 {
        max * 1.15
    } else {
        1.0
    }
}

/// The thresholds too far above the data to be drawn (the page names them).
pub fn thresholds_above(chart: &TimeChart) -> Vec<&Threshold> {
    let y_max = y_extent(chart);
    chart.thresholds.iter().filter(|t| t.y > y_max).collect()
}

pub fn time_chart(chart: &TimeChart) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw_time_chart(chart, &mut svg).map_err(chart_error(&chart.title))?;
    Ok(svg)
}

fn draw_time_chart(chart: &TimeChart, svg: &mut String) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let root = SVGBackend::with_string(svg, (WIDTH, chart.height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let x_max = if chart.x_max > 0.0 { chart.x_max } else { 1.0 };
    let y_max = y_extent(chart);
    let mut ctx = ChartBuilder::on(&root)
        .margin(8)
        .margin_right(16)
        .caption(&chart.title, (FONT, 15))
        .x_label_area_size(34)
        .y_label_area_size(58)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .x_labels(12)
        .y_labels(6)
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&|x| short_number(*x))
        .y_label_formatter(&|y| short_number(*y))
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()
        .map_err(err)?;
    for band in &chart.bands {
        let Some((from, to)) = band.within(x_max) else {
            continue;
        };
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(from, 0.0), (to, y_max)],
            band.colour.band_style(),
        )))
        .map_err(err)?;
        ctx.draw_series(std::iter::once(Text::new(
            band.label.clone(),
            (from + x_max * 0.004, y_max * 0.97),
            (FONT, 11).into_font().color(&BLACK.mix(0.6)),
        )))
        .map_err(err)?;
    }
    if let Some(stack) = &chart.stack {
        let mut base = vec![0.0; stack.x.len()];
        for layer in &stack.layers {
            let colour = layer.colour.rgb();
            let bars: Vec<_> = stack
                .x
                .iter()
                .enumerate()
                .filter(|(i, _)| layer.values[*i] > 0.0)
                .map(|(i, x)| {
                    let y0 = base[i];
                    let y1 = y0 + layer.values[i];
                    Rectangle::new(
                        [(*x, y0), ((*x + stack.width).min(x_max), y1)],
                        colour.mix(0.55).filled(),
                    )
                })
                .collect();
            for (i, v) in layer.values.iter().enumerate() {
                base[i] += v;
            }
            ctx.draw_series(bars)
                .map_err(err)?
                .label(layer.label.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.mix(0.55).filled())
                });
        }
    }
    for line in &chart.lines {
        let style = line.colour.rgb().stroke_width(2);
        let mut labelled = false;
        for segment in segments(&line.points) {
            let drawn = ctx
                .draw_series(LineSeries::new(segment, style).point_size(
                    // A lone point would not show as a line.
                    1,
                ))
                .map_err(err)?;
            if !labelled {
                drawn
                    .label(line.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
                labelled = true;
            }
        }
    }
    for t in chart.thresholds.iter().filter(|t| t.y <= y_max) {
        let style = Colour::Limit.rgb().stroke_width(1);
        ctx.draw_series(DashedLineSeries::new(
            [(t.from.max(0.0), t.y), (t.to.min(x_max), t.y)],
            6,
            4,
            style,
        ))
        .map_err(err)?;
        ctx.draw_series(std::iter::once(Text::new(
            t.label.clone(),
            (t.from.max(0.0) + x_max * 0.004, t.y + y_max * 0.015),
            (FONT, 11).into_font().color(&Colour::Limit.rgb()),
        )))
        .map_err(err)?;
    }
    for (i, m) in chart.markers.iter().enumerate() {
        let style = m.colour.rgb().stroke_width(2);
        ctx.draw_series(DashedLineSeries::new(
            [(m.at, 0.0), (m.at, y_max)],
            4,
            3,
            style,
        ))
        .map_err(err)?;
        ctx.draw_series(std::iter::once(Text::new(
            m.label.clone(),
            (m.at + x_max * 0.004, y_max * (0.88 - 0.07 * (i % 4) as f64)),
            (FONT, 11).into_font().color(&m.colour.rgb()),
        )))
        .map_err(err)?;
    }
    if !chart.lines.is_empty() || chart.stack.is_some() {
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.2))
            .label_font((FONT, 11))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Runs of consecutive points that have a value.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) => current.push((*x, *y)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One row of a [`LaneChart`].
#[derive(Debug, Clone)]
pub struct Lane {
    pub label: String,
    pub spans: Vec<Span>,
}

/// A coloured stretch `[from, to)` in a lane.
#[derive(Debug, Clone)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub colour: Colour,
}

/// Lanes of spans on a time axis: strips of pass/fail, waterfalls.
#[derive(Debug, Clone)]
pub struct LaneChart {
    pub title: String,
    pub x_label: String,
    pub x_max: f64,
    pub lanes: Vec<Lane>,
    pub bands: Vec<Band>,
    pub markers: Vec<Marker>,
}

pub fn lane_chart(chart: &LaneChart) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw_lane_chart(chart, &mut svg).map_err(chart_error(&chart.title))?;
    Ok(svg)
}

fn draw_lane_chart(chart: &LaneChart, svg: &mut String) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let n = chart.lanes.len().max(1) as i32;
    let height = 70 + 26 * n as u32;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let x_max = if chart.x_max > 0.0 { chart.x_max } else { 1.0 };
    let longest = chart
        .lanes
        .iter()
        .map(|l| l.label.chars().count())
        .max()
        .unwrap_or(4);
    let label_width = (longest as u32 * 7 + 16).clamp(60, 320);
    // Lane i is drawn at segment n-1-i, so the first lane is on top.
    let lane_at = |i: usize| (n - 1 - i as i32).max(0);
    let labels: Vec<String> = chart.lanes.iter().map(|l| l.label.clone()).collect();
    let top = SegmentValue::Exact(n);
    let mut ctx = ChartBuilder::on(&root)
        .margin(8)
        .margin_right(16)
        .caption(&chart.title, (FONT, 15))
        .x_label_area_size(34)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..x_max, (0..n).into_segmented())
        .map_err(err)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.06))
        .x_labels(12)
        .y_labels(n as usize + 1)
        .x_desc(chart.x_label.as_str())
        .x_label_formatter(&|x| short_number(*x))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(k) => labels
                .get((n - 1 - *k) as usize)
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()
        .map_err(err)?;
    for band in &chart.bands {
        let Some((from, to)) = band.within(x_max) else {
            continue;
        };
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(from, SegmentValue::Exact(0)), (to, top.clone())],
            band.colour.band_style(),
        )))
        .map_err(err)?;
    }
    for (i, lane) in chart.lanes.iter().enumerate() {
        let at = lane_at(i);
        let spans: Vec<_> = lane
            .spans
            .iter()
            .map(|s| {
                // At least a sliver wide, so an instant still shows.
                let to = s.to.max(s.from + x_max * 0.002).min(x_max);
                Rectangle::new(
                    [
                        (s.from.max(0.0), SegmentValue::Exact(at)),
                        (to, SegmentValue::Exact(at + 1)),
                    ],
                    s.colour.rgb().mix(0.85).filled(),
                )
            })
            .collect();
        ctx.draw_series(spans).map_err(err)?;
        // White rules between lanes keep neighbouring spans apart.
        ctx.draw_series(std::iter::once(PathElement::new(
            vec![
                (0.0, SegmentValue::Exact(at)),
                (x_max, SegmentValue::Exact(at)),
            ],
            WHITE.stroke_width(3),
        )))
        .map_err(err)?;
    }
    for (i, m) in chart.markers.iter().enumerate() {
        let style = m.colour.rgb().stroke_width(2);
        ctx.draw_series(std::iter::once(PathElement::new(
            vec![(m.at, SegmentValue::Exact(0)), (m.at, top.clone())],
            style,
        )))
        .map_err(err)?;
        // Labels in pixels, stacked down from the top so they never
        // collide; right of the line, or left of it near the right edge.
        let (px, py) = ctx.backend_coord(&(m.at, top.clone()));
        let near_right_edge = px as f64 > WIDTH as f64 * 0.7;
        let style = (FONT, 11).into_font().color(&m.colour.rgb()).pos(Pos::new(
            if near_right_edge {
                HPos::Right
            } else {
                HPos::Left
            },
            VPos::Top,
        ));
        let x = if near_right_edge { px - 4 } else { px + 4 };
        let y = py + 3 + 13 * (i % 6) as i32;
        // A light backing keeps the label readable over coloured spans.
        let width = m.label.chars().count() as i32 * 6 + 4;
        let left = if near_right_edge { x - width } else { x - 2 };
        root.draw(&Rectangle::new(
            [(left, y - 1), (left + width, y + 12)],
            WHITE.mix(0.8).filled(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(m.label.clone(), (x, y), style))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// `0`, `12`, `1.5`, `2.5k`, `1.2M`: axis labels that stay short.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TimeChart {
        TimeChart {
            title: "latency <all> & more".into(),
            x_label: "seconds".into(),
            y_label: "ms".into(),
            x_max: 10.0,
            height: 240,
            bands: vec![Band {
                label: "ramp_up".into(),
                from: 0.0,
                to: 4.0,
                colour: Colour::Phase(0),
            }],
            stack: Some(Stack {
                x: vec![0.0, 1.0, 2.0],
                width: 1.0,
                layers: vec![Layer {
                    label: "http 5xx".into(),
                    colour: Colour::Series(2),
                    values: vec![0.0, 2.0, 1.0],
                }],
            }),
            lines: vec![Line {
                label: "p95".into(),
                colour: Colour::Series(1),
                points: vec![
                    (0.0, Some(3.0)),
                    (1.0, None),
                    (2.0, Some(5.0)),
                    (3.0, Some(4.0)),
                ],
            }],
            thresholds: vec![Threshold {
                label: "p95 SLO 8 ms".into(),
                y: 8.0,
                from: 0.0,
                to: 10.0,
            }],
            markers: vec![Marker {
                label: "recovered".into(),
                at: 6.0,
                colour: Colour::Pass,
            }],
        }
    }

    #[test]
    fn a_time_chart_is_one_svg_with_its_text_escaped() {
        let svg = time_chart(&sample()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("latency &lt;all&gt; &amp; more"));
        assert!(!svg.contains("<all>"));
        for label in ["ramp_up", "p95 SLO 8 ms", "recovered", "http 5xx", "p95"] {
            assert!(svg.contains(label), "{label} missing");
        }
        // The dashed threshold and marker are drawn as many short lines.
        assert!(svg.matches("<polyline").count() + svg.matches("<line").count() > 10);
    }

    #[test]
    fn a_threshold_far_above_the_data_is_left_out_not_drawn_flat() {
        let mut chart = sample();
        chart.thresholds.push(Threshold {
            label: "p99 SLO 1000 ms".into(),
            y: 1000.0,
            from: 0.0,
            to: 10.0,
        });
        let above: Vec<&str> = thresholds_above(&chart)
            .iter()
            .map(|t| t.label.as_str())
            .collect();
        assert_eq!(
            above,
            vec!["p99 SLO 1000 ms"],
            "8 ms is within reach of 5 ms data"
        );
        let svg = time_chart(&chart).unwrap();
        assert!(svg.contains("p95 SLO 8 ms") && !svg.contains("p99 SLO 1000 ms"));
    }

    #[test]
    fn a_broken_line_is_drawn_in_segments() {
        assert_eq!(
            segments(&[
                (0.0, Some(1.0)),
                (1.0, None),
                (2.0, Some(2.0)),
                (3.0, Some(3.0))
            ]),
            vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
        assert!(segments(&[(0.0, None)]).is_empty());
    }

    #[test]
    fn lanes_put_every_label_and_span_in_the_svg() {
        let chart = LaneChart {
            title: "probes".into(),
            x_label: "seconds".into(),
            x_max: 20.0,
            lanes: vec![
                Lane {
                    label: "api health".into(),
                    spans: vec![
                        Span {
                            from: 0.0,
                            to: 1.0,
                            colour: Colour::Pass,
                        },
                        Span {
                            from: 5.0,
                            to: 6.0,
                            colour: Colour::Fail,
                        },
                    ],
                },
                Lane {
                    label: "orders count".into(),
                    spans: vec![],
                },
            ],
            bands: vec![Band {
                label: "fault".into(),
                from: 4.0,
                to: 8.0,
                colour: Colour::Fault,
            }],
            markers: vec![],
        };
        let svg = lane_chart(&chart).unwrap();
        assert!(svg.contains("api health") && svg.contains("orders count"));
        assert!(svg.contains("#2EA043"), "pass colour");
        assert!(svg.contains("#CF222E"), "fail colour");
    }

    #[test]
    fn axis_numbers_stay_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(2.5), "2.5");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(25_000.0), "25k");
        assert_eq!(short_number(1_200_000.0), "1.2M");
    }
}
