#!/usr/bin/env python3
"""Writes the PyTorch fixtures the C# weight tests read. Run with Debian's PyTorch:

    apt-get install python3-torch python3-torchvision
    /usr/bin/python3 make_fixtures.py

Everything uses a VGG16 with every channel count divided by 64 (the C# FcnOptions.WidthDivisor = 64),
so the files stay small. The FCN below mirrors SegHelpers.Model.Fcn layer for layer and name for name.
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

DIVISOR = 64
HERE = os.path.dirname(os.path.abspath(__file__))
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
STRIDES = {"fcn8s": 8, "fcn16s": 16, "fcn32s": 32}


def torchvision_vgg16(d):
    """torchvision's VGG16 module layout (features.N, classifier.0/3/6) at 1/d width."""
    features = torchvision.models.vgg.make_layers([c if c == "M" else c // d for c in CFG])
    vgg = torchvision.models.vgg.VGG(features, num_classes=10, init_weights=True)
    vgg.classifier = nn.Sequential(
        nn.Linear(512 // d * 7 * 7, 4096 // d), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096 // d, 4096 // d), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096 // d, 10))
    return vgg


class Encoder(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.features = torchvision.models.vgg.make_layers([c if c == "M" else c // d for c in CFG])
        self.fc6 = nn.Conv2d(512 // d, 4096 // d, 7, padding=3)
        self.fc7 = nn.Conv2d(4096 // d, 4096 // d, 1)

    def forward(self, x):
        pools = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pools.append(x)
        x = F.dropout(F.relu(self.fc6(x)), 0.5, self.training)
        x = F.dropout(F.relu(self.fc7(x)), 0.5, self.training)
        return pools[2], pools[3], x


def upsampler(k, factor):
    return nn.ConvTranspose2d(k, k, 2 * factor, stride=factor, padding=factor // 2, bias=False)


class Decoder(nn.Module):
    def __init__(self, variant, k, c3, c4, c7):
        super().__init__()
        stride = STRIDES[variant]
        self.score_fr = nn.Conv2d(c7, k, 1)
        if stride <= 16:
            self.score_pool4 = nn.Conv2d(c4, k, 1)
            self.upscore2 = upsampler(k, 2)
        if stride == 8:
            self.score_pool3 = nn.Conv2d(c3, k, 1)
            self.upscore_pool4 = upsampler(k, 2)
        self.upscore = upsampler(k, stride)
        self.stride = stride

    def forward(self, pool3, pool4, fc7):
        x = self.score_fr(fc7)
        if self.stride <= 16:
            x = self.upscore2(x) + self.score_pool4(pool4)
        if self.stride == 8:
            x = self.upscore_pool4(x) + self.score_pool3(pool3)
        return self.upscore(x)


class Fcn(nn.Module):
    def __init__(self, variant, k=2, d=DIVISOR):
        super().__init__()
        self.encoder = Encoder(d)
        self.decoder = Decoder(variant, k, 256 // d, 512 // d, 4096 // d)

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        x = F.pad(x, [0, (32 - w % 32) % 32, 0, (32 - h % 32) % 32])
        return self.decoder(*self.encoder(x))[:, :, :h, :w]


def save_safetensors(path, tensors, metadata=None):
    """The safetensors layout, written by hand (Debian has no python3-safetensors)."""
    codes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        blob = t.numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class RunsCode:
    """A pickle that would run a shell command on an unrestricted torch.load."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def main():
    torch.manual_seed(2026)
    vgg = torchvision_vgg16(DIVISOR).eval()
    sd = vgg.state_dict()
    torch.save(sd, os.path.join(HERE, "vgg16_w64_torchvision.pth"))
    torch.save(sd, os.path.join(HERE, "vgg16_w64_torchvision_legacy.pth"), _use_new_zipfile_serialization=False)

    x = torch.randn(1, 3, 75, 101)
    io = {"input": x}
    for variant in STRIDES:
        fcn = Fcn(variant).eval()
        with torch.no_grad():
            fcn.encoder.features.load_state_dict(vgg.features.state_dict())
            fcn.encoder.fc6.weight.copy_(vgg.classifier[0].weight.view(4096 // DIVISOR, 512 // DIVISOR, 7, 7))
            fcn.encoder.fc6.bias.copy_(vgg.classifier[0].bias)
            fcn.encoder.fc7.weight.copy_(vgg.classifier[3].weight.view(4096 // DIVISOR, 4096 // DIVISOR, 1, 1))
            fcn.encoder.fc7.bias.copy_(vgg.classifier[3].bias)
            for name, p in fcn.decoder.named_parameters():
                p.copy_(torch.randn_like(p) * 0.5)
            io["logits_" + variant] = fcn(x)
        options = {"Variant": variant, "NumClasses": 2, "WidthDivisor": DIVISOR, "Dropout": 0.5, "AtOnceSkipScaling": False}
        save_safetensors(os.path.join(HERE, f"{variant}_w64.safetensors"), fcn.state_dict(),
                         {"seg.format": "seghelpers-fcn-1", "seg.fcn": json.dumps(options)})
        if variant == "fcn8s":
            params = dict(fcn.named_parameters())  # nn.Parameter objects: exercises _rebuild_parameter
            torch.save(params, os.path.join(HERE, "fcn8s_w64_parameters_legacy.pth"), _use_new_zipfile_serialization=False)
            torch.save({"epoch": 3, "state_dict": fcn.state_dict()}, os.path.join(HERE, "fcn8s_w64_wrapped.pth"))
    save_safetensors(os.path.join(HERE, "parity_io.safetensors"), io)

    base = torch.arange(10, dtype=torch.int64)
    torch.save({"transposed": torch.arange(12, dtype=torch.float32).view(3, 4).t(), "window": base[3:7], "base": base},
               os.path.join(HERE, "views.pth"))

    torch.save({"features.0.weight": RunsCode(os.system, "touch /tmp/seghelpers-pickle-ran")},
               os.path.join(HERE, "malicious_system.pth"))
    torch.save(RunsCode(eval, "__import__('os').system('touch /tmp/seghelpers-pickle-ran')"),
               os.path.join(HERE, "malicious_eval_legacy.pth"), _use_new_zipfile_serialization=False)
    print("torch", torch.__version__, "torchvision", torchvision.__version__)


if __name__ == "__main__":
    main()
