//! Dying with the launcher: `cargo xtask reproduce` spawns `flatter-experiment`
//! with its own pid in [`PARENT_PID_ENV`], and the experiment binary calls
//! [`exit_with_parent`] first thing. A SIGKILL of xtask cannot be caught or
//! forwarded, and without this the orphaned child kept training and holding
//! the results directory's lock (issue 17). The watchdog polls
//! `parent_id()`: once the parent has exited, the child has been re-parented
//! (to init or a subreaper) and exits too, releasing the lock. Writes are
//! atomic renames, so exiting at any moment leaves a resumable directory, as
//! a kill -9 does. std only (no libc): no signal handling is needed.

use std::thread::JoinHandle;
use std::time::Duration;

/// The environment variable through which a launcher passes its pid.
pub const PARENT_PID_ENV: &str = "FLATTER_PARENT_PID";
/// How often the watchdog checks its parent.
pub const POLL: Duration = Duration::from_millis(500);

/// Whether `parent` is no longer this process's parent (it has exited).
#[cfg(unix)]
pub fn parent_gone(parent: u32) -> bool {
    std::os::unix::process::parent_id() != parent
}

/// Never true where the parent cannot be asked.
#[cfg(not(unix))]
pub fn parent_gone(_parent: u32) -> bool {
    false
}

/// Calls `on_gone` from a new thread once `parent` is no longer this
/// process's parent, checking every `poll` (first at once).
pub fn watch(
    parent: u32,
    poll: Duration,
    on_gone: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("parent-watchdog".into())
        .spawn(move || {
            while !parent_gone(parent) {
                std::thread::sleep(poll);
            }
            on_gone();
        })
}

/// If [`PARENT_PID_ENV`] is set, starts the watchdog that exits this process
/// (status 1, with a message) once that process is no longer its parent.
/// Unset, it does nothing (a direct run from a shell); malformed, it is an error.
pub fn exit_with_parent() -> anyhow::Result<()> {
    let Some(value) = std::env::var_os(PARENT_PID_ENV) else {
        return Ok(());
    };
    let parent: u32 = value
        .to_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{PARENT_PID_ENV}={value:?} is not a process id"))?;
    watch(parent, POLL, move || {
        eprintln!(
            "flatter-experiment: its launcher (pid {parent}) is gone; exiting (completed runs are kept, and a rerun resumes)"
        );
        std::process::exit(1);
    })?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use super::*;

    /// Set for the child role of [`helper_child`]: `1` starts the watchdog, `0` does not.
    const HELPER_ENV: &str = "FLATTER_WATCHDOG_TEST_CHILD";

    /// Not a test by itself: the child that the test below starts through a
    /// shell, re-running this test binary.
    #[test]
    #[ignore = "run by a_child_dies_with_its_killed_parent"]
    fn helper_child() {
        let Ok(mode) = std::env::var(HELPER_ENV) else {
            return;
        };
        if mode == "1" {
            exit_with_parent().unwrap();
        }
        std::thread::sleep(Duration::from_secs(30));
    }

    /// Whether process `pid` has exited (gone, or a zombie nobody reaped yet).
    fn exited(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    /// Starts `sh`, which starts the helper child with `FLATTER_PARENT_PID=$$`
    /// and waits; kills `sh` with SIGKILL; returns the child's pid and whether
    /// it exited within 5 s.
    fn kill_parent(watchdog: bool) -> (u32, bool) {
        let exe = std::env::current_exe().unwrap();
        let script = format!(
            "{PARENT_PID_ENV}=$$ {HELPER_ENV}={} \"$0\" watchdog::tests::helper_child --exact --ignored --quiet >/dev/null 2>&1 & echo $!; wait",
            u8::from(watchdog)
        );
        let mut sh = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(exe)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(sh.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let child: u32 = line.trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            !exited(child),
            "the child must be running before its parent is killed"
        );
        sh.kill().unwrap(); // SIGKILL: nothing can be forwarded
        sh.wait().unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if exited(child) {
                return (child, true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (child, false)
    }

    #[test]
    fn a_child_dies_with_its_killed_parent() {
        let (_, exited_in_time) = kill_parent(true);
        assert!(
            exited_in_time,
            "the child outlived its SIGKILLed parent by 5 s"
        );
        // Negative control: without the watchdog the orphan keeps running (the bug).
        let (orphan, exited_in_time) = kill_parent(false);
        let _ = Command::new("kill")
            .arg("-9")
            .arg(orphan.to_string())
            .status();
        assert!(
            !exited_in_time,
            "without the watchdog the child should have survived"
        );
    }

    #[test]
    fn parent_gone_compares_with_the_actual_parent() {
        assert!(!parent_gone(std::os::unix::process::parent_id()));
        assert!(parent_gone(u32::MAX));
    }
}
