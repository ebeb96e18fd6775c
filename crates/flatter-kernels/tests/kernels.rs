//! The kernels against their references: tanh against `f64` over a sweep of
//! every f32 bit pattern, and against Burn's tanh (values and gradients);
//! the fused heavy-ball step against Burn's ops bit for bit. Each flex check
//! first shows that the kernel path actually ran (`applies_to`), so a
//! comparison never compares Burn with itself.

use burn::tensor::{Device, Tensor, TensorData};
use flatter_device::BackendKind;
use flatter_kernels::{TANH_MAX_ULP, applies_to, elementwise, heavy_ball, reference, tanh};

/// Distance between two finite or infinite f32 in units in the last place
/// (adjacent floats are 1 apart; +0 and −0 are 0 apart).
fn ulp_distance(a: f32, b: f32) -> u32 {
    fn ordered(x: f32) -> i64 {
        let bits = x.to_bits() as i32 as i64;
        if bits < 0 { (i32::MIN as i64) - bits } else { bits }
    }
    (ordered(a) - ordered(b)).unsigned_abs() as u32
}

/// The largest ulp error of `f` against tanh in f64 rounded to f32, over
/// every 61st f32 bit pattern (70 million values, both signs, subnormals to
/// infinities) and the values where the method switches branch. NaN inputs
/// must give NaN.
fn max_tanh_error(f: impl Fn(f32) -> f32) -> (u32, f32) {
    max_tanh_error_every(61, f)
}

fn max_tanh_error_every(stride: usize, f: impl Fn(f32) -> f32) -> (u32, f32) {
    let mut worst = (0, 0.0);
    let specials = [0.0, -0.0, 0.625, -0.625, 0.624_999_94, 9.0, 9.01, 10.0, 10.000_001, f32::MIN_POSITIVE, f32::MAX, f32::INFINITY];
    let sweep = (0..=u32::MAX).step_by(stride).map(f32::from_bits);
    for x in sweep.chain(specials.iter().flat_map(|&s| [s, -s])) {
        let y = f(x);
        if x.is_nan() {
            assert!(y.is_nan(), "tanh(NaN) gave {y}");
            continue;
        }
        let exact = (x as f64).tanh() as f32;
        let e = ulp_distance(y, exact);
        if e > worst.0 {
            worst = (e, x);
        }
    }
    worst
}

#[test]
fn tanh_f32_is_within_the_stated_ulp_of_the_correctly_rounded_tanh() {
    let (err, at) = max_tanh_error(elementwise::tanh_f32);
    eprintln!("tanh_f32: max error {err} ulp at x = {at:e}");
    assert!(err <= TANH_MAX_ULP, "tanh_f32 is {err} ulp off at x = {at:e}");
    assert_eq!(elementwise::tanh_f32(f32::INFINITY), 1.0);
    assert_eq!(elementwise::tanh_f32(f32::NEG_INFINITY), -1.0);
    assert!(elementwise::tanh_f32(-0.0).is_sign_negative());
    // Negative control: the check catches an error of 2×TANH_MAX_ULP + 1 ulp.
    let off = 2 * TANH_MAX_ULP + 1;
    let biased = |x: f32| {
        let y = elementwise::tanh_f32(x);
        if y.is_finite() && y.abs() < 1.0 && y != 0.0 { f32::from_bits(y.to_bits() - off) } else { y }
    };
    assert!(max_tanh_error(biased).0 > TANH_MAX_ULP, "the ulp check must reject a biased tanh");
}

/// All 2³² inputs (about a minute in release):
/// `cargo test --release -p flatter-kernels -- --ignored`. Run once for
/// [`TANH_MAX_ULP`]; the sweep above runs in CI.
#[test]
#[ignore]
fn tanh_f32_exhaustively() {
    let (err, at) = max_tanh_error_every(1, elementwise::tanh_f32);
    eprintln!("tanh_f32 over all f32: max error {err} ulp at x = {at:e}");
    assert!(err <= TANH_MAX_ULP, "tanh_f32 is {err} ulp off at x = {at:e}");
}

#[test]
fn the_slice_kernels_agree_with_the_scalar_formula_bit_for_bit() {
    // The vectorised loops (AVX-512 or AVX2 here) against one value at a time.
    let xs: Vec<f32> = (0..10_007).map(|i| (i as f32 - 5_003.0) * 3.1e-3).collect();
    let mut ys = vec![0.0; xs.len()];
    elementwise::tanh_into(&xs, &mut ys);
    for (&x, &y) in xs.iter().zip(&ys) {
        assert_eq!(y.to_bits(), elementwise::tanh_f32(x).to_bits(), "x = {x}");
    }
    let mut in_place = xs.clone();
    elementwise::tanh_in_place(&mut in_place);
    assert_eq!(in_place, ys);
}

