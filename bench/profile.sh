#!/usr/bin/env bash
# Where a training step goes: `seg bench --profile` at the two sizes users run (160x576 batch 4, 375x1242 batch 1), full
# width, fp32 and bf16 (where the CPU has it), each under /usr/bin/time. Writes the Markdown tables docs/performance.md
# quotes to OUT (default: profile.md) and the JSON beside them. Not part of CI.
#   bench/profile.sh                        # both sizes (about 5 minutes on 2 cores)
#   POINTS=96x320:4 DIVISOR=4 bench/profile.sh /tmp/quick.md
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-profile.md}
points=${POINTS:-160x576:4,375x1242:1}
divisor=${DIVISOR:-1}
repeats=${REPEATS:-2}
# shellcheck source=bench/common.sh
. bench/common.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$out.tmp"
for point in ${points//,/ }; do
  size=${point%%:*} batch=${point##*:}
  echo "== $size batch $batch"
  /usr/bin/time -f "%U %S %e %M" -o "$tmp/time" dotnet "$seg" bench --profile --sizes "$size" --batch-sizes "$batch" \
    --width-divisor "$divisor" --repeats "$repeats" --device cpu --json "$tmp/$size.json" --markdown "$tmp/$size.md"
  read -r user system wall rss < "$tmp/time"
  {
    echo "### $size, batch $batch"
    echo
    cat "$tmp/$size.md"
    echo
    echo "Whole process: user ${user} s, system ${system} s, wall ${wall} s, peak resident memory $((rss / 1024)) MB."
    echo
  } >> "$out.tmp"
  cp "$tmp/$size.json" "${out%.md}-$size.json"
done
mv "$out.tmp" "$out"
echo "wrote $out"
