#!/usr/bin/env bash
# seg bench and its PyTorch twin (bench/pytorch_fcn8s.py) on the same sizes, batches and thread count, run alternately
# A B A B so that drift in the machine's speed hits both, then the ratio seg / PyTorch per figure (> 1: seg is faster).
# Not part of CI. Needs a Release build and Debian's python3-torch and python3-torchvision.
#   bench/compare.sh                                   # the full grid (tens of minutes on 2 cores)
#   SIZES=96x320 BATCHES=4 DIVISOR=4 bench/compare.sh  # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-160x576,375x1242}
batches=${BATCHES:-1,4}
divisor=${DIVISOR:-1}
repeats=${REPEATS:-5}
threads=${THREADS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--sizes "$sizes" --batch-sizes "$batches" --width-divisor "$divisor" --repeats "$repeats" --warmup 1)
for round in 1 2; do
  echo "== round $round: seg"
  dotnet src/SegCli/bin/Release/net10.0/seg.dll bench "${common[@]}" --model-only --device cpu --json "$out/seg$round.json"
  echo "== round $round: PyTorch"
  /usr/bin/python3 bench/pytorch_fcn8s.py "${common[@]}" --threads "$threads" --json "$out/torch$round.json"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def load(kind):
    runs = [json.load(open(f"{out}/{kind}{r}.json")) for r in (1, 2)]
    names = [f["Name"] for f in runs[0]["Figures"]]
    return {n: statistics.median([f["Median"] for run in runs for f in run["Figures"] if f["Name"] == n]) for n in names}, runs[0]["Runtime"]
seg, seg_rt = load("seg")
torch, torch_rt = load("torch")
print(f"\nseg: {seg_rt}\nPyTorch: {torch_rt}\n")
print(f"{'figure':<40} {'seg':>10} {'PyTorch':>10} {'seg/PyTorch':>12}")
for name, value in seg.items():
    if name in torch:
        print(f"{name:<40} {value:10.2f} {torch[name]:10.2f} {value / torch[name]:12.2f}")
# seg's bf16 against PyTorch's fp32 (training figures carry no suffix in fp32, inference ones " fp32"),
# and seg's own bf16 against its fp32.
for name, value in seg.items():
    if not name.endswith(" bf16") or name.startswith("matmul"):
        continue
    fp32 = name[:-5] + (" fp32" if name.startswith("infer") else "")
    if fp32 in torch:
        print(f"{name + ' vs PyTorch fp32':<40} {value:10.2f} {torch[fp32]:10.2f} {value / torch[fp32]:12.2f}")
    if fp32 in seg:
        print(f"{name + ' vs seg fp32':<40} {value:10.2f} {seg[fp32]:10.2f} {value / seg[fp32]:12.2f}")
PY
