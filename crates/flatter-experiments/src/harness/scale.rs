//! The three scales of every experiment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How big a run set is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: exercised by `cargo test`; checks plumbing, not physics.
    Smoke,
    /// Minutes on 2 CPU cores: shows the paper's effect.
    Cpu,
    /// The paper's scale, for a GPU or a cluster.
    Paper,
}

impl Scale {
    /// The lowercase name used in configs, paths and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Cpu => "cpu",
            Scale::Paper => "paper",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smoke" => Ok(Scale::Smoke),
            "cpu" => Ok(Scale::Cpu),
            "paper" => Ok(Scale::Paper),
            other => Err(format!("unknown scale {other:?}: expected smoke, cpu or paper")),
        }
    }
}
