//! Channels-last convolution kernels for the hand-written training steps.
//!
//! Activations are `[n, h, w, c]` (NHWC): the positions of a batch are the rows of one matrix and
//! the channels its columns. A convolution's output is then exactly what the gemm writes
//! (`[n * oh * ow, m]`), and the next layer reads its patches straight out of it: no padded copy,
//! no channels-first <-> channels-last conversion, no transposes, unlike [`super::kernels`],
//! which works on candle's NCHW tensors. Padding is handled while building the patches.
//!
//! Two layer shapes skip the patch matrix: transposed convolutions whose stride divides the kernel
//! run phase by phase ([`phases`]), and convolutions with 32 output channels (forward, and the
//! input gradient of a transposed one) run an AVX-512 kernel of our own on a padded copy of the
//! input ([`direct`]) where the CPU has AVX-512F.
//!
//! Each function runs on the calling thread: the caller splits a batch into parts and runs the
//! parts on the pool (see [`super::par::for_parts`]), so that a step synchronises the threads once.
//! The results do not depend on the number of threads.

use super::gemm::{matmul, MatMut, MatRef};
use super::kernels::{activate, copy, weight_from_hwc, weight_to_hwc, Geom, COLS_BUDGET};
use super::par::{self, Scratch};
use super::Activation;
use phases::Phases;

mod direct;
mod phases;
pub(crate) mod stack;

/// A convolution's weight in the column order of channels-last patches: `[m, kh, kw, c]`, `m`
/// being the channel count on the grid side (`c_out` of a convolution, `c_in` of a transposed
/// one), with the layer's geometry.
pub(crate) struct Weight {
    hwc: Vec<f32>,
    m: usize,
    g: Geom,
    /// The per-phase weights when [`transpose`] runs as one convolution per output phase.
    phases: Option<Phases>,
    /// The weight transposed (`[kh * kw * c, 32]`) when [`conv`] runs [`direct::conv32`].
    direct: Option<Vec<f32>>,
}

impl Weight {
    /// From candle's layout `[m, c, kh, kw]`.
    pub(crate) fn new(w: &[f32], m: usize, g: Geom) -> Weight {
        assert_eq!(
            w.len(),
            m * g.rows(),
            "weight size does not match its geometry"
        );
        let hwc = weight_to_hwc(w, m, &g);
        let rows = g.rows();
        let direct =
            (m == direct::CHANNELS && g.kw * g.c >= SHORT && direct::available()).then(|| {
                let mut wt = vec![0f32; rows * m];
                for (o, row) in hwc.chunks_exact(rows).enumerate() {
                    for (r, v) in row.iter().enumerate() {
                        wt[r * m + o] = *v;
                    }
                }
                wt
            });
        Weight {
            phases: Phases::new(&hwc, m, &g),
            direct,
            hwc,
            m,
            g,
        }
    }

    /// A gradient in this weight's order (`[m, kh, kw, c]`) back to candle's `[m, c, kh, kw]`.
    pub(crate) fn to_candle(&self, grad: &[f32]) -> Vec<f32> {
        weight_from_hwc(grad, self.m, &self.g)
    }

    pub(crate) fn geom(&self) -> &Geom {
        &self.g
    }

    /// `[m, rows]`, row major.
    fn mat(&self) -> MatRef<'_> {
        MatRef::row_major(&self.hwc, self.m, self.g.rows())
    }
}

/// Images per gemm: as many as keep the patch matrix within [`COLS_BUDGET`] (in cache).
fn group(g: &Geom) -> usize {
    (COLS_BUDGET / (g.rows() * g.grid()).max(1)).max(1)
}

/// The kernel columns `lo..hi` (of `0..kw`) that fall inside the image for the patch whose left
/// edge is at image column `x0` (negative inside the left padding).
fn inside(x0: isize, g: &Geom) -> (usize, usize) {
    let kw = g.kw as isize;
    let lo = (-x0).clamp(0, kw) as usize;
    let hi = (g.w as isize - x0).clamp(0, kw) as usize;
    (lo, hi.max(lo))
}

