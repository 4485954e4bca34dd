use super::*;
use crate::model::ops::kernels;

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-6f32, |a, v| a.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-5 * scale, "{what}[{i}]: {a} vs {b}");
    }
}

/// (transposed, (m, c, h or grid h, w or grid w), (kh, kw), stride | pad << 4)
type Case = (bool, (usize, usize, usize, usize), (usize, usize), usize);

/// Geometries of every layer the models use, plus odd sizes, stride 1 and padding 0, with
/// short and long kernel rows.
fn geoms() -> Vec<Case> {
    vec![
        (false, (64, 1, 28, 28), (4, 4), 2 | 1 << 4),
        (false, (32, 64, 14, 14), (4, 4), 2 | 1 << 4),
        (true, (32, 64, 7, 7), (4, 4), 2 | 1 << 4),
        (true, (64, 1, 14, 14), (4, 4), 2 | 1 << 4),
        (false, (5, 3, 9, 7), (3, 2), 1),
        (false, (4, 2, 11, 8), (3, 3), 2 | 1 << 4),
        (true, (3, 5, 5, 6), (3, 4), 2 | 1 << 4),
        (true, (2, 3, 4, 3), (2, 2), 1),
        // Kernel rows of at least `SHORT` floats, read without the padded copy.
        (false, (3, 16, 9, 7), (3, 3), 1),
        (true, (4, 12, 5, 6), (3, 3), 2 | 1 << 4),
        // Transposed convolutions run phase by phase (image side of at least 16 channels, a
        // stride that divides the kernel): other kernels, strides, paddings and odd sizes.
        (true, (5, 16, 4, 5), (2, 4), 2),
        (true, (3, 20, 3, 4), (3, 3), 3 | 1 << 4),
        (true, (2, 16, 5, 4), (4, 4), 2 | 2 << 4),
        (false, (4, 16, 9, 8), (4, 4), 2 | 1 << 4),
        (false, (3, 17, 10, 7), (2, 2), 2),
        // Convolutions with 32 output channels, run by `direct::conv32` on AVX-512 CPUs: odd
        // sizes, stride 1 and 2, padding 0 and 1, 4 + 12 * k positions and fewer than 12.
        (false, (32, 8, 9, 7), (4, 4), 2 | 1 << 4),
        (false, (32, 16, 6, 5), (3, 3), 1),
        (false, (32, 12, 3, 4), (3, 3), 1 | 1 << 4),
        // ... and whose kernel rows are a multiple of 32 floats, so that the weight gradient is
        // `direct::weight_grad32`'s too (as are the encoder's last and decoder's first layers).
        (false, (32, 32, 5, 6), (3, 3), 1 | 1 << 4),
        (true, (32, 16, 3, 4), (2, 2), 2),
        // Transposes with 64 output channels, phases run by `direct::conv_rows`: more padding,
        // odd output sizes, one tap per phase.
        (true, (3, 64, 4, 5), (4, 4), 2 | 2 << 4),
        (false, (5, 64, 9, 8), (4, 4), 2 | 1 << 4),
        (true, (4, 64, 3, 3), (3, 3), 3 | 1 << 4),
    ]
}

/// The channels-last kernels give the numbers of the channels-first ones (themselves checked
/// against candle in `ops::tests`), for every direction.
#[test]
fn channels_last_kernels_match_the_channels_first_ones() {
    let (phased, direct) = compare_every_direction();
    assert_eq!(phased, 11, "cases that ran the transposes phase by phase");
    if direct::available() {
        assert_eq!(direct, 7, "cases that ran direct::conv32");
    }
}

/// The same on a CPU without AVX-512F (the direct kernels switched off for this thread): every
/// layer takes the gemm path.
#[test]
fn without_the_direct_kernels_the_gemm_path_gives_the_same_numbers() {
    direct::FORCE_OFF.with(|off| off.set(true));
    let (phased, direct) = compare_every_direction();
    direct::FORCE_OFF.with(|off| off.set(false));
    assert_eq!(phased, 11, "cases that ran the transposes phase by phase");
    assert_eq!(direct, 0, "no case ran direct::conv32");
}

