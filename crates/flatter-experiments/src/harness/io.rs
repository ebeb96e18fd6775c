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

/// The suffix of a temporary file of process `pid`: `.<name>.tmp.<pid>`.
const TMP_MARK: &str = ".tmp.";

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename,
/// fsync of the directory so the rename itself is durable), creating the
/// parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))?;
    fsync_dir(dir)
}

/// Flushes a directory's entries (a rename or a new file in it) to disk.
pub fn fsync_dir(dir: &Path) -> Result<(), IoError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Removes, anywhere under `root`, the temporary files ([`write_atomic`]'s
/// `.<name>.tmp.<pid>`) of processes that no longer run: what a killed
/// write leaves behind. A temporary of a live process (another shard writing
/// now) is kept. Returns the paths removed. Where the process table cannot
/// be read (no `/proc`), nothing is removed.
pub fn sweep_temporaries(root: &Path) -> Vec<PathBuf> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return Vec::new();
    }
    let mut removed = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix('.').and_then(|n| n.rsplit_once(TMP_MARK)).map(|(_, pid)| pid);
            if let Some(pid) = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                && !proc.join(pid).exists()
                && fs::remove_file(&path).is_ok()
            {
                removed.push(path);
            }
        }
    }
    removed
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), IoError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| IoError::Parse { path: path.to_path_buf(), message: format!("serialising: {e}") })?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes a record that will be read back into `T` (a run summary, a
/// checkpoint's state): as [`write_json`], after checking that the text
/// parses into `T` again. A record that would not (a NaN written as `null`
/// into a plain `f64` field, see [`crate::harness::real`]) is an error naming
/// the file and is not written, so the store never holds a record it cannot
/// read.
pub fn write_record<T: Serialize + DeserializeOwned>(path: &Path, value: &T) -> Result<(), IoError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| IoError::Parse { path: path.to_path_buf(), message: format!("serialising: {e}") })?;
    if let Err(e) = serde_json::from_str::<T>(&text) {
        return Err(IoError::Parse {
            path: path.to_path_buf(),
            message: format!(
                "refusing to write a record that would not read back ({e}); a float that can be NaN or infinite needs \
                 #[serde(with = \"crate::harness::real\")]"
            ),
        });
    }
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

    /// A temporary left by a process that is gone is removed; one of a live
    /// process (this one) and ordinary files are kept.
    #[test]
    fn temporaries_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("runs").join("r1");
        fs::create_dir_all(&sub).unwrap();
        // pid_max on Linux is at most 2^22, so this pid cannot be running.
        let dead = sub.join(".summary.json.tmp.99999999");
        let live = sub.join(format!(".summary.json.tmp.{}", std::process::id()));
        let plain = sub.join("summary.json.tmp.1");
        for p in [&dead, &live, &plain] {
            fs::write(p, b"x").unwrap();
        }
        let removed = sweep_temporaries(dir.path());
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, vec![dead.clone()]);
            assert!(!dead.exists());
        }
        assert!(live.exists() && plain.exists());
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
