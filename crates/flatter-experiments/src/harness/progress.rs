//! The progress display of an invocation: one line for every job of every
//! experiment (done, total, elapsed, an ETA from the measured job times), and
//! one bar per running job. On a terminal it redraws; in a log (stderr not a
//! terminal) it degrades to a line at most every 30 s.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::harness::queue::hms;

/// The progress display of an invocation.
pub struct Progress {
    /// The container (hidden when progress is off or stderr is a log).
    pub bars: MultiProgress,
    /// Jobs done of the jobs this process trains.
    pub jobs: ProgressBar,
    /// Periodic lines instead of bars (stderr is not a terminal).
    lines: bool,
    /// When the last line was printed, and the invocation's start.
    last_line: Mutex<Option<Instant>>,
    start: Instant,
    /// Every (jobs done, ETA in seconds) reported, in order.
    pub etas: Mutex<Vec<(usize, f64)>>,
}

/// How often a log gets a progress line.
const LINE_EVERY: Duration = Duration::from_secs(30);

impl Progress {
    /// A display on stderr (`show`), or a hidden one.
    pub fn new(show: bool) -> Progress {
        let terminal = show && std::io::stderr().is_terminal();
        let bars = MultiProgress::with_draw_target(if terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
        let bar = bars.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("all [{elapsed_precise}] {bar:30} {pos}/{len} jobs {msg}").expect("progress template"),
        );
        if terminal {
            bar.enable_steady_tick(Duration::from_secs(1));
        }
        Progress { bars, jobs: bar, lines: show && !terminal, last_line: Mutex::new(None), start: Instant::now(), etas: Mutex::new(Vec::new()) }
    }

    /// Sets the number of jobs to train and says so.
    pub fn plan(&self, jobs: usize) {
        self.jobs.set_length(jobs as u64);
        self.line(&format!("{jobs} jobs to train"), true);
    }

    /// A job finished: `done` of `total`, `running` nodes still running, and
    /// the expected seconds left.
    pub fn job_done(&self, done: usize, total: usize, running: usize, eta: f64) {
        self.jobs.set_position(done as u64);
        self.etas.lock().expect("progress lock").push((done, eta));
        let msg = format!("({running} running, eta {})", hms(eta));
        self.jobs.set_message(msg.clone());
        self.line(&format!("{done}/{total} jobs done {msg}"), done == total);
        job_written();
    }

    /// The queue is done.
    pub fn finish(&self) {
        self.jobs.finish_and_clear();
    }

    fn line(&self, text: &str, always: bool) {
        if !self.lines {
            return;
        }
        let mut last = self.last_line.lock().expect("progress lock");
        if always || last.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
            eprintln!("[{}] {text}", hms(self.start.elapsed().as_secs_f64()));
            *last = Some(Instant::now());
        }
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

/// Called by the queue after a job's files are all written. When
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
