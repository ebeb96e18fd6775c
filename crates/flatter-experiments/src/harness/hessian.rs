//! The trace of the loss Hessian by Hutchinson's estimator, for any Burn
//! module: tr H = E(vᵀHv) over Rademacher probes v (entries ±1), with each
//! Hessian-vector product taken as a central difference of two gradients,
//! Hv ≈ (∇L(w + εv) − ∇L(w − εv)) / 2ε. Burn 0.22 has no double backward,
//! and a central difference of gradients is exact for a quadratic loss and
//! O(ε²) off from it otherwise.
//!
//! The trace is the paper's measure of flatness (Sec. 1: label-noise SGD
//! drifts along the valley toward smaller tr H; App. D measures it for
//! matrix sensing). The `schedules` experiment reports it at the end of
//! every run; the tests below check it against the closed-form trace of
//! softmax regression.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng as _};

/// An estimate of tr H: the mean of the probes' vᵀHv and its standard error
/// over the probes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceEstimate {
    /// The mean of vᵀHv over the probes.
    pub mean: f64,
    /// Its standard error over the probes (sample standard deviation / √probes).
    pub stderr: f64,
    /// How many probes.
    pub probes: usize,
}

/// One Rademacher vector per float parameter, drawn in the module's visiting
/// order from a probe's own stream (replayed from its seed for each use).
fn rademacher(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect()
}

/// Moves every float parameter by `scale`·v, v the next Rademacher vector.
struct Perturb {
    rng: ChaCha8Rng,
    scale: f64,
}

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let scale = self.scale;
        let rng = &mut self.rng;
        param.map(|t| {
            let shape = t.shape();
            let v = Tensor::<D>::from_data(TensorData::new(rademacher(rng, shape.num_elements()), shape), &t.device());
            // A fresh leaf: the perturbed point is where the gradient is taken.
            t.add(v.mul_scalar(scale)).detach().require_grad()
        })
    }
}

/// Σ over parameters of vᵀ(g₊ − g₋), v replayed in the same order.
struct Contract<'a> {
    rng: ChaCha8Rng,
    plus: &'a GradientsParams,
    minus: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for Contract<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let n = param.val().shape().num_elements();
        let v = rademacher(&mut self.rng, n);
        let grad = |g: &GradientsParams| -> Vec<f32> {
            g.get::<D>(param.id)
                .map(|t| t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data"))
                .unwrap_or_else(|| vec![0.0; n])
        };
        let (p, m) = (grad(self.plus), grad(self.minus));
        self.sum += v.iter().zip(p.iter().zip(&m)).map(|(&v, (&p, &m))| f64::from(v) * (f64::from(p) - f64::from(m))).sum::<f64>();
    }
}

