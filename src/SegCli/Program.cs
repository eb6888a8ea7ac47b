using SegHelpers.Native;
TorchNative.EnsureLoadable();
Console.WriteLine(TorchNative.Describe());
