//! `cargo xtask advise`: the scaling rule for users who just want a β. The
//! advice itself is the library's `flatter_optim::MomentumRule::advised`;
//! this is its command line and the search for a calibrated C.
//!
//! With data statistics (`--n-train`, `--label-noise`, optionally
//! `--sigma-x2`, `--kappa`) it uses C* of eq. (10), which makes the mixing
//! time τ₁ equal the drift time τ₂ of the linearised model; without them, the
//! C calibrated by our own experiments (the committed results), else the
//! paper's hint that β = 0.9 is optimal at a typical η₀ (stated as an
//! assumption).

use std::path::Path;

use anyhow::{Context as _, bail};
use flatter_optim::momentum::OPTIMAL_GAMMA;
use flatter_optim::{AdviceError, CSource, MomentumRule};

use crate::util::project_root;

/// Recommend β for a learning rate.
#[derive(clap::Parser, Debug)]
pub struct Advise {
    /// The learning rate η of heavy-ball SGD (π ← βπ − ∇L, w ← w + ηπ).
    #[arg(long)]
    pub lr: f64,
    /// Training-set size n (with --label-noise: use C* of eq. (10)).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Label-noise strength ε (standard deviation of the Gaussian target noise).
    #[arg(long)]
    pub label_noise: Option<f64>,
    /// Input variance σ_x² (default 1: standardised inputs).
    #[arg(long, default_value_t = 1.0)]
    pub sigma_x2: f64,
    /// κ of the per-sample loss (κ/2)(f − y)²: 1 for (1/2n)Σ(f − y)², 2 for mean-reduced MSE.
    #[arg(long, default_value_t = 1.0)]
    pub kappa: f64,
    /// Use this C instead (1 − β = C η^γ).
    #[arg(long, conflicts_with_all = ["n_train", "label_noise"])]
    pub c: Option<f64>,
    /// The exponent γ (the paper's optimum is 2/3).
    #[arg(long, default_value_t = OPTIMAL_GAMMA)]
    pub gamma: f64,
}

/// The paper's hint when nothing better is known: β = 0.9 at η₀ = 0.05 (η₀ is blanked in the paper; our assumption).
const FALLBACK_LR: f64 = 0.05;
const FALLBACK_BETA: f64 = 0.9;

/// The calibrated C of the committed real-data experiments: the key `c_fit`
/// of `docs/results/<exp>/summary.json`, first found of resnet-cifar,
/// mlp-fashion, and only where that experiment's slope claim (C12, C15)
/// holds: a C fitted to peaks that do not follow the 2/3 law calibrates nothing.
fn calibrated_c(results: &Path) -> Option<(f64, String)> {
    use flatter_experiments::Experiment as _;
    use flatter_experiments::{mlp::MlpExp, resnet::ResnetExp};
    for (exp, claim) in [(ResnetExp::NAME, "C12"), (MlpExp::NAME, "C15")] {
        let path = results.join(exp).join("summary.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let slope_holds = v
            .get("criteria")
            .and_then(|c| c.as_array())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("id").and_then(|i| i.as_str()) == Some(claim)
                        && c.get("holds") == Some(&serde_json::Value::Bool(true))
                })
            });
        if !slope_holds {
            continue;
        }
        if let Some(c) = v
            .get("c_fit")
            .and_then(|c| c.as_f64())
            .filter(|c| c.is_finite() && *c > 0.0)
        {
            let scale = v
                .get("scale")
                .and_then(|s| s.as_str())
                .unwrap_or("?")
                .to_string();
            return Some((c, format!("{exp}, {scale} scale ({})", path.display())));
        }
    }
    None
}

/// What the `schedules` experiment measured for `advise`'s own C* (its
/// rows B4, in `docs/results/schedules/summary.json`): a caution to print
/// beside C*, when every judged B4 row found C* worse than fixed β.
fn c_star_caution(results: &Path) -> Option<String> {
    use flatter_experiments::Experiment as _;
    let path = results.join(flatter_experiments::schedules::SchedulesExp::NAME).join("summary.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    // Every B4 row must differ, with C* worse; one that does not, or does not read, means no caution.
    let rows: Option<Vec<f64>> = v
        .get("criteria")?
        .as_array()?
        .iter()
        .filter(|c| c.get("id").and_then(|i| i.as_str()) == Some("B4"))
        .map(|c| c.get("measured")?.as_f64().filter(|&d| d < 0.0 && c.get("holds") == Some(&serde_json::Value::Bool(true))))
        .collect();
    let rows = rows.filter(|r| !r.is_empty())?;
    let (lo, hi) = rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &d| (l.min(d), h.max(d)));
    Some(format!(
        "caution: eq. (10) is derived for Gaussian target noise near a valley. For a classifier trained with label flips it has failed here: \
         our `schedules` experiment ({}, rows B4) trained an MLP on Fashion-MNIST with this C* and ended {:.0} to {:.0} points of test accuracy \
         below fixed β = 0.9 in all {} schedules. For a classifier, anchor the rule at a β known to work instead (`--c`, or no data statistics).\n",
        path.display(),
        -hi,
        -lo,
        rows.len()
    ))
}

