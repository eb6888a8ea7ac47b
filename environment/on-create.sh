#!/usr/bin/env bash
# SageMaker lifecycle configuration, "Create notebook": runs once, as root, when the instance is created.
# Clones the repository onto the persistent volume if it is not there yet, then runs setup.sh as ec2-user in the
# background, because SageMaker stops a lifecycle script that runs longer than 5 minutes. Progress: $log.
set -euo pipefail

repo=${SEG_REPO:-/home/ec2-user/SageMaker/fcn-road-segmentation}
url=${SEG_REPO_URL:-}
log=/home/ec2-user/SageMaker/seg-setup.log

if [[ ! -d "$repo/.git" ]]; then
  if [[ -z "$url" ]]; then
    echo "error: $repo is not a clone; set SEG_REPO_URL in this script (or clone it there first)" >&2
    exit 1
  fi
  sudo -u ec2-user git clone "$url" "$repo"
fi
# The log is opened by ec2-user, who owns it and the setup.
# shellcheck disable=SC2016 # expanded by the inner shell
sudo -u ec2-user -i env SEG_REPO="$repo" bash -c 'nohup bash "$0" >>"$1" 2>&1 &' "$repo/environment/setup.sh" "$log"
echo "setup running in the background; follow it with: tail -f $log"
