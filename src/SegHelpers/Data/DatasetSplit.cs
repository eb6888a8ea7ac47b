namespace SegHelpers.Data;

/// <summary>Training/validation splits of KITTI samples that do not change between runs.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Puts <paramref name="validationFraction"/> of each category (rounded, at least one where the
    /// category has two or more images) into validation, chosen by a seeded shuffle; both halves keep
    /// the input order. The same samples and seed always give the same split.
    /// </summary>
    public static (IReadOnlyList<KittiSample> Train, IReadOnlyList<KittiSample> Validation) Stratified(
        IReadOnlyList<KittiSample> samples, double validationFraction, int seed)
    {
        if (validationFraction is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be in [0, 1)");
        var validation = new HashSet<KittiSample>();
        foreach (var group in samples.GroupBy(s => s.Category).OrderBy(g => g.Key))
        {
            var members = group.OrderBy(s => s.Number).ToArray();
            int take = (int)Math.Round(members.Length * validationFraction, MidpointRounding.AwayFromZero);
            if (take == 0 && validationFraction > 0 && members.Length >= 2)
                take = 1;
            new Random(unchecked(seed * 31 + (int)group.Key)).Shuffle(members);
            validation.UnionWith(members.Take(take));
        }
        return (samples.Where(s => !validation.Contains(s)).ToList(), samples.Where(validation.Contains).ToList());
    }

    /// <summary>
    /// Validation = the sample ids listed in <paramref name="listFile"/> (one per line, e.g. <c>um_000003</c>;
    /// blank lines and <c>#</c> comments ignored); training = the rest. An unknown id is a <see cref="BadInputException"/>.
    /// </summary>
    public static (IReadOnlyList<KittiSample> Train, IReadOnlyList<KittiSample> Validation) FromList(
        IReadOnlyList<KittiSample> samples, string listFile)
    {
        if (!File.Exists(listFile))
            throw new BadInputException(listFile, "split list not found", "write one validation image id (like um_000003) per line");
        var byId = samples.ToDictionary(s => s.Id);
        var ids = File.ReadLines(listFile)
            .Select(l => l.Split('#')[0].Trim())
            .Where(l => l.Length > 0)
            .Select(l => Path.GetFileNameWithoutExtension(l))
            .ToHashSet();
        var unknown = ids.Where(id => !byId.ContainsKey(id)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new BadInputException(listFile, $"unknown image id(s): {string.Join(", ", unknown.Take(5))}",
                "list ids of training images that exist, e.g. um_000003");
        return (samples.Where(s => !ids.Contains(s.Id)).ToList(), samples.Where(s => ids.Contains(s.Id)).ToList());
    }
}
