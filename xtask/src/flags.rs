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
    /// Run one experiment at one scale into `results/<experiment>/`, then the report.
    Reproduce(Reproduce),
    /// Run every experiment at one scale (resumable, shardable), then write
    /// `results/REPORT.md` and `results/claims.json`.
    ReproduceAll(ReproduceAll),
    /// Datasets: `data fetch <fashion-mnist|mnist|cifar10>` downloads, verifies and installs one.
    Data(crate::data::Data),
    /// Merge what is under a results root (e.g. shards) and write the report.
    Report(Report),
    /// Recommend β for a learning rate by the scaling rule 1 − β = C η^(2/3).
    Advise(crate::advise::Advise),
    /// Prepare the GPU check (one folder to carry to a GPU machine: binary,
    /// flex reference, Vulkan loader), or with --dry-run run it here on the CPU.
    GpuCheck(crate::gpu::GpuCheck),
    /// Render a GPU check's record into docs/bench/gpu.md (and copy the
    /// record and its log beside it).
    GpuReport(crate::gpu::GpuReport),
}

/// The flags `reproduce` and `reproduce-all` share.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// smoke (seconds), cpu (minutes on 2 cores) or paper (a GPU or a cluster).
    #[arg(long, default_value = "cpu", value_parser = ["smoke", "cpu", "paper"])]
    pub scale: String,
    /// Results root; each experiment writes `<out>/<experiment>/`, the report `<out>/REPORT.md`.
    #[arg(long, default_value = "results")]
    pub out: std::path::PathBuf,
    /// Train only shard i of n (e.g. `--shard 3/16`, one per task of a Slurm
    /// array job); then `cargo xtask report --out <dir>` merges them.
    #[arg(long)]
    pub shard: Option<String>,
    /// Retrain runs that are already complete (and discard results of a changed config).
    #[arg(long)]
    pub force: bool,
    /// Build and run on the wgpu backend (a GPU; Mesa's lavapipe without one).
    #[arg(long, conflicts_with = "cuda")]
    pub wgpu: bool,
    /// Build and run on the cuda backend (an NVIDIA GPU; the build needs no
    /// CUDA toolkit, but burn-cuda's build script downloads LLVM from GitHub).
    #[arg(long)]
    pub cuda: bool,
    /// Hide the progress display.
    #[arg(long)]
    pub quiet: bool,
    /// Worker slots of the one job queue across every experiment (default:
    /// FLATTER_JOBS, else one per core; one on a GPU).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
}

#[derive(Parser, Debug)]
pub struct ReproduceAll {
    /// Only these experiments (repeatable).
    #[arg(long, value_parser = flatter_experiments::REGISTRY.map(|e| e.name))]
    pub only: Vec<String>,
    #[command(flatten)]
    pub args: RunArgs,
}

impl ReproduceAll {
    pub fn run(self) -> anyhow::Result<()> {
        let out = absolute(&self.args.out);
        // A GPU asked for by name gets Burn's fusion and autotune (issue 15).
        let gpu = Gpu { wgpu: self.args.wgpu, cuda: self.args.cuda, fusion: self.args.wgpu || self.args.cuda };
        experiment_binary(gpu, "all", |cmd| {
            cmd.arg("--scale").arg(&self.args.scale).arg("--experiments").arg(project_root().join("experiments"));
            cmd.arg("--out").arg(&out);
            for only in &self.only {
                cmd.args(["--only", only]);
            }
            run_flags(cmd, &self.args);
        })?;
        // The committed results are the last full cpu-scale run into the default directory.
        let default_out = out == project_root().join("results");
        if self.args.scale == "cpu" && default_out && self.only.is_empty() && self.args.shard.is_none() {
            let dest = project_root().join("docs").join("results");
            let copied = crate::publish::publish(&out, &dest)?;
            eprintln!("published {copied} files (report, claims, summaries, figures) to {}", dest.display());
        }
        Ok(())
    }
}

#[derive(Parser, Debug)]
pub struct Reproduce {
    /// The experiment.
    #[arg(value_parser = flatter_experiments::REGISTRY.map(|e| e.name))]
    pub experiment: String,
    #[command(flatten)]
    pub args: RunArgs,
}

