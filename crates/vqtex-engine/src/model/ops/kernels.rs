//! The f32 kernels behind the convolution ops: im2col / col2im, gemm, batch threading.
//!
//! Everything is phrased in terms of one convolution geometry ([`Geom`]): an *image* side
//! (`c x h x w`, the input of a convolution, the output of a transposed convolution) and a *grid*
//! side (`oh x ow` patch positions, the output of a convolution, the input of a transposed one).
//! A weight is `[m, c, kh, kw]`, `m` being the channel count on the grid side. Three drivers
//! cover forward and backward of both ops:
//!
//! - [`image_to_grid`]: `out_b = W x im2col(src_b)` (conv forward, conv-transpose input grad);
//! - [`grid_to_image`]: `out_b = col2im(W^T x a_b)` (conv-transpose forward, conv input grad);
//! - [`weight_grad`]: `sum_b a_b x im2col(src_b)^T` (the weight gradient of both).
//!
//! Patches are built channels-last: each image is first copied to a zero-padded `[h, w, c]`
//! buffer, so that a patch row is `kh` contiguous runs of `kw * c` floats (plain memcpys, not
//! strided gathers), and the weight is permuted to `[m, kh, kw, c]` to match. Work units are
//! groups of images, run on candle's CPU thread pool (see [`super::par`]); a group shares one gemm
//! when the weight is large, so that its packing is amortised and the gemm sees wide matrices,
//! while its patch matrix stays in cache.

use std::sync::Mutex;

use super::gemm::{matmul, MatMut, MatRef};
use super::par::{for_units, lock, threads, unit_chunks, Scratch};
use super::Activation;

/// Target size, in floats, of one thread's patch matrix (a few hundred KiB: stays in L2).
pub(super) const COLS_BUDGET: usize = 256 * 1024;
/// Weights up to this many floats are cheap to pack for every image (see [`group_io`]).
const SMALL_WEIGHT: usize = 8 * 1024;

/// The geometry of one 2-D convolution (dilation 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom {
    /// Channels on the image side.
    pub c: usize,
    /// Image height and width.
    pub h: usize,
    pub w: usize,
    /// Kernel height and width.
    pub kh: usize,
    pub kw: usize,
    /// Grid (patch positions) height and width.
    pub oh: usize,
    pub ow: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geom {
    /// Rows of the patch matrix: `c * kh * kw`.
    pub(crate) fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Patch positions per image: `oh * ow`.
    pub(crate) fn grid(&self) -> usize {
        self.oh * self.ow
    }
    /// Floats in one image.
    pub(crate) fn image(&self) -> usize {
        self.c * self.h * self.w
    }
}

/// Images per work unit: as many as fit the cache budget, but at least two units per thread
/// (so that a fast thread can take over a slow one's share).
fn group(g: &Geom, batch: usize) -> usize {
    let per_thread = batch.div_ceil(2 * threads()).max(1);
    (COLS_BUDGET / (g.rows() * g.grid()).max(1)).clamp(1, per_thread)
}

/// Images per work unit for [`image_to_grid`] and [`grid_to_image`]: one when the weight is small
/// (then each gemm reads and writes the NCHW tensors in place, with no gather or scatter pass);
/// else [`group`], which shares one packing of a large weight among several images.
fn group_io(g: &Geom, m: usize, batch: usize) -> usize {
    match m * g.rows() <= SMALL_WEIGHT {
        true => 1,
        false => group(g, batch),
    }
}

/// Padded image height and width.
fn padded(g: &Geom) -> (usize, usize) {
    (g.h + 2 * g.pad, g.w + 2 * g.pad)
}

/// `w` (`[m, c, kh, kw]`) as `[m, kh, kw, c]`: the column order of the channels-last patches.
pub(super) fn weight_to_hwc(w: &[f32], m: usize, g: &Geom) -> Vec<f32> {
    let (kk, rows) = (g.kh * g.kw, g.rows());
    let mut out = vec![0f32; m * rows];
    for (src, dst) in w.chunks_exact(rows).zip(out.chunks_exact_mut(rows)) {
        for (ch, plane) in src.chunks_exact(kk).enumerate() {
            for (q, v) in plane.iter().enumerate() {
                dst[q * g.c + ch] = *v;
            }
        }
    }
    out
}

