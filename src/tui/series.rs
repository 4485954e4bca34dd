//! Pure helpers for loss curves: a bounded history, EMA smoothing, downsampling and a log axis.

/// A curve that keeps at most `max` points however long the run: when full, every other point is
/// dropped and only every `stride`-th new point is kept (the stride doubles each time).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    points: Vec<(f64, f64)>,
    max: usize,
    stride: usize,
    seen: usize,
}

impl History {
    pub fn new(max: usize) -> History {
        History {
            points: Vec::new(),
            max: max.max(4),
            stride: 1,
            seen: 0,
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        if !y.is_finite() {
            return;
        }
        if self.seen.is_multiple_of(self.stride) {
            self.points.push((x, y));
            if self.points.len() > self.max {
                let kept: Vec<(f64, f64)> = self.points.iter().copied().step_by(2).collect();
                self.points = kept;
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn clear(&mut self) {
        *self = History::new(self.max);
    }
}

/// Exponential moving average, `s = w * s + (1 - w) * x`, debiased at the start (as TensorBoard
/// does) so the first points are not pulled towards zero. `weight` is clamped to [0, 0.999].
pub fn ema(values: &[f64], weight: f64) -> Vec<f64> {
    let w = weight.clamp(0.0, 0.999);
    let mut s = 0.0;
    let mut debias = 1.0;
    values
        .iter()
        .map(|&x| {
            s = w * s + (1.0 - w) * x;
            debias *= w;
            s / (1.0 - debias)
        })
        .collect()
}

/// At most `max` points (max >= 4) keeping the shape: the points are cut into buckets by index and
/// each bucket keeps its lowest and highest point, in x order; the first and last points stay.
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let max = max.max(4);
    if points.len() <= max {
        return points.to_vec();
    }
    let buckets = (max - 2) / 2;
    let inner = &points[1..points.len() - 1];
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    for b in 0..buckets {
        let lo = b * inner.len() / buckets;
        let hi = ((b + 1) * inner.len() / buckets).max(lo + 1);
        let chunk = &inner[lo..hi.min(inner.len())];
        let (mut imin, mut imax) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[imin].1 {
                imin = i;
            }
            if p.1 > chunk[imax].1 {
                imax = i;
            }
        }
        let (a, c) = (imin.min(imax), imin.max(imax));
        out.push(chunk[a]);
        if c != a {
            out.push(chunk[c]);
        }
    }
    out.push(points[points.len() - 1]);
    out
}

/// A y axis: the transform applied to values, its bounds and labelled ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct YAxis {
    pub log: bool,
    pub bounds: [f64; 2],
    pub labels: Vec<String>,
}

impl YAxis {
    /// Maps a value into axis space (log10 on a log axis; `None` for values a log axis can't show).
    pub fn map(&self, y: f64) -> Option<f64> {
        if !y.is_finite() {
            None
        } else if self.log {
            (y > 0.0).then(|| y.log10())
        } else {
            Some(y)
        }
    }
}

/// Formats a tick value compactly (`0.012`, `1.5e-4`, `250`).
pub fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        // Two significant digits.
        let digits = (-a.log10() - 1e-9).ceil().max(0.0) as usize + 1;
        format!("{v:.digits$}")
    }
}

/// A linear axis over the values, with three labels (low, middle, high) and a 5% margin.
pub fn linear_axis(values: impl IntoIterator<Item = f64>) -> YAxis {
    let (lo, hi) = min_max(values.into_iter().filter(|v| v.is_finite()));
    let (lo, hi) = match (lo, hi) {
        (Some(l), Some(h)) if h > l => {
            let m = (h - l) * 0.05;
            (l - m, h + m)
        }
        (Some(l), Some(_)) => (l - 0.5 * l.abs().max(1e-9), l + 0.5 * l.abs().max(1e-9)),
        _ => (0.0, 1.0),
    };
    YAxis {
        log: false,
        bounds: [lo, hi],
        labels: vec![fmt_tick(lo), fmt_tick((lo + hi) / 2.0), fmt_tick(hi)],
    }
}

