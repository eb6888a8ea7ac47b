namespace SegHelpers;

/// <summary>
/// Input the library cannot use (a missing folder, a corrupt PNG, a label of the wrong colour, a weight
/// file of the wrong shape). The message names the file, what is wrong with it, and what to do.
/// </summary>
public sealed class BadInputException(string path, string problem, string fix, Exception? inner = null)
    : Exception($"{path}: {problem}. Fix: {fix}", inner)
{
    /// <summary>The file or folder at fault.</summary>
    public string Path { get; } = path;

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; } = problem;

    /// <summary>What the user can do about it.</summary>
    public string Fix { get; } = fix;
}
