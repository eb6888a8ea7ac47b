#!/usr/bin/env bash
# The test command: builds everything (warnings are errors) and runs the whole xUnit suite.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test Seg.sln --configuration Release "$@"
