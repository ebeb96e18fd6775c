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
/// Otherwise the first of these that holds any of the dataset's files decides
/// (see [`presence`]): a complete one wins, a partial one is a
/// [`DataError::Partial`] naming it and what it lacks, never skipped for a
/// later one. The candidates are:
/// `$FLATTER_DATA_DIR/<name>`; `$XDG_CACHE_HOME/flatter/<name>`, or
/// `~/.cache/flatter/<name>` when `XDG_CACHE_HOME` is unset; and, for
/// Fashion-MNIST only, `/usr/share/datasets/fashion-mnist`. When none holds
/// any file, the [`DataError::NotFound`] lists every place looked at and how
/// to get the data.
pub fn resolve_dir(name: &str, explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let var = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let candidates = candidates(
        name,
        explicit,
        var(DATA_DIR_ENV),
        var("XDG_CACHE_HOME"),
        var("HOME"),
    )?;
    first_present(name, candidates)
}

/// The first of `candidates` that holds any file of `name`, if it holds all.
fn first_present(name: &str, candidates: Vec<PathBuf>) -> Result<PathBuf, DataError> {
    for dir in &candidates {
        match presence(name, dir) {
            Presence::Complete => return Ok(dir.clone()),
            Presence::Partial { missing } => {
                return Err(DataError::Partial {
                    name: name.to_string(),
                    dir: dir.clone(),
                    missing,
                    hint: how_to_get(name),
                });
            }
            Presence::Absent => {}
        }
    }
    Err(DataError::NotFound {
        name: name.to_string(),
        looked: candidates,
        hint: how_to_get(name),
    })
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

/// How much of a dataset a directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// None of its files (or no such directory): the only case in which a
    /// caller may look elsewhere or fall back to another dataset.
    Absent,
    /// Some of its files but not every file of both splits.
    Partial {
        /// The files it lacks, in the directory where they belong.
        missing: Vec<PathBuf>,
    },
    /// Every file of both splits (their contents are checked on loading).
    Complete,
}

/// How much of dataset `name` (`fashion-mnist`, `mnist` or `cifar10`; any
/// other name is never present) `dir` holds.
///
/// For the MNISTs, the four IDX files, raw or `.gz`. For CIFAR-10, the six
/// batches in `dir` or its `cifar-10-batches-bin/`; that subdirectory, the
/// archive's other files and the unextracted archive also count as "some
/// files", so an interrupted unpacking is partial, not absent.
pub fn presence(name: &str, dir: &Path) -> Presence {
    let (expected, found_other): (Vec<PathBuf>, bool) = if name == CIFAR10 {
        let root = cifar10::batches_dir(dir);
        let batches = cifar10::TRAIN_FILES.iter().chain([&cifar10::TEST_FILE]);
        let markers = cifar10::MARKERS
            .iter()
            .any(|m| root.join(m).is_file() || dir.join(m).is_file());
        (
            batches.map(|f| root.join(f)).collect(),
            markers || dir.join(cifar10::SUBDIR).is_dir(),
        )
    } else if name == FASHION_MNIST || name == MNIST {
        let files = mnist::FILES.iter();
        (
            files
                .map(|f| mnist::locate(dir, f).unwrap_or_else(|| dir.join(f)))
                .collect(),
            false,
        )
    } else {
        return Presence::Absent;
    };
    let missing: Vec<PathBuf> = expected.iter().filter(|p| !p.is_file()).cloned().collect();
    if missing.is_empty() {
        Presence::Complete
    } else if missing.len() < expected.len() || found_other {
        Presence::Partial { missing }
    } else {
        Presence::Absent
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

    /// A partial `$FLATTER_DATA_DIR/cifar10` is reported, not skipped in
    /// favour of a complete copy later in the search (issue 17).
    #[test]
    fn a_partial_candidate_is_not_skipped_for_a_later_complete_one() {
        let root = tempfile::tempdir().unwrap();
        let (partial, complete) = (root.path().join("env"), root.path().join("cache"));
        for dir in [&partial, &complete] {
            std::fs::create_dir_all(dir).unwrap();
            for file in cifar10::TRAIN_FILES.iter().chain([&cifar10::TEST_FILE]) {
                std::fs::write(dir.join(file), b"").unwrap();
            }
        }
        std::fs::remove_file(partial.join("data_batch_5.bin")).unwrap();
        let both = vec![partial.clone(), complete.clone()];
        let err = first_present(CIFAR10, both).unwrap_err();
        assert!(
            matches!(&err, DataError::Partial { dir, .. } if *dir == partial),
            "{err:?}"
        );
        assert!(err.to_string().contains("data_batch_5.bin"), "{err}");
        // An absent candidate is skipped.
        let absent = root.path().join("absent");
        assert_eq!(
            first_present(CIFAR10, vec![absent, complete.clone()]).unwrap(),
            complete
        );
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
