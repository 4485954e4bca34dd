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

/// At most `max` points (max >= 4) keeping the shape, for points in x order: `lo..hi` is cut into
/// equal buckets and each bucket keeps its lowest and highest point, in x order; the first and
/// last points stay. The buckets are fixed by the range, not by the number of points, so a live
/// curve on a fixed axis only changes in its last bucket when a point arrives (a frame redraws the
/// new end of the curve, not all of it).
pub fn downsample_over(points: &[(f64, f64)], max: usize, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let max = max.max(4);
    if points.len() <= max {
        return points.to_vec();
    }
    let buckets = (max - 2) / 2;
    let width = hi - lo;
    let bucket = |x: f64| -> usize {
        if width > 0.0 && width.is_finite() {
            (((x - lo) / width * buckets as f64).floor().max(0.0) as usize).min(buckets - 1)
        } else {
            0
        }
    };
    let inner = &points[1..points.len() - 1];
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    let mut start = 0;
    while start < inner.len() {
        let b = bucket(inner[start].0);
        let mut end = start + 1;
        while end < inner.len() && bucket(inner[end].0) == b {
            end += 1;
        }
        let chunk = &inner[start..end];
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
        start = end;
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

/// The smallest 1-2-5 value (1, 2 or 5 times a power of ten) at least `x` (> 0).
fn nice_ceil(x: f64) -> f64 {
    let e = (x.log10() - 1e-9).floor();
    let p = 10f64.powf(e);
    let f = x / p;
    let m = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// Ticks for a linear axis over [`min`, `max`]: at most `max_count` (at least 2) values a 1-2-5
/// step apart (0.1, 0.2, 0.5, 1, 2, 5, 10, ...), the first at or below `min` and the last at or
/// above `max`. The ends cover the data because a chart spaces its labels evenly between the axis
/// bounds: the bounds are the first and last tick. Empty when the range is not finite.
pub fn nice_ticks(min: f64, max: f64, max_count: usize) -> Vec<f64> {
    nice_ticks_step(min, max, max_count, 0.0)
}

/// [`nice_ticks`] with a step of at least `min_step` (1 for whole epochs).
pub fn nice_ticks_step(min: f64, max: f64, max_count: usize, min_step: f64) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() {
        return Vec::new();
    }
    let (mut lo, mut hi) = if min <= max { (min, max) } else { (max, min) };
    if hi - lo < 1e-12 * lo.abs().max(1e-300) || hi == lo {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.5 };
        lo -= pad;
        hi += pad;
    }
    let n = max_count.max(2);
    let mut step = nice_ceil(((hi - lo) / (n - 1) as f64).max(min_step).max(1e-300));
    loop {
        let first = (lo / step + 1e-9).floor();
        let last = (hi / step - 1e-9).ceil();
        let count = (last - first).round() as usize + 1;
        if count <= n {
            // Each tick from its index, so that 0.1 * 3 is printed as 0.3, not 0.30000000000000004.
            return (0..count)
                .map(|i| snap((first + i as f64) * step, step))
                .collect();
        }
        step = nice_ceil(step * 1.5);
    }
}

/// `v` rounded to the decimals that `step` needs.
fn snap(v: f64, step: f64) -> f64 {
    let d = decimals(step);
    if d == 0 || d > 12 {
        return if d == 0 { v.round() } else { v };
    }
    let k = 10f64.powi(d as i32);
    (v * k).round() / k
}

/// Decimals that show multiples of `step` exactly (0 for 5, 1 for 0.2, 2 for 0.05).
fn decimals(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 || !step.is_finite() {
        0
    } else {
        (-(step.log10()) - 1e-9).ceil().max(0.0) as usize
    }
}

/// Labels of evenly spaced ticks in one format: the decimals the step needs (`0.10 0.15 0.20`,
/// `0 50 100`), or scientific notation for very large or small values (`1e5`, `2.5e-5`).
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = ticks
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(f64::INFINITY, f64::min);
    let big = ticks.iter().fold(0f64, |m, v| m.max(v.abs()));
    if big >= 1e5 || (step.is_finite() && step < 1e-4) {
        return ticks.iter().map(|&v| fmt_sci(v)).collect();
    }
    let d = if step.is_finite() { decimals(step) } else { 0 };
    ticks.iter().map(|v| format!("{v:.d$}")).collect()
}

/// `v` as `1e-5`, `2.5e-5`, `0`.
fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v:.1e}");
    s.replace(".0e", "e")
}

