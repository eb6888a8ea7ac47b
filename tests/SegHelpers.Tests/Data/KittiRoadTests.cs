using SegHelpers.Data;

namespace SegHelpers.Tests.Data;

public class KittiRoadTests
{
    [Theory]
    [InlineData("/any/where/umm_000012.png", "umm_000012", "umm_road_000012.png")]
    [InlineData("uu_000095.png", "uu_000095", "uu_road_000095.png")]
    public void A_KITTI_file_name_gives_its_sample_and_result_name(string path, string id, string result)
    {
        var sample = KittiRoad.SampleOf(path);

        Assert.Equal((id, result, path), (sample.Id, sample.ResultName(), sample.ImagePath));
    }

    [Theory]
    [InlineData("photo.png")]
    [InlineData("um_12.png")]
    [InlineData("umx_000012.png")]
    public void Any_other_name_is_refused_naming_the_file_and_the_pattern(string path)
    {
        var error = Assert.Throws<BadInputException>(() => KittiRoad.SampleOf(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("{um,umm,uu}_NNNNNN.png", error.Message);
    }

    [Fact]
    public void Pairs_images_with_road_labels_and_lists_test_images()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0);
        Kitti.Pair(dir.Path, "umm", 7);
        Kitti.Pair(dir.Path, "uu", 2);
        Kitti.Solid(dir["training/gt_image_2/um_lane_000000.png"], 16, 8, Kitti.Magenta);
        Kitti.Solid(dir["testing/image_2/uu_000009.png"], 16, 8, (1, 1, 1));

        var data = KittiRoad.Open(dir.Path);

        Assert.Equal(["um_000000", "umm_000007", "uu_000002"], data.Training.Select(s => s.Id));
        Assert.EndsWith("umm_road_000007.png", data.Training[1].LabelPath);
        Assert.Equal("uu_road_000009.png", Assert.Single(data.Testing).ResultName());
        Assert.Null(data.Testing[0].LabelPath);
    }

    [Fact]
    public void Lane_task_pairs_only_um_lane_labels()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0);
        Kitti.Pair(dir.Path, "uu", 0);
        Kitti.Solid(dir["training/gt_image_2/um_lane_000000.png"], 16, 8, Kitti.Red);

        var data = KittiRoad.Open(dir.Path, KittiTask.Lane);

        var only = Assert.Single(data.Training);
        Assert.EndsWith("um_lane_000000.png", only.LabelPath);
    }

    [Fact]
    public void Finds_the_data_road_subfolder()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir["data_road"], "um", 1);

        Assert.Equal(dir["data_road"], KittiRoad.Open(dir.Path).Root);
    }

    [Fact]
    public void Loads_a_pair_with_its_mask()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0, 5, 3, Kitti.Red);

        var (image, mask) = KittiRoad.LoadPair(KittiRoad.Open(dir.Path).Training[0]);

        Assert.Equal((5, 3), (image.Width, image.Height));
        Assert.All(mask, m => Assert.Equal(RoadLabel.NonRoad, m));
    }

    [Fact]
    public void Missing_folders_name_the_folder_and_suggest_synth()
    {
        using var dir = new TempDir();

        var missingRoot = Assert.Throws<BadInputException>(() => KittiRoad.Open(dir["nothing"]));
        Assert.Contains("seg synth", missingRoot.Fix);

        Directory.CreateDirectory(dir["training/image_2"]);
        var missingLabels = Assert.Throws<BadInputException>(() => KittiRoad.Open(dir.Path));
        Assert.Equal(dir["training/gt_image_2"], missingLabels.Path);
    }

    [Fact]
    public void Image_without_label_and_label_without_image_are_listed()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0);
        Kitti.Solid(dir["training/image_2/um_000001.png"], 16, 8, (1, 1, 1));

        var noLabel = Assert.Throws<BadInputException>(() => KittiRoad.Open(dir.Path));
        Assert.Contains("um_000001.png", noLabel.Message);
        Assert.Contains("no label", noLabel.Problem);

        File.Delete(dir["training/image_2/um_000001.png"]);
        Kitti.Solid(dir["training/gt_image_2/uu_road_000004.png"], 16, 8, Kitti.Red);
        var noImage = Assert.Throws<BadInputException>(() => KittiRoad.Open(dir.Path));
        Assert.Contains("uu_road_000004.png", noImage.Message);
        Assert.Contains("no image", noImage.Problem);
    }

    [Fact]
    public void Unexpected_file_names_are_rejected()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 0);
        Kitti.Solid(dir["training/image_2/photo.png"], 16, 8, (1, 1, 1));

        Assert.Contains("photo.png", Assert.Throws<BadInputException>(() => KittiRoad.Open(dir.Path)).Message);
    }

    [Fact]
    public void Size_mismatch_between_image_and_label_names_both_files()
    {
        using var dir = new TempDir();
        Kitti.Solid(dir["training/image_2/um_000000.png"], 16, 8, (1, 1, 1));
        Kitti.Solid(dir["training/gt_image_2/um_road_000000.png"], 15, 8, Kitti.Red);
        var sample = KittiRoad.Open(dir.Path).Training[0];

        var error = Assert.Throws<BadInputException>(() => KittiRoad.LoadPair(sample));

        Assert.Equal(sample.LabelPath, error.Path);
        Assert.Contains("15x8", error.Problem);
        Assert.Contains("16x8", error.Problem);
    }
}
