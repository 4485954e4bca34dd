//! Convolution kernels of our own (AVX-512) that read patches in place from zero-padded
//! channels-last images: no patch matrix (im2col) and no packing, unlike a gemm.
//!
//! - [`conv_rows`]: output rows of `16 * NV` channels, `P` positions at a time, `P x NV` vector
//!   accumulators; for each patch float it loads one row of the transposed weight (shared by the
//!   `P` positions) and broadcasts that float of each position's patch. [`conv32`] runs it with
//!   12 positions x 32 channels (the encoder's last layer, the decoder's first input gradient);
//!   the phases of 64-channel transposed convolutions with 6 x 64 (see `phases.rs`).
//! - [`weight_grad32`]: the weight gradient of a 32-channel convolution, an 8 x 32 block of it in
//!   registers while every position's patch streams past.
//!
//! Why: the gemm crate runs products with 32-float output rows on its 32x6 microkernel (12
//! accumulators), at about 120 GFLOP/s a thread here against 170-180 for its 64x6 one, after an
//! im2col copy and its own packing of that copy. A patch is `kh` runs of `kw * c` contiguous
//! floats of the padded image, so it can be read where it is. (For the one-channel layers, whose
//! patches have 16 floats, the kernel was no faster than the gemm.)
//!
//! The kernels run where the CPU has AVX-512F ([`available`]); elsewhere the callers keep the
//! gemm path. Every kernel call is preceded by a bounds check of all the patches it reads.

use super::super::kernels::Geom;
use super::super::par::Scratch;

/// Output channels this kernel computes: two 16-float vectors.
pub(crate) const CHANNELS: usize = 32;
/// Output positions per block.
const BLOCK: usize = 12;

