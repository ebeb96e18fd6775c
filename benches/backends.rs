//! flex against ndarray on the shapes of our experiments: this benchmark is
//! what chooses the default CPU backend (`BackendKind::DEFAULT`).
//!
//! Each workload is one full training step (forward, backward, HeavyBall
//! update) on the autodiff device. Prints median milliseconds per step on
//! each compiled CPU backend and the ratio flex/ndarray (< 1 means flex is faster).
//!
//! `cargo bench -p flatter --bench backends` (or `cargo xtask bench backends`);
//! `FLATTER_BENCH_REPS` sets the number of timed steps.

use std::time::Instant;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Int, Tensor};
use flatter::device::BackendKind;
use flatter::optim::{ExpectedLoss, HeavyBallConfig, MomentumRule};

#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
    relu: Relu,
}

impl Mlp {
    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.relu.forward(x);
            }
        }
        x
    }
}

#[derive(Module, Debug)]
struct ConvStack {
    convs: Vec<Conv2d>,
    head: Linear,
    relu: Relu,
}

impl ConvStack {
    fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        for conv in &self.convs {
            x = self.relu.forward(conv.forward(x));
        }
        let pooled: Tensor<2> = x.mean_dim(3).mean_dim(2).flatten(1, 3);
        self.head.forward(pooled)
    }
}

fn optimizer() -> ModuleOptimizer {
    HeavyBallConfig::new(MomentumRule::scaled(0.5).unwrap()).init().unwrap()
}

fn labels(batch: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1>::random([batch], Distribution::Uniform(0.0, 9.999), device).int()
}

/// Times `reps` steps of `step` after 2 warm-up steps; returns the median in ms.
fn time(reps: usize, device: &Device, mut step: impl FnMut()) -> f64 {
    for _ in 0..2 {
        step();
    }
    let mut ms: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            step();
            device.sync().expect("sync");
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn mlp_step(device: &Device, reps: usize) -> f64 {
    // The Fashion-MNIST MLP: 6 linear layers, width 512, batch 128.
    let widths = [784, 512, 512, 512, 512, 512, 10];
    let model = Mlp {
        layers: widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect(),
        relu: Relu::new(),
    };
    let mut optim = optimizer();
    let x = Tensor::<2>::random([128, 784], Distribution::Normal(0.0, 1.0), device);
    let y = labels(128, device);
    let loss_fn = ExpectedLoss::hard(10).unwrap();
    // The model moves into the step, as in a training loop.
    let mut slot = Some(model);
    time(reps, device, || {
        let model = slot.take().expect("the step puts the model back");
        let loss = loss_fn.loss(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        slot = Some(optim.step(0.01, model, grads));
    })
}

fn conv_step(device: &Device, reps: usize) -> f64 {
    // ResNet-like 3x3 convolutions at CIFAR scale: 64 channels, 32x32, batch 16.
    let mut convs = vec![Conv2dConfig::new([3, 64], [3, 3]).with_padding(PaddingConfig2d::Same).with_bias(false).init(device)];
    convs.push(Conv2dConfig::new([64, 64], [3, 3]).with_padding(PaddingConfig2d::Same).with_bias(false).init(device));
    let model = ConvStack { convs, head: LinearConfig::new(64, 10).init(device), relu: Relu::new() };
    let mut optim = optimizer();
    let x = Tensor::<4>::random([16, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
    let y = labels(16, device);
    let loss_fn = ExpectedLoss::hard(10).unwrap();
    // The model moves into the step, as in a training loop.
    let mut slot = Some(model);
    time(reps, device, || {
        let model = slot.take().expect("the step puts the model back");
        let loss = loss_fn.loss(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        slot = Some(optim.step(0.01, model, grads));
    })
}

fn uv_step(device: &Device, reps: usize) -> f64 {
    // The UV sweep: R = 512 stacked runs of f(x) = (u.v) x with d = 5, n = 10, full batch.
    // Parameters and momenta live off the tape; each step re-enters autodiff.
    let (runs, d, n) = (512, 5, 10);
    let inner = |t: Tensor<2>| t.without_autodiff();
    let mut u = inner(Tensor::<2>::random([runs, d], Distribution::Normal(0.0, 1.0), device));
    let mut v = inner(Tensor::<2>::random([runs, d], Distribution::Normal(0.0, 1.0), device));
    let (mut pu, mut pv) = (u.zeros_like(), v.zeros_like());
    let x = inner(Tensor::<2>::random([1, n], Distribution::Normal(0.0, 1.0), device));
    let beta = inner(Tensor::<2>::full([runs, 1], 0.9, device));
    let lr = inner(Tensor::<2>::full([runs, 1], 0.01, device));
    time(reps, device, || {
        let y = inner(Tensor::<2>::random([runs, n], Distribution::Normal(0.0, 0.1), device));
        let (ua, va) = (u.clone().autodiff().require_grad(), v.clone().autodiff().require_grad());
        let uv = (ua.clone() * va.clone()).sum_dim(1);
        let loss = (uv * x.clone() - y).powi_scalar(2).sum().div_scalar(2.0 * n as f64);
        let grads = loss.backward();
        let (gu, gv) = (ua.grad(&grads).unwrap(), va.grad(&grads).unwrap());
        pu = pu.clone() * beta.clone() - gu;
        pv = pv.clone() * beta.clone() - gv;
        u = u.clone() + pu.clone() * lr.clone();
        v = v.clone() + pv.clone() * lr.clone();
    })
}

fn main() {
    let reps: usize = std::env::var("FLATTER_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let backends = BackendKind::compiled_cpu();
    println!("training step, median ms over {reps} steps, {threads} threads");
    type Workload = fn(&Device, usize) -> f64;
    let workloads: [(&str, Workload); 3] = [
        ("mlp 784-512x5-10, batch 128", mlp_step),
        ("conv 3x3 64ch 32x32, batch 16", conv_step),
        ("uv sweep, 512 runs", uv_step),
    ];
    print!("{:<32}", "workload");
    for kind in &backends {
        print!(" {:>10}", kind.name());
    }
    println!(" {:>14}", "flex/ndarray");
    for (name, workload) in workloads {
        print!("{name:<32}");
        let mut times = Vec::new();
        for kind in &backends {
            let device = kind.autodiff_device().unwrap();
            device.seed(0);
            let ms = workload(&device, reps);
            print!(" {ms:>10.2}");
            times.push((*kind, ms));
        }
        let get = |k| times.iter().find(|(kind, _)| *kind == k).map(|(_, ms)| *ms);
        match (get(BackendKind::Flex), get(BackendKind::NdArray)) {
            (Some(f), Some(n)) => println!(" {:>13.2}x", f / n),
            _ => println!(" {:>14}", "-"),
        }
    }
}
