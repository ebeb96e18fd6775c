//! HeavyBall with the scaling rule inside burn-train's `Learner` (issue 16).
//!
//! [`HeavyBallConfig::init`](flatter_optim::HeavyBallConfig::init) returns
//! the `ModuleOptimizer` that `Learner::new` takes, so nothing but a model
//! that implements `TrainStep` and `InferenceStep` is needed: [`Classifier`]
//! is the Fashion-MNIST MLP (Fig. 5) with the cross-entropy the experiments
//! train with. The learning rate the `Learner`'s scheduler hands each step
//! reaches `HeavyBall` per parameter, which recomputes β from it by the rule
//! 1 − β = C·η^γ (eq. 2), so β follows any Burn schedule.
//!
//! [`launch`] has what `SupervisedTraining::launch` needs besides: Burn
//! `DataLoader`s over the images, a numeric metric for β (and η/(1 − β))
//! at each step's learning rate, and a one-line-per-epoch renderer.
//!
//! `tests/learner.rs` checks, step by step, that the parameters move as
//! eq. (1) with β(η_t) says, and that `launch` trains the same way;
//! `examples/learner.rs` (the root package) trains with it.

pub mod launch;

use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::optim::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::tensor::{Int, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use flatter_experiments::mlp::model::Mlp;
use flatter_optim::ExpectedLoss;

/// The MLP as a `Learner` model: logits, and the plain cross-entropy
/// (`ExpectedLoss::hard`, label noise off) on the batch's labels.
#[derive(Module, Debug)]
pub struct Classifier {
    /// The network.
    pub mlp: Mlp,
}

/// One minibatch: inputs `[batch, 784]` and class labels `[batch]`.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Inputs.
    pub x: Tensor<2>,
    /// Labels.
    pub y: Tensor<1, Int>,
}

impl Classifier {
    fn output(&self, batch: Batch) -> ClassificationOutput {
        let logits = self.mlp.forward(batch.x);
        let classes = logits.dims()[1];
        let loss = ExpectedLoss::hard(classes).expect("at least 2 classes").loss(logits.clone(), batch.y.clone());
        ClassificationOutput::new(loss, logits, batch.y)
    }
}

impl TrainStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, item: Batch) -> TrainOutput<ClassificationOutput> {
        let out = self.output(item);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Classifier {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, item: Batch) -> ClassificationOutput {
        self.output(item)
    }
}

/// Burn's own schedulers composed into linear warm-up from `peak/warmup` to
/// `peak` over `warmup` steps, then cosine from `peak` to `floor` over the
/// remaining `total − warmup` steps. `floor` must be > 0: the rule needs
/// η > 0 at every step (β = 1 − C·0^γ = 1 would freeze the mixing time).
pub fn warmup_cosine(peak: f64, warmup: usize, total: usize, floor: f64) -> Result<ModuleLrScheduler, String> {
    if !(floor > 0.0 && floor <= peak) || warmup == 0 || total <= warmup {
        return Err(format!("warmup_cosine needs 0 < floor <= peak and 0 < warmup < total (got floor {floor}, peak {peak}, warmup {warmup}, total {total})"));
    }
    SequentialLrSchedulerConfig::new(
        vec![
            LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(peak / warmup as f64, peak, warmup)),
            LrSchedulerConfig::Cosine(CosineAnnealingLrSchedulerConfig::new(peak, total - warmup).with_min_lr(floor)),
        ],
        vec![warmup],
    )
    .init()
}
