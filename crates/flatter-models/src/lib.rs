//! The paper's models, as Burn modules and stacked (batched-run) forwards.
//!
//! - [`matrix_sensing`]: measurements ⟨A_i, UV⟩, the Hessian trace of eq. (129)
//!   and the test error of eq. (13), for stacked runs.
//! - [`mlp`]: the 6-layer MLP of the Fashion-MNIST experiment (Fig. 5).
//! - [`uv`]: the vector UV model f(x) = (u·v)x, its teacher–student variants
//!   f(x) = Σ_j v_j φ(u_j x) with φ = tanh or ReLU (Sec. 3.4, 4.1, App. A), and
//!   the matrix UV model f(x) = U V x (Definition 3.6).
//! - [`resnet`]: ResNet-18, CIFAR variant (Sec. 4.2), BatchNorm or GroupNorm.

pub mod matrix_sensing;
pub mod mlp;
pub mod resnet;
pub mod uv;

pub use mlp::{Mlp, MlpConfig};
pub use uv::{Activation, MatrixUv, MatrixUvConfig, Uv, stacked_forward};
