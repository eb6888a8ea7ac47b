#!/usr/bin/env bash
# SageMaker lifecycle configuration, "Start notebook": runs as root at every start. Only /home/ec2-user/SageMaker
# survives a stop, so the SDK and the build are still there, but the Jupyter kernel registration is not; setup.sh is
# idempotent and redoes only what is missing. Backgrounded to stay within SageMaker's 5-minute limit.
set -euo pipefail

repo=${SEG_REPO:-/home/ec2-user/SageMaker/fcn-road-segmentation}
log=/home/ec2-user/SageMaker/seg-setup.log

if [[ ! -f "$repo/environment/setup.sh" ]]; then
  echo "error: $repo/environment/setup.sh not found; run on-create.sh first (or set SEG_REPO)" >&2
  exit 1
fi
# The log is opened by ec2-user, who owns it and the setup.
# shellcheck disable=SC2016 # expanded by the inner shell
sudo -u ec2-user -i env SEG_REPO="$repo" bash -c 'nohup bash "$0" >>"$1" 2>&1 &' "$repo/environment/setup.sh" "$log"
echo "setup running in the background; follow it with: tail -f $log"
