#!/usr/bin/env bash
# The test command: builds everything (warnings are errors) and runs the whole xUnit suite.
set -euo pipefail
cd "$(dirname "$0")"
# The environment/ scripts are checked with shellcheck (a Debian package); install it where this runs as root.
if ! command -v shellcheck >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq shellcheck; } >/dev/null 2>&1 || echo "test.sh: could not install shellcheck; its test will say so" >&2
fi
dotnet test Seg.sln --configuration Release "$@"
