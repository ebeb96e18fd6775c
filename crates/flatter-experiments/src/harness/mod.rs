//! What every experiment shares: the [`Experiment`] trait and
//! [`run_experiment`], which owns the preamble (validate, lock, select) and
//! the epilogue (read the run records, analyse, write `summary.json` last)
//! that each experiment used to copy.
//!
//! - [`plan`]: jobs, runs, shards and completeness: what makes every
//!   experiment resumable and shardable the same way.
//! - [`config`]: the experiment files: one table per scale, strict parsing,
//!   range errors that name the file, the scale and the field.
//! - [`claims`]: the criteria, their one plain-text rendering, and the header
//!   every experiment summary carries.
//! - [`beta_star`]: the eq. (14) fit of β*(η) and the slope of log(1 − β*)
//!   against log η, one policy for every experiment that measures it.
//! - [`report`]: `REPORT.md` and `claims.json` from the summaries on disk.
//! - [`io`]: atomic writes, so no half-written file is ever read as complete.
//! - [`scale`]: the `smoke` / `cpu` / `paper` scales.
//! - [`setup`]: the one key that decides whether a shared setup artefact
//!   (the MLP's valley, ResNet's phase 1) is reused, and the manifest that
//!   makes a set of files (a checkpoint, an artefact) one atomic unit.
//! - [`abort`]: the test hook that kills the process at a named write boundary.
//! - With the `train` feature only: [`progress`] (bars and job workers),
//!   [`stacked`] (R runs of one model as one tensor program) and [`images`]
//!   (images to Burn tensors in seeded minibatch order).

pub mod abort;
pub mod activation;
pub mod beta_star;
pub mod claims;
pub mod config;
pub mod figure;
#[cfg(feature = "train")]
pub mod images;
pub mod io;
pub mod plan;
#[cfg(feature = "train")]
pub mod progress;
pub mod real;
pub mod report;
pub mod scale;
pub mod setup;
#[cfg(feature = "train")]
pub mod stacked;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use activation::Activation;
pub use claims::{Criterion, FigureRef, SummaryHeader};
pub use config::{ExperimentFile, ScaleTable};
pub use figure::render_figure;
pub use io::IoError;
use plan::{Job, RunStore, Shard, prepare_out, read_summaries, validate_jobs};
pub use scale::Scale;

/// The exponent of the scaling rule 1 − β = C·η^γ that the paper derives
/// (Sec. 3.3, eq. 9: a(γ) = max(γ, 2 − 2γ) is smallest at γ = 2/3). The one
/// definition every experiment, figure and claim uses.
pub const GAMMA_OPT: f64 = 2.0 / 3.0;

/// Whether two grid values (an η, a γ, a 1 − β) are the same: equal to
/// 1e-9 relative, or absolute below 1. The one comparison every experiment
/// uses to group runs by a grid coordinate; exact `==` on a value that was
/// recomputed (1 − (1 − x)) can miss.
pub fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// How one invocation of an experiment runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Train only this shard's jobs.
    pub shard: Option<Shard>,
    /// Retrain complete jobs too; with a changed config, discard old runs.
    pub force: bool,
    /// Train nothing; analyse the runs on disk if they are all complete
    /// (merging shards that ran elsewhere).
    pub analyse_only: bool,
    /// Show progress bars on stderr.
    pub progress: bool,
}

/// What an invocation achieved.
#[derive(Clone, Debug)]
pub enum Outcome<S> {
    /// Every run is complete; the summary was written.
    Complete(S),
    /// Some runs are missing (other shards, or analyse-only before they ran).
    Partial {
        /// Runs complete on disk.
        complete_runs: usize,
        /// Runs in the plan.
        total_runs: usize,
    },
}

impl<S> Outcome<S> {
    /// The summary, if complete.
    pub fn complete(self) -> Option<S> {
        match self {
            Outcome::Complete(s) => Some(s),
            Outcome::Partial { .. } => None,
        }
    }
}

/// The partial outcome of `jobs` in the store.
pub fn partial<S>(jobs: &[Job], store: &RunStore<'_>) -> Outcome<S> {
    Outcome::Partial { complete_runs: store.count_complete(jobs), total_runs: jobs.iter().map(|j| j.runs.len()).sum() }
}

