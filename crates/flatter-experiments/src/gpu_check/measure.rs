//! The measuring half of the GPU check (issue 15): correctness against flex,
//! training throughput against PyTorch, and a paper-scale slice of the
//! ResNet protocol. `flatter-experiment gpu-check` drives [`run`]; the
//! benchmarks `benches/resnet_throughput.rs` and `benches/mlp_throughput.rs`
//! time their Burn side with [`resnet_rate`] and [`mlp_rate`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Distribution, Int, Tensor, TensorData};
use flatter_data::ImageDataset;
use flatter_device::BackendKind;
use flatter_optim::{ExpectedLoss, HeavyBallConfig, LabelFlip, MomentumRule};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng as _};

use super::{GpuCheck, Machine, RECORD_FILE, Rate, Reference, STEPS, Slice, TOLERANCE, Trace, VERSION, compare, estimate, utc_now};
use crate::harness::images::{ImageBatcher, label_tensor};
use crate::mlp::model::{Mlp, MlpConfig};
use crate::resnet::model::{ResNet, ResNetConfig};
use crate::resnet::train::{accuracy, phase2_step};

/// The learning rate of the correctness steps; β follows from the rule with
/// C = 1 (1 − β = 0.05^(2/3) ≈ 0.136), so the check exercises the rule's
/// per-step β as the experiments do.
const CHECK_LR: f64 = 0.05;

/// The sizes of one check: the GPU's, or the dry run's tiny ones.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// MLP hidden width and batch of the correctness steps.
    pub mlp_check: (usize, usize),
    /// ResNet-18 base width and batch of the correctness steps.
    pub resnet_check: (usize, usize),
    /// ResNet-18 base width of the throughput rows.
    pub resnet_width: usize,
    /// ResNet-18 batches of the throughput rows.
    pub resnet_batches: Vec<usize>,
    /// MLP (width, batch) of the throughput rows.
    pub mlp_cases: Vec<(usize, usize)>,
    /// How the throughput rows are timed (blocks of one step each).
    pub timing: Timing,
    /// The slice: base width, batch, evaluation chunk, seconds of phase-2 steps.
    pub slice: (usize, usize, usize, f64),
}

impl Sizes {
    /// The GPU check: full-width ResNet-18 at batch 128 and 512, the paper's
    /// MLP widths, and a 2-minute full-width slice at batch 512 (the paper's
    /// phase-2 batch) with evaluation chunks of 1000 (its `chunk_size`).
    pub fn gpu(slice_seconds: f64) -> Sizes {
        Sizes {
            mlp_check: (64, 32),
            resnet_check: (8, 16),
            resnet_width: 64,
            resnet_batches: vec![128, 512],
            mlp_cases: vec![(512, 128), (512, 1024)],
            timing: Timing { warmup: 5, blocks: 20, block: 1 },
            slice: (64, 512, 1000, slice_seconds),
        }
    }

    /// The dry run: the same correctness check (so a CPU backend is
    /// compared with flex on exactly what a GPU will be), everything else
    /// tiny, for CI.
    pub fn dry_run() -> Sizes {
        Sizes {
            mlp_check: (64, 32),
            resnet_check: (8, 16),
            resnet_width: 2,
            resnet_batches: vec![4, 8],
            mlp_cases: vec![(32, 16)],
            timing: Timing { warmup: 1, blocks: 2, block: 1 },
            slice: (2, 8, 16, 0.5),
        }
    }
}

/// What to run and where the record goes.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The backends to check against flex (each must be compiled in).
    pub backends: Vec<BackendKind>,
    /// The flex reference computed elsewhere; `None` computes it here first.
    pub reference: Option<PathBuf>,
    /// The directory `gpu-check.json` is written to.
    pub out: PathBuf,
    /// Tiny sizes on the CPU (a test of the check).
    pub dry_run: bool,
    /// Seconds of phase-2 steps in the slice (ignored by a dry run).
    pub slice_seconds: f64,
    /// Seconds the whole check may take: stages that would start later are
    /// skipped (and recorded), and the slices share what is left.
    pub budget_seconds: Option<f64>,
    /// The Pythons to try for PyTorch, in order.
    pub pythons: Vec<String>,
    /// The directory with the PyTorch scripts (the repository's `benches/`).
    pub scripts: PathBuf,
    /// The experiment file whose `[paper]` table the estimate prices.
    pub resnet_config: PathBuf,
    /// The seed of weights, inputs and labels of the correctness check.
    pub seed: u64,
    /// The command line, for the record.
    pub command: String,
}