fn devices() -> (Device, Device) {
    (BackendKind::Flex.device().unwrap(), BackendKind::NdArray.device().unwrap())
}

/// Deterministic values in (−scale, scale) (a 64-bit LCG; no rand needed).
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn bits<const D: usize>(t: &Tensor<D>) -> Vec<u32> {
    t.to_data().try_to_vec::<f32>().unwrap().into_iter().map(f32::to_bits).collect()
}

/// Shapes: tiny, one not a multiple of the vector width, and one that spans
/// several rayon chunks (the kernel splits at 2^15 elements).
const SHAPES: [[usize; 2]; 3] = [[1, 3], [7, 13], [300, 257]];

#[test]
fn heavy_ball_on_flex_gives_burns_bits_on_every_step() {
    let (flex, _) = devices();
    for shape in SHAPES {
        let n = shape[0] * shape[1];
        let w0 = tensor(values(n, 1, 1.0), shape, &flex);
        assert!(applies_to(&w0), "the fused kernel must run on flex f32");
        let (mut w_fused, mut w_ref) = (w0.clone(), w0);
        let (mut pi_fused, mut pi_ref) = (None, None);
        // A first step, steps with β, and β = 0 handed a momentum.
        for (step, (beta, lr)) in [(0.9, 0.05), (0.9, 0.05), (0.97, 0.013), (0.0, 0.2), (0.5, 1e-3)].into_iter().enumerate() {
            let g = tensor(values(n, 10 + step as u64, 2.0), shape, &flex);
            let (w, p) = heavy_ball(w_fused, g.clone(), pi_fused, beta, lr);
            let (wr, pr) = reference::heavy_ball(w_ref, g, pi_ref, beta, lr);
            assert_eq!(bits(&w), bits(&wr), "weights, shape {shape:?}, step {step}");
            assert_eq!(bits(&p), bits(&pr), "momentum, shape {shape:?}, step {step}");
            (w_fused, pi_fused, w_ref, pi_ref) = (w, Some(p), wr, Some(pr));
        }
    }
}

#[test]
fn heavy_ball_never_writes_a_buffer_it_shares() {
    // The weights and momentum are kept elsewhere too, and the gradient is a
    // transposed (non-contiguous) view: the kernel must copy, not write.
    let (flex, _) = devices();
    let w = tensor(values(6 * 5, 2, 1.0), [6, 5], &flex);
    let pi = tensor(values(6 * 5, 3, 1.0), [6, 5], &flex);
    let g = tensor(values(5 * 6, 4, 1.0), [5, 6], &flex).transpose();
    let (w_kept, pi_kept) = (bits(&w), bits(&pi));
    let (w_new, pi_new) = heavy_ball(w.clone(), g.clone(), Some(pi.clone()), 0.9, 0.1);
    let (w_ref, pi_ref) = reference::heavy_ball(w.clone(), g, Some(pi.clone()), 0.9, 0.1);
    assert_eq!(bits(&w), w_kept, "the caller's weights changed");
    assert_eq!(bits(&pi), pi_kept, "the caller's momentum changed");
    assert_eq!(bits(&w_new), bits(&w_ref));
    assert_eq!(bits(&pi_new), bits(&pi_ref));
}

#[test]
fn on_ndarray_the_kernels_are_burns_ops() {
    let (_, nd) = devices();
    let x = tensor(values(40, 5, 3.0), [4, 10], &nd);
    assert!(!applies_to(&x), "ndarray must keep Burn's ops");
    assert_eq!(bits(&tanh(x.clone())), bits(&x.clone().tanh()));
    let g = tensor(values(40, 6, 1.0), [4, 10], &nd);
    let (w, p) = heavy_ball(x.clone(), g.clone(), None, 0.9, 0.1);
    let (wr, pr) = reference::heavy_ball(x, g, None, 0.9, 0.1);
    assert_eq!((bits(&w), bits(&p)), (bits(&wr), bits(&pr)));
}

/// Relative difference allowed between our tanh (≤ 1 ulp from exact) and
/// libm's `tanhf` behind Burn's (≤ 1–2 ulp): 6 ulp of 1 in relative terms.
const TANH_VS_BURN: f32 = 6.0 * f32::EPSILON;

