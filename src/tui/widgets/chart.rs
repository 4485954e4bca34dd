//! Loss curves: optional EMA smoothing, log or linear y axis on 1-2-5 ticks, whole epochs on the x
//! axis, never more points than the chart has braille dots across, and a one-line legend at every
//! size. Without colour (NO_COLOR) each curve has its own marker, which the legend shows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::tui::series::{
    downsample_over, ema, linear_axis, log_axis, nice_ticks_step, tick_labels, YAxis,
};

/// One named curve.
pub struct Curve<'a> {
    pub name: String,
    pub points: &'a [(f64, f64)],
    pub color: Color,
}

/// The curves as drawn: smoothed, mapped to the axis (at most `max_labels` labels), downsampled
/// over the x axis's bounds `x_range`.
pub fn prepare(
    curves: &[Curve<'_>],
    log: bool,
    smooth: Option<f64>,
    max_points: usize,
    max_labels: usize,
    x_range: (f64, f64),
) -> (YAxis, Vec<Vec<(f64, f64)>>) {
    let smoothed: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| match smooth {
            Some(w) => {
                let ys: Vec<f64> = c.points.iter().map(|p| p.1).collect();
                c.points
                    .iter()
                    .zip(ema(&ys, w))
                    .map(|(p, y)| (p.0, y))
                    .collect()
            }
            None => c.points.to_vec(),
        })
        .collect();
    let all = smoothed.iter().flatten().map(|p| p.1);
    let axis = if log {
        log_axis(all, max_labels)
    } else {
        linear_axis(all, max_labels)
    };
    let mapped = smoothed
        .iter()
        .map(|pts| {
            let m: Vec<(f64, f64)> = pts
                .iter()
                .filter_map(|&(x, y)| axis.map(y).map(|y| (x, y)))
                .collect();
            downsample_over(&m, max_points, x_range.0, x_range.1)
        })
        .collect();
    (axis, mapped)
}

/// The markers of the curves without colour, in order, with the glyph the legend shows for each.
pub const PLAIN_MARKERS: [(Marker, &str); 3] = [
    (Marker::Braille, "⠒"),
    (Marker::Dot, "•"),
    (Marker::Bar, "▄"),
];

/// A chart of loss curves inside a block.
pub struct LossChart<'a> {
    pub curves: Vec<Curve<'a>>,
    pub log: bool,
    pub smooth: Option<f64>,
    pub block: Block<'a>,
    pub axis_style: Style,
    pub x_title: &'a str,
    /// What the y axis measures (`loss`, `codes`); a log axis adds "(log)".
    pub y_title: &'a str,
    /// No colour: each curve gets its own marker ([`PLAIN_MARKERS`]).
    pub plain: bool,
    /// The x axis reaches at least this far: the planned epochs of a training, so that its curves
    /// grow into a fixed frame instead of being squeezed at every epoch (which redraws them all).
    pub x_span: Option<f64>,
}

impl LossChart<'_> {
    /// The marker of curve `i` and its glyph in the legend.
    fn marker(&self, i: usize) -> (Marker, &'static str) {
        if self.plain {
            PLAIN_MARKERS[i % PLAIN_MARKERS.len()]
        } else {
            (Marker::Braille, "━")
        }
    }
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = self.block.inner(area);
        let max_points = (area.width as usize * 2).max(8);
        // About a label every three rows and every eight columns.
        let y_labels = (inner.height.saturating_sub(2) / 3 + 1).clamp(2, 6) as usize;
        let x_labels = (inner.width.saturating_sub(8) / 8).clamp(2, 11) as usize;
        let (x0, x1) = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
        let x1 = match self.x_span {
            Some(s) if x0.is_finite() && s > x1 => s,
            _ => x1,
        };
        // Whole epochs a 1-2-5 step apart: with `x_span` the axis is fixed for the whole run, else
        // it moves only when the run passes its last tick, not at every step.
        let x_ticks = if x0.is_finite() {
            nice_ticks_step(x0, x1, x_labels, 1.0)
        } else {
            vec![0.0, 1.0]
        };
        let x_range = (x_ticks[0], x_ticks[x_ticks.len() - 1]);
        let (axis, data) = prepare(
            &self.curves,
            self.log,
            self.smooth,
            max_points,
            y_labels,
            x_range,
        );
        let shown: Vec<usize> = (0..self.curves.len())
            .filter(|&i| !data[i].is_empty())
            .collect();
        let datasets: Vec<Dataset> = shown
            .iter()
            .map(|&i| {
                let c = &self.curves[i];
                Dataset::default()
                    .marker(self.marker(i).0)
                    .graph_type(GraphType::Line)
                    .style(Style::default().fg(c.color))
                    .data(&data[i])
            })
            .collect();
        let y_title = if self.log {
            format!("{} (log)", self.y_title)
        } else {
            self.y_title.to_string()
        };
        let y_label_lines: Vec<Line> = axis.labels.iter().cloned().map(Line::from).collect();
        let chart = Chart::new(datasets)
            .block(self.block.clone())
            .x_axis(
                Axis::default()
                    .title(self.x_title)
                    .style(self.axis_style)
                    .bounds([x_range.0, x_range.1])
                    .labels(tick_labels(&x_ticks)),
            )
            .y_axis(
                Axis::default()
                    .title(y_title.clone())
                    .style(self.axis_style)
                    .bounds(axis.bounds)
                    .labels(y_label_lines),
            )
            .legend_position(None);
        chart.render(area, buf);
        let legend: Vec<(String, Style)> = shown
            .iter()
            .map(|&i| {
                let c = &self.curves[i];
                (
                    format!("{} {}", self.marker(i).1, c.name),
                    Style::default().fg(c.color),
                )
            })
            .collect();
        draw_legend(
            buf,
            inner,
            &legend,
            (
                self.x_title.chars().count() as u16,
                y_title.chars().count() as u16,
            ),
        );
    }
}