/// Collects every float parameter, flattened, in visiting order.
struct Params(Vec<Vec<f32>>);

impl ModuleVisitor for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.0.push(data.try_to_vec::<f32>().expect("a float tensor converted to f32"));
    }
}

/// Collects the gradient of every float parameter that has one, flattened, in visiting order.
struct Grads<'a>(&'a GradientsParams, Vec<Vec<f32>>);

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.0.get::<D>(param.id) {
            self.1.push(g.into_data().convert::<f32>().try_to_vec::<f32>().expect("a float tensor converted to f32"));
        }
    }
}

/// Every float parameter of `model`, flattened, in Burn's visiting order.
pub fn parameters<M: Module>(model: &M) -> Vec<Vec<f32>> {
    let mut v = Params(Vec::new());
    model.visit(&mut v);
    v.0
}

/// The gradient in `grads` of every float parameter of `model` that has
/// one, flattened, in the order of [`parameters`].
pub fn gradients<M: Module>(model: &M, grads: &GradientsParams) -> Vec<Vec<f32>> {
    let mut v = Grads(grads, Vec::new());
    model.visit(&mut v);
    v.1
}

/// The model `init` builds on flex from `seed`, moved to `device` through
/// its serialised record (so every backend starts from bit-identical weights,
/// whatever its own generator would draw).
fn same_weights<M: Module>(init: impl Fn(&Device) -> M, seed: u64, device: &Device) -> anyhow::Result<M> {
    let flex = BackendKind::Flex.autodiff_device()?;
    flex.seed(seed);
    let bytes = init(&flex).into_record().into_bytes().context("serialising the initial weights")?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).context("reading the initial weights back")?;
    init(device).try_load_record(record).context("loading the initial weights on the checked device")
}

/// A fixed batch stream: inputs uniform in [−1, 1) and labels uniform over
/// ten classes, from a ChaCha8 stream of `seed` on the host, so every
/// backend sees the same numbers.
struct Batches {
    rng: ChaCha8Rng,
    batch: usize,
    features: usize,
}

impl Batches {
    fn new(seed: u64, batch: usize, features: usize) -> Self {
        Batches { rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6770_752d_6368_6563), batch, features }
    }

    fn next(&mut self, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let x: Vec<f32> = (0..self.batch * self.features).map(|_| self.rng.random_range(-1.0f32..1.0)).collect();
        let y: Vec<i64> = (0..self.batch).map(|_| self.rng.random_range(0..10)).collect();
        (Tensor::<2>::from_data(TensorData::new(x, [self.batch, self.features]), device), label_tensor(&y, device))
    }
}

/// [`STEPS`] HeavyBall steps (eq. (1), β from the rule with C = 1 at η =
/// [`CHECK_LR`]): the loss before each step and the parameters after the
/// last, with the parameters before the first.
fn trace_steps<M: Module + Clone>(
    name: &str,
    model: M,
    device: &Device,
    mut batches: Batches,
    forward: impl Fn(&M, Tensor<2>) -> Tensor<2>,
) -> anyhow::Result<(Trace, Vec<Vec<f32>>)> {
    let initial = parameters(&model);
    let mut optim = HeavyBallConfig::new(MomentumRule::scaled(1.0)?).init()?;
    let loss_fn = ExpectedLoss::hard(10)?;
    let mut model = model;
    let mut losses = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        let (x, y) = batches.next(device);
        let loss = loss_fn.loss(forward(&model, x), y);
        losses.push(loss.clone().into_scalar::<f64>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(CHECK_LR, model, grads);
    }
    let measured = format!("parameters after {STEPS} HeavyBall steps");
    Ok((Trace { model: name.to_string(), measured, losses, tensors: parameters(&model) }, initial))
}

