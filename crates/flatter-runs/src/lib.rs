//! What a flatter run is on disk, and everything that is a function of results.
//!
//! The training binaries (which link Burn) write runs through this crate, and
//! the analyses — fits, criteria, figures — read them back through it, so a
//! report can be rebuilt from `results/` without retraining. No Burn here.
//!
//! - [`plan`]: jobs, runs, shards and completeness: what makes every
//!   experiment resumable and shardable the same way.
//! - [`config`]: what every experiment file shares: the scale tables, strict
//!   parsing and range errors that name the file, the scale and the field.
//! - [`claims`]: the criteria and the header every experiment summary carries.
//! - [`report`]: `REPORT.md` and `claims.json` from the summaries on disk.
//! - [`io`]: atomic writes, so no half-written file is ever read as complete.
//! - [`scale`]: the `smoke` / `cpu` / `paper` scales every experiment has.
//! - [`mlp`]: the 6-layer MLP on Fashion-MNIST (Fig. 5): config, the (η, β)
//!   grid, the eq. (14) fit of β*(η) and the slope of PAPER.md §9 row 15;
//!   [`mlp_figures`] draws it.
//! - [`resnet`]: ResNet-18 on CIFAR-10 (Fig. 2, 4): config, runs, the eq. (14)
//!   fits and the criteria of PAPER.md §9 rows 11–14; [`resnet_figures`] draws them.
//! - [`uv`]: the UV / teacher–student experiment (Fig. 1): its config file,
//!   the expansion into runs, the fits and the criteria of PAPER.md §9 rows 4–8.

pub mod claims;
pub mod config;
pub mod io;
pub mod mlp;
pub mod mlp_figures;
pub mod matrix_sensing;
pub mod matrix_sensing_figures;
pub mod plan;
pub mod report;
pub mod resnet;
pub mod resnet_figures;
pub mod scale;
pub mod uv;
pub mod uv_figures;

pub use io::IoError;
pub use scale::Scale;
