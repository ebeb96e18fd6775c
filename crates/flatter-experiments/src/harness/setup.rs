//! The setup key: what a shared setup artefact under `<out>/setup/` was made
//! from (the MLP's valley checkpoint, ResNet's phase 1). Every run of an
//! experiment starts from that artefact, so it is made once and reused only
//! when the settings that would make it now equal the settings it was made
//! from. One key type for every experiment: the settings serialised to JSON
//! and compared whole, so adding a setting to the key can only force a
//! rebuild, never a silent reuse.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::harness::io::{IoError, read_json, write_json};

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
}
