//! The kernels on plain `f32` slices, with no Burn in sight: what the flex
//! paths run on a tensor's storage, and what the tests check against `f64`
//! and against Burn.
//!
//! Every loop is plain `f32` arithmetic with no fused multiply-add (Rust
//! never contracts `a * b + c`), so the scalar, AVX2 and AVX-512 builds of a
//! loop give the same bits; [`vectorize`] only lets LLVM use the wider
//! registers.

/// Run `f` compiled for the best instruction set this CPU has (AVX-512, AVX2
/// or baseline x86-64), through pulp's runtime dispatch. `f` should be a loop
/// of plain arithmetic, which LLVM then vectorises for that set.
#[inline(always)]
pub fn vectorize<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "flex")]
    {
        pulp::Arch::new().dispatch(f)
    }
    #[cfg(not(feature = "flex"))]
    {
        f()
    }
}

/// Eq. (1), one step after the first, in place: `π ← π·β − g`, then
/// `w ← w + π·η`, element by element in that order.
///
/// # Panics
/// If the three slices differ in length.
pub fn heavy_ball_step(weights: &mut [f32], momentum: &mut [f32], grad: &[f32], beta: f32, lr: f32) {
    assert!(weights.len() == momentum.len() && momentum.len() == grad.len(), "heavy_ball_step: slice lengths differ");
    vectorize(|| {
        for ((w, p), &g) in weights.iter_mut().zip(momentum.iter_mut()).zip(grad) {
            let pi = *p * beta - g;
            *p = pi;
            *w += pi * lr;
        }
    });
}

/// Eq. (1)'s first step (π₀ = 0), in place: `π ← −g` (a negation, as
/// Burn's `neg`, so a zero gradient gives −0), then `w ← w + π·η`.
///
/// # Panics
/// If the three slices differ in length.
pub fn heavy_ball_first(weights: &mut [f32], momentum: &mut [f32], grad: &[f32], lr: f32) {
    assert!(weights.len() == momentum.len() && momentum.len() == grad.len(), "heavy_ball_first: slice lengths differ");
    vectorize(|| {
        for ((w, p), &g) in weights.iter_mut().zip(momentum.iter_mut()).zip(grad) {
            let pi = -g;
            *p = pi;
            *w += pi * lr;
        }
    });
}

/// Below this |x|, tanh is the odd polynomial; above, `1 − 2/(e^{2|x|} + 1)`.
const TANH_SMALL: f32 = 0.625;
/// Above this |x|, tanh(x) rounds to ±1 in `f32` (1 − tanh 10 ≈ 4e-9, far
/// under half an ulp below 1, 3e-8); clamping here keeps e^{2|x|} finite.
const TANH_SATURATE: f32 = 10.0;

/// tanh in `f32`, branch-free so that a loop of it vectorises.
///
/// The method is Cephes' `tanhf` (S. Moshier): for |x| < 0.625 an odd
/// polynomial of degree 11, else `1 − 2/(e^{2|x|} + 1)` with the sign of x,
/// with Cephes' `expf` (exponent by a power-of-two split, degree-6
/// polynomial). NaN gives NaN, ±∞ gives ±1, −0 gives −0. Its error against
/// the correctly rounded tanh is at most [`crate::TANH_MAX_ULP`] ulp.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // Small |x|: tanh x = x + x·z·P(z), z = x².
    let z = x * x;
    let poly = ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328e-1)
        * z;
    let small = poly * x + x;
    // Large |x|: 1 − 2/(e^{2|x|} + 1), sign restored.
    let e = exp_f32(2.0 * a.min(TANH_SATURATE));
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    let y = if a < TANH_SMALL { small } else { large };
    // `min` above maps NaN to the clamp, and the polynomial turns −0 into +0
    // (−0·−0 + −0): give NaN and ±0 back as they came.
    if x.is_nan() || x == 0.0 { x } else { y }
}

/// e^t for 0 ≤ t ≤ 18 (what [`tanh_f32`] needs), Cephes' `expf`: t = n·ln 2 + r
/// with n the nearest integer to t/ln 2 and |r| ≤ ln 2 / 2, e^r by a
/// degree-6 polynomial, and 2^n put into the exponent bits.
#[inline(always)]
fn exp_f32(t: f32) -> f32 {
    // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low
    // mantissa bits: n = bits(t/ln2 + M) − bits(M), exact for |n| < 2²².
    const ROUND: f32 = 12_582_912.0;
    let shifted = t * std::f32::consts::LOG2_E + ROUND;
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let n = shifted - ROUND;
    // r = t − n·ln 2 in two parts (Cephes' C1 + C2 = ln 2), so n·C1 is exact.
    let r = t - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r
        + 5e-1)
        * r2
        + r
        + 1.0;
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// `y ← tanh(y)` over a slice.
pub fn tanh_in_place(values: &mut [f32]) {
    vectorize(|| {
        for v in values.iter_mut() {
            *v = tanh_f32(*v);
        }
    });
}

/// `out ← tanh(x)` over two slices of one length.
///
/// # Panics
/// If the slices differ in length.
pub fn tanh_into(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "tanh_into: slice lengths differ");
    vectorize(|| {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = tanh_f32(v);
        }
    });
}

