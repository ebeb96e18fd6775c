//! Atomic file writes and strict reads.
//!
//! Every result file is written to a temporary sibling and renamed into
//! place, so a killed process leaves either the old file or the new one,
//! never a torn one; a run is complete exactly when its `summary.json` exists.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A file that could not be read, parsed or written; names the path.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The filesystem refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The contents are not what was expected.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong, with the field where the parser knows it.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename),
/// creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), IoError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| IoError::Parse { path: path.to_path_buf(), message: format!("serialising: {e}") })?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads JSON into `T`, with the path in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, IoError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| IoError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads TOML into `T`; unknown or missing fields are errors naming the field.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, IoError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    toml::from_str(&text).map_err(|e| IoError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("flatter-io-{}", std::process::id()));
        let path = dir.join("sub").join("a.json");
        write_json(&path, &vec![1, 2, 3]).unwrap();
        write_json(&path, &vec![4]).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&path).unwrap(), vec![4]);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parse_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("flatter-io-bad-{}", std::process::id()));
        let path = dir.join("bad.json");
        write_atomic(&path, b"{not json").unwrap();
        let err = read_json::<Vec<i32>>(&path).unwrap_err().to_string();
        assert!(err.contains("bad.json"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