impl Reproduce {
    pub fn run(self) -> anyhow::Result<()> {
        ReproduceAll { only: vec![self.experiment], args: self.args }.run()
    }
}

#[derive(Parser, Debug)]
pub struct Report {
    /// Results root (holding `<experiment>/` directories, e.g. merged shards).
    #[arg(long, default_value = "results")]
    pub out: std::path::PathBuf,
}

impl Report {
    /// In-process, through flatter-experiments built without its `train`
    /// feature: the report is a function of the results directory, so it
    /// needs no Burn build. Experiments whose runs are all on disk but that
    /// lack a summary (shards merged from elsewhere) are analysed first.
    pub fn run(self) -> anyhow::Result<()> {
        // The header's backend of a merged summary: what the shards were told to use.
        let backend = std::env::var("FLATTER_BACKEND").unwrap_or_else(|_| "flex".to_string());
        let (accounts, written) = flatter_experiments::report(&absolute(&self.out), &project_root().join("experiments"), &backend)?;
        for a in accounts {
            println!("{a}");
        }
        print!("{}", written.terminal());
        Ok(())
    }
}

pub(crate) fn absolute(p: &Path) -> std::path::PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { project_root().join(p) }
}

fn run_flags(cmd: &mut std::process::Command, args: &RunArgs) {
    if let Some(shard) = &args.shard {
        cmd.args(["--shard", shard]);
    }
    if args.force {
        cmd.arg("--force");
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    if let Some(jobs) = args.jobs {
        cmd.arg("--jobs").arg(jobs.to_string());
    }
    if args.wgpu {
        cmd.args(["--backend", "wgpu"]);
    }
    if args.cuda {
        cmd.args(["--backend", "cuda"]);
    }
}

/// Builds `flatter-experiment` in the release profile, then runs `subcommand` with it.
///
/// The binary is spawned directly, not through `cargo run` (which would sit
/// between and outlive a killed xtask), with xtask's pid in
/// `FLATTER_PARENT_PID`: its watchdog (`flatter_experiments::watchdog`) exits
/// within half a second of xtask's death, even by SIGKILL, so no orphan keeps
/// training or holding the results directory's lock (issue 17). The child
/// stays in xtask's process group, so a Ctrl-C in the terminal reaches both
/// at once, as before; a SIGTERM or SIGKILL sent to xtask alone reaches it
/// through the watchdog. A process group of its own would have needed
/// forwarding signals, that is libc, which xtask does not link.
///
/// The binary comes from the very build `cargo xtask test` makes
/// ([`workspace_test_args`] plus `--no-run`), with wgpu compiled in exactly
/// when `xtask test` would compile it (a Vulkan driver is present, or
/// `--wgpu` asks for it). Cargo unifies features over the packages and
/// targets of one invocation, so any other invocation (`build -p
/// flatter-experiments`) would resolve Burn's features differently and
/// compile Burn a second time: on a fresh machine the README's two commands,
/// in either order, share one build of Burn (issue 17).
pub(crate) fn experiment_binary(gpu: Gpu, subcommand: &str, configure: impl FnOnce(&mut std::process::Command)) -> anyhow::Result<()> {
    let gpu = Gpu { wgpu: gpu.wgpu || vulkan_driver_present(), ..gpu };
    let exe = crate::util::built_executable(cargo(&experiment_build_args(gpu)), "flatter-experiment")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.current_dir(project_root())
        .env(flatter_experiments::watchdog::PARENT_PID_ENV, std::process::id().to_string())
        .arg(subcommand);
    configure(&mut cmd);
    crate::util::run(cmd)
}

/// The GPU backends a build compiles in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gpu {
    /// `flatter/wgpu`.
    pub wgpu: bool,
    /// `flatter/cuda`.
    pub cuda: bool,
    /// `flatter/fusion`: Burn's fusion and autotune (cuda implies them).
    pub fusion: bool,
}

