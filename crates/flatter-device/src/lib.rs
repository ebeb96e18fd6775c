//! The one place where flatter chooses a Burn backend and a device.
//!
//! Burn 0.22 has no backend type parameters: a tensor lives on a runtime
//! [`Device`], and which devices exist depends on cargo features. Every
//! example, test, benchmark and experiment binary gets its device here, so
//! there is exactly one answer to "what did this run execute on".
//!
//! Selection order: an explicit [`BackendKind`], else the `FLATTER_BACKEND`
//! environment variable (`flex`, `ndarray`, `wgpu` or `cuda`), else [`BackendKind::DEFAULT`]
//! — the fastest compiled CPU backend per `cargo xtask bench`. Burn's own
//! `Device::default()` is never used, because its order prefers any GPU
//! runtime that happens to be compiled in and can be changed by `BURN_DEVICE`.

use std::fmt;
use std::str::FromStr;

pub use burn::tensor::Device;

/// Name of the environment variable that overrides the default backend.
pub const BACKEND_ENV: &str = "FLATTER_BACKEND";

/// A Burn backend that this build may have compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Burn 0.22's pure-Rust CPU backend (`burn-flex`).
    Flex,
    /// The `ndarray` CPU backend (deprecated upstream, kept as the design card's reference).
    NdArray,
    /// `wgpu`: Vulkan/Metal/DX12 GPUs, or Mesa's lavapipe in CI.
    Wgpu,
    /// `cuda`: NVIDIA GPUs through CubeCL's CUDA runtime (device 0).
    Cuda,
}

/// Why a backend could not be selected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not one of ours.
    #[error("unknown backend {name:?}: expected one of flex, ndarray, wgpu, cuda")]
    Unknown {
        /// The rejected name.
        name: String,
    },
    /// The backend exists but this build does not include it.
    #[error(
        "backend {kind} is not compiled into this build: rebuild with `--features {feature}` (compiled: {compiled})"
    )]
    NotCompiled {
        /// The requested backend.
        kind: BackendKind,
        /// The cargo feature that enables it.
        feature: &'static str,
        /// The backends this build has.
        compiled: String,
    },
}

impl BackendKind {
    /// Every backend flatter knows about, compiled or not.
    pub const ALL: [BackendKind; 4] = [BackendKind::Flex, BackendKind::NdArray, BackendKind::Wgpu, BackendKind::Cuda];

    /// The default CPU backend: flex when compiled (it measured faster than
    /// ndarray on our workloads, see README), otherwise ndarray, otherwise wgpu,
    /// otherwise cuda.
    pub const DEFAULT: BackendKind = if cfg!(feature = "flex") {
        BackendKind::Flex
    } else if cfg!(feature = "ndarray") {
        BackendKind::NdArray
    } else if cfg!(feature = "wgpu") {
        BackendKind::Wgpu
    } else {
        BackendKind::Cuda
    };

    /// The lowercase name used on the command line, in configs and in results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::NdArray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::NdArray => cfg!(feature = "ndarray"),
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Whether the backend runs on the CPU (and so gives bit-identical results run to run).
    pub fn is_cpu(self) -> bool {
        matches!(self, BackendKind::Flex | BackendKind::NdArray)
    }

    /// The backends compiled into this build, in [`BackendKind::ALL`] order.
    pub fn compiled() -> Vec<BackendKind> {
        Self::ALL.into_iter().filter(|k| k.is_compiled()).collect()
    }

    /// The CPU backends compiled into this build.
    pub fn compiled_cpu() -> Vec<BackendKind> {
        Self::compiled().into_iter().filter(|k| k.is_cpu()).collect()
    }

    /// The backend named by `FLATTER_BACKEND`, or [`BackendKind::DEFAULT`] when it is unset.
    pub fn from_env() -> Result<BackendKind, BackendError> {
        match std::env::var(BACKEND_ENV) {
            Ok(name) if !name.trim().is_empty() => name.parse(),
            _ => Ok(BackendKind::DEFAULT),
        }
    }

