//! One optimizer step over a ResNet-18-sized parameter set: [`HeavyBall`]
//! against Burn's own `Sgd` with momentum (dampening 0, no Nesterov) on the
//! same backend and the same tensors. Prints medians and the ratio.
//!
//! `cargo bench -p flatter-optim --bench step` (or `cargo xtask bench optim`).
//! Set `FLATTER_BENCH_BACKENDS=flex,ndarray,wgpu` to choose backends and
//! `FLATTER_BENCH_REPS` for the number of timed steps.

use std::time::{Duration, Instant};

use burn::optim::momentum::MomentumConfig;
use burn::optim::{Optimizer, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};
use flatter_device::BackendKind;
use flatter_optim::{HeavyBallConfig, MomentumRule};

const LR: f64 = 0.05;
const BETA: f64 = 0.9;

/// The parameter shapes of kuangliu's CIFAR ResNet-18 (BatchNorm affine
/// parameters included, running statistics excluded): 11,173,962 floats.
fn resnet18_shapes() -> (Vec<[usize; 4]>, Vec<[usize; 2]>, Vec<[usize; 1]>) {
    let (mut convs, mut vectors) = (vec![[64, 3, 3, 3]], vec![[64], [64]]);
    let mut in_planes = 64;
    for (planes, stride) in [(64, 1), (128, 2), (256, 2), (512, 2)] {
        for block in 0..2 {
            let stride = if block == 0 { stride } else { 1 };
            convs.push([planes, in_planes, 3, 3]);
            convs.push([planes, planes, 3, 3]);
            vectors.extend([[planes]; 4]);
            if stride != 1 || in_planes != planes {
                convs.push([planes, in_planes, 1, 1]);
                vectors.extend([[planes]; 2]);
            }
            in_planes = planes;
        }
    }
    (convs, vec![[10, 512]], {
        vectors.push([10]);
        vectors
    })
}

struct Params<const D: usize, O: Optimizer> {
    items: Vec<(Tensor<D>, Tensor<D>, Option<O::State<D>>)>,
}

impl<const D: usize, O: Optimizer> Params<D, O> {
    fn new(shapes: &[[usize; D]], device: &Device) -> Self {
        let items = shapes
            .iter()
            .map(|&shape| {
                let w = Tensor::<D>::random(shape, Distribution::Normal(0.0, 0.05), device);
                let g = Tensor::<D>::random(shape, Distribution::Normal(0.0, 0.01), device);
                (w, g, None)
            })
            .collect();
        Params { items }
    }

    fn step(&mut self, optim: &O) {
        // The weights move into the step, as in a training loop, so an
        // optimizer may update them in place.
        self.items = std::mem::take(&mut self.items)
            .into_iter()
            .map(|(w, g, state)| {
                let (w, state) = optim.step(LR, w, g.clone(), state);
                (w, g, state)
            })
            .collect();
    }

    fn numel(&self) -> usize {
        self.items.iter().map(|(w, _, _)| w.shape().num_elements()).sum()
    }
}

struct Model<O: Optimizer> {
    optim: O,
    convs: Params<4, O>,
    mats: Params<2, O>,
    vecs: Params<1, O>,
}

impl<O: Optimizer> Model<O> {
    fn new(optim: O, device: &Device) -> Self {
        let (c, m, v) = resnet18_shapes();
        Model { optim, convs: Params::new(&c, device), mats: Params::new(&m, device), vecs: Params::new(&v, device) }
    }

    fn step(&mut self, device: &Device) -> Duration {
        let start = Instant::now();
        self.convs.step(&self.optim);
        self.mats.step(&self.optim);
        self.vecs.step(&self.optim);
        device.sync().expect("device sync");
        start.elapsed()
    }

    fn numel(&self) -> usize {
        self.convs.numel() + self.mats.numel() + self.vecs.numel()
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let reps: usize = std::env::var("FLATTER_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let backends: Vec<BackendKind> = match std::env::var("FLATTER_BENCH_BACKENDS") {
        Ok(list) => list.split(',').map(|s| s.parse().expect("FLATTER_BENCH_BACKENDS")).collect(),
        Err(_) => BackendKind::compiled_cpu(),
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("optimizer step, ResNet-18 parameter shapes, lr {LR}, beta {BETA}, {reps} timed steps, {threads} threads");
    println!("{:<8} {:>12} {:>14} {:>14} {:>8}", "backend", "params", "heavy_ball ms", "burn_sgd ms", "ratio");
    for kind in backends {
        let device = kind.device().unwrap_or_else(|e| panic!("{e}"));
        let ours = HeavyBallConfig::new(MomentumRule::fixed(BETA).unwrap()).build().unwrap();
        // Burn's SGD set to eq. (1): dampening 0 (its default is 0.1), no Nesterov, no decay.
        let momentum = MomentumConfig { momentum: BETA, dampening: 0.0, nesterov: false };
        let theirs = SgdConfig::new().with_momentum(Some(momentum)).build();
        let mut a = Model::new(ours, &device);
        let mut b = Model::new(theirs, &device);
        assert_eq!(a.numel(), 11_173_962, "ResNet-18 CIFAR parameter count");
        for _ in 0..3 {
            a.step(&device);
            b.step(&device);
        }
        // Interleave so that machine noise hits both sides alike.
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            ta.push(a.step(&device));
            tb.push(b.step(&device));
        }
        let (ma, mb) = (median(ta), median(tb));
        println!(
            "{:<8} {:>12} {:>14.2} {:>14.2} {:>7.2}x",
            kind.name(),
            a.numel(),
            ma.as_secs_f64() * 1e3,
            mb.as_secs_f64() * 1e3,
            ma.as_secs_f64() / mb.as_secs_f64()
        );
    }
    println!("ratio = heavy_ball / burn_sgd (median step time); target <= 1.0");
}
