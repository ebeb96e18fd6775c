//! MLP training throughput (samples/s) on each compiled CPU backend, against
//! the same model, batch and thread count in PyTorch on the same machine.
//!
//! The model is the experiment's own `flatter_experiments::mlp::model::Mlp` (6 linear
//! layers, ReLU after 1–4, tanh after 5) at two sizes: the `cpu` scale of
//! `experiments/mlp-fashion.toml` (widths 128, batch 50) and a paper-sized
//! one (widths 512, batch 128). One step is forward, cross-entropy, backward
//! and a HeavyBall update (β = 0.9); PyTorch runs `torch.optim.SGD` with
//! momentum 0.9 and dampening 0, the same update. Each side times `REPS`
//! blocks of `STEPS` steps after a warm-up and reports the median block.
//!
//! Threads: both Burn CPU backends run their matmuls on rayon's global pool
//! (and ndarray's matrixmultiply on its own threads), sized by
//! `RAYON_NUM_THREADS` / `MATMUL_NUM_THREADS`, else the number of cores;
//! the same number is passed to `torch.set_num_threads`. `cargo xtask bench
//! mlp` sets both variables to 2.
//!
//! PyTorch: the Python that `FLATTER_TORCH_PYTHON` names, else `python3`;
//! when it cannot `import torch`, the PyTorch column is skipped with a
//! message, so the benchmark never needs torch (CI has none).
//!
//! Stacking: the experiment trains each (η, β, seed) alone. The issue asks
//! for runs of several β to share one batched program where that is faster,
//! so the benchmark also times `STACK` runs of the cpu-scale shape as one
//! program (weights `[R, in, out]`, the minibatch shared, each run's own β in
//! the heavy-ball rows update of `flatter::optim::heavy_ball_rows`) and
//! prints its samples/s, summed over the runs, against one run at a time.
//!
//! `cargo bench -p flatter --bench mlp_throughput` (or `cargo xtask bench mlp`).

use std::path::Path;

use burn::tensor::activation::{log_softmax, relu, tanh};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use flatter::device::BackendKind;
use flatter::experiments::gpu_check::measure::{Timing, median_rate, mlp_gemm_rate, mlp_rate, torch_rate};
use flatter::optim::heavy_ball_rows;

const WARMUP: usize = 10;
const STEPS: usize = 20;
const REPS: usize = 7;
/// `REPS` blocks of `STEPS` steps after `WARMUP` steps, the median block kept.
const TIMING: Timing = Timing { warmup: WARMUP, blocks: REPS, block: STEPS };
/// Runs in the stacked program (the cpu scale has 5 β per η).
const STACK: usize = 5;

struct Case {
    name: &'static str,
    width: usize,
    batch: usize,
    /// Intra-op threads on both sides; None: `threads()` (2 under `cargo xtask bench`).
    threads: Option<usize>,
}

const CASES: [Case; 3] = [
    Case { name: "cpu scale", width: 128, batch: 50, threads: None },
    Case { name: "paper size", width: 512, batch: 128, threads: None },
    // How the experiments run it: one job per core, one intra-op thread each (issue 14).
    Case { name: "cpu scale, 1 thread", width: 128, batch: 50, threads: Some(1) },
];

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Median samples/s of one training step of `case` on `device`.
fn burn_throughput(case: &Case, device: &Device) -> f64 {
    mlp_rate(device, case.width, case.batch, TIMING)
}

