//! Atomic file writes: the bytes go to a temporary file in the target's
//! directory, which is then renamed over the target, so a reader never sees
//! a half-written figure under the final name.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PlotError;

/// The marker in temporary file names, which tests look for.
pub(crate) const TEMP_MARKER: &str = ".tmp-";

/// Writes `bytes` to `path` through a temporary sibling and a rename. On
/// failure the temporary file is removed and the error names `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    // A leading dot hides the temporary file from globs such as *.png, and
    // the process id and counter keep concurrent writers apart.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        "{TEMP_MARKER}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        // The temporary file may not exist if creating it failed; there is
        // nothing more to do about a failed clean-up.
        let _ = fs::remove_file(&tmp);
        io(source)
    })
}

/// `base` with `.ext` appended, keeping any dots already in the file name
/// (so `tau_C0.5` becomes `tau_C0.5.svg`, not `tau_C0.svg`).
pub(crate) fn with_suffix(base: &Path, ext: &str) -> PathBuf {
    let mut s = base.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Creates the directory that will hold `path`, if it has one.
pub(crate) fn create_parent(path: &Path) -> Result<(), PlotError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::create_dir_all(dir).map_err(|source| PlotError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}
