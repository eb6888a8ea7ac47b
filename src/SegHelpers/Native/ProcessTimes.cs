using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SegHelpers.Native;

/// <summary>
/// CPU time this process has used so far, split into user time (computing) and system time (the kernel working for it:
/// page faults, zeroing fresh pages, mapping and unmapping memory). On Linux read with <c>getrusage</c>, to the
/// microsecond; elsewhere from <see cref="Process"/>.
/// </summary>
/// <param name="User">Time spent in the process's own code and libraries.</param>
/// <param name="System">Time the kernel spent on the process's behalf.</param>
public readonly record struct ProcessTimes(TimeSpan User, TimeSpan System)
{
    /// <summary>The process's CPU time up to now.</summary>
    public static ProcessTimes Now()
    {
        if (OperatingSystem.IsLinux() && GetRusage(0, out var usage) == 0)
            return new ProcessTimes(usage.User.ToTimeSpan(), usage.System.ToTimeSpan());
        using var self = Process.GetCurrentProcess();
        return new ProcessTimes(self.UserProcessorTime, self.PrivilegedProcessorTime);
    }

    /// <summary>The CPU time used between <paramref name="earlier"/> and this reading.</summary>
    public ProcessTimes Since(ProcessTimes earlier) => new(User - earlier.User, System - earlier.System);

    [StructLayout(LayoutKind.Sequential)]
    readonly struct TimeValue
    {
        readonly long _seconds, _microseconds;

        public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(_seconds * TimeSpan.TicksPerSecond + _microseconds * 10);
    }

    [StructLayout(LayoutKind.Sequential)]
    struct ResourceUsage
    {
        public TimeValue User;
        public TimeValue System;
#pragma warning disable CS0169 // the rest of struct rusage: fourteen longs the kernel fills in
        unsafe fixed long _rest[14];
#pragma warning restore CS0169
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    static extern int GetRusage(int who, out ResourceUsage usage);
}