/// Everything one invocation says: which scale, where, how, on what.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The scale to run.
    pub scale: Scale,
    /// The results directory of this experiment.
    pub out: PathBuf,
    /// Shard, force, analyse-only, progress.
    pub opts: Options,
    /// The backend's name (`flex`, `ndarray`, `wgpu`): what trains, and what
    /// the summary header records.
    pub backend: String,
    /// The dataset directory, for the experiments that read one (default: the
    /// search of `flatter_data::resolve_dir`).
    pub data_dir: Option<PathBuf>,
    /// Test hook: stop training with an error after this many optimizer
    /// steps, as a kill would (ResNet's mid-phase resume test).
    pub stop_after_steps: Option<u64>,
}

impl Invocation {
    /// An invocation at `scale` into `out` on the backend named `backend`,
    /// with the default options (no shard, no force, no progress bars) and the
    /// default dataset search.
    pub fn new(scale: Scale, out: impl Into<PathBuf>, backend: &str) -> Invocation {
        Invocation { scale, out: out.into(), opts: Options::default(), backend: backend.to_string(), data_dir: None, stop_after_steps: None }
    }
}

/// The scale table type of an experiment.
pub type Table<E> = <<E as Experiment>::File as ExperimentFile>::Table;

/// One experiment of the paper: its config file (whose scale tables give the
/// jobs and run ids, [`ScaleTable`]), its training and its analysis.
/// [`run_experiment`] drives every one the same way; the registry in the
/// crate root lists them.
pub trait Experiment {
    /// The results directory and config file name (`<name>.toml`).
    const NAME: &'static str;
    /// One line for `--help`: what it reproduces (figure, section).
    const ABOUT: &'static str;
    /// The experiment file (`experiments/<name>.toml`), a table per scale.
    type File: ExperimentFile;
    /// What one run writes to `runs/<id>/summary.json`.
    type RunSummary: DeserializeOwned;
    /// What the analysis writes to `summary.json`.
    type Summary: Serialize;

    /// Trains the `todo` jobs (none complete unless forced) into `out`; each
    /// job's files are all written before [`progress::Progress::job_done`].
    #[cfg(feature = "train")]
    fn train(ctx: &TrainCtx<'_, Self>, todo: &[&Job]) -> anyhow::Result<()>;

    /// The summary, figures included, from the run records alone: no Burn,
    /// no dataset, only what is under `ctx.out`.
    fn analyse(ctx: &AnalyseCtx<'_, Self>, runs: Vec<Self::RunSummary>) -> anyhow::Result<Self::Summary>;

    /// The summary's header.
    fn header(summary: &Self::Summary) -> &SummaryHeader;

    /// The summary's header, to settle its criteria before it is written.
    fn header_mut(summary: &mut Self::Summary) -> &mut SummaryHeader;

    /// What the one-line account says after the experiment's name: its
    /// headline numbers.
    fn headline(summary: &Self::Summary) -> String;

    /// A table printed before the criteria (e.g. β* per η); empty by default.
    fn details(_summary: &Self::Summary) -> String {
        String::new()
    }
}

/// What an experiment's analysis sees.
pub struct AnalyseCtx<'a, E: Experiment + ?Sized> {
    /// The scale's name.
    pub scale_name: Scale,
    /// The whole experiment file (choices, notes).
    pub file: &'a E::File,
    /// The scale's table.
    pub scale: &'a Table<E>,
    /// The results directory.
    pub out: &'a Path,
    /// The backend's name, for the header.
    pub backend: &'a str,
}

/// What an experiment's training sees.
#[cfg(feature = "train")]
pub struct TrainCtx<'a, E: Experiment + ?Sized> {
    /// The scale's name.
    pub scale_name: Scale,
    /// The scale's table.
    pub scale: &'a Table<E>,
    /// The results directory.
    pub out: &'a Path,
    /// The invocation (backend, data directory, options, test hooks).
    pub inv: &'a Invocation,
    /// The backend to train on.
    pub backend: flatter_device::BackendKind,
    /// The display: one line for the jobs, one bar per worker.
    pub progress: &'a progress::Progress,
}

