//! Training engines and experiment runners.
//!
//! - [`experiment`]: what every runner shares: shard / force / analyse-only
//!   options, the outcome, the progress display and the job workers.
//! - [`stacked`]: the stacked-run engine: R independent runs of one model
//!   with their own η, β and noise seed trained as one tensor program.
//! - [`uv_sweep`]: the UV model on that engine.
//! - [`batcher`]: images to Burn tensors, in seeded minibatch order.
//! - [`mlp`]: the 6-layer MLP on Fashion-MNIST (Fig. 5) end to end.
//! - [`resnet`]: ResNet-18 and the three-phase protocol of Fig. 2 / Fig. 4,
//!   resumable at epoch ends.
//! - [`matrix_sensing`]: matrix sensing (App. A.2, D) on that engine, end to end.
//! - [`uv`]: the UV experiment end to end: config → runs → results directory.
//!
//! The `flatter-experiment` binary is the machine entry point that
//! `cargo xtask reproduce` spawns; the examples are the human ones.

pub mod batcher;
pub mod mlp;
pub mod experiment;
pub mod matrix_sensing;
pub mod resnet;
pub mod stacked;
pub mod uv;
pub mod uv_sweep;
