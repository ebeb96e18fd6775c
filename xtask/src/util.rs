//! Small helpers shared by the xtask commands.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace root, derived from xtask's own manifest directory.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// A `cargo` command (the one running xtask, via `$CARGO`) in the workspace root.
/// The xtask alias sets `--target-dir target/xtask` for xtask itself only; the
/// spawned command uses the workspace's own `target/`.
pub fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root()).args(args).env_remove("CARGO_TARGET_DIR");
    cmd
}

/// Runs `cmd`, echoing it first, and fails with its exit status.
pub fn run(mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("spawning {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
