//! A 2-D convolution on flex as batched GEMMs (issue 14).
//!
//! Flex computes a convolution one image at a time: one GEMM per image with
//! n = H·W columns (16 at ResNet-18's last stage), so the deep layers' GEMMs
//! are too thin for gemm's wide kernels, and the input gradient is a direct
//! loop (`docs/bench/profile-2026-12-02.md`). Here the images of a group go
//! into one im2col matrix of K = C·kh·kw rows and n = images·Ho·Wo columns,
//! and each product (forward, weight gradient, input gradient) is one call
//! of the `gemm` crate that flex's matmul uses. Groups keep the im2col matrix
//! near cache size ([`COL_TARGET`], [`MIN_COLUMNS`], [`COL_ELEMENTS`]).
//!
//! Two memory layouts ([`Layout`]). In Burn's `[images, channels, h, w]` the
//! GEMM's `[channels, (image, h, w)]` matrices must be permuted to and from
//! the tensors. In the channel-major layout `[channels, images, h, w]` they
//! *are* the tensors (a group of images is a strided view of rows), so the
//! forward product is written straight into the output and the output
//! gradient is read in place: no permutes at all.
//!
//! The im2col and input-gradient buffers are written in full (padding
//! included) and so come from a per-thread pool ([`Scratch`]) without being
//! zeroed; the outputs are allocated and written once.
//!
//! `unsafe` is allowed in this module only, for two things: the `gemm`
//! crate's raw-pointer interface (strided views, as flex's matmul calls it),
//! and setting the length of an output vector after every element has been
//! written. Each block states what it relies on; `tests/kernels.rs` compares
//! every geometry's values and gradients with Burn's `conv2d`.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

/// The most elements an im2col matrix may hold (32 MiB of f32).
const COL_ELEMENTS: usize = 1 << 23;

/// The im2col size a group of images aims at (1 MiB of f32, within a core's
/// 2 MiB L2 here), so that gemm reads the matrix im2col has just written from
/// cache. Measured with `benches/profile_step.rs`, alternating builds
/// (2026-12-02): ResNet-18 at width 1/8, 1 thread, 465–475 → 512–520
/// samples/s against a 32 MiB target.
const COL_TARGET: usize = 1 << 18;

/// The fewest GEMM columns (images · Ho · Wo) a group aims at: at full width
/// one image's im2col alone exceeds [`COL_TARGET`], and one-image GEMMs ran
/// slower there (35.0 against 39.5 images/s at 2 threads); with this floor
/// full width runs as with 32 MiB groups (44.9 / 46.2 against 45.2 / 43.7).
const MIN_COLUMNS: usize = 4096;

/// Where the images and channels of a 4-D feature map sit in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Burn's `[images, channels, h, w]`.
    ImagesFirst,
    /// `[channels, images, h, w]`: each channel one contiguous block.
    ChannelsFirst,
}

/// The shape of one convolution: input of `b` images of `c` channels of
/// `h × w`, weight `[o, c, kh, kw]`, stride `s`, symmetric zero padding `p`,
/// output of `b` images of `o` channels of `ho × wo`; input and output both
/// in `layout`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub b: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub layout: Layout,
}

