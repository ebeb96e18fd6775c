//! The stacked engine (`harness::stacked`, with the UV model of `uv::sweep`)
//! against single runs: the same run alone, the ordinary
//! `ModuleOptimizer` + `HeavyBall` path, and the plain-f64 reference simulation.

#![cfg(feature = "train")]

use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use flatter_device::BackendKind;
use flatter_experiments::harness::Activation;
use flatter_experiments::uv::model::Uv;
use flatter_optim::rng::{RandomStream, Streams};
use flatter_optim::{GaussianTargetNoise, HeavyBallConfig, MomentumRule};
use flatter_theory::sim::{UvInit, UvParams, simulate_uv_with};
use flatter_experiments::harness::stacked::{Row as SweepRow, Trace};
use flatter_experiments::uv::sweep::{UvProblem, run_stacked};

const ACTIVATIONS: [Activation; 3] = [Activation::Linear, Activation::Tanh, Activation::Relu];

fn problem(activation: Activation) -> UvProblem {
    let data = UvInit::draw(5, 10, 3);
    UvProblem { activation, x: data.x, u0: data.u, v0: data.v, eps: 0.1, check_every: 5 }
}

fn rows() -> Vec<SweepRow> {
    vec![
        SweepRow { lr: 0.05, beta: 0.9, steps: 200, log_every: 10, noise_seed: 1 },
        SweepRow { lr: 0.02, beta: 0.5, steps: 300, log_every: 5, noise_seed: 2 },
        SweepRow { lr: 0.1, beta: 0.0, steps: 100, log_every: 20, noise_seed: 1 },
        SweepRow { lr: 0.01, beta: 0.99, steps: 250, log_every: 5, noise_seed: 7 },
    ]
}

#[test]
fn a_stacked_run_equals_the_same_run_alone() {
    let device = BackendKind::DEFAULT.device().unwrap();
    for act in ACTIVATIONS {
        let p = problem(act);
        let all = run_stacked(&device, &p, &rows(), None);
        for (i, row) in rows().into_iter().enumerate() {
            let alone = run_stacked(&device, &p, &[row], None);
            assert_eq!(all[i], alone[0], "{act:?} row {i}");
            assert_eq!(all[i].steps.len() as u64, row.steps / row.log_every + 1);
            assert!(all[i].column(0).iter().all(|x| x.is_finite()));
        }
    }
}

/// One run through the ordinary path: the `Uv` module, `ModuleOptimizer` and
/// `HeavyBall` with a fixed β, the same label-noise stream.
fn module_run(p: &UvProblem, row: SweepRow) -> Trace {
    let device = BackendKind::DEFAULT.autodiff_device().unwrap();
    let vec1 = |xs: &[f64]| Tensor::<1>::from_data(TensorData::new(xs.iter().map(|&x| x as f32).collect::<Vec<_>>(), [xs.len()]), &device);
    let n = p.x.len();
    let x = vec1(&p.x).reshape([1, n]);
    let mut model = Uv::from_weights(vec1(&p.u0), vec1(&p.v0));
    let mut optim = HeavyBallConfig::new(MomentumRule::fixed(row.beta).unwrap()).init().unwrap();
    let noise = GaussianTargetNoise::new(p.eps).unwrap();
    let mut rng = Streams::new(row.noise_seed).rng(RandomStream::LabelNoise);
    let mut trace = Trace { steps: vec![0], values: vec![vec![model.norm2()]], diverged_at: None };
    for k in 1..=row.steps {
        let y = Tensor::<2>::from_data(TensorData::new(noise.sample(n, &mut rng), [1, n]), &device);
        let loss = (model.forward(x.clone(), p.activation) - y).powi_scalar(2).sum().div_scalar(2.0 * n as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(row.lr, model, grads);
        if k % row.log_every == 0 {
            trace.steps.push(k);
            trace.values.push(vec![model.norm2()]);
        }
    }
    trace
}

#[test]
fn a_stacked_run_matches_the_module_optimizer_path() {
    let device = BackendKind::DEFAULT.device().unwrap();
    for act in ACTIVATIONS {
        let p = problem(act);
        let stacked = run_stacked(&device, &p, &rows(), None);
        for (i, row) in rows().into_iter().enumerate() {
            let single = module_run(&p, row);
            assert_eq!(stacked[i].steps, single.steps);
            for (a, b) in stacked[i].column(0).iter().zip(&single.column(0)) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{act:?} row {i}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn the_linear_engine_matches_the_f64_reference_simulation() {
    // Same data, init and label noise (ε ξ drawn from the run's stream); the
    // reference integrates eq. (1) in f64 with hand-written gradients.
    let device = BackendKind::DEFAULT.device().unwrap();
    let p = problem(Activation::Linear);
    let init = UvInit { x: p.x.clone(), u: p.u0.clone(), v: p.v0.clone() };
    for row in rows() {
        let stacked = run_stacked(&device, &p, &[row], None);
        let noise = GaussianTargetNoise::new(p.eps).unwrap();
        let mut rng = Streams::new(row.noise_seed).rng(RandomStream::LabelNoise);
        let params = UvParams { d: 5, n: 10, eps: p.eps, lr: row.lr, beta: row.beta, steps: row.steps, log_every: row.log_every, seed: 0 };
        let reference = simulate_uv_with(&params, &init, |xi| {
            for (slot, draw) in xi.iter_mut().zip(noise.sample(10, &mut rng)) {
                *slot = f64::from(draw) / p.eps;
            }
        });
        assert_eq!(stacked[0].steps, reference.steps);
        for (a, b) in stacked[0].column(0).iter().zip(&reference.norm2) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1e-2), "lr {} beta {}: {a} vs {b}", row.lr, row.beta);
        }
    }
}

#[test]
fn rows_with_different_seeds_see_different_noise_and_equal_seeds_the_same() {
    let device = BackendKind::DEFAULT.device().unwrap();
    let p = problem(Activation::Linear);
    let base = SweepRow { lr: 0.05, beta: 0.5, steps: 100, log_every: 10, noise_seed: 1 };
    let traces = run_stacked(&device, &p, &[base, SweepRow { noise_seed: 2, ..base }, base], None);
    assert_eq!(traces[0], traces[2]);
    assert_ne!(traces[0], traces[1]);
}