/// One forward and backward at the initial weights: the loss and every
/// parameter's gradient (compared against zeros as the "initial" value, so
/// the update error equals the tensor error).
fn trace_gradient<M: Module + Clone>(
    name: &str,
    model: M,
    device: &Device,
    mut batches: Batches,
    forward: impl Fn(&M, Tensor<2>) -> Tensor<2>,
) -> anyhow::Result<(Trace, Vec<Vec<f32>>)> {
    let (x, y) = batches.next(device);
    let loss = ExpectedLoss::hard(10)?.loss(forward(&model, x), y);
    let value = loss.clone().into_scalar::<f64>();
    let tensors = gradients(&model, &GradientsParams::from_grads(loss.backward(), &model));
    let zeros = tensors.iter().map(|g| vec![0.0; g.len()]).collect();
    Ok((Trace { model: name.to_string(), measured: "gradients of one forward and backward".into(), losses: vec![value], tensors }, zeros))
}

/// Both models' traces on `kind`, with their initial parameters.
pub fn traces(kind: BackendKind, sizes: &Sizes, seed: u64) -> anyhow::Result<Vec<(Trace, Vec<Vec<f32>>)>> {
    let device = kind.autodiff_device()?;
    let (width, batch) = sizes.mlp_check;
    let mlp_config = MlpConfig::fig5(width);
    let mlp: Mlp = same_weights(|d| mlp_config.init(d), seed, &device)?;
    let mlp_trace = trace_steps("mlp", mlp, &device, Batches::new(seed, batch, 784), |m, x| m.forward(x))?;
    let (width, batch) = sizes.resnet_check;
    let resnet_config = ResNetConfig::new(3, 10).with_base_width(width);
    let resnet: ResNet = same_weights(|d| resnet_config.init(d), seed, &device)?;
    let resnet_trace =
        trace_gradient("resnet18", resnet, &device, Batches::new(seed, batch, 3 * 32 * 32), |m, x| m.forward(x.reshape([batch, 3, 32, 32])))?;
    Ok(vec![mlp_trace, resnet_trace])
}

/// The flex reference of `sizes`' correctness check.
pub fn reference(sizes: &Sizes, seed: u64) -> anyhow::Result<Reference> {
    let traces = traces(BackendKind::Flex, sizes, seed)?.into_iter().map(|(t, _)| t).collect();
    Ok(Reference { version: VERSION, backend: "flex".into(), date: utc_now(), seed, traces })
}

/// Reads a reference written by [`reference()`]; the error names the file.
pub fn read_reference(path: &Path) -> anyhow::Result<Reference> {
    super::read_versioned(path, "reference", |r: &Reference| r.version)
}

/// How a rate is timed: `warmup` untimed steps, then `blocks` blocks of
/// `block` steps, the device synchronised around each block; the median
/// block's samples/s is the rate.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Untimed steps first (kernel compilation and autotune on a GPU).
    pub warmup: usize,
    /// Timed blocks; the median is kept.
    pub blocks: usize,
    /// Steps per block.
    pub block: usize,
}