/// The inverse of [`weight_to_hwc`].
pub(super) fn weight_from_hwc(w: &[f32], m: usize, g: &Geom) -> Vec<f32> {
    let (kk, rows) = (g.kh * g.kw, g.rows());
    let mut out = vec![0f32; m * rows];
    for (src, dst) in w.chunks_exact(rows).zip(out.chunks_exact_mut(rows)) {
        for (ch, plane) in dst.chunks_exact_mut(kk).enumerate() {
            for (q, v) in plane.iter_mut().enumerate() {
                *v = src[q * g.c + ch];
            }
        }
    }
    out
}

/// One image `src` (`[c, h, w]`) into `dst` as channels-last with a zero border of `pad`:
/// `[h + 2 pad, w + 2 pad, c]`.
fn to_padded_hwc(src: &[f32], g: &Geom, dst: &mut [f32]) {
    let (hp, wp) = padded(g);
    let (c, p) = (g.c, g.pad);
    let row = wp * c;
    dst[..p * row].fill(0.0);
    dst[(p + g.h) * row..hp * row].fill(0.0);
    for iy in 0..g.h {
        let line = &mut dst[(iy + p) * row..(iy + p + 1) * row];
        line[..p * c].fill(0.0);
        line[(p + g.w) * c..].fill(0.0);
        let inner = &mut line[p * c..(p + g.w) * c];
        for ch in 0..c {
            let s = &src[(ch * g.h + iy) * g.w..(ch * g.h + iy + 1) * g.w];
            for (d, v) in inner[ch..].iter_mut().step_by(c).zip(s) {
                *d = *v;
            }
        }
    }
}

/// The interior of a padded channels-last image `src` back to `[c, h, w]` in `dst`, adding the
/// per-channel `bias` and applying `act`. Leaves `src` all zeros, ready for the next image.
fn from_padded_hwc(
    src: &mut [f32],
    g: &Geom,
    dst: &mut [f32],
    bias: Option<&[f32]>,
    act: Activation,
) {
    let (hp, wp) = padded(g);
    let (c, p) = (g.c, g.pad);
    let row = wp * c;
    for iy in 0..g.h {
        let line = &mut src[(iy + p) * row..(iy + p + 1) * row];
        let (left, rest) = line.split_at_mut(p * c);
        let (inner, right) = rest.split_at_mut(g.w * c);
        left.fill(0.0);
        right.fill(0.0);
        for ch in 0..c {
            let b = bias.map_or(0.0, |b| b[ch]);
            let d = &mut dst[(ch * g.h + iy) * g.w..(ch * g.h + iy + 1) * g.w];
            for (o, v) in d.iter_mut().zip(inner[ch..].iter_mut().step_by(c)) {
                *o = activate(act, *v + b);
                *v = 0.0;
            }
        }
    }
    src[..p * row].fill(0.0);
    src[(p + g.h) * row..hp * row].fill(0.0);
}

/// Patches of one padded channels-last image `xp` into `dst` (`[oh * ow, kh * kw * c]`, row
/// major): row `(oy, ox)` is, for each kernel row `ki`, the `kw * c` contiguous floats of `xp` at
/// `(oy * stride + ki, ox * stride)`.
fn im2col_hwc(xp: &[f32], g: &Geom, dst: &mut [f32]) {
    let (_, wp) = padded(g);
    let (seg, rows) = (g.kw * g.c, g.rows());
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let row = &mut dst[(oy * g.ow + ox) * rows..(oy * g.ow + ox + 1) * rows];
            for (ki, part) in row.chunks_exact_mut(seg).enumerate() {
                let at = ((oy * g.stride + ki) * wp + ox * g.stride) * g.c;
                copy(part, &xp[at..at + seg]);
            }
        }
    }
}

/// `dst.copy_from_slice(src)`, without a `memcpy` call for the short runs of one-channel images.
#[inline(always)]
pub(super) fn copy(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let d: &mut [f32; N] = dst.try_into().expect("copy: lengths differ");
        *d = *<&[f32; N]>::try_from(src).expect("copy: lengths differ");
    }
    match dst.len() {
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        5 => fixed::<5>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Adds patches `src` (`[oh * ow, kh * kw * c]`) into a padded channels-last image `yp`: the
/// adjoint of [`im2col_hwc`].
fn col2im_hwc(src: &[f32], g: &Geom, yp: &mut [f32]) {
    let (_, wp) = padded(g);
    let (seg, rows) = (g.kw * g.c, g.rows());
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let row = &src[(oy * g.ow + ox) * rows..(oy * g.ow + ox + 1) * rows];
            for (ki, part) in row.chunks_exact(seg).enumerate() {
                let at = ((oy * g.stride + ki) * wp + ox * g.stride) * g.c;
                for (d, v) in yp[at..at + seg].iter_mut().zip(part) {
                    *d += *v;
                }
            }
        }
    }
}

