//! Runs, jobs, shards and completeness: what makes every experiment
//! resumable and shardable in the same way.
//!
//! An experiment expands its config into [`Job`]s. A job is a list of runs
//! that are trained together (one batched program, or one process), each
//! with a stable id. A run's files live in `<out>/runs/<run-id>/`, and its
//! `summary.json` is written last and atomically. A run is complete exactly
//! when that file parses into the experiment's run-record type and the run's
//! `config.json` is the config the plan expects for it ([`RunStore`]); a
//! summary that fails either test is moved aside (`summary.json.corrupt-<t>`
//! or `.stale-<t>`) with a warning, and the run is retrained. A job is
//! complete when all its runs are.
//!
//! - Resuming: [`select`] skips complete jobs unless `force`.
//! - Sharding: `--shard i/n` takes the jobs at positions `i − 1, i − 1 + n, …`
//!   of the deterministic job list, so the shards partition the jobs and each
//!   run belongs to exactly one shard.
//! - A results directory is locked while a process writes it
//!   ([`lock_dir`]): an unsharded process holds it exclusively; shards of an
//!   n-way split hold it shared, plus the split's lock shared and their own
//!   shard's exclusively. So the shards of one split can write one directory
//!   at once (their jobs are disjoint), but the same shard cannot run twice,
//!   and shards of different splits (1/2 beside 1/3, whose jobs overlap)
//!   cannot run at once. The directory holds the config it was made with
//!   (which fixes the job list); a different config is an error unless
//!   `force`, which then discards the old runs, and only as the one writer
//!   (the exclusive lock).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::harness::io::{IoError, write_json, write_record};

/// One shard `index` of `count` (1-based), as `--shard index/count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1 ..= count.
    pub index: usize,
    /// The number of shards, ≥ 1.
    pub count: usize,
}

impl Shard {
    /// Whether the job at `position` of the job list belongs to this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("bad shard {s:?}: expected i/n with 1 <= i <= n, e.g. 2/8");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The training rate, FLOP/s, that job costs are estimated at: one core of
/// the reference 2-core machine, two jobs at once, one thread each. The
/// width-1/8 ResNet run (about 9.6e11 FLOP by `ResnetExp::job_cost`'s count)
/// took 50 s there (2026-12-02, issue 18). Costs only order the queue and
/// seed its first ETA, which then follows the measured job times.
pub const REFERENCE_FLOPS: f64 = 1.9e10;

/// Runs trained together, with a stable id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Unique within the experiment; stable across processes.
    pub id: String,
    /// The ids of its runs; unique within the experiment.
    pub runs: Vec<String>,
}

/// `<out>/runs/<run-id>`.
pub fn run_dir(out: &Path, run_id: &str) -> PathBuf {
    out.join("runs").join(run_id)
}

/// `<out>/runs/<run-id>/summary.json`, the file whose presence marks a run complete.
pub fn run_summary_path(out: &Path, run_id: &str) -> PathBuf {
    run_dir(out, run_id).join("summary.json")
}

/// Writes a finished run: `config.json`, `metrics.csv`, then `summary.json`
/// last, each atomically, so the run reads as complete only once all are
/// there. The summary must read back into its own type
/// ([`crate::harness::io::write_record`]).
pub fn write_run<S: Serialize + DeserializeOwned>(out: &Path, run_id: &str, config: &impl Serialize, metrics_csv: &str, summary: &S) -> Result<(), IoError> {
    let dir = run_dir(out, run_id);
    write_json(&dir.join("config.json"), config)?;
    crate::harness::io::write_atomic(&dir.join("metrics.csv"), metrics_csv.as_bytes())?;
    write_record(&dir.join("summary.json"), summary)
}

/// The summaries of `run_ids`, in order.
pub fn read_summaries<T: DeserializeOwned>(out: &Path, run_ids: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Vec<T>, IoError> {
    run_ids.into_iter().map(|id| crate::harness::io::read_json(&run_summary_path(out, id.as_ref()))).collect()
}

/// What a run's directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// No `summary.json`: not trained, or interrupted.
    Missing,
    /// A summary that parses into the run-record type, next to the expected config.
    Complete,
    /// A `summary.json` that cannot be read or does not parse (why).
    Unreadable(String),
    /// A readable summary whose `config.json` is missing or is not the
    /// config the plan has for this run (e.g. merged from a shard that ran
    /// another config).
    OtherConfig,
}