/// Median samples/s of `step` (which trains on `samples_per_step` samples) under `timing`.
pub fn median_rate(device: &Device, samples_per_step: usize, timing: Timing, mut step: impl FnMut()) -> f64 {
    for _ in 0..timing.warmup {
        step();
    }
    device.sync().expect("device sync");
    let mut rates: Vec<f64> = (0..timing.blocks.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..timing.block.max(1) {
                step();
            }
            device.sync().expect("device sync");
            (timing.block.max(1) * samples_per_step) as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// ResNet-18 (CIFAR variant, `base_width`, BatchNorm) training images/s:
/// forward, cross-entropy, backward and a HeavyBall step (β = 0.9) on a
/// fixed random batch of 32×32×3 images.
pub fn resnet_rate(device: &Device, base_width: usize, batch: usize, timing: Timing) -> f64 {
    device.seed(0);
    let model = ResNetConfig::new(3, 10).with_base_width(base_width).init(device);
    let x = Tensor::<4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
    train_rate(device, model, x, batch, timing, |m, x| m.forward(x))
}

/// The 6-layer MLP (784-`width`×5-10, ReLU ×4 then tanh) training samples/s,
/// as [`resnet_rate`].
pub fn mlp_rate(device: &Device, width: usize, batch: usize, timing: Timing) -> f64 {
    device.seed(0);
    let model: Mlp = MlpConfig::fig5(width).init(device);
    let x = Tensor::<2>::random([batch, 784], Distribution::Normal(0.0, 1.0), device);
    train_rate(device, model, x, batch, timing, |m, x| m.forward(x))
}

/// Samples/s of the matrix products of one [`mlp_rate`] step alone, on
/// plain tensors of `device`'s backend: the 6 forward products, the 6
/// weight gradients `hᵀ·g` and the 5 input gradients `g·Wᵀ` (the first
/// layer's input needs none), with the transposes as views, as Burn's
/// autodiff forms them. If everything else in a step cost nothing, the step
/// would run at this rate: it bounds what any change outside the GEMM library
/// can reach (issue 14).
pub fn mlp_gemm_rate(device: &Device, width: usize, batch: usize, timing: Timing) -> f64 {
    let plain = device.clone().without_autodiff();
    plain.seed(0);
    let dims = [784, width, width, width, width, width, 10];
    let normal = Distribution::Normal(0.0, 0.05);
    let weights: Vec<Tensor<2>> = (0..6).map(|l| Tensor::random([dims[l], dims[l + 1]], normal, &plain)).collect();
    let inputs: Vec<Tensor<2>> = (0..6).map(|l| Tensor::random([batch, dims[l]], normal, &plain)).collect();
    let grads: Vec<Tensor<2>> = (0..6).map(|l| Tensor::random([batch, dims[l + 1]], normal, &plain)).collect();
    median_rate(&plain, batch, timing, || {
        for l in 0..6 {
            drop(inputs[l].clone().matmul(weights[l].clone()));
        }
        for l in (0..6).rev() {
            drop(inputs[l].clone().transpose().matmul(grads[l].clone()));
            if l > 0 {
                drop(grads[l].clone().matmul(weights[l].clone().transpose()));
            }
        }
    })
}

fn train_rate<M: Module + Clone, const D: usize>(
    device: &Device,
    model: M,
    x: Tensor<D>,
    batch: usize,
    timing: Timing,
    forward: impl Fn(&M, Tensor<D>) -> Tensor<2>,
) -> f64 {
    let mut optim = HeavyBallConfig::new(MomentumRule::fixed(0.9).expect("0.9 is a valid β")).init().expect("a valid rule");
    let y: Tensor<1, Int> = Tensor::<1>::random([batch], Distribution::Uniform(0.0, 9.999), device).int();
    let loss_fn = ExpectedLoss::hard(10).expect("10 classes");
    // The model moves into the step, as in the experiments' loops (and
    // PyTorch's in-place update), so the optimizer may write its buffers.
    let mut slot = Some(model);
    median_rate(device, batch, timing, || {
        let model = slot.take().expect("the step puts the model back");
        let loss = loss_fn.loss(forward(&model, x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        slot = Some(optim.step(0.01, model, grads));
    })
}

/// Runs `script` (under `scripts`) with each Python in turn and returns the
/// number after `prefix` on its output, or why there is none.
pub fn torch_rate(pythons: &[String], scripts: &Path, script: &str, args: &[String], prefix: &str) -> Result<f64, String> {
    let path = scripts.join(script);
    let mut last = "no python given".to_string();
    for py in pythons {
        match Command::new(py).arg(&path).args(args).output() {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                return text
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix).and_then(|v| v.trim().parse().ok()))
                    .ok_or_else(|| format!("{py} {}: no `{prefix}` line in {text:?}", path.display()));
            }
            Ok(o) => last = format!("{py}: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("failed").trim()),
            Err(e) => last = format!("{py}: {e}"),
        }
    }
    Err(last)
}

fn torch_version(pythons: &[String], device: &str) -> String {
    let probe = format!(
        "import torch; d='{device}'; print(torch.__version__, torch.cuda.get_device_name(0) if d == 'cuda' else 'cpu')"
    );
    for py in pythons {
        if let Ok(o) = Command::new(py).args(["-c", &probe]).output()
            && o.status.success()
        {
            return format!("{} ({py})", String::from_utf8_lossy(&o.stdout).trim());
        }
    }
    "not found".into()
}

fn gpu_name() -> String {
    match Command::new("nvidia-smi").args(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("nvidia-smi failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => format!("no nvidia-smi ({e})"),
    }
}

/// `images` random 32×32×3 images in ten uniform classes, as the loaders
/// return them (CIFAR-10 is not on the GPU machine either; a slice's cost
/// does not depend on the pixels).
fn random_images(n: usize, seed: u64) -> ImageDataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ImageDataset {
        images: (0..n * 3 * 32 * 32).map(|_| rng.random::<u8>()).collect(),
        labels: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
        n,
        channels: 3,
        height: 32,
        width: 32,
        num_classes: 10,
        official: false,
        mean: vec![0.5; 3],
        std: vec![0.25; 3],
    }
}

/// Phase-2 steps of the ResNet protocol at the slice's shapes for about
/// `seconds`, then evaluation-mode forward passes: the rates the paper-grid
/// estimate is priced at. Uses [`phase2_step`], the function `resnet-cifar`
/// trains with, with the rule C = 0.74 (the `[paper]` centre) at η = 0.05
/// and label flips with p = 0.2.
pub fn slice(kind: BackendKind, (base_width, batch, chunk, seconds): (usize, usize, usize, f64), seed: u64) -> anyhow::Result<Slice> {
    let device = kind.autodiff_device()?;
    device.seed(seed);
    let mut model = ResNetConfig::new(3, 10).with_base_width(base_width).init(&device);
    let mut optim = HeavyBallConfig::new(MomentumRule::scaled(0.74)?).init()?;
    let flip = LabelFlip::new(0.2, 10)?;
    let hard = ExpectedLoss::hard(10)?;
    let train = ImageBatcher::new(&random_images(batch * 8, seed));
    let mut noise = ChaCha8Rng::seed_from_u64(seed);
    let order: Vec<usize> = (0..train.len()).collect();
    // Two warm-up steps (kernel compilation, autotune), untimed.
    for idx in order.chunks_exact(batch).take(2) {
        model = phase2_step(model, &mut optim, 0.05, &train, idx, (&flip, &mut noise), &hard, &device)?.0;
    }
    device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let start = Instant::now();
    let mut steps = 0u64;
    'outer: loop {
        for idx in order.chunks_exact(batch) {
            let (m, loss) = phase2_step(model, &mut optim, 0.05, &train, idx, (&flip, &mut noise), &hard, &device)?;
            anyhow::ensure!(loss.is_finite(), "the slice diverged (loss {loss})");
            model = m;
            steps += 1;
            if start.elapsed().as_secs_f64() >= seconds {
                break 'outer;
            }
        }
    }
    device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let train_seconds = start.elapsed().as_secs_f64();
    let test = ImageBatcher::new(&random_images(chunk * 4, seed + 1));
    let _ = accuracy(&model, &test, chunk, &device); // warm-up of the evaluation kernels
    let forward_start = Instant::now();
    let _ = accuracy(&model, &test, chunk, &device);
    let forward_seconds = forward_start.elapsed().as_secs_f64();
    Ok(Slice {
        backend: kind.name().into(),
        base_width,
        batch,
        chunk,
        seconds: train_seconds,
        steps,
        train_images_per_s: (steps as usize * batch) as f64 / train_seconds,
        forward_images_per_s: test.len() as f64 / forward_seconds,
    })
}

/// Runs `f`, turning a panic (a GPU runtime that fails to start panics in
/// Burn) into an error, so one failed backend does not end the check.
fn guarded<T>(what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.with_context(|| what.to_string()),
        Err(panic) => {
            let msg = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(anyhow::anyhow!("{what}: panicked: {}", msg.unwrap_or_else(|| "(no message)".into())))
        }
    }
}

