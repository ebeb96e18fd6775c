//! flatter: heavy-ball SGD whose momentum scales with the learning rate,
//! 1 − β = C·η^(2/3), trained with label noise — Cowsik, Can & Glorioso,
//! "Flatter, faster: scaling momentum for optimal speedup of SGD".
//!
//! This facade re-exports flatter-device, flatter-optim, flatter-theory and
//! flatter-experiments under short names, and owns the backend
//! features (`flex` and `ndarray` by default, `wgpu` on request).

pub use flatter_device as device;
pub use flatter_optim as optim;
pub use flatter_theory as theory;
pub use flatter_experiments as experiments;