impl Geometry {
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.ph - self.kh) / self.sh + 1
    }
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pw - self.kw) / self.sw + 1
    }
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    fn out_plane(&self) -> usize {
        self.ho() * self.wo()
    }
    /// The dims of the input tensor in memory order.
    pub fn input_dims(&self) -> [usize; 4] {
        match self.layout {
            Layout::ImagesFirst => [self.b, self.c, self.h, self.w],
            Layout::ChannelsFirst => [self.c, self.b, self.h, self.w],
        }
    }
    /// The dims of the output tensor in memory order.
    pub fn output_dims(&self) -> [usize; 4] {
        match self.layout {
            Layout::ImagesFirst => [self.b, self.o, self.ho(), self.wo()],
            Layout::ChannelsFirst => [self.o, self.b, self.ho(), self.wo()],
        }
    }
    /// `(image, channel)` of plane `r` (an `h × w` block) of the input in
    /// this layout.
    fn plane_owner(&self, r: usize) -> (usize, usize) {
        match self.layout {
            Layout::ImagesFirst => (r / self.c, r % self.c),
            Layout::ChannelsFirst => (r % self.b, r / self.b),
        }
    }
    /// The index of the input's plane of `(image, channel)`.
    fn plane_index(&self, image: usize, channel: usize) -> usize {
        match self.layout {
            Layout::ImagesFirst => image * self.c + channel,
            Layout::ChannelsFirst => channel * self.b + image,
        }
    }
    /// Image groups `(first, count)`: as many images as keep the im2col matrix
    /// within [`COL_TARGET`], but at least [`MIN_COLUMNS`] columns, and never
    /// over [`COL_ELEMENTS`].
    fn groups(&self) -> Vec<(usize, usize)> {
        let per_image = self.k() * self.out_plane();
        let per_image = per_image.max(1);
        let size = (COL_TARGET / per_image).max(MIN_COLUMNS.div_ceil(self.out_plane())).min(COL_ELEMENTS / per_image).clamp(1, self.b);
        (0..self.b).step_by(size).map(|b0| (b0, size.min(self.b - b0))).collect()
    }
    /// The input index (row ih or column iw) that output index `out` and kernel
    /// offset `k` read, if it is inside the image.
    #[inline(always)]
    fn source(out: usize, k: usize, stride: usize, pad: usize, len: usize) -> Option<usize> {
        (out * stride + k).checked_sub(pad).filter(|&i| i < len)
    }
}

/// The output columns `lo..hi` (within `0..outs`) whose input index
/// `out·stride + k − pad` lies in `0..len`, and the input index of `lo`.
#[inline(always)]
fn valid_range(outs: usize, k: usize, stride: usize, pad: usize, len: usize) -> (usize, usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride).min(outs);
    let hi = if len + pad > k { ((len + pad - k - 1) / stride + 1).min(outs) } else { 0 };
    let hi = hi.max(lo);
    (lo, hi, (lo * stride + k).saturating_sub(pad))
}

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A work buffer of `len` floats from a per-thread pool, handed back on drop.
/// Its contents are whatever the last user left: every user writes all of it
/// before reading it.
struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

impl Scratch {
    fn new(len: usize) -> Scratch {
        let mut buf = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        Scratch { buf, len }
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[..self.len]
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        POOL.with(|p| p.borrow_mut().push(buf));
    }
}

/// A row-major matrix view: element (i, j) at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

