//! The progress display of a run set, and the workers that train its jobs.

use crate::harness::plan::{Job, Selection};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display of a run set: a line for the jobs and one bar per worker.
pub struct Progress {
    /// The container (hidden when progress is off).
    pub bars: MultiProgress,
    /// Jobs done of the jobs this process trains.
    pub jobs: ProgressBar,
}

impl Progress {
    /// A display for the `selection` of `experiment`'s `jobs`.
    pub fn new(experiment: &str, jobs: &[Job], selection: &Selection, show: bool) -> Progress {
        let bars = MultiProgress::with_draw_target(if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
        let bar = bars.add(ProgressBar::new(selection.todo.len() as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} jobs (eta {eta}) {msg}")
                .expect("progress template"),
        );
        bar.set_prefix(experiment.to_string());
        let runs: usize = selection.todo.iter().map(|&i| jobs[i].runs.len()).sum();
        let mut msg = format!("{runs} runs");
        if selection.skipped_complete > 0 || selection.other_shards > 0 {
            msg += &format!(
                "; {} jobs complete on disk, {} in other shards",
                selection.skipped_complete, selection.other_shards
            );
        }
        bar.set_message(msg);
        Progress { bars, jobs: bar }
    }

    /// Marks a job done (its files are all written): advances the bar and calls [`job_written`].
    pub fn job_done(&self) {
        self.jobs.inc(1);
        job_written();
    }

    /// A bar of `len` steps for one job.
    pub fn job_bar(&self, name: &str, len: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>16} [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta})")
                .expect("progress template"),
        );
        bar.set_prefix(name.to_string());
        bar
    }
}

/// Runs `work` on every item of `todo` with up to `workers` threads, in order
/// of the list; the first error stops new work and is returned. Each call of
/// `work` writes its own results, so a crash keeps what finished.
pub fn for_each_parallel<T: Sync>(
    todo: &[T],
    workers: usize,
    work: impl Fn(&T) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1).min(todo.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.lock().expect("lock").is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(item) = todo.get(i) else { return };
                    if let Err(e) = work(item) {
                        failed.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match failed.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Worker threads for CPU work: `FLATTER_JOBS` when set, else the machine's parallelism.
pub fn cpu_workers() -> usize {
    std::env::var(JOBS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// `FLATTER_JOBS=N` (N ≥ 1) sets [`cpu_workers`]; unset or not a positive
/// integer, it is one per core.
pub const JOBS_ENV: &str = "FLATTER_JOBS";

/// The environment variable of [`job_written`]'s test hook.
pub const ABORT_AFTER_JOBS_ENV: &str = "FLATTER_ABORT_AFTER_JOBS";

static JOBS_WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Called by every runner after a job's files are all written. When
/// `FLATTER_ABORT_AFTER_JOBS=k` is set, the process aborts (no unwinding, no
/// cleanup, like a kill) once k jobs were written in it: the resume test's
/// way to interrupt a run set at a known point.
pub fn job_written() {
    let done = JOBS_WRITTEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if let Some(k) = std::env::var(ABORT_AFTER_JOBS_ENV).ok().and_then(|v| v.parse::<usize>().ok())
        && done >= k
    {
        eprintln!("{ABORT_AFTER_JOBS_ENV}={k}: aborting after {done} jobs");
        std::process::abort();
    }
}
