//! The setup key: what a shared setup artefact under `<out>/setup/` was made
//! from (the MLP's valley checkpoint, ResNet's phase 1). Every run of an
//! experiment starts from that artefact, so it is made once and reused only
//! when the settings that would make it now equal the settings it was made
//! from. One key type for every experiment: the settings serialised to JSON
//! and compared whole, so adding a setting to the key can only force a
//! rebuild, never a silent reuse.
//!
//! [`FileSet`] (with `train`): a set of files made durable as one unit by a
//! manifest written last (a checkpoint's model, optimizer and position; an
//! artefact's record and summary), so a kill between two of its writes can
//! never leave a mixed set that loads.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::harness::io::{IoError, read_json, write_json};
#[cfg(feature = "train")]
pub use file_set::{FileSet, Loaded};

/// The settings a setup artefact depends on, as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SetupKey(serde_json::Value);

impl SetupKey {
    /// The key of `settings` (a struct or a `json!` object of every setting
    /// that changes the artefact, the backend included where it matters).
    pub fn of(settings: &impl Serialize) -> SetupKey {
        SetupKey(serde_json::to_value(settings).expect("setup settings serialise to JSON"))
    }

    /// Whether the key stored at `path` (a JSON file holding exactly a key)
    /// is this one; a missing or unreadable file is no match.
    pub fn matches_file(&self, path: &Path) -> bool {
        read_json::<SetupKey>(path).is_ok_and(|saved| &saved == self)
    }

    /// Writes this key to `path`, atomically.
    pub fn write(&self, path: &Path) -> Result<(), IoError> {
        write_json(path, self)
    }
}

#[cfg(feature = "train")]
mod file_set {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::{Path, PathBuf};