/// The runs of an experiment as the plan expects them: each run's config
/// (what its `config.json` must hold) and the type its summary must parse
/// into. The one judge of completeness, for training, resuming, shards and
/// the report.
pub struct RunStore<'a> {
    out: &'a Path,
    configs: BTreeMap<String, serde_json::Value>,
    parses: fn(&str) -> Result<(), String>,
}

fn parses_as<T: DeserializeOwned>(text: &str) -> Result<(), String> {
    serde_json::from_str::<T>(text).map(drop).map_err(|e| e.to_string())
}

impl<'a> RunStore<'a> {
    /// The store in `out` whose run records have type `T` and whose runs
    /// have the given configs (run id, the config as JSON).
    pub fn new<T: DeserializeOwned>(out: &'a Path, configs: impl IntoIterator<Item = (String, serde_json::Value)>) -> Self {
        RunStore { out, configs: configs.into_iter().collect(), parses: parses_as::<T> }
    }

    /// The results directory.
    pub fn out(&self) -> &Path {
        self.out
    }

    /// What `run_id`'s directory holds.
    pub fn state(&self, run_id: &str) -> RunState {
        let text = match fs::read_to_string(run_summary_path(self.out, run_id)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return RunState::Missing,
            Err(e) => return RunState::Unreadable(e.to_string()),
        };
        if let Err(why) = (self.parses)(&text) {
            return RunState::Unreadable(why);
        }
        if let Some(want) = self.configs.get(run_id) {
            let have = fs::read_to_string(run_dir(self.out, run_id).join("config.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            if have.as_ref() != Some(want) {
                return RunState::OtherConfig;
            }
        }
        RunState::Complete
    }

    /// Whether a run is complete.
    pub fn is_complete(&self, run_id: &str) -> bool {
        self.state(run_id) == RunState::Complete
    }

    /// Whether every run of `job` is complete.
    pub fn job_complete(&self, job: &Job) -> bool {
        job.runs.iter().all(|r| self.is_complete(r))
    }

    /// Whether every run of every job is complete.
    pub fn all_complete(&self, jobs: &[Job]) -> bool {
        jobs.iter().all(|j| self.job_complete(j))
    }

    /// Runs complete on disk, of those in `jobs`.
    pub fn count_complete(&self, jobs: &[Job]) -> usize {
        jobs.iter().flat_map(|j| &j.runs).filter(|r| self.is_complete(r)).count()
    }

    /// Moves an unreadable or stale summary aside (`summary.json.corrupt-<t>`
    /// or `summary.json.stale-<t>`, t in Unix seconds) so the run is
    /// retrained, and warns naming it. Returns where it went, or `None` when
    /// the run is missing or complete.
    pub fn set_aside(&self, run_id: &str) -> Result<Option<PathBuf>, IoError> {
        self.set_aside_in(run_id, self.state(run_id))
    }

    /// [`Self::set_aside`] with the run's state already read.
    fn set_aside_in(&self, run_id: &str, state: RunState) -> Result<Option<PathBuf>, IoError> {
        let (tag, why) = match state {
            RunState::Missing | RunState::Complete => return Ok(None),
            RunState::Unreadable(why) => ("corrupt", why),
            RunState::OtherConfig => ("stale", "its config.json is missing or is not this run's config".to_string()),
        };
        let from = run_summary_path(self.out, run_id);
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let to = from.with_file_name(format!("summary.json.{tag}-{secs}"));
        fs::rename(&from, &to).map_err(|source| IoError::Io { path: from.clone(), source })?;
        eprintln!("warning: {} was not a usable run record ({why}); moved to {} and the run will be retrained", from.display(), to.display());
        Ok(Some(to))
    }
}

/// What one process must train.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Positions in the job list to train, in order.
    pub todo: Vec<usize>,
    /// Jobs of this shard skipped because they are complete.
    pub skipped_complete: usize,
    /// Jobs of other shards.
    pub other_shards: usize,
}