/// Median samples/s, summed over `runs`, of `runs` MLPs of `case` trained as
/// one stacked program: per layer a weight `[R, in, out]` and a bias
/// `[R, 1, out]` (uniform ±1/√in, like Burn's `Linear`), the minibatch shared
/// by every run, cross-entropy summed over runs (so each run's gradient is its
/// own), and the heavy-ball rows update with β from 0.5 to 0.9 across runs.
fn stacked_throughput(case: &Case, runs: usize, device: &Device) -> f64 {
    let plain = device.clone().without_autodiff();
    plain.seed(0);
    let dims = [784, case.width, case.width, case.width, case.width, case.width, 10];
    let mut params: Vec<Tensor<3>> = Vec::new();
    for l in 0..6 {
        let bound = 1.0 / (dims[l] as f64).sqrt();
        params.push(Tensor::<3>::random([runs, dims[l], dims[l + 1]], Distribution::Uniform(-bound, bound), &plain));
        params.push(Tensor::<3>::random([runs, 1, dims[l + 1]], Distribution::Uniform(-bound, bound), &plain));
    }
    let mut momenta: Vec<Option<Tensor<3>>> = vec![None; params.len()];
    let betas: Vec<f32> = (0..runs).map(|r| 0.5 + 0.4 * r as f32 / runs.max(2).saturating_sub(1) as f32).collect();
    let beta = Tensor::<3>::from_data(TensorData::new(betas, [runs, 1, 1]), &plain);
    let lr = Tensor::<3>::full([runs, 1, 1], 0.01, &plain);
    let x = Tensor::<2>::random([case.batch, 784], Distribution::Normal(0.0, 1.0), &plain).unsqueeze::<3>().repeat_dim(0, runs);
    let labels: Vec<usize> = (0..case.batch).map(|i| (i * 7) % 10).collect();
    let onehot: Vec<f32> = labels.iter().flat_map(|&c| (0..10).map(move |k| if k == c { 1.0 } else { 0.0 })).collect();
    let onehot = Tensor::<3>::from_data(TensorData::new(onehot, [1, case.batch, 10]), &plain);
    median_rate(&plain, case.batch * runs, TIMING, || {
        let tracked: Vec<Tensor<3>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let mut h = x.clone().autodiff();
        for l in 0..6 {
            h = h.matmul(tracked[2 * l].clone()) + tracked[2 * l + 1].clone();
            h = match l {
                0..=3 => relu(h),
                4 => tanh(h),
                _ => h,
            };
        }
        let loss = log_softmax(h, 2).mul(onehot.clone().autodiff()).sum().neg().div_scalar(case.batch as f64);
        let grads = loss.backward();
        let mut next = Vec::with_capacity(params.len());
        for ((param, tracked), momentum) in params.iter().zip(&tracked).zip(momenta.iter_mut()) {
            let grad = tracked.grad(&grads).expect("every parameter gets a gradient");
            let (p, m) = heavy_ball_rows(param.clone(), grad, momentum.take(), beta.clone(), lr.clone());
            *momentum = Some(m);
            next.push(p);
        }
        params = next;
    })
}

/// PyTorch's median samples/s (of whole steps, or of the step's GEMMs alone),
/// or why it was skipped.
fn torch_throughput(case: &Case, threads: usize, gemms_only: bool) -> Result<f64, String> {
    let python = std::env::var("FLATTER_TORCH_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut args = [
        ("--width", case.width),
        ("--batch", case.batch),
        ("--threads", threads),
        ("--warmup", WARMUP),
        ("--steps", STEPS),
        ("--reps", REPS),
    ]
    .iter()
    .flat_map(|(flag, n)| [flag.to_string(), n.to_string()])
    .collect::<Vec<_>>();
    if gemms_only {
        args.push("--gemms-only".to_string());
    }
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    torch_rate(&[python], &scripts, "mlp_throughput_torch.py", &args, "samples_per_s ")
        .map_err(|e| format!("{e}; set FLATTER_TORCH_PYTHON to a python with torch"))
}