/// The whole check: writes `<out>/gpu-check.json` after every stage (so a
/// run stopped from outside keeps what it measured) and returns the record.
/// A stage that fails is recorded in `errors` and the check goes on; a
/// stage that would start past `opts.budget_seconds` is skipped and
/// recorded, and the slices share what is left of the budget.
///
/// Order: correctness on every backend, PyTorch's rows, each backend's
/// throughput rows, then the slices, so the cheap and most needed numbers
/// come first.
pub fn run(opts: &CheckOptions, log: &mut dyn FnMut(&str)) -> anyhow::Result<GpuCheck> {
    let start = Instant::now();
    let sizes = if opts.dry_run { Sizes::dry_run() } else { Sizes::gpu(opts.slice_seconds) };
    let reference = match &opts.reference {
        Some(path) => read_reference(path)?,
        None => {
            log("computing the flex reference here");
            reference(&sizes, opts.seed)?
        }
    };
    let scale = crate::harness::config::load::<crate::resnet::ResnetExperiment>(&opts.resnet_config)?.paper;
    // PyTorch runs where the check's backends do: the GPU, or the CPU in a dry run.
    let torch_device = if opts.dry_run { "cpu" } else { "cuda" };
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let mut check = GpuCheck {
        version: VERSION,
        date: utc_now(),
        command: opts.command.clone(),
        dry_run: opts.dry_run,
        machine: Machine {
            gpu: gpu_name(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            torch: torch_version(&opts.pythons, torch_device),
        },
        backends: opts.backends.iter().map(|k| k.name().to_string()).collect(),
        tolerance: TOLERANCE,
        correctness: Vec::new(),
        resnet: Vec::new(),
        mlp: Vec::new(),
        slices: Vec::new(),
        estimates: Vec::new(),
        errors: Vec::new(),
        seconds: 0.0,
    };
    let save = |check: &mut GpuCheck| -> anyhow::Result<()> {
        check.seconds = start.elapsed().as_secs_f64();
        crate::harness::io::write_json(&opts.out.join(RECORD_FILE), check)?;
        Ok(())
    };
    let over_budget = |what: &str, check: &mut GpuCheck, log: &mut dyn FnMut(&str)| -> bool {
        let over = opts.budget_seconds.is_some_and(|b| start.elapsed().as_secs_f64() >= b);
        if over {
            log(&format!("{what}: skipped, the budget of {:.0} s is spent", opts.budget_seconds.unwrap_or(0.0)));
            check.errors.push(format!("{what}: skipped, the budget of {:.0} s was spent", opts.budget_seconds.unwrap_or(0.0)));
        }
        over
    };
    let mut working = Vec::new();
    for &kind in &opts.backends {
        let name = kind.name();
        log(&format!("{name}: correctness against the {} reference of {}", reference.backend, reference.date));
        match guarded(&format!("{name}: correctness"), || traces(kind, &sizes, reference.seed)) {
            Ok(ts) => {
                working.push(kind);
                for (t, initial) in ts {
                    let Some(r) = reference.traces.iter().find(|r| r.model == t.model) else {
                        check.errors.push(format!("{name}: the reference has no {} trace", t.model));
                        continue;
                    };
                    match compare(name, &t, r, &initial) {
                        Ok(a) => {
                            log(&format!(
                                "  {} ({}): loss {:.2e}, tensors {:.2e}, update {:.2e}: {}",
                                a.model,
                                a.measured,
                                a.loss_rel_err,
                                a.param_rel_err,
                                a.update_rel_err,
                                if a.passed { "passed" } else { "FAILED" }
                            ));
                            check.correctness.push(a);
                        }
                        Err(e) => check.errors.push(format!("{name}: {e:#}")),
                    }
                }
            }
            Err(e) => {
                log(&format!("  {e:#}"));
                check.errors.push(format!("{e:#}"));
            }
        }
        save(&mut check)?;
    }
    let threads = if opts.dry_run { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { 1 };
    for &batch in &sizes.resnet_batches {
        let args = [
            threads.to_string(),
            batch.to_string(),
            sizes.timing.blocks.to_string(),
            torch_device.to_string(),
            sizes.resnet_width.to_string(),
            sizes.timing.warmup.to_string(),
        ];
        let r = torch_rate(&opts.pythons, &opts.scripts, "resnet_throughput_torch.py", &args, "images_per_second ");
        log(&format!("pytorch: resnet18 batch {batch}: {r:.1?} images/s"));
        check.resnet.push(torch_row("resnet18", batch, sizes.timing.blocks, r));
    }
    for &(width, batch) in &sizes.mlp_cases {
        let args: Vec<String> = [
            "--width", &width.to_string(), "--batch", &batch.to_string(), "--threads", &threads.to_string(),
            "--warmup", &sizes.timing.warmup.to_string(), "--steps", "1", "--reps", &sizes.timing.blocks.to_string(),
            "--device", torch_device,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = torch_rate(&opts.pythons, &opts.scripts, "mlp_throughput_torch.py", &args, "samples_per_s ");
        log(&format!("pytorch: mlp {width} batch {batch}: {r:.1?} samples/s"));
        check.mlp.push(torch_row(&format!("mlp-{width}"), batch, sizes.timing.blocks, r));
    }
    save(&mut check)?;
    for &kind in &working {
        let name = kind.name();
        let device = kind.autodiff_device()?;
        for &batch in &sizes.resnet_batches {
            let what = format!("{name}: resnet18 batch {batch}");
            if over_budget(&what, &mut check, log) {
                continue;
            }
            let r = guarded(&what, || Ok(resnet_rate(&device, sizes.resnet_width, batch, sizes.timing)));
            log(&format!("{what}: {r:.1?} images/s"));
            let row = rate_row("resnet18", name, batch, sizes.timing.blocks, r, &mut check.errors);
            check.resnet.push(row);
        }
        for &(width, batch) in &sizes.mlp_cases {
            let what = format!("{name}: mlp {width} batch {batch}");
            if over_budget(&what, &mut check, log) {
                continue;
            }
            let r = guarded(&what, || Ok(mlp_rate(&device, width, batch, sizes.timing)));
            log(&format!("{what}: {r:.1?} samples/s"));
            let row = rate_row(&format!("mlp-{width}"), name, batch, sizes.timing.blocks, r, &mut check.errors);
            check.mlp.push(row);
        }
        save(&mut check)?;
    }
    for (k, &kind) in working.iter().enumerate() {
        let name = kind.name();
        let what = format!("{name}: slice");
        if over_budget(&what, &mut check, log) {
            continue;
        }
        // What is left of the budget, shared by the slices still to run,
        // less a margin for warm-up and evaluation.
        let mut shape = sizes.slice;
        if let Some(budget) = opts.budget_seconds {
            let left = (budget - start.elapsed().as_secs_f64()) / (working.len() - k) as f64;
            shape.3 = shape.3.min((left * 0.6).max(1.0));
        }
        log(&format!("{what}: {:.1} s of phase-2 steps", shape.3));
        match guarded(&what, || slice(kind, shape, opts.seed)) {
            Ok(s) => {
                log(&format!("  {} steps, {:.1} train images/s, {:.1} forward images/s", s.steps, s.train_images_per_s, s.forward_images_per_s));
                check.estimates.push(estimate(&scale, &s));
                check.slices.push(s);
            }
            Err(e) => check.errors.push(format!("{e:#}")),
        }
        save(&mut check)?;
    }
    save(&mut check)?;
    Ok(check)
}

fn torch_row(workload: &str, batch: usize, steps: usize, r: Result<f64, String>) -> Rate {
    Rate { workload: workload.into(), backend: "pytorch".into(), batch, per_second: r.as_ref().ok().copied(), steps, error: r.err() }
}

fn rate_row(workload: &str, backend: &str, batch: usize, steps: usize, r: anyhow::Result<f64>, errors: &mut Vec<String>) -> Rate {
    let (per_second, error) = match r {
        Ok(v) => (Some(v), None),
        Err(e) => {
            errors.push(format!("{e:#}"));
            (None, Some(format!("{e:#}")))
        }
    };
    Rate { workload: workload.into(), backend: backend.into(), batch, per_second, steps, error }
}
