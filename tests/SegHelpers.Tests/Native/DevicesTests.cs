using SegHelpers.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace SegHelpers.Tests.Native;

public class DevicesTests
{
    [Fact]
    public void Auto_and_cpu_resolve_here_and_cuda_without_cuda_or_an_unknown_name_is_a_clear_error()
    {
        TorchNative.EnsureLoadable();
        Assert.Equal(DeviceType.CPU, Devices.Resolve("cpu").type);
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, Devices.Resolve(" Auto ").type);
        if (!cuda.is_available())
            Assert.Contains("CUDA is not available", Assert.Throws<ArgumentException>(() => Devices.Resolve("cuda:1")).Message);
        Assert.Contains("auto, cpu, cuda or cuda:N", Assert.Throws<ArgumentException>(() => Devices.Resolve("gpu")).Message);
    }
}