/// The backward pass of tanh from its output, in place on the incoming
/// gradient: `g ← g·(1 − y·y)`.
///
/// # Panics
/// If the slices differ in length.
pub fn tanh_backward_in_place(grad: &mut [f32], output: &[f32]) {
    assert_eq!(grad.len(), output.len(), "tanh_backward_in_place: slice lengths differ");
    vectorize(|| {
        for (g, &y) in grad.iter_mut().zip(output) {
            *g *= 1.0 - y * y;
        }
    });
}

/// Lanes of the partial sums in [`lane_sum`]: independent accumulators, so a
/// sum vectorises without reassociating any one of them.
const LANES: usize = 16;

/// The longest stretch of a row summed in f32 lanes before the lane sums go
/// into the f64 total: 256 terms a lane. [`channel_mean_var`] and
/// [`channel_grad_sums`] cut longer rows into blocks this long. The ResNet's
/// rows are one image's H·W (at most 1,024) in either layout: channel-major
/// maps pass their channels image by image (`maps.rs`).
const BLOCK: usize = LANES * 256;

/// Σ f(x_i) over a slice, as 16 f32 lane sums added in f64 at the end; the
/// callers pass at most [`BLOCK`] elements.
#[inline(always)]
fn lane_sum(len: usize, f: impl Fn(usize) -> f32) -> f64 {
    let mut acc = [0.0f32; LANES];
    let full = len / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(base + l);
        }
    }
    let mut total: f64 = acc.iter().map(|&a| a as f64).sum();
    for i in full..len {
        total += f(i) as f64;
    }
    total
}

/// BatchNorm's batch statistics over one channel's rows (each row is the
/// H·W values of one image, or all of a channel-major channel): the mean, then the biased variance as the mean
/// squared deviation from it (two passes, as Burn's default does).
pub fn channel_mean_var(rows: &[&[f32]]) -> (f32, f32) {
    let n: usize = rows.iter().map(|r| r.len()).sum();
    // `#[inline(always)]`: inlined into pulp's dispatched function, or LLVM
    // may keep a closure apart and compile it for baseline x86-64 (scalar SSE
    // in the profile).
    let sum: f64 = vectorize(
        #[inline(always)]
        || rows.iter().flat_map(|r| r.chunks(BLOCK)).map(|r| lane_sum(r.len(), |i| r[i])).sum(),
    );
    let mean = (sum / n as f64) as f32;
    let sq: f64 = vectorize(
        #[inline(always)]
        || {
        rows.iter()
            .flat_map(|r| r.chunks(BLOCK))
            .map(|r| {
                lane_sum(r.len(), |i| {
                    let d = r[i] - mean;
                    d * d
                })
            })
            .sum()
        },
    );
    (mean, (sq / n as f64) as f32)
}

/// BatchNorm's output for one row: `y = (x − mean)·scale + shift`, with
/// `scale = γ/√(var + ε)` and `shift = β`.
pub fn batch_norm_row(x: &[f32], out: &mut [f32], mean: f32, scale: f32, shift: f32) {
    assert_eq!(x.len(), out.len(), "batch_norm_row: slice lengths differ");
    vectorize(|| {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - mean) * scale + shift;
        }
    });
}

/// The two sums BatchNorm's backward pass needs for one channel, over rows of
/// the input and of the output gradient: Σ g and Σ g·x̂, x̂ = (x − mean)·inv_std,
/// in one pass (16 f32 lanes each, added in f64 per row).
pub fn channel_grad_sums(x_rows: &[&[f32]], g_rows: &[&[f32]], mean: f32, inv_std: f32) -> (f64, f64) {
    vectorize(
        #[inline(always)]
        || {
        let (mut sum_g, mut sum_gx) = (0.0f64, 0.0f64);
        let blocks = x_rows.iter().zip(g_rows).flat_map(|(x, g)| x.chunks(BLOCK).zip(g.chunks(BLOCK)));
        for (x, g) in blocks {
            let (mut acc_g, mut acc_gx) = ([0.0f32; LANES], [0.0f32; LANES]);
            let full = g.len() / LANES * LANES;
            for (xc, gc) in x[..full].chunks_exact(LANES).zip(g[..full].chunks_exact(LANES)) {
                for l in 0..LANES {
                    acc_g[l] += gc[l];
                    acc_gx[l] += gc[l] * ((xc[l] - mean) * inv_std);
                }
            }
            sum_g += acc_g.iter().map(|&a| a as f64).sum::<f64>();
            sum_gx += acc_gx.iter().map(|&a| a as f64).sum::<f64>();
            for i in full..g.len() {
                sum_g += g[i] as f64;
                sum_gx += (g[i] * ((x[i] - mean) * inv_std)) as f64;
            }
        }
        (sum_g, sum_gx)
        },
    )
}

/// BatchNorm's input gradient for one row, over the output gradient g:
/// `g ← γ·inv_std·(g − mean(g) − x̂·mean(g·x̂))`, x̂ = (x − mean)·inv_std.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_in_place(
    x: &[f32],
    g: &mut [f32],
    mean: f32,
    inv_std: f32,
    scale: f32,
    mean_g: f32,
    mean_gx: f32,
) {
    assert_eq!(x.len(), g.len(), "batch_norm_backward_in_place: slice lengths differ");
    vectorize(|| {
        for (gi, &v) in g.iter_mut().zip(x) {
            let xhat = (v - mean) * inv_std;
            *gi = scale * (*gi - mean_g - xhat * mean_gx);
        }
    });
}
