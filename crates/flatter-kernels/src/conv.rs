//! A 2-D convolution on flex as batched GEMMs (issue 14).
//!
//! Flex computes a convolution one image at a time: one GEMM per image with
//! n = H·W columns (16 at ResNet-18's last stage), so the deep layers' GEMMs
//! are too thin for gemm's wide kernels, and the input gradient is a direct
//! loop (`docs/bench/profile-2026-12-02.md`). Here the images of a group go
//! into one im2col matrix of K = C·kh·kw rows and n = images·Ho·Wo columns,
//! and each product (forward, weight gradient, input gradient) is one GEMM
//! through flex's own matmul. Groups cap the im2col matrix at
//! [`COL_ELEMENTS`] floats.

use burn::backend::flex::ops::matmul::matmul;
use burn::backend::flex::FlexTensor;

use crate::flex::contiguous;
use burn::tensor::TensorData;
use rayon::prelude::*;

/// The most elements an im2col matrix may hold (32 MiB of f32).
const COL_ELEMENTS: usize = 1 << 23;

/// The shape of one convolution: input `[b, c, h, w]`, weight `[o, c, kh, kw]`,
/// stride `s`, symmetric zero padding `p`, output `[b, o, ho, wo]`.
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
    /// Image groups `(first, count)` whose im2col matrix fits [`COL_ELEMENTS`].
    fn groups(&self) -> Vec<(usize, usize)> {
        let per_image = self.k() * self.out_plane();
        let size = (COL_ELEMENTS / per_image.max(1)).clamp(1, self.b);
        (0..self.b).step_by(size).map(|b0| (b0, size.min(self.b - b0))).collect()
    }
    /// The input index (row ih or column iw) that output index `out` and kernel
    /// offset `k` read, if it is inside the image.
    #[inline(always)]
    fn source(out: usize, k: usize, stride: usize, pad: usize, len: usize) -> Option<usize> {
        (out * stride + k).checked_sub(pad).filter(|&i| i < len)
    }
}

/// The output columns `lo..hi` whose input index `out·stride + k − pad` lies
/// in `0..len`, and the input index of `lo`.
#[inline(always)]
fn valid_range(outs: usize, k: usize, stride: usize, pad: usize, len: usize) -> (usize, usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride);
    let hi = if len + pad > k { ((len + pad - k - 1) / stride + 1).min(outs) } else { 0 };
    let hi = hi.max(lo);
    (lo, hi, (lo * stride + k).saturating_sub(pad))
}

/// im2col for images `b0..b0 + nb`: row `(ci, i, j)`, column `(image, oh, ow)`.
fn im2col(x: &[f32], g: &Geometry, b0: usize, nb: usize) -> Vec<f32> {
    let (ho, wo) = (g.ho(), g.wo());
    let n = nb * ho * wo;
    let mut col = vec![0.0f32; g.k() * n];
    col.par_chunks_mut(n).enumerate().for_each(|(k, row)| {
        let (ci, i, j) = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
        let (lo, hi, iw0) = valid_range(wo, j, g.sw, g.pw, g.w);
        for bl in 0..nb {
            let plane = &x[((b0 + bl) * g.c + ci) * g.h * g.w..][..g.h * g.w];
            for oh in 0..ho {
                let Some(ih) = Geometry::source(oh, i, g.sh, g.ph, g.h) else { continue };
                let src = &plane[ih * g.w..][..g.w];
                let dst = &mut row[(bl * ho + oh) * wo..][lo..hi];
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
    col
}

/// col2im, accumulating: `dx[image, ci, ih, iw] += dcol[(ci, i, j), (image, oh, ow)]`
/// over every (i, j, oh, ow) that reads (ih, iw), for images `b0..b0 + nb`.
fn col2im_add(dcol: &[f32], g: &Geometry, b0: usize, nb: usize, dx: &mut [f32]) {
    let (ho, wo) = (g.ho(), g.wo());
    let n = nb * ho * wo;
    let planes = &mut dx[b0 * g.c * g.h * g.w..(b0 + nb) * g.c * g.h * g.w];
    planes.par_chunks_mut(g.h * g.w).enumerate().for_each(|(r, plane)| {
        let (bl, ci) = (r / g.c, r % g.c);
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

fn matrix(values: Vec<f32>, rows: usize, cols: usize) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, [rows, cols]))
}

fn transpose(t: FlexTensor) -> FlexTensor {
    t.transpose(0, 1)
}


/// The forward convolution: `out[image, o] = W[o, :] · col[:, (image, ·)]`.
pub(crate) fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> FlexTensor {
    let plane = g.out_plane();
    let w = matrix(weight.to_vec(), g.o, g.k());
    let mut out = vec![0.0f32; g.b * g.o * plane];
    for (b0, nb) in g.groups() {
        let n = nb * plane;
        let prod = matmul(w.clone(), matrix(im2col(x, g, b0, nb), g.k(), n));
        let prod = contiguous(&prod);
        // [o, (image, oh, ow)] → [image, o, oh, ow]
        out[b0 * g.o * plane..(b0 + nb) * g.o * plane].par_chunks_mut(plane).enumerate().for_each(|(r, dst)| {
            let (bl, o) = (r / g.o, r % g.o);
            dst.copy_from_slice(&prod[o * n + bl * plane..][..plane]);
        });
    }
    FlexTensor::from_data(TensorData::new(out, [g.b, g.o, g.ho(), g.wo()]))
}

/// The gradients `(dx, dW)` from the output gradient `grad` `[b, o, ho, wo]`;
/// `dx` only when `want_dx` (an input image needs none).
pub(crate) fn backward(x: &[f32], weight: &[f32], grad: &[f32], g: &Geometry, want_dx: bool) -> (Option<FlexTensor>, FlexTensor) {
    let plane = g.out_plane();
    let w_t = transpose(matrix(weight.to_vec(), g.o, g.k()));
    let mut dx = vec![0.0f32; g.b * g.c * g.h * g.w];
    let mut dw = vec![0.0f32; g.o * g.k()];
    for (b0, nb) in g.groups() {
        let n = nb * plane;
        // [image, o, oh, ow] → [o, (image, oh, ow)]
        let mut gm = vec![0.0f32; g.o * n];
        gm.par_chunks_mut(plane).enumerate().for_each(|(r, dst)| {
            let (o, bl) = (r / nb, r % nb);
            dst.copy_from_slice(&grad[((b0 + bl) * g.o + o) * plane..][..plane]);
        });
        let gm = matrix(gm, g.o, n);
        let col = matrix(im2col(x, g, b0, nb), g.k(), n);
        let part = matmul(gm.clone(), transpose(col));
        dw.iter_mut().zip(contiguous(&part).iter()).for_each(|(acc, p)| *acc += p);
        if want_dx {
            let dcol = matmul(w_t.clone(), gm);
            let dcol = contiguous(&dcol);
            col2im_add(&dcol, g, b0, nb, &mut dx);
        }
    }
    let dw = FlexTensor::from_data(TensorData::new(dw, [g.o, g.c, g.kh, g.kw]));
    (want_dx.then(|| FlexTensor::from_data(TensorData::new(dx, [g.b, g.c, g.h, g.w]))), dw)
}