/// Copies images `first .. first + n` of `a` (`[batch, m, l]`) into `dst` as one row-major
/// `[m, n * l]` matrix (image `j` in columns `j * l ..`).
fn gather(a: &[f32], first: usize, n: usize, m: usize, l: usize, dst: &mut [f32]) {
    let ld = n * l;
    for j in 0..n {
        let img = &a[(first + j) * m * l..(first + j + 1) * m * l];
        for (ch, src) in img.chunks_exact(l).enumerate() {
            dst[ch * ld + j * l..ch * ld + (j + 1) * l].copy_from_slice(src);
        }
    }
}

#[inline]
pub(super) fn activate(act: Activation, v: f32) -> f32 {
    match act {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    }
}

/// Fills `cols` (`[cnt * oh * ow, rows]`) with the patches of images `first .. first + cnt` of
/// `src` (`[batch, c, h, w]`), using `xp` as scratch for one padded image.
fn patches(src: &[f32], first: usize, cnt: usize, g: &Geom, xp: &mut [f32], cols: &mut [f32]) {
    let per = g.grid() * g.rows();
    for j in 0..cnt {
        let img = &src[(first + j) * g.image()..(first + j + 1) * g.image()];
        to_padded_hwc(img, g, xp);
        im2col_hwc(xp, g, &mut cols[j * per..(j + 1) * per]);
    }
}

/// For each image `b` of `src` (`[batch, c, h, w]`): `act(W x im2col(src_b) + bias)`, with `w`
/// `[m, c, kh, kw]`. Returns `[batch, m, oh, ow]`.
pub(crate) fn image_to_grid(
    src: &[f32],
    batch: usize,
    w: &[f32],
    m: usize,
    g: &Geom,
    bias: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let (rows, l) = (g.rows(), g.grid());
    let (hp, wp) = padded(g);
    let mut out = super::par::output(batch * m * l);
    let gsz = group_io(g, m, batch);
    // The weight [m, rows], stored column-major for groups: with a column-major output too, the
    // gemm then reads both operands in place instead of packing (transposing) the patches.
    let w_hwc = weight_to_hwc(w, m, g);
    let w_cm = match gsz {
        1 => Vec::new(),
        _ => transpose(&w_hwc, m, rows),
    };
    let w_hwc = MatRef::row_major(&w_hwc, m, rows);
    let chunks = unit_chunks(&mut out, gsz, m * l);
    for_units(batch, gsz, 2 * batch * m * rows * l, |u, first, cnt| {
        let ld = cnt * l;
        let mut xp = Scratch::new(hp * wp * g.c);
        let mut cols = Scratch::new(ld * rows);
        patches(src, first, cnt, g, &mut xp, &mut cols);
        let cols_t = MatRef::row_major(&cols, ld, rows).t();
        let mut out = lock(&chunks, u);
        if gsz == 1 {
            // Straight into the output: bias first, the product added to it.
            if let Some(bias) = bias {
                for (plane, b) in out.chunks_exact_mut(l).zip(bias) {
                    plane.fill(*b);
                }
            }
            let dst = MatMut::row_major(&mut out, m, l);
            matmul(dst, w_hwc, cols_t, bias.is_some());
            if act != Activation::Identity {
                out.iter_mut().for_each(|v| *v = activate(act, *v));
            }
            return;
        }
        // tmp[n * m + ch]: output channel ch at column n = j * l + i (image j, position i).
        let mut tmp = Scratch::new(ld * m);
        let w_cm = MatRef::row_major(&w_cm, rows, m).t();
        matmul(MatMut::row_major(&mut tmp, ld, m).t(), w_cm, cols_t, false);
        for (j, o) in out.chunks_exact_mut(m * l).enumerate() {
            let t = &tmp[j * l * m..(j + 1) * l * m];
            for (ch, dst) in o.chunks_exact_mut(l).enumerate() {
                let b = bias.map_or(0.0, |b| b[ch]);
                for (d, v) in dst.iter_mut().zip(t[ch..].iter().step_by(m)) {
                    *d = activate(act, *v + b);
                }
            }
        }
    });
    drop(chunks);
    out
}

/// The transpose of a row-major `[rows, cols]` matrix.
fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for (i, row) in a.chunks_exact(cols).enumerate() {
        for (j, v) in row.iter().enumerate() {
            out[j * rows + i] = *v;
        }
    }
    out
}

