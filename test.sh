#!/usr/bin/env bash
# The test command: builds everything (warnings are errors) and runs the whole xUnit suite.
set -euo pipefail
cd "$(dirname "$0")"
# Debian packages the tests use: shellcheck (the environment/ scripts), jupyter-nbconvert and jupyter-notebook (the notebooks
# as Jupyter runs them), chromium (charts and the notebook server in a browser) and libjemalloc2 (the allocator seg and the
# notebook kernel run the model on) and python3-onnx (an independent reader of the ONNX export). Installed where this runs as root; apt waits for another install's lock instead of failing.
packages=(shellcheck jupyter-nbconvert jupyter-notebook chromium libjemalloc2 python3-onnx)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# apt-get that waits (up to 15 minutes) while another apt holds its locks: DPkg::Lock::Timeout covers dpkg's lock, and
# "update" takes the lists lock, which that option does not cover, so a held lock there is retried.
apt_get() {
  local output
  for _ in $(seq 90); do
    output=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 "$@" 2>&1) && return 0
    grep -q "Could not get lock" <<<"$output" || { echo "$output" | tail -n 3 >&2; return 1; }
    sleep 10
  done
  return 1
}
if (( ${#missing[@]} > 0 )) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  { apt_get update -qq && apt_get install -y -qq "${missing[@]}"; } || echo "test.sh: could not install ${missing[*]}; the tests that need them will say so" >&2
fi
dotnet test Seg.sln --configuration Release "$@"
