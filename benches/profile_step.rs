//! One training step, repeated for a while, for a sampling profiler
//! (issue 14): `perf record -g target/release/deps/profile_step-* mlp 512 128 2 20`
//! trains the MLP 784-512×5-10 at batch 128 on 2 threads for 20 s on flex.
//! It prints the median rate so a profiled run can be checked against an
//! unprofiled one.
//!
//! Arguments: `mlp|resnet WIDTH BATCH THREADS SECONDS` (resnet: WIDTH is the
//! base width, 64 for ResNet-18, 8 for the cpu scale's 1/8). The threads are
//! a rayon pool of their own, where flex takes its intra-op threads (as the
//! experiments' job queue runs each job).

use std::time::Instant;

use flatter::device::BackendKind;
use flatter::experiments::gpu_check::measure::{Timing, mlp_rate, resnet_rate};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let usage = "usage: profile_step mlp|resnet WIDTH BATCH THREADS SECONDS";
    assert!(args.len() == 5, "{usage}");
    let n = |i: usize| -> usize { args[i].parse().unwrap_or_else(|_| panic!("{usage}: {:?} is not a number", args[i])) };
    let (width, batch, threads, seconds) = (n(1), n(2), n(3), n(4));
    let device = BackendKind::Flex.autodiff_device().expect("flex is compiled");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool");
    let rate = |block: usize| {
        pool.install(|| {
            let timing = Timing { warmup: 1, blocks: 3, block };
            match args[0].as_str() {
                "mlp" => mlp_rate(&device, width, batch, timing),
                "resnet" => resnet_rate(&device, width, batch, timing),
                other => panic!("{usage}: unknown workload {other:?}"),
            }
        })
    };
    // A short calibration, then enough steps for `seconds`.
    let start = Instant::now();
    let first = rate(1);
    let per_step = batch as f64 / first;
    let block = ((seconds as f64 / 3.0 / per_step).ceil() as usize).max(1);
    let median = rate(block);
    println!(
        "{} width {width} batch {batch} threads {threads}: {median:.1} samples/s (median of 3 blocks of {block} steps; {:.1} s in all)",
        args[0],
        start.elapsed().as_secs_f64()
    );
}