/// Runs experiment `E` as `inv` says, with its file at `config`: validates
/// the scale, locks and prepares `inv.out`, trains this shard's incomplete
/// jobs, and, once every run on disk is complete, analyses them and writes
/// `summary.json` last (so its presence means the experiment completed).
pub fn run_experiment<E: Experiment>(config: &Path, inv: &Invocation) -> anyhow::Result<Outcome<E::Summary>> {
    let file: E::File = config::load(config)?;
    run_loaded::<E>(&file, inv)
}

/// [`run_experiment`] with the experiment file already loaded.
pub fn run_loaded<E: Experiment>(file: &E::File, inv: &Invocation) -> anyhow::Result<Outcome<E::Summary>> {
    let name = E::NAME;
    let scale_name = inv.scale;
    let scale = file.table(scale_name);
    scale.validate().map_err(|(field, msg)| anyhow::anyhow!("{name} [{scale_name}] {field}: {msg}"))?;
    let jobs = scale.jobs();
    validate_jobs(&jobs).map_err(|e| anyhow::anyhow!("{name} [{scale_name}]: {e}"))?;
    let out = inv.out.as_path();
    let _lock = prepare_out(out, &(scale_name, scale), inv.opts.force, inv.opts.shard)?;
    let store = RunStore::new::<E::RunSummary>(out, scale.run_configs());
    if !inv.opts.analyse_only {
        train::<E>(scale_name, scale, &jobs, &store, inv)?;
    }
    if !store.all_complete(&jobs) {
        return Ok(partial(&jobs, &store));
    }
    let runs: Vec<E::RunSummary> = read_summaries(out, scale.run_ids())?;
    let ctx = AnalyseCtx::<E> { scale_name, file, scale, out, backend: &inv.backend };
    let mut summary = E::analyse(&ctx, runs).with_context(|| format!("analysing {name} in {}", out.display()))?;
    for c in &mut E::header_mut(&mut summary).criteria {
        c.settle();
    }
    io::write_json(&out.join("summary.json"), &summary)?;
    Ok(Outcome::Complete(summary))
}

#[cfg(feature = "train")]
fn train<E: Experiment>(scale_name: Scale, scale: &Table<E>, jobs: &[Job], store: &RunStore<'_>, inv: &Invocation) -> anyhow::Result<()> {
    let out = inv.out.as_path();
    let selection = plan::select(jobs, store, inv.opts.shard, inv.opts.force)?;
    if selection.todo.is_empty() {
        return Ok(());
    }
    let backend: flatter_device::BackendKind = inv.backend.parse()?;
    let progress = progress::Progress::new(E::NAME, jobs, &selection, inv.opts.progress);
    let todo: Vec<&Job> = selection.todo.iter().map(|&i| &jobs[i]).collect();
    let ctx = TrainCtx::<E> { scale_name, scale, out, inv, backend, progress: &progress };
    E::train(&ctx, &todo)?;
    progress.jobs.finish_and_clear();
    Ok(())
}

#[cfg(not(feature = "train"))]
fn train<E: Experiment>(_: Scale, _: &Table<E>, jobs: &[Job], store: &RunStore<'_>, inv: &Invocation) -> anyhow::Result<()> {
    let todo = plan::select(jobs, store, inv.opts.shard, inv.opts.force)?.todo.len();
    anyhow::ensure!(
        todo == 0,
        "{} has {todo} jobs to train, and this build of flatter-experiments has no `train` feature",
        E::NAME
    );
    Ok(())
}

/// The account of one invocation: a line, then the experiment's details and
/// its criteria, or how many runs are still missing.
pub fn account<E: Experiment>(inv: &Invocation, outcome: &Outcome<E::Summary>) -> String {
    let (name, scale, out) = (E::NAME, inv.scale, inv.out.display());
    match outcome {
        Outcome::Complete(s) => {
            let h = E::header(s);
            format!(
                "{name} [{scale}] on {}: {}, {:.1} s of training -> {out}\n{}{}",
                h.backend,
                E::headline(s),
                h.wall_seconds,
                E::details(s),
                claims::table(&h.criteria)
            )
        }
        Outcome::Partial { complete_runs, total_runs } => format!(
            "{name} [{scale}]: {complete_runs} of {total_runs} runs complete in {out}; the summary is written once all are (other shards, then `report`)"
        ),
    }
}
