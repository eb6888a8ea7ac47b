using SegHelpers.Data;
using SegHelpers.Evaluation;
using SegHelpers.Tests.Data;

namespace SegHelpers.Tests.Evaluation;

public class PredictionWriterTests
{
    static RoadPredictor Tiny() => RoadPredictorTests.Tiny();

    [Fact]
    public void Maps_masks_and_overlays_are_the_predictions_at_each_images_size_under_the_names_asked_for()
    {
        using var dir = new TempDir();
        Kitti.Pair(dir.Path, "um", 3);
        Kitti.Pair(dir.Path, "uu", 12);
        Kitti.Pair(dir.Path, "umm", 5);
        var data = KittiRoad.Open(dir.Path);
        using var predictor = Tiny();
        var files = new PredictionFiles(dir["out/probs"], dir["out/masks"], dir["out/overlays"], KittiNames: true);

        int written = PredictionWriter.Write(predictor, data.Training, files);

        Assert.Equal(3, written);
        Assert.Equal(["um_road_000003.png", "umm_road_000005.png", "uu_road_000012.png"], Directory.GetFiles(dir["out/probs"]).Select(Path.GetFileName).Order());
        Assert.Equal(["um_000003.png", "umm_000005.png", "uu_000012.png"], Directory.GetFiles(dir["out/masks"]).Select(Path.GetFileName).Order());
        Assert.Equal(3, Directory.GetFiles(dir["out/overlays"]).Length);
        foreach (var sample in data.Training)
        {
            var image = ImageFile.ReadRgb(sample.ImagePath);
            var expected = predictor.Predict(image);
            var map = ImageFile.ReadRgb(dir[$"out/probs/{sample.ResultName()}"]);
            var mask = ImageFile.ReadRgb(dir[$"out/masks/{sample.Id}.png"]);
            Assert.Equal((image.Width, image.Height), (map.Width, map.Height));
            Assert.Equal(expected.Values, Enumerable.Range(0, map.Width * map.Height).Select(i => map.Pixels[3 * i]));
            Assert.Equal(Overlay.BinaryMask(expected), Enumerable.Range(0, mask.Width * mask.Height).Select(i => mask.Pixels[3 * i]));
        }
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
