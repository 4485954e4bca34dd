//! A transposed convolution whose stride divides its kernel (the VQ-VAE's k4 s2) as `s * s`
//! ordinary stride-1 convolutions, one per output phase `(y mod s, x mod s)`.
//!
//! Output pixel `y = s * i + py` receives input row `iy` through kernel row
//! `ky = y + pad - s * iy`; with `r = (py + pad) mod s` and `q = (py + pad) div s` that is
//! `ky = s * (i - iy + q) + r`, so the rows reaching it are `iy = i + q - (t - 1) + u` for
//! `u` in `0..t` (`t = kh / s`), through kernel row `ky = s * (t - 1 - u) + r`: a `t x t`
//! stride-1 convolution of the grid, offset by `q - (t - 1)`, with a sub-kernel of the weight.
//! The same in x. Each phase is then one gemm of `[pixels of the phase, t * t * m]` patches (each
//! row `t` contiguous runs of `t * m` floats) with a `[t * t * m, c]` weight, written straight
//! into its pixels: no `[grid, kh * kw * c]` product, no col2im adding it back, no zeroing of
//! the output; and the gemm's inner dimension is `t * t * m` (128 for the decoder's first layer)
//! instead of `m` (32).

use super::super::gemm::{matmul, MatMut, MatRef};
use super::super::kernels::{Geom, COLS_BUDGET};
use super::super::par::Scratch;
use super::direct;

/// Output channels, in 16-float vectors, of the transposed convolutions run by
/// [`direct::conv_rows`] (the decoder's first layer and the encoder's input gradient: 64).
const DIRECT_VECS: usize = 4;

/// Image-side channels from which the phases pay: below, each phase's gemm has too few columns
/// (the last layer's one channel) and the plain product with col2im is faster.
const MIN_CHANNELS: usize = 16;

/// The per-phase weights of a transposed convolution (see the module's documentation).
pub(crate) struct Phases {
    /// Taps per axis of each phase's kernel: `kh / s`, `kw / s`.
    ty: usize,
    tx: usize,
    /// One weight per phase `py * s + px`: `[ty * tx * m, c]`, row major, rows in patch order
    /// `(uy, ux, channel)`.
    w: Vec<Vec<f32>>,
}

/// Where phase `p` (of `0..s`) starts along one axis: the kernel offset `r` and the grid offset
/// `q - (t - 1)` of its first pixel.
fn offsets(p: usize, pad: usize, s: usize, t: usize) -> (usize, isize) {
    let (r, q) = ((p + pad) % s, (p + pad) / s);
    (r, q as isize - (t as isize - 1))
}

impl Phases {
    /// The phase weights of the weight `hwc` (`[m, kh, kw, c]`), or `None` when the layer is not
    /// worth it or not of this form (stride 1, or a stride that does not divide the kernel).
    pub(crate) fn new(hwc: &[f32], m: usize, g: &Geom) -> Option<Phases> {
        let s = g.stride;
        if s < 2 || g.c < MIN_CHANNELS || !g.kh.is_multiple_of(s) || !g.kw.is_multiple_of(s) {
            return None;
        }
        let (ty, tx, c) = (g.kh / s, g.kw / s, g.c);
        let mut w = Vec::with_capacity(s * s);
        for py in 0..s {
            let (ry, _) = offsets(py, g.pad, s, ty);
            for px in 0..s {
                let (rx, _) = offsets(px, g.pad, s, tx);
                let mut pw = Vec::with_capacity(ty * tx * m * c);
                for uy in 0..ty {
                    let ky = s * (ty - 1 - uy) + ry;
                    for ux in 0..tx {
                        let kx = s * (tx - 1 - ux) + rx;
                        for ch in 0..m {
                            let at = ((ch * g.kh + ky) * g.kw + kx) * c;
                            pw.extend_from_slice(&hwc[at..at + c]);
                        }
                    }
                }
                w.push(pw);
            }
        }
        Some(Phases { ty, tx, w })
    }