#[cfg(test)]
thread_local! {
    /// Tests set this to take the path of a CPU without AVX-512F on their thread.
    pub(crate) static FORCE_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when this CPU has AVX-512F (checked once by the standard library, then cached).
pub(crate) fn available() -> bool {
    #[cfg(test)]
    if FORCE_OFF.with(std::cell::Cell::get) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Images per padded copy: a few, so that the copy stays in cache for the kernels.
const PADDED_IMAGES: usize = 4;

/// Images `first .. first + cnt` of `src` (`[n, h, w, c]`) zero-padded by `p` on every side
/// into `dst` (`[cnt, h + 2 p, w + 2 p, c]`).
pub(crate) fn pad_images(
    src: &[f32],
    (first, cnt): (usize, usize),
    (h, w, c, p): (usize, usize, usize, usize),
    dst: &mut [f32],
) {
    let img = h * w * c;
    let line = (w + 2 * p) * c;
    let per = (h + 2 * p) * line;
    for (j, dst) in dst[..cnt * per].chunks_exact_mut(per).enumerate() {
        dst[..p * line].fill(0.0);
        dst[(p + h) * line..].fill(0.0);
        let image = &src[(first + j) * img..][..img];
        for (iy, s) in image.chunks_exact(w * c).enumerate() {
            let d = &mut dst[(iy + p) * line..][..line];
            d[..p * c].fill(0.0);
            d[(p + w) * c..].fill(0.0);
            d[p * c..(p + w) * c].copy_from_slice(s);
        }
    }
}

/// Runs `f(first, cnt, padded)` for the images of `src` (`[n, h, w, c]` of `g`'s image side) in
/// groups of [`PADDED_IMAGES`], each group zero-padded by `g.pad` into `padded`
/// (`[cnt, h + 2 pad, w + 2 pad, c]`).
pub(crate) fn padded_groups(
    src: &[f32],
    n: usize,
    g: &Geom,
    mut f: impl FnMut(usize, usize, &[f32]),
) {
    let per = (g.h + 2 * g.pad) * (g.w + 2 * g.pad) * g.c;
    let mut padded = Scratch::new(PADDED_IMAGES.min(n) * per);
    for first in (0..n).step_by(PADDED_IMAGES) {
        let cnt = PADDED_IMAGES.min(n - first);
        pad_images(src, (first, cnt), (g.h, g.w, g.c, g.pad), &mut padded);
        f(first, cnt, &padded[..cnt * per]);
    }
}

/// Where each output position's patch starts in `cnt` padded images: the first float of its
/// first kernel row. Kernel row `ky` is the `kw * c` floats from `start + ky * (w + 2 pad) * c`.
fn patch_starts(cnt: usize, g: &Geom) -> Vec<usize> {
    let (hp, line, l) = (g.h + 2 * g.pad, (g.w + 2 * g.pad) * g.c, g.grid());
    (0..cnt * l)
        .map(|p| {
            let (img, q) = (p / l, p % l);
            let (oy, ox) = (q / g.ow, q % g.ow);
            img * hp * line + oy * g.stride * line + ox * g.stride * g.c
        })
        .collect()
}

/// Panics unless every patch (`rows` runs of `seg` floats, `line` floats apart, from each of
/// `starts`) lies within `len` floats: the last float read is at
/// `start + (rows - 1) * line + seg - 1`. The kernels' safety rests on this check.
fn check_patches(starts: &[usize], rows: usize, line: usize, seg: usize, len: usize) {
    if let Some(&last) = starts.iter().max() {
        assert!(
            rows > 0 && last + (rows - 1) * line + seg <= len,
            "patches run past the padded input"
        );
    }
}

/// Rows `out_p = sum over kernel rows ky < rows and j < seg of src[starts[p] + ky * line + j] *
/// wt[(ky * seg + j) * 16 NV ..][..16 NV]` for every position `p`, `P` positions a block, each
/// handed to `store(p, row)`.
///
/// Panics when a patch runs past `src`, when `wt` is too short, or when the CPU lacks AVX-512F.
pub(crate) fn conv_rows<const NV: usize, const P: usize>(
    src: &[f32],
    starts: &[usize],
    (rows, seg, line): (usize, usize, usize),
    wt: &[f32],
    mut store: impl FnMut(usize, &[f32]),
) {
    let width = 16 * NV;
    check_patches(starts, rows, line, seg, src.len());
    assert!(wt.len() >= rows * seg * width, "conv_rows: weight size");
    assert!(available(), "conv_rows needs AVX-512F");
    let mut acc = vec![0f32; P * width];
    for (b, block) in starts.chunks(P).enumerate() {
        // A short last block repeats its last position; only its own rows are stored.
        let mut at = [block[block.len() - 1]; P];
        at[..block.len()].copy_from_slice(block);
        // SAFETY: the CPU has AVX-512F (asserted above). Every position in `at` is one of
        // `starts`, whose patches lie within `src` (checked above); `wt` holds `rows * seg`
        // rows of `width` floats and `acc` `P` rows of `width` floats.
        unsafe { block_avx512::<NV, P>(src, &at, (rows, seg, line), wt, &mut acc) };
        for (i, row) in acc.chunks_exact(width).take(block.len()).enumerate() {
            store(b * P + i, row);
        }
    }
}

/// The convolution of `cnt` images, already zero-padded into `padded`
/// (`[cnt, h + 2 pad, w + 2 pad, c]`) with the transposed weight `wt` (`[kh * kw * c, 32]`,
/// rows in patch order), plus `bias`, into `out` (`[cnt * oh * ow, 32]`).
///
/// Panics when the sizes do not match `g`, or when the CPU lacks AVX-512F ([`available`]).
pub(crate) fn conv32(
    padded: &[f32],
    cnt: usize,
    g: &Geom,
    wt: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let seg = g.kw * g.c;
    let k = g.kh * seg;
    let l = g.grid();
    assert_eq!(
        padded.len(),
        cnt * hp * wp * g.c,
        "conv32: padded input size"
    );
    assert_eq!(wt.len(), k * CHANNELS, "conv32: weight size");
    assert_eq!(bias.len(), CHANNELS, "conv32: bias size");
    assert_eq!(out.len(), cnt * l * CHANNELS, "conv32: output size");
    assert!(available(), "conv32 needs AVX-512F");
    let starts = patch_starts(cnt, g);
    conv_rows::<2, BLOCK>(padded, &starts, (g.kh, seg, wp * g.c), wt, |p, row| {
        let dst = &mut out[p * CHANNELS..][..CHANNELS];
        for ((d, a), b) in dst.iter_mut().zip(row).zip(bias) {
            *d = a + b;
        }
    });
}

/// `acc[p * 16 NV ..][..16 NV] = sum over kernel rows ky < rows and j < seg of
/// src[at[p] + ky * line + j] * wt[(ky * seg + j) * 16 NV ..][..16 NV]`, for the `P` positions
/// `at`, with `P x NV` vectors of accumulators.
///
/// # Safety
/// The CPU has AVX-512F; `src[at[p] + ky * line + j]` is in bounds for every `p`, `ky < rows` and
/// `j < seg`; `wt` holds at least `rows * seg * 16 NV` floats and `acc` `P * 16 NV`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<const NV: usize, const P: usize>(
    src: &[f32],
    at: &[usize; P],
    (rows, seg, line): (usize, usize, usize),
    wt: &[f32],
    acc: &mut [f32],
) {
    use std::arch::x86_64::*;
    let width = 16 * NV;
    let mut c = [[_mm512_setzero_ps(); NV]; P];
    let (base, w) = (src.as_ptr(), wt.as_ptr());
    for ky in 0..rows {
        let mut row = [base; P];
        for (r, a) in row.iter_mut().zip(at) {
            *r = base.add(a + ky * line);
        }
        let wk = w.add(ky * seg * width);
        for j in 0..seg {
            let mut wv = [_mm512_setzero_ps(); NV];
            for (v, x) in wv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(wk.add(j * width + 16 * v));
            }
            for (cp, r) in c.iter_mut().zip(&row) {
                let a = _mm512_set1_ps(*r.add(j));
                for (cv, x) in cp.iter_mut().zip(&wv) {
                    *cv = _mm512_fmadd_ps(a, *x, *cv);
                }
            }
        }
    }
    for (dst, cp) in acc.chunks_exact_mut(width).zip(&c) {
        for (v, cv) in cp.iter().enumerate() {
            _mm512_storeu_ps(dst.as_mut_ptr().add(16 * v), *cv);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn block_avx512<const NV: usize, const P: usize>(
    _: &[f32],
    _: &[usize; P],
    _: (usize, usize, usize),
    _: &[f32],
    _: &mut [f32],
) {
    unreachable!("the direct kernels are only called where AVX-512F is available")
}

/// Output channels per register block of [`weight_grad32`]'s kernel, and vectors of patch floats.
const DW_ROWS: usize = 8;
/// (The kernel loads exactly two vectors.)
const DW_VECS: usize = 2;

/// True when [`weight_grad32`] takes this geometry: kernel rows of a multiple of 32 floats.
pub(crate) fn weight_grad_fits(g: &Geom) -> bool {
    (g.kw * g.c).is_multiple_of(16 * DW_VECS)
}

/// The weight gradient of a convolution with 32 output channels, from the gradient `gy`
/// (`[cnt * oh * ow, 32]`) and `cnt` input images zero-padded into `padded`: `dw[o][r] (+)=
/// sum over positions p of gy[p][o] * patch_p[r]`, `dw` being `[32, kh * kw * c]` in patch order.
/// Adds to `dw` when `accumulate`, else overwrites it.
///
/// Panics when the sizes do not match `g`, when [`weight_grad_fits`] is false, or when the CPU
/// lacks AVX-512F.
pub(crate) fn weight_grad32(
    padded: &[f32],
    cnt: usize,
    g: &Geom,
    gy: &[f32],
    dw: &mut [f32],
    accumulate: bool,
) {
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let seg = g.kw * g.c;
    let l = g.grid();
    let line = wp * g.c;
    assert_eq!(
        padded.len(),
        cnt * hp * wp * g.c,
        "weight_grad32: padded input size"
    );
    assert_eq!(gy.len(), cnt * l * CHANNELS, "weight_grad32: gradient size");
    assert_eq!(
        dw.len(),
        CHANNELS * g.kh * seg,
        "weight_grad32: weight size"
    );
    assert!(
        weight_grad_fits(g),
        "weight_grad32: kernel rows of {seg} floats"
    );
    assert!(available(), "weight_grad32 needs AVX-512F");
    if !accumulate {
        dw.fill(0.0);
    }
    let starts = patch_starts(cnt, g);
    check_patches(&starts, g.kh, line, seg, padded.len());
    let width = 16 * DW_VECS;
    for o in (0..CHANNELS).step_by(DW_ROWS) {
        for ky in 0..g.kh {
            for j in (0..seg).step_by(width) {
                // SAFETY: AVX-512F is there (asserted). For every position, floats
                // `start + ky * line + j .. + width` lie within its patch (`j + width <= seg`,
                // since `seg` is a multiple of `width`), hence within `padded` (asserted); `gy`
                // holds 32 floats a position and `o + DW_ROWS <= 32`; the block of `dw` starts at
                // row `o`, column `ky * seg + j`, and its `DW_ROWS` rows of `width` floats lie
                // within `dw` (`[32, kh * seg]`).
                unsafe {
                    dw_block_avx512(
                        padded,
                        &starts,
                        ky * line + j,
                        gy,
                        o,
                        dw,
                        o * g.kh * seg + ky * seg + j,
                        g.kh * seg,
                    )
                };
            }
        }
    }
}

/// `dw[at + r * stride + v] += sum over p of gy[p * 32 + o + r] * src[starts[p] + off + v]` for
/// `r < DW_ROWS`, `v < 16 * DW_VECS`.
///
/// # Safety
/// The CPU has AVX-512F; all those indices are in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_block_avx512(
    src: &[f32],
    starts: &[usize],
    off: usize,
    gy: &[f32],
    o: usize,
    dw: &mut [f32],
    at: usize,
    stride: usize,
) {
    use std::arch::x86_64::*;
    let mut c = [[_mm512_setzero_ps(); DW_VECS]; DW_ROWS];
    let (s, gp) = (src.as_ptr(), gy.as_ptr());
    for (p, &start) in starts.iter().enumerate() {
        let x = s.add(start + off);
        let xv = [_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16))];
        let gr = gp.add(p * CHANNELS + o);
        for (r, acc) in c.iter_mut().enumerate() {
            let a = _mm512_set1_ps(*gr.add(r));
            for (cv, xv) in acc.iter_mut().zip(&xv) {
                *cv = _mm512_fmadd_ps(a, *xv, *cv);
            }
        }
    }
    let d = dw.as_mut_ptr();
    for (r, acc) in c.iter().enumerate() {
        for (v, cv) in acc.iter().enumerate() {
            let q = d.add(at + r * stride + 16 * v);
            _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), *cv));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_block_avx512(
    _: &[f32],
    _: &[usize],
    _: usize,
    _: &[f32],
    _: usize,
    _: &mut [f32],
    _: usize,
    _: usize,
) {
    unreachable!("weight_grad32 is only called where AVX-512F is available")
}
