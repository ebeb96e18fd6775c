//! The paper's experiments, one folder each, behind one harness.
//!
//! - [`harness`]: what every experiment shares: the [`Experiment`] trait and
//!   [`harness::run_experiment`], the run store (plan, io, config), claims,
//!   the report, and (with `train`) progress, the stacked-run engine and the
//!   image batcher.
//! - [`theory`]: the theory rows C1–C3 from independent pieces (the eq. (8)
//!   spectrum, the eq. (126) drift law, the Jacobian of a real HeavyBall step).
//! - [`uv`]: UV / teacher–student decay times (Fig. 1, Sec. 4.1, App. A).
//! - [`matrix_sensing`]: matrix sensing (App. A.2, D).
//! - [`mlp`]: the 6-layer MLP on Fashion-MNIST (Fig. 5).
//! - [`resnet`]: ResNet-18 and the three-phase protocol (Sec. 4.2, Fig. 2, 4).
//! - [`schedules`]: beyond the paper, the rule under decaying LR schedules (issue 16).
//!
//! Each experiment folder has `mod.rs` (config, jobs, run records, its
//! `Experiment` implementation), `analyse.rs` (records to summary and
//! criteria), `figures.rs`, and behind the default-on `train` feature
//! `model.rs` and `train.rs`. Analysis, figures and the report read only `results/`, so the
//! crate builds without Burn under `--no-default-features`.
//!
//! [`REGISTRY`] is the one list of experiments: adding one is a new folder
//! plus one line there.

pub mod bench_record;
pub mod gpu_check;
pub mod harness;
pub mod matrix_sensing;
pub mod mlp;
pub mod resnet;
pub mod schedules;
pub mod theory;
pub mod uv;
pub mod watchdog;

use std::path::Path;

pub use harness::{Experiment, Invocation, Options, Outcome, Scale};

/// An experiment as the binary and the report see it: its name and a way to
/// run it by that name.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Its results directory and config file stem (`experiments/<name>.toml`).
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Runs it (trains what the invocation selects, analyses once complete)
    /// with its file at the path; returns the account to print.
    pub run: fn(&Path, &Invocation) -> anyhow::Result<String>,
    /// Plans it (validates, locks its results directory, selects the jobs)
    /// with its file at the path, for one queue with other experiments
    /// ([`harness::run_stages`]).
    pub plan: fn(&Path, &Invocation) -> anyhow::Result<Box<dyn harness::Stage>>,
}

impl Entry {
    /// Its experiment file in the directory `experiments`: `<name>.toml`.
    pub fn config(&self, experiments: &Path) -> std::path::PathBuf {
        experiments.join(format!("{}.toml", self.name))
    }
}

const fn entry<E: Experiment>() -> Entry {
    Entry { name: E::NAME, about: E::ABOUT, run: run_and_account::<E>, plan: plan_boxed::<E> }
}

fn run_and_account<E: Experiment>(config: &Path, inv: &Invocation) -> anyhow::Result<String> {
    let outcome = harness::run_experiment::<E>(config, inv)?;
    Ok(harness::account::<E>(inv, &outcome))
}

fn plan_boxed<E: Experiment>(config: &Path, inv: &Invocation) -> anyhow::Result<Box<dyn harness::Stage>> {
    Ok(Box::new(harness::plan_experiment::<E>(config, inv)?))
}

/// Every experiment, in the order `all` runs them and the report lists them.
pub const REGISTRY: [Entry; 6] = [
    entry::<theory::TheoryExp>(),
    entry::<uv::UvExp>(),
    entry::<matrix_sensing::MsExp>(),
    entry::<mlp::MlpExp>(),
    entry::<resnet::ResnetExp>(),
    entry::<schedules::SchedulesExp>(),
];

/// The registry entry of `name`, or an error that lists the names.
pub fn find(name: &str) -> anyhow::Result<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        anyhow::anyhow!("no experiment named {name:?}; the experiments are {}", names.join(", "))
    })
}

