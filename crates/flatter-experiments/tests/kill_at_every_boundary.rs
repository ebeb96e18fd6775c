//! A kill at every write boundary (issue 17): for each abort point of
//! `harness::abort::POINTS`, the `flatter-experiment` binary is aborted there
//! (`FLATTER_ABORT_AT`, `std::process::abort()`: no destructors, no flush,
//! like a SIGKILL), run again without the hook, and its records must equal an
//! uninterrupted run's byte for byte: every run's `metrics.csv` and
//! `summary.json` and the setup artefact's manifest, wall times masked.
//!
//! ResNet runs a test copy of its smoke table with one run seed and one C
//! multiplier (3 runs instead of 18): phase 1 and every write boundary are
//! the same, and each point costs about 3 s instead of 7.

#![cfg(feature = "train")]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flatter_experiments::harness::abort::{ABORT_AT_ENV, POINTS};
use flatter_experiments::harness::progress::ABORT_AFTER_JOBS_ENV;

const BIN: &str = env!("CARGO_BIN_EXE_flatter-experiment");

fn experiments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
}

/// `experiments/<name>.toml`, with `edit` applied to its parsed smoke table, written into `dir`.
fn test_config(dir: &Path, name: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let text = std::fs::read_to_string(experiments().join(format!("{name}.toml"))).unwrap();
    let mut file: toml::Table = toml::from_str(&text).unwrap();
    edit(file.get_mut("smoke").and_then(|s| s.as_table_mut()).unwrap());
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
    path
}

/// `flatter-experiment run <exp> --scale smoke` into `out`, aborted at `abort` if given.
fn run(exp: &str, config: &Path, out: &Path, abort: Option<&str>) -> Output {
    run_with(exp, config, out, abort, &[])
}

