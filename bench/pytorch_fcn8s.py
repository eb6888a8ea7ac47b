#!/usr/bin/env python3
"""The PyTorch twin of `seg bench`'s model figures, for bench/compare.sh.

The FCN-8s is the exact module the C# parity tests compare against (tests/SegHelpers.Tests/Fixtures/torch/make_fixtures.py),
the figures have the same names and JSON shape as `seg bench --json`, and the measurements are the same: a 2048² matmul,
training steps (forward, cross-entropy with ignore_index 255, backward, Adam; in bf16 under PyTorch's own CPU autocast
where the CPU has native bf16), inference in fp32 (NCHW as PyTorch runs it by default, and
channels-last as seg runs it) and, where the CPU has native bf16, in bf16; the median of --repeats timed runs after --warmup untimed ones.

    apt-get install python3-torch python3-torchvision
    /usr/bin/python3 bench/pytorch_fcn8s.py --sizes 160x576,375x1242 --batch-sizes 1,4 --threads 2 --json torch.json
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "SegHelpers.Tests", "Fixtures", "torch"))
from make_fixtures import Fcn  # noqa: E402


def cpu_has_bf16():
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def timed(warmup, repeats, run):
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def figure(name, unit, values):
    return {"Name": name, "Unit": unit, "Median": statistics.median(values), "Min": min(values), "Max": max(values), "Samples": values}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="160x576,375x1242")
    p.add_argument("--batch-sizes", default="1,4")
    p.add_argument("--width-divisor", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    bf16 = cpu_has_bf16() and not a.no_bf16
    figures = []
    notes = []

    def add(f):
        figures.append(f)
        print(f"{f['Name']:<40} {f['Median']:10.2f} {f['Unit']:<9} (min {f['Min']:.2f}, max {f['Max']:.2f}, {len(f['Samples'])} runs)", flush=True)

    n = 2048
    for dtype, label in [(torch.float32, "fp32")] + ([(torch.bfloat16, "bf16")] if bf16 else []):
        x, y = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        s = timed(a.warmup + 2, a.repeats + 2, lambda: x @ y)
        add(figure(f"matmul 2048² {label}", "GFLOP/s", [2 * n ** 3 / t / 1e9 for t in s]))

    for size in a.sizes.split(","):
        h, w = (int(v) for v in size.split("x"))
        torch.manual_seed(0)
        model = Fcn("fcn8s", d=a.width_divisor)
        for b in (int(v) for v in a.batch_sizes.split(",")):
            if not a.no_train:
                model.train()
                opt = torch.optim.Adam(model.parameters(), 1e-4)
                x = torch.randn(b, 3, h, w)
                target = torch.randint(0, 2, (b, h, w))

                def step(autocast=False):
                    opt.zero_grad()
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                        logits = model(x)
                    F.cross_entropy(logits.float(), target, ignore_index=255).backward()
                    opt.step()
                add(figure(f"train fcn8s {h}x{w} b{b}", "images/s", [b / t for t in timed(a.warmup, a.repeats, step)]))
                if bf16:
                    # PyTorch's own mixed precision: fp32 weights and Adam, autocast runs the convolutions in bf16.
                    try:
                        add(figure(f"train fcn8s {h}x{w} b{b} bf16", "images/s",
                                   [b / t for t in timed(a.warmup, a.repeats, lambda: step(autocast=True))]))
                    except RuntimeError as e:
                        notes.append(f"train bf16 (autocast) at {h}x{w} b{b} failed in PyTorch {torch.__version__}: {str(e).splitlines()[0]}")
                        print(notes[-1], flush=True)
            model.eval()
            for dtype, label in [(torch.float32, "fp32")] + ([(torch.bfloat16, "bf16")] if bf16 else []):
                m = model if dtype == torch.float32 else Fcn("fcn8s", d=a.width_divisor).to(dtype).eval()
                if dtype != torch.float32:
                    m.load_state_dict(model.state_dict())
                x = torch.randn(b, 3, h, w, dtype=dtype)

                def infer():
                    with torch.no_grad():
                        m(x)
                try:
                    add(figure(f"infer fcn8s {h}x{w} b{b} {label}", "images/s", [b / t for t in timed(a.warmup, a.repeats, infer)]))
                    if dtype == torch.float32:
                        # What seg does by default; a PyTorch user gets it by asking for the layout.
                        x = x.contiguous(memory_format=torch.channels_last)
                        add(figure(f"infer fcn8s {h}x{w} b{b} {label} channels-last", "images/s",
                                   [b / t for t in timed(a.warmup, a.repeats, infer)]))
                except RuntimeError as e:
                    # Debian's PyTorch 1.13: a bf16 ConvTranspose2d on CPU returns the wrong size (1x5 for a 3x10 input, stride 2).
                    notes.append(f"infer {label} at {h}x{w} b{b} failed in PyTorch {torch.__version__}: {str(e).splitlines()[0]}")
                    print(notes[-1], flush=True)

    report = {"Machine": f"{os.cpu_count()} logical cores, {'AVX512-BF16' if cpu_has_bf16() else 'no bf16'}",
              "Runtime": f"PyTorch {torch.__version__}, CPU, {torch.get_num_threads()} threads", "Figures": figures, "Notes": notes}
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
