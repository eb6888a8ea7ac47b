#!/usr/bin/env bash
# seg bench and its PyTorch twin (bench/pytorch_fcn8s.py) on the same sizes, batches and thread count, run alternately
# A B A B so that drift in the machine's speed hits both, then the ratio seg / PyTorch per figure (> 1: seg is faster).
# Two allocator settings, one table each:
#   users  both as users run them: seg on its default (jemalloc with page decay off, where installed), PyTorch on glibc's
#   same   both on the same setting: PyTorch also gets jemalloc with page decay off (LD_PRELOAD and MALLOC_CONF)
# Not part of CI. Needs a Release build (or SEG_DLL=path/to/seg.dll), Debian's python3-torch and python3-torchvision, and libjemalloc2.
# PyTorch's matmul runs on whatever libblas.so.3 Debian's alternatives point at; the reference BLAS (libblas3) gives 4-5 GFLOP/s,
# so as root the script installs libopenblas0-pthread first (OPENBLAS=no to keep what is there). seg is not affected: libtorch
# links its own BLAS and no libblas.so.3. The header names the BLAS PyTorch ran on.
#   bench/compare.sh                                        # both settings at 160x576 batch 4 and 375x1242 batch 1
#   SETTINGS=same bench/compare.sh                          # one switch: only the same-allocator table
#   POINTS=96x320:4 DIVISOR=4 REPEATS=2 bench/compare.sh    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
points=${POINTS:-160x576:4,375x1242:1}
settings=${SETTINGS:-users same}
divisor=${DIVISOR:-1}
repeats=${REPEATS:-3}
warmup=${WARMUP:-3} # untimed steps first: seg's allocator settles after two or three (docs/performance.md, issue 34)
threads=${THREADS:-$(nproc)}
# shellcheck source=bench/common.sh
. bench/common.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

