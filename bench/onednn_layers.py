#!/usr/bin/env python3
"""One training step's oneDNN primitives, seg against PyTorch, from ONEDNN_VERBOSE=1 logs (bench/onednn_layers.sh).

Each log holds a `seg bench` or bench/pytorch_fcn8s.py run with several identical training steps. The last step is the
final period of the primitive sequence before the first "train fcn8s" line: the shortest tail that repeats just before
itself. Convolutions are matched across the two sides by pass and shape; every other primitive (reorders between plain and
blocked layouts, mostly) is summed by kind and layouts.

    /usr/bin/python3 bench/onednn_layers.py seg.log torch.log [seg2.log torch2.log ...]
"""
import collections
import re
import statistics
import sys

PASS = {"forward_training": "forward", "forward_inference": "forward", "backward_data": "backward data",
        "backward_weights": "backward weights", "backward": "backward"}


def primitives(path):
    """(kind, impl, prop, layouts, shape, ms) of every exec line before the first training figure, and that figure."""
    rows, figure = [], None
    for line in open(path, errors="replace"):
        if not line.startswith("onednn_verbose"):
            m = re.match(r"train fcn8s \S+ b\d+\s+([\d.]+) images/s", line)
            if m:
                figure = float(m[1])
                break
            continue
        f = line.rstrip("\n").split(",")
        if "exec" not in f:
            continue
        i = f.index("exec")
        try:
            ms = float(f[-1])
        except ValueError:
            continue
        layouts = " ".join(re.sub(r"^(\w+)[_:]f32:[a-z]*:blocked:(\w+):.*$", r"\1 \2", d) for d in f[i + 5].split())
        rows.append((f[i + 2], f[i + 3], f[i + 4], layouts, f[-2], ms))
    if figure is None:
        sys.exit(f"error: {path} has no 'train fcn8s' figure; did the run finish?")
    return rows, figure


