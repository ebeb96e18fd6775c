//! Training engines and experiment runners.
//!
//! - [`uv_sweep`]: the stacked-run engine: R independent UV models with their
//!   own η and β trained as one tensor program.
//! - [`uv`]: the UV experiment end to end: config → runs → results directory.
//!
//! The `flatter-experiment` binary is the machine entry point that
//! `cargo xtask reproduce` spawns; the examples are the human ones.

pub mod uv;
pub mod uv_sweep;
