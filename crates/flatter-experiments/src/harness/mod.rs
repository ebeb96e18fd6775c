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
//! - With the `train` feature only: [`queue`] (one job queue for the whole
//!   invocation: setups, jobs and analyses of every experiment, with their
//!   dependencies, on one worker per core), [`progress`] (its display),
//!   [`stacked`] (R runs of one model as one tensor program) and [`images`]
//!   (images to Burn tensors in seeded minibatch order).

pub mod abort;
pub mod activation;
pub mod beta_star;
pub mod claims;
pub mod config;
pub mod figure;
#[cfg(feature = "train")]
pub mod hessian;
#[cfg(feature = "train")]
pub mod images;
pub mod io;
pub mod plan;
#[cfg(feature = "train")]
pub mod progress;
#[cfg(feature = "train")]
pub mod queue;
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
pub use config::Schedule;
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
    /// Worker slots of the job queue (default: `FLATTER_JOBS`, else one per
    /// core; always one on a GPU backend).
    pub jobs: Option<usize>,
    /// Where every job's intra-op work runs, overriding the experiment
    /// files' `[schedule]` (for measuring that choice).
    pub intra_op: Option<config::IntraOp>,
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
pub trait Experiment: Sized + 'static {
    /// The results directory and config file name (`<name>.toml`).
    const NAME: &'static str;
    /// One line for `--help`: what it reproduces (figure, section).
    const ABOUT: &'static str;
    /// Whether [`Experiment::prepare`] seeds the backend's random generator
    /// (process-wide in Burn) to initialise weights: such setups never run
    /// beside each other ([`queue::Node::exclusive`]).
    const SETUP_SEEDS_BACKEND: bool = false;
    /// The experiment file (`experiments/<name>.toml`), a table per scale.
    type File: ExperimentFile + Send + Sync;
    /// What one run writes to `runs/<id>/summary.json`.
    type RunSummary: DeserializeOwned;
    /// What the analysis writes to `summary.json`.
    type Summary: Serialize + Send;
    /// What the jobs share, made once by [`Experiment::prepare`] (the data,
    /// the valley checkpoint, phase 1's record).
    #[cfg(feature = "train")]
    type Prepared: Send + Sync;

    /// The setup every job of this invocation needs: one node of the queue,
    /// which the jobs wait for. It runs only when some job is to be trained.
    #[cfg(feature = "train")]
    fn prepare(ctx: &TrainCtx<'_, Self>) -> anyhow::Result<Self::Prepared>;

    /// Trains one job (not complete unless forced) into `ctx.out`, all its
    /// files written before it returns.
    #[cfg(feature = "train")]
    fn train_job(ctx: &TrainCtx<'_, Self>, prepared: &Self::Prepared, job: &Job) -> anyhow::Result<()>;

    /// The expected seconds of `job` on one core of the reference machine
    /// (an estimate from its size, [`plan::REFERENCE_FLOPS`]): what the queue
    /// orders jobs by, longest first, and its first ETA.
    fn job_cost(scale: &Table<Self>, job: &Job) -> f64;

    /// The expected seconds of [`Experiment::prepare`] (an upper estimate).
    fn setup_cost(_scale: &Table<Self>) -> f64 {
        1.0
    }

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
    /// The invocation's display (a bar per running job).
    pub progress: &'a progress::Progress,
}

/// An experiment file, owned or borrowed.
enum Held<'f, T> {
    Owned(T),
    Borrowed(&'f T),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Held::Owned(t) => t,
            Held::Borrowed(t) => t,
        }
    }
}

/// One experiment of an invocation, planned: validated, its results
/// directory locked and prepared, this shard's incomplete jobs selected.
/// Its setup, jobs and analysis become nodes of the invocation's queue
/// ([`run_stages`]); its outcome is there once the analysis node ran.
pub struct Planned<'f, E: Experiment> {
    file: Held<'f, E::File>,
    inv: Invocation,
    jobs: Vec<Job>,
    selection: plan::Selection,
    _lock: plan::DirLock,
    #[cfg(feature = "train")]
    prepared: std::sync::OnceLock<E::Prepared>,
    outcome: std::sync::Mutex<Option<Outcome<E::Summary>>>,
}

