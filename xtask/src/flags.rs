//! The command line of `cargo xtask`, and one `run` per command.

use std::path::Path;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::util::{cargo, project_root};

/// Automation for the flatter workspace.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole test suite in the release profile, on every backend this
    /// machine can run (CPU backends always; wgpu when a Vulkan driver is installed).
    Test(Test),
    /// Run the benchmarks and print their ratios against the named baselines.
    Bench(Bench),
    /// Run one experiment at one scale into `results/<experiment>/` (release build).
    Reproduce(Reproduce),
    /// Run every experiment at one scale (today: uv; the others plug in as they land).
    ReproduceAll(ReproduceAll),
}

#[derive(Parser, Debug)]
pub struct ReproduceAll {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper (a GPU or a cluster).
    #[arg(long, default_value = "cpu", value_parser = ["smoke", "cpu", "paper"])]
    pub scale: String,
    /// Results root; each experiment writes to `<out>/<experiment>/`.
    #[arg(long, default_value = "results")]
    pub out: std::path::PathBuf,
}

impl ReproduceAll {
    pub fn run(self) -> anyhow::Result<()> {
        for experiment in ExperimentName::value_variants() {
            Reproduce { experiment: *experiment, scale: self.scale.clone(), out: self.out.clone(), wgpu: false }.run()?;
        }
        Ok(())
    }
}

#[derive(Parser, Debug)]
pub struct Reproduce {
    /// The experiment.
    #[arg(value_enum)]
    pub experiment: ExperimentName,
    /// smoke (seconds), cpu (minutes on 2 cores) or paper (a GPU or a cluster).
    #[arg(long, default_value = "cpu", value_parser = ["smoke", "cpu", "paper"])]
    pub scale: String,
    /// Results root; the experiment writes to `<out>/<experiment>/`.
    #[arg(long, default_value = "results")]
    pub out: std::path::PathBuf,
    /// Build and run on the wgpu backend.
    #[arg(long)]
    pub wgpu: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExperimentName {
    /// UV / teacher–student decay times (Fig. 1, App. A).
    Uv,
    /// ResNet-18 on CIFAR-10, the three-phase protocol (Fig. 2, 4).
    ResnetCifar,
}

impl ExperimentName {
    fn name(self) -> &'static str {
        match self {
            ExperimentName::Uv => "uv",
            ExperimentName::ResnetCifar => "resnet-cifar",
        }
    }
}

impl Reproduce {
    pub fn run(self) -> anyhow::Result<()> {
        let name = self.experiment.name();
        let root = project_root();
        let config = root.join("experiments").join(format!("{name}.toml"));
        let out = if self.out.is_absolute() { self.out.clone() } else { root.join(&self.out) }.join(name);
        let mut args = vec!["run", "--release", "-p", "flatter-train", "--bin", "flatter-experiment"];
        if self.wgpu {
            args.extend(["--features", "wgpu"]);
        }
        let mut cmd = cargo(&args);
        cmd.arg("--").arg(name).arg("--scale").arg(&self.scale).arg("--config").arg(&config).arg("--out").arg(&out);
        if self.wgpu {
            cmd.args(["--backend", "wgpu"]);
        }
        crate::util::run(cmd)
    }
}

#[derive(Parser, Debug)]
pub struct Test {
    /// Fail instead of skipping the wgpu tests when no Vulkan driver is found
    /// (the default when the CI environment variable is "true").
    #[arg(long)]
    pub require_wgpu: bool,
    /// Never build or run the wgpu backend.
    #[arg(long, conflicts_with = "require_wgpu")]
    pub no_wgpu: bool,
    /// Extra arguments passed to `cargo test` after `--`.
    #[arg(last = true)]
    pub rest: Vec<String>,
}

/// Directories where Vulkan ICD manifests (the drivers) are installed.
const ICD_DIRS: [&str; 3] = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

fn vulkan_driver_present() -> bool {
    let loader = ["/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "/usr/lib/aarch64-linux-gnu/libvulkan.so.1", "/usr/lib/libvulkan.so.1"]
        .iter()
        .any(|p| Path::new(p).exists());
    let icd = ICD_DIRS
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "json"));
    loader && icd
}

impl Test {
    pub fn run(self) -> anyhow::Result<()> {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let require = self.require_wgpu || (in_ci && !self.no_wgpu);
        let wgpu = if self.no_wgpu {
            false
        } else if vulkan_driver_present() {
            true
        } else if require {
            bail!(
                "no Vulkan driver found (looked for libvulkan.so.1 and an ICD manifest in {}): \
                 install one with `apt-get install -y mesa-vulkan-drivers libvulkan1`, or pass --no-wgpu",
                ICD_DIRS.join(", ")
            );
        } else {
            eprintln!(
                "xtask test: no Vulkan driver found, so the wgpu tests are skipped. \
                 `apt-get install -y mesa-vulkan-drivers libvulkan1` enables them (Mesa's lavapipe runs them on the CPU)."
            );
            false
        };
        let mut args = vec!["test", "--release", "--workspace"];
        if wgpu {
            args.extend(["--features", "flatter/wgpu"]);
        }
        let mut cmd = cargo(&args);
        if !self.rest.is_empty() {
            cmd.arg("--").args(&self.rest);
        }
        if wgpu && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            let dir = project_root().join("target").join("xdg-runtime");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        crate::util::run(cmd)
    }
}

#[derive(Parser, Debug)]
pub struct Bench {
    /// Which benchmark to run.
    #[arg(value_enum, default_value_t = BenchKind::All)]
    pub which: BenchKind,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchKind {
    /// One HeavyBall step on ResNet-18-sized tensors against Burn's `Sgd` with momentum.
    Optim,
    /// flex against ndarray on the workloads of our experiments (chooses the default backend).
    Backends,
    /// ResNet-18 training throughput (images/s) on flex and ndarray against PyTorch.
    Resnet,
    /// All of the above.
    All,
}

impl Bench {
    pub fn run(self) -> anyhow::Result<()> {
        if matches!(self.which, BenchKind::Optim | BenchKind::All) {
            crate::util::run(cargo(&["bench", "-p", "flatter-optim", "--bench", "step"]))?;
        }
        if matches!(self.which, BenchKind::Backends | BenchKind::All) {
            crate::util::run(cargo(&["bench", "-p", "flatter", "--bench", "backends"]))?;
        }
        if matches!(self.which, BenchKind::Resnet | BenchKind::All) {
            crate::util::run(cargo(&["bench", "-p", "flatter", "--bench", "resnet_throughput"]))?;
        }
        Ok(())
    }
}
