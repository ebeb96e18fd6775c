//! HeavyBall inside burn-train's `Learner`, under Burn's own warm-up +
//! cosine scheduler (issue 16): step by step, the parameters move exactly as
//! eq. (1) says with β = β(η_t) from the rule, where η_t is the learning rate
//! the `Learner`'s scheduler handed that step; and the `Learner` run equals a
//! hand-run loop (the same scheduler, `ModuleOptimizer::step` called
//! directly) bit for bit.

use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::{Learner, TrainStep};
use flatter_device::BackendKind;
use flatter_experiments::gpu_check::measure::{gradients, parameters};
use flatter_experiments::mlp::model::MlpConfig;
use flatter_learner::{Batch, Classifier, warmup_cosine};
use flatter_optim::{HeavyBallConfig, MomentumRule};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng as _};

const STEPS: usize = 8;

fn batches(device: &Device) -> Vec<Batch> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    (0..STEPS)
        .map(|_| {
            let x: Vec<f32> = (0..8 * 784).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let y: Vec<i64> = (0..8).map(|_| rng.random_range(0..10)).collect();
            Batch { x: Tensor::from_data(TensorData::new(x, [8, 784]), device), y: Tensor::<1, Int>::from_data(TensorData::new(y, [8]), device) }
        })
        .collect()
}

#[test]
fn heavy_ball_in_a_learner_follows_eq_1_with_beta_from_the_scheduled_lr() {
    let device = BackendKind::Flex.autodiff_device().unwrap();
    device.seed(3);
    let model = Classifier { mlp: MlpConfig::fig5(16).init(&device) };
    let rule = MomentumRule::scaled_through(0.05, 0.9, 2.0 / 3.0).unwrap();
    // Warm-up over 3 steps to η = 0.05, then cosine down to 0.005.
    let schedule = || warmup_cosine(0.05, 3, STEPS, 0.005).unwrap();
    let data = batches(&device);

    // Through the Learner: its scheduler, its train step, its optimizer step.
    let mut learner = Learner::new(model.clone(), HeavyBallConfig::new(rule).init().unwrap(), schedule());
    let mut lrs = Vec::new();
    let mut ws = vec![parameters(&learner.model())];
    let mut gs = Vec::new();
    for batch in &data {
        learner.lr_step();
        lrs.push(learner.lr_current().base());
        let out = learner.train_step(batch.clone());
        gs.push(gradients(&learner.model(), &out.grads));
        learner.optimizer_step(out.grads);
        ws.push(parameters(&learner.model()));
    }

    // The scheduler warmed up and then decayed, so β moved with it.
    let betas: Vec<f64> = lrs.iter().map(|&lr| rule.beta(lr).unwrap()).collect();
    assert!(lrs[0] < lrs[2] && lrs[2] > lrs[STEPS - 1] && lrs[STEPS - 1] >= 0.005, "{lrs:?}");
    assert!(betas[STEPS - 1] > betas[2] + 0.02, "β should rise as η decays: {betas:?}");

    // Eq. (1), step by step: π_{t+1} = β(η_t) π_t − g_t with π₀ = 0, where
    // π_{t+1} = (w_{t+1} − w_t)/η_t is read off the parameters.
    for t in 0..STEPS {
        for (k, w_next) in ws[t + 1].iter().enumerate() {
            let w = &ws[t][k];
            let g = &gs[t][k];
            let scale = g.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-6);
            let mut worst = 0f64;
            for i in 0..w.len() {
                let pi_next = (w_next[i] as f64 - w[i] as f64) / lrs[t];
                let pi = if t == 0 { 0.0 } else { (w[i] as f64 - ws[t - 1][k][i] as f64) / lrs[t - 1] };
                let want = betas[t] * pi - g[i] as f64;
                worst = worst.max((pi_next - want).abs());
            }
            // f32 parameters: w ± η·π loses about 1e-7·|w|/η in π.
            assert!(worst < 2e-3 * scale.max(1.0), "step {t}, tensor {k}: eq. (1) off by {worst} (gradient scale {scale})");
        }
    }

    // A negative control: the same check with a fixed β = 0.9 instead of
    // β(η_t) must fail somewhere, or the check above could not tell them apart.
    let fixed_misses = (1..STEPS).any(|t| {
        ws[t + 1].iter().enumerate().any(|(k, w_next)| {
            (0..w_next.len()).any(|i| {
                let pi_next = (w_next[i] as f64 - ws[t][k][i] as f64) / lrs[t];
                let pi = (ws[t][k][i] as f64 - ws[t - 1][k][i] as f64) / lrs[t - 1];
                (pi_next - (0.9 * pi - gs[t][k][i] as f64)).abs() > 1e-2
            })
        })
    });
    assert!(fixed_misses, "a fixed β fits as well as β(η_t): the check cannot see the rule");

    // The hand-run loop: the same scheduler stepped by hand, the optimizer
    // called directly. The Learner adds nothing and drops nothing.
    let mut scheduler = schedule();
    let mut optim = HeavyBallConfig::new(rule).init().unwrap();
    let mut hand = model;
    for batch in &data {
        let lr = scheduler.step().base();
        let out = TrainStep::step(&hand, batch.clone());
        hand = optim.step(lr, hand, out.grads);
    }
    assert_eq!(&parameters(&hand), ws.last().unwrap(), "the Learner and the hand loop differ");
}