    /// The plain (non-autodiff) device of this backend.
    pub fn device(self) -> Result<Device, BackendError> {
        if !self.is_compiled() {
            return Err(BackendError::NotCompiled {
                kind: self,
                feature: self.name(),
                compiled: Self::compiled().iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
            });
        }
        Ok(match self {
            #[cfg(feature = "flex")]
            BackendKind::Flex => {
                keep_freed_memory();
                Device::flex()
            }
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)] // burn-ndarray is deprecated upstream; we keep it as a reference backend.
            BackendKind::NdArray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => {
                ensure_runtime_dir();
                Device::wgpu(Default::default())
            }
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Device::cuda(0),
            #[allow(unreachable_patterns)]
            _ => unreachable!("is_compiled() checked above"),
        })
    }

    /// The autodiff-enabled device of this backend, for training.
    pub fn autodiff_device(self) -> Result<Device, BackendError> {
        Ok(self.device()?.autodiff())
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flex" => Ok(BackendKind::Flex),
            "ndarray" => Ok(BackendKind::NdArray),
            "wgpu" => Ok(BackendKind::Wgpu),
            "cuda" => Ok(BackendKind::Cuda),
            _ => Err(BackendError::Unknown { name: s.to_string() }),
        }
    }
}

/// The device every entry point uses unless told otherwise: `FLATTER_BACKEND`
/// or the default CPU backend, with autodiff on.
pub fn default_autodiff_device() -> Result<(BackendKind, Device), BackendError> {
    let kind = BackendKind::from_env()?;
    Ok((kind, kind.autodiff_device()?))
}

/// Tells glibc's allocator to keep what a training step frees, once per
/// process, when flex is chosen (issue 14).
///
/// Flex allocates a fresh buffer for most tensors it creates, and a step
/// frees them all again. By default glibc serves buffers over 128 KiB (a
/// threshold that adapts only up to 32 MiB) with their own `mmap` and gives
/// memory at the heap's top back to the OS beyond 128 KiB, so every step
/// page-faults and zeroes the same megabytes again: 3.7% of the paper-width
/// MLP's step was in the kernel's page-fault handler, and the step ran 15–20%
/// faster without it (`docs/bench/profile-2026-12-02.md`). This sets the
/// mmap threshold to its 32 MiB maximum and the trim threshold to 1 GiB,
/// the same as `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824`.
/// The cost is that a process keeps up to its peak working set until it
/// exits. Setting either variable (or `MALLOC_ARENA_MAX`-style tuning of
/// one's own) leaves glibc's settings alone; other C libraries are untouched.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let user_tuned = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"]
                .iter()
                .any(|v| std::env::var_os(v).is_some());
            if !user_tuned {
                mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn mallopt(param: libc::c_int, value: libc::c_int) {
    // SAFETY: mallopt only changes glibc's allocation thresholds; it takes
    // malloc's own lock, so it is safe with other threads allocating. A
    // rejected value leaves the setting as it was (return value 0).
    let _ = unsafe { libc::mallopt(param, value) };
}

/// wgpu's Vulkan loader and Mesa want a writable `XDG_RUNTIME_DIR`; headless
/// CI containers often have none, which makes device creation fail obscurely.
#[cfg(feature = "wgpu")]
fn ensure_runtime_dir() {
    let usable = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .is_some_and(|dir| dir.is_dir());
    if !usable {
        let dir = std::env::temp_dir().join(format!("flatter-xdg-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            set_runtime_dir(&dir);
        }
    }
}

#[cfg(feature = "wgpu")]
#[allow(unsafe_code)]
fn set_runtime_dir(dir: &std::path::Path) {
    // SAFETY: called before the wgpu device (and its threads) exist, from the
    // thread that is about to create it; nothing else reads the environment concurrently
    // in our binaries at that point.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
        }
        assert_eq!(" FLEX ".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    }

    #[test]
    fn unknown_name_is_a_clear_error() {
        let err = "rocm".parse::<BackendKind>().unwrap_err();
        assert!(err.to_string().contains("\"rocm\""), "{err}");
        assert!(err.to_string().contains("flex, ndarray, wgpu, cuda"), "{err}");
    }

    #[test]
    fn default_backend_is_compiled_and_cpu_when_any_cpu_backend_is() {
        assert!(BackendKind::DEFAULT.is_compiled());
        if !BackendKind::compiled_cpu().is_empty() {
            assert!(BackendKind::DEFAULT.is_cpu());
        }
    }

    #[test]
    fn uncompiled_backend_names_the_feature() {
        for kind in BackendKind::ALL.into_iter().filter(|k| !k.is_compiled()) {
            let err = kind.device().unwrap_err();
            assert!(err.to_string().contains(&format!("--features {}", kind.name())), "{err}");
        }
    }
}
