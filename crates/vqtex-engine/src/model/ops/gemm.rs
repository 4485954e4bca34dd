//! A bounds-checked, safe wrapper over the `gemm` crate's f32 matrix multiply.
//!
//! Every matrix is a slice plus a shape and element strides. The constructors check that every
//! element the shape and strides address lies inside the slice; that check is what makes the one
//! `unsafe` call in [`matmul`] sound.

/// A read-only strided view of a `rows x cols` matrix: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable strided view of a `rows x cols` matrix whose elements are pairwise distinct: a dense
/// row-major matrix, or the transpose of one.
pub(crate) struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// True when every offset `i * rs + j * cs` (`i < rows`, `j < cols`) is below `len`.
fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
    // Offsets and strides must also fit an isize, which is what `gemm` takes.
    let small = |v: usize| isize::try_from(v).is_ok();
    matches!(last, Some(last) if last < len && small(last) && small(rs) && small(cs))
}

impl<'a> MatRef<'a> {
    /// Panics if the view would address an element outside `data`.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols, rs, cs),
            "matrix view {rows}x{cols} (strides {rs}, {cs}) exceeds a slice of {}",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// A dense row-major `rows x cols` view.
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed view (no copy).
    pub(crate) fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<'a> MatMut<'a> {
    /// The transposed view (no copy): a row-major `[r, c]` buffer seen as a column-major `[c, r]`.
    pub(crate) fn t(self) -> Self {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// A dense row-major `rows x cols` view. Panics if it does not fit in `data`.
    pub(crate) fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols, cols, 1),
            "matrix view {rows}x{cols} exceeds a slice of {}",
            data.len()
        );
        MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
}

/// `dst = a * b`, or `dst += a * b` when `accumulate`. Single-threaded: callers parallelise.
///
/// Panics if the shapes do not agree.
pub(crate) fn matmul(dst: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert_eq!((dst.rows, dst.cols), (m, n), "matmul: output shape differs");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[i * dst.rs + j * dst.cs] = 0.0;
                }
            }
        }
        return;
    }
    // SAFETY: `gemm::gemm` reads `lhs[i * lhs_rs + j * lhs_cs]` for i < m, j < k,
    // `rhs[i * rhs_rs + j * rhs_cs]` for i < k, j < n, and reads (when `read_dst`) and writes
    // `dst[i * dst_rs + j * dst_cs]` for i < m, j < n; it reads nothing else through these pointers
    // and keeps none of them after returning (`Parallelism::None`: no other thread is involved).
    // - In bounds: `MatRef::new` / `MatMut::row_major` asserted with `fits` that the largest such
    //   offset is inside the slice the pointer comes from (and fits an isize), for the exact
    //   (rows, cols, rs, cs) of the view; `t()` swaps rows with cols and rs with cs together, which
    //   leaves the set of offsets unchanged. The shape asserts above tie m, n, k to the views.
    // - No aliasing: `dst.data` is a `&mut [f32]`, so the borrow checker guarantees that no `&[f32]`
    //   (in particular `a.data`, `b.data`) overlaps it while it lives, which covers this call.
    //   The dst view is dense row-major or its transpose (the only constructors), so its m x n
    //   elements are distinct.
    // - Valid values: f32 has no invalid bit patterns, and `T = f32` is a type `gemm` supports,
    //   so it does not take its panicking "unsupported type" branch.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