/// Analyses every experiment under `results` whose runs are on disk but that
/// has no summary (shards merged from elsewhere), then writes
/// `<results>/REPORT.md` and `<results>/claims.json`. Trains nothing, so it
/// works in a build without the `train` feature. Returns the accounts of the
/// experiments it analysed, the report paths and its rows.
pub fn report(results: &Path, experiments: &Path, backend: &str) -> anyhow::Result<(Vec<String>, harness::report::Written)> {
    // A mistyped --out must not produce an all-"not run" report and success.
    anyhow::ensure!(
        results.is_dir(),
        "{} is not a directory: there is nothing to report (run `cargo xtask reproduce-all` first, or check --out)",
        results.display()
    );
    let mut accounts = Vec::new();
    for e in &REGISTRY {
        let out = results.join(e.name);
        let config_json = out.join("config.json");
        if !config_json.exists() || out.join("summary.json").exists() {
            continue;
        }
        if harness::plan::being_written(&out) {
            // Its writer analyses it when its runs are complete; the report
            // says "in progress" for it and still covers the rest.
            accounts.push(format!("{}: in progress in {} (another process is writing it)", e.name, out.display()));
            continue;
        }
        let (scale, _): (Scale, serde_json::Value) = harness::io::read_json(&config_json)?;
        let inv = Invocation {
            scale,
            out,
            opts: Options { analyse_only: true, ..Options::default() },
            backend: backend.to_string(),
            data_dir: None,
            stop_after_steps: None,
        };
        accounts.push((e.run)(&e.config(experiments), &inv)?);
    }
    Ok((accounts, harness::report::write_report(results)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry is the one list: names are unique, each has its
    /// experiment file under `experiments/`, and an unknown name is an error
    /// that lists the real ones.
    #[test]
    fn registry_names_are_unique_and_have_their_files() {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        for name in &names {
            assert!(root.join(format!("{name}.toml")).is_file(), "experiments/{name}.toml");
            assert_eq!(find(name).unwrap().name, *name);
            assert_eq!(find(name).unwrap().config(&root), root.join(format!("{name}.toml")));
        }
        let err = find("no-such-experiment").unwrap_err().to_string();
        assert!(names.iter().all(|n| err.contains(n)), "{err}");
    }

    /// `report` on a results root where nothing ran writes a report whose
    /// experiment rows all say "not run", and trains nothing.
    #[test]
    fn report_of_an_empty_root_trains_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let (accounts, written) = report(dir.path(), &root, "flex").unwrap();
        assert!(accounts.is_empty());
        assert!(written.md.is_file() && written.json.is_file());
        assert!(written.rows.iter().all(|r| r.scale == "not run"));
        // A results root that does not exist is an error naming it, and writes nothing.
        let missing = dir.path().join("no-such-results");
        let err = report(&missing, &root, "flex").unwrap_err().to_string();
        assert!(err.contains("no-such-results") && err.contains("not a directory"), "{err}");
        assert!(!missing.exists());
    }

    /// Issue 17: `report` while a shard wrote an experiment failed as a
    /// whole. Now that experiment is "in progress" and the rest is reported;
    /// an unreadable experiment summary is reported as such, not an error.
    #[test]
    fn report_says_in_progress_while_a_writer_holds_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let uv = dir.path().join("uv");
        let lock = harness::plan::lock_dir(&uv, Some(harness::plan::Shard { index: 1, count: 2 })).unwrap();
        std::fs::write(uv.join("config.json"), "[\"cpu\", {}]").unwrap();
        harness::io::write_json(&harness::plan::run_summary_path(&uv, "r1"), &1).unwrap();
        let ms = dir.path().join("matrix-sensing");
        std::fs::create_dir_all(&ms).unwrap();
        std::fs::write(ms.join("summary.json"), "{\"experiment\": 3}").unwrap();
        let (accounts, written) = report(dir.path(), &root, "flex").unwrap();
        assert!(accounts.iter().any(|a| a.contains("uv: in progress")), "{accounts:?}");
        let md = std::fs::read_to_string(&written.md).unwrap();
        assert!(md.contains("In progress: a process is writing `uv/` now (1 runs complete"), "{md}");
        assert!(md.contains("Unreadable summary") && md.contains("matrix-sensing"), "{md}");
        drop(lock);
    }
}