/// A positive value in the fewest digits that show it (`0.02`, `0.5`, `10`, `1e-5`).
pub fn fmt_plain(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(9.9e-4..1e5).contains(&a) {
        return fmt_sci(v);
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A linear axis over the values: bounds and labels on [`nice_ticks`], at most `max_labels`.
pub fn linear_axis(values: impl IntoIterator<Item = f64>, max_labels: usize) -> YAxis {
    let (lo, hi) = min_max(values.into_iter().filter(|v| v.is_finite()));
    let ticks = match (lo, hi) {
        (Some(l), Some(h)) => nice_ticks(l, h, max_labels),
        _ => nice_ticks(0.0, 1.0, max_labels),
    };
    YAxis {
        log: false,
        bounds: [ticks[0], ticks[ticks.len() - 1]],
        labels: tick_labels(&ticks),
    }
}

/// Position on the 1-2-5 ladder (..., 0.1, 0.2, 0.5, 1, 2, 5, 10, ...): 3 a decade.
fn ladder_value(i: i64) -> f64 {
    [1.0, 2.0, 5.0][i.rem_euclid(3) as usize] * 10f64.powi(i.div_euclid(3) as i32)
}

/// The highest ladder position at or below `v` (> 0).
fn ladder_floor(v: f64) -> i64 {
    let e = (v.log10() + 1e-9).floor() as i64;
    let f = v / 10f64.powi(e as i32);
    let m = if f >= 5.0 - 1e-9 {
        2
    } else if f >= 2.0 - 1e-9 {
        1
    } else {
        0
    };
    3 * e + m
}

/// The lowest ladder position at or above `v` (> 0).
fn ladder_ceil(v: f64) -> i64 {
    let i = ladder_floor(v);
    if ladder_value(i) >= v * (1.0 - 1e-9) {
        i
    } else {
        i + 1
    }
}

/// A log10 axis over the positive values, its bounds in log space. Data spanning a decade or
/// more: whole decades, labelled every decade (or every second, third... to stay within
/// `max_labels`). Less: bounds on the 1-2-5 ladder around the data (two steps of it at least), so
/// a slowly falling loss moves the axis (and every point of the chart) only now and then;
/// labelled at both ends, and at every decade between when they are a whole number of decades
/// apart.
pub fn log_axis(values: impl IntoIterator<Item = f64>, max_labels: usize) -> YAxis {
    let max_labels = max_labels.max(2);
    let logs = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::log10);
    let exps: Vec<f64> = match min_max(logs) {
        (Some(l), Some(h)) if h - l >= 1.0 => {
            let (lo, hi) = (l.floor() as i64, h.ceil() as i64);
            let n = (hi - lo) as usize;
            let k = (1..=n.max(1))
                .find(|k| n.div_ceil(*k) < max_labels)
                .unwrap_or(n.max(1)) as i64;
            let lo = lo.div_euclid(k) * k;
            let hi = lo + ((hi - lo) as usize).div_ceil(k as usize) as i64 * k;
            (0..=(hi - lo) / k).map(|i| (lo + i * k) as f64).collect()
        }
        (Some(l), Some(h)) => {
            let (mut a, mut b) = (ladder_floor(10f64.powf(l)), ladder_ceil(10f64.powf(h)));
            let mut up = true;
            while b - a < 2 {
                if up {
                    b += 1;
                } else {
                    a -= 1;
                }
                up = !up;
            }
            if (b - a) % 3 == 0 {
                let lo = ladder_value(a);
                (0..=(b - a) / 3)
                    .map(|i| (lo * 10f64.powi(i as i32)).log10())
                    .collect()
            } else {
                vec![ladder_value(a).log10(), ladder_value(b).log10()]
            }
        }
        _ => vec![-1.0, 0.0],
    };
    YAxis {
        log: true,
        bounds: [exps[0], exps[exps.len() - 1]],
        labels: exps.iter().map(|e| fmt_plain(10f64.powf(*e))).collect(),
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

    /// At most `max` points (max >= 4) keeping the shape: [`downsample_over`] the points' own x range.
    fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
        match (points.first(), points.last()) {
            (Some(a), Some(b)) => downsample_over(points, max, a.0, b.0),
            _ => Vec::new(),
        }
    }

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
        let a = log_axis([0.002, 0.5, 0.0, -1.0, f64::NAN], 6);
        assert!(a.log);
        assert_eq!(a.bounds, [-3.0, 0.0]);
        assert_eq!(a.labels, vec!["0.001", "0.01", "0.1", "1"]);
        assert_eq!(a.map(0.01), Some(-2.0));
        assert_eq!(a.map(0.0), None);
        // Too many decades for the labels: every second one.
        let wide = log_axis([1e-6, 0.5], 4);
        assert_eq!(wide.labels, vec!["1e-6", "1e-4", "0.01", "1"]);
        // Less than a decade: 1-2-5 ends exactly a decade apart, labelled at both.
        let narrow = log_axis([0.1, 0.12], 6);
        assert_eq!(narrow.labels, vec!["0.1", "0.5"]);
        let narrow = log_axis([0.026, 0.085], 6);
        assert_eq!(narrow.labels, vec!["0.02", "0.1"]);
        assert!(narrow.bounds[0] <= 0.026f64.log10() && narrow.bounds[1] >= 0.085f64.log10());
        let decade = log_axis([0.012, 0.09], 6);
        assert_eq!(decade.labels, vec!["0.01", "0.1"]);
        let two = log_axis([0.06, 0.4], 6);
        assert_eq!(two.labels, vec!["0.05", "0.5"]);
        let empty = log_axis([], 6);
        assert_eq!(empty.bounds, [-1.0, 0.0]);
    }

    #[test]
    fn downsampling_on_a_fixed_range_keeps_the_old_part_of_a_growing_curve() {
        let curve = |n: usize| -> Vec<(f64, f64)> {
            (0..n)
                .map(|i| (i as f64 / 10.0, ((i * 7919) % 101) as f64))
                .collect()
        };
        let (a, b) = (curve(3000), curve(3010));
        let (da, db) = (
            downsample_over(&a, 100, 0.0, 400.0),
            downsample_over(&b, 100, 0.0, 400.0),
        );
        assert!(da.len() <= 100 && db.len() <= 100);
        // Every bucket but the last two (where the new points fell) is the same.
        let stable = da.iter().take_while(|p| p.0 < 290.0).count();
        assert!(stable > 60, "{stable}");
        assert_eq!(da[..stable], db[..stable]);
        // By index the buckets move with every point: the old way redrew the whole curve.
        assert_ne!(downsample(&a, 100)[..stable], downsample(&b, 100)[..stable]);
    }

    #[test]
    fn nice_ticks_use_1_2_5_steps_and_cover_the_data() {
        assert_eq!(
            nice_ticks(0.14, 20.57, 6),
            vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
        );
        assert_eq!(nice_ticks(0.14, 20.57, 4), vec![0.0, 10.0, 20.0, 30.0]);
        assert_eq!(
            nice_ticks_step(1.0, 250.0, 6, 1.0),
            vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]
        );
        // Whole epochs, however few.
        assert_eq!(nice_ticks_step(1.0, 2.0, 8, 1.0), vec![1.0, 2.0]);
        assert_eq!(
            nice_ticks(14.97, 66.33, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0]
        );
        assert_eq!(
            nice_ticks(0.013, 0.048, 5),
            vec![0.01, 0.02, 0.03, 0.04, 0.05]
        );
        assert_eq!(nice_ticks(0.31, 0.34, 3), vec![0.3, 0.32, 0.34]);
        assert_eq!(nice_ticks(2.0, 2.0, 3), vec![1.0, 2.0, 3.0]);
        assert_eq!(nice_ticks(0.0, 0.0, 3), vec![-1.0, 0.0, 1.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        for (lo, hi, n) in [(0.0013, 7.7, 5), (-3.2, 9.1, 4), (123.0, 98765.0, 6)] {
            let t = nice_ticks(lo, hi, n);
            assert!(t.len() >= 2 && t.len() <= n, "{t:?}");
            assert!(t[0] <= lo && *t.last().unwrap() >= hi, "{t:?}");
        }
    }

    #[test]
    fn tick_labels_share_one_format() {
        assert_eq!(tick_labels(&[0.1, 0.2, 0.3]), vec!["0.1", "0.2", "0.3"]);
        assert_eq!(tick_labels(&[0.1, 0.15, 0.2]), vec!["0.10", "0.15", "0.20"]);
        assert_eq!(tick_labels(&[0.0, 50.0, 100.0]), vec!["0", "50", "100"]);
        assert_eq!(tick_labels(&[0.0, 2e-5, 4e-5]), vec!["0", "2e-5", "4e-5"]);
        assert_eq!(fmt_plain(0.02), "0.02");
        assert_eq!(fmt_plain(10.0), "10");
    }

    #[test]
    fn linear_axis_on_nice_ticks_and_handles_flat_data() {
        let a = linear_axis([1.0, 3.0], 5);
        assert_eq!(a.bounds, [1.0, 3.0]);
        assert_eq!(a.labels, vec!["1.0", "1.5", "2.0", "2.5", "3.0"]);
        assert_eq!(a.map(-2.0), Some(-2.0));
        let a = linear_axis([14.97, 66.33], 4);
        assert_eq!(a.labels, vec!["0", "50", "100"]);
        let flat = linear_axis([2.0, 2.0], 5);
        assert!(flat.bounds[0] < 2.0 && flat.bounds[1] > 2.0);
    }
}