    use flatter_data::sha256_hex;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};

    use crate::harness::abort;
    use crate::harness::io::{IoError, fsync_dir, read_json, write_atomic, write_json};

    /// One file of a set, as its manifest names it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Entry {
        name: String,
        sha256: String,
    }

    /// The manifest: the set's files by role, and the caller's state beside them.
    #[derive(Serialize, Deserialize)]
    struct Manifest<S> {
        files: BTreeMap<String, Entry>,
        #[serde(flatten)]
        state: S,
    }

    /// A verified set: the manifest's state and every file's bytes by role.
    pub struct Loaded<S> {
        /// The state the manifest carries.
        pub state: S,
        /// Each file's bytes, by the role it was saved under.
        pub files: BTreeMap<String, Vec<u8>>,
    }

    /// Files in `dir` that count only together: written one by one (each
    /// atomically), then the manifest `dir/<manifest>` naming each file's
    /// SHA-256, written last and atomically. A set is loaded only when its
    /// manifest parses and every file's hash matches, so a kill between any
    /// two writes leaves either the previous complete set or none. Writes pass
    /// the abort points `<point>.<role>`, `<point>.manifest` and `<point>.prune`
    /// ([`abort::POINTS`]).
    ///
    /// Two uses: a checkpoint that is replaced (its files are named by
    /// generation, `model.<g>.bpk`, so the new generation never overwrites a
    /// file the current manifest names, and the old files are pruned once the
    /// new manifest is durable), and an artefact written once under fixed
    /// names (first [`FileSet::invalidate`], then [`FileSet::write`]).
    pub struct FileSet<'a> {
        /// The directory of the set.
        pub dir: &'a Path,
        /// The manifest's file name in `dir`.
        pub manifest: &'a str,
        /// The prefix of the set's abort points.
        pub point: &'a str,
    }

    impl FileSet<'_> {
        fn manifest_path(&self) -> PathBuf {
            self.dir.join(self.manifest)
        }

        /// The verified set, or `None` when there is no manifest. A manifest
        /// that does not parse, or a file that is missing or does not match
        /// its hash, is a torn or damaged set: it is discarded (the manifest
        /// removed) with a warning naming the file, and `None` returned, so the
        /// caller starts over and never resumes from a mixed set.
        pub fn load<S: DeserializeOwned>(&self) -> Result<Option<Loaded<S>>, IoError> {
            let path = self.manifest_path();
            if !path.exists() {
                return Ok(None);
            }
            let problem = match read_json::<Manifest<S>>(&path) {
                Err(e) => format!("its manifest does not parse ({e})"),
                Ok(manifest) => match self.verify(&manifest.files) {
                    Ok(files) => return Ok(Some(Loaded { state: manifest.state, files })),
                    Err(problem) => problem,
                },
            };
            eprintln!("warning: discarding {}: {problem}; starting that step over", path.display());
            self.invalidate()?;
            Ok(None)
        }

        fn verify(&self, entries: &BTreeMap<String, Entry>) -> Result<BTreeMap<String, Vec<u8>>, String> {
            let mut files = BTreeMap::new();
            for (role, entry) in entries {
                let path = self.dir.join(&entry.name);
                let bytes = fs::read(&path).map_err(|e| format!("{} is unreadable ({e})", path.display()))?;
                let found = sha256_hex(&bytes);
                if found != entry.sha256 {
                    return Err(format!("{} has SHA-256 {found}, the manifest says {}", path.display(), entry.sha256));
                }
                files.insert(role.clone(), bytes);
            }
            Ok(files)
        }

        /// Writes `files` (role, file name, bytes) in order, then the manifest
        /// with `state`; with `prune`, then removes every other file of `dir`
        /// (an older generation, or files of a set that never got its manifest).
        pub fn write<S: Serialize>(&self, files: &[(&str, &str, &[u8])], state: &S, prune: bool) -> Result<(), IoError> {
            let mut entries = BTreeMap::new();
            for &(role, name, bytes) in files {
                write_atomic(&self.dir.join(name), bytes)?;
                abort::at(&format!("{}.{role}", self.point));
                entries.insert(role.to_string(), Entry { name: name.to_string(), sha256: sha256_hex(bytes) });
            }
            write_json(&self.manifest_path(), &Manifest { files: entries, state })?;
            abort::at(&format!("{}.manifest", self.point));
            if prune {
                let keep: Vec<&str> = files.iter().map(|f| f.1).chain([self.manifest]).collect();
                let listing = fs::read_dir(self.dir).map_err(|source| IoError::Io { path: self.dir.to_path_buf(), source })?;
                let mut stale: Vec<PathBuf> = listing
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter(|e| !keep.iter().any(|k| e.file_name() == *k))
                    .map(|e| e.path())
                    .collect();
                stale.sort();
                for path in stale {
                    fs::remove_file(&path).map_err(|source| IoError::Io { path: path.clone(), source })?;
                    abort::at(&format!("{}.prune", self.point));
                }
                fsync_dir(self.dir)?;
            }
            Ok(())
        }

        /// Removes the manifest (durably), so the files it named no longer
        /// count as a set; call it before rewriting a set under fixed names,
        /// and before deleting a set's directory.
        pub fn invalidate(&self) -> Result<(), IoError> {
            let path = self.manifest_path();
            match fs::remove_file(&path) {
                Ok(()) => fsync_dir(self.dir),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(IoError::Io { path, source }),
            }
        }

        /// Removes the whole directory, the manifest first.
        pub fn remove(&self) -> Result<(), IoError> {
            if !self.dir.exists() {
                return Ok(());
            }
            self.invalidate()?;
            fs::remove_dir_all(self.dir).map_err(|source| IoError::Io { path: self.dir.to_path_buf(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Settings {
        lr: f64,
        seed: u64,
    }

    /// Equal settings match, any changed setting does not, and a key
    /// round-trips through its file byte for byte with the struct's JSON.
    #[test]
    fn equal_settings_match_and_changed_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let key = SetupKey::of(&Settings { lr: 0.1, seed: 1 });
        assert!(!key.matches_file(&path));
        key.write(&path).unwrap();
        assert!(key.matches_file(&path));
        assert!(!SetupKey::of(&Settings { lr: 0.1, seed: 2 }).matches_file(&path));
        assert!(!SetupKey::of(&Settings { lr: 0.2, seed: 1 }).matches_file(&path));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), serde_json::json!({"lr": 0.1, "seed": 1}));
    }

    #[cfg(feature = "train")]
    mod file_sets {
        use super::super::{FileSet, Loaded};

        fn set(dir: &std::path::Path) -> FileSet<'_> {
            FileSet { dir, manifest: "manifest.json", point: "resnet.run-checkpoint" }
        }

        fn save(dir: &std::path::Path, g: u64, model: &[u8], optim: &[u8]) {
            let (m, o) = (format!("model.{g}.bpk"), format!("optim.{g}.bpk"));
            set(dir).write(&[("model", m.as_str(), model), ("optim", o.as_str(), optim)], &serde_json::json!({ "generation": g }), true).unwrap();
        }

        fn load(dir: &std::path::Path) -> Option<(u64, Vec<u8>, Vec<u8>)> {
            let l: Loaded<serde_json::Value> = set(dir).load().unwrap()?;
            Some((l.state["generation"].as_u64().unwrap(), l.files["model"].clone(), l.files["optim"].clone()))
        }

        fn names(dir: &std::path::Path) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        }

        /// A set round-trips; the next generation replaces it and prunes the
        /// old files; files written without their manifest (a kill before it)
        /// leave the previous generation loadable.
        #[test]
        fn generations_replace_each_other_and_a_torn_one_is_ignored() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("checkpoint");
            assert!(load(&dir).is_none());
            save(&dir, 0, b"m0", b"o0");
            assert_eq!(load(&dir), Some((0, b"m0".to_vec(), b"o0".to_vec())));
            save(&dir, 1, b"m1", b"o1");
            assert_eq!(load(&dir), Some((1, b"m1".to_vec(), b"o1".to_vec())));
            assert_eq!(names(&dir), ["manifest.json", "model.1.bpk", "optim.1.bpk"]);
            // Generation 2's model and optimizer are written, its manifest is not.
            std::fs::write(dir.join("model.2.bpk"), b"m2").unwrap();
            std::fs::write(dir.join("optim.2.bpk"), b"o2").unwrap();
            assert_eq!(load(&dir), Some((1, b"m1".to_vec(), b"o1".to_vec())));
            save(&dir, 2, b"m2'", b"o2'");
            assert_eq!(load(&dir), Some((2, b"m2'".to_vec(), b"o2'".to_vec())));
            assert_eq!(names(&dir), ["manifest.json", "model.2.bpk", "optim.2.bpk"]);
        }

        /// What the three separate renames allowed (a model of one epoch
        /// beside the position of another) never loads: a file that differs
        /// from its hash, a missing file or a damaged manifest discards the set.
        #[test]
        fn a_mixed_or_damaged_set_is_discarded() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("checkpoint");
            let damages: [&dyn Fn(&std::path::Path); 4] = [
                &|d| std::fs::write(d.join("model.0.bpk"), b"m1").unwrap(),
                &|d| std::fs::write(d.join("optim.0.bpk"), b"o0 and more").unwrap(),
                &|d| std::fs::remove_file(d.join("optim.0.bpk")).unwrap(),
                &|d| std::fs::write(d.join("manifest.json"), b"{\"files\": ").unwrap(),
            ];
            for damage in damages {
                save(&dir, 0, b"m0", b"o0");
                damage(&dir);
                assert!(load(&dir).is_none());
                assert!(!dir.join("manifest.json").exists(), "the discarded manifest is removed");
                assert!(load(&dir).is_none());
            }
        }

        /// An artefact under fixed names: invalidated, then rewritten.
        #[test]
        fn a_fixed_name_artefact_is_invalidated_before_it_is_rewritten() {
            let tmp = tempfile::tempdir().unwrap();
            let set = FileSet { dir: tmp.path(), manifest: "phase1.json", point: "resnet.phase1" };
            set.write(&[("model", "phase1.bpk", b"a")], &serde_json::json!({ "epochs": 1 }), false).unwrap();
            std::fs::write(tmp.path().join("other.json"), b"{}").unwrap();
            set.invalidate().unwrap();
            assert!(set.load::<serde_json::Value>().unwrap().is_none());
            set.write(&[("model", "phase1.bpk", b"b")], &serde_json::json!({ "epochs": 2 }), false).unwrap();
            let l = set.load::<serde_json::Value>().unwrap().unwrap();
            assert_eq!((l.state["epochs"].as_u64(), l.files["model"].as_slice()), (Some(2), &b"b"[..]));
            assert!(tmp.path().join("other.json").exists(), "without prune, other files stay");
        }
    }
}