def last_step(rows):
    keys = [(k, impl, prop, shape) for k, impl, prop, _, shape, _ in rows]
    for n in range(8, len(keys) // 2 + 1):
        if keys[-n:] == keys[-2 * n:-n]:
            return rows[-n:]
    sys.exit("error: no repeating training step found; run at least two (--warmup 1 --repeats 1)")


def label(shape):
    m = re.match(r"(?:g\d+)?mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)\w*?_iw(\d+)ow(\d+)kw(\d+)", shape)
    if not m:
        return shape
    mb, ic, oc, ih, oh, kh, iw, ow, kw = m.groups()
    return f"{ic}→{oc} k{kh}×{kw} at {ih}×{iw}"


def summarise(logs):
    """Per log: conv ms by (pass, shape) with impl, other primitives by kind, the step's seconds from the figure."""
    out = []
    for path in logs:
        rows, images_per_s = primitives(path)
        step = last_step(rows)
        conv = collections.OrderedDict()
        other = collections.defaultdict(lambda: [0, 0.0])
        for kind, impl, prop, layouts, shape, ms in step:
            if kind in ("convolution", "deconvolution"):
                c = conv.setdefault((kind, PASS.get(prop, prop), shape), {"impl": set(), "ms": 0.0, "n": 0})
                c["impl"].add(impl)
                c["ms"] += ms
                c["n"] += 1
            else:
                o = other[(kind, impl, layouts)]
                o[0] += 1
                o[1] += ms
        out.append({"conv": conv, "other": other, "images_per_s": images_per_s})
    return out


def merged(runs):
    """Median over a side's runs of each entry's ms."""
    conv = collections.OrderedDict()
    for run in runs:
        for key, c in run["conv"].items():
            e = conv.setdefault(key, {"impl": set(), "ms": [], "n": c["n"]})
            e["impl"] |= c["impl"]
            e["ms"].append(c["ms"])
    other = collections.defaultdict(list)
    for run in runs:
        for key, (n, ms) in run["other"].items():
            other[key].append((n, ms))
    return ({k: {**v, "ms": statistics.median(v["ms"])} for k, v in conv.items()},
            {k: (max(n for n, _ in v), statistics.median(ms for _, ms in v)) for k, v in other.items()},
            statistics.median(r["images_per_s"] for r in runs))


def main():
    logs = sys.argv[1:]
    if len(logs) < 2 or len(logs) % 2:
        sys.exit(__doc__)
    runs = summarise(logs)
    seg_conv, seg_other, seg_ips = merged(runs[0::2])
    torch_conv, torch_other, torch_ips = merged(runs[1::2])
    batch = int(re.search(r"mb(\d+)", next(iter(seg_conv))[2])[1])
    print("| convolution | pass | layers | seg: oneDNN kernel | seg ms | PyTorch: oneDNN kernel | PyTorch ms | seg / PyTorch time |")
    print("|---|---|---:|---|---:|---|---:|---:|")
    totals = collections.defaultdict(lambda: [0.0, 0.0])
    for key in list(seg_conv) + [k for k in torch_conv if k not in seg_conv]:
        s, t = seg_conv.get(key), torch_conv.get(key)
        kind, pass_, shape = key
        name = label(shape) + (" (transposed)" if kind == "deconvolution" else "")
        sm, tm = (s["ms"] if s else 0.0), (t["ms"] if t else 0.0)
        totals[pass_][0] += sm
        totals[pass_][1] += tm
        impl = lambda e: ", ".join(sorted(e["impl"])) if e else "not oneDNN"
        ratio = f"{sm / tm:.2f}" if s and t and tm > 0 else ""
        bold = "**" if ratio and abs(sm - tm) > 0.05 * max(sm, tm) and abs(sm - tm) > 5 else ""
        print(f"| {name} | {pass_} | {(s or t)['n']} | {impl(s)} | {sm:.1f} | {impl(t)} | {tm:.1f} | {bold}{ratio}{bold} |")
    print("\n| primitive | kernel | layouts (src dst) | seg calls | seg ms | PyTorch calls | PyTorch ms |\n|---|---|---|---:|---:|---:|---:|")
    for key in sorted(set(seg_other) | set(torch_other), key=lambda k: -max(seg_other.get(k, (0, 0))[1], torch_other.get(k, (0, 0))[1])):
        sn, sm = seg_other.get(key, (0, 0.0))
        tn, tm = torch_other.get(key, (0, 0.0))
        if max(sm, tm) >= 1:
            print(f"| {key[0]} | {key[1]} | {key[2]} | {sn} | {sm:.1f} | {tn} | {tm:.1f} |")
    seg_step, torch_step = 1000 * batch / seg_ips, 1000 * batch / torch_ips
    print("\n| per training step | seg ms | PyTorch ms | seg − PyTorch ms |\n|---|---:|---:|---:|")
    for pass_, (sm, tm) in totals.items():
        print(f"| convolutions, {pass_} | {sm:.0f} | {tm:.0f} | {sm - tm:+.0f} |")
    s_other, t_other = sum(v[1] for v in seg_other.values()), sum(v[1] for v in torch_other.values())
    print(f"| other oneDNN primitives (reorders) | {s_other:.0f} | {t_other:.0f} | {s_other - t_other:+.0f} |")
    s_dnn = sum(v[0] for v in totals.values()) + s_other
    t_dnn = sum(v[1] for v in totals.values()) + t_other
    print(f"| all oneDNN | {s_dnn:.0f} | {t_dnn:.0f} | {s_dnn - t_dnn:+.0f} |")
    print(f"| outside oneDNN (ReLU, pooling, loss, autograd, Adam, …) | {seg_step - s_dnn:.0f} | {torch_step - t_dnn:.0f} | {(seg_step - s_dnn) - (torch_step - t_dnn):+.0f} |")
    print(f"| whole step (from the runs' training figure, verbose on) | {seg_step:.0f} | {torch_step:.0f} | {seg_step - torch_step:+.0f} |")


if __name__ == "__main__":
    main()
