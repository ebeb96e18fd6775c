//! `flatter-experiment all` (what `cargo xtask reproduce-all` runs) at the
//! smoke scale: interrupted and resumed, or split into shards and merged by
//! `report`, it gives the same result set as one clean run.

#![cfg(feature = "train")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_flatter-experiment");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `flatter-experiment all --scale smoke` into `out`, not yet started.
fn all_cmd(out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["all", "--scale", "smoke", "--quiet", "--experiments"])
        .arg(root().join("experiments"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove(flatter_experiments::harness::progress::ABORT_AFTER_JOBS_ENV);
    cmd
}

fn all(out: &Path, extra: &[&str], abort_after: Option<usize>) -> std::process::Output {
    let mut cmd = all_cmd(out, extra);
    if let Some(k) = abort_after {
        cmd.env(flatter_experiments::harness::progress::ABORT_AFTER_JOBS_ENV, k.to_string());
    }
    cmd.output().unwrap()
}

/// `flatter-experiment report` on `out`.
fn report(out: &Path) -> std::process::Output {
    Command::new(BIN).args(["report", "--experiments"]).arg(root().join("experiments")).arg("--out").arg(out).output().unwrap()
}

fn ok(out: std::process::Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

/// Every complete run under `out`: `<experiment>/<run>` → its metrics file.
fn result_set(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut set = BTreeMap::new();
    for exp in std::fs::read_dir(out).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let runs = exp.path().join("runs");
        for run in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
            if run.path().join("summary.json").exists() {
                let metrics = std::fs::read(run.path().join("metrics.csv")).unwrap_or_default();
                set.insert(format!("{}/{}", exp.file_name().to_string_lossy(), run.file_name().to_string_lossy()), metrics);
            }
        }
    }
    set
}

fn mtimes(out: &Path) -> BTreeMap<String, std::time::SystemTime> {
    result_set(out)
        .into_keys()
        .map(|k| {
            let (exp, run) = k.split_once('/').unwrap();
            let t = std::fs::metadata(out.join(exp).join("runs").join(run).join("summary.json")).unwrap().modified().unwrap();
            (k, t)
        })
        .collect()
}

/// The criteria of every experiment summary (wall times differ between runs).
fn criteria(out: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut m = BTreeMap::new();
    for exp in std::fs::read_dir(out).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let text = std::fs::read_to_string(exp.path().join("summary.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        m.insert(exp.file_name().to_string_lossy().into_owned(), v["criteria"].clone());
    }
    m
}

/// One clean smoke run, shared by the tests: its run set and its criteria.
struct Clean {
    runs: BTreeMap<String, Vec<u8>>,
    criteria: BTreeMap<String, serde_json::Value>,
}

fn clean() -> &'static Clean {
    static CLEAN: std::sync::OnceLock<Clean> = std::sync::OnceLock::new();
    CLEAN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clean");
        ok(all(&out, &[], None));
        // Every experiment is present in the smoke run, and the report covers every row of §9.
        for exp in flatter_experiments::REGISTRY.map(|e| e.name) {
            assert!(out.join(exp).join("summary.json").exists(), "{exp} missing from reproduce-all");
        }
        let claims: Vec<flatter_experiments::harness::report::ClaimRow> = flatter_experiments::harness::io::read_json(&out.join("claims.json")).unwrap();
        for i in 1..=15 {
            let id = format!("C{i}");
            assert!(claims.iter().any(|r| r.criterion.id == id && r.scale != "not run"), "{id} was not measured at the smoke scale");
        }
        assert!(out.join("REPORT.md").exists());
        Clean { runs: result_set(&out), criteria: criteria(&out) }
    })
}

#[test]
fn killed_and_resumed_equals_clean_and_shards_partition_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let reference = clean().runs.clone();
    assert!(reference.len() > 10, "{reference:?}");

    // Killed after two jobs, then resumed: nothing lost, nothing duplicated.
    let resumed = dir.path().join("resumed");
    let killed = all(&resumed, &[], Some(2));
    assert!(!killed.status.success(), "the abort hook must stop the first attempt");
    let partial = result_set(&resumed);
    assert!(!partial.is_empty() && partial.len() < reference.len(), "{} of {}", partial.len(), reference.len());
    assert!(!resumed.join("REPORT.md").exists());
    let text = ok(all(&resumed, &[], None));
    assert!(text.contains("complete on disk") || text.contains("report:"), "{text}");
    assert_eq!(result_set(&resumed), reference);
    assert_eq!(criteria(&resumed), clean().criteria.clone());

    // Shards: disjoint, and their union is the run set; `report` merges them.
    let sharded = dir.path().join("sharded");
    let mut seen = BTreeMap::new();
    for i in 1..=3 {
        ok(all(&sharded, &["--shard", &format!("{i}/3")], None));
        let before = seen.len();
        for (run, metrics) in result_set(&sharded) {
            match seen.get(&run) {
                Some((_, prev)) => assert_eq!(prev, &metrics, "{run} changed after its shard"),
                None => {
                    seen.insert(run, (i, metrics));
                }
            }
        }
        assert!(seen.len() > before, "shard {i} trained nothing");
        // Rerunning a finished shard retrains nothing: no summary is rewritten.
        let stamps = mtimes(&sharded);
        ok(all(&sharded, &["--shard", &format!("{i}/3")], None));
        assert_eq!(mtimes(&sharded), stamps, "rerunning shard {i} rewrote runs");
    }
    let mut per_shard = [0usize; 3];
    for (shard, _) in seen.values() {
        per_shard[shard - 1] += 1;
    }
    assert!(per_shard.iter().all(|&n| n > 0), "every shard trains something: {per_shard:?}");
    assert_eq!(result_set(&sharded), reference);
    ok(report(&sharded));
    assert_eq!(criteria(&sharded), clean().criteria.clone());
    assert!(sharded.join("REPORT.md").exists());
}

