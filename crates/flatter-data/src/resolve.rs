//! Where a dataset is looked for, and what to tell the user when it is nowhere.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{DataError, cifar10, mnist};

/// The name of Fashion-MNIST for [`resolve_dir`] and in paths.
pub const FASHION_MNIST: &str = "fashion-mnist";
/// The name of MNIST for [`resolve_dir`] and in paths.
pub const MNIST: &str = "mnist";
/// The name of CIFAR-10 for [`resolve_dir`] and in paths.
pub const CIFAR10: &str = "cifar10";
/// The environment variable naming a directory with one subdirectory per dataset.
pub const DATA_DIR_ENV: &str = "FLATTER_DATA_DIR";
/// Where Debian's `dataset-fashion-mnist` package puts the IDX files.
const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// How to get a dataset, as a sentence fragment for error messages.
pub fn how_to_get(name: &str) -> String {
    match name {
        FASHION_MNIST => format!(
            "to get Fashion-MNIST, run `apt-get install dataset-fashion-mnist` \
             (Debian puts the files in {DEBIAN_FASHION_MNIST}) \
             or `cargo xtask data fetch fashion-mnist`"
        ),
        MNIST => "to get MNIST, run `cargo xtask data fetch mnist`, or put the four IDX files \
                  (train-images-idx3-ubyte etc., raw or .gz) in the directory"
            .to_string(),
        CIFAR10 => "to get CIFAR-10, run `cargo xtask data fetch cifar10`".to_string(),
        _ => format!("{name} is not a dataset this crate knows"),
    }
}

/// The directory that holds dataset `name` (`fashion-mnist`, `mnist` or `cifar10`).
///
/// If `explicit` is given (a `--data-dir`), it is the only place looked at.
/// Otherwise the first of these that holds all the dataset's files wins:
/// `$FLATTER_DATA_DIR/<name>`; `$XDG_CACHE_HOME/flatter/<name>`, or
/// `~/.cache/flatter/<name>` when `XDG_CACHE_HOME` is unset; and, for
/// Fashion-MNIST only, `/usr/share/datasets/fashion-mnist`. The error lists
/// every place looked at and how to get the data.
pub fn resolve_dir(name: &str, explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let var = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let candidates = candidates(
        name,
        explicit,
        var(DATA_DIR_ENV),
        var("XDG_CACHE_HOME"),
        var("HOME"),
    )?;
    match candidates.iter().find(|dir| holds(name, dir)) {
        Some(dir) => Ok(dir.clone()),
        None => Err(DataError::NotFound {
            name: name.to_string(),
            looked: candidates,
            hint: how_to_get(name),
        }),
    }
}

/// The directories to look in, in order, given the environment's values.
fn candidates(
    name: &str,
    explicit: Option<&Path>,
    data_dir: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
) -> Result<Vec<PathBuf>, DataError> {
    if ![FASHION_MNIST, MNIST, CIFAR10].contains(&name) {
        return Err(DataError::UnknownDataset {
            name: name.to_string(),
        });
    }
    if let Some(dir) = explicit {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut dirs = Vec::new();
    if let Some(root) = data_dir {
        dirs.push(PathBuf::from(root).join(name));
    }
    let cache = match (xdg_cache, home) {
        (Some(xdg), _) => Some(PathBuf::from(xdg)),
        (None, Some(home)) => Some(PathBuf::from(home).join(".cache")),
        (None, None) => None,
    };
    if let Some(cache) = cache {
        dirs.push(cache.join("flatter").join(name));
    }
    if name == FASHION_MNIST {
        dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    Ok(dirs)
}

/// Whether `dir` holds every file of both splits of dataset `name`.
fn holds(name: &str, dir: &Path) -> bool {
    if name == CIFAR10 {
        let root = cifar10::batches_dir(dir);
        cifar10::TRAIN_FILES
            .iter()
            .chain([&cifar10::TEST_FILE])
            .all(|file| root.join(file).is_file())
    } else {
        mnist::FILES
            .iter()
            .all(|file| mnist::locate(dir, file).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn order_of_candidates() {
        let dirs = candidates(FASHION_MNIST, None, os("/d"), os("/x"), os("/h")).unwrap();
        let want: Vec<PathBuf> = [
            "/d/fashion-mnist",
            "/x/flatter/fashion-mnist",
            DEBIAN_FASHION_MNIST,
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
    }

    #[test]
    fn home_cache_without_xdg_and_no_debian_dir_for_cifar() {
        let dirs = candidates(CIFAR10, None, None, None, os("/h")).unwrap();
        assert_eq!(dirs, vec![PathBuf::from("/h/.cache/flatter/cifar10")]);
    }

    #[test]
    fn explicit_dir_is_the_only_candidate() {
        let dirs = candidates(MNIST, Some(Path::new("/e")), os("/d"), None, os("/h")).unwrap();
        assert_eq!(dirs, vec![PathBuf::from("/e")]);
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = candidates("imagenet", None, None, None, None).unwrap_err();
        assert!(matches!(err, DataError::UnknownDataset { .. }), "{err}");
    }

    #[test]
    fn not_found_lists_places_and_how_to_get() {
        let missing = Path::new("/nonexistent/flatter-data-test");
        let err = resolve_dir(CIFAR10, Some(missing)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::NotFound { .. }), "{msg}");
        assert!(msg.contains("/nonexistent/flatter-data-test"), "{msg}");
        assert!(msg.contains("cargo xtask data fetch cifar10"), "{msg}");
    }
}