/// Hutchinson's estimate of tr ∇²L at `model`, from `probes` Rademacher
/// probes drawn from `rng` and central differences of step `eps` per
/// coordinate. `loss` is the scalar loss of a model (a mean over a fixed
/// set of samples, so that every evaluation sees the same function).
pub fn hutchinson_trace<M, F>(model: &M, loss: F, probes: usize, eps: f64, rng: &mut ChaCha8Rng) -> TraceEstimate
where
    M: Module,
    F: Fn(&M) -> Tensor<1>,
{
    assert!(probes >= 2 && eps > 0.0, "hutchinson_trace: probes >= 2 and eps > 0");
    let mut values = Vec::with_capacity(probes);
    for _ in 0..probes {
        // One probe's stream: the same v for w + εv, w − εv and the contraction.
        let probe: u64 = rng.random();
        let grads_at = |scale: f64| {
            let moved = model.clone().map(&mut Perturb { rng: ChaCha8Rng::seed_from_u64(probe), scale });
            let g = loss(&moved).backward();
            GradientsParams::from_grads(g, &moved)
        };
        let (plus, minus) = (grads_at(eps), grads_at(-eps));
        let mut contract = Contract { rng: ChaCha8Rng::seed_from_u64(probe), plus: &plus, minus: &minus, sum: 0.0 };
        model.visit(&mut contract);
        values.push(contract.sum / (2.0 * eps));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    TraceEstimate { mean, stderr: (var / n).sqrt(), probes }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Int, activation};
    use flatter_device::BackendKind;
    use flatter_optim::{RandomStream, Streams};

    use super::*;

    /// Softmax regression on fixed inputs: mean cross-entropy of `x W + b`.
    fn loss(model: &Linear, x: &Tensor<2>, y: &Tensor<1, Int>) -> Tensor<1> {
        let logp = activation::log_softmax(model.forward(x.clone()), 1);
        logp.gather(1, y.clone().unsqueeze_dim(1)).mean().neg().reshape([1])
    }

    /// The closed form: for L = (1/n)Σ_i CE(softmax(x_i W + b), y_i),
    /// ∇²L = (1/n)Σ_i (diag p_i − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ with x̃ = (x, 1), so
    /// tr ∇²L = (1/n)Σ_i (Σ_k p_ik(1 − p_ik))(‖x_i‖² + 1).
    fn exact_trace(model: &Linear, x: &Tensor<2>) -> f64 {
        let p: Vec<f32> = activation::softmax(model.forward(x.clone()), 1).into_data().try_to_vec().unwrap();
        let xs: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
        let [n, d] = x.dims();
        let k = p.len() / n;
        (0..n)
            .map(|i| {
                let curv: f64 = p[i * k..(i + 1) * k].iter().map(|&q| f64::from(q) * (1.0 - f64::from(q))).sum();
                let norm: f64 = xs[i * d..(i + 1) * d].iter().map(|&v| f64::from(v).powi(2)).sum();
                curv * (norm + 1.0)
            })
            .sum::<f64>()
            / n as f64
    }

    /// Hutchinson with central differences agrees with the closed form
    /// within 4 of its own standard errors, at two different points whose
    /// exact traces differ by far more than that (the negative control: an
    /// estimator that returned a constant, or the trace at the wrong point,
    /// fails one of the two).
    #[test]
    fn agrees_with_the_closed_form_trace_of_softmax_regression() {
        let device = BackendKind::Flex.autodiff_device().unwrap();
        device.seed(7);
        let (n, d, k) = (64, 12, 5);
        let mut rng = Streams::new(3).rng(RandomStream::Data);
        let xs: Vec<f32> = (0..n * d).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let ys: Vec<i64> = (0..n).map(|i| (i % k) as i64).collect();
        let x = Tensor::<2>::from_data(TensorData::new(xs, [n, d]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [n]), &device);
        let small = LinearConfig::new(d, k).init(&device);
        // A second point: weights ×6, confident predictions, a flatter loss.
        struct Times(f64);
        impl ModuleMapper for Times {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let s = self.0;
                p.map(|t| t.mul_scalar(s).detach().require_grad())
            }
        }
        let large = small.clone().map(&mut Times(6.0));
        let mut estimates = Vec::new();
        for model in [&small, &large] {
            let exact = exact_trace(model, &x);
            let mut probes = ChaCha8Rng::seed_from_u64(11);
            let est = hutchinson_trace(model, |m| loss(m, &x, &y), 200, 1e-2, &mut probes);
            assert!((est.mean - exact).abs() <= 4.0 * est.stderr + 1e-3 * exact, "estimate {est:?} against exact {exact}");
            assert!(est.stderr < 0.1 * exact, "{est:?}");
            estimates.push((exact, est));
        }
        let ((e0, a), (e1, b)) = (estimates[0], estimates[1]);
        assert!((e0 - e1).abs() > 10.0 * (a.stderr + b.stderr), "the two points must be told apart: {e0} vs {e1}");
        assert!((a.mean - b.mean).abs() > 10.0 * (a.stderr + b.stderr));
        // Deterministic in the probe stream.
        let again = hutchinson_trace(&small, |m| loss(m, &x, &y), 200, 1e-2, &mut ChaCha8Rng::seed_from_u64(11));
        assert_eq!(again, estimates[0].1);
    }
}
