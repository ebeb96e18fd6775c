//! C3's measurement: the Jacobian of one real `flatter_optim::HeavyBall`
//! step on L = λw²/2, by central finite differences of (π, w) → (π', w'),
//! on the invocation's backend; and the γ at which its eigenvalues turn
//! complex, by bisection.
//!
//! The gradient is Burn's autodiff of the loss and the update is
//! `HeavyBall`'s `Optimizer::step` with the state π set to the perturbed
//! value, so the map differentiated is eq. (1) exactly as training runs it
//! (π ← βπ − ∇L, w ← w + ηπ, β from the rule at this η, no dampening).
//! The map is linear, so central differences are exact up to rounding;
//! tensors are f64 on CPU backends and f32 on wgpu (which may lack f64).

use std::fmt::Write as _;
use std::time::Instant;

use burn::optim::Optimizer;
use burn::tensor::{DType, Device, Tensor, TensorCreationOptions, TensorData};
use flatter_optim::{HeavyBall, HeavyBallConfig, HeavyBallState, MomentumRule};
use flatter_theory::exponents::eigenvalues_2x2;

use super::{FdPoint, FdRun, TheoryExp, TheoryRunSummary};
use crate::harness::TrainCtx;
use crate::harness::plan::{Job, write_run};

/// The tensors' float type on a backend: f64 where the CPU backends have it.
pub fn dtype_for(backend: flatter_device::BackendKind) -> DType {
    if backend.is_cpu() { DType::F64 } else { DType::F32 }
}

fn scalar(x: f64, device: &Device, dtype: DType) -> Tensor<1> {
    Tensor::from_data(TensorData::new(vec![x], [1]), TensorCreationOptions::new(device.clone()).with_dtype(dtype))
}

fn value(t: Tensor<1>) -> f64 {
    t.into_data().convert::<f64>().try_into_vec::<f64>().expect("a float tensor")[0]
}

/// One real HeavyBall step on L = λw²/2 from the state (π, w): the gradient
/// by autodiff, the update by `Optimizer::step`. Returns (π', w').
pub fn heavy_ball_step(opt: &HeavyBall, lr: f64, lambda: f64, state: [f64; 2], device: &Device, dtype: DType) -> [f64; 2] {
    let [pi, w] = state;
    let weights = scalar(w, device, dtype);
    let tracked = weights.clone().autodiff().require_grad();
    let loss = tracked.clone().powi_scalar(2).sum().mul_scalar(0.5 * lambda);
    let grads = loss.backward();
    let grad = tracked.grad(&grads).expect("w gets a gradient");
    let momentum = HeavyBallState { momentum: scalar(pi, device, dtype) };
    let (next, next_state) = opt.step(lr, weights, grad, Some(momentum));
    [value(next_state.expect("HeavyBall keeps its state").momentum), value(next)]
}

/// ∂(π', w')/∂(π, w) of one step, by central differences around `base`.
pub fn fd_jacobian(opt: &HeavyBall, lr: f64, lambda: f64, base: [f64; 2], h: f64, device: &Device, dtype: DType) -> [[f64; 2]; 2] {
    let mut jac = [[0.0; 2]; 2];
    for j in 0..2 {
        let (mut plus, mut minus) = (base, base);
        plus[j] += h;
        minus[j] -= h;
        let (fp, fm) = (heavy_ball_step(opt, lr, lambda, plus, device, dtype), heavy_ball_step(opt, lr, lambda, minus, device, dtype));
        for i in 0..2 {
            jac[i][j] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    jac
}

fn optimizer(c: f64, gamma: f64) -> anyhow::Result<HeavyBall> {
    Ok(HeavyBallConfig::new(MomentumRule::scaled_with_gamma(c, gamma)?).build()?)
}

/// One run: every (γ, λ) Jacobian, then the boundary bisection.
pub fn run_fd(run: &FdRun, device: &Device, dtype: DType) -> anyhow::Result<TheoryRunSummary> {
    let start = Instant::now();
    let mut points = Vec::new();
    for &gamma in &run.gammas {
        let opt = optimizer(run.c, gamma)?;
        let beta = opt.beta(run.lr)?;
        for &lambda in &run.lambdas {
            points.push(FdPoint { gamma, lambda, beta, jacobian: fd_jacobian(&opt, run.lr, lambda, run.base, run.h, device, dtype) });
        }
    }
    // Complex at γ? From the finite-difference Jacobian's own eigenvalues.
    let mut steps = 0;
    let mut complex = |gamma: f64| -> anyhow::Result<bool> {
        steps += 4;
        let jac = fd_jacobian(&optimizer(run.c, gamma)?, run.lr, run.boundary_lambda, run.base, run.h, device, dtype);
        Ok(eigenvalues_2x2(jac).0.im != 0.0)
    };
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    let (boundary_gamma, boundary_error) = if complex(lo)? || !complex(hi)? {
        (None, Some(format!("not real at γ = 0 and complex at γ = 1 (η = {}, λ = {})", run.lr, run.boundary_lambda)))
    } else {
        while hi - lo > run.bisection_tol {
            let mid = 0.5 * (lo + hi);
            if complex(mid)? { hi = mid } else { lo = mid }
        }
        (Some(0.5 * (lo + hi)), None)
    };
    Ok(TheoryRunSummary {
        run: run.clone(),
        dtype: if dtype == DType::F64 { "f64".into() } else { "f32".into() },
        points,
        boundary_gamma,
        boundary_error,
        boundary_steps: steps,
        train_seconds: start.elapsed().as_secs_f64(),
    })
}

fn metrics_csv(s: &TheoryRunSummary) -> String {
    let mut csv = String::from("gamma,lambda,beta,j_pi_pi,j_pi_w,j_w_pi,j_w_w\n");
    for p in &s.points {
        let [[a, b], [c, d]] = p.jacobian;
        writeln!(csv, "{},{},{:e},{a:e},{b:e},{c:e},{d:e}", p.gamma, p.lambda, p.beta).expect("writing to a String");
    }
    csv
}

/// Runs one job's runs (the job is every η), one at a time.
pub fn train(ctx: &TrainCtx<'_, TheoryExp>, device: &Device, job: &Job) -> anyhow::Result<()> {
    let dtype = dtype_for(ctx.backend);
    let runs = ctx.scale.runs();
    for id in &job.runs {
        let run = runs.iter().find(|r| &r.id == id).expect("the job's runs come from the same table");
        let summary = run_fd(run, device, dtype)?;
        write_run(ctx.out, &run.id, run, &metrics_csv(&summary), &summary)?;
    }
    Ok(())
}