/// A planned experiment, whatever its type: what the queue and the binary see.
pub trait Stage: Sync {
    /// The experiment's name.
    fn name(&self) -> &'static str;
    /// One line: what this invocation will train of it.
    fn describe(&self) -> String;
    /// Whether it trains on a CPU backend (else the queue has one worker).
    fn on_cpu(&self) -> bool;
    /// Its nodes (setup, jobs, analysis) for the queue, as group `group`,
    /// numbered from `base`.
    #[cfg(feature = "train")]
    fn nodes<'s>(&'s self, progress: &'s progress::Progress, group: usize, base: usize) -> Vec<queue::Node<'s>>;
    /// The analysis: once every run is complete, the summary (written last);
    /// the account either way.
    fn finish(&self) -> anyhow::Result<()>;
    /// The account of the outcome, once [`Stage::finish`] ran.
    fn account(&self) -> Option<String>;
}

/// Plans experiment `E` as `inv` says, with its file at `config`.
pub fn plan_experiment<E: Experiment>(config: &Path, inv: &Invocation) -> anyhow::Result<Planned<'static, E>> {
    let file: E::File = config::load(config)?;
    plan_held::<E>(Held::Owned(file), inv)
}

fn plan_held<'f, E: Experiment>(file: Held<'f, E::File>, inv: &Invocation) -> anyhow::Result<Planned<'f, E>> {
    let name = E::NAME;
    let scale_name = inv.scale;
    let scale = file.table(scale_name);
    scale.validate().map_err(|(field, msg)| anyhow::anyhow!("{name} [{scale_name}] {field}: {msg}"))?;
    let jobs = scale.jobs();
    validate_jobs(&jobs).map_err(|e| anyhow::anyhow!("{name} [{scale_name}]: {e}"))?;
    let out = inv.out.as_path();
    let lock = prepare_out(out, &(scale_name, scale), inv.opts.force, inv.opts.shard)?;
    let selection = if inv.opts.analyse_only {
        plan::Selection { todo: Vec::new(), skipped_complete: 0, other_shards: 0 }
    } else {
        let store = RunStore::new::<E::RunSummary>(out, scale.run_configs());
        plan::select(&jobs, &store, inv.opts.shard, inv.opts.force)?
    };
    #[cfg(not(feature = "train"))]
    anyhow::ensure!(
        selection.todo.is_empty(),
        "{name} has {} jobs to train, and this build of flatter-experiments has no `train` feature",
        selection.todo.len()
    );
    Ok(Planned {
        file,
        inv: inv.clone(),
        jobs,
        selection,
        _lock: lock,
        #[cfg(feature = "train")]
        prepared: std::sync::OnceLock::new(),
        outcome: std::sync::Mutex::new(None),
    })
}

impl<E: Experiment> Planned<'_, E> {
    fn scale(&self) -> &Table<E> {
        self.file.table(self.inv.scale)
    }

    /// The outcome, once the analysis node ran.
    pub fn take_outcome(&self) -> Option<Outcome<E::Summary>> {
        self.outcome.lock().expect("outcome lock").take()
    }

    #[cfg(feature = "train")]
    fn ctx<'a>(&'a self, progress: &'a progress::Progress) -> anyhow::Result<TrainCtx<'a, E>> {
        Ok(TrainCtx {
            scale_name: self.inv.scale,
            scale: self.scale(),
            out: &self.inv.out,
            inv: &self.inv,
            backend: self.inv.backend.parse()?,
            progress,
        })
    }

    fn analyse(&self) -> anyhow::Result<Outcome<E::Summary>> {
        let (scale_name, scale, out) = (self.inv.scale, self.scale(), self.inv.out.as_path());
        let store = RunStore::new::<E::RunSummary>(out, scale.run_configs());
        if !store.all_complete(&self.jobs) {
            return Ok(partial(&self.jobs, &store));
        }
        let runs: Vec<E::RunSummary> = read_summaries(out, scale.run_ids())?;
        let ctx = AnalyseCtx::<E> { scale_name, file: &self.file, scale, out, backend: &self.inv.backend };
        let mut summary = E::analyse(&ctx, runs).with_context(|| format!("analysing {} in {}", E::NAME, out.display()))?;
        for c in &mut E::header_mut(&mut summary).criteria {
            c.settle();
        }
        io::write_json(&out.join("summary.json"), &summary)?;
        Ok(Outcome::Complete(summary))
    }
}