/// The plot area of a chart drawn in `inner`: right of the y axis, above the x axis (found by the
/// axes' corner), or all of `inner` when it has no axes.
fn graph_area(buf: &Buffer, inner: Rect) -> Rect {
    for y in (inner.y..inner.y + inner.height).rev() {
        for x in inner.x..inner.x + inner.width {
            if buf[(x, y)].symbol() == "└" {
                return Rect::new(x + 1, inner.y, inner.right() - x - 1, y - inner.y);
            }
        }
    }
    inner
}

/// A compact legend (`━ train  ━ test`, each in its curve's colour) in the plot: on one line at
/// its top right, or on its second row, or at its bottom left (clear of the axis titles), wherever it hides the fewest points;
/// one entry a row at the top right when the line does not fit; clipped when even that is too wide.
pub fn draw_legend(
    buf: &mut Buffer,
    inner: Rect,
    entries: &[(String, Style)],
    (x_title_w, y_title_w): (u16, u16),
) {
    if entries.is_empty() || inner.is_empty() {
        return;
    }
    let g = graph_area(buf, inner);
    if g.is_empty() {
        return;
    }
    let widths: Vec<u16> = entries
        .iter()
        .map(|(t, _)| t.chars().count() as u16)
        .collect();
    let line_w = widths.iter().sum::<u16>() + 2 * (entries.len() as u16 - 1);
    let n = entries.len() as u16;
    let covered = |buf: &Buffer, x: u16, y: u16, w: u16| {
        (x..x + w)
            .filter(|&cx| buf[(cx, y)].symbol() != " ")
            .count()
    };
    // Each spot: (x, y, width, one entry a row).
    let mut spots: Vec<(u16, u16, u16, bool)> = Vec::new();
    if line_w <= g.width {
        if line_w + y_title_w < g.width {
            spots.push((g.right() - line_w, g.y, line_w, false));
        }
        if g.height >= 3 {
            spots.push((g.right() - line_w, g.y + 1, line_w, false));
            // The x axis title sits at the bottom right.
            if line_w + x_title_w < g.width {
                spots.push((g.x, g.bottom() - 1, line_w, false));
            }
        }
    }
    let col_w = widths.iter().copied().max().unwrap_or(0).min(g.width);
    if spots.is_empty() {
        let stacked = g.height > n;
        let w = if stacked { col_w } else { line_w.min(g.width) };
        spots.push((g.right() - w, g.y + u16::from(stacked), w, stacked));
    }
    let cost = |&(x, y, w, stacked): &(u16, u16, u16, bool)| {
        if stacked {
            (0..n).map(|k| covered(buf, x, y + k, w)).sum()
        } else {
            covered(buf, x, y, w)
        }
    };
    let Some(&(x, y, w, stacked)) = spots.iter().min_by_key(|s| cost(s)) else {
        return;
    };
    let rows = if stacked { n } else { 1 };
    for row in y..y + rows {
        for cx in x..x + w {
            buf[(cx, row)].set_char(' ').set_fg(Color::Reset);
        }
    }
    let mut cx = x;
    for (k, (text, style)) in entries.iter().enumerate() {
        if stacked {
            let tx = x + w - widths[k].min(w);
            buf.set_stringn(tx, y + k as u16, text, w as usize, *style);
            continue;
        }
        if cx >= x + w {
            break;
        }
        let (nx, _) = buf.set_stringn(cx, y, text, (x + w - cx) as usize, *style);
        cx = nx + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_maps_smooths_and_bounds() {
        let pts: Vec<(f64, f64)> = (1..=5000).map(|i| (i as f64, 1.0 / i as f64)).collect();
        let curves = [Curve {
            name: "train".into(),
            points: &pts,
            color: Color::Red,
        }];
        let (axis, data) = prepare(&curves, true, Some(0.6), 100, 5, (1.0, 5000.0));
        assert!(axis.log);
        assert!(data[0].len() <= 100);
        assert!((data[0][0].1 - 0.0).abs() < 1e-9, "log10(1) = 0");
        let (axis, data) = prepare(&curves, false, None, 10_000, 5, (1.0, 5000.0));
        assert!(!axis.log);
        assert_eq!(data[0].len(), 5000);
    }

    #[test]
    fn renders_without_panicking_in_tiny_areas() {
        let pts = [(1.0, 0.5), (2.0, 0.25)];
        for (w, h) in [(1, 1), (5, 3), (40, 12)] {
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            LossChart {
                curves: vec![Curve {
                    name: "t".into(),
                    points: &pts,
                    color: Color::Red,
                }],
                log: true,
                smooth: None,
                block: Block::bordered().title("loss"),
                axis_style: Style::default(),
                x_title: "epoch",
                y_title: "loss",
                plain: false,
                x_span: Some(10.0),
            }
            .render(area, &mut buf);
        }
    }
}
