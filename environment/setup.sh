#!/usr/bin/env bash
# Sets up a SageMaker notebook instance (Amazon Linux 2023) for the notebooks, as the notebook user:
#   1. the .NET SDK that global.json pins, under the persistent volume ($SEG_PERSIST/.dotnet);
#   2. the .NET Interactive kernel (pinned in versions.env), registered with Jupyter as ".NET (C#)";
#   3. the repository built in Release with the CUDA backend when nvidia-smi sees a GPU, CPU otherwise
#      (the build also makes libtorch load on Amazon Linux 2023's libstdc++).
# Everything large lives on the persistent volume, which alone survives a stop: the SDK, the NuGet package cache (the CUDA
# libtorch packages are several GB), PyTorch's weights cache (TORCH_HOME, for EncoderWeights = "imagenet") and the KITTI kit
# (SEG_KITTI_DIR, for DataDir = "kitti"). The kernel gets the same locations in its kernel.json, so a restart downloads nothing.
# Idempotent: each step is skipped when already done. SEG_DRY_RUN=1 prints the plan and changes nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=${SEG_REPO:-$(dirname "$here")}
persist=${SEG_PERSIST:-/home/ec2-user/SageMaker}
dotnet_root="$persist/.dotnet"
tools="$dotnet_root/tools"
nuget_packages="$persist/.nuget/packages"
torch_home="$persist/.cache/torch"
kitti_dir="$persist/data/kitti"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"

sdk=$(sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$repo/global.json" | head -n 1)
if [[ -z "$sdk" ]]; then
  echo "error: no SDK version in $repo/global.json" >&2
  exit 2
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  backend=cuda
else
  backend=cpu
fi

log() { printf '%s setup: %s\n' "$(date -u +%FT%TZ)" "$*"; }

log "repository $repo; .NET SDK $sdk in $dotnet_root; kernel $DOTNET_INTERACTIVE_VERSION; backend $backend"
log "caches: NuGet $nuget_packages; weights $torch_home/hub/checkpoints; KITTI $kitti_dir"
if [[ "${SEG_DRY_RUN:-0}" == 1 ]]; then
  exit 0
fi

export DOTNET_ROOT="$dotnet_root" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export NUGET_PACKAGES="$nuget_packages" TORCH_HOME="$torch_home" SEG_KITTI_DIR="$kitti_dir"
export PATH="$dotnet_root:$tools:$PATH"

if ! "$dotnet_root/dotnet" --list-sdks 2>/dev/null | grep -q "^$sdk "; then
  log "installing .NET SDK $sdk"
  mkdir -p "$dotnet_root"
  curl -fsSL https://dot.net/v1/dotnet-install.sh -o "$dotnet_root/dotnet-install.sh"
  bash "$dotnet_root/dotnet-install.sh" --version "$sdk" --install-dir "$dotnet_root"
fi

if ! "$tools/dotnet-interactive" --version 2>/dev/null | grep -q "^$DOTNET_INTERACTIVE_VERSION"; then
  log "installing Microsoft.dotnet-interactive $DOTNET_INTERACTIVE_VERSION"
  dotnet tool uninstall --tool-path "$tools" Microsoft.dotnet-interactive >/dev/null 2>&1 || true
  dotnet tool install --tool-path "$tools" Microsoft.dotnet-interactive --version "$DOTNET_INTERACTIVE_VERSION"
fi

# jemalloc, the allocator the model runs fastest on (SegHelpers/Native/FastAllocator.cs): seg preloads it itself; the kernel
# gets it through its spec below. This script runs as ec2-user, who installs system packages with passwordless sudo (as
# SageMaker notebook instances allow); the root volume is rebuilt at every start, so on-start.sh brings it back each time.
# SEG_JEMALLOC_PATHS: where the library may be, in order.
jemalloc_paths=${SEG_JEMALLOC_PATHS:-/usr/lib64/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2}
find_jemalloc() {
  local candidate
  for candidate in $jemalloc_paths; do
    [[ -f "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 0
}
jemalloc=$(find_jemalloc)
if [[ -z "$jemalloc" ]]; then
  if [[ $(id -u) == 0 ]]; then
    as_root=(env)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    as_root=()
  fi
  if [[ ${#as_root[@]} -gt 0 ]]; then
    log "installing jemalloc as root (${as_root[0]/env/root})"
    { command -v dnf >/dev/null && "${as_root[@]}" dnf install -y -q jemalloc; } ||
      { command -v yum >/dev/null && "${as_root[@]}" yum install -y -q jemalloc; } ||
      { command -v apt-get >/dev/null && "${as_root[@]}" apt-get install -y -qq libjemalloc2; } || true
    jemalloc=$(find_jemalloc)
  fi
fi
if [[ -n "$jemalloc" ]]; then
  log "jemalloc: $jemalloc (the kernel preloads it)"
else
  log "no jemalloc and no way to install it as $(id -un) (not root, no passwordless sudo): the notebooks run on glibc's" \
    "allocator, about half as fast; have it installed (sudo dnf install jemalloc) and run this script again"
fi

# Jupyter on SageMaker runs from this conda environment; the kernel spec lives on the root volume, so on-start.sh
# registers it again after every restart.
jupyter_env=${SEG_JUPYTER_ENV:-/home/ec2-user/anaconda3/envs/JupyterSystemEnv}
if [[ -x "$jupyter_env/bin/jupyter" ]]; then
  log "registering the .NET Interactive kernels with $jupyter_env"
  PATH="$jupyter_env/bin:$PATH" dotnet-interactive jupyter install
  spec="$HOME/.local/share/jupyter/kernels/.net-csharp/kernel.json"
  if [[ -f "$spec" ]]; then
    # The spec starts "dotnet interactive", which only resolves with the .NET root and the tool folder on PATH: the Jupyter
    # server's PATH has neither, so the spec names the tool itself. It needs DOTNET_ROOT to find the runtime.
    # The caches go there too, so notebooks find packages, weights and data on the persistent volume.
    # With jemalloc, the kernel runs on it as seg does: preloaded, page decay off.
    "$jupyter_env/bin/python" - "$spec" "$dotnet_root" "$nuget_packages" "$torch_home" "$kitti_dir" "$tools/dotnet-interactive" "$jemalloc" <<'PY'
import json, sys
path, root, nuget, torch_home, kitti, tool, jemalloc = sys.argv[1:8]
spec = json.load(open(path))
if spec["argv"][:2] == ["dotnet", "interactive"]:
    spec["argv"][:2] = [tool]
env = spec.setdefault("env", {})
env.update({"DOTNET_ROOT": root, "NUGET_PACKAGES": nuget, "TORCH_HOME": torch_home, "SEG_KITTI_DIR": kitti})
if jemalloc:
    env.update({"LD_PRELOAD": jemalloc, "MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false"})
json.dump(spec, open(path, "w"), indent=1)
PY
  fi
else
  log "no Jupyter at $jupyter_env; kernel not registered (set SEG_JUPYTER_ENV)"
fi

log "building the repository for the $backend backend"
if [[ "$backend" == cuda ]]; then
  dotnet build "$repo/Seg.sln" -c Release -p:TorchBackend=cuda
else
  dotnet build "$repo/Seg.sln" -c Release
fi
log "done: open notebooks/01-data.ipynb with the .NET (C#) kernel and run all cells"
