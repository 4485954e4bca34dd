//! The candle custom ops: [`Conv2dOp`] and [`ConvTranspose2dOp`] (forward and backward), and the
//! no-backward ops their backward passes are built from.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

use super::kernels::{self, Geom};
use super::Activation;

/// The contiguous f32 data of a CPU tensor argument.
fn data<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{op}: only f32 tensors are supported")
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: arguments must be contiguous"),
    }
}

fn dims4(l: &Layout, op: &str, what: &str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [a, b, c, d] => Ok((a, b, c, d)),
        ref d => bail!("{op}: {what} must have 4 dimensions, got {d:?}"),
    }
}

fn bias_check(l: &Layout, c: usize, op: &str) -> Result<()> {
    if l.dims() != [c] {
        bail!("{op}: bias must have shape [{c}], got {:?}", l.dims())
    }
    Ok(())
}

impl Geom {
    /// The geometry of `conv2d(x [b, c_in, h, w], w [c_out, c_in, kh, kw])`.
    pub(crate) fn conv(
        x: (usize, usize, usize, usize),
        w: (usize, usize, usize, usize),
        stride: usize,
        pad: usize,
    ) -> Result<Geom> {
        let ((_, c, h, wd), (_, wc, kh, kw)) = (x, w);
        if wc != c {
            bail!("conv2d: input has {c} channels, weight expects {wc}")
        }
        if stride == 0 || kh == 0 || kw == 0 || h + 2 * pad < kh || wd + 2 * pad < kw {
            bail!("conv2d: kernel {kh}x{kw} (stride {stride}, padding {pad}) does not fit a {h}x{wd} input")
        }
        Ok(Geom {
            c,
            h,
            w: wd,
            kh,
            kw,
            oh: (h + 2 * pad - kh) / stride + 1,
            ow: (wd + 2 * pad - kw) / stride + 1,
            stride,
            pad,
        })
    }

    /// The geometry of `conv_transpose2d(x [b, c_in, h, w], w [c_in, c_out, kh, kw])`: its output
    /// is the image side, its input the grid.
    pub(crate) fn conv_transpose(
        x: (usize, usize, usize, usize),
        w: (usize, usize, usize, usize),
        stride: usize,
        pad: usize,
    ) -> Result<Geom> {
        let ((_, c_in, h, wd), (wc, c_out, kh, kw)) = (x, w);
        if wc != c_in {
            bail!("conv_transpose2d: input has {c_in} channels, weight expects {wc}")
        }
        let full_h = h.saturating_sub(1) * stride + kh;
        let full_w = wd.saturating_sub(1) * stride + kw;
        if stride == 0 || h == 0 || wd == 0 || full_h <= 2 * pad || full_w <= 2 * pad {
            bail!("conv_transpose2d: kernel {kh}x{kw} (stride {stride}, padding {pad}) gives an empty output for a {h}x{wd} input")
        }
        Ok(Geom {
            c: c_out,
            h: full_h - 2 * pad,
            w: full_w - 2 * pad,
            kh,
            kw,
            oh: h,
            ow: wd,
            stride,
            pad,
        })
    }
}

/// Applies the activation's derivative to `grad` (the gradient of the op's activated output).
fn pre_activation_grad(grad: &Tensor, res: &Tensor, act: Activation) -> Result<Tensor> {
    let grad = grad.contiguous()?;
    match act {
        Activation::Identity => Ok(grad),
        _ => grad.apply_op2_no_bwd(&res.contiguous()?, &ActGrad(act)),
    }
}

