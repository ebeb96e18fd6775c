//! HeavyBall against references: the eq. (1) recursion on a quadratic, Burn's
//! own `Sgd` on an MLP, β(η) under a Burn LR scheduler, and record round trips.
//! The quadratic and SGD checks run on every compiled backend, wgpu included.
#![cfg(feature = "burn")] // the optimizer and the label noise need Burn

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, Optimizer, SgdConfig};
use burn::tensor::{DType, Device, Distribution, Tensor, TensorCreationOptions, TensorData};
use flatter_device::BackendKind;
use flatter_optim::{HeavyBall, HeavyBallConfig, HeavyBallState, MomentumRule};

fn optimizer(rule: MomentumRule) -> HeavyBall {
    HeavyBallConfig::new(rule).build().unwrap()
}

fn tensor(values: &[f64], device: &Device, dtype: DType) -> Tensor<1> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        TensorCreationOptions::new(device.clone()).with_dtype(dtype),
    )
}

fn to_f64(t: &Tensor<1>) -> Vec<f64> {
    t.to_data().convert::<f64>().try_into_vec().unwrap()
}

/// Eq. (1) on L = Σ λ_i w_i²/2 (gradient λ_i w_i), in the float type `T`, in
/// the optimizer's own operation order; returns the trajectory of w.
fn reference<T>(lr: f64, beta: f64, lambdas: &[f64], w0: &[f64], steps: usize) -> Vec<Vec<f64>>
where
    T: Copy + Into<f64> + FromF64,
    T: std::ops::Mul<Output = T> + std::ops::Sub<Output = T> + std::ops::Add<Output = T> + std::ops::Neg<Output = T>,
{
    let (lr, beta) = (T::from_f64(lr), T::from_f64(beta));
    let lambdas: Vec<T> = lambdas.iter().map(|&l| T::from_f64(l)).collect();
    let mut w: Vec<T> = w0.iter().map(|&x| T::from_f64(x)).collect();
    let mut momentum: Option<Vec<T>> = None;
    let mut out = Vec::new();
    for _ in 0..steps {
        let g: Vec<T> = w.iter().zip(&lambdas).map(|(&w, &l)| w * l).collect();
        let pi: Vec<T> = match momentum {
            None => g.iter().map(|&g| -g).collect(),
            Some(p) => p.iter().zip(&g).map(|(&p, &g)| p * beta - g).collect(),
        };
        w = w.iter().zip(&pi).map(|(&w, &p)| w + p * lr).collect();
        momentum = Some(pi);
        out.push(w.iter().map(|&x| x.into()).collect());
    }
    out
}

trait FromF64 {
    fn from_f64(x: f64) -> Self;
}
impl FromF64 for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
}
impl FromF64 for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

/// Runs HeavyBall on the quadratic with tensors of `dtype` and returns the trajectory.
fn run_quadratic(opt: &HeavyBall, lr: f64, lambdas: &[f64], w0: &[f64], steps: usize, device: &Device, dtype: DType) -> Vec<Vec<f64>> {
    let lambda = tensor(lambdas, device, dtype);
    let mut w = tensor(w0, device, dtype);
    let mut state: Option<HeavyBallState<1>> = None;
    let mut out = Vec::new();
    for _ in 0..steps {
        let grad = w.clone() * lambda.clone();
        let (next, next_state) = opt.step(lr, w, grad, state);
        w = next;
        state = next_state;
        out.push(to_f64(&w));
    }
    out
}

/// Largest |a − b| over the trajectory, relative to the trajectory's scale max |b|.
fn scaled_error(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let scale = b.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
}

const CASES: [(f64, f64); 5] = [(0.1, 0.0), (0.05, 0.5), (0.01, 0.9), (0.002, 0.99), (0.3, 0.7)];
const LAMBDAS: [f64; 3] = [1.0, 0.25, 3.0];
const W0: [f64; 3] = [1.0, -2.0, 0.5];

#[test]
fn quadratic_matches_the_recursion_of_eq_1_in_f32_on_every_backend() {
    for kind in BackendKind::compiled() {
        let device = kind.device().unwrap();
        for (lr, beta) in CASES {
            let opt = optimizer(MomentumRule::fixed(beta).unwrap());
            let got = run_quadratic(&opt, lr, &LAMBDAS, &W0, 100, &device, DType::F32);
            let want = reference::<f32>(lr, beta, &LAMBDAS, &W0, 100);
            let err = scaled_error(&got, &want);
            assert!(err < 1e-6, "{kind} lr {lr} beta {beta}: relative error {err:e}");
        }
    }
}

