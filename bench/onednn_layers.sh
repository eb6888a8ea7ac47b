#!/usr/bin/env bash
# One fp32 training step, layer by layer, as oneDNN itself reports it (ONEDNN_VERBOSE=1) on both sides: seg bench and its
# PyTorch twin at the same size, batch, width and thread count, both on jemalloc with page decay off, run alternately
# seg PyTorch seg PyTorch; bench/onednn_layers.py matches the convolutions by pass and shape and prints Markdown tables
# (the kernel each side picked and its time, the reorders, and what is left outside oneDNN). Not part of CI.
#   bench/onednn_layers.sh                          # 160x576 batch 4, full width
#   POINT=96x320:4 DIVISOR=4 bench/onednn_layers.sh # a quick look
#   SEG_ENV="ONEDNN_MAX_CPU_ISA=AVX512_CORE" bench/onednn_layers.sh   # seg under a oneDNN setting, PyTorch as it is
set -euo pipefail
cd "$(dirname "$0")/.."
point=${POINT:-160x576:4}
size=${point%%:*} batch=${point##*:}
divisor=${DIVISOR:-1}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-3} # steps before the one reported: seg's allocator reaches its steady state only after two or three
threads=${THREADS:-$(nproc)}
# shellcheck source=bench/common.sh
. bench/common.sh
[ -n "$jemalloc" ] || { echo "error: needs libjemalloc.so.2 (apt-get install libjemalloc2)" >&2; exit 2; }
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
read -ra seg_env <<< "${SEG_ENV:-}"
read -ra torch_env <<< "${TORCH_ENV:-}"
logs=()
for round in $(seq "$rounds"); do
  echo "== round $round: seg" >&2
  env ONEDNN_VERBOSE=1 "${seg_env[@]}" dotnet "$seg" bench --model-only --no-bf16 --device cpu --sizes "$size" --batch-sizes "$batch" \
    --width-divisor "$divisor" --warmup "$warmup" --repeats 1 > "$out/seg-$round.log" 2>&1
  echo "== round $round: PyTorch" >&2
  env ONEDNN_VERBOSE=1 LD_PRELOAD="$jemalloc" MALLOC_CONF="$decay_off" "${torch_env[@]}" \
    /usr/bin/python3 bench/pytorch_fcn8s.py --no-bf16 --sizes "$size" --batch-sizes "$batch" --width-divisor "$divisor" \
    --warmup "$warmup" --repeats 1 --threads "$threads" > "$out/torch-$round.log" 2>&1
  logs+=("$out/seg-$round.log" "$out/torch-$round.log")
done
echo "logs: $out" >&2
grep -h -m1 "oneDNN v" "$out/seg-1.log" "$out/torch-1.log" | sed 's/^onednn_verbose,\(v1,\)\?info,/# /' >&2
/usr/bin/python3 bench/onednn_layers.py "${logs[@]}"
