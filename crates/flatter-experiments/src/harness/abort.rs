//! The kill-at-a-write-boundary test hook: `FLATTER_ABORT_AT=<point>` (or
//! `<point>:<n>`, the n-th time the point is reached in this process) makes
//! the process `std::process::abort()` there: no unwinding, no destructors,
//! no flush, as a SIGKILL would leave the results directory. Only tests set
//! it; every write of a checkpoint, a setup artefact or a run record passes
//! one of the [`POINTS`], so a test can kill a run at each of them in turn
//! and check that the resumed run equals an uninterrupted one.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable of the hook.
pub const ABORT_AT_ENV: &str = "FLATTER_ABORT_AT";

/// Every abort point, in the order a run passes them. `<unit>.<file>` means
/// "just after `<file>` of `<unit>` was written (renamed into place and its
/// directory fsynced)"; `<unit>.prune` is after each removal of a file of an
/// older checkpoint generation.
pub const POINTS: &[&str] = &[
    // ResNet phase 1's resumable checkpoint, `setup/phase1-progress/`.
    "resnet.phase1-progress.model",
    "resnet.phase1-progress.optim",
    "resnet.phase1-progress.manifest",
    "resnet.phase1-progress.prune",
    // ResNet phase 1's result: `setup/phase1.bpk`, then `setup/phase1.json` (its manifest).
    "resnet.phase1.model",
    "resnet.phase1.manifest",
    // One ResNet run: its config, its epoch-end checkpoint, its records.
    "resnet.run.config",
    "resnet.run-checkpoint.model",
    "resnet.run-checkpoint.optim",
    "resnet.run-checkpoint.manifest",
    "resnet.run-checkpoint.prune",
    "resnet.run.metrics",
    "resnet.run.summary",
    // The MLP's valley: `setup/valley.bpk`, then `setup/valley.json` (its manifest).
    "mlp.valley.model",
    "mlp.valley.manifest",
    // One MLP run's records.
    "mlp.run.config",
    "mlp.run.metrics",
    "mlp.run.summary",
    // One run of the schedule study.
    "schedules.run.config",
    "schedules.run.metrics",
    "schedules.run.summary",
];

/// Times the targeted point was reached in this process.
static HITS: AtomicUsize = AtomicUsize::new(0);

/// Parses `<point>` or `<point>:<n>` (n ≥ 1).
fn parse(spec: &str) -> Result<(&str, usize), String> {
    match spec.rsplit_once(':') {
        None => Ok((spec, 1)),
        Some((point, n)) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Ok((point, n)),
            _ => Err(format!("{ABORT_AT_ENV}={spec}: the count after ':' must be an integer >= 1")),
        },
    }
}

/// A write boundary named `point` (one of [`POINTS`]): aborts the process
/// when `FLATTER_ABORT_AT` targets it and this is the n-th time it is reached.
pub fn at(point: &str) {
    assert!(POINTS.contains(&point), "abort point {point:?} is not listed in harness::abort::POINTS");
    let Ok(spec) = std::env::var(ABORT_AT_ENV) else { return };
    let (target, n) = parse(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        POINTS.contains(&target),
        "{ABORT_AT_ENV}={spec}: no such point; the points are {POINTS:?}"
    );
    if target == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        eprintln!("{ABORT_AT_ENV}={spec}: aborting at {point}");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_counts_are_refused() {
        assert_eq!(parse("mlp.run.summary"), Ok(("mlp.run.summary", 1)));
        assert_eq!(parse("mlp.run.summary:3"), Ok(("mlp.run.summary", 3)));
        for bad in ["a:0", "a:", "a:x", "a:-1"] {
            assert!(parse(bad).unwrap_err().contains(ABORT_AT_ENV), "{bad}");
        }
    }

    #[test]
    fn points_are_unique() {
        let mut sorted = POINTS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), POINTS.len());
    }
}
