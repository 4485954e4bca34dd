//! The reproduction's figures as PNG, drawn with plotters' bitmap backend: the paper's Fig. 3
//! (originals and each model's reconstructions), loss curves and confusion matrices. Text uses a
//! bundled DejaVu Sans, so figures look the same on a server without fonts installed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::EvalError;

const FONT: &str = "vqtex-sans";
/// The bundled DejaVu Sans (also drawn by the workbench's screenshots).
pub static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

fn font(size: f64) -> TextStyle<'static> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled file is a valid TrueType font; a failure here is a build defect.
        if register_font(FONT, FontStyle::Normal, FONT_BYTES).is_err() {
            panic!("the bundled font does not parse");
        }
    });
    (FONT, size).into_font().color(&BLACK)
}

fn draw_err(path: &Path) -> impl Fn(String) -> EvalError + '_ {
    move |message| EvalError::Write {
        path: path.to_path_buf(),
        message,
    }
}

/// Draws with `draw` on a white `width x height` RGB canvas and writes it as a PNG, atomically.
fn render(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), EvalError> {
    let err = draw_err(path);
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        draw(&root).map_err(&err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let img =
        image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err("bad size".into()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| err(e.to_string()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    crate::train::checkpoint::write_atomic(path, &png).map_err(|e| err(e.to_string()))
}

fn grey(v: f32) -> RGBColor {
    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    RGBColor(g, g, g)
}

/// The paper's Fig. 3: one labelled row per entry (originals first, then each model), the same
/// ROIs in every row, each 28x28 ROI drawn `scale` times larger.
pub fn reconstruction_grid(
    rows: &[(String, Vec<Vec<f32>>)],
    scale: u32,
    path: &Path,
) -> Result<(), EvalError> {
    let cols = rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0) as u32;
    let label_w = 170;
    let cell = 28 * scale;
    let gap = 4;
    let width = label_w + cols * (cell + gap) + gap;
    let height = rows.len() as u32 * (cell + gap) + gap;
    render(path, (width, height.max(1)), |root| {
        for (i, (label, images)) in rows.iter().enumerate() {
            let y0 = (gap + i as u32 * (cell + gap)) as i32;
            root.draw_text(label, &font(16.0), (8, y0 + cell as i32 / 2 - 8))
                .map_err(|e| e.to_string())?;
            for (k, pixels) in images.iter().enumerate() {
                let x0 = (label_w + gap + k as u32 * (cell + gap)) as i32;
                for py in 0..cell as i32 {
                    for px in 0..cell as i32 {
                        let s = scale as i32;
                        let v = pixels.get(((py / s) * 28 + px / s) as usize).copied();
                        root.draw_pixel((x0 + px, y0 + py), &grey(v.unwrap_or(1.0)))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// A grid of 28x28 images with its axes named: a label left of every row, one above every
/// column, a title above all (the paper's Fig. 4 as `traverse` draws it).
pub struct LabelledGrid {
    /// Drawn at the top left; empty for none.
    pub title: String,
    /// One per column, drawn above it.
    pub columns: Vec<String>,
    /// Each row's label and images (a row may have fewer images than there are columns).
    pub rows: Vec<(String, Vec<Vec<f32>>)>,
    /// How many leading columns are set apart from the rest by a wider gap (an anchor ROI).
    pub lead: usize,
}

impl LabelledGrid {
    const GAP: u32 = 4;
    /// The gap after the lead columns.
    const LEAD_GAP: u32 = 16;
    const HEADER: u32 = 24;
    const TITLE: u32 = 28;

    /// The label column's width: wide enough for the longest row label at 15 px.
    fn label_width(&self) -> u32 {
        let chars = self.rows.iter().map(|(l, _)| l.chars().count()).max();
        (chars.unwrap_or(0) as u32 * 9 + 16).max(60)
    }

    fn columns_count(&self) -> u32 {
        let widest = self.rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        widest.max(self.columns.len()) as u32
    }

    /// The left edge of column `k`.
    fn column_x(&self, k: u32, cell: u32) -> u32 {
        let lead = if self.lead > 0 && k >= self.lead as u32 {
            Self::LEAD_GAP - Self::GAP
        } else {
            0
        };
        self.label_width() + Self::GAP + k * (cell + Self::GAP) + lead
    }

    /// The top edge of the first row.
    fn top(&self) -> u32 {
        let title = if self.title.is_empty() {
            0
        } else {
            Self::TITLE
        };
        title + Self::HEADER
    }

    /// The PNG's size for cells drawn `scale` times larger.
    pub fn size(&self, scale: u32) -> (u32, u32) {
        let cell = 28 * scale;
        let cols = self.columns_count();
        let width = self.column_x(cols, cell);
        let height = self.top() + self.rows.len() as u32 * (cell + Self::GAP) + Self::GAP;
        (width.max(1), height.max(1))
    }
}

/// Draws a [`LabelledGrid`], each 28x28 image `scale` times larger.
pub fn labelled_grid(grid: &LabelledGrid, scale: u32, path: &Path) -> Result<(), EvalError> {
    let scale = scale.max(1);
    let cell = 28 * scale;
    let (width, height) = grid.size(scale);
    let top = grid.top();
    render(path, (width, height), |root| {
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        if !grid.title.is_empty() {
            root.draw_text(&grid.title, &font(17.0), (8, 6))
                .map_err(e)?;
        }
        for (k, label) in grid.columns.iter().enumerate() {
            let x0 = grid.column_x(k as u32, cell) as i32;
            let y = (top - LabelledGrid::HEADER + 4) as i32;
            root.draw_text(label, &font(14.0), (x0 + 2, y)).map_err(e)?;
        }
        for (i, (label, images)) in grid.rows.iter().enumerate() {
            let y0 = (top + LabelledGrid::GAP + i as u32 * (cell + LabelledGrid::GAP)) as i32;
            root.draw_text(label, &font(15.0), (8, y0 + cell as i32 / 2 - 8))
                .map_err(e)?;
            for (k, pixels) in images.iter().enumerate() {
                let x0 = grid.column_x(k as u32, cell) as i32;
                let s = scale as i32;
                for py in 0..cell as i32 {
                    for px in 0..cell as i32 {
                        let v = pixels.get(((py / s) * 28 + px / s) as usize).copied();
                        root.draw_pixel((x0 + px, y0 + py), &grey(v.unwrap_or(1.0)))
                            .map_err(e)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// One model's loss per epoch.
pub struct Curve {
    pub name: String,
    /// `(epoch, loss)`, epochs from 1.
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Loss curves of several models on a log scale, one colour each, with a legend.
pub fn loss_curves(
    curves: &[Curve],
    title: &str,
    y_label: &str,
    path: &Path,
) -> Result<(), EvalError> {
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let all: Vec<(f64, f64)> = curves
        .iter()
        .flat_map(|c| c.points.iter().copied())
        .filter(|&(_, y)| finite(y))
        .collect();
    if all.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{}: no positive finite losses to plot",
            path.display()
        )));
    }
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let y_min = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = all.iter().map(|p| p.1).fold(0.0, f64::max);
    // Plotted as log10(loss) on a linear axis, labelled with the losses themselves: plotters' own
    // log axis draws no labels when the losses span less than a decade.
    let (lo, hi) = (
        (y_min * 0.8).log10(),
        (y_max * 1.25).max(y_min * 1.5).log10(),
    );
    render(path, (900, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(22.0))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(1.0..x_max.max(2.0), lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(format!("{y_label} (log scale)"))
            .label_style(font(14.0))
            .axis_desc_style(font(16.0))
            .light_line_style(WHITE)
            .x_labels((x_max as usize).clamp(2, 11))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(8)
            .y_label_formatter(&|v| format!("{:.2e}", 10f64.powf(*v)))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, c) in curves.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    c.points
                        .iter()
                        .filter(|&&(_, y)| finite(y))
                        .map(|&(x, y)| (x, y.log10())),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(c.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .label_font(font(15.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// ROC curves, one per feature set (`points` as `(fpr, tpr)`; `name` carries the AUC), with
/// the chance diagonal.
pub fn roc_curves(curves: &[Curve], title: &str, path: &Path) -> Result<(), EvalError> {
    render(path, (760, 700), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(20.0))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("false positive rate (1 - specificity)")
            .y_desc("true positive rate (sensitivity)")
            .label_style(font(14.0))
            .axis_desc_style(font(16.0))
            .light_line_style(WHITE)
            .x_labels(6)
            .y_labels(6)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                RGBColor(190, 190, 190).stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
        for (i, c) in curves.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    c.points
                        .iter()
                        .copied()
                        .filter(|p| p.0.is_finite() && p.1.is_finite()),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(c.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .label_font(font(14.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// One confusion matrix to draw: rows true healthy/steatosis, columns predicted.
pub struct Confusion {
    pub title: String,
    pub matrix: [[usize; 2]; 2],
}

/// Confusion matrices in rows of `per_row` panels: cells shaded by their share of the true class,
/// with the counts written in.
pub fn confusion_grid(panels: &[Confusion], per_row: usize, path: &Path) -> Result<(), EvalError> {
    let per_row = per_row.max(1);
    let n_rows = panels.len().div_ceil(per_row).max(1);
    let (pw, ph) = (250u32, 250u32);
    let width = pw * per_row.min(panels.len().max(1)) as u32;
    render(path, (width, ph * n_rows as u32), |root| {
        let areas = root.split_evenly((n_rows, per_row.min(panels.len().max(1))));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            area.draw_text(&panel.title, &font(15.0), (10, 6))
                .map_err(|e| e.to_string())?;
            let (x0, y0, cell) = (70i32, 60i32, 80i32);
            for (t, row) in panel.matrix.iter().enumerate() {
                let total: usize = row.iter().sum();
                for (p, &count) in row.iter().enumerate() {
                    let share = if total == 0 {
                        0.0
                    } else {
                        count as f64 / total as f64
                    };
                    let shade = (255.0 - 150.0 * share) as u8;
                    let (x, y) = (x0 + p as i32 * cell, y0 + t as i32 * cell);
                    area.draw(&Rectangle::new(
                        [(x, y), (x + cell - 2, y + cell - 2)],
                        RGBColor(shade, shade, 255).filled(),
                    ))
                    .map_err(|e| e.to_string())?;
                    area.draw_text(
                        &count.to_string(),
                        &font(20.0),
                        (x + cell / 2 - 10, y + cell / 2 - 10),
                    )
                    .map_err(|e| e.to_string())?;
                }
            }
            let small = font(12.0);
            area.draw_text("healthy", &small, (8, y0 + cell / 2 - 6))
                .map_err(|e| e.to_string())?;
            area.draw_text("steatosis", &small, (4, y0 + cell + cell / 2 - 6))
                .map_err(|e| e.to_string())?;
            area.draw_text("pred. healthy", &small, (x0, y0 - 18))
                .map_err(|e| e.to_string())?;
            area.draw_text("steatosis", &small, (x0 + cell + 8, y0 - 18))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_rgb(path: &Path) -> image::RgbImage {
        image::open(path).unwrap().to_rgb8()
    }

    #[test]
    fn reconstruction_grid_draws_each_roi_at_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fig3.png");
        let black = vec![0.0f32; 784];
        let white = vec![1.0f32; 784];
        let mut half = vec![0.0f32; 784];
        half[..392].fill(0.5);
        reconstruction_grid(
            &[
                ("originals".into(), vec![black.clone(), white.clone()]),
                ("model".into(), vec![half, black]),
            ],
            2,
            &path,
        )
        .unwrap();
        let img = read_rgb(&path);
        // label_w 170, gap 4, cell 56.
        assert_eq!(img.dimensions(), (170 + 2 * 60 + 4, 2 * 60 + 4));
        let at = |x: u32, y: u32| img.get_pixel(x, y).0;
        assert_eq!(at(174 + 10, 4 + 10), [0, 0, 0]);
        assert_eq!(at(174 + 60 + 10, 4 + 10), [255, 255, 255]);
        assert_eq!(at(174 + 10, 64 + 10), [128, 128, 128]);
        assert_eq!(at(174 + 10, 64 + 50), [0, 0, 0]);
        // Every pixel of a cell is drawn (no seams between the scaled-up ROI pixels).
        for y in 4..60 {
            for x in 174..230 {
                assert_eq!(at(x, y), [0, 0, 0], "seam at {x},{y}");
            }
        }
        // The labels are drawn: some dark pixels in the label column.
        let dark = (0..170)
            .flat_map(|x| (0..60).map(move |y| (x, y)))
            .filter(|&(x, y)| at(x, y)[0] < 100)
            .count();
        assert!(dark > 20, "label text missing ({dark} dark pixels)");
    }

    #[test]
    fn labelled_grid_sets_the_lead_column_apart_and_names_rows_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fig4.png");
        let black = vec![0.0f32; 784];
        let grid = LabelledGrid {
            title: "vqvae, variable 3".into(),
            columns: vec!["anchor".into(), "-1.0 sd".into(), "+1.0 sd".into()],
            rows: vec![
                ("var 3 z_e".into(), vec![black.clone(); 3]),
                ("var 3 re-quantised".into(), vec![black.clone(); 3]),
            ],
            lead: 1,
        };
        labelled_grid(&grid, 2, &path).unwrap();
        let img = read_rgb(&path);
        // Labels 18 chars: 18 * 9 + 16 = 178 wide; cells 56, gaps 4, 16 after the anchor.
        let (w, h) = grid.size(2);
        // anchor, 16, cell, 4, cell, 4 (a gap closes the last column).
        assert_eq!(
            (w, h),
            (178 + 4 + 3 * 56 + 16 + 4 + 4, 28 + 24 + 2 * 60 + 4)
        );
        assert_eq!(img.dimensions(), (w, h));
        let at = |x: u32, y: u32| img.get_pixel(x, y).0;
        let (x_anchor, x_first, y0) = (182, 182 + 56 + 16, 28 + 24 + 4);
        assert_eq!(at(x_anchor + 5, y0 + 5), [0, 0, 0]);
        assert_eq!(at(x_anchor + 56 + 2, y0 + 5), [255, 255, 255], "lead gap");
        assert_eq!(at(x_first + 5, y0 + 5), [0, 0, 0]);
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (x0..x1)
                .flat_map(|x| (y0..y1).map(move |y| (x, y)))
                .filter(|&(x, y)| at(x, y)[0] < 100)
                .count()
        };
        assert!(dark(0, 178, y0, h) > 40, "row labels missing");
        assert!(dark(182, w, 28, 52) > 40, "column labels missing");
        assert!(dark(0, w, 0, 28) > 40, "title missing");
    }

    #[test]
    fn loss_curves_draw_each_model_in_its_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let curve = |name: &str, k: f64| Curve {
            name: name.into(),
            points: (1..=20).map(|e| (e as f64, k / e as f64)).collect(),
        };
        loss_curves(
            &[curve("a", 0.1), curve("b", 0.01)],
            "losses",
            "loss",
            &path,
        )
        .unwrap();
        let img = read_rgb(&path);
        let count = |c: RGBColor| img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
        assert!(count(PALETTE[0]) > 200, "first curve missing");
        assert!(count(PALETTE[1]) > 200, "second curve missing");
        let err = loss_curves(&[curve("nan", f64::NAN)], "t", "y", &path).unwrap_err();
        assert!(err.to_string().contains("no positive finite"));
    }

    #[test]
    fn confusion_grid_shades_by_share_of_the_true_class() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cm.png");
        confusion_grid(
            &[Confusion {
                title: "pixels".into(),
                matrix: [[10, 0], [5, 5]],
            }],
            3,
            &path,
        )
        .unwrap();
        let img = read_rgb(&path);
        assert_eq!(img.dimensions(), (250, 250));
        // Top-left cell (share 1.0) darkest, top-right (0.0) white-ish, bottom cells half.
        let at = |x: u32, y: u32| img.get_pixel(x, y).0;
        assert_eq!(at(72, 62), [105, 105, 255]);
        assert_eq!(at(152 + 70, 62), [255, 255, 255]);
        assert_eq!(at(72, 142), [180, 180, 255]);
    }
}
