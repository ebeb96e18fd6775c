//! `cargo xtask gpu-check` and `cargo xtask gpu-report` (issue 15).
//!
//! The GPU machine has a GPU, PyTorch and a driver, but no Rust toolchain and
//! no network. So the check is prepared here: one release binary with the GPU
//! backends (and flex, which the weights are initialised on), the flex
//! reference it is compared with, and the Vulkan loader packages that wgpu
//! needs where the machine lacks them, in one folder that travels with the
//! working tree. There, `bash benches/gpu_check.sh <pack>` runs the check in
//! under 8 minutes and leaves `gpu-check.json` and `gpu-check.log` in `$OUT`;
//! back here, `gpu-report` renders them into `docs/bench/gpu.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;

use crate::flags::{Gpu, absolute, experiment_binary};
use crate::util::{cargo, project_root};

/// The most the pack may weigh: the device tool carries 64 MiB in all,
/// the working tree (about 4 MiB) included.
const PACK_LIMIT: u64 = 56 << 20;

/// The Vulkan loader and its GL/EGL companions, as the device machine's notes list them.
const VULKAN_PACKAGES: [&str; 7] = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];

#[derive(Parser, Debug)]
pub struct GpuCheck {
    /// Run the check's CPU dry run here instead (tiny sizes, ndarray against
    /// flex, PyTorch on the CPU when a python has it): what CI tests.
    #[arg(long)]
    pub dry_run: bool,
    /// GPU backends to build into the packed binary (repeatable; default:
    /// cuda and wgpu). The cuda build downloads LLVM from GitHub in
    /// burn-cuda's build script; without GitHub access pack `--backend wgpu`.
    #[arg(long = "backend", value_parser = ["cuda", "wgpu"])]
    pub backends: Vec<String>,
    /// The folder the pack is written to; it travels to the GPU machine.
    #[arg(long, default_value = "target/gpu-check")]
    pub pack: PathBuf,
    /// Do not download the Vulkan loader packages (the GPU machine has them).
    #[arg(long)]
    pub no_vulkan_loader: bool,
    /// Where the dry run writes its record.
    #[arg(long, default_value = "target/gpu-check-dry-run")]
    pub out: PathBuf,
}

