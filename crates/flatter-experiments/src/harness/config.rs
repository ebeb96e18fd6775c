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
}

/// An experiment file with a table per scale.
pub trait ExperimentFile: DeserializeOwned {
    /// The table type.
    type Table: ScaleTable;
    /// The `smoke`, `cpu` and `paper` tables.
    fn tables(&self) -> [&Self::Table; 3];

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
/// `runs` (whose items have an `id`), and `$file` gets
/// `load(path)` (read and validate every table) and `scale(scale)`.
macro_rules! experiment_file {
    ($file:ty, $table:ty) => {
        impl $crate::harness::config::ExperimentFile for $file {
            type Table = $table;
            fn tables(&self) -> [&$table; 3] {
                [&self.smoke, &self.cpu, &self.paper]
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

/// Reads `path` and validates every scale's table.
pub fn load<E: ExperimentFile>(path: &Path) -> Result<E, ConfigError> {
    let exp: E = read_toml(path)?;
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