/// The step's 17 GEMMs alone, both sides, and the ceiling they set: flex's
/// GEMM-only rate against PyTorch's whole step is the ratio our step would
/// reach if everything but the GEMMs took no time (issue 14).
fn gemm_rows(
    case: &Case,
    threads: usize,
    device: &Device,
    pool: &rayon::ThreadPool,
    torch_step: Option<f64>,
    record: &mut flatter::experiments::bench_record::BenchRecord,
) {
    let workload = format!("MLP 784-{}x5-10, batch {}, the step's 17 GEMMs alone", case.width, case.batch);
    let torch = torch_throughput(case, threads, true);
    let ours = pool.install(|| mlp_gemm_rate(device, case.width, case.batch, TIMING));
    let torch_gemms = torch.as_ref().ok().copied();
    record.row(&workload, threads, "pytorch", torch_gemms, "samples/s", ("pytorch, same threads", torch_gemms), torch.as_ref().err().map_or("", |s| s.as_str()));
    record.row(&workload, threads, "flex", Some(ours), "samples/s", ("pytorch, same threads", torch_gemms), "");
    match (torch_gemms, torch_step) {
        (Some(g), Some(step)) => {
            println!("  {:<8} {:>12.0} samples/s   the step's GEMMs alone: {:.2}x PyTorch's GEMMs", "flex", ours, ours / g);
            println!("  {:<8} {:>12.0} samples/s   the same GEMMs in PyTorch", "pytorch", g);
            println!("  ceiling: with everything but its GEMMs free, our step would run at {:.2}x PyTorch's step", ours / step);
            record.row(
                &format!("MLP 784-{}x5-10, batch {}, ceiling: our GEMMs alone vs PyTorch's whole step", case.width, case.batch),
                threads,
                "flex",
                Some(ours),
                "samples/s",
                ("pytorch's whole step, same threads", Some(step)),
                "",
            );
        }
        _ => println!("  {:<8} {:>12.0} samples/s   the step's GEMMs alone", "flex", ours),
    }
}

fn main() {
    let all = threads();
    let mut record = flatter::experiments::bench_record::BenchRecord::start(
        "mlp_throughput",
        "FLATTER_TORCH_PYTHON=<python with torch> cargo xtask bench mlp",
        &format!("samples/s, median of {REPS} blocks of {STEPS} training steps after {WARMUP} warm-up steps; both sides in this run, same threads"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    println!("MLP training throughput: 784 -> 5 hidden -> 10, ReLU x4 + tanh, one step = forward + CE + backward + momentum update");
    println!("threads: {all} unless a case says 1 (RAYON_NUM_THREADS, or a rayon pool of 1; torch.set_num_threads); median of {REPS} blocks of {STEPS} steps after {WARMUP} warm-up steps\n");
    for case in &CASES {
        let threads = case.threads.unwrap_or(all);
        let workload = format!("MLP 784-{}x5-10, batch {}", case.width, case.batch);
        println!("{} (widths {}, batch {}, {threads} threads):", case.name, case.width, case.batch);
        let torch = torch_throughput(case, threads, false);
        let baseline = ("pytorch, same threads", torch.as_ref().ok().copied());
        match &torch {
            Ok(t) => println!("  {:<8} {:>12.0} samples/s", "pytorch", t),
            Err(why) => println!("  pytorch  skipped: {why}"),
        }
        record.row(&workload, threads, "pytorch", torch.as_ref().ok().copied(), "samples/s", baseline, torch.as_ref().err().map_or("", |s| s.as_str()));
        // A pool of the case's threads is where flex takes its intra-op threads;
        // ndarray's matmul threads are process-wide, so 1-thread cases are flex only.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool");
        for kind in BackendKind::compiled_cpu().into_iter().filter(|&k| case.threads.is_none() || k == BackendKind::Flex) {
            let device = kind.autodiff_device().expect("compiled CPU backend");
            let rate = pool.install(|| burn_throughput(case, &device));
            match &torch {
                Ok(t) => println!("  {:<8} {:>12.0} samples/s   {:.2}x PyTorch", kind.name(), rate, rate / t),
                Err(_) => println!("  {:<8} {:>12.0} samples/s", kind.name(), rate),
            }
            record.row(&workload, threads, kind.name(), Some(rate), "samples/s", baseline, "");
            if kind == BackendKind::Flex {
                gemm_rows(case, threads, &device, &pool, torch.as_ref().ok().copied(), &mut record);
            }
            if case.width == CASES[0].width && case.threads.is_none() {
                let stacked = pool.install(|| stacked_throughput(case, STACK, &device));
                println!(
                    "  {:<8} {:>12.0} samples/s   {STACK} runs stacked in one program: {:.2}x one run at a time",
                    kind.name(),
                    stacked,
                    stacked / rate
                );
                record.row(&format!("{workload}, {STACK} runs stacked"), threads, kind.name(), Some(stacked), "samples/s", ("the same backend, one run at a time", Some(rate)), "");
            }
        }
        println!();
    }
    if let Some(path) = record.finish().expect("writing the bench record") {
        println!("record: {}", path.display());
    }
}