impl Advise {
    /// Where C comes from: `--c`, else C* from `--n-train` and
    /// `--label-noise`, else a committed calibration, else the anchor
    /// β = 0.9 at η = 0.05.
    fn source(&self) -> anyhow::Result<CSource> {
        if let Some(c) = self.c {
            return Ok(CSource::Given { c });
        }
        match (self.n_train, self.label_noise) {
            (Some(n_train), Some(label_noise)) => {
                Ok(CSource::DataStatistics { n_train, label_noise, sigma_x2: self.sigma_x2, kappa: self.kappa })
            }
            (Some(_), None) | (None, Some(_)) => bail!("C* needs both --n-train and --label-noise"),
            (None, None) => Ok(match calibrated_c(&project_root().join("docs/results")) {
                Some((c, from)) => CSource::Calibrated { c, from: format!("our experiment {from}") },
                None => CSource::Anchor { lr: FALLBACK_LR, beta: FALLBACK_BETA },
            }),
        }
    }

    pub fn run(self) -> anyhow::Result<()> {
        print!("{}", self.advice().context("advise")?);
        Ok(())
    }

    fn advice(&self) -> anyhow::Result<String> {
        // σ_x² and κ are checked by name even when C does not use them.
        for (field, value) in [("sigma_x2", self.sigma_x2), ("kappa", self.kappa)] {
            if !(value > 0.0 && value.is_finite()) {
                bail!("{} must be a finite number > 0, got {value}", flag(field));
            }
        }
        let source = self.source()?;
        let caution = match source {
            CSource::DataStatistics { .. } => c_star_caution(&project_root().join("docs/results")),
            _ => None,
        };
        match MomentumRule::advised(self.lr, self.gamma, source) {
            Ok(advice) => Ok(format!("{advice}{}", caution.unwrap_or_default())),
            Err(AdviceError::Input { field, value, expected }) => bail!("{} must be {expected}, got {value}", flag(field)),
            Err(other) => Err(other.into()),
        }
    }
}

