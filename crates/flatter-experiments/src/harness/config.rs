//! What every experiment file shares: `smoke` / `cpu` / `paper` tables,
//! strict parsing (unknown or missing fields are errors naming the field),
//! and range checks whose errors name the file, the scale and the field.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::harness::io::{IoError, read_toml};
use crate::harness::scale::Scale;

/// A field out of range: the field and what was expected.
pub type Invalid = (&'static str, String);

/// `Ok` when `ok`, else the field and the expectation.
pub fn require(ok: bool, field: &'static str, message: impl Into<String>) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err((field, message.into())) }
}

/// A config value out of range; names the file, scale and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or parsing failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A number is infinite or NaN (TOML allows `inf` and `nan`; no setting
    /// of ours means either).
    #[error("{path}: {field} = {value}: every number in an experiment file must be finite")]
    NonFinite {
        /// The config file.
        path: String,
        /// The dotted path of the field, e.g. `cpu.phase2.lrs[1]`.
        field: String,
        /// The value found.
        value: f64,
    },
    /// A field of the `[rules]` table is out of range.
    #[error("{path}: [rules] {field}: {message}")]
    InvalidRule {
        /// The config file.
        path: String,
        /// The field.
        field: &'static str,
        /// What was expected.
        message: String,
    },
    /// A field is out of range.
    #[error("{path}: [{scale}] {field}: {message}")]
    Invalid {
        /// The config file.
        path: String,
        /// The scale table.
        scale: Scale,
        /// The field.
        field: &'static str,
        /// What was expected.
        message: String,
    },
}

/// One scale's table of an experiment file.
pub trait ScaleTable: serde::Serialize {
    /// Checks every field's range.
    fn validate(&self) -> Result<(), Invalid>;
    /// The jobs of the scale, in a fixed order (shards are positions in it).
    fn jobs(&self) -> Vec<crate::harness::plan::Job>;
    /// Every run id of the scale, in the order the analysis reads the records.
    fn run_ids(&self) -> Vec<String>;
    /// Every run with its config as JSON: what its `runs/<id>/config.json`
    /// must hold for its record to count ([`crate::harness::plan::RunStore`]).
    fn run_configs(&self) -> Vec<(String, serde_json::Value)>;
}

/// An experiment file with a table per scale.
pub trait ExperimentFile: DeserializeOwned {
    /// The table type.
    type Table: ScaleTable;
    /// The `smoke`, `cpu` and `paper` tables.
    fn tables(&self) -> [&Self::Table; 3];

    /// Checks the `[rules]` table (the criteria's thresholds, fixed before
    /// the runs), for the files that have one.
    fn check_rules(&self) -> Result<(), Invalid>;

    /// The table of one scale.
    fn table(&self, scale: Scale) -> &Self::Table {
        let [smoke, cpu, paper] = self.tables();
        match scale {
            Scale::Smoke => smoke,
            Scale::Cpu => cpu,
            Scale::Paper => paper,
        }
    }
}

/// Declares an experiment file: `$file` (with `smoke`, `cpu` and `paper`
/// fields of type `$table`) implements [`ExperimentFile`], `$table`
/// implements [`ScaleTable`] through its inherent `validate`, `jobs` and
/// `runs` (whose items have an `id` and are what each run writes as its
/// `config.json`), and `$file` gets
/// `load(path)` (read and validate every table) and `scale(scale)`. With a
/// third argument `rules`, the file's `rules` field (a `[rules]` table with
/// an inherent `validate`) is checked on load too.
macro_rules! experiment_file {
    ($file:ty, $table:ty, rules) => {
        $crate::harness::config::experiment_file!(@impl $file, $table, |f: &$file| f.rules.validate());
    };
    ($file:ty, $table:ty) => {
        $crate::harness::config::experiment_file!(@impl $file, $table, |_: &$file| Ok(()));
    };
    (@impl $file:ty, $table:ty, $rules:expr) => {
        impl $crate::harness::config::ExperimentFile for $file {
            type Table = $table;
            fn tables(&self) -> [&$table; 3] {
                [&self.smoke, &self.cpu, &self.paper]
            }
            fn check_rules(&self) -> Result<(), $crate::harness::config::Invalid> {
                ($rules)(self)
            }
        }

        impl $crate::harness::config::ScaleTable for $table {
            fn validate(&self) -> Result<(), $crate::harness::config::Invalid> {
                <$table>::validate(self)
            }
            fn jobs(&self) -> Vec<$crate::harness::plan::Job> {
                <$table>::jobs(self)
            }
            fn run_ids(&self) -> Vec<String> {
                <$table>::runs(self).into_iter().map(|r| r.id).collect()
            }
            fn run_configs(&self) -> Vec<(String, serde_json::Value)> {
                <$table>::runs(self)
                    .into_iter()
                    .map(|r| {
                        let json = serde_json::to_value(&r).expect("a run's config serialises to JSON");
                        (r.id, json)
                    })
                    .collect()
            }
        }

        impl $file {
            /// Reads and validates the experiment file.
            pub fn load(path: &std::path::Path) -> Result<Self, $crate::harness::config::ConfigError> {
                $crate::harness::config::load(path)
            }

            /// The table of one scale.
            pub fn scale(&self, scale: $crate::harness::scale::Scale) -> &$table {
                <Self as $crate::harness::config::ExperimentFile>::table(self, scale)
            }
        }
    };
}
pub(crate) use experiment_file;