impl View {
    fn rows(data: &[f32], rs: usize) -> View {
        View { ptr: data.as_ptr(), rs: rs as isize, cs: 1 }
    }
    fn t(self) -> View {
        View { ptr: self.ptr, rs: self.cs, cs: self.rs }
    }
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`, with `dst` row-major of row
/// stride `dst_rs`, through the `gemm` crate with flex's threading rule
/// (rayon's threads from 192³ multiply-adds up).
///
/// # Safety
/// The views must cover their matrices inside live allocations, and `dst`
/// must be valid for writes of its `m × n` elements and overlap neither input.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: usize, accumulate: bool, lhs: View, rhs: View) {
    let parallelism = if m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // dst = 1·dst + 1·lhs·rhs when accumulating; dst = lhs·rhs otherwise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// im2col for images `b0..b0 + nb`: row `(ci, i, j)`, column `(image, oh, ow)`,
/// every element written (zeros where the kernel reads padding).
fn im2col(x: &[f32], g: &Geometry, b0: usize, nb: usize, col: &mut [f32]) {
    let (ho, wo) = (g.ho(), g.wo());
    let n = nb * ho * wo;
    // Stride 1 with "same" width (ResNet's 3×3 convolutions): an image's
    // block of the row is its plane shifted by a constant, so one copy per
    // image replaces one short copy per output row.
    let shifted = g.sh == 1 && g.sw == 1 && wo == g.w;
    col.par_chunks_mut(n).enumerate().for_each(|(k, row)| {
        let (ci, i, j) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
        let (lo, hi, iw0) = valid_range(wo, j, g.sw, g.pw, g.w);
        for bl in 0..nb {
            let plane = &x[g.plane_index(b0 + bl, ci) * g.h * g.w..][..g.h * g.w];
            let block = &mut row[bl * ho * wo..][..ho * wo];
            if shifted {
                shifted_block(plane, block, g, i, (lo, hi, iw0));
                continue;
            }
            for oh in 0..ho {
                let dst = &mut block[oh * wo..][..wo];
                let Some(ih) = Geometry::source(oh, i, g.sh, g.ph, g.h) else {
                    dst.fill(0.0);
                    continue;
                };
                let src = &plane[ih * g.w..][..g.w];
                dst[..lo].fill(0.0);
                dst[hi..].fill(0.0);
                let dst = &mut dst[lo..hi];
                if g.sw == 1 {
                    dst.copy_from_slice(&src[iw0..iw0 + dst.len()]);
                } else {
                    for (t, d) in dst.iter_mut().enumerate() {
                        *d = src[iw0 + t * g.sw];
                    }
                }
            }
        }
    });
}

/// One image's `ho × wo` block of im2col row `(·, i, ·)` at stride 1 with
/// `wo == w`, given the row's valid columns `lo..hi` (reading input column
/// `iw0` first). Output (oh, ow) reads input (oh + i − ph, ow + j − pw), so
/// over the valid output rows the block is the plane shifted by a constant:
/// one copy, then the columns outside `lo..hi`, which the copy filled from
/// the neighbouring input row, set to 0, as are the rows that read padding.
fn shifted_block(plane: &[f32], block: &mut [f32], g: &Geometry, i: usize, (lo, hi, iw0): (usize, usize, usize)) {
    let wo = g.w;
    let (oh_lo, oh_hi, ih_lo) = valid_range(g.ho(), i, 1, g.ph, g.h);
    if oh_lo == oh_hi || lo == hi {
        block.fill(0.0);
        return;
    }
    let (start, end) = (oh_lo * wo + lo, (oh_hi - 1) * wo + hi);
    block[start..end].copy_from_slice(&plane[ih_lo * g.w + iw0..][..end - start]);
    block[..oh_lo * wo].fill(0.0);
    block[oh_hi * wo..].fill(0.0);
    for r in block[oh_lo * wo..oh_hi * wo].chunks_exact_mut(wo) {
        zero_few(&mut r[..lo]);
        zero_few(&mut r[hi..]);
    }
}

/// Zeros a slice of usually 0 or 1 elements without a call to memset.
#[inline(always)]
fn zero_few(s: &mut [f32]) {
    match s {
        [] => {}
        [a] => *a = 0.0,
        _ => s.fill(0.0),
    }
}

/// col2im for images `b0..b0 + nb`: each of their input planes is set to
/// `Σ dcol[(ci, i, j), (image, oh, ow)]` over every (i, j, oh, ow) that
/// reads it. `dx` holds all planes of the input, uninitialised until then.
fn col2im(dcol: &[f32], g: &Geometry, b0: usize, nb: usize, dx: &mut [MaybeUninit<f32>]) {
    let (ho, wo) = (g.ho(), g.wo());
    let n = nb * ho * wo;
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(r, plane)| {
        let (image, ci) = g.plane_owner(r);
        if !(b0..b0 + nb).contains(&image) {
            return;
        }
        let bl = image - b0;
        plane.iter_mut().for_each(|v| {
            v.write(0.0);
        });
        // SAFETY: every element was just initialised; MaybeUninit<f32> has
        // the layout of f32.
        let plane = unsafe { &mut *(plane as *mut [MaybeUninit<f32>] as *mut [f32]) };
        for i in 0..g.kh {
            for j in 0..g.kw {
                let k = (ci * g.kh + i) * g.kw + j;
                let src = &dcol[k * n + bl * ho * wo..][..ho * wo];
                let (lo, hi, iw0) = valid_range(wo, j, g.sw, g.pw, g.w);
                for oh in 0..ho {
                    let Some(ih) = Geometry::source(oh, i, g.sh, g.ph, g.h) else { continue };
                    let dst = &mut plane[ih * g.w..][..g.w];
                    let s = &src[oh * wo..][lo..hi];
                    if g.sw == 1 {
                        dst[iw0..iw0 + s.len()].iter_mut().zip(s).for_each(|(d, v)| *d += v);
                    } else {
                        for (t, v) in s.iter().enumerate() {
                            dst[iw0 + t * g.sw] += v;
                        }
                    }
                }
            }
        }
    });
}

/// The forward convolution, `out[image, o] = W[o, :] · col[:, (image, ·)]`,
/// as `[g.output_dims()]` values in `g.layout`.
pub(crate) fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let (plane, k) = (g.out_plane(), g.k());
    let w = View::rows(weight, k);
    let len = g.b * g.o * plane;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    for (b0, nb) in g.groups() {
        let n = nb * plane;
        let mut col = Scratch::new(k * n);
        im2col(x, g, b0, nb, &mut col);
        match g.layout {
            // The group's columns are a block of every output row.
            Layout::ChannelsFirst => unsafe {
                gemm(g.o, n, k, out.as_mut_ptr().add(b0 * plane), g.b * plane, false, w, View::rows(&col, n))
            },
            Layout::ImagesFirst => {
                let mut prod = Scratch::new(g.o * n);
                unsafe { gemm(g.o, n, k, prod.as_mut_ptr(), n, false, w, View::rows(&col, n)) };
                // [o, (image, oh, ow)] → [image, o, oh, ow]
                let dst = &mut out.spare_capacity_mut()[b0 * g.o * plane..(b0 + nb) * g.o * plane];
                dst.par_chunks_mut(plane).enumerate().for_each(|(r, dst)| {
                    let (bl, o) = (r / g.o, r % g.o);
                    for (d, &v) in dst.iter_mut().zip(&prod[o * n + bl * plane..][..plane]) {
                        d.write(v);
                    }
                });
            }
        }
    }
    // SAFETY: the groups cover every image, and each group wrote all of its
    // `o × nb × plane` outputs above.
    unsafe { out.set_len(len) };
    out
}

/// The gradients `(dx, dW)` from the output gradient `grad` (in `g.layout`);
/// `dx` only when `want_dx` (an input image needs none). `dx` is in
/// `g.layout`, `dW` is `[o, c, kh, kw]`.
pub(crate) fn backward(x: &[f32], weight: &[f32], grad: &[f32], g: &Geometry, want_dx: bool) -> (Option<Vec<f32>>, Vec<f32>) {
    let (plane, k) = (g.out_plane(), g.k());
    let w = View::rows(weight, k);
    let mut dw = vec![0.0f32; g.o * k];
    let dx_len = g.b * g.c * g.h * g.w;
    let mut dx: Option<Vec<f32>> = want_dx.then(|| Vec::with_capacity(dx_len));
    for (b0, nb) in g.groups() {
        let n = nb * plane;
        // The group's output gradient as an [o, (image, oh, ow)] view.
        let staged;
        let gm = match g.layout {
            Layout::ChannelsFirst => View { ptr: grad[b0 * plane..].as_ptr(), rs: (g.b * plane) as isize, cs: 1 },
            Layout::ImagesFirst => {
                let mut buf = Scratch::new(g.o * n);
                buf.par_chunks_mut(plane).enumerate().for_each(|(r, dst)| {
                    let (o, bl) = (r / nb, r % nb);
                    dst.copy_from_slice(&grad[((b0 + bl) * g.o + o) * plane..][..plane]);
                });
                staged = buf;
                View::rows(&staged, n)
            }
        };
        let mut col = Scratch::new(k * n);
        im2col(x, g, b0, nb, &mut col);
        // dW += gm · colᵀ
        unsafe { gemm(g.o, k, n, dw.as_mut_ptr(), k, true, gm, View::rows(&col, n).t()) };
        if let Some(dx) = dx.as_mut() {
            // dcol = Wᵀ · gm, reusing col's buffer.
            unsafe { gemm(k, n, g.o, col.as_mut_ptr(), n, false, w.t(), gm) };
            col2im(&col, g, b0, nb, &mut dx.spare_capacity_mut()[..dx_len]);
        }
    }
    if let Some(dx) = dx.as_mut() {
        // SAFETY: col2im initialised every plane of every group's images.
        unsafe { dx.set_len(dx_len) };
    }
    (dx, dw)
}