/// The command-line flag of an argument of `MomentumRule::advised`.
fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        a: Advise,
    }

    fn advise(args: &[&str]) -> Advise {
        Wrap::try_parse_from(std::iter::once("advise").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn c_star_makes_tau1_equal_tau2() {
        let a = advise(&["--lr", "0.01", "--n-train", "100", "--label-noise", "0.5"]);
        let CSource::DataStatistics { n_train, label_noise, sigma_x2, kappa } = a.source().unwrap() else { panic!("not C*") };
        assert_eq!((n_train, label_noise, sigma_x2, kappa), (100, 0.5, 1.0, 1.0));
        // τ₁ = τ₂ at C*, computed here from eq. (10) and eq. (9) directly.
        let c = (0.25f64 / 100.0).cbrt();
        let beta = 1.0 - c * 0.01f64.powf(2.0 / 3.0);
        let (t1, t2) = (1.0 / (1.0 - beta), 100.0 * (1.0 - beta).powi(2) / (0.01f64.powi(2) * 0.25));
        assert!((t1 - t2).abs() < 1e-9 * t1, "{t1} vs {t2}");
        let text = a.advice().unwrap();
        assert!(text.contains(&format!("{beta:.6}")) && text.contains("C*") && text.contains(&format!("{t2:.1} steps")), "{text}");
    }

    /// The caution beside C* comes from the schedule study's B4 rows when
    /// every one found C* worse; without them, or with one that did not
    /// differ or was better, there is none.
    #[test]
    fn c_star_is_cautioned_by_the_schedule_study_only_when_it_failed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(c_star_caution(dir.path()).is_none());
        let write = |rows: &[(f64, bool)]| {
            let criteria: Vec<serde_json::Value> = rows
                .iter()
                .map(|&(m, holds)| serde_json::json!({"id": "B4", "measured": m, "holds": holds}))
                .chain(std::iter::once(serde_json::json!({"id": "B1", "measured": 0.1, "holds": false})))
                .collect();
            std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
            std::fs::write(dir.path().join("schedules/summary.json"), serde_json::json!({ "criteria": criteria }).to_string()).unwrap();
        };
        write(&[(-74.0, true), (-75.3, true)]);
        let text = c_star_caution(dir.path()).unwrap();
        assert!(text.contains("74 to 75 points") && text.contains("all 2 schedules"), "{text}");
        write(&[(-74.0, true), (-0.1, false)]);
        assert!(c_star_caution(dir.path()).is_none(), "a B4 row within the rule");
        write(&[(-74.0, true), (2.0, true)]);
        assert!(c_star_caution(dir.path()).is_none(), "a B4 row where C* did better");
        // The committed results carry it, and advise prints it beside C* only.
        let committed = c_star_caution(&project_root().join("docs/results"));
        let text = advise(&["--lr", "0.05", "--n-train", "60000", "--label-noise", "0.19"]).advice().unwrap();
        assert_eq!(committed.is_some(), text.contains("caution:"), "{text}");
        assert!(!advise(&["--lr", "0.05", "--c", "0.5"]).advice().unwrap().contains("caution:"));
    }

    #[test]
    fn an_explicit_c_gives_the_rule() {
        let text = advise(&["--lr", "0.05", "--c", "0.5"]).advice().unwrap();
        let beta = 1.0 - 0.5 * 0.05_f64.powf(2.0 / 3.0);
        assert!(text.starts_with(&format!("β = {beta:.6}")), "{text}");
    }

    #[test]
    fn bad_input_is_an_error_that_says_what_was_expected() {
        let err = advise(&["--lr=-1"]).advice().unwrap_err().to_string();
        assert!(err.contains("--lr"), "{err}");
        let err = advise(&["--lr", "2", "--c", "1"])
            .advice()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outside [0, 1)") && err.contains("lr <"),
            "{err}"
        );
        // Too small an η: β rounds to 1, and the message points the other way (issue 17).
        let err = advise(&["--lr", "1e-300", "--c", "1"])
            .advice()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outside [0, 1)") && err.contains("lr >") && !err.contains("lr <"),
            "{err}"
        );
        let err = advise(&["--lr", "0.1", "--n-train", "10"])
            .advice()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--label-noise"), "{err}");
    }

    /// Tiny and huge η point opposite ways, on every source of C; a tiny η
    /// said "lr < 0.2504" before (issue 17).
    #[test]
    fn out_of_range_lr_says_which_way_to_go() {
        for c_args in [
            &["--c", "1"][..],
            &["--n-train", "1000", "--label-noise", "0.5"][..],
            &[][..],
        ] {
            for (lr, want, not) in [("1e-300", "lr >", "lr <"), ("1e300", "lr <", "lr >")] {
                let args: Vec<&str> = ["--lr", lr]
                    .into_iter()
                    .chain(c_args.iter().copied())
                    .collect();
                let err = advise(&args).advice().unwrap_err().to_string();
                assert!(
                    err.contains("outside [0, 1)") && err.contains(want) && !err.contains(not),
                    "{args:?}: {err}"
                );
            }
        }
    }

    /// NaN, ±inf, zero and negative values are errors naming the flag, never a panic or a NaN β.
    #[test]
    fn non_finite_or_non_positive_inputs_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--lr", "NaN"], "--lr"),
            (&["--lr", "inf"], "--lr"),
            (&["--lr", "0"], "--lr"),
            (&["--lr", "0.1", "--c", "NaN"], "--c"),
            (&["--lr", "0.1", "--c", "inf"], "--c"),
            (&["--lr", "0.1", "--c=-1"], "--c"),
            (&["--lr", "0.1", "--c", "0"], "--c"),
            (&["--lr", "0.1", "--gamma", "NaN"], "--gamma"),
            (&["--lr", "0.1", "--gamma", "inf"], "--gamma"),
            (&["--lr", "0.1", "--gamma=-1"], "--gamma"),
            (
                &["--lr", "0.1", "--n-train", "10", "--label-noise", "NaN"],
                "--label-noise",
            ),
            (
                &["--lr", "0.1", "--n-train", "10", "--label-noise", "inf"],
                "--label-noise",
            ),
            (
                &["--lr", "0.1", "--n-train", "0", "--label-noise", "0.5"],
                "--n-train",
            ),
        ];
        // With C* from data statistics: --n-train 10 --label-noise 0.5 plus one bad flag.
        let with_cstar = |flag: &'static str, value: &'static str| -> Vec<&'static str> {
            vec!["--lr", "0.1", "--n-train", "10", "--label-noise", "0.5", flag, value]
        };
        let cstar_cases = [
            (with_cstar("--sigma-x2", "inf"), "--sigma-x2"),
            (with_cstar("--sigma-x2", "0"), "--sigma-x2"),
            (with_cstar("--kappa", "NaN"), "--kappa"),
            // Each finite, but C* overflows f64.
            (vec!["--lr", "0.1", "--n-train", "1", "--label-noise", "1e300", "--sigma-x2", "1e300"], "C*"),
        ];
        let cases = cases.iter().map(|(a, f)| (a.to_vec(), *f)).chain(cstar_cases);
        for (args, flag) in cases {
            let err = advise(&args).advice().unwrap_err().to_string();
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_calibrated_c_is_read_from_committed_summaries() {
        let dir = tempfile::tempdir().unwrap();
        assert!(calibrated_c(dir.path()).is_none());
        std::fs::create_dir_all(dir.path().join("mlp-fashion")).unwrap();
        let summary = |holds: bool| {
            format!(
                r#"{{"c_fit": 0.42, "scale": "cpu", "criteria": [{{"id": "C15", "holds": {holds}}}]}}"#
            )
        };
        std::fs::write(dir.path().join("mlp-fashion/summary.json"), summary(false)).unwrap();
        assert!(
            calibrated_c(dir.path()).is_none(),
            "a C whose slope claim fails is not a calibration"
        );
        std::fs::write(dir.path().join("mlp-fashion/summary.json"), summary(true)).unwrap();
        let (c, from) = calibrated_c(dir.path()).unwrap();
        assert_eq!(c, 0.42);
        assert!(from.contains("mlp-fashion") && from.contains("cpu"));
    }
}
