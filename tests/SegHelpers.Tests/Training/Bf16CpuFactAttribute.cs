using SegHelpers.Training;

namespace SegHelpers.Tests.Training;

/// <summary>A fact about training on native bf16, run only on a CPU that has it (AVX512-BF16 or AMX), skipped with the reason elsewhere.</summary>
sealed class Bf16CpuFactAttribute : FactAttribute
{
    public Bf16CpuFactAttribute()
    {
        if (!TrainingPrecision.CpuHasBf16())
            Skip = "this CPU has neither AVX512-BF16 nor AMX (/proc/cpuinfo flags), so auto and bf16 train in fp32 and there is no bf16 path to test; an AMD Zen 4 or Intel Sapphire Rapids runs it";
    }
}