/// Runs every direction of every case of [`geoms`] against the channels-first kernels; returns
/// how many cases had per-phase transposes and direct kernels.
fn compare_every_direction() -> (usize, usize) {
    let n = 3;
    let (mut phased, mut direct) = (0, 0);
    for (i, (tr, (m, c, h, w), (kh, kw), sp)) in geoms().into_iter().enumerate() {
        let (stride, pad) = (sp & 15, sp >> 4);
        let g = match tr {
            false => Geom::conv((1, c, h, w), (m, c, kh, kw), stride, pad).unwrap(),
            true => Geom::conv_transpose((1, m, h, w), (m, c, kh, kw), stride, pad).unwrap(),
        };
        let (img, grid) = (g.image(), g.grid() * m);
        let wt = values(m * g.rows(), 3 + i as u64);
        let bias_img = values(g.c, 5);
        let bias_grid = values(m, 6);
        let x = values(n * img, 7 + i as u64);
        let a = values(n * grid, 11 + i as u64);
        let weight = Weight::new(&wt, m, g);
        phased += usize::from(weight.phases.is_some());
        direct += usize::from(weight.direct.is_some());
        let (hw, l) = (g.h * g.w, g.grid());
        let x_l = from_nchw(&x, g.c, hw);
        let a_l = from_nchw(&a, m, l);
        let relu = Activation::Relu;

        // Forward of a convolution (image -> grid) and of a transposed one (grid -> image).
        let want = kernels::image_to_grid(&x, n, &wt, m, &g, Some(&bias_grid), relu);
        let got = conv(&x_l, n, &weight, Some(&bias_grid), relu);
        close(&to_nchw(got, m, l), &want, "conv");
        let want = kernels::grid_to_image(&a, n, &wt, m, &g, Some(&bias_img), relu);
        let got = transpose(&a_l, n, &weight, Some(&bias_img), relu, None);
        close(&to_nchw(got, g.c, hw), &want, "transpose");

        // Backward of a convolution, with the input gradient masked by a ReLU output.
        let want_dw = kernels::weight_grad(&a, &x, n, m, &g);
        let dx = kernels::grid_to_image(&a, n, &wt, m, &g, None, Activation::Identity);
        let want_dx = kernels::act_grad(&dx, &x, relu);
        let (dx, dw, db) = conv_backward(&a_l, &x_l, n, &weight, true, Some(&x_l));
        close(&weight.to_candle(&dw), &want_dw, "conv weight grad");
        close(&to_nchw(dx.unwrap(), g.c, hw), &want_dx, "conv input grad");
        close(&db, &kernels::bias_grad(&a, m, l), "conv bias grad");

        // Backward of a transposed convolution.
        let (want_da, want_dw) = kernels::transpose_backward(&x, &a, n, &wt, m, &g, Some(&a));
        let (da, dw, db) = transpose_backward(&x_l, &a_l, n, &weight, Some(&a_l));
        close(&to_nchw(da, m, l), &want_da, "transpose input grad");
        close(&weight.to_candle(&dw), &want_dw, "transpose weight grad");
        close(&db, &kernels::bias_grad(&x, g.c, hw), "transpose bias grad");
    }
    (phased, direct)
}

#[test]
fn the_decoders_first_layer_runs_phase_by_phase_and_its_last_does_not() {
    let g3 = Geom::conv_transpose((1, 32, 7, 7), (32, 64, 4, 4), 2, 1).unwrap();
    let g4 = Geom::conv_transpose((1, 64, 14, 14), (64, 1, 4, 4), 2, 1).unwrap();
    let g2 = Geom::conv((1, 64, 14, 14), (32, 64, 4, 4), 2, 1).unwrap();
    assert!(Weight::new(&values(32 * 1024, 1), 32, g3).phases.is_some());
    assert!(Weight::new(&values(32 * 1024, 1), 32, g2).phases.is_some());
    assert!(Weight::new(&values(64 * 16, 1), 64, g4).phases.is_none());
}

#[test]
fn layout_conversions_are_inverse() {
    let x = values(2 * 3 * 20, 1);
    let l = from_nchw(&x, 3, 20);
    assert_ne!(l, x);
    assert_eq!(l[1], x[20], "channel 1 of pixel 0 follows channel 0");
    assert_eq!(to_nchw(l, 3, 20), x);
}
