//! Runs, jobs, shards and completeness: what makes every experiment
//! resumable and shardable in the same way.
//!
//! An experiment expands its config into [`Job`]s. A job is a list of runs
//! that are trained together (one batched program, or one process), each
//! with a stable id. A run's files live in `<out>/runs/<run-id>/`, and its
//! `summary.json` is written last and atomically: a run is complete exactly
//! when that file exists and parses. A job is complete when all its runs are.
//!
//! - Resuming: [`select`] skips complete jobs unless `force`.
//! - Sharding: `--shard i/n` takes the jobs at positions `i − 1, i − 1 + n, …`
//!   of the deterministic job list, so the shards partition the jobs and each
//!   run belongs to exactly one shard.
//! - A results directory is locked while a process writes it
//!   ([`prepare_out`]): an unsharded process holds it exclusively; shards
//!   hold it shared plus an exclusive lock of their own shard, so different
//!   shards of one experiment can write one directory at once (their jobs are
//!   disjoint) but the same shard cannot run twice. The directory holds the
//!   config it was made with; a different config is an error unless `force`,
//!   which then discards the old runs.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::harness::io::{IoError, write_json};

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
/// last, each atomically, so the run reads as complete only once all are there.
pub fn write_run(out: &Path, run_id: &str, config: &impl Serialize, metrics_csv: &str, summary: &impl Serialize) -> Result<(), IoError> {
    let dir = run_dir(out, run_id);
    write_json(&dir.join("config.json"), config)?;
    crate::harness::io::write_atomic(&dir.join("metrics.csv"), metrics_csv.as_bytes())?;
    write_json(&dir.join("summary.json"), summary)
}

/// The summaries of `run_ids`, in order.
pub fn read_summaries<T: serde::de::DeserializeOwned>(out: &Path, run_ids: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Vec<T>, IoError> {
    run_ids.into_iter().map(|id| crate::harness::io::read_json(&run_summary_path(out, id.as_ref()))).collect()
}

/// Whether a run is complete: its summary exists and is valid JSON. (Atomic
/// writes make a torn summary impossible; the parse guards against a file
/// from elsewhere.)
pub fn is_complete(out: &Path, run_id: &str) -> bool {
    fs::read_to_string(run_summary_path(out, run_id))
        .is_ok_and(|text| serde_json::from_str::<serde_json::Value>(&text).is_ok())
}

/// Whether every run of `job` is complete.
pub fn job_complete(out: &Path, job: &Job) -> bool {
    job.runs.iter().all(|r| is_complete(out, r))
}

/// Whether every run of every job is complete.
pub fn all_complete(jobs: &[Job], out: &Path) -> bool {
    jobs.iter().all(|j| job_complete(out, j))
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
/// are not complete (all of them when `force`).
pub fn select(jobs: &[Job], out: &Path, shard: Option<Shard>, force: bool) -> Selection {
    let mut sel = Selection { todo: Vec::new(), skipped_complete: 0, other_shards: 0 };
    for (i, job) in jobs.iter().enumerate() {
        if shard.is_some_and(|s| !s.contains(i)) {
            sel.other_shards += 1;
        } else if !force && job_complete(out, job) {
            sel.skipped_complete += 1;
        } else {
            sel.todo.push(i);
        }
    }
    sel
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

/// Locks `out` for writing, or fails at once if that would collide: without
/// a shard, `out/.lock` exclusively; with shard i/n, `out/.lock` shared and
/// `out/.lock-shard-i-of-n` exclusively.
pub fn lock_dir(out: &Path, shard: Option<Shard>) -> Result<DirLock, PrepareError> {
    Ok(DirLock {
        _files: match shard {
            None => vec![try_lock(out, ".lock", false)?],
            Some(s) => vec![try_lock(out, ".lock", true)?, try_lock(out, &format!(".lock-shard-{}-of-{}", s.index, s.count), false)?],
        },
    })
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
///   `figures/` and the summary are removed before the new config is written.
///
/// The experiment's `summary.json` is always removed, so a summary never
/// describes a run set that is about to change; it is rewritten once every
/// run is complete.
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

    #[test]
    fn shards_partition_the_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let all = jobs(10);
        for count in 1..=4 {
            let mut seen = vec![0; all.len()];
            for index in 1..=count {
                let sel = select(&all, dir.path(), Some(Shard { index, count }), false);
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
        write_json(&run_summary_path(dir.path(), "j1-a"), &1).unwrap();
        assert_eq!(select(&all, dir.path(), None, false).todo, vec![0, 1, 2], "half a job is not complete");
        write_json(&run_summary_path(dir.path(), "j1-b"), &2).unwrap();
        let sel = select(&all, dir.path(), None, false);
        assert_eq!((sel.todo, sel.skipped_complete), (vec![0, 2], 1));
        assert_eq!(select(&all, dir.path(), None, true).todo, vec![0, 1, 2]);
        // A torn or foreign file is not a summary.
        fs::write(run_summary_path(dir.path(), "j1-b"), b"{").unwrap();
        assert!(!is_complete(dir.path(), "j1-b"));
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
        let err = lock_dir(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("another process"), "{err}");
        assert!(lock_dir(dir.path(), Some(Shard { index: 1, count: 2 })).is_err(), "a shard waits for an unsharded writer");
        drop(held);
        let one = lock_dir(dir.path(), Some(Shard { index: 1, count: 2 })).unwrap();
        let two = lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).expect("different shards write at once");
        let err = lock_dir(dir.path(), Some(Shard { index: 2, count: 2 })).unwrap_err().to_string();
        assert!(err.contains(".lock-shard-2-of-2"), "the same shard twice: {err}");
        assert!(lock_dir(dir.path(), None).is_err(), "no unsharded writer while shards run");
        drop((one, two));
        lock_dir(dir.path(), None).unwrap();
    }
}
