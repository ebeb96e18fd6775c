//! [`HeavyBall`]: eq. (1) as a Burn 0.22 [`Optimizer`].
//!
//! ```text
//! π ← β(η) π − g,   π₀ = 0
//! w ← w + η π
//! ```
//!
//! There is no dampening (Burn's `MomentumConfig` defaults it to 0.1, which
//! would silently rescale the effective learning rate by 0.9), no Nesterov
//! term and no weight decay. β is recomputed from the `lr` Burn passes to each
//! step, so the momentum follows any LR scheduler with no extra state.
//!
//! The state is π itself, saved through [`RecordState`] into Burn's burnpack
//! optimizer records; a save/load round trip continues bit-identically.
//! A steady-state step is four elementwise tensor passes (β·π, −g, η·π, w+),
//! one fewer than Burn's `Sgd` with momentum, which also scales g by (1 − dampening).

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor, TensorCreationOptions};

use crate::momentum::{MomentumRule, RuleError};

/// Configuration of [`HeavyBall`]. Every setting that matters to the math is
/// here and explicit: there is nothing else (no dampening, no Nesterov, no decay).
///
/// One training step of a Burn module, with β recomputed from the step's
/// learning rate by the rule 1 − β = 0.5·η^(2/3):
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::optim::GradientsParams;
/// use burn::tensor::Tensor;
/// use flatter_optim::{HeavyBallConfig, MomentumRule};
///
/// let device = flatter_device::BackendKind::Flex.autodiff_device()?;
/// let model = LinearConfig::new(3, 1).init(&device);
/// let mut optim = HeavyBallConfig::new(MomentumRule::scaled(0.5)?).init()?;
/// let x = Tensor::<2>::ones([4, 3], &device);
/// let loss = model.forward(x).powf_scalar(2.0).mean();
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// let lr = 0.01; // from any Burn LR scheduler
/// let model = optim.step(lr, model, grads);
/// # let _ = model;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Config, Debug)]
pub struct HeavyBallConfig {
    /// How β is obtained from the learning rate of each step.
    pub momentum: MomentumRule,
}

impl HeavyBallConfig {
    /// Builds the bare per-parameter optimizer, after validating the rule.
    pub fn build(&self) -> Result<HeavyBall, RuleError> {
        self.momentum.validate()?;
        Ok(HeavyBall { rule: self.momentum })
    }

    /// Builds the whole-module optimizer that Burn's training loops drive.
    pub fn init(&self) -> Result<ModuleOptimizer, RuleError> {
        Ok(ModuleOptimizer::from(self.build()?))
    }
}

/// Heavy-ball SGD with a momentum that may follow the learning rate. See the module docs.
#[derive(Clone, Debug)]
pub struct HeavyBall {
    rule: MomentumRule,
}

/// Per-parameter state of [`HeavyBall`]: the auxiliary variable π of eq. (1).
#[derive(Clone)]
pub struct HeavyBallState<const D: usize> {
    /// π, the momentum (a velocity in units of −gradient).
    pub momentum: Tensor<D>,
}

// Burn's `#[derive(RecordState)]` only works inside burn-optim (it names
// `crate::` paths), so the one-field state is flattened by hand, keeping the
// tensor's dtype so that a round trip is bit-exact.
impl<const D: usize> RecordState for HeavyBallState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "momentum", self.momentum.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, "momentum")?;
        let options = TensorCreationOptions::new(device.clone()).with_dtype(data.dtype());
        Some(HeavyBallState { momentum: Tensor::from_data(data, options) })
    }
}

impl HeavyBall {
    /// The rule this optimizer follows.
    pub fn rule(&self) -> MomentumRule {
        self.rule
    }

    /// β at learning rate `lr`, as used by [`Optimizer::step`].
    pub fn beta(&self, lr: LearningRate) -> Result<f64, RuleError> {
        self.rule.beta(lr)
    }

    /// Eq. (1) on scalars: `(w, grad, π) → (w', π')`. The reference the tensor
    /// step is tested against, and the documentation of the update order.
    pub fn scalar_step(&self, lr: LearningRate, w: f64, grad: f64, momentum: f64) -> (f64, f64) {
        let beta = self.beta_or_panic(lr);
        let momentum = beta * momentum - grad;
        (w + lr * momentum, momentum)
    }

    fn beta_or_panic(&self, lr: LearningRate) -> f64 {
        // `Optimizer::step` cannot return an error. Validate the LR range up
        // front with `MomentumRule::validate_lr_range`; reaching this is a bug
        // in the caller, and silently clamping β would make results wrong.
        self.rule
            .beta(lr)
            .unwrap_or_else(|err| panic!("HeavyBall::step: {err} (validate the lr range before training)"))
    }
}

impl Optimizer for HeavyBall {
    type State<const D: usize> = HeavyBallState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let beta = self.beta_or_panic(lr);
        // π₀ = 0, so π₁ = −g; with β = 0 the old π is dropped the same way
        // (0·π would turn an infinite π into NaN).
        let momentum = state.filter(|_| beta != 0.0).map(|state| state.momentum);
        // Eq. (1): π ← βπ − g, w ← w + ηπ. On flex this is one fused,
        // multithreaded pass with the bits of Burn's ops
        // (`flatter_kernels::reference::heavy_ball`), which every other
        // backend runs.
        let (tensor, momentum) = flatter_kernels::heavy_ball(tensor, grad, momentum, beta, lr);
        (tensor, Some(HeavyBallState { momentum }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        HeavyBallState { momentum: state.momentum.to_device(device) }
    }
}

/// Eq. (1) for R independent runs stacked along the leading axis, each with
/// its own β and η: `beta` and `lr` have shape `[R, 1, …]` and broadcast.
/// The operations and their order are those of [`HeavyBall`]'s step, so row r
/// follows exactly the update a lone run with (β_r, η_r) would.
/// Returns the new weights and the new momentum π.
pub fn heavy_ball_rows<const D: usize>(
    weights: Tensor<D>,
    grad: Tensor<D>,
    momentum: Option<Tensor<D>>,
    beta: Tensor<D>,
    lr: Tensor<D>,
) -> (Tensor<D>, Tensor<D>) {
    let momentum = match momentum {
        None => grad.neg(),
        Some(momentum) => momentum.mul(beta).sub(grad),
    };
    (weights.add(momentum.clone().mul(lr)), momentum)
}