/// Calls `f(row, ki, lo, hi, at)` for every patch row `row` (`0..oh * ow`) and kernel row `ki`:
/// kernel columns `lo..hi` read the `(hi - lo) * c` floats of the image at `at`; everything else
/// of the patch is padding (`lo == hi` when the whole kernel row is).
#[inline(always)]
fn segments(g: &Geom, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
    let (s, p) = (g.stride as isize, g.pad as isize);
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let x0 = ox as isize * s - p;
            let (lo, hi) = inside(x0, g);
            for ki in 0..g.kh {
                let y = oy as isize * s + ki as isize - p;
                if y < 0 || y >= g.h as isize || lo == hi {
                    f(oy * g.ow + ox, ki, 0, 0, 0);
                    continue;
                }
                let at = (y as usize * g.w + (x0 + lo as isize) as usize) * g.c;
                f(oy * g.ow + ox, ki, lo, hi, at);
            }
        }
    }
}

/// Kernel rows of fewer floats than this (`kw * c`: one-channel images) go through a zero-padded
/// copy of the image, so that no segment needs the bounds logic of [`segments`], which would
/// cost more than the copy of a few floats.
const SHORT: usize = 32;

/// Builds patches of images of one geometry ([`Patcher::im2col`]) and adds them back
/// ([`Patcher::col2im`]), with a padded scratch image when the kernel rows are short.
struct Patcher<'g> {
    g: &'g Geom,
    padded: Option<Scratch>,
}

impl<'g> Patcher<'g> {
    fn new(g: &'g Geom) -> Self {
        let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
        let short = g.kw * g.c < SHORT;
        Patcher {
            g,
            padded: short.then(|| Scratch::new(hp * wp * g.c)),
        }
    }

    /// Patches of one image `src` (`[h, w, c]`) into `dst` (`[oh * ow, kh * kw * c]`, row
    /// major): row `(oy, ox)` holds, for each kernel row, `kw * c` floats of the image (zeros in
    /// the padding). Every float of `dst` is written once.
    fn im2col(&mut self, src: &[f32], dst: &mut [f32]) {
        let g = self.g;
        let (c, rows, seg) = (g.c, g.rows(), g.kw * g.c);
        let Some(xp) = self.padded.as_mut() else {
            segments(g, |row, ki, lo, hi, at| {
                let part = &mut dst[row * rows + ki * seg..][..seg];
                if lo == hi {
                    part.fill(0.0);
                    return;
                }
                part[..lo * c].fill(0.0);
                part[hi * c..].fill(0.0);
                copy(&mut part[lo * c..hi * c], &src[at..at + (hi - lo) * c]);
            });
            return;
        };
        let (p, wp) = (g.pad, g.w + 2 * g.pad);
        let line = wp * c;
        xp[..p * line].fill(0.0);
        xp[(p + g.h) * line..].fill(0.0);
        for (iy, s) in src.chunks_exact(g.w * c).enumerate() {
            let l = &mut xp[(iy + p) * line..][..line];
            l[..p * c].fill(0.0);
            l[(p + g.w) * c..].fill(0.0);
            l[p * c..(p + g.w) * c].copy_from_slice(s);
        }
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let row = &mut dst[(oy * g.ow + ox) * rows..][..rows];
                for (ki, part) in row.chunks_exact_mut(seg).enumerate() {
                    let at = (oy * g.stride + ki) * line + ox * g.stride * c;
                    copy(part, &xp[at..at + seg]);
                }
            }
        }
    }

    /// Patches of images `first .. first + cnt` of `src` (`[n, h, w, c]`) into `cols`
    /// (`[cnt * oh * ow, kh * kw * c]`), image after image.
    fn images(&mut self, src: &[f32], first: usize, cnt: usize, cols: &mut [f32]) {
        let (img, per) = (self.g.image(), self.g.grid() * self.g.rows());
        for j in 0..cnt {
            self.im2col(
                &src[(first + j) * img..][..img],
                &mut cols[j * per..][..per],
            );
        }
    }

    /// Adds patches `src` (`[oh * ow, kh * kw * c]`) into the image `dst` (`[h, w, c]`),
    /// dropping what falls in the padding: the adjoint of [`Patcher::im2col`].
    fn col2im(&mut self, src: &[f32], dst: &mut [f32]) {
        let g = self.g;
        let (c, rows, seg) = (g.c, g.rows(), g.kw * g.c);
        let Some(yp) = self.padded.as_mut() else {
            segments(g, |row, ki, lo, hi, at| {
                if lo == hi {
                    return;
                }
                let part = &src[row * rows + ki * seg..][..seg];
                add(&mut dst[at..at + (hi - lo) * c], &part[lo * c..hi * c]);
            });
            return;
        };
        let (p, wp) = (g.pad, g.w + 2 * g.pad);
        let line = wp * c;
        yp.fill(0.0);
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let row = &src[(oy * g.ow + ox) * rows..][..rows];
                for (ki, part) in row.chunks_exact(seg).enumerate() {
                    let at = (oy * g.stride + ki) * line + ox * g.stride * c;
                    add(&mut yp[at..at + seg], part);
                }
            }
        }
        for (iy, d) in dst.chunks_exact_mut(g.w * c).enumerate() {
            add(d, &yp[(iy + p) * line + p * c..][..g.w * c]);
        }
    }
}

