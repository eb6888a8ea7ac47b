#!/usr/bin/env bash
# Notebook 04 as a JupyterLab/Notebook user sees it: runs the browser test (the classic Jupyter Notebook server on 127.0.0.1,
# the .NET Interactive kernel, headless Chromium clicking Cell > Run All) and keeps a screenshot of the training cell.
# Usage: tools/notebook-in-browser.sh [PNG, default docs/jupyter-training.png] [EPOCHS, default 3]
# Needs Debian's jupyter-notebook and chromium (apt-get install jupyter-notebook chromium) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
picture=$(realpath -m "${1:-docs/jupyter-training.png}")
rm -f "$picture"
SEG_SCREENSHOT="$picture" SEG_BROWSER_EPOCHS="${2:-3}" \
  dotnet test tests/SegHelpers.Tests -c Release --filter "FullyQualifiedName~JupyterBrowserTests" --logger "console;verbosity=normal"
if [[ ! -f "$picture" ]]; then
  echo "no screenshot: the browser test was skipped (see its reason above)" >&2
  exit 1
fi
echo "screenshot of the training cell: $picture"
