using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Evaluation;

public class PredictionWriterTests
{
    static RoadPredictor Tiny() => RoadPredictorTests.Tiny();

    /// <summary>An image of noise and a label of random KITTI colours, both <paramref name="width"/>×<paramref name="height"/>, different for every seed.</summary>
    static void RandomPair(string root, string category, int number, int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new byte[width * height * 3];
        rng.NextBytes(image);
        var label = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++)
            (label[3 * i], label[3 * i + 1], label[3 * i + 2]) = RoadLabel.Colours[rng.Next(3)];
        ImageFile.WritePng(Path.Combine(root, "training", "image_2", $"{category}_{number:D6}.png"), new RgbImage(width, height, image));
        ImageFile.WritePng(Path.Combine(root, "training", "gt_image_2", $"{category}_road_{number:D6}.png"), new RgbImage(width, height, label));
    }

    [Fact]
    public void Maps_masks_and_overlays_are_the_predictions_at_each_images_size_under_the_names_asked_for()
    {
        using var dir = new TempDir();
        RandomPair(dir.Path, "um", 3, 40, 24, seed: 1);
        RandomPair(dir.Path, "uu", 12, 64, 20, seed: 2);
        RandomPair(dir.Path, "umm", 5, 31, 17, seed: 3);
        var data = KittiRoad.Open(dir.Path);
        using var predictor = Tiny();
        var files = new PredictionFiles(dir["out/probs"], dir["out/masks"], dir["out/overlays"], KittiNames: true);

        int written = PredictionWriter.Write(predictor, data.Training, files);

        Assert.Equal(3, written);
        Assert.Equal(["um_road_000003.png", "umm_road_000005.png", "uu_road_000012.png"], Directory.GetFiles(dir["out/probs"]).Select(Path.GetFileName).Order());
        Assert.Equal(["um_000003.png", "umm_000005.png", "uu_000012.png"], Directory.GetFiles(dir["out/masks"]).Select(Path.GetFileName).Order());
        Assert.Equal(["um_000003.png", "umm_000005.png", "uu_000012.png"], Directory.GetFiles(dir["out/overlays"]).Select(Path.GetFileName).Order());
        var maps = new List<byte[]>();
        foreach (var sample in data.Training)
        {
            var (image, label) = KittiRoad.LoadPair(sample);
            var expected = predictor.Predict(image);
            var map = ImageFile.ReadPixels(dir[$"out/probs/{sample.ResultName()}"]);
            var mask = ImageFile.ReadPixels(dir[$"out/masks/{sample.Id}.png"]);
            var overlay = ImageFile.ReadRgb(dir[$"out/overlays/{sample.Id}.png"]);
            Assert.Equal((image.Width, image.Height, 1), (map.Width, map.Height, map.Channels));
            Assert.Equal(expected.Values, map.Pixels);
            Assert.Equal(Overlay.BinaryMask(expected), mask.Pixels);
            Assert.Equal(Overlay.Road(image, expected, label).Pixels, overlay.Pixels);
            Assert.NotEqual(Overlay.Road(image, expected).Pixels, overlay.Pixels); // the label's errors are drawn
            maps.Add(map.Pixels);
        }
        Assert.True(maps.Select(m => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m))).Distinct().Count() == 3, "each image has its own map");
    }

    [Fact]
    public void Kitti_names_for_a_file_not_named_as_KITTI_names_it_are_refused()
    {
        using var dir = new TempDir();
        string photo = dir["photo.png"];
        Kitti.Solid(photo, 16, 8, (1, 2, 3));
        using var predictor = Tiny();

        var error = Assert.Throws<BadInputException>(() => PredictionWriter.Write(predictor, [photo], new PredictionFiles(dir["probs"], KittiNames: true)));

        Assert.Contains("photo.png", error.Message);
    }
}
