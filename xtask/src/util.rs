//! Small helpers shared by the xtask commands.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The workspace root, derived from xtask's own manifest directory.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// A `cargo` command (the one running xtask, via `$CARGO`) in the workspace root.
/// The xtask alias sets `--target-dir target/xtask` for xtask itself only; the
/// spawned command uses the workspace's own `target/`.
pub fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root())
        .args(args)
        .env_remove("CARGO_TARGET_DIR");
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

/// Runs `cmd`, a `cargo build --message-format=json-render-diagnostics`
/// (diagnostics still go to the terminal), and returns the executable it
/// built for the binary `bin`.
pub fn built_executable(mut cmd: Command, bin: &str) -> anyhow::Result<PathBuf> {
    eprintln!("$ {cmd:?}");
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}", out.status);
    }
    let messages = String::from_utf8_lossy(&out.stdout);
    executable_in(&messages, bin)
        .with_context(|| format!("{cmd:?} reported no executable for {bin}"))
}

/// The `executable` of the last `compiler-artifact` message for binary `bin`
/// in cargo's JSON messages, one per line; the binary itself, not its unit
/// test harness (which `cargo test --no-run` reports under the same name).
fn executable_in(messages: &str, bin: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin && m["profile"]["test"] != true)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_found_in_cargo_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"flatter-data","kind":["lib"]},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"flatter-experiment","kind":["bin"]},"profile":{"test":false},"executable":"/t/release/flatter-experiment"}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"flatter-experiment","kind":["bin"]},"profile":{"test":true},"executable":"/t/release/deps/flatter_experiment-0123"}"#,
            r#"{"reason":"build-finished","success":true}"#,
            "not json",
        ]
        .join("\n");
        assert_eq!(
            executable_in(&messages, "flatter-experiment"),
            Some(PathBuf::from("/t/release/flatter-experiment"))
        );
        assert_eq!(executable_in(&messages, "flatter-data"), None);
        assert_eq!(executable_in("", "flatter-experiment"), None);
    }
}
