//! Train a small MLP on a teacher's outputs with Gaussian label noise, using
//! heavy-ball SGD whose momentum follows a cosine LR schedule by 1 − β = C η^(2/3).
//!
//! `cargo run --release --example quickstart -- --help`

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Tanh};
use burn::optim::GradientsParams;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::tensor::{Device, Distribution, Tensor};
use clap::Parser;
use flatter::device::BackendKind;
use flatter::optim::rng::{RandomStream, Streams};
use flatter::optim::{GaussianTargetNoise, HeavyBallConfig, MomentumRule};

/// Heavy-ball SGD with scaled momentum and label noise on a teacher–student MLP.
#[derive(Parser, Debug)]
struct Args {
    /// Peak learning rate η (cosine-annealed to --min-lr).
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Final learning rate of the cosine schedule.
    #[arg(long, default_value_t = 0.005)]
    min_lr: f64,
    /// β at the peak learning rate; fixes C = (1 − β)/η^(2/3).
    #[arg(long, default_value_t = 0.9)]
    beta_at_peak: f64,
    /// Standard deviation ε of the Gaussian label noise.
    #[arg(long, default_value_t = 0.1)]
    noise: f64,
    /// Training steps (full batch).
    #[arg(long, default_value_t = 400)]
    steps: usize,
    /// Seed for weights, data and label noise (separate streams).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend: flex, ndarray or wgpu (default: FLATTER_BACKEND or the fastest compiled CPU backend).
    #[arg(long)]
    backend: Option<BackendKind>,
}

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
    act: Tanh,
}

impl Mlp {
    fn new(inputs: usize, width: usize, device: &Device) -> Self {
        Mlp { hidden: LinearConfig::new(inputs, width).init(device), out: LinearConfig::new(width, 1).init(device), act: Tanh::new() }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.act.forward(self.hidden.forward(x)))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let kind = match args.backend {
        Some(kind) => kind,
        None => BackendKind::from_env()?,
    };
    let device = kind.autodiff_device()?;
    let streams = Streams::new(args.seed);
    device.seed(streams.backend_seed());

    let rule = MomentumRule::scaled_through(args.lr, args.beta_at_peak, 2.0 / 3.0)?;
    rule.validate_lr_range(args.min_lr, args.lr)?;
    let noise = GaussianTargetNoise::new(args.noise)?;
    let mut optim = HeavyBallConfig::new(rule).init()?;
    let mut schedule = CosineAnnealingLrSchedulerConfig::new(args.lr, args.steps).with_min_lr(args.min_lr).init()?;

    let (n, inputs) = (64, 8);
    let x = Tensor::<2>::random([n, inputs], Distribution::Normal(0.0, 1.0), &device);
    let teacher = Mlp::new(inputs, 4, &device);
    let y = teacher.forward(x.clone()).detach();
    let mut model = Mlp::new(inputs, 32, &device);
    let mut noise_rng = streams.rng(RandomStream::LabelNoise);

    println!("backend {kind}, rule {rule:?}, label noise eps {}", args.noise);
    println!("{:>6} {:>9} {:>8} {:>10} {:>12}", "step", "lr", "beta", "eff. lr", "clean loss");
    for step in 0..args.steps {
        let lr = schedule.step().base();
        let noisy = noise.apply(y.clone(), &mut noise_rng);
        let loss = (model.forward(x.clone()) - noisy).powi_scalar(2).mean().div_scalar(2.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        if step % (args.steps / 10).max(1) == 0 || step + 1 == args.steps {
            let clean = (model.forward(x.clone()) - y.clone()).powi_scalar(2).mean().div_scalar(2.0);
            let beta = rule.beta(lr)?;
            println!("{step:>6} {lr:>9.5} {beta:>8.4} {:>10.4} {:>12.6}", rule.effective_lr(lr)?, clean.into_scalar::<f32>());
        }
    }
    Ok(())
}
