namespace SegHelpers.Native;

/// <summary>libtorch could not be loaded: a build without it (<c>-p:TorchBackend=none</c>), or its native files are missing.</summary>
public sealed class LibtorchMissingException(string backend, Exception inner) : Exception(
    backend == "none"
        ? "this seg was built without libtorch (-p:TorchBackend=none), for the ONNX Runtime backend only; " +
          "use a .onnx model (`seg weights export MODEL --out FILE.onnx --format onnx` on a full build), or build without -p:TorchBackend=none"
        : $"libtorch could not be loaded ({inner.InnerException?.Message.Split('\n', 2)[0] ?? inner.Message.Split('\n', 2)[0]}); " +
          "its native files (libtorch_cpu.so, libLibTorchSharp.so) are not beside seg.dll: rebuild or republish seg",
    inner);