/// The jobs this process trains: those of `shard` (all when `None`) that
/// are not complete (all of them when `force`). Unusable summaries of this
/// shard's runs are moved aside first ([`RunStore::set_aside`]).
pub fn select(jobs: &[Job], store: &RunStore<'_>, shard: Option<Shard>, force: bool) -> Result<Selection, IoError> {
    let mut sel = Selection { todo: Vec::new(), skipped_complete: 0, other_shards: 0 };
    for (i, job) in jobs.iter().enumerate() {
        if shard.is_some_and(|s| !s.contains(i)) {
            sel.other_shards += 1;
            continue;
        }
        // Each record is read once: an unusable one is set aside, and the
        // job is complete only when every run's record was usable.
        let mut complete = !force;
        if !force {
            for run in &job.runs {
                let state = store.state(run);
                complete &= state == RunState::Complete;
                store.set_aside_in(run, state)?;
            }
        }
        if complete {
            sel.skipped_complete += 1;
        } else {
            sel.todo.push(i);
        }
    }
    Ok(sel)
}

/// Checks that job and run ids are unique and usable as directory names.
pub fn validate_jobs(jobs: &[Job]) -> Result<(), String> {
    // Where each id was first seen, so that a repeat names both places.
    let mut seen_jobs = std::collections::HashMap::new();
    let mut seen_runs = std::collections::HashMap::new();
    let ok_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 200
            && s != "."
            && s != ".."
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+=".contains(c))
    };
    for (j, job) in jobs.iter().enumerate() {
        if let Some(first) = seen_jobs.insert(job.id.as_str(), j) {
            return Err(format!(
                "job id {:?} appears twice (jobs {first} and {j} of {}): two values of a grid print alike in ids",
                job.id,
                jobs.len()
            ));
        }
        for (r, run) in job.runs.iter().enumerate() {
            if !ok_name(run) {
                return Err(format!("run id {run:?} (run {r} of job {:?}) is not a plain file name (1 to 200 of letters, digits, ._-+=)", job.id));
            }
            if let Some((fj, fr)) = seen_runs.insert(run.as_str(), (j, r)) {
                return Err(format!(
                    "run id {run:?} appears twice (run {fr} of job {:?} and run {r} of job {:?}): two values of a grid print alike in run ids",
                    jobs[fj].id, job.id
                ));
            }
        }
    }
    Ok(())
}

/// An error preparing a results directory.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Filesystem or parse error.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Another process holds the lock.
    #[error("{0} is being written by another process (it holds {1})")]
    Busy(PathBuf, String),
    /// Shards of another split are writing the directory.
    #[error(
        "{dir} is being written by shards of a {running}-way split (…/{running}); shard {wanted} would overlap their jobs. \
         Use --shard i/{running}, or wait for them to finish"
    )]
    OtherSplit {
        /// The results directory.
        dir: PathBuf,
        /// The split that is running.
        running: usize,
        /// The shard that was asked for.
        wanted: Shard,
    },
    /// `--force` with a changed config would delete files other shards are writing.
    #[error(
        "{0}: --force with a changed config discards every run, so it must be the only writer, \
         but shards are writing it now; wait for them, or choose another --out"
    )]
    ForceWhileShared(PathBuf),
    /// The directory was made with another config.
    #[error(
        "{dir} holds results made with a different config (see {dir}/config.json); \
         pass --force to discard them, or choose another --out"
    )]
    OtherConfig {
        /// The results directory.
        dir: PathBuf,
    },
}

/// The locks on a results directory; released when dropped, and by the
/// operating system when the process dies, so they never go stale.
#[derive(Debug)]
pub struct DirLock {
    _files: Vec<fs::File>,
}

/// Opens (creating) the lock file `out/name`.
fn lock_file(out: &Path, name: &str) -> Result<(fs::File, PathBuf), IoError> {
    fs::create_dir_all(out).map_err(|source| IoError::Io { path: out.to_path_buf(), source })?;
    let path = out.join(name);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| IoError::Io { path: path.clone(), source })?;
    Ok((file, path))
}

fn try_lock(out: &Path, name: &str, shared: bool) -> Result<fs::File, PrepareError> {
    let (file, path) = lock_file(out, name)?;
    let result = if shared { file.try_lock_shared() } else { file.try_lock() };
    match result {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(PrepareError::Busy(out.to_path_buf(), path.display().to_string())),
        Err(fs::TryLockError::Error(source)) => Err(IoError::Io { path, source }.into()),
    }
}

/// The lock file every shard of an n-way split holds shared.
fn split_lock_name(count: usize) -> String {
    format!(".lock-split-{count}")
}