/// A log10 axis over the positive values: bounds in log space, whole decades when the data spans
/// more than one (else about one decade around the data, on tenths of a decade), labels as the real values at the low, middle and high ticks.
pub fn log_axis(values: impl IntoIterator<Item = f64>) -> YAxis {
    let logs = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::log10);
    let (lo, hi) = match min_max(logs) {
        (Some(l), Some(h)) if h - l >= 1.0 => (l.floor(), h.ceil()),
        (Some(l), Some(h)) => {
            // Snapped to tenths of a decade, so that a slowly falling loss moves the axis (and
            // with it every point of the chart) now and then, not at every step.
            let pad = ((1.0 - (h - l)) / 2.0).max(0.05);
            (
                ((l - pad) * 10.0).floor() / 10.0,
                ((h + pad) * 10.0).ceil() / 10.0,
            )
        }
        _ => (-1.0, 0.0),
    };
    let mid = (lo + hi) / 2.0;
    YAxis {
        log: true,
        bounds: [lo, hi],
        labels: [lo, mid, hi]
            .iter()
            .map(|e| fmt_tick(10f64.powf(*e)))
            .collect(),
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    values.fold((None, None), |(lo, hi), v| {
        (
            Some(lo.map_or(v, |l: f64| l.min(v))),
            Some(hi.map_or(v, |h: f64| h.max(v))),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_smooths_and_is_debiased() {
        let v = ema(&[1.0, 1.0, 1.0], 0.9);
        for x in &v {
            assert!((x - 1.0).abs() < 1e-12, "a constant stays constant: {v:?}");
        }
        let v = ema(&[0.0, 10.0], 0.5);
        assert!((v[0] - 0.0).abs() < 1e-12);
        // s1 = 0, s2 = 0.5*0 + 0.5*10 = 5; debias 1 - 0.25 = 0.75 -> 6.667
        assert!((v[1] - 5.0 / 0.75).abs() < 1e-9);
        assert_eq!(ema(&[3.0, 4.0], 0.0), vec![3.0, 4.0]);
        assert!(ema(&[], 0.6).is_empty());
    }

    #[test]
    fn downsample_bounds_points_and_keeps_extremes() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_000 { 99.0 } else { (i % 7) as f64 }))
            .collect();
        let d = downsample(&pts, 200);
        assert!(d.len() <= 200, "{}", d.len());
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.iter().any(|p| p.1 == 99.0), "the spike survives");
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "x stays sorted");
        let few = vec![(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(downsample(&few, 200), few);
    }

    #[test]
    fn history_stays_bounded_and_spans_the_run() {
        let mut h = History::new(100);
        for i in 0..100_000 {
            h.push(i as f64, 1.0 / (i + 1) as f64);
        }
        assert!(h.points().len() <= 100);
        assert!(h.points().len() >= 50);
        assert_eq!(h.points()[0].0, 0.0);
        assert!(h.last().unwrap().0 > 90_000.0);
        h.push(1e9, f64::NAN);
        assert!(h.last().unwrap().0 < 1e9, "NaN is not plotted");
    }

    #[test]
    fn log_axis_uses_decades_and_skips_non_positive() {
        let a = log_axis([0.002, 0.5, 0.0, -1.0, f64::NAN]);
        assert!(a.log);
        assert_eq!(a.bounds, [-3.0, 0.0]);
        assert_eq!(a.labels, vec!["0.0010", "0.032", "1.00"]);
        assert_eq!(a.map(0.01), Some(-2.0));
        assert_eq!(a.map(0.0), None);
        let narrow = log_axis([0.1, 0.12]);
        assert!(narrow.bounds[0] < 0.1f64.log10() && narrow.bounds[1] > 0.12f64.log10());
        let empty = log_axis([]);
        assert_eq!(empty.bounds, [-1.0, 0.0]);
    }

    #[test]
    fn linear_axis_pads_and_handles_flat_data() {
        let a = linear_axis([1.0, 3.0]);
        assert!(a.bounds[0] < 1.0 && a.bounds[1] > 3.0);
        assert_eq!(a.map(-2.0), Some(-2.0));
        let flat = linear_axis([2.0, 2.0]);
        assert!(flat.bounds[0] < 2.0 && flat.bounds[1] > 2.0);
        assert_eq!(fmt_tick(0.0123), "0.012");
        assert_eq!(fmt_tick(250.0), "250");
        assert_eq!(fmt_tick(1.5e-5), "1.5e-5");
    }
}