/// For each image `b` of `a` (`[batch, m, oh, ow]`): `act(col2im(W^T x a_b) + bias)`, with `w`
/// `[m, c, kh, kw]` and `bias` per image channel. Returns `[batch, c, h, w]`.
pub(crate) fn grid_to_image(
    a: &[f32],
    batch: usize,
    w: &[f32],
    m: usize,
    g: &Geom,
    bias: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let (rows, l) = (g.rows(), g.grid());
    let (hp, wp) = padded(g);
    let mut out = super::par::output(batch * g.image());
    let w_hwc = weight_to_hwc(w, m, g);
    let w_hwc = MatRef::row_major(&w_hwc, m, rows);
    let gsz = group_io(g, m, batch);
    let chunks = unit_chunks(&mut out, gsz, g.image());
    for_units(batch, gsz, 2 * batch * m * rows * l, |u, first, cnt| {
        let ld = cnt * l;
        let mut cols = Scratch::new(ld * rows);
        if cnt == 1 {
            // The grid image's own [m, l] layout, read transposed in place.
            let a_t = MatRef::new(&a[first * m * l..(first + 1) * m * l], l, m, 1, l);
            matmul(MatMut::row_major(&mut cols, ld, rows), a_t, w_hwc, false);
        } else {
            let mut tmp = Scratch::new(m * ld);
            gather(a, first, cnt, m, l, &mut tmp);
            let tmp_t = MatRef::row_major(&tmp, m, ld).t();
            matmul(MatMut::row_major(&mut cols, ld, rows), tmp_t, w_hwc, false);
        }
        let mut yp = Scratch::new(hp * wp * g.c);
        yp.fill(0.0);
        let mut out = lock(&chunks, u);
        for (j, img) in out.chunks_exact_mut(g.image()).enumerate() {
            col2im_hwc(&cols[j * l * rows..(j + 1) * l * rows], g, &mut yp);
            from_padded_hwc(&mut yp, g, img, bias, act);
        }
    });
    drop(chunks);
    out
}

/// `sum_b a_b x im2col(src_b)^T` with `a` `[batch, m, oh, ow]` and `src` `[batch, c, h, w]`.
/// Returns `[m, c, kh, kw]`.
pub(crate) fn weight_grad(a: &[f32], src: &[f32], batch: usize, m: usize, g: &Geom) -> Vec<f32> {
    let (rows, l) = (g.rows(), g.grid());
    let (hp, wp) = padded(g);
    // One partial sum per work unit, added up in unit order afterwards: which thread runs a unit
    // must not change the result, or the same seed would not give the same losses.
    let gsz = group(g, batch);
    let units = batch.div_ceil(gsz.max(1));
    let accs: Vec<Mutex<Vec<f32>>> = (0..units).map(|_| Mutex::new(Vec::new())).collect();
    for_units(batch, gsz, 2 * batch * m * rows * l, |u, first, cnt| {
        let ld = cnt * l;
        let mut xp = Scratch::new(hp * wp * g.c);
        let mut cols = Scratch::new(ld * rows);
        let mut tmp = Scratch::new(m * ld);
        patches(src, first, cnt, g, &mut xp, &mut cols);
        gather(a, first, cnt, m, l, &mut tmp);
        let mut acc = accs[u].lock().unwrap_or_else(|e| e.into_inner());
        acc.resize(m * rows, 0.0);
        let cols_m = MatRef::row_major(&cols, ld, rows);
        let tmp_m = MatRef::row_major(&tmp, m, ld);
        matmul(MatMut::row_major(&mut acc, m, rows), tmp_m, cols_m, false);
    });
    let mut total = vec![0f32; m * rows];
    for acc in accs {
        let acc = acc.into_inner().unwrap_or_else(|e| e.into_inner());
        for (t, v) in total.iter_mut().zip(&acc) {
            *t += *v;
        }
    }
    weight_from_hwc(&total, m, g)
}

