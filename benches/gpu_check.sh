#!/usr/bin/env bash
# The GPU check's one command on the GPU machine (issue 15), run from the
# repository root with the pack `cargo xtask gpu-check` wrote carried along:
#
#     bash benches/gpu_check.sh target/gpu-check [OUT]
#
# It needs no Rust and no network: the pack holds the binary (flex + cuda +
# wgpu, gzipped), the flex reference (gzipped) and the Vulkan loader packages. It writes
# gpu-check.json (after every stage) and gpu-check.log to OUT (default $OUT,
# else ./gpu-check-out) within FLATTER_GPU_BUDGET seconds of checking
# (default 420, so the whole command stays under 8 minutes); then, back
# where the repository is built: `cargo xtask gpu-report OUT/gpu-check.json`.
# FLATTER_GPU_ARGS adds arguments (e.g. "--dry-run --backend wgpu" tries the
# pack on Mesa's lavapipe here, at tiny sizes).
set -uo pipefail
pack=${1:?usage: bash benches/gpu_check.sh PACK [OUT]}
out=${2:-${OUT:-gpu-check-out}}
mkdir -p "$out"
log="$out/gpu-check.log"
{
  echo "gpu_check.sh: $(date -u +%FT%TZ) on $(hostname), pack $pack"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || echo "no torch in python3"
} 2>&1 | tee "$log"
# wgpu needs the Vulkan loader; the NVIDIA driver brings the ICD.
if ! ldconfig -p | grep -q 'libvulkan.so.1' && compgen -G "$pack/gl/*.deb" >/dev/null; then
  for f in "$pack"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  echo "gpu_check.sh: unpacked the Vulkan loader from $pack/gl" | tee -a "$log"
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then
  export VK_DRIVER_FILES=$icd
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# The binary and the reference travel gzipped.
bin=$(mktemp -d)
gunzip -c "$pack/flatter-experiment.gz" > "$bin/flatter-experiment" && chmod +x "$bin/flatter-experiment"
gunzip -c "$pack/reference.json.gz" > "$bin/reference.json"
"$bin/flatter-experiment" gpu-check \
  --reference "$bin/reference.json" \
  --out "$out" \
  --python python3 \
  --slice-seconds "${FLATTER_GPU_SLICE:-120}" \
  --budget-seconds "${FLATTER_GPU_BUDGET:-420}" ${FLATTER_GPU_ARGS:-} 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
echo "gpu_check.sh: exit $status" | tee -a "$log"
exit "$status"
