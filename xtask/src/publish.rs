//! Copies a complete results tree's report, claims, summaries and figures
//! (not the per-run files) into `docs/results/`, the committed outcome that
//! the README shows.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, bail};

/// Replaces `dest` with the publishable part of `results`; returns the number of files.
/// Refuses when the report is missing or an experiment lacks its summary, so
/// an incomplete run set is never published.
pub fn publish(results: &Path, dest: &Path) -> anyhow::Result<usize> {
    let report = results.join("REPORT.md");
    if !report.exists() {
        bail!("{} is missing: run reproduce-all to the end first", report.display());
    }
    let mut files: Vec<(std::path::PathBuf, std::path::PathBuf)> = vec![
        (report, dest.join("REPORT.md")),
        (results.join("claims.json"), dest.join("claims.json")),
    ];
    for entry in fs::read_dir(results).with_context(|| format!("reading {}", results.display()))? {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().expect("a directory entry has a name").to_owned();
        let summary = dir.join("summary.json");
        if !summary.exists() {
            bail!("{} has no summary.json: the experiment is incomplete, so nothing is published", dir.display());
        }
        files.push((summary, dest.join(&name).join("summary.json")));
        if let Ok(figs) = fs::read_dir(dir.join("figures")) {
            for f in figs {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "png" || e == "svg") {
                    files.push((f.clone(), dest.join(&name).join("figures").join(f.file_name().unwrap())));
                }
            }
        }
    }
    // Build the new tree beside the old one, then swap, so a failure leaves the old one intact.
    let staging = dest.with_extension("staging");
    let _ = fs::remove_dir_all(&staging);
    for (from, to) in &files {
        let to = staging.join(to.strip_prefix(dest).expect("under dest"));
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    let old = dest.with_extension("old");
    let _ = fs::remove_dir_all(&old);
    if dest.exists() {
        fs::rename(dest, &old).with_context(|| format!("moving {} aside", dest.display()))?;
    }
    fs::rename(&staging, dest).with_context(|| format!("moving {} into place", staging.display()))?;
    let _ = fs::remove_dir_all(&old);
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_summaries_and_figures_but_not_runs_and_refuses_incomplete_sets() {
        let dir = tempfile::tempdir().unwrap();
        let (res, dest) = (dir.path().join("results"), dir.path().join("docs/results"));
        fs::create_dir_all(res.join("uv/figures")).unwrap();
        fs::create_dir_all(res.join("uv/runs/r1")).unwrap();
        for (p, t) in [("REPORT.md", "r"), ("claims.json", "[]"), ("uv/summary.json", "{}"), ("uv/figures/a.png", "png"), ("uv/runs/r1/summary.json", "{}")] {
            fs::write(res.join(p), t).unwrap();
        }
        fs::create_dir_all(dest.join("stale")).unwrap();
        assert_eq!(publish(&res, &dest).unwrap(), 4);
        assert!(dest.join("uv/figures/a.png").exists() && dest.join("REPORT.md").exists());
        assert!(!dest.join("uv/runs").exists() && !dest.join("stale").exists());
        fs::create_dir_all(res.join("matrix-sensing/runs")).unwrap();
        let err = publish(&res, &dest).unwrap_err().to_string();
        assert!(err.contains("matrix-sensing") && err.contains("incomplete"), "{err}");
        assert!(dest.join("uv/summary.json").exists(), "a refused publish keeps the old tree");
    }
}