fn assert_close(ours: &[f32], burns: &[f32], rel: f32, what: &str) {
    assert_eq!(ours.len(), burns.len());
    for (i, (&a, &b)) in ours.iter().zip(burns).enumerate() {
        let tol = rel * a.abs().max(b.abs()).max(f32::MIN_POSITIVE);
        assert!((a - b).abs() <= tol, "{what}[{i}]: {a} vs Burn's {b}");
    }
}

#[test]
fn tanh_on_flex_matches_burns_tanh_in_value_and_gradient() {
    let (flex, _) = devices();
    let ad = flex.clone().autodiff();
    let shape = [64, 600]; // > one rayon chunk
    let xv = values(64 * 600, 7, 6.0);
    let wv = values(64 * 600, 8, 1.0);

    // Plain tensors.
    let x = tensor(xv.clone(), shape, &flex);
    assert!(applies_to(&x));
    let ours = tanh(x.clone()).to_data().try_to_vec::<f32>().unwrap();
    let burns = x.clone().tanh().to_data().try_to_vec::<f32>().unwrap();
    assert_close(&ours, &burns, TANH_VS_BURN, "tanh");
    assert_eq!(x.to_data().try_to_vec::<f32>().unwrap(), xv, "tanh wrote into a shared input");

    // Autodiff: L = Σ w ⊙ tanh(tanh(x)) + Σ tanh(x), so tanh's output is both
    // saved and used twice; dL/dx from our op against Burn's graph.
    let grad_of = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
        let x = tensor(xv.clone(), shape, &ad).require_grad();
        let w = tensor(wv.clone(), shape, &ad);
        let t = f(x.clone());
        let loss = (f(t.clone()) * w).sum() + t.sum();
        let grads = loss.backward();
        let value: f32 = loss.into_scalar();
        (x.grad(&grads).unwrap().to_data().try_to_vec::<f32>().unwrap(), value)
    };
    let probe = tensor(xv.clone(), shape, &ad).require_grad();
    assert!(applies_to(&probe), "the kernel must run on autodiff flex");
    let (g_ours, l_ours) = grad_of(&|t| tanh(t));
    let (g_burn, l_burn) = grad_of(&|t| t.tanh());
    // The gradient is a product of two tanh' factors and a weighted sum: allow
    // 4× the value tolerance, and an absolute floor where it cancels to ~0.
    for (i, (&a, &b)) in g_ours.iter().zip(&g_burn).enumerate() {
        assert!((a - b).abs() <= 4.0 * TANH_VS_BURN * a.abs().max(b.abs()) + 1e-6, "dL/dx[{i}]: {a} vs Burn's {b}");
    }
    assert!((l_ours - l_burn).abs() <= 1e-6 * l_burn.abs().max(1.0), "loss {l_ours} vs Burn's {l_burn}");
}

#[test]
fn with_gradient_checkpointing_tanh_is_burns() {
    let (flex, _) = devices();
    let ad = flex.autodiff().gradient_checkpointing();
    let x = tensor(values(50, 9, 2.0), [5, 10], &ad).require_grad();
    assert!(!applies_to(&x), "checkpointing is left to Burn's ops");
    let g = tanh(x.clone()).sum().backward();
    let dx = bits(&x.grad(&g).unwrap());
    let g_ref = x.clone().tanh().sum().backward();
    assert_eq!(dx, bits(&x.grad(&g_ref).unwrap()));
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().unwrap()
}

/// |a − b| ≤ rel·max|b| element-wise: errors measured against the tensor's
/// scale, since BatchNorm's gradients cancel to near 0 in places.
fn assert_close_scaled(ours: &[f32], burns: &[f32], rel: f32, what: &str) {
    let scale = burns.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    for (i, (&a, &b)) in ours.iter().zip(burns).enumerate() {
        assert!((a - b).abs() <= rel * scale, "{what}[{i}]: {a} vs Burn's {b} (scale {scale})");
    }
}