/// Locks `out` for writing, or fails at once if that would collide:
/// - without a shard, `out/.lock` exclusively;
/// - with shard i/n, `out/.lock` shared, `out/.lock-split-n` shared and
///   `out/.lock-shard-i-of-n` exclusively, after checking that no shard of
///   another split m ≠ n holds its `.lock-split-m`. Each process takes its
///   own split lock before it checks the others, so of two splits started
///   at once at least one sees the other and refuses.
pub fn lock_dir(out: &Path, shard: Option<Shard>) -> Result<DirLock, PrepareError> {
    let Some(s) = shard else {
        return Ok(DirLock { _files: vec![try_lock(out, ".lock", false)?] });
    };
    let dir_lock = try_lock(out, ".lock", true)?;
    let split = try_lock(out, &split_lock_name(s.count), true)?;
    let entries = fs::read_dir(out).map_err(|source| IoError::Io { path: out.to_path_buf(), source })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(other) = name.strip_prefix(".lock-split-").and_then(|n| n.parse::<usize>().ok()) else { continue };
        if other == s.count {
            continue;
        }
        if try_lock(out, &name, false).is_err() {
            return Err(PrepareError::OtherSplit { dir: out.to_path_buf(), running: other, wanted: s });
        }
    }
    let own = try_lock(out, &format!(".lock-shard-{}-of-{}", s.index, s.count), false)?;
    Ok(DirLock { _files: vec![dir_lock, split, own] })
}

/// Whether some process is writing `out` now (holds any lock of
/// [`lock_dir`]); the report says "in progress" for such an experiment.
pub fn being_written(out: &Path) -> bool {
    let path = out.join(".lock");
    let Ok(file) = fs::OpenOptions::new().write(true).open(&path) else { return false };
    matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
}

/// Waits for, then holds, the exclusive lock on `out/.setup.lock` while a
/// shared setup artefact (a valley checkpoint) is made or read, so that
/// shards running at once compute it once and never read one half-made.
pub fn lock_setup(out: &Path) -> Result<DirLock, PrepareError> {
    let (file, path) = lock_file(out, ".setup.lock")?;
    file.lock().map_err(|source| IoError::Io { path, source })?;
    Ok(DirLock { _files: vec![file] })
}

