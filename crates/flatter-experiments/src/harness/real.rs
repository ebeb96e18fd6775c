//! Floats in run records that may be NaN or infinite, stored so they read
//! back (issue 17).
//!
//! serde_json writes a non-finite `f64` as `null`, and reading `null` into an
//! `f64` fails, so one diverged run used to make its record unreadable and
//! the whole experiment stuck. A measured float in a record is therefore
//! written through this module: a finite value as a JSON number, NaN as the
//! string `"NaN"`, ±∞ as `"inf"` / `"-inf"`. Reading accepts a number or
//! one of those strings (and `null` as NaN, the form older records used).
//!
//! Use it per field: `#[serde(with = "crate::harness::real")]` on an `f64`,
//! and the submodules [`option`], [`vec`](mod@vec), [`pair`], [`matrix2`] for the
//! containers. [`crate::harness::io::write_record`] checks that every record
//! reads back before it is written, so a field that lacks the attribute
//! fails loudly at write time instead of silently at resume.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// An `f64` that serialises non-finite values as strings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Real(pub f64);

impl Serialize for Real {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

struct RealVisitor;

impl Visitor<'_> for RealVisitor {
    type Value = Real;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, or \"NaN\", \"inf\" or \"-inf\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Real, E> {
        Ok(Real(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Real, E> {
        Ok(Real(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Real, E> {
        Ok(Real(v as f64))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Real, E> {
        Ok(Real(f64::NAN))
    }
    fn visit_none<E: de::Error>(self) -> Result<Real, E> {
        Ok(Real(f64::NAN))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Real, E> {
        match v {
            "NaN" => Ok(Real(f64::NAN)),
            "inf" => Ok(Real(f64::INFINITY)),
            "-inf" => Ok(Real(f64::NEG_INFINITY)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Real, D::Error> {
        d.deserialize_any(RealVisitor)
    }
}

/// Serialises an `f64` field.
pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    Real(*x).serialize(s)
}

/// Deserialises an `f64` field.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Real::deserialize(d).map(|r| r.0)
}

/// `Option<f64>`: `None` is `null`, `Some(NaN)` is `"NaN"`.
pub mod option {
    use super::*;

    /// Serialises the field.
    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        x.map(Real).serialize(s)
    }
    /// Deserialises the field.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Real>::deserialize(d)?.map(|r| r.0))
    }
}

/// `Vec<f64>`.
pub mod vec {
    use super::*;

    /// Serialises the field.
    pub fn serialize<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(xs.iter().map(|&x| Real(x)))
    }
    /// Deserialises the field.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Real>::deserialize(d)?.into_iter().map(|r| r.0).collect())
    }
}

/// `(f64, f64)`.
pub mod pair {
    use super::*;

    /// Serialises the field.
    pub fn serialize<S: Serializer>(x: &(f64, f64), s: S) -> Result<S::Ok, S::Error> {
        (Real(x.0), Real(x.1)).serialize(s)
    }
    /// Deserialises the field.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(f64, f64), D::Error> {
        let (a, b) = <(Real, Real)>::deserialize(d)?;
        Ok((a.0, b.0))
    }
}

/// `[[f64; 2]; 2]`.
pub mod matrix2 {
    use super::*;

    /// Serialises the field.
    pub fn serialize<S: Serializer>(m: &[[f64; 2]; 2], s: S) -> Result<S::Ok, S::Error> {
        m.map(|row| row.map(Real)).serialize(s)
    }
    /// Deserialises the field.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[[f64; 2]; 2], D::Error> {
        Ok(<[[Real; 2]; 2]>::deserialize(d)?.map(|row| row.map(|r| r.0)))
    }
}

/// Test support: every float of `value`'s JSON outside the keys in `skip`
/// replaced by each of `"NaN"`, `"inf"`, `"-inf"` in turn; each must read back
/// into `T` and write again without a `null` where the float was. Returns the
/// number of floats replaced. Panics (it is for tests) naming the first
/// float field that does not round-trip.
#[cfg(test)]
pub fn assert_non_finite_round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T, skip: &[&str]) -> usize {
    fn replace(v: &mut serde_json::Value, with: &str, skip: &[&str], count: &mut usize) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                *v = serde_json::Value::String(with.into());
                *count += 1;
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|x| replace(x, with, skip, count)),
            serde_json::Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if !skip.contains(&k.as_str()) {
                        replace(x, with, skip, count);
                    }
                }
            }
            _ => {}
        }
    }
    let mut count = 0;
    for with in ["NaN", "inf", "-inf"] {
        let mut json = serde_json::to_value(value).unwrap();
        count = 0;
        replace(&mut json, with, skip, &mut count);
        let text = json.to_string();
        let back: T = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("a record with every float {with} does not read back: {e}\n{text}"));
        let again = serde_json::to_string(&back).unwrap();
        let tag = format!("\"{with}\"");
        assert_eq!(again.matches(&tag).count(), text.matches(&tag).count(), "{again}");
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        #[serde(with = "super")]
        x: f64,
        #[serde(with = "option")]
        o: Option<f64>,
        #[serde(with = "vec")]
        v: Vec<f64>,
        #[serde(with = "pair")]
        p: (f64, f64),
        #[serde(with = "matrix2")]
        m: [[f64; 2]; 2],
    }

    /// Non-finite values are written as strings, never `null`, and read back
    /// bit for bit (NaN as NaN); finite ones stay JSON numbers.
    #[test]
    fn non_finite_values_survive_a_round_trip() {
        let r = Rec { x: f64::NAN, o: Some(f64::INFINITY), v: vec![1.5, f64::NEG_INFINITY], p: (f64::NAN, 2.0), m: [[0.0, f64::NAN], [3.0, f64::INFINITY]] };
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert!(text.contains("\"NaN\"") && text.contains("\"inf\"") && text.contains("\"-inf\"") && text.contains("1.5"), "{text}");
        let back: Rec = serde_json::from_str(&text).unwrap();
        assert!(back.x.is_nan() && back.p.0.is_nan() && back.m[0][1].is_nan());
        assert_eq!((back.o, back.v.clone(), back.p.1, back.m[1]), (Some(f64::INFINITY), vec![1.5, f64::NEG_INFINITY], 2.0, [3.0, f64::INFINITY]));
        // None stays null; an old record's null reads as NaN; junk is an error.
        let none: Rec = serde_json::from_str(r#"{"x":null,"o":null,"v":[],"p":[1,2],"m":[[1,2],[3,4]]}"#).unwrap();
        assert!(none.x.is_nan() && none.o.is_none());
        let err = serde_json::from_str::<Rec>(r#"{"x":"nan?","o":null,"v":[],"p":[1,2],"m":[[1,2],[3,4]]}"#).unwrap_err();
        assert!(err.to_string().contains("\"NaN\""), "{err}");
        assert_eq!(assert_non_finite_round_trip(&r, &[]), 4, "the finite floats 1.5, 2, 0, 3");
    }

    /// Without the attribute, serde_json writes NaN as `null` and cannot read
    /// it back: the failure this module exists for (the negative control of
    /// the test above).
    #[test]
    fn a_plain_f64_does_not_round_trip() {
        #[derive(Serialize, Deserialize)]
        struct Plain {
            x: f64,
        }
        let text = serde_json::to_string(&Plain { x: f64::NAN }).unwrap();
        assert_eq!(text, r#"{"x":null}"#);
        assert!(serde_json::from_str::<Plain>(&text).is_err());
    }

    fn file(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments").join(name)
    }

    /// Every float of every experiment's run record (the run's own config
    /// aside, which validation keeps finite) survives NaN and ±∞: a diverged
    /// run is recorded, never a stuck store (issue 17). A plain `f64` field
    /// added to a record without the attribute fails here.
    #[test]
    fn every_run_record_round_trips_non_finite_floats() {
        use crate::harness::claims::{ClaimKind, Criterion};
        let x = 0.25;
        let uv = crate::uv::UvRunSummary {
            run: crate::uv::UvExperiment::load(&file("uv.toml")).unwrap().smoke.runs().remove(0),
            fit: Some(crate::uv::DecayFitRecord { tau: x, tau_stderr: x, window: (x, x), points: 3, r2: x }),
            error: None,
            train_seconds: x,
        };
        assert_eq!(assert_non_finite_round_trip(&uv, &["run"]), 6);
        let ms = crate::matrix_sensing::MsRunSummary {
            run: crate::matrix_sensing::MsExperiment::load(&file("matrix-sensing.toml")).unwrap().smoke.runs().remove(0),
            t_star: x,
            trace0: x,
            final_trace_ratio: Some(x),
            final_test_error: Some(x),
            diverged_at: Some(3),
            train_seconds: x,
        };
        assert_eq!(assert_non_finite_round_trip(&ms, &["run"]), 5);
        let mlp = crate::mlp::MlpRunSummary {
            run: crate::mlp::MlpExperiment::load(&file("mlp-fashion.toml")).unwrap().smoke.runs().remove(0),
            best_test_accuracy: x,
            best_epoch: 1,
            final_test_accuracy: Some(x),
            final_train_accuracy: Some(x),
            start_test_accuracy: x,
            diverged: true,
            failed: true,
            wall_seconds: x,
        };
        assert_eq!(assert_non_finite_round_trip(&mlp, &["run"]), 5);
        let resnet = crate::resnet::ResnetRunSummary {
            run: crate::resnet::ResnetExperiment::load(&file("resnet-cifar.toml")).unwrap().smoke.runs().remove(0),
            epochs: vec![0, 1],
            test_accuracy: vec![x, x],
            best_test_accuracy: x,
            train_accuracy_phase2: x,
            train_accuracy_projected: x,
            test_accuracy_projected: x,
            phase3_steps: 2,
            error: Some("diverged".into()),
            wall_seconds: x,
            timing: crate::resnet::RunTiming { phase2_steps: x, phase2_step_count: 1, curve_evals: x, curve_eval_count: 1, phase3: x, final_eval: x },
        };
        assert_eq!(assert_non_finite_round_trip(&resnet, &["run"]), 11);
        let theory = crate::theory::TheoryRunSummary {
            run: crate::theory::TheoryExperiment::load(&file("theory.toml")).unwrap().smoke.runs().remove(0),
            dtype: "f64".into(),
            points: vec![crate::theory::FdPoint { gamma: x, lambda: x, beta: x, jacobian: [[x, x], [x, x]] }],
            boundary_gamma: Some(x),
            boundary_error: None,
            boundary_steps: 4,
            train_seconds: x,
        };
        assert_eq!(assert_non_finite_round_trip(&theory, &["run"]), 9);
        let criterion = Criterion { measured: Some(x), uncertainty: Some(x), theory: Some(x), kind: ClaimKind::Empirical, ..Default::default() };
        assert_eq!(assert_non_finite_round_trip(&criterion, &[]), 3);
    }
}