/// `act(conv2d(x, w) + b)` on (x `[b, c_in, h, w]`, w `[c_out, c_in, kh, kw]`, b `[c_out]`).
pub(crate) struct Conv2dOp {
    pub stride: usize,
    pub padding: usize,
    pub act: Activation,
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        "vqtex-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let (xd, wd) = (dims4(l1, op, "input")?, dims4(l2, op, "weight")?);
        let g = Geom::conv(xd, wd, self.stride, self.padding)?;
        bias_check(l3, wd.0, op)?;
        let (x, w, b) = (data(s1, l1, op)?, data(s2, l2, op)?, data(s3, l3, op)?);
        let y = kernels::image_to_grid(x, xd.0, w, wd.0, &g, Some(b), self.act);
        Ok((CpuStorage::F32(y), Shape::from((xd.0, wd.0, g.oh, g.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = Geom::conv(x.dims4()?, w.dims4()?, self.stride, self.padding)?;
        let gy = pre_activation_grad(grad, res, self.act)?;
        let dx = match x.track_op() {
            true => Some(gy.apply_op2_no_bwd(w, &GridToImage(g))?),
            false => None,
        };
        let dw = match w.track_op() {
            true => Some(gy.apply_op2_no_bwd(x, &WeightGrad(g))?.reshape(w.shape())?),
            false => None,
        };
        let db = match b.track_op() {
            true => Some(gy.apply_op1_no_bwd(&BiasGrad)?),
            false => None,
        };
        Ok((dx, dw, db))
    }
}

/// `act(conv_transpose2d(x, w) + b)` on (x `[b, c_in, h, w]`, w `[c_in, c_out, kh, kw]`,
/// b `[c_out]`); no output padding, dilation 1.
pub(crate) struct ConvTranspose2dOp {
    pub stride: usize,
    pub padding: usize,
    pub act: Activation,
}

impl CustomOp3 for ConvTranspose2dOp {
    fn name(&self) -> &'static str {
        "vqtex-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let (xd, wd) = (dims4(l1, op, "input")?, dims4(l2, op, "weight")?);
        let g = Geom::conv_transpose(xd, wd, self.stride, self.padding)?;
        bias_check(l3, wd.1, op)?;
        let (x, w, b) = (data(s1, l1, op)?, data(s2, l2, op)?, data(s3, l3, op)?);
        let y = kernels::grid_to_image(x, xd.0, w, wd.0, &g, Some(b), self.act);
        Ok((CpuStorage::F32(y), Shape::from((xd.0, g.c, g.h, g.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = Geom::conv_transpose(x.dims4()?, w.dims4()?, self.stride, self.padding)?;
        let gy = pre_activation_grad(grad, res, self.act)?;
        let dx = match x.track_op() {
            true => Some(gy.apply_op2_no_bwd(w, &ImageToGrid(g))?),
            false => None,
        };
        let dw = match w.track_op() {
            true => Some(
                x.apply_op2_no_bwd(&gy, &WeightGrad(g))?
                    .reshape(w.shape())?,
            ),
            false => None,
        };
        let db = match b.track_op() {
            true => Some(gy.apply_op1_no_bwd(&BiasGrad)?),
            false => None,
        };
        Ok((dx, dw, db))
    }
}

/// (image `[b, c, h, w]`, weight `[m, c, kh, kw]` or `[m, rows]`) -> `[b, m, oh, ow]`: a
/// convolution without bias (the input gradient of a transposed convolution).
struct ImageToGrid(Geom);

impl CustomOp2 for ImageToGrid {
    fn name(&self) -> &'static str {
        "vqtex-image-to-grid"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (op, g) = (self.name(), &self.0);
        let (b, c, h, w) = dims4(l1, op, "image")?;
        let m = l2.dims().first().copied().unwrap_or(0);
        if (c, h, w) != (g.c, g.h, g.w) || l2.shape().elem_count() != m * g.rows() {
            bail!(
                "{op}: shapes {:?} and {:?} do not match {g:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let (x, wt) = (data(s1, l1, op)?, data(s2, l2, op)?);
        let y = kernels::image_to_grid(x, b, wt, m, g, None, Activation::Identity);
        Ok((CpuStorage::F32(y), Shape::from((b, m, g.oh, g.ow))))
    }
}

/// (grid `[b, m, oh, ow]`, weight `[m, c, kh, kw]` or `[m, rows]`) -> `[b, c, h, w]`: a transposed
/// convolution without bias to an explicit image size (the input gradient of a convolution).
struct GridToImage(Geom);

impl CustomOp2 for GridToImage {
    fn name(&self) -> &'static str {
        "vqtex-grid-to-image"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (op, g) = (self.name(), &self.0);
        let (b, m, oh, ow) = dims4(l1, op, "grid")?;
        if (oh, ow) != (g.oh, g.ow) || l2.shape().elem_count() != m * g.rows() {
            bail!(
                "{op}: shapes {:?} and {:?} do not match {g:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let (a, wt) = (data(s1, l1, op)?, data(s2, l2, op)?);
        let y = kernels::grid_to_image(a, b, wt, m, g, None, Activation::Identity);
        Ok((CpuStorage::F32(y), Shape::from((b, g.c, g.h, g.w))))
    }
}

/// (grid `[b, m, oh, ow]`, image `[b, c, h, w]`) -> `[m, c * kh * kw]`: the weight gradient.
struct WeightGrad(Geom);

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "vqtex-conv-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (op, g) = (self.name(), &self.0);
        let (b, m, oh, ow) = dims4(l1, op, "grid")?;
        let img = dims4(l2, op, "image")?;
        if (oh, ow) != (g.oh, g.ow) || img != (b, g.c, g.h, g.w) {
            bail!(
                "{op}: shapes {:?} and {:?} do not match {g:?}",
                l1.dims(),
                l2.dims()
            )
        }
        let (a, src) = (data(s1, l1, op)?, data(s2, l2, op)?);
        let dw = kernels::weight_grad(a, src, b, m, g);
        Ok((CpuStorage::F32(dw), Shape::from((m, g.rows()))))
    }
}

/// `[b, c, h, w]` -> `[c]`: the sum over all but the channel dimension.
struct BiasGrad;

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "vqtex-bias-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let (_, c, h, w) = dims4(l, op, "gradient")?;
        let db = kernels::bias_grad(data(s, l, op)?, c, h * w);
        Ok((CpuStorage::F32(db), Shape::from(c)))
    }
}

/// (gradient, activated output) -> gradient before the activation.
struct ActGrad(Activation);

impl CustomOp2 for ActGrad {
    fn name(&self) -> &'static str {
        "vqtex-activation-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        if l1.dims() != l2.dims() {
            bail!("{op}: shapes {:?} and {:?} differ", l1.dims(), l2.dims())
        }
        let g = kernels::act_grad(data(s1, l1, op)?, data(s2, l2, op)?, self.0);
        Ok((CpuStorage::F32(g), l1.shape().clone()))
    }
}