#[test]
fn quadratic_matches_the_exact_recursion_in_f64_on_cpu_backends() {
    for kind in BackendKind::compiled_cpu() {
        let device = kind.device().unwrap();
        for (lr, beta) in CASES {
            let opt = optimizer(MomentumRule::fixed(beta).unwrap());
            let got = run_quadratic(&opt, lr, &LAMBDAS, &W0, 100, &device, DType::F64);
            let want = reference::<f64>(lr, beta, &LAMBDAS, &W0, 100);
            let err = scaled_error(&got, &want);
            assert!(err < 1e-12, "{kind} lr {lr} beta {beta}: relative error {err:e}");
            // Pointwise relative error wherever w is not near a zero crossing.
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                if w.abs() > 1e-3 {
                    assert!(((g - w) / w).abs() < 1e-6, "{kind} lr {lr} beta {beta}: {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn quadratic_follows_the_closed_form_linear_map() {
    // [π; w]_{k+1} = M [π; w]_k with M = [[β, −λ], [ηβ, 1 − ηλ]] (eq. 8's Jacobian), exactly.
    let (lr, beta, lambda) = (0.05, 0.8, 2.0);
    let device = BackendKind::DEFAULT.device().unwrap();
    let got = run_quadratic(&optimizer(MomentumRule::fixed(beta).unwrap()), lr, &[lambda], &[1.0], 100, &device, DType::F64);
    let m = [[beta, -lambda], [lr * beta, 1.0 - lr * lambda]];
    let (mut pi, mut w) = (0.0f64, 1.0f64);
    for (k, got) in got.iter().enumerate() {
        (pi, w) = (m[0][0] * pi + m[0][1] * w, m[1][0] * pi + m[1][1] * w);
        assert!((got[0] - w).abs() <= 1e-12 * w.abs().max(1e-3), "step {k}: {} vs {w}", got[0]);
    }
}

#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
    activation: Relu,
}

impl Mlp {
    fn new(widths: &[usize], device: &Device) -> Self {
        let layers = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        Mlp { layers, activation: Relu::new() }
    }

    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }
}

fn mse_grads(model: &Mlp, x: &Tensor<2>, y: &Tensor<2>) -> GradientsParams {
    let loss = (model.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
    GradientsParams::from_grads(loss.backward(), model)
}

fn train(mut model: Mlp, optim: &mut ModuleOptimizer, lr: f64, steps: usize, x: &Tensor<2>, y: &Tensor<2>) -> Mlp {
    for _ in 0..steps {
        let grads = mse_grads(&model, x, y);
        model = optim.step(lr, model, grads);
    }
    model
}

fn flat_weights(model: &Mlp) -> Vec<f32> {
    model
        .layers
        .iter()
        .flat_map(|l| {
            let mut v = l.weight.val().to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
            if let Some(b) = &l.bias {
                v.extend(b.val().to_data().convert::<f32>().try_into_vec::<f32>().unwrap());
            }
            v
        })
        .collect()
}

fn mlp_setup(device: &Device) -> (Mlp, Tensor<2>, Tensor<2>) {
    device.seed(1234);
    let model = Mlp::new(&[6, 16, 16, 3], device);
    let x = Tensor::<2>::random([32, 6], Distribution::Normal(0.0, 1.0), device);
    let y = Tensor::<2>::random([32, 3], Distribution::Normal(0.0, 1.0), device);
    (model, x, y)
}

#[test]
fn mlp_matches_burn_sgd_with_undamped_momentum_on_every_backend() {
    for kind in BackendKind::compiled() {
        let device = kind.autodiff_device().unwrap();
        for beta in [0.0, 0.5, 0.9] {
            let (model, x, y) = mlp_setup(&device);
            let mut ours = optimizer(MomentumRule::fixed(beta).unwrap()).into();
            // Burn's SGD is eq. (1) only with dampening set to 0 (its default is 0.1).
            let momentum = MomentumConfig { momentum: beta, dampening: 0.0, nesterov: false };
            let mut theirs = SgdConfig::new().with_momentum(Some(momentum)).init();
            let a = flat_weights(&train(model.clone(), &mut ours, 0.05, 50, &x, &y));
            let b = flat_weights(&train(model.clone(), &mut theirs, 0.05, 50, &x, &y));
            let moved = flat_weights(&model).iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(moved > 1e-3, "{kind}: training should move the weights");
            let diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(diff <= 1e-6, "{kind} beta {beta}: max |ours - burn| = {diff:e}");
        }
    }
}

#[test]
fn default_dampening_would_not_match() {
    // Guards the pitfall the docs warn about: Burn's default dampening (0.1)
    // is a different optimizer, so the comparison above is meaningful.
    let device = BackendKind::DEFAULT.autodiff_device().unwrap();
    let (model, x, y) = mlp_setup(&device);
    let mut ours = optimizer(MomentumRule::fixed(0.9).unwrap()).into();
    let mut damped = SgdConfig::new().with_momentum(Some(MomentumConfig::new().with_momentum(0.9))).init();
    let a = flat_weights(&train(model.clone(), &mut ours, 0.05, 20, &x, &y));
    let b = flat_weights(&train(model, &mut damped, 0.05, 20, &x, &y));
    let diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(diff > 1e-4, "dampening 0.1 should change the trajectory, diff {diff:e}");
}

#[test]
fn beta_follows_the_learning_rate_of_a_burn_scheduler_step_by_step() {
    use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
    let device = BackendKind::DEFAULT.device().unwrap();
    let rule = MomentumRule::scaled(0.8).unwrap();
    let opt = optimizer(rule);
    let mut scheduler = CosineAnnealingLrSchedulerConfig::new(0.2, 40).with_min_lr(1e-3).init().unwrap();
    rule.validate_lr_range(1e-3, 0.2).unwrap();

    let lambdas = [1.0, 0.5, 2.0, 0.1];
    let lambda = tensor(&lambdas, &device, DType::F64);
    let mut w = tensor(&[1.0, -1.0, 0.5, 2.0], &device, DType::F64);
    let mut state: Option<HeavyBallState<1>> = None;
    let mut lrs = Vec::new();
    for k in 0..40 {
        let lr = scheduler.step().base();
        lrs.push(lr);
        let grad = w.clone() * lambda.clone();
        let prev = state.as_ref().map(|s| to_f64(&s.momentum));
        let (next, next_state) = opt.step(lr, w, grad.clone(), state);
        let pi = to_f64(&next_state.as_ref().unwrap().momentum);
        if let Some(prev) = prev {
            // π_{k+1} = β_k π_k − g_k, so β_k = (π_{k+1} + g_k)/π_k, per element.
            let g = to_f64(&grad);
            let expected = rule.beta(lr).unwrap();
            for i in 0..pi.len() {
                if prev[i].abs() > 1e-6 {
                    let used = (pi[i] + g[i]) / prev[i];
                    assert!((used - expected).abs() < 1e-9, "step {k}, lr {lr}: beta used {used}, beta(lr) {expected}");
                }
            }
        }
        w = next;
        state = next_state;
    }
    // The schedule really moved η, so β really changed.
    let (lo, hi) = lrs.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    assert!(hi / lo > 10.0, "schedule should span a decade: {lo}..{hi}");
}

#[test]
fn record_round_trip_mid_training_continues_bit_identically() {
    let dir = std::env::temp_dir().join(format!("flatter-optim-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("optim.bpk");
    for kind in BackendKind::compiled_cpu() {
        let device = kind.autodiff_device().unwrap();
        let (model, x, y) = mlp_setup(&device);
        let config = HeavyBallConfig::new(MomentumRule::scaled(0.5).unwrap());
        let mut straight = config.init().unwrap();
        let model = train(model, &mut straight, 0.02, 5, &x, &y);
        straight.save(&path).unwrap();
        let mut resumed = config.init().unwrap().load(&path).unwrap();
        let a = flat_weights(&train(model.clone(), &mut straight, 0.02, 10, &x, &y));
        let b = flat_weights(&train(model.clone(), &mut resumed, 0.02, 10, &x, &y));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "{kind}: resumed run diverged");
        // Without the record the momentum restarts at zero and the runs differ.
        let mut fresh = config.init().unwrap();
        let c = flat_weights(&train(model, &mut fresh, 0.02, 10, &x, &y));
        assert!(a != c, "{kind}: the record should carry momentum");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[should_panic(expected = "lr = 0 is out of range")]
fn an_invalid_lr_inside_step_panics_with_the_rule_error() {
    let device = BackendKind::DEFAULT.device().unwrap();
    let opt = optimizer(MomentumRule::scaled(1.0).unwrap());
    let w = tensor(&[1.0], &device, DType::F32);
    let _ = opt.step(0.0, w.clone(), w, None);
}