/// Both BatchNorm paths on the same inputs: output, batch statistics, and
/// the gradients of L = Σ w ⊙ BN(x) in x, γ and β.
fn batch_norm_case(shape: [usize; 4], seed: u64) {
    let (flex, _) = devices();
    let ad = flex.autodiff();
    let n: usize = shape.iter().product();
    let c = shape[1];
    // Per-channel offsets and scales, so the statistics are not all ~0 and ~1.
    let xv: Vec<f32> = values(n, seed, 1.0).iter().enumerate().map(|(i, v)| v * 3.0 + ((i / (n / shape[0] / c)) % c) as f32).collect();
    let (wv, gv, bv) = (values(n, seed + 1, 1.0), values(c, seed + 2, 1.5), values(c, seed + 3, 0.5));
    let run = |fused: bool| {
        let x = tensor(xv.clone(), shape, &ad).require_grad();
        let gamma = tensor(gv.clone(), [c], &ad).require_grad();
        let beta = tensor(bv.clone(), [c], &ad).require_grad();
        if fused {
            assert!(applies_to(&x) && applies_to(&gamma), "the fused BatchNorm must run on autodiff flex");
        }
        let f = if fused { flatter_kernels::batch_norm_train::<4> } else { reference::batch_norm_train::<4> };
        let out = f(x.clone(), gamma.clone(), beta.clone(), 1e-5);
        let grads = (out.output.clone() * tensor(wv.clone(), shape, &ad)).sum().backward();
        [
            vec_of(out.output),
            vec_of(out.mean),
            vec_of(out.variance),
            vec_of(x.grad(&grads).unwrap()),
            vec_of(gamma.grad(&grads).unwrap()),
            vec_of(beta.grad(&grads).unwrap()),
        ]
    };
    let (ours, burns) = (run(true), run(false));
    for (k, what) in ["output", "mean", "variance", "dL/dx", "dL/dγ", "dL/dβ"].iter().enumerate() {
        assert_close_scaled(&ours[k], &burns[k], 2e-5, &format!("{what} {shape:?}"));
    }
}

#[test]
fn batch_norm_on_flex_matches_burns_in_value_and_gradient() {
    batch_norm_case([3, 5, 7, 6], 20); // rows of 42: not a multiple of the 16 lanes
    batch_norm_case([16, 8, 32, 32], 21); // the cpu-scale ResNet's first stage
    batch_norm_case([64, 64, 2, 2], 22); // many channels, short rows
}

#[test]
fn the_batch_norm_layer_keeps_burns_running_statistics_and_inference() {
    use burn::module::Module;
    use burn::nn::BatchNormConfig;
    let (flex, _) = devices();
    let ad = flex.clone().autodiff();
    let ours = BatchNormConfig::new(6).with_momentum(0.3).init(&ad);
    let burns = ours.clone();
    for step in 0..3 {
        let x = tensor(values(4 * 6 * 25, 30 + step, 2.0).iter().map(|v| v + step as f32).collect(), [4, 6, 5, 5], &ad);
        let (a, b) = (vec_of(flatter_kernels::batch_norm(&ours, x.clone())), vec_of(burns.forward(x)));
        assert_close_scaled(&a, &b, 2e-5, "training output");
    }
    for (a, b) in [(&ours.running_mean, &burns.running_mean), (&ours.running_var, &burns.running_var)] {
        assert_close_scaled(&vec_of(a.value()), &vec_of(b.value()), 1e-5, "running statistics");
    }
    // Inference (a plain device) is Burn's path, bit for bit.
    let (ours, burns) = (ours.valid(), burns.valid());
    let x = tensor(values(2 * 6 * 4, 40, 1.0), [2, 6, 2, 2], &flex);
    assert_eq!(bits(&flatter_kernels::batch_norm(&ours, x.clone())), bits(&burns.forward(x)));
}

/// One convolution both ways on the same inputs: the output, and the
/// gradients of L = Σ w ⊙ conv(x) in x and in the weight.
fn conv_case(batch: usize, [c, h, w]: [usize; 3], out: usize, kernel: usize, stride: usize, padding: burn::nn::PaddingConfig2d) {
    use burn::nn::conv::Conv2dConfig;
    let (flex, _) = devices();
    let ad = flex.clone().autodiff();
    let conv = Conv2dConfig::new([c, out], [kernel, kernel]).with_stride([stride, stride]).with_padding(padding.clone()).with_bias(false).init(&ad);
    let xv = values(batch * c * h * w, 50 + batch as u64, 2.0);
    let what = format!("batch {batch}, [{c}, {h}, {w}] → {out}, {kernel}×{kernel} / {stride}, {padding:?}");
    let run = |fused: bool| {
        let x = tensor(xv.clone(), [batch, c, h, w], &ad).require_grad();
        if fused {
            assert!(flatter_kernels::conv2d_applies(&conv, &x), "the batched convolution must run: {what}");
        }
        let y = if fused { flatter_kernels::conv2d(&conv, x.clone()) } else { reference::conv2d(&conv, x.clone()) };
        let weights = tensor(values(y.dims().iter().product(), 60, 1.0), y.dims(), &ad);
        let grads = (y.clone() * weights).sum().backward();
        [vec_of(y), vec_of(x.grad(&grads).unwrap()), vec_of(conv.weight.grad(&grads).unwrap())]
    };
    let (ours, burns) = (run(true), run(false));
    for (k, part) in ["output", "dL/dx", "dL/dW"].iter().enumerate() {
        assert_eq!(ours[k].len(), burns[k].len(), "{part}: {what}");
        assert_close_scaled(&ours[k], &burns[k], 1e-5, &format!("{part}: {what}"));
    }
    // A plain (inference) tensor takes the batched forward too.
    let conv_plain = burn::module::Module::valid(&conv);
    let x = tensor(xv.clone(), [batch, c, h, w], &flex);
    assert!(flatter_kernels::conv2d_applies(&conv_plain, &x));
    assert_close_scaled(&vec_of(flatter_kernels::conv2d(&conv_plain, x.clone())), &vec_of(conv_plain.forward(x)), 1e-5, &what);
}

