using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

public class DatasetSplitTests
{
    static readonly IReadOnlyList<KittiSample> Samples =
        Enumerable.Range(0, 10).Select(i => new KittiSample(RoadCategory.Um, i, $"um_{i}", "l"))
            .Concat(Enumerable.Range(0, 20).Select(i => new KittiSample(RoadCategory.Umm, i, $"umm_{i}", "l")))
            .Concat(Enumerable.Range(0, 5).Select(i => new KittiSample(RoadCategory.Uu, i, $"uu_{i}", "l")))
            .ToList();

    [Fact]
    public void Stratified_split_takes_the_fraction_of_every_category_and_covers_all_once()
    {
        var (train, val) = DatasetSplit.Stratified(Samples, 0.2, seed: 4);

        Assert.Equal(2, val.Count(s => s.Category == RoadCategory.Um));
        Assert.Equal(4, val.Count(s => s.Category == RoadCategory.Umm));
        Assert.Equal(1, val.Count(s => s.Category == RoadCategory.Uu));
        Assert.Equal(Samples.Count, train.Concat(val).Distinct().Count());
        Assert.Empty(train.Intersect(val));
    }

    [Fact]
    public void Same_seed_same_split_other_seed_other_split()
    {
        var a = DatasetSplit.Stratified(Samples, 0.3, seed: 1).Validation.Select(s => s.Id).ToList();
        var b = DatasetSplit.Stratified(Samples, 0.3, seed: 1).Validation.Select(s => s.Id).ToList();
        var c = DatasetSplit.Stratified(Samples, 0.3, seed: 2).Validation.Select(s => s.Id).ToList();

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void List_file_picks_validation_ids_and_rejects_unknown_ones()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["val.txt"], ["# validation", "um_000003", "", "uu_000001.png"]);

        var (train, val) = DatasetSplit.FromList(Samples, dir["val.txt"]);

        Assert.Equal(["um_000003", "uu_000001"], val.Select(s => s.Id));
        Assert.Equal(Samples.Count - 2, train.Count);

        File.WriteAllLines(dir["bad.txt"], ["um_000099"]);
        Assert.Contains("um_000099", Assert.Throws<BadInputException>(() => DatasetSplit.FromList(Samples, dir["bad.txt"])).Message);
    }
}
