#!/usr/bin/python3
"""Makes the KITTI Road devkit fixtures: a small data_road-layout folder, probability maps in the
submission layout, and expected.json with the scores the devkit's evaluation defines.

The scoring below follows devkit_road's evaluateRoad.py / helper.py step by step (OpenCV reading,
float32 probabilities, numpy histograms over [-inf, thresholds, inf], cumulative FN/FP, the 11-point AP,
MaxF's first argmax, float32 PRE/REC/FPR/FNR), with URBAN_ROAD pooling every category's counts.
Run with Debian's python3-numpy and python3-opencv:  /usr/bin/python3 make_devkit_fixtures.py
"""
import json
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "data_road")
PROBS = os.path.join(HERE, "probs")
H, W = 24, 40
rng = np.random.default_rng(7)

# RGB label colours (cv2 writes BGR)
MAGENTA, RED, BLACK, BLUE = (255, 0, 255), (255, 0, 0), (0, 0, 0), (0, 0, 255)


def write_rgb(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, rgb[:, :, ::-1].copy())


def make():
    images = {"um": 3, "umm": 2, "uu": 3}
    for cat, count in images.items():
        for n in range(count):
            label = np.zeros((H, W, 3), np.uint8)
            road = np.zeros((H, W), bool)
            cut = rng.integers(6, 18)
            road[cut:, :] = True
            road[cut:, : rng.integers(0, 10)] = False
            label[:] = RED
            label[road] = MAGENTA
            label[:2, :] = BLACK                  # don't-care strip
            label[cut - 2: cut, W - 8:] = BLUE    # road outside the evaluated area
            write_rgb(os.path.join(ROOT, "training", "gt_image_2", f"{cat}_road_{n:06d}.png"), label)
            write_rgb(os.path.join(ROOT, "training", "image_2", f"{cat}_{n:06d}.png"),
                      rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
            # Probabilities: noisy around the truth, plus every 8-bit value somewhere so each threshold's binning counts.
            p = np.where(road, rng.normal(0.7, 0.25, (H, W)), rng.normal(0.3, 0.25, (H, W)))
            prob = np.clip(np.round(p * 255), 0, 255).astype(np.uint8)
            prob.flat[:256] = np.arange(256, dtype=np.uint8)[rng.permutation(256)]
            if cat == "uu" and n == 0:
                prob[:] = 128                      # a constant map: ties at one threshold
            os.makedirs(PROBS, exist_ok=True)
            assert cv2.imwrite(os.path.join(PROBS, f"{cat}_road_{n:06d}.png"), prob)


def counts(gt_path, prob_path, thresh):
    bgr = cv2.imread(gt_path, cv2.IMREAD_UNCHANGED)
    road, valid = bgr[:, :, 0] > 0, bgr[:, :, 2] > 0
    prob = cv2.imread(prob_path, cv2.IMREAD_GRAYSCALE)
    prob = np.clip(prob.astype("f4") / np.iinfo(prob.dtype).max, 0.0, 1.0)
    edges = np.concatenate(([-np.inf], thresh, [np.inf]))
    fn = np.cumsum(np.histogram(prob[road & valid], bins=edges)[0])[: len(thresh)]
    fp = np.flipud(np.cumsum(np.flipud(np.histogram(prob[~road & valid], bins=edges)[0])))[1: 1 + len(thresh)]
    return fn, fp, int(np.sum(road & valid)), int(np.sum(~road & valid))


def scores(pos, neg, fn, fp, thresh):
    tp, tn = pos - fn, neg - fp
    recall = tp / float(pos)
    precision = tp / (tp + fp + 1e-10)
    keep = ~((recall == 0) & (precision == 0))
    recall, precision = recall[keep], precision[keep]
    ap = np.mean([max(precision[np.where(recall >= level)]) for level in np.arange(0, 1.1, 0.1)])
    f = 2 * precision * recall / (precision + recall + 1e-10)
    i = int(f.argmax())
    TP, TN, FP, FN = (np.array([x[i]], "u4").astype("f4") for x in (tp, tn, fp, fn))
    return {
        "MaxF": float(f[i]), "AvgPrec": float(ap),
        "PRE_wp": float((TP / (TP + FP))[0]), "REC_wp": float((TP / (TP + FN))[0]),
        "FPR_wp": float((FP / (TN + FP))[0]), "FNR_wp": float((FN / (TP + FN))[0]),
        "BestThresh": float(thresh[i]), "totalPosNum": int(pos), "totalNegNum": int(neg),
    }


def evaluate():
    thresh = np.array(range(0, 256)) / 255.0
    result, pooled = {}, [np.zeros(256), np.zeros(256), 0, 0]
    for cat in ["um_road", "umm_road", "uu_road"]:
        gt_dir = os.path.join(ROOT, "training", "gt_image_2")
        total = [np.zeros(256), np.zeros(256), 0, 0]
        for name in sorted(f for f in os.listdir(gt_dir) if f.startswith(cat + "_")):
            fn, fp, pos, neg = counts(os.path.join(gt_dir, name), os.path.join(PROBS, name), thresh)
            for acc in (total, pooled):
                acc[0] += fn; acc[1] += fp; acc[2] += pos; acc[3] += neg
        result[cat.upper()] = scores(total[2], total[3], total[0], total[1], thresh)
    result["URBAN_ROAD"] = scores(pooled[2], pooled[3], pooled[0], pooled[1], thresh)
    return result


if __name__ == "__main__":
    make()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(evaluate(), f, indent=1, sort_keys=True)
    print(json.dumps(evaluate(), indent=1))