/// The arguments of `cargo xtask test`'s one cargo build and run: the
/// whole workspace in release, with the GPU backends of `gpu`.
pub fn workspace_test_args(gpu: Gpu) -> Vec<&'static str> {
    let mut args = vec!["test", "--release", "--workspace"];
    let features = match (gpu.wgpu, gpu.cuda, gpu.fusion && !gpu.cuda) {
        (true, true, _) => "flatter/wgpu,flatter/cuda",
        (true, false, true) => "flatter/wgpu,flatter/fusion",
        (true, false, false) => "flatter/wgpu",
        (false, true, _) => "flatter/cuda",
        (false, false, true) => "flatter/fusion",
        (false, false, false) => return args,
    };
    args.extend(["--features", features]);
    args
}

/// The arguments that build the experiment binary: the test build's, plus
/// `--no-run` and JSON messages to find the executable in.
pub fn experiment_build_args(gpu: Gpu) -> Vec<&'static str> {
    let mut args = workspace_test_args(gpu);
    args.extend(["--no-run", "--message-format=json-render-diagnostics"]);
    args
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
        let mut cmd = cargo(&workspace_test_args(Gpu { wgpu, ..Gpu::default() }));
        if !self.rest.is_empty() {
            cmd.arg("--").args(&self.rest);
        }
        if wgpu && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            let dir = project_root().join("target").join("xdg-runtime");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        crate::util::run(cmd)?;
        // The analysis boundary: flatter-experiments must build, and its
        // analysis tests pass, without the `train` feature (so without Burn).
        let mut light = cargo(&["test", "--release", "-p", "flatter-experiments", "--no-default-features", "--lib"]);
        if !self.rest.is_empty() {
            light.arg("--").args(&self.rest);
        }
        crate::util::run(light)
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
    /// MLP training throughput on flex and ndarray against PyTorch (needs a python with torch).
    Mlp,
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
        if matches!(self.which, BenchKind::Mlp | BenchKind::All) {
            // Same thread count on both sides: Burn's rayon pool, matrixmultiply and torch.
            let mut cmd = cargo(&["bench", "-p", "flatter", "--bench", "mlp_throughput"]);
            cmd.env("RAYON_NUM_THREADS", "2").env("MATMUL_NUM_THREADS", "2");
            cmd.env("FLATTER_BENCH_RECORD", project_root().join("docs/bench/mlp_throughput.json"));
            crate::util::run(cmd)?;
        }
        if matches!(self.which, BenchKind::Resnet | BenchKind::All) {
            let mut cmd = cargo(&["bench", "-p", "flatter", "--bench", "resnet_throughput"]);
            cmd.env("RAYON_NUM_THREADS", "2").env("MATMUL_NUM_THREADS", "2");
            cmd.env("FLATTER_BENCH_RECORD", project_root().join("docs/bench/resnet_throughput.json"));
            crate::util::run(cmd)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The experiment binary is built by the test build's own cargo
    /// invocation (only `--no-run` and the message format added), so the two
    /// resolve the same features and share one build of Burn.
    #[test]
    fn the_experiment_build_is_the_test_build() {
        let all = [false, true].into_iter().flat_map(|w| [false, true].into_iter().flat_map(move |c| [false, true].map(|f| Gpu { wgpu: w, cuda: c, fusion: f })));
        for gpu in all {
            let test = workspace_test_args(gpu);
            let build = experiment_build_args(gpu);
            assert_eq!(&build[..test.len()], &test[..]);
            assert_eq!(&build[test.len()..], &["--no-run", "--message-format=json-render-diagnostics"]);
        }
        let features = |gpu| workspace_test_args(gpu).join(" ");
        let wgpu = Gpu { wgpu: true, ..Gpu::default() };
        let cuda = Gpu { cuda: true, ..Gpu::default() };
        // What CI's `xtask test` builds: wgpu without fusion, so lavapipe never autotunes.
        assert_eq!(features(wgpu), "test --release --workspace --features flatter/wgpu");
        assert_eq!(features(Gpu::default()), "test --release --workspace");
        assert!(features(Gpu { fusion: true, ..wgpu }).ends_with("flatter/wgpu,flatter/fusion"));
        assert!(features(cuda).ends_with("--features flatter/cuda"));
        assert!(features(Gpu { wgpu: true, ..cuda }).ends_with("flatter/wgpu,flatter/cuda"));
    }
}