torch_blas() { # the BLAS library PyTorch's matmul resolves to in this process, and its kind
  /usr/bin/python3 - <<'PY'
import os, re, torch
torch.ones(64, 64) @ torch.ones(64, 64)
paths = sorted({os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps") if re.search(r"/lib(open)?blas[^/]*\.so|libmkl_|libblis", line)})
kinds = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}
kind = next((name for key, name in kinds.items() if any(key in p for p in paths)), "the reference BLAS (libblas3: its matmul row is not a fair figure)" if paths else "none found")
print(f"{kind}: {', '.join(paths) or 'no BLAS library mapped'}")
PY
}
blas=$(torch_blas)
if [[ $blas != OpenBLAS* && $blas != MKL* && ${OPENBLAS:-yes} != no && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "PyTorch's BLAS is $blas; installing libopenblas0-pthread for a fair twin (OPENBLAS=no to skip)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread >/dev/null || echo "warning: could not install libopenblas0-pthread" >&2
  blas=$(torch_blas)
fi
echo "PyTorch's BLAS: $blas"

timed() { # label command...: the process's CPU and wall time, appended to one file
  local label=$1; shift
  /usr/bin/time -f "$label %U %S %e %M" -a -o "$out/times" "$@"
}
run_seg() { # setting round size batch point-index
  timed "$1 seg" dotnet "$seg" bench --sizes "$3" --batch-sizes "$4" --width-divisor "$divisor" --repeats "$repeats" --warmup "$warmup" \
    --model-only --device cpu --json "$out/$1-seg-r$2-p$5.json"
}
run_torch() { # setting round size batch point-index
  local env=()
  if [ "$1" = same ]; then
    [ -n "$jemalloc" ] || { echo "error: SETTINGS=same needs libjemalloc.so.2 (apt-get install libjemalloc2)" >&2; exit 2; }
    env=(LD_PRELOAD="$jemalloc" MALLOC_CONF="$decay_off")
  fi
  timed "$1 PyTorch" env "${env[@]}" /usr/bin/python3 bench/pytorch_fcn8s.py --sizes "$3" --batch-sizes "$4" --width-divisor "$divisor" \
    --repeats "$repeats" --warmup "$warmup" --threads "$threads" --json "$out/$1-torch-r$2-p$5.json"
}

for setting in $settings; do
  case $setting in users|same) ;; *) echo "error: SETTINGS takes users and same, not '$setting'" >&2; exit 2 ;; esac
  for round in 1 2; do
    i=0
    for point in ${points//,/ }; do
      size=${point%%:*} batch=${point##*:}
      echo "== $setting, round $round, $size batch $batch: seg"
      run_seg "$setting" "$round" "$size" "$batch" "$i"
      echo "== $setting, round $round, $size batch $batch: PyTorch"
      run_torch "$setting" "$round" "$size" "$batch" "$i"
      i=$((i + 1))
    done
  done
done

/usr/bin/python3 - "$out" "$settings" "$blas" <<'PY'
import collections, glob, json, re, statistics, sys
out, settings, blas = sys.argv[1], sys.argv[2].split(), sys.argv[3]
def load(setting, kind):
    values, runtime = collections.OrderedDict(), None
    for path in sorted(glob.glob(f"{out}/{setting}-{kind}-r*-p*.json")):
        report = json.load(open(path))
        runtime = report["Runtime"]
        for f in report["Figures"]:
            values.setdefault(f["Name"], []).append(f["Median"])
    return {name: statistics.median(v) for name, v in values.items()}, runtime
times = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
for line in open(f"{out}/times"):
    m = re.match(r"(\w+) (seg|PyTorch) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", line)
    if m:
        t = times[(m[1], m[2])]
        t[0] += float(m[3]); t[1] += float(m[4]); t[2] += float(m[5]); t[3] = max(t[3], int(m[6]))
for setting in settings:
    seg, seg_rt = load(setting, "seg")
    torch, torch_rt = load(setting, "torch")
    title = {"users": "as users run them (seg: its default allocator; PyTorch: glibc's)",
             "same": "both on jemalloc with page decay off"}[setting]
    print(f"\n### {title}\n\nseg: {seg_rt}\nPyTorch: {torch_rt}; matmul on {blas}\n")
    print("| figure | seg | PyTorch | seg / PyTorch |\n|---|---:|---:|---:|")
    for name, value in seg.items():
        if name in torch:
            print(f"| {name} | {value:.2f} | {torch[name]:.2f} | {value / torch[name]:.2f} |")
    # The same layout on both sides: seg's inference is channels-last by default, PyTorch's NCHW.
    for name, value in seg.items():
        if name.endswith(" NCHW") and name[:-5] in torch:
            print(f"| {name[:-5]}, both NCHW | {value:.2f} | {torch[name[:-5]]:.2f} | {value / torch[name[:-5]]:.2f} |")
        if name + " channels-last" in torch:
            print(f"| {name}, both channels-last | {value:.2f} | {torch[name + ' channels-last']:.2f} | {value / torch[name + ' channels-last']:.2f} |")
    # seg's bf16 against PyTorch's fp32 (training figures carry no suffix in fp32, inference ones " fp32").
    for name, value in seg.items():
        if not name.endswith(" bf16") or name.startswith("matmul"):
            continue
        fp32 = name[:-5] + (" fp32" if name.startswith("infer") else "")
        if fp32 in torch:
            print(f"| {name} vs PyTorch fp32 | {value:.2f} | {torch[fp32]:.2f} | {value / torch[fp32]:.2f} |")
        if fp32 in seg:
            print(f"| {name} vs seg fp32 | {value:.2f} | {seg[fp32]:.2f} | {value / seg[fp32]:.2f} |")
    print("\n| process (both rounds) | user s | system s | system share | wall s | max RSS GB |\n|---|---:|---:|---:|---:|---:|")
    for side in ("seg", "PyTorch"):
        u, s, e, rss = times[(setting, side)]
        print(f"| {side} | {u:.0f} | {s:.0f} | {100 * s / max(u + s, 1e-9):.0f} % | {e:.0f} | {rss / 1e6:.2f} |")
PY