    /// The transposed convolution of the `n` grids `a` (`[n, oh, ow, m]`) into `out`
    /// (`[n, h, w, c]`), every float of which is written (before bias and activation).
    pub(crate) fn transpose(&self, a: &[f32], n: usize, m: usize, g: &Geom, out: &mut [f32]) {
        if g.c == 16 * DIRECT_VECS && direct::available() {
            return self.transpose_direct(a, n, m, g, out);
        }
        let (s, c) = (g.stride, g.c);
        let k = self.ty * self.tx * m;
        let img = g.image();
        let grid = g.grid() * m;
        // Pixels of the largest phase, per image.
        let most = g.h.div_ceil(s) * g.w.div_ceil(s);
        let gsz = (COLS_BUDGET / (most * k).max(1)).clamp(1, n.max(1));
        let mut cols = Scratch::new(gsz.min(n) * most * k);
        let mut prod = Scratch::new(gsz.min(n) * most * c);
        for first in (0..n).step_by(gsz) {
            let cnt = gsz.min(n - first);
            for py in 0..s.min(g.h) {
                let (_, oy) = offsets(py, g.pad, s, self.ty);
                let hc = (g.h - py).div_ceil(s);
                for px in 0..s.min(g.w) {
                    let (_, ox) = offsets(px, g.pad, s, self.tx);
                    let wc = (g.w - px).div_ceil(s);
                    let rows = cnt * hc * wc;
                    for j in 0..cnt {
                        let src = &a[(first + j) * grid..][..grid];
                        let dst = &mut cols[j * hc * wc * k..][..hc * wc * k];
                        self.patches(src, m, g, (hc, wc), (oy, ox), dst);
                    }
                    let prod = &mut prod[..rows * c];
                    matmul(
                        MatMut::row_major(prod, rows, c),
                        MatRef::row_major(&cols[..rows * k], rows, k),
                        MatRef::row_major(&self.w[py * s + px], k, c),
                        false,
                    );
                    // Scatter the phase's pixels into their places.
                    for (j, im) in prod.chunks_exact(hc * wc * c).enumerate() {
                        let o = &mut out[(first + j) * img..][..img];
                        for (i, line) in im.chunks_exact(wc * c).enumerate() {
                            let y = s * i + py;
                            for (jx, px_vals) in line.chunks_exact(c).enumerate() {
                                let x = s * jx + px;
                                o[(y * g.w + x) * c..][..c].copy_from_slice(px_vals);
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`Phases::transpose`] by [`direct::conv_rows`]: each phase's patches read in place from a
    /// zero-padded copy of the grids and each output row stored straight into its pixel.
    fn transpose_direct(&self, a: &[f32], n: usize, m: usize, g: &Geom, out: &mut [f32]) {
        /// Grids per padded copy.
        const GRIDS: usize = 4;
        let (s, c) = (g.stride, g.c);
        let (ty, tx) = (self.ty, self.tx);
        // The padding that keeps every phase's patches inside: the grid rows read for output row
        // `i` of phase `py` are `i + oy .. i + oy + ty`, for `i < hc`.
        let mut pad = 0isize;
        for py in 0..s.min(g.h) {
            let (_, oy) = offsets(py, g.pad, s, ty);
            let hc = (g.h - py).div_ceil(s) as isize;
            pad = pad.max(-oy).max(hc - 1 + oy + ty as isize - g.oh as isize);
        }
        for px in 0..s.min(g.w) {
            let (_, ox) = offsets(px, g.pad, s, tx);
            let wc = (g.w - px).div_ceil(s) as isize;
            pad = pad.max(-ox).max(wc - 1 + ox + tx as isize - g.ow as isize);
        }
        let pad = pad.max(0) as usize;
        let (gh, gw) = (g.oh + 2 * pad, g.ow + 2 * pad);
        let (line, per, img) = (gw * m, gh * gw * m, g.image());
        let mut padded = Scratch::new(GRIDS.min(n) * per);
        let mut starts = Vec::new();
        for first in (0..n).step_by(GRIDS) {
            let cnt = GRIDS.min(n - first);
            direct::pad_images(a, (first, cnt), (g.oh, g.ow, m, pad), &mut padded);
            let o = &mut out[first * img..][..cnt * img];
            for py in 0..s.min(g.h) {
                let (_, oy) = offsets(py, g.pad, s, ty);
                let hc = (g.h - py).div_ceil(s);
                for px in 0..s.min(g.w) {
                    let (_, ox) = offsets(px, g.pad, s, tx);
                    let wc = (g.w - px).div_ceil(s);
                    starts.clear();
                    for j in 0..cnt {
                        for i in 0..hc {
                            let y = (i as isize + oy + pad as isize) as usize;
                            for jx in 0..wc {
                                let x = (jx as isize + ox + pad as isize) as usize;
                                starts.push(j * per + y * line + x * m);
                            }
                        }
                    }
                    let shape = (ty, tx * m, line);
                    let w = &self.w[py * s + px];
                    direct::conv_rows::<DIRECT_VECS, 6>(
                        &padded[..cnt * per],
                        &starts,
                        shape,
                        w,
                        |p, row| {
                            let (j, q) = (p / (hc * wc), p % (hc * wc));
                            let (y, x) = (s * (q / wc) + py, s * (q % wc) + px);
                            o[j * img + (y * g.w + x) * c..][..c].copy_from_slice(row);
                        },
                    );
                }
            }
        }
    }

    /// The patches of one phase of one grid `src` (`[oh, ow, m]`) into `dst`
    /// (`[hc * wc, ty * tx * m]`): row `(i, j)` holds grid rows `i + oy .. i + oy + ty`, columns
    /// `j + ox .. j + ox + tx` (zeros outside the grid).
    fn patches(
        &self,
        src: &[f32],
        m: usize,
        g: &Geom,
        (hc, wc): (usize, usize),
        (oy, ox): (isize, isize),
        dst: &mut [f32],
    ) {
        let (ty, tx) = (self.ty, self.tx);
        let seg = tx * m;
        let (gh, gw) = (g.oh as isize, g.ow as isize);
        for i in 0..hc {
            for j in 0..wc {
                let row = &mut dst[(i * wc + j) * ty * seg..][..ty * seg];
                let x0 = j as isize + ox;
                let lo = (-x0).clamp(0, tx as isize) as usize;
                let hi = (gw - x0).clamp(lo as isize, tx as isize) as usize;
                for (uy, part) in row.chunks_exact_mut(seg).enumerate() {
                    let iy = i as isize + oy + uy as isize;
                    if iy < 0 || iy >= gh || lo == hi {
                        part.fill(0.0);
                        continue;
                    }
                    let at = (iy as usize * g.ow + (x0 + lo as isize) as usize) * m;
                    part[..lo * m].fill(0.0);
                    part[hi * m..].fill(0.0);
                    part[lo * m..hi * m].copy_from_slice(&src[at..at + (hi - lo) * m]);
                }
            }
        }
    }
}