/// Prepares `out` for (more) runs of an experiment whose resolved config is
/// `config`, and returns the lock ([`lock_dir`]), held for as long as the
/// process writes.
///
/// - A missing `config.json` is written.
/// - An equal one keeps every complete run (resuming).
/// - A different one is an error, unless `force`: then `runs/`, `setup/`,
///   `figures/` and the summary are removed before the new config is
///   written, which a shard may do only when it can take the directory's
///   exclusive lock (no other writer).
///
/// The experiment's `summary.json` is always removed, so a summary never
/// describes a run set that is about to change; it is rewritten once every
/// run is complete. Temporaries of killed writers are swept.
pub fn prepare_out(out: &Path, config: &impl Serialize, force: bool, shard: Option<Shard>) -> Result<DirLock, PrepareError> {
    let lock = lock_dir(out, shard)?;
    for path in crate::harness::io::sweep_temporaries(out) {
        eprintln!("note: removed {}, a temporary file left by a killed write", path.display());
    }
    let config_path = out.join("config.json");
    let wanted = serde_json::to_value(config)
        .map_err(|e| IoError::Parse { path: config_path.clone(), message: format!("serialising: {e}") })?;
    let existing = match fs::read_to_string(&config_path) {
        Ok(text) => Some(serde_json::from_str::<serde_json::Value>(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(IoError::Io { path: config_path, source }.into()),
    };
    let remove = |p: PathBuf| -> Result<(), IoError> {
        let r = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IoError::Io { path: p, source }),
        }
    };
    remove(out.join("summary.json"))?;
    match existing {
        Some(Some(v)) if v == wanted => {}
        None => write_json(&config_path, &wanted)?,
        Some(_) if force => {
            if shard.is_some() {
                // Upgrade the shared `.lock` to exclusive: refused while any
                // other shard holds it.
                match lock._files[0].try_lock() {
                    Ok(()) => {}
                    Err(fs::TryLockError::WouldBlock) => return Err(PrepareError::ForceWhileShared(out.to_path_buf())),
                    Err(fs::TryLockError::Error(source)) => return Err(IoError::Io { path: out.join(".lock"), source }.into()),
                }
            }
            for sub in ["runs", "setup", "figures"] {
                remove(out.join(sub))?;
            }
            write_json(&config_path, &wanted)?;
        }
        Some(_) => return Err(PrepareError::OtherConfig { dir: out.to_path_buf() }),
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::io::write_json;

    fn jobs(n: usize) -> Vec<Job> {
        (0..n).map(|i| Job { id: format!("j{i}"), runs: vec![format!("j{i}-a"), format!("j{i}-b")] }).collect()
    }

    #[test]
    fn shard_parses_and_rejects() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x", "1/", "/2", "1/2/3"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("i/n"), "{bad}: {err}");
        }
    }

    fn store(out: &Path) -> RunStore<'_> {
        RunStore::new::<i32>(out, [])
    }

    #[test]
    fn shards_partition_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let all = jobs(10);
        for count in 1..=4 {
            let mut seen = vec![0; all.len()];
            for index in 1..=count {
                let sel = select(&all, &store(dir.path()), Some(Shard { index, count }), false).unwrap();
                assert_eq!(sel.todo.len() + sel.other_shards, all.len());
                for i in sel.todo {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "count {count}: {seen:?}");
        }
    }

    #[test]
    fn complete_jobs_are_skipped_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let all = jobs(3);
        let st = store(dir.path());
        write_json(&run_summary_path(dir.path(), "j1-a"), &1).unwrap();
        assert_eq!(select(&all, &st, None, false).unwrap().todo, vec![0, 1, 2], "half a job is not complete");
        write_json(&run_summary_path(dir.path(), "j1-b"), &2).unwrap();
        let sel = select(&all, &st, None, false).unwrap();
        assert_eq!((sel.todo, sel.skipped_complete), (vec![0, 2], 1));
        assert_eq!(select(&all, &st, None, true).unwrap().todo, vec![0, 1, 2]);
    }

    /// Issue 17: a summary that is valid JSON but not a run record (`{}`, or a
    /// record with a `null` where a number belongs) used to count as complete
    /// forever, so the experiment could never be analysed. It is now not
    /// complete, is moved aside with its reason, and the job is retrained.
    #[test]
    fn an_unreadable_summary_is_moved_aside_and_retrained() {
        let dir = tempfile::tempdir().unwrap();
        let all = jobs(2);
        let st = store(dir.path());
        for (run, text) in [("j0-a", "{}"), ("j0-b", "null"), ("j1-a", "{")] {
            write_json(&run_summary_path(dir.path(), run), &0).unwrap();
            fs::write(run_summary_path(dir.path(), run), text).unwrap();
            assert!(matches!(st.state(run), RunState::Unreadable(_)), "{run}: {text}");
        }
        write_json(&run_summary_path(dir.path(), "j1-b"), &7).unwrap();
        let sel = select(&all, &st, None, false).unwrap();
        assert_eq!(sel.todo, vec![0, 1]);
        for run in ["j0-a", "j0-b", "j1-a"] {
            assert_eq!(st.state(run), RunState::Missing, "{run} was moved aside");
            let aside: Vec<String> = fs::read_dir(run_dir(dir.path(), run))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(aside.iter().any(|n| n.starts_with("summary.json.corrupt-")), "{run}: {aside:?}");
        }
        assert!(st.is_complete("j1-b"), "a good record is kept");
    }

    /// A record whose `config.json` is not the run's config (a shard merged
    /// from a run of another config) is not complete; with its config it is.
    #[test]
    fn a_record_of_another_config_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"id": "r", "lr": 0.1});
        let st = RunStore::new::<i32>(dir.path(), [("r".to_string(), config.clone())]);
        write_json(&run_summary_path(dir.path(), "r"), &1).unwrap();
        assert_eq!(st.state("r"), RunState::OtherConfig, "no config.json");
        write_json(&run_dir(dir.path(), "r").join("config.json"), &serde_json::json!({"id": "r", "lr": 0.2})).unwrap();
        assert_eq!(st.state("r"), RunState::OtherConfig);
        write_json(&run_dir(dir.path(), "r").join("config.json"), &config).unwrap();
        assert_eq!(st.state("r"), RunState::Complete);
        write_json(&run_dir(dir.path(), "r").join("config.json"), &serde_json::json!({"id": "r", "lr": 0.3})).unwrap();
        let to = st.set_aside("r").unwrap().unwrap();
        assert!(to.file_name().unwrap().to_string_lossy().starts_with("summary.json.stale-"), "{to:?}");
        assert_eq!(st.state("r"), RunState::Missing);
    }

    #[test]
    fn bad_ids_are_rejected() {
        assert!(validate_jobs(&jobs(3)).is_ok());
        let mut dup = jobs(2);
        dup[1].runs[0] = "j0-a".into();
        assert!(validate_jobs(&dup).unwrap_err().contains("twice"));
        let mut slash = jobs(1);
        slash[0].runs[0] = "../x".into();
        assert!(validate_jobs(&slash).unwrap_err().contains("file name"));
    }

    #[test]
    fn prepare_keeps_runs_of_the_same_config_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("exp");
        drop(prepare_out(&out, &("cfg", 1), false, None).unwrap());
        let is_complete = |out: &Path, run: &str| store(out).is_complete(run);
        write_json(&run_summary_path(&out, "r"), &1).unwrap();
        write_json(&out.join("summary.json"), &"old").unwrap();
        drop(prepare_out(&out, &("cfg", 1), false, None).unwrap());
        assert!(is_complete(&out, "r"), "same config keeps runs");
        assert!(!out.join("summary.json").exists(), "a stale summary is removed");
        let err = prepare_out(&out, &("cfg", 2), false, None).unwrap_err().to_string();
        assert!(err.contains("different config") && err.contains("--force"), "{err}");
        assert!(is_complete(&out, "r"), "a refused prepare touches nothing");
        drop(prepare_out(&out, &("cfg", 2), true, None).unwrap());
        assert!(!is_complete(&out, "r"), "force with a new config discards old runs");
    }

    #[test]
    fn a_second_writer_is_refused_but_other_shards_may_write() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path(), None).unwrap();
        assert!(being_written(dir.path()));
        let err = lock_dir(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("another process"), "{err}");
        assert!(lock_dir(dir.path(), Some(Shard { index: 1, count: 2 })).is_err(), "a shard waits for an unsharded writer");
        drop(held);
        assert!(!being_written(dir.path()));
        let one = lock_dir(dir.path(), Some(Shard { index: 1, count: 2 })).unwrap();
        let two = lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).expect("different shards write at once");
        assert!(being_written(dir.path()), "the report sees shards at work");
        let err = lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).unwrap_err().to_string();
        assert!(err.contains(".lock-shard-2-of-2"), "the same shard twice: {err}");
        assert!(lock_dir(dir.path(), None).is_err(), "no unsharded writer while shards run");
        drop((one, two));
        lock_dir(dir.path(), None).unwrap();
    }

    /// Issue 17: shards 1/2 and 1/3 overlap in jobs (position 0 is in both),
    /// and were both allowed to write. Shards of different splits now refuse
    /// each other, naming the split that runs; after it ends the other may go.
    #[test]
    fn shards_of_different_splits_refuse_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let half = lock_dir(dir.path(), Some(Shard { index: 1, count: 2 })).unwrap();
        let err = lock_dir(dir.path(), Some(Shard { index: 1, count: 3 })).unwrap_err().to_string();
        assert!(err.contains("2-way split") && err.contains("1/3"), "{err}");
        let other_half = lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).expect("the same split may run");
        drop((half, other_half));
        let third = lock_dir(dir.path(), Some(Shard { index: 1, count: 3 })).expect("the 2-way split has ended");
        assert!(lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).is_err(), "and now 3 keeps 2 out");
        drop(third);
    }

    /// Issue 17: `--force` with a changed config deletes `runs/`; a shard
    /// doing that held only the shared lock, so it could delete another
    /// shard's files mid-write. It must now be the only writer.
    #[test]
    fn force_with_a_new_config_needs_to_be_the_only_writer() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("exp");
        let (one, two) = (Some(Shard { index: 1, count: 2 }), Some(Shard { index: 2, count: 2 }));
        drop(prepare_out(&out, &1, false, None).unwrap());
        let running = prepare_out(&out, &1, false, two).unwrap();
        write_json(&run_summary_path(&out, "being-written"), &1).unwrap();
        let err = prepare_out(&out, &2, true, one).unwrap_err().to_string();
        assert!(err.contains("only writer"), "{err}");
        assert!(store(&out).is_complete("being-written"), "nothing was deleted");
        drop(running);
        drop(prepare_out(&out, &2, true, one).expect("alone, force may discard"));
        assert!(!store(&out).is_complete("being-written"));
        // With the same config, force retrains its own shard and deletes
        // nothing, so it may run beside other shards.
        let a = prepare_out(&out, &2, true, one).unwrap();
        let b = prepare_out(&out, &2, true, two).unwrap();
        drop((a, b));
    }
}
