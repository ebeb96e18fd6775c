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
fn step_seconds(device: &Device, base_width: usize, batch: usize, reps: usize) -> f64 {
    batch as f64 / resnet_rate(device, base_width, batch, Timing { warmup: 1, blocks: reps, block: 1 })
}

fn torch(threads: usize, batch: usize, reps: usize, base_width: usize) -> Result<f64, String> {
    let pythons = match std::env::var("FLATTER_TORCH_PYTHON") {
        Ok(p) => vec![p],
        Err(_) => vec!["/work/venv-torch/bin/python".to_string(), "python3".to_string()],
    };
    let args = [threads.to_string(), batch.to_string(), reps.to_string(), "cpu".into(), base_width.to_string()];
    torch_rate(&pythons, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches")), "resnet_throughput_torch.py", &args, "images_per_second ")
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let batch = env_usize("FLATTER_BENCH_BATCH", 128);
    let reps = env_usize("FLATTER_BENCH_REPS", 3);
    let nd_batch = env_usize("FLATTER_BENCH_NDARRAY_BATCH", 8);
    let mut record = flatter::experiments::bench_record::BenchRecord::start(
        "resnet_throughput",
        "FLATTER_TORCH_PYTHON=<python with torch> cargo xtask bench resnet",
        "images/s: the median of REPS timed training steps after 1 warm-up step (REPS = FLATTER_BENCH_REPS, 3 by default; 7 for the width-1/8 row); both sides in this run, same threads",
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    println!("ResNet-18 (11.17 M parameters, BatchNorm) training step, 32×32×3 f32, {threads} threads");
    println!("{:<10} {:>6} {:>6} {:>12} {:>12}", "backend", "batch", "steps", "s/step", "images/s");
    let workload = format!("ResNet-18 full width, batch {batch}");
    let torch_full = torch(threads, batch, reps, 64);
    let baseline = ("pytorch, same threads", torch_full.as_ref().ok().copied());
    let mut flex = None;
    for kind in BackendKind::compiled_cpu() {
        let (b, r) = if kind == BackendKind::NdArray { (nd_batch, 1) } else { (batch, reps) };
        let device = kind.autodiff_device().expect("a compiled CPU backend");
        let s = step_seconds(&device, 64, b, r);
        let ips = b as f64 / s;
        if kind == BackendKind::Flex {
            flex = Some(ips);
        }
        println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}", kind.name(), b, r, s, ips);
        let note = if b == batch { String::new() } else { format!("batch {b}, {r} step") };
        record.row(&workload, threads, kind.name(), Some(ips), "images/s", baseline, &note);
    }
    match &torch_full {
        Ok(ips) => {
            println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}", "pytorch", batch, reps, batch as f64 / ips, ips);
            if let Some(f) = flex {
                println!("flex / pytorch throughput ratio: {:.3} (1 = parity)", f / ips);
            }
        }
        Err(why) => println!("pytorch: skipped ({why}); install torch in /work/venv-torch or set FLATTER_TORCH_PYTHON"),
    }
    record.row(&workload, threads, "pytorch", torch_full.as_ref().ok().copied(), "images/s", baseline, torch_full.as_ref().err().map_or("", |s| s.as_str()));

    // The shape the cpu-scale experiment trains: width 1/8 (base 8), batch 50,
    // one intra-op thread per job (issue 14).
    let (small_batch, small_reps) = (50, 7);
    let workload = format!("ResNet-18 width 1/8, batch {small_batch}");
    let torch_small = torch(1, small_batch, small_reps, 8);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a rayon pool");
    let device = BackendKind::Flex.autodiff_device().expect("flex is compiled");
    let ips = small_batch as f64 / pool.install(|| step_seconds(&device, 8, small_batch, small_reps));
    println!("\nwidth 1/8 (base 8, 176,258 parameters), batch {small_batch}, 1 thread:");
    println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}", "flex", small_batch, small_reps, small_batch as f64 / ips, ips);
    let baseline = ("pytorch, same threads", torch_small.as_ref().ok().copied());
    match &torch_small {
        Ok(t) => println!("{:<10} {:>6} {:>6} {:>12.3} {:>12.1}\nflex / pytorch throughput ratio: {:.3}", "pytorch", small_batch, small_reps, small_batch as f64 / t, t, ips / t),
        Err(why) => println!("pytorch: skipped ({why})"),
    }
    record.row(&workload, 1, "flex", Some(ips), "images/s", baseline, "");
    record.row(&workload, 1, "pytorch", torch_small.as_ref().ok().copied(), "images/s", baseline, torch_small.as_ref().err().map_or("", |s| s.as_str()));
    if let Some(path) = record.finish().expect("writing the bench record") {
        println!("record: {}", path.display());
    }
}
