//! Property test of the experiment-file loaders (issue 17): every committed
//! `experiments/*.toml`, mutated by a seeded generator, either loads or is an
//! error; never a panic, and a loaded file's jobs are bounded.
//!
//! Not proptest: a new dev-dependency can change the feature unification of
//! crates Burn shares and split Burn's build between `cargo test` and
//! `cargo build` (issue 17). A SplitMix64 stream (as in
//! `harness::beta_star`) picks the mutations; the same seed gives the same
//! 2,000 cases, so a failure names a reproducible case.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use toml::Value;

use crate::harness::Experiment;
use crate::harness::config::{ExperimentFile, MAX_RUNS, ScaleTable, load};
use crate::harness::plan::validate_jobs;
use crate::harness::scale::Scale;

/// SplitMix64 ([`crate::harness::beta_star::splitmix64`]) with a range draw.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (crate::harness::beta_star::splitmix64(&mut self.0) % n as u64) as usize
    }
}

/// A step into a TOML value: a table key or an array index.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path to a value under `v` (tables, arrays and leaves).
fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Table(t) => {
            for (k, x) in t {
                at.push(Step::Key(k.clone()));
                out.push(at.clone());
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Step::Index(i));
                out.push(at.clone());
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn get<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match (v, step) {
        (Value::Table(t), Step::Key(k)) => t.get(k),
        (Value::Array(a), Step::Index(i)) => a.get(*i),
        _ => None,
    })
}

fn get_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match (v, step) {
        (Value::Table(t), Step::Key(k)) => t.get_mut(k),
        (Value::Array(a), Step::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// The hostile numbers of issue 17's pass.
fn hostile_number(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Integer(0),
        1 => Value::Integer(-1),
        2 => Value::Float(1e10),
        3 => Value::Integer(10_000_000_000),
        4 => Value::Float(1e300),
        5 => Value::Float(-1e-300),
        6 => Value::Float(5e-324),
        7 => Value::Float(u64::MAX as f64),
        8 => Value::Integer(i64::MAX),
        9 => Value::Integer(i64::MIN),
        10 => Value::Float(0.0),
        _ => Value::Float(-1.0),
    }
}

/// An array of `len` distinct values after `x` (distinct, so that repeats
/// are not the only thing that refuses it).
fn huge_array(x: &Value, len: usize) -> Value {
    let items = (0..len)
        .map(|i| match x {
            Value::Integer(n) => Value::Integer(n.saturating_add(i as i64)),
            Value::Float(f) => Value::Float(f * (1.0 + i as f64 * 1e-6) + i as f64 * 1e-9),
            other => other.clone(),
        })
        .collect();
    Value::Array(items)
}

/// Swaps the type of a value: numbers to strings or the other number type,
/// arrays to their first item, scalars to one-item arrays.
fn swap_type(x: &Value) -> Value {
    match x {
        Value::Integer(n) => Value::Float(*n as f64),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::Integer(*f as i64),
        Value::Float(f) => Value::String(f.to_string()),
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Boolean(true)),
        Value::Table(_) => Value::Integer(1),
        other => Value::Array(vec![other.clone()]),
    }
}

/// One mutation of `doc`, in words (for a failing case's message).
fn mutate(doc: &mut Value, rng: &mut Rng) -> String {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    // Mostly numbers (and arrays of numbers): that is where the ranges are.
    let numeric: Vec<&Vec<Step>> = all
        .iter()
        .filter(|p| matches!(get(doc, p), Some(Value::Integer(_) | Value::Float(_))))
        .collect();
    let path = if !numeric.is_empty() && rng.below(4) != 0 {
        numeric[rng.below(numeric.len())].clone()
    } else {
        all[rng.below(all.len())].clone()
    };
    let (parent, last) = path.split_at(path.len() - 1);
    let what = rng.below(16);
    let target = get_mut(doc, &path).expect("a path from paths()");
    let old = target.clone();
    let desc = format!("{path:?}: ");
    match what {
        0..=7 => {
            *target = hostile_number(rng);
            format!("{desc}{old} -> {target}")
        }
        8 => {
            let len = [1_000, 20_000][rng.below(2)];
            *target = huge_array(&old, len);
            format!("{desc}{old} -> an array of {len}")
        }
        9 => {
            *target = Value::Array(vec![]);
            format!("{desc}{old} -> []")
        }
        10 => {
            *target = swap_type(&old);
            format!("{desc}{old} -> {target}")
        }
        11 => {
            // Delete the field (or the array item).
            match (get_mut(doc, parent), &last[0]) {
                (Some(Value::Table(t)), Step::Key(k)) => {
                    t.remove(k);
                }
                (Some(Value::Array(a)), Step::Index(i)) => {
                    a.remove(*i);
                }
                _ => {}
            }
            format!("{desc}deleted")
        }
        12 => {
            // An unknown field beside it.
            if let Some(Value::Table(t)) = get_mut(doc, parent) {
                t.insert("unknown_field".into(), Value::Integer(1));
            }
            format!("{desc}unknown field beside it")
        }
        _ => {
            // Small perturbations keep files loadable, so that jobs() and runs() run too.
            let new = match old.clone() {
                Value::Integer(n) => Value::Integer(n.saturating_add(rng.below(5) as i64 - 2)),
                Value::Float(f) => {
                    Value::Float(f * [0.5, 0.999_999, 1.000_001, 2.0, 10.0][rng.below(5)])
                }
                other => other,
            };
            *target = new;
            format!("{desc}{old} -> {target}")
        }
    }
}

