//! A convolution with 32 output channels (the encoder's last layer) computed straight from a
//! zero-padded copy of its input, with an AVX-512 kernel of our own: no patch matrix (im2col)
//! and no packing.
//!
//! The gemm crate runs a product whose output rows have 32 floats with its 32x6 microkernel
//! (12 accumulators), at about 120 GFLOP/s a thread here against 170-180 for its 64x6 one. This
//! kernel keeps 12 output positions x 32 channels (24 accumulators) in registers; for each float
//! of the patches it loads one row of the transposed weight (2 vectors, shared by the 12
//! positions) and broadcasts that float of each position's patch, read in place: each patch is
//! `kh` runs of `kw * c` contiguous floats of the padded image.

use super::super::kernels::Geom;

/// Output channels this kernel computes: two 16-float vectors.
pub(crate) const CHANNELS: usize = 32;
/// Output positions per block.
const BLOCK: usize = 12;

/// True when this CPU has AVX-512F (checked once by the standard library, then cached).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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
    // Where each position's patch starts in `padded`: its first kernel row's first float. Kernel
    // row `ky` is `seg` floats from `start + ky * wp * c`. All within `padded`: the last float read
    // is at `start + (kh - 1) * wp * c + seg - 1`, checked here once for all positions.
    let line = wp * g.c;
    let starts: Vec<usize> = (0..cnt * l)
        .map(|p| {
            let (img, q) = (p / l, p % l);
            let (oy, ox) = (q / g.ow, q % g.ow);
            img * hp * line + oy * g.stride * line + ox * g.stride * g.c
        })
        .collect();
    if let Some(&last) = starts.iter().max() {
        assert!(
            last + (g.kh - 1) * line + seg <= padded.len(),
            "conv32: patches run past the padded input"
        );
    }
    for (b, block) in starts.chunks(BLOCK).enumerate() {
        // A short last block repeats its last position; only its own rows are stored.
        let mut at = [block[block.len() - 1]; BLOCK];
        at[..block.len()].copy_from_slice(block);
        let mut acc = [0f32; BLOCK * CHANNELS];
        // SAFETY: the CPU has AVX-512F (asserted above). Every position in `at` is one of
        // `starts`, whose patches lie within `padded` (asserted above); `wt` holds `kh * seg`
        // rows of 32 floats (asserted above).
        unsafe { block_avx512(padded, &at, g.kh, seg, line, wt, &mut acc) };
        let dst = &mut out[b * BLOCK * CHANNELS..][..block.len() * CHANNELS];
        for (row, a) in dst
            .chunks_exact_mut(CHANNELS)
            .zip(acc.chunks_exact(CHANNELS))
        {
            for ((d, a), b) in row.iter_mut().zip(a).zip(bias) {
                *d = a + b;
            }
        }
    }
}

/// `acc[p * 32 .. p * 32 + 32] = sum over kernel rows ky and j < seg of
/// src[at[p] + ky * line + j] * wt[(ky * seg + j) * 32 ..]`, for the 12 positions `at`.
///
/// # Safety
/// The CPU has AVX-512F; `src[at[p] + ky * line + j]` is in bounds for every `p`, `ky < kh` and
/// `j < seg`; `wt` holds at least `kh * seg * 32` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(
    src: &[f32],
    at: &[usize; BLOCK],
    kh: usize,
    seg: usize,
    line: usize,
    wt: &[f32],
    acc: &mut [f32; BLOCK * CHANNELS],
) {
    use std::arch::x86_64::*;
    let mut c = [[_mm512_setzero_ps(); 2]; BLOCK];
    let base = src.as_ptr();
    let w = wt.as_ptr();
    for ky in 0..kh {
        let rows: [*const f32; BLOCK] = std::array::from_fn(|p| base.add(at[p] + ky * line));
        let wk = w.add(ky * seg * CHANNELS);
        for j in 0..seg {
            let w0 = _mm512_loadu_ps(wk.add(j * CHANNELS));
            let w1 = _mm512_loadu_ps(wk.add(j * CHANNELS + 16));
            for p in 0..BLOCK {
                let a = _mm512_set1_ps(*rows[p].add(j));
                c[p][0] = _mm512_fmadd_ps(a, w0, c[p][0]);
                c[p][1] = _mm512_fmadd_ps(a, w1, c[p][1]);
            }
        }
    }
    for (dst, [c0, c1]) in acc.chunks_exact_mut(CHANNELS).zip(c) {
        _mm512_storeu_ps(dst.as_mut_ptr(), c0);
        _mm512_storeu_ps(dst.as_mut_ptr().add(16), c1);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn block_avx512(
    _: &[f32],
    _: &[usize; BLOCK],
    _: usize,
    _: usize,
    _: usize,
    _: &[f32],
    _: &mut [f32; BLOCK * CHANNELS],
) {
    unreachable!("conv32 is only called where AVX-512F is available")
}
