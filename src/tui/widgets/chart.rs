//! Loss curves: optional EMA smoothing, log or linear y axis, and never more points than the chart
//! has braille dots across.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::tui::series::{downsample, ema, fmt_tick, linear_axis, log_axis, YAxis};

/// One named curve.
pub struct Curve<'a> {
    pub name: String,
    pub points: &'a [(f64, f64)],
    pub color: Color,
}

/// The curves as drawn: smoothed, mapped to the axis, downsampled.
pub fn prepare(
    curves: &[Curve<'_>],
    log: bool,
    smooth: Option<f64>,
    max_points: usize,
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
    let axis = if log { log_axis(all) } else { linear_axis(all) };
    let mapped = smoothed
        .iter()
        .map(|pts| {
            let m: Vec<(f64, f64)> = pts
                .iter()
                .filter_map(|&(x, y)| axis.map(y).map(|y| (x, y)))
                .collect();
            downsample(&m, max_points)
        })
        .collect();
    (axis, mapped)
}

/// A chart of loss curves inside a block.
pub struct LossChart<'a> {
    pub curves: Vec<Curve<'a>>,
    pub log: bool,
    pub smooth: Option<f64>,
    pub block: Block<'a>,
    pub axis_style: Style,
    pub x_title: &'a str,
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let max_points = (area.width as usize * 2).max(8);
        let (axis, data) = prepare(&self.curves, self.log, self.smooth, max_points);
        let (x0, x1) = data
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
        // The x axis ends on a whole number (the epoch under way): it moves once an epoch, not at
        // every step, so a step redraws only the new points instead of every rescaled curve.
        let (x0, x1) = if x0.is_finite() && x1 > x0 {
            (x0, x1.ceil())
        } else if x0.is_finite() {
            (x0 - 1.0, x0 + 1.0)
        } else {
            (0.0, 1.0)
        };
        let datasets: Vec<Dataset> = self
            .curves
            .iter()
            .zip(&data)
            .filter(|(_, d)| !d.is_empty())
            .map(|(c, d)| {
                Dataset::default()
                    .name(c.name.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::default().fg(c.color))
                    .data(d)
            })
            .collect();
        let y_title = if self.log { "log" } else { "" };
        let chart = Chart::new(datasets)
            .block(self.block)
            .x_axis(
                Axis::default()
                    .title(self.x_title)
                    .style(self.axis_style)
                    .bounds([x0, x1])
                    .labels(vec![
                        Line::from(fmt_tick(x0)),
                        Line::from(fmt_tick((x0 + x1) / 2.0)),
                        Line::from(fmt_tick(x1)),
                    ]),
            )
            .y_axis(
                Axis::default()
                    .title(y_title)
                    .style(self.axis_style)
                    .bounds(axis.bounds)
                    .labels(
                        axis.labels
                            .iter()
                            .cloned()
                            .map(Line::from)
                            .collect::<Vec<_>>(),
                    ),
            )
            .legend_position(Some(ratatui::widgets::LegendPosition::TopRight));
        chart.render(area, buf);
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
        let (axis, data) = prepare(&curves, true, Some(0.6), 100);
        assert!(axis.log);
        assert!(data[0].len() <= 100);
        assert!((data[0][0].1 - 0.0).abs() < 1e-9, "log10(1) = 0");
        let (axis, data) = prepare(&curves, false, None, 10_000);
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
            }
            .render(area, &mut buf);
        }
    }
}