#[test]
fn the_batched_convolution_matches_burns_in_value_and_gradient() {
    use burn::nn::PaddingConfig2d::{Explicit, Valid};
    conv_case(3, [4, 9, 7], 5, 3, 1, Explicit(1, 1, 1, 1)); // ResNet's 3×3, odd sizes
    conv_case(2, [6, 8, 8], 4, 3, 2, Explicit(1, 1, 1, 1)); // stride 2
    conv_case(4, [8, 8, 8], 16, 1, 2, Valid); // the 1×1 projection shortcut
    conv_case(2, [3, 6, 5], 2, 3, 1, Valid);
    conv_case(61, [16, 32, 32], 8, 3, 1, Explicit(1, 1, 1, 1)); // image groups, the last one partial
}

#[test]
fn a_convolution_the_gemms_do_not_cover_is_the_layers_own() {
    use burn::nn::conv::Conv2dConfig;
    let (flex, nd) = devices();
    let with_bias = Conv2dConfig::new([2, 3], [3, 3]).init(&flex);
    let x = tensor(values(2 * 2 * 5 * 5, 70, 1.0), [2, 2, 5, 5], &flex);
    assert!(!flatter_kernels::conv2d_applies(&with_bias, &x), "a bias is left to Burn");
    assert_eq!(bits(&flatter_kernels::conv2d(&with_bias, x.clone())), bits(&with_bias.forward(x)));
    let on_ndarray = Conv2dConfig::new([2, 3], [3, 3]).with_bias(false).init(&nd);
    let x = tensor(values(2 * 2 * 5 * 5, 71, 1.0), [2, 2, 5, 5], &nd);
    assert!(!flatter_kernels::conv2d_applies(&on_ndarray, &x), "ndarray keeps Burn's convolution");
    assert_eq!(bits(&flatter_kernels::conv2d(&on_ndarray, x.clone())), bits(&on_ndarray.forward(x)));
}