/// `dst += src`, with fixed-size loops for the short runs of one-channel images.
#[inline(always)]
fn add(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let d: &mut [f32; N] = dst.try_into().expect("add: lengths differ");
        let s: &[f32; N] = src.try_into().expect("add: lengths differ");
        for i in 0..N {
            d[i] += s[i];
        }
    }
    match dst.len() {
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        _ => dst.iter_mut().zip(src).for_each(|(d, v)| *d += *v),
    }
}

/// `v = act(v + bias[channel])` over `out` (`[.., c]`).
fn bias_act(out: &mut [f32], bias: Option<&[f32]>, c: usize, act: Activation) {
    #[inline(always)]
    fn each(out: &mut [f32], bias: Option<&[f32]>, c: usize, f: impl Fn(f32) -> f32) {
        match bias {
            // One channel: a plain loop, not rows of one float.
            Some(b) if c == 1 => out.iter_mut().for_each(|v| *v = f(*v + b[0])),
            Some(b) => {
                for row in out.chunks_exact_mut(c) {
                    row.iter_mut().zip(b).for_each(|(v, b)| *v = f(*v + b));
                }
            }
            None => out.iter_mut().for_each(|v| *v = f(*v)),
        }
    }
    match (act, bias) {
        (Activation::Identity, None) => {}
        (Activation::Identity, _) => each(out, bias, c, |v| v),
        (Activation::Relu, _) => each(out, bias, c, |v| v.max(0.0)),
        (Activation::Sigmoid, _) => each(out, bias, c, |v| activate(act, v)),
    }
}

/// `g = g * (y > 0)` elementwise: the derivative of a ReLU whose output is `y`.
fn relu_mask(grad: &mut [f32], y: &[f32]) {
    for (g, y) in grad.iter_mut().zip(y) {
        *g = if *y > 0.0 { *g } else { 0.0 };
    }
}

/// The sum of the rows of `x` (`[.., c]`): a bias gradient.
pub(crate) fn col_sums(x: &[f32], c: usize) -> Vec<f32> {
    let mut out = vec![0f32; c];
    if c > 0 {
        for row in x.chunks_exact(c) {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += *v);
        }
    }
    out
}

/// Runs `f(first, cnt, cols)` for the images of `src` (`[n, h, w, c]` of `g`'s image side) in
/// groups of [`group`] images, `cols` holding the group's patches (`[cnt * oh * ow, rows]`).
fn patch_groups(src: &[f32], n: usize, g: &Geom, mut f: impl FnMut(usize, usize, &[f32])) {
    let (rows, l, gsz) = (g.rows(), g.grid(), group(g));
    let mut cols = Scratch::new(gsz.min(n) * l * rows);
    let mut patcher = Patcher::new(g);
    for (first, cnt) in groups(n, gsz) {
        patcher.images(src, first, cnt, &mut cols);
        f(first, cnt, &cols[..cnt * l * rows]);
    }
}

/// The images `0..n` in groups of `gsz`: `(first, count)`.
fn groups(n: usize, gsz: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(gsz).map(move |f| (f, gsz.min(n - f)))
}

