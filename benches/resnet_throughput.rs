//! ResNet-18 (CIFAR variant, full width, BatchNorm) training throughput in
//! images/s: one step is forward, backward and a HeavyBall update on a batch
//! of 32×32×3 f32 images, on each compiled CPU backend, against PyTorch 2.x
//! with the same number of threads (`benches/resnet_throughput_torch.py`).
//!
//! `cargo bench -p flatter --bench resnet_throughput` (or `cargo xtask bench resnet`).
//! - `FLATTER_BENCH_REPS`: timed steps on flex (default 3, after 1 warm-up step);
//! - `FLATTER_BENCH_BATCH`: the batch (default 128);
//! - ndarray's convolutions are far slower (about 37× on one conv in
//!   `benches/backends.rs`), so it runs 1 timed step at batch 8 by default
//!   (`FLATTER_BENCH_NDARRAY_BATCH`); its images/s is still comparable.
//! - `FLATTER_TORCH_PYTHON`: the Python with torch (default
//!   `/work/venv-torch/bin/python`, then `python3`); without torch the
//!   PyTorch column prints a skip message.

use std::path::Path;

use burn::tensor::Device;
use flatter::device::BackendKind;
use flatter::experiments::gpu_check::measure::{Timing, resnet_rate, torch_rate};

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Median seconds per training step over `reps` steps after one warm-up step.
fn step_seconds(device: &Device, batch: usize, reps: usize) -> f64 {
    batch as f64 / resnet_rate(device, 64, batch, Timing { warmup: 1, blocks: reps, block: 1 })
}

fn torch(threads: usize, batch: usize, reps: usize) -> Result<f64, String> {
    let pythons = match std::env::var("FLATTER_TORCH_PYTHON") {
        Ok(p) => vec![p],
        Err(_) => vec!["/work/venv-torch/bin/python".to_string(), "python3".to_string()],
    };
    let args = [threads, batch, reps].map(|n| n.to_string());
    torch_rate(&pythons, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches")), "resnet_throughput_torch.py", &args, "images_per_second ")
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let batch = env_usize("FLATTER_BENCH_BATCH", 128);
    let reps = env_usize("FLATTER_BENCH_REPS", 3);
    let nd_batch = env_usize("FLATTER_BENCH_NDARRAY_BATCH", 8);
    println!("ResNet-18 (11.17 M parameters, BatchNorm) training step, 32×32×3 f32, {threads} threads");
    println!("{:<10} {:>6} {:>6} {:>12} {:>12}", "backend", "batch", "steps", "s/step", "images/s");
    let mut flex = None;
    for kind in BackendKind::compiled_cpu() {
        let (b, r) = if kind == BackendKind::NdArray { (nd_batch, 1) } else { (batch, reps) };
        let device = kind.autodiff_device().expect("a compiled CPU backend");
        let s = step_seconds(&device, b, r);
        let ips = b as f64 / s;
        if kind == BackendKind::Flex {
            flex = Some(ips);
        }
        println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}", kind.name(), b, r, s, ips);
    }
    match torch(threads, batch, reps) {
        Ok(ips) => {
            println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}", "pytorch", batch, reps, batch as f64 / ips, ips);
            if let Some(f) = flex {
                println!("flex / pytorch throughput ratio: {:.3} (1 = parity)", f / ips);
            }
        }
        Err(why) => println!("pytorch: skipped ({why}); install torch in /work/venv-torch or set FLATTER_TORCH_PYTHON"),
    }
}