/// The backward pass of a transposed convolution after its activation's derivative, sharing one
/// im2col of the image-side gradient `src` (`[batch, c, h, w]`) between its two products:
/// `dx_b = W x im2col(src_b)` (`[batch, m, oh, ow]`, multiplied by `mask > 0` where a mask is
/// given: the derivative of a ReLU whose output is `mask`) and the weight gradient
/// `sum_b a_b x im2col(src_b)^T` (`[m, c, kh, kw]`) of the grid-side input `a`. The same numbers
/// as [`image_to_grid`] and [`weight_grad`] called apart, without building the patches twice.
/// (The training steps now use [`super::nhwc`]; this one is the reference its tests compare with.)
#[cfg(test)]
pub(crate) fn transpose_backward(
    src: &[f32],
    a: &[f32],
    batch: usize,
    w: &[f32],
    m: usize,
    g: &Geom,
    mask: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let (rows, l) = (g.rows(), g.grid());
    let (hp, wp) = padded(g);
    let mut out = super::par::output(batch * m * l);
    let gsz = group(g, batch);
    let units = batch.div_ceil(gsz.max(1));
    let small = m * rows <= SMALL_WEIGHT;
    let w_hwc = weight_to_hwc(w, m, g);
    let w_cm = match small {
        true => Vec::new(),
        false => transpose(&w_hwc, m, rows),
    };
    let w_hwc = MatRef::row_major(&w_hwc, m, rows);
    let accs: Vec<Mutex<Vec<f32>>> = (0..units).map(|_| Mutex::new(Vec::new())).collect();
    let chunks = unit_chunks(&mut out, gsz, m * l);
    for_units(batch, gsz, 4 * batch * m * rows * l, |u, first, cnt| {
        let ld = cnt * l;
        let mut xp = Scratch::new(hp * wp * g.c);
        let mut cols = Scratch::new(ld * rows);
        let mut tmp = Scratch::new(m * ld);
        patches(src, first, cnt, g, &mut xp, &mut cols);
        let mut out = lock(&chunks, u);
        if small {
            for (j, o) in out.chunks_exact_mut(m * l).enumerate() {
                let cols_j = MatRef::row_major(&cols[j * l * rows..(j + 1) * l * rows], l, rows);
                matmul(MatMut::row_major(o, m, l), w_hwc, cols_j.t(), false);
            }
        } else {
            let cols_t = MatRef::row_major(&cols, ld, rows).t();
            let w_cm = MatRef::row_major(&w_cm, rows, m).t();
            matmul(MatMut::row_major(&mut tmp, ld, m).t(), w_cm, cols_t, false);
            for (j, o) in out.chunks_exact_mut(m * l).enumerate() {
                let t = &tmp[j * l * m..(j + 1) * l * m];
                for (ch, dst) in o.chunks_exact_mut(l).enumerate() {
                    for (d, v) in dst.iter_mut().zip(t[ch..].iter().step_by(m)) {
                        *d = *v;
                    }
                }
            }
        }
        if let Some(mask) = mask {
            let mask = &mask[first * m * l..(first + cnt) * m * l];
            for (d, y) in out.iter_mut().zip(mask) {
                *d = if *y > 0.0 { *d } else { 0.0 };
            }
        }
        gather(a, first, cnt, m, l, &mut tmp);
        let mut acc = accs[u].lock().unwrap_or_else(|e| e.into_inner());
        acc.resize(m * rows, 0.0);
        let cols_m = MatRef::row_major(&cols, ld, rows);
        let tmp_m = MatRef::row_major(&tmp, m, ld);
        matmul(MatMut::row_major(&mut acc, m, rows), tmp_m, cols_m, false);
    });
    drop(chunks);
    let mut total = vec![0f32; m * rows];
    for acc in accs {
        let acc = acc.into_inner().unwrap_or_else(|e| e.into_inner());
        for (t, v) in total.iter_mut().zip(&acc) {
            *t += *v;
        }
    }
    (out, weight_from_hwc(&total, m, g))
}

/// `sum over b and s of g[b, c, s]` for `g` `[batch, c, s]`: the bias gradient.
pub(crate) fn bias_grad(grad: &[f32], c: usize, s: usize) -> Vec<f32> {
    let mut out = vec![0f32; c];
    if c == 0 || s == 0 {
        return out;
    }
    for img in grad.chunks_exact(c * s) {
        for (o, plane) in out.iter_mut().zip(img.chunks_exact(s)) {
            *o += plane.iter().sum::<f32>();
        }
    }
    out
}

/// The gradient before the activation, from the gradient after it and the activated output.
pub(crate) fn act_grad(grad: &[f32], res: &[f32], act: Activation) -> Vec<f32> {
    let f: fn(f32, f32) -> f32 = match act {
        Activation::Identity => |g, _| g,
        Activation::Relu => |g, y| if y > 0.0 { g } else { 0.0 },
        Activation::Sigmoid => |g, y| g * y * (1.0 - y),
    };
    grad.iter().zip(res).map(|(g, y)| f(*g, *y)).collect()
}
