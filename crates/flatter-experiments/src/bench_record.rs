//! The record a benchmark run leaves (issue 14): every row it printed, with
//! the thread count, the baseline and the ratio, plus when, on which commit,
//! by which command, on which CPU, and the machine's load before and after. `cargo xtask
//! bench` sets `FLATTER_BENCH_RECORD` to `docs/bench/<bench>.json`, which the
//! README's benchmark table quotes; without it nothing is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The environment variable naming the record's path.
pub const RECORD_ENV: &str = "FLATTER_BENCH_RECORD";

/// One measured row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// What was timed, e.g. "MLP 784-512×5-10, batch 128".
    pub workload: String,
    /// Intra-op threads on both sides.
    pub threads: usize,
    /// Who ran it: "flex", "ndarray", "pytorch".
    pub side: String,
    /// The median rate, or None when this side was skipped.
    #[serde(with = "crate::harness::real::option")]
    pub rate: Option<f64>,
    /// Its unit, e.g. "samples/s".
    pub unit: String,
    /// The rate over the baseline's rate in the same run, when both exist.
    #[serde(with = "crate::harness::real::option")]
    pub ratio: Option<f64>,
    /// The baseline the ratio is against (e.g. "pytorch 2.x, same threads").
    pub baseline: String,
    /// Why a side was skipped, or a remark.
    pub note: String,
}

/// A benchmark run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    /// The benchmark, e.g. "mlp_throughput".
    pub bench: String,
    /// UTC start time.
    pub date: String,
    /// `git rev-parse --short HEAD`, with "-dirty" when the tree had changes.
    pub commit: String,
    /// How to rerun it.
    pub command: String,
    /// The timing protocol in words (medians of what).
    pub protocol: String,
    /// The CPU's model name and per-core cache from `/proc/cpuinfo`. The
    /// ratios against PyTorch depend on it: the same commit measured 0.64x
    /// on an Intel Xeon and 0.98x on an AMD EPYC for the paper-width MLP
    /// (docs/notes/issue-14-landing.md). Empty in records written before it
    /// was added.
    #[serde(default)]
    pub cpu: String,
    /// `/proc/loadavg` before and after: a busy machine shows here.
    pub load_before: String,
    /// See `load_before`.
    pub load_after: String,
    /// The rows, in the order printed.
    pub rows: Vec<BenchRow>,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.trim().to_string())
}

/// "model name, cache size" of the first processor in `/proc/cpuinfo`, or
/// "unknown" where there is none.
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    match (field("model name"), field("cache size")) {
        (Some(model), Some(cache)) => format!("{model}, cache size {cache}"),
        (Some(model), None) => model,
        _ => "unknown".into(),
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).current_dir(root).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl BenchRecord {
    /// Starts a record of `bench`, rerun by `command`, timed as `protocol`;
    /// `root` is the repository (for the commit).
    pub fn start(bench: &str, command: &str, protocol: &str, root: &Path) -> Self {
        let commit = git(root, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
        let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        BenchRecord {
            bench: bench.into(),
            date: crate::gpu_check::utc_now(),
            commit: if dirty { format!("{commit}-dirty") } else { commit },
            command: command.into(),
            protocol: protocol.into(),
            cpu: cpu_model(),
            load_before: loadavg(),
            load_after: String::new(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; the ratio is `rate / baseline_rate` when both are known.
    #[allow(clippy::too_many_arguments)]
    pub fn row(&mut self, workload: &str, threads: usize, side: &str, rate: Option<f64>, unit: &str, baseline: (&str, Option<f64>), note: &str) {
        let ratio = match (rate, baseline.1) {
            (Some(r), Some(b)) if b > 0.0 => Some(r / b),
            _ => None,
        };
        self.rows.push(BenchRow {
            workload: workload.into(),
            threads,
            side: side.into(),
            rate,
            unit: unit.into(),
            ratio,
            baseline: baseline.0.into(),
            note: note.into(),
        });
    }

    /// Writes the record to the path in [`RECORD_ENV`], if set (atomically);
    /// returns where it went.
    pub fn finish(mut self) -> std::io::Result<Option<std::path::PathBuf>> {
        self.load_after = loadavg();
        let Ok(path) = std::env::var(RECORD_ENV) else { return Ok(None) };
        let path = std::path::PathBuf::from(path);
        crate::harness::io::write_json(&path, &self).map_err(std::io::Error::other)?;
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ratios come from both rates of the row, a skipped side has none, and
    /// the record reads back as written (NaN-safe floats).
    #[test]
    fn rows_carry_their_ratio_and_round_trip() {
        let mut r = BenchRecord::start("b", "cargo xtask bench b", "median of 7", Path::new(env!("CARGO_MANIFEST_DIR")));
        r.row("w", 2, "flex", Some(30.0), "samples/s", ("pytorch", Some(60.0)), "");
        r.row("w", 2, "pytorch", None, "samples/s", ("pytorch", None), "no torch");
        assert_eq!(r.rows[0].ratio, Some(0.5));
        assert_eq!(r.rows[1].ratio, None);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<BenchRecord>(&json).unwrap(), r);
        assert!(!r.commit.is_empty() && r.date.ends_with('Z'));
        assert!(!r.cpu.is_empty());
    }

    /// Records written before the CPU was recorded still read, with it empty.
    #[test]
    fn records_without_a_cpu_still_read() {
        let r = BenchRecord::start("b", "c", "p", Path::new(env!("CARGO_MANIFEST_DIR")));
        let mut json: serde_json::Value = serde_json::to_value(&r).unwrap();
        json.as_object_mut().unwrap().remove("cpu");
        let back: BenchRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back.cpu, "");
        assert_eq!(back.rows, r.rows);
    }
}