/// A convolution of the `n` images `src` (`[n, h, w, c]`):
/// `act(im2col(src) x W^T + bias)`, `[n, oh, ow, m]`.
pub(crate) fn conv(
    src: &[f32],
    n: usize,
    w: &Weight,
    bias: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let g = &w.g;
    let (rows, l, m, img) = (g.rows(), g.grid(), w.m, g.image());
    assert_eq!(src.len(), n * img, "conv: input size");
    let mut out = par::output(n * l * m);
    if let Some(wt) = &w.direct {
        conv_direct(src, n, g, wt, bias, &mut out);
        bias_act(&mut out, None, m, act);
        return out;
    }
    patch_groups(src, n, g, |first, cnt, cols| {
        let ld = cnt * l;
        let dst = &mut out[first * l * m..][..ld * m];
        let cols = MatRef::row_major(cols, ld, rows);
        matmul(MatMut::row_major(dst, ld, m), cols, w.mat().t(), false);
        bias_act(dst, bias, m, act);
    });
    out
}

/// [`conv`] by [`direct::conv32`], a few images at a time through a zero-padded copy.
fn conv_direct(src: &[f32], n: usize, g: &Geom, wt: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let zero = [0f32; direct::CHANNELS];
    let bias = bias.unwrap_or(&zero);
    let rows = g.grid() * direct::CHANNELS;
    direct::padded_groups(src, n, g, |first, cnt, padded| {
        let o = &mut out[first * rows..][..cnt * rows];
        direct::conv32(padded, cnt, g, wt, bias, o);
    });
}

/// A transposed convolution of the `n` grids `a` (`[n, oh, ow, m]`):
/// `act(col2im(a x W) + bias)`, `[n, h, w, c]`. Without bias and activation, the input gradient
/// of a convolution; with `mask`, that gradient times the derivative of the ReLU whose output is
/// `mask` (`[n, h, w, c]`).
pub(crate) fn transpose(
    a: &[f32],
    n: usize,
    w: &Weight,
    bias: Option<&[f32]>,
    act: Activation,
    mask: Option<&[f32]>,
) -> Vec<f32> {
    let g = &w.g;
    let (rows, l, m, img) = (g.rows(), g.grid(), w.m, g.image());
    assert_eq!(a.len(), n * l * m, "transpose: input size");
    let mut out = par::output(n * img);
    if let Some(phases) = &w.phases {
        phases.transpose(a, n, m, g, &mut out);
        for dst in out.chunks_exact_mut(img) {
            bias_act(dst, bias, g.c, act);
        }
        if let Some(mask) = mask {
            relu_mask(&mut out, mask);
        }
        return out;
    }
    out.fill(0.0);
    let gsz = group(g);
    let mut cols = Scratch::new(gsz.min(n) * l * rows);
    let mut patcher = Patcher::new(g);
    for (first, cnt) in groups(n, gsz) {
        let ld = cnt * l;
        let a = MatRef::row_major(&a[first * l * m..][..ld * m], ld, m);
        matmul(
            MatMut::row_major(&mut cols[..ld * rows], ld, rows),
            a,
            w.mat(),
            false,
        );
        for j in 0..cnt {
            let dst = &mut out[(first + j) * img..][..img];
            patcher.col2im(&cols[j * l * rows..][..l * rows], dst);
            bias_act(dst, bias, g.c, act);
        }
    }
    if let Some(mask) = mask {
        relu_mask(&mut out, mask);
    }
    out
}

/// The gradients of a convolution `y = conv(x)` (before its activation): from `gy`
/// (`[n, oh, ow, m]`) and its input `x` (`[n, h, w, c]`), the weight gradient (in [`Weight`]'s
/// order: see [`Weight::to_candle`]), the bias gradient and, when `input`, the input gradient
/// (times the ReLU derivative of `mask` when given).
pub(crate) fn conv_backward(
    gy: &[f32],
    x: &[f32],
    n: usize,
    w: &Weight,
    input: bool,
    mask: Option<&[f32]>,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let g = &w.g;
    let (rows, l, m, img) = (g.rows(), g.grid(), w.m, g.image());
    assert_eq!(x.len(), n * img, "conv_backward: input size");
    assert_eq!(gy.len(), n * l * m, "conv_backward: gradient size");
    let mut dw = vec![0f32; m * rows];
    if w.direct.is_some() && direct::weight_grad_fits(g) {
        direct::padded_groups(x, n, g, |first, cnt, padded| {
            let gy = &gy[first * l * m..][..cnt * l * m];
            direct::weight_grad32(padded, cnt, g, gy, &mut dw, first > 0);
        });
    } else {
        patch_groups(x, n, g, |first, cnt, cols| {
            let ld = cnt * l;
            let gy = MatRef::row_major(&gy[first * l * m..][..ld * m], ld, m);
            let cols = MatRef::row_major(cols, ld, rows);
            matmul(MatMut::row_major(&mut dw, m, rows), gy.t(), cols, first > 0);
        });
    }
    let dx = input.then(|| transpose(gy, n, w, None, Activation::Identity, mask));
    (dx, dw, col_sums(gy, m))
}