/// `SupervisedTraining::launch`, the way most Burn users train: two epochs
/// through our `DataLoader`s (unshuffled, so the order is known), with the
/// β metric and the epoch table, give exactly the parameters of a hand loop
/// over the same minibatches with the same scheduler. The validation passes
/// between epochs change nothing.
#[test]
fn launch_trains_exactly_as_the_hand_loop() {
    use std::sync::Arc;

    use burn::train::SupervisedTraining;
    use burn::train::metric::LossMetric;
    use flatter_data::ImageDataset;
    use flatter_experiments::harness::images::ImageBatcher;
    use flatter_learner::launch::{EpochTable, MomentumMetric, loader};

    let device = BackendKind::Flex.autodiff_device().unwrap();
    let plain = BackendKind::Flex.device().unwrap();
    let (n, batch, epochs) = (40, 8, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let images = ImageDataset {
        images: (0..n * 784).map(|_| rng.random_range(0..=255u8)).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        n,
        channels: 1,
        height: 28,
        width: 28,
        num_classes: 10,
        official: false,
        mean: vec![0.5],
        std: vec![0.3],
    };
    let images = Arc::new(ImageBatcher::new(&images));
    let steps = epochs * n / batch;
    let rule = MomentumRule::scaled_through(0.05, 0.9, 2.0 / 3.0).unwrap();
    let schedule = || warmup_cosine(0.05, 2, steps, 0.005).unwrap();
    device.seed(4);
    let model = Classifier { mlp: MlpConfig::fig5(16).init(&device) };
    let initial = parameters(&model); // also draws the lazy initial weights before cloning

    let dir = tempfile::tempdir().unwrap();
    let learner = Learner::new(model.clone(), HeavyBallConfig::new(rule).init().unwrap(), schedule());
    let result = SupervisedTraining::new(dir.path(), loader(images.clone(), batch, None, &device), loader(images.clone(), batch, None, &plain))
        .metric_train_numeric(MomentumMetric::lr(rule))
        .metric_train_numeric(MomentumMetric::beta(rule))
        .metric_train_numeric(MomentumMetric::effective_lr(rule))
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .renderer(Box::new(EpochTable::default()))
        .num_epochs(epochs)
        .launch(learner);

    let mut scheduler = schedule();
    let mut optim = HeavyBallConfig::new(rule).init().unwrap();
    let mut hand = model;
    let order: Vec<usize> = (0..n).collect();
    for _ in 0..epochs {
        for idx in order.chunks(batch) {
            let (x, labels) = images.batch(idx, &device);
            let y = flatter_experiments::harness::images::label_tensor(&labels, &device);
            let lr = scheduler.step().base();
            let out = TrainStep::step(&hand, Batch { x, y });
            hand = optim.step(lr, hand, out.grads);
        }
    }
    let launched = parameters(&result.model);
    assert_ne!(launched, initial, "it trained");
    assert_eq!(parameters(&hand), launched, "launch and the hand loop differ");
}
