//! The one nonlinearity enum: the UV teacher–student φ (Sec. 4.1, App. A)
//! and the MLP's hidden layers (Fig. 5) use it, in their config files as
//! lowercase names and in their models through [`Activation::apply`].

use serde::{Deserialize, Serialize};

/// A nonlinearity φ applied elementwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// φ(z) = z: the vector UV model.
    Linear,
    /// φ = tanh (Fig. 1c).
    Tanh,
    /// φ = max(0, z) (App. A).
    Relu,
}

impl Activation {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }

    /// φ applied elementwise. tanh is `flatter_kernels::tanh`: on flex `f32`
    /// a vectorised tanh within 1 ulp of the correctly rounded value, with a
    /// one-pass backward from its output (issue 14); Burn's tanh elsewhere.
    #[cfg(feature = "train")]
    pub fn apply<const D: usize>(self, z: burn::tensor::Tensor<D>) -> burn::tensor::Tensor<D> {
        match self {
            Activation::Linear => z,
            Activation::Tanh => flatter_kernels::tanh(z),
            Activation::Relu => burn::tensor::activation::relu(z),
        }
    }
}