/// Loads `path` as experiment `E`'s file; when it loads, expands every scale
/// into its jobs and run ids and checks them. `Err` is the load's error;
/// a panic propagates.
fn exercise<E: Experiment>(path: &Path) -> Result<(), String> {
    let file: E::File = load(path).map_err(|e| e.to_string())?;
    for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
        let table = file.table(scale);
        let jobs = table.jobs();
        let ids = table.run_ids();
        let in_jobs: usize = jobs.iter().map(|j| j.runs.len()).sum();
        assert!(
            ids.len() as u64 <= MAX_RUNS,
            "{} [{scale}]: {} runs loaded",
            E::NAME,
            ids.len()
        );
        assert_eq!(
            in_jobs,
            ids.len(),
            "{} [{scale}]: every run in one job",
            E::NAME
        );
        validate_jobs(&jobs).map_err(|e| format!("{} [{scale}]: {e}", E::NAME))?;
    }
    Ok(())
}

fn experiments() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
}

/// Runs `cases` mutated copies of `experiments/<E::NAME>.toml`; returns how
/// many loaded, and the failures (panics) with their case and mutations.
fn fuzz<E: Experiment>(seed: u64, cases: usize, dir: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(experiments().join(format!("{}.toml", E::NAME))).unwrap();
    let original: Value = toml::from_str(&text).unwrap();
    let path = dir.join(format!("{}.toml", E::NAME));
    let mut rng = Rng(seed);
    let (mut loaded, mut failures) = (0, Vec::new());
    for case in 0..cases {
        let mut doc = original.clone();
        let steps: Vec<String> = (0..1 + rng.below(3))
            .map(|_| mutate(&mut doc, &mut rng))
            .collect();
        std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
        match catch_unwind(AssertUnwindSafe(|| exercise::<E>(&path))) {
            Ok(Ok(())) => loaded += 1,
            Ok(Err(e)) => assert!(!e.is_empty()),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                failures.push(format!(
                    "{} case {case}: {steps:?}: panicked: {msg:?}",
                    E::NAME
                ));
            }
        }
    }
    (loaded, failures)
}

/// ~2,000 mutated experiment files: error or success, never a panic or an
/// unbounded allocation (issue 17). Some must load, or the test would only
/// exercise the parser.
#[test]
fn mutated_experiment_files_load_or_fail_but_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    // 2,050 cases; UV has fewer, as its paper table alone expands into
    // 36,864 runs on every load that gets that far.
    let runs = [
        fuzz::<crate::theory::TheoryExp>(1, 450, dir.path()),
        fuzz::<crate::uv::UvExp>(2, 250, dir.path()),
        fuzz::<crate::matrix_sensing::MsExp>(3, 450, dir.path()),
        fuzz::<crate::mlp::MlpExp>(4, 450, dir.path()),
        fuzz::<crate::resnet::ResnetExp>(5, 450, dir.path()),
    ];
    let failures: Vec<&String> = runs.iter().flat_map(|(_, f)| f).collect();
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (i, (loaded, _)) in runs.iter().enumerate() {
        assert!(
            *loaded >= 20,
            "experiment {i}: only {loaded} mutated files loaded"
        );
    }
}