#[test]
fn a_changed_config_is_refused_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let exps = dir.path().join("experiments");
    std::fs::create_dir_all(&exps).unwrap();
    let text = std::fs::read_to_string(root().join("experiments/uv.toml")).unwrap();
    std::fs::write(exps.join("uv.toml"), &text).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["all", "--scale", "smoke", "--quiet", "--only", "uv", "--experiments"])
            .arg(&exps)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    ok(run(&[]));
    std::fs::write(exps.join("uv.toml"), text.replacen("noise_seeds = 2", "noise_seeds = 3", 1)).unwrap();
    let refused = run(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("different config") && err.contains("--force"), "{err}");
    ok(run(&["--force"]));
    assert!(out.join("uv/runs").read_dir().unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with("-s2")));
}

#[test]
fn a_sigkill_at_an_arbitrary_moment_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed");
    let mut child = all_cmd(&killed, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first run is complete (or let it finish if it is faster than the poll).
    let start = std::time::Instant::now();
    while (!killed.exists() || result_set(&killed).is_empty()) && start.elapsed().as_secs() < 120 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    ok(all(&killed, &[], None));
    assert_eq!(result_set(&killed), clean().runs.clone());
    assert_eq!(criteria(&killed), clean().criteria.clone());
}

#[test]
fn shards_running_at_once_in_one_directory_give_the_clean_result_set() {
    let dir = tempfile::tempdir().unwrap();
    let together = dir.path().join("together");
    let spawned: Vec<_> = (1..=3)
        .map(|i| {
            all_cmd(&together, &["--shard", &format!("{i}/3")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in spawned {
        ok(child.wait_with_output().unwrap());
    }
    ok(report(&together));
    assert_eq!(result_set(&together), clean().runs.clone());
    assert_eq!(criteria(&together), clean().criteria.clone());
}

/// Every run's `metrics.csv` and `summary.json` (times masked), by
/// `<experiment>/<run>/<file>`.
fn run_records(out: &Path) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    for (key, metrics) in result_set(out) {
        let (exp, run) = key.split_once('/').unwrap();
        let summary = std::fs::read_to_string(out.join(exp).join("runs").join(run).join("summary.json")).unwrap();
        assert!(summary.lines().count() > 3, "{key}: records are pretty-printed, one field per line");
        set.insert(format!("{key}/metrics.csv"), String::from_utf8(metrics).unwrap());
        set.insert(format!("{key}/summary.json"), common::masked(&summary, &["wall_seconds", "train_seconds"]));
    }
    set
}

/// Issue 18: the one queue (jobs of every experiment at once, setups beside
/// other experiments' jobs, analyses while others train) and the intra-op
/// thread count change no number. Every run record (times masked) and every
/// criterion of `--jobs 3` and of `--jobs 2 --threads-per-job 2` equals that
/// of `--jobs 1`, the one-job-at-a-time path.
#[test]
fn the_queue_and_thread_counts_change_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let text = ok(all(&one, &["--jobs", "1"], None));
    assert!(text.contains("one queue on 1 worker slots"), "{text}");
    let reference = run_records(&one);
    assert!(reference.len() > 20, "{}", reference.len());
    for (name, extra) in [("three", &["--jobs", "3"][..]), ("wide", &["--jobs", "2", "--threads-per-job", "2"][..])] {
        let out = dir.path().join(name);
        ok(all(&out, extra, None));
        let records = run_records(&out);
        assert_eq!(records.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>(), "{name}: the same runs");
        for (key, value) in &reference {
            assert_eq!(&records[key], value, "{name}: {key} differs from one job at a time");
        }
        assert_eq!(criteria(&out), criteria(&one), "{name}: the criteria");
    }
}