impl GpuCheck {
    pub fn run(self) -> anyhow::Result<()> {
        if self.dry_run {
            let out = absolute(&self.out);
            let python = std::env::var("FLATTER_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
            return experiment_binary(Gpu::default(), "gpu-check", |cmd| {
                cmd.args(["--dry-run", "--python", &python, "--out"]).arg(&out);
            });
        }
        let backends = if self.backends.is_empty() { vec!["cuda".to_string(), "wgpu".to_string()] } else { self.backends.clone() };
        let pack = absolute(&self.pack);
        let exe = build(&backends)?;
        if pack.exists() {
            std::fs::remove_dir_all(&pack).with_context(|| format!("removing the old pack {}", pack.display()))?;
        }
        std::fs::create_dir_all(&pack).with_context(|| format!("creating {}", pack.display()))?;
        // The binary and the reference travel gzipped (the stripped binary
        // is over 80 MiB, about a quarter of that gzipped);
        // benches/gpu_check.sh unpacks them.
        let staging = project_root().join("target").join("gpu-build").join("pack-staging");
        std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
        let binary = staging.join("flatter-experiment");
        std::fs::copy(&exe, &binary).with_context(|| format!("copying {} to {}", exe.display(), binary.display()))?;
        match Command::new("strip").arg(&binary).status() {
            Ok(s) if s.success() => {}
            other => eprintln!("gpu-check: could not strip {} ({other:?}); the pack is larger but works", binary.display()),
        }
        let reference_json = staging.join("reference.json");
        let mut reference = Command::new(&binary);
        reference.current_dir(project_root()).args(["gpu-check", "--write-reference"]).arg(&reference_json);
        crate::util::run(reference)?;
        gzip(&binary, &pack.join("flatter-experiment.gz"))?;
        gzip(&reference_json, &pack.join("reference.json.gz"))?;
        if backends.iter().any(|b| b == "wgpu") && !self.no_vulkan_loader {
            vulkan_loader(&pack.join("gl"))?;
        }
        let size = folder_size(&pack)?;
        if size > PACK_LIMIT {
            bail!("the pack {} is {:.1} MiB, over the {:.0} MiB the device tool carries with the working tree", pack.display(), mib(size), mib(PACK_LIMIT));
        }
        let relative = pack.strip_prefix(project_root()).unwrap_or(&pack).display().to_string();
        eprintln!(
            "gpu-check: packed {relative} ({:.1} MiB: {}.gz with {}, reference.json.gz{}).\n\
             On the GPU machine, from the repository root (the pack carried along):\n    bash benches/gpu_check.sh {relative}\n\
             It writes gpu-check.json and gpu-check.log to $OUT (or ./gpu-check-out); then here:\n    cargo xtask gpu-report <that folder>/gpu-check.json",
            mib(size),
            binary.file_name().unwrap_or_default().to_string_lossy(),
            backends.join(" + "),
            if pack.join("gl").exists() { ", gl/*.deb" } else { "" }
        );
        Ok(())
    }
}

/// Builds `flatter-experiment` with flex and `backends` in its own target
/// folder (a different feature set is a second build of Burn; keeping it
/// apart leaves the test build untouched).
fn build(backends: &[String]) -> anyhow::Result<PathBuf> {
    // Fusion and autotune on both GPU backends, as on any GPU run (issue 15).
    let features = std::iter::once("train,flex,fusion".to_string()).chain(backends.iter().cloned()).collect::<Vec<_>>().join(",");
    let target = project_root().join("target").join("gpu-build");
    let mut cmd = cargo(&["build", "--release", "-p", "flatter-experiments", "--bin", "flatter-experiment", "--no-default-features"]);
    cmd.args(["--features", &features, "--message-format=json-render-diagnostics", "--target-dir"]).arg(&target);
    crate::util::built_executable(cmd, "flatter-experiment").with_context(|| {
        if backends.iter().any(|b| b == "cuda") {
            "building with cuda: burn-cuda 0.22's build script (tracel-llvm-bundler) downloads a prebuilt LLVM from github.com, \
             so the cuda build needs GitHub access once (it is cached in ~/.local/share/tracel); \
             without it, pack only wgpu with `cargo xtask gpu-check --backend wgpu`"
                .to_string()
        } else {
            "building the GPU check".to_string()
        }
    })
}

/// Downloads the Vulkan loader packages (amd64, as the GPU machine is) into
/// `dir`, with apt's lists in a folder of their own so the system's stay untouched.
fn vulkan_loader(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lists = std::env::temp_dir().join("flatter-apt-amd64");
    std::fs::create_dir_all(lists.join("partial")).with_context(|| format!("creating {}", lists.display()))?;
    let options = [
        "-oAPT::Architecture=amd64".to_string(),
        "-oAPT::Architectures=amd64".to_string(),
        format!("-oDir::State::Lists={}", lists.display()),
    ];
    let mut update = Command::new("apt-get");
    update.args(&options).args(["-qq", "update"]);
    crate::util::run(update).context("apt-get update (for the Vulkan loader packages; --no-vulkan-loader skips them)")?;
    let mut download = Command::new("apt-get");
    download.current_dir(dir).args(&options).args(["-qq", "download"]).args(VULKAN_PACKAGES);
    crate::util::run(download).context("apt-get download of the Vulkan loader packages")
}

fn gzip(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes)?;
    std::fs::write(to, encoder.finish()?).with_context(|| format!("writing {}", to.display()))
}

fn folder_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { folder_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

#[derive(Parser, Debug)]
pub struct GpuReport {
    /// The record the check wrote (`gpu-check.json`); a `gpu-check.log`
    /// beside it is copied along.
    pub record: PathBuf,
    /// The folder the markdown, the record and the log are written to.
    #[arg(long, default_value = "docs/bench")]
    pub dir: PathBuf,
}

impl GpuReport {
    /// Writes `<dir>/gpu.md` from the record and copies the record (and its
    /// log) beside it as `gpu-check.json` (`gpu-check.log`), the committed
    /// artefacts the README quotes.
    pub fn run(self) -> anyhow::Result<()> {
        use flatter_experiments::gpu_check;
        let check = gpu_check::GpuCheck::read(&self.record)?;
        let dir = absolute(&self.dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let record = dir.join(gpu_check::RECORD_FILE);
        if absolute(&self.record) != record {
            std::fs::copy(&self.record, &record).with_context(|| format!("copying {} to {}", self.record.display(), record.display()))?;
        }
        let log = self.record.with_file_name("gpu-check.log");
        if log.exists() && absolute(&log) != dir.join("gpu-check.log") {
            std::fs::copy(&log, dir.join("gpu-check.log")).with_context(|| format!("copying {}", log.display()))?;
        }
        let source = record.strip_prefix(project_root()).unwrap_or(&record).display().to_string();
        let markdown = dir.join("gpu.md");
        flatter_experiments::harness::io::write_atomic(&markdown, gpu_check::render(&check, &source).as_bytes())?;
        eprintln!("wrote {} from {}{}", markdown.display(), self.record.display(), if check.dry_run { " (a dry run: no GPU numbers)" } else { "" });
        Ok(())
    }
}