/// The gradients of a transposed convolution `y = transpose(a)` (before its activation): from
/// `gy` (`[n, h, w, c]`) and its input `a` (`[n, oh, ow, m]`), the input gradient (times the ReLU
/// derivative of `mask` when given), the weight gradient (in [`Weight`]'s order) and the bias
/// gradient. One set of patches of `gy` serves both products.
pub(crate) fn transpose_backward(
    gy: &[f32],
    a: &[f32],
    n: usize,
    w: &Weight,
    mask: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = &w.g;
    let (rows, l, m, img) = (g.rows(), g.grid(), w.m, g.image());
    assert_eq!(gy.len(), n * img, "transpose_backward: gradient size");
    assert_eq!(a.len(), n * l * m, "transpose_backward: input size");
    let mut da = par::output(n * l * m);
    let mut dw = vec![0f32; m * rows];
    // The input gradient is the convolution of `gy` with this weight, the weight gradient that of
    // `a` with the patches of `gy`: both by the direct kernels from one padded copy of `gy` when
    // they apply, else from one patch matrix of `gy`.
    if let (Some(wt), true) = (&w.direct, direct::weight_grad_fits(g)) {
        let zero = [0f32; direct::CHANNELS];
        direct::padded_groups(gy, n, g, |first, cnt, padded| {
            let dst = &mut da[first * l * m..][..cnt * l * m];
            direct::conv32(padded, cnt, g, wt, &zero, dst);
            if let Some(mask) = mask {
                relu_mask(dst, &mask[first * l * m..][..cnt * l * m]);
            }
            let a = &a[first * l * m..][..cnt * l * m];
            direct::weight_grad32(padded, cnt, g, a, &mut dw, first > 0);
        });
        return (da, dw, col_sums(gy, g.c));
    }
    patch_groups(gy, n, g, |first, cnt, cols| {
        let ld = cnt * l;
        let cols = MatRef::row_major(cols, ld, rows);
        let dst = &mut da[first * l * m..][..ld * m];
        matmul(MatMut::row_major(dst, ld, m), cols, w.mat().t(), false);
        if let Some(mask) = mask {
            relu_mask(dst, &mask[first * l * m..][..ld * m]);
        }
        let a = MatRef::row_major(&a[first * l * m..][..ld * m], ld, m);
        matmul(MatMut::row_major(&mut dw, m, rows), a.t(), cols, first > 0);
    });
    (da, dw, col_sums(gy, g.c))
}

/// `[n, c, h, w]` to `[n, h, w, c]` (`hw` = `h * w`); a copy when `c` is 1.
pub(crate) fn from_nchw(x: &[f32], c: usize, hw: usize) -> Vec<f32> {
    let mut out = par::output(x.len());
    if c == 1 {
        out.copy_from_slice(x);
        return out;
    }
    for (src, dst) in x.chunks_exact(c * hw).zip(out.chunks_exact_mut(c * hw)) {
        for (ch, plane) in src.chunks_exact(hw).enumerate() {
            for (i, v) in plane.iter().enumerate() {
                dst[i * c + ch] = *v;
            }
        }
    }
    out
}

/// `[n, h, w, c]` to `[n, c, h, w]`: the inverse of [`from_nchw`]; no copy when `c` is 1.
pub(crate) fn to_nchw(x: Vec<f32>, c: usize, hw: usize) -> Vec<f32> {
    if c == 1 {
        return x;
    }
    let mut out = vec![0f32; x.len()];
    for (src, dst) in x.chunks_exact(c * hw).zip(out.chunks_exact_mut(c * hw)) {
        for (i, px) in src.chunks_exact(c).enumerate() {
            for (ch, v) in px.iter().enumerate() {
                dst[ch * hw + i] = *v;
            }
        }
    }
    par::recycle(x);
    out
}

#[cfg(test)]
mod tests;