fn run_with(exp: &str, config: &Path, out: &Path, abort: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.envs(env.iter().copied());
    cmd.args(["run", exp, "--scale", "smoke", "--quiet", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .env_remove(ABORT_AT_ENV)
        .env_remove(ABORT_AFTER_JOBS_ENV);
    if let Some(point) = abort {
        cmd.env(ABORT_AT_ENV, point);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A pretty-printed JSON record without what depends on the process: the
/// `wall_seconds` lines, the `timing` object (times, and counts of this
/// process's steps) and a manifest's `sha256` lines (a burnpack record
/// carries Burn's parameter ids, which are drawn anew in every process, so
/// equal weights give other bytes). Everything else is compared byte for byte.
fn masked(json: &str) -> String {
    common::masked(json, &["wall_seconds", "sha256"])
}

/// The records that must not depend on interruptions: `runs/<id>/metrics.csv`,
/// `runs/<id>/summary.json` (masked) and the setup manifest `setup/<setup>` (masked).
fn records(out: &Path, setup: &str) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    set.insert(format!("setup/{setup}"), masked(&read(&out.join("setup").join(setup))));
    for run in std::fs::read_dir(out.join("runs")).unwrap().flatten() {
        let id = run.file_name().to_string_lossy().into_owned();
        set.insert(format!("{id}/metrics.csv"), read(&run.path().join("metrics.csv")));
        set.insert(format!("{id}/summary.json"), masked(&read(&run.path().join("summary.json"))));
    }
    set
}

/// Paths under `out` that a finished run must not leave: checkpoints,
/// phase 1's progress, temporary files.
fn leftovers(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            if name == "checkpoint" || name == "phase1-progress" || name.contains(".tmp.") {
                found.push(path.clone());
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

/// Kills `exp` at every point of `cases` in a fresh directory, resumes it,
/// and compares the records with `reference`'s.
fn kill_at_each(exp: &str, config: &Path, setup: &str, cases: &[String]) {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let out = run(exp, config, &reference, None);
    assert!(out.status.success(), "{}", text(&out));
    let want = records(&reference, setup);
    assert!(want.len() >= 7, "{want:?}");
    for (i, case) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        let killed = run(exp, config, &dir, Some(case));
        assert_eq!(
            killed.status.signal(),
            Some(SIGABRT),
            "{case}: the hook must abort the run\n{}",
            text(&killed)
        );
        assert!(
            text(&killed).contains(&format!("aborting at {}", case.split(':').next().unwrap())),
            "{case}: {}",
            text(&killed)
        );
        let resumed = run(exp, config, &dir, None);
        assert!(resumed.status.success(), "{case}: resuming failed\n{}", text(&resumed));
        let got = records(&dir, setup);
        for (name, bytes) in &want {
            assert_eq!(got.get(name), Some(bytes), "{case}: {name} differs from the uninterrupted run's");
        }
        assert_eq!(got.len(), want.len(), "{case}");
        assert_eq!(leftovers(&dir), Vec::<PathBuf>::new(), "{case}: left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// SIGABRT, what `std::process::abort()` raises (6 on Linux and macOS; no libc dependency for one constant).
const SIGABRT: i32 = 6;

/// The cases of `prefix`'s points: every point once, a checkpoint's file
/// and manifest boundaries at its second save (the resume continues from the
/// first generation, a newer file beside it), and its first file also at the
/// first save (no generation yet: the phase starts over; its other
/// boundaries of that save end the same way, so they are not repeated).
fn cases(prefix: &str) -> Vec<String> {
    let points: Vec<&str> = POINTS.iter().copied().filter(|p| p.starts_with(prefix)).collect();
    assert!(points.len() >= 5, "{points:?}");
    let mut cases = Vec::new();
    for p in points {
        let checkpoint = p.contains("-progress.") || p.contains("-checkpoint.");
        if !checkpoint || p.ends_with(".prune") {
            cases.push(format!("{p}:1"));
        } else {
            if p.ends_with(".model") {
                cases.push(format!("{p}:1"));
            }
            cases.push(format!("{p}:2"));
        }
    }
    cases
}

/// The smoke table with one run seed and one C multiplier: 3 ResNet runs.
fn small_resnet(dir: &Path) -> PathBuf {
    test_config(dir, "resnet-cifar", |smoke| {
        smoke.insert("run_seeds".into(), toml::Value::Array(vec![0.into()]));
        let phase2 = smoke.get_mut("phase2").and_then(|p| p.as_table_mut()).unwrap();
        phase2.insert("c_multipliers".into(), toml::Value::Array(vec![1.0.into()]));
    })
}

#[test]
fn resnet_killed_at_every_write_boundary_resumes_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_resnet(tmp.path());
    kill_at_each("resnet-cifar", &config, "phase1.json", &cases("resnet."));
}

#[test]
fn mlp_killed_at_every_write_boundary_resumes_bit_identically() {
    let config = experiments().join("mlp-fashion.toml");
    kill_at_each("mlp-fashion", &config, "valley.json", &cases("mlp."));
}

/// A checkpoint whose model file no longer matches its manifest (what the
/// three separate renames allowed: one epoch's model beside another's
/// position) is discarded with a warning naming the file, and the run is
/// retrained from the start to the same records.
#[test]
fn a_damaged_checkpoint_is_discarded_with_a_warning_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_resnet(tmp.path());
    let reference = tmp.path().join("reference");
    assert!(run("resnet-cifar", &config, &reference, None).status.success());
    let dir = tmp.path().join("damaged");
    // After the first run's first epoch-end checkpoint (generation 0).
    let killed = run("resnet-cifar", &config, &dir, Some("resnet.run-checkpoint.manifest:1"));
    assert_eq!(killed.status.signal(), Some(SIGABRT), "{}", text(&killed));
    let ckpt = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("checkpoint"))
        // The run whose checkpoint was written; with two workers another run
        // may have one half-written beside it, which no manifest vouches for.
        .find(|p| p.join("manifest.json").exists() && p.join("model.0.bpk").exists())
        .unwrap();
    let model = ckpt.join("model.0.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    let resumed = run("resnet-cifar", &config, &dir, None);
    let said = text(&resumed);
    assert!(resumed.status.success(), "{said}");
    assert!(said.contains("warning: discarding") && said.contains("model.0.bpk"), "{said}");
    assert_eq!(records(&dir, "phase1.json"), records(&reference, "phase1.json"));
}

/// `--force` retrains from phase 1's weights and never from a checkpoint: a
/// run killed after its second epoch's checkpoint resumes with no phase-2
/// step left to take, but under `--force` takes all of them again.
#[test]
fn force_discards_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_resnet(tmp.path());
    let steps_in_last_process = |force: bool| -> u64 {
        let dir = tmp.path().join(format!("force-{force}"));
        // One worker, so that the second checkpoint written is the first run's second epoch.
        let killed = run_with("resnet-cifar", &config, &dir, Some("resnet.run-checkpoint.manifest:2"), &[("FLATTER_JOBS", "1")]);
        assert_eq!(killed.status.signal(), Some(SIGABRT), "{}", text(&killed));
        let checkpointed: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("checkpoint").exists())
            .collect();
        assert_eq!(checkpointed.len(), 1, "{checkpointed:?}");
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "resnet-cifar", "--scale", "smoke", "--quiet", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&dir);
        if force {
            cmd.arg("--force");
        }
        let again = cmd.env("FLATTER_JOBS", "1").env_remove(ABORT_AT_ENV).env_remove(ABORT_AFTER_JOBS_ENV).output().unwrap();
        assert!(again.status.success(), "{}", text(&again));
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(checkpointed[0].join("summary.json")).unwrap()).unwrap();
        summary["timing"]["phase2_step_count"].as_u64().unwrap()
    };
    // Smoke: 50 images in batches of 10, 2 epochs.
    assert_eq!(steps_in_last_process(false), 0, "resumed from the second epoch's checkpoint");
    assert_eq!(steps_in_last_process(true), 10, "--force retrained the run from its start");
}