/// A ResNet basic block with a projection shortcut (conv-BN-ReLU, conv-BN,
/// 1×1 conv-BN, sum, ReLU), once on channel-major [`FeatureMaps`] and once
/// in Burn's own ops and layout: the output, the gradients of L = Σ w ⊙ out
/// in x, in every weight and in every γ and β, and the running statistics.
fn maps_case(batch: usize, [c, h, w]: [usize; 3], out: usize, seed: u64) {
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
    use burn::tensor::activation::relu;
    use flatter_kernels::{FeatureMaps, batch_norm_maps, conv2d_maps};
    let (flex, _) = devices();
    let ad = flex.autodiff();
    let conv = |cin: usize, k: usize, s: usize| -> Conv2d {
        Conv2dConfig::new([cin, out], [k, k]).with_stride([s, s]).with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2)).with_bias(false).init(&ad)
    };
    let (c1, c2, cs) = (conv(c, 3, 1), conv(out, 3, 2), conv(c, 1, 2));
    // Fresh norms per run: clones of a BatchNorm share its running state.
    let bn = || -> BatchNorm { BatchNormConfig::new(out).with_momentum(0.3).init(&ad) };
    let xv = values(batch * c * h * w, seed, 2.0);
    let what = format!("batch {batch}, [{c}, {h}, {w}] → {out}");
    let run = |maps: bool| {
        let (n1, n2, ns) = (bn(), bn(), bn());
        let x = tensor(xv.clone(), [batch, c, h, w], &ad).require_grad();
        let y = if maps {
            let m = FeatureMaps::new(x.clone(), true);
            assert!(m.is_channel_major(), "the maps must be channel-major on autodiff flex: {what}");
            let a = batch_norm_maps(&n1, conv2d_maps(&c1, m.clone())).map_elementwise(relu);
            let a = batch_norm_maps(&n2, conv2d_maps(&c2, a));
            let s = batch_norm_maps(&ns, conv2d_maps(&cs, m));
            let y = (a + s).map_elementwise(relu);
            assert!(y.is_channel_major());
            let dims = y.dims();
            let y = y.into_nchw();
            assert_eq!(y.dims(), dims);
            y
        } else {
            let a = relu(n1.forward(c1.forward(x.clone())));
            let a = n2.forward(c2.forward(a));
            relu(a + ns.forward(cs.forward(x.clone())))
        };
        let weights = tensor(values(y.dims().iter().product(), seed + 1, 1.0), y.dims(), &ad);
        let grads = (y.clone() * weights).sum().backward();
        let mut parts = vec![vec_of(y), vec_of(x.grad(&grads).unwrap())];
        for conv in [&c1, &c2, &cs] {
            parts.push(vec_of(conv.weight.grad(&grads).unwrap()));
        }
        for norm in [&n1, &n2, &ns] {
            parts.push(vec_of(norm.gamma.grad(&grads).unwrap()));
            parts.push(vec_of(norm.beta.grad(&grads).unwrap()));
            parts.push(vec_of(norm.running_mean.value_sync()));
            parts.push(vec_of(norm.running_var.value_sync()));
        }
        parts
    };
    let (ours, burns) = (run(true), run(false));
    assert_eq!(ours.len(), burns.len());
    for (k, (a, b)) in ours.iter().zip(&burns).enumerate() {
        assert_eq!(a.len(), b.len(), "part {k}: {what}");
        assert_close_scaled(a, b, 5e-5, &format!("part {k} (output, dx, 3 dW, then γ, β, mean, var of 3 norms): {what}"));
    }
}

#[test]
fn channel_major_maps_match_burns_ops_in_value_gradient_and_running_statistics() {
    maps_case(3, [4, 9, 7], 6, 80); // odd sizes
    maps_case(2, [8, 8, 8], 8, 81); // a square stage, 8 channels
    maps_case(42, [16, 32, 32], 8, 82); // image groups in the first conv, the last one partial
}

#[test]
fn maps_are_burns_layout_and_ops_where_the_kernels_do_not_run() {
    use burn::nn::BatchNormConfig;
    use burn::nn::conv::Conv2dConfig;
    use flatter_kernels::{FeatureMaps, batch_norm_maps, conv2d_maps};
    let (flex, nd) = devices();
    // ndarray: Burn's layout and Burn's ops, bit for bit.
    let x = tensor(values(2 * 3 * 6 * 6, 90, 1.0), [2, 3, 6, 6], &nd);
    let conv = Conv2dConfig::new([3, 4], [3, 3]).with_bias(false).init(&nd);
    let m = FeatureMaps::new(x.clone(), true);
    assert!(!m.is_channel_major(), "ndarray keeps Burn's layout");
    assert_eq!(bits(&conv2d_maps(&conv, m).into_nchw()), bits(&conv.forward(x.clone())));
    // Not allowed (a GroupNorm network): Burn's layout on flex too.
    let xf = tensor(values(2 * 3 * 6 * 6, 91, 1.0), [2, 3, 6, 6], &flex);
    assert!(!FeatureMaps::new(xf.clone(), false).is_channel_major());
    // A layer the GEMMs do not cover (a bias) on channel-major maps is the
    // layer's own forward, and the maps stay channel-major.
    let with_bias = Conv2dConfig::new([3, 4], [3, 3]).init(&flex);
    let m = conv2d_maps(&with_bias, FeatureMaps::new(xf.clone(), true));
    assert!(m.is_channel_major());
    assert_eq!(bits(&m.into_nchw()), bits(&with_bias.forward(xf.clone())));
    // Inference BatchNorm on channel-major maps: Burn's inference op on the
    // same per-channel values.
    let bn = BatchNormConfig::new(3).init(&flex);
    let ours = batch_norm_maps(&bn, FeatureMaps::new(xf.clone(), true)).into_nchw();
    assert_close_scaled(&vec_of(ours), &vec_of(bn.forward(xf)), 1e-6, "inference BatchNorm");
}
