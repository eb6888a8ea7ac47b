using static TorchSharp.torch;

namespace SegHelpers.Native;

/// <summary>The one place a device name (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) becomes a TorchSharp device.</summary>
public static class Devices
{
    /// <summary>The device names <see cref="Resolve"/> accepts (<c>cuda:N</c> for any N).</summary>
    public static readonly IReadOnlyList<string> Names = ["auto", "cpu", "cuda", "cuda:N"];

    /// <summary>
    /// <c>auto</c> is CUDA where it is available and the CPU otherwise; a CUDA device asked for on a machine without CUDA is a
    /// clear error rather than a silent fall back.
    /// </summary>
    public static Device Resolve(string name) => name.Trim().ToLowerInvariant() switch
    {
        "auto" => cuda.is_available() ? CUDA : CPU,
        "cpu" => CPU,
        var cudaName when cudaName == "cuda" || cudaName.StartsWith("cuda:", StringComparison.Ordinal) => cuda.is_available()
            ? new Device(cudaName)
            : throw new ArgumentException($"device {name} was asked for but CUDA is not available here; use --device cpu or auto"),
        _ => throw new ArgumentException($"device '{name}' is not auto, cpu, cuda or cuda:N"),
    };
}