/// Reads `path`, refuses any infinite or NaN number (naming its field), and
/// validates every scale's table.
pub fn load<E: ExperimentFile>(path: &Path) -> Result<E, ConfigError> {
    // Parsed twice on purpose: once untyped to find non-finite numbers with
    // their paths, once into `E` so serde's errors keep line and column.
    let raw: toml::Table = read_toml(path)?;
    if let Some((field, value)) = raw.iter().find_map(|(k, v)| first_non_finite(v, k)) {
        return Err(ConfigError::NonFinite { path: path.display().to_string(), field, value });
    }
    let exp: E = read_toml(path)?;
    exp.check_rules().map_err(|(field, message)| ConfigError::InvalidRule { path: path.display().to_string(), field, message })?;
    for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
        exp.table(scale).validate().map_err(|(field, message)| ConfigError::Invalid {
            path: path.display().to_string(),
            scale,
            field,
            message,
        })?;
    }
    Ok(exp)
}

/// The first float in `v` that is infinite or NaN, with its dotted path.
fn first_non_finite(v: &toml::Value, at: &str) -> Option<(String, f64)> {
    match v {
        toml::Value::Float(x) if !x.is_finite() => Some((at.to_string(), *x)),
        toml::Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| first_non_finite(x, &format!("{at}[{i}]"))),
        toml::Value::Table(t) => t.iter().find_map(|(k, x)| first_non_finite(x, &format!("{at}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::matrix_sensing::MsExperiment;
    use crate::resnet::ResnetExperiment;
    use crate::uv::UvExperiment;

    fn experiments() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
    }

    /// `inf` passes a `> 0` check, so it is refused before any range check,
    /// with the file and the field's path in the message (issue 17); `nan`
    /// and numbers inside arrays and nested tables too.
    #[test]
    fn infinite_and_nan_numbers_are_refused_with_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let uv = std::fs::read_to_string(experiments().join("uv.toml")).unwrap();
        let path = dir.path().join("uv.toml");
        for (from, to, field) in [("eps = 0.1", "eps = inf", "smoke.eps"), ("eps = 0.1", "eps = nan", "smoke.eps")] {
            assert!(uv.contains(from));
            std::fs::write(&path, uv.replacen(from, to, 1)).unwrap();
            let err = UvExperiment::load(&path).unwrap_err().to_string();
            assert!(err.contains("uv.toml") && err.contains(field) && err.contains("finite"), "{err}");
        }
        let ms = std::fs::read_to_string(experiments().join("matrix-sensing.toml")).unwrap();
        let line = ms.lines().find(|l| l.trim_start().starts_with("init_sigma")).unwrap();
        let path = dir.path().join("matrix-sensing.toml");
        std::fs::write(&path, ms.replacen(line, "init_sigma = +inf", 1)).unwrap();
        let err = MsExperiment::load(&path).unwrap_err().to_string();
        assert!(err.contains("init_sigma") && err.contains("finite"), "{err}");
        let resnet = std::fs::read_to_string(experiments().join("resnet-cifar.toml")).unwrap();
        let line = resnet.lines().find(|l| l.trim_start().starts_with("lrs =")).unwrap();
        let path = dir.path().join("resnet-cifar.toml");
        std::fs::write(&path, resnet.replacen(line, "lrs = [0.05, inf]", 1)).unwrap();
        let err = ResnetExperiment::load(&path).unwrap_err().to_string();
        assert!(err.contains("lrs[1]") && err.contains("finite"), "{err}");
        // The real files load.
        UvExperiment::load(&experiments().join("uv.toml")).unwrap();
    }
}