impl<E: Experiment> Stage for Planned<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }

    fn describe(&self) -> String {
        let s = &self.selection;
        let runs: usize = s.todo.iter().map(|&i| self.jobs[i].runs.len()).sum();
        format!(
            "{} [{}]: {} jobs ({runs} runs) to train, {} complete on disk, {} in other shards",
            E::NAME,
            self.inv.scale,
            s.todo.len(),
            s.skipped_complete,
            s.other_shards
        )
    }

    fn on_cpu(&self) -> bool {
        #[cfg(feature = "train")]
        {
            self.inv.backend.parse::<flatter_device::BackendKind>().is_ok_and(|b| b.is_cpu())
        }
        #[cfg(not(feature = "train"))]
        true
    }

    #[cfg(feature = "train")]
    fn nodes<'s>(&'s self, progress: &'s progress::Progress, group: usize, base: usize) -> Vec<queue::Node<'s>> {
        let name = E::NAME;
        let intra_op = self.inv.opts.intra_op.unwrap_or(self.file.schedule().intra_op());
        let mut nodes = Vec::new();
        let todo = &self.selection.todo;
        if !todo.is_empty() {
            nodes.push(queue::Node {
                label: format!("{name}/setup"),
                group,
                cost: E::setup_cost(self.scale()),
                intra_op,
                exclusive: E::SETUP_SEEDS_BACKEND,
                job: false,
                first: false,
                deps: Vec::new(),
                work: Box::new(move || {
                    let prepared = E::prepare(&self.ctx(progress)?)?;
                    let _ = self.prepared.set(prepared);
                    Ok(())
                }),
            });
        }
        for &i in todo {
            let job = &self.jobs[i];
            nodes.push(queue::Node {
                label: format!("{name}/{}", job.id),
                group,
                cost: E::job_cost(self.scale(), job),
                intra_op,
                exclusive: false,
                job: true,
                first: false,
                deps: vec![base],
                work: Box::new(move || {
                    let prepared = self.prepared.get().expect("the setup node ran first");
                    E::train_job(&self.ctx(progress)?, prepared, job)
                }),
            });
        }
        nodes.push(queue::Node {
            label: format!("{name}/analysis"),
            group,
            cost: 1.0,
            intra_op: config::IntraOp::Own(1),
            exclusive: false,
            job: false,
            first: true,
            deps: (base..base + nodes.len()).collect(),
            work: Box::new(move || self.finish()),
        });
        nodes
    }

    fn finish(&self) -> anyhow::Result<()> {
        let outcome = self.analyse()?;
        *self.outcome.lock().expect("outcome lock") = Some(outcome);
        Ok(())
    }

    fn account(&self) -> Option<String> {
        self.outcome.lock().expect("outcome lock").as_ref().map(|o| account::<E>(&self.inv, o))
    }
}

/// The worker slots for `stages` under `opts`: `--jobs`, else `FLATTER_JOBS`,
/// else one per core; one when any trains on a GPU (one device, one stream).
#[cfg(feature = "train")]
pub fn workers(stages: &[&dyn Stage], opts: &Options) -> usize {
    if stages.iter().any(|s| !s.on_cpu()) {
        return 1;
    }
    opts.jobs.unwrap_or_else(progress::cpu_workers).max(1)
}

/// Runs planned experiments as one queue (setups, jobs and analyses of all of
/// them, [`queue`]), then returns their accounts in the order given. On an
/// error the accounts of the experiments that finished are in the error's
/// context.
pub fn run_stages(stages: &[&dyn Stage], opts: &Options) -> anyhow::Result<Vec<String>> {
    #[cfg(feature = "train")]
    {
        let progress = progress::Progress::new(opts.progress);
        let mut nodes = Vec::new();
        for (group, stage) in stages.iter().enumerate() {
            let base = nodes.len();
            nodes.extend(stage.nodes(&progress, group, base));
        }
        if let Err(e) = queue::run(nodes, workers(stages, opts), &progress) {
            let done: Vec<String> = stages.iter().filter_map(|s| s.account()).collect();
            return Err(if done.is_empty() { e } else { e.context(format!("finished before the error:\n{}", done.join("\n"))) });
        }
    }
    #[cfg(not(feature = "train"))]
    {
        let _ = opts;
        for stage in stages {
            stage.finish()?;
        }
    }
    Ok(stages.iter().map(|s| s.account().expect("every stage finished")).collect())
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
    let planned = plan_held::<E>(Held::Borrowed(file), inv)?;
    run_stages(&[&planned], &inv.opts)?;
    Ok(planned.take_outcome().expect("the analysis node ran"))
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
