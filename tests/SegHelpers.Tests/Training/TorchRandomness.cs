namespace SegHelpers.Tests.Training;

/// <summary>
/// Tests that compare two training runs number by number. Dropout and initialisation draw from libtorch's
/// process-wide generator, so another test drawing from it at the same time would change the numbers; these
/// tests therefore run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRandomness
{
    public const string Name = "libtorch's global random generator";
}
