using SegHelpers.Model;
using SegHelpers.Model.Weights;
using TorchSharp;
using static TorchSharp.torch;
using static SegHelpers.Tests.Model.TorchFixtures;

namespace SegHelpers.Tests.Model;

public class WeightLoaderTests
{
    [Theory]
    [InlineData("fcn8s")]
    [InlineData("fcn16s")]
    [InlineData("fcn32s")]
    public void A_checkpoint_written_by_pytorch_reproduces_pytorchs_logits(string variant)
    {
        using var scope = NewDisposeScope();
        var (model, _) = FcnCheckpoint.Load(File($"{variant}_w64.safetensors"));
        using var _m = model;
        var (input, expected) = Io(variant);
        model.eval();

        using var _g = no_grad();
        var logits = model.call(input);

        Assert.Equal(variant, model.Options.Variant);
        Assert.True(expected.abs().max().item<float>() > 0.1f, "the reference logits are not trivially zero");
        Assert.InRange(RelativeError(logits, expected), 0, 1e-4);
    }

    [Fact]
    public void Parity_fails_for_a_model_that_differs_in_one_weight()
    {
        using var scope = NewDisposeScope();
        var (model, _) = FcnCheckpoint.Load(File("fcn8s_w64.safetensors"));
        using var _m = model;
        var (input, expected) = Io("fcn8s");
        model.eval();
        using var _g = no_grad();
        model.state_dict()["decoder.score_pool3.bias"].add_(0.01);

        Assert.True(RelativeError(model.call(input), expected) > 1e-4);
    }

    [Theory]
    [InlineData("vgg16_w64_torchvision.pth")]
    [InlineData("vgg16_w64_torchvision_legacy.pth")]
    public void Torchvision_vgg16_fills_the_encoder_with_fc6_fc7_convolutionalised_and_says_so(string file)
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: Divisor);
        var decoderBefore = model.state_dict()["decoder.upscore.weight"].clone();

        var report = WeightLoader.Load(model, File(file));

        Assert.Equal("torchvision VGG16", report.Layout);
        Assert.Equal(30, report.Loaded.Count);
        Assert.True(report.IsPartial);
        Assert.All(report.Missing, name => Assert.StartsWith("decoder.", name));
        Assert.Equal(["classifier.6.weight", "classifier.6.bias"], report.Ignored);
        Assert.Contains("kept as initialised: decoder.", report.ToString());
        var source = StateDict.Read(File(file));
        var fc6 = model.state_dict()["encoder.fc6.weight"];
        Assert.True(fc6.Same(source.Find("classifier.0.weight")!.ToTensor().view(64, 8, 7, 7)));
        Assert.True(model.state_dict()["encoder.fc7.weight"].Same(source.Find("classifier.3.weight")!.ToTensor().view(64, 64, 1, 1)));
        Assert.True(model.state_dict()["encoder.features.28.bias"].Same(source.Find("features.28.bias")!.ToTensor()));
        Assert.True(model.state_dict()["decoder.upscore.weight"].Same(decoderBefore));
    }

    [Fact]
    public void Torchvision_encoder_plus_a_decoder_file_reproduces_pytorchs_logits()
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: Divisor);
        var (input, expected) = Io("fcn8s");

        WeightLoader.Load(model, File("vgg16_w64_torchvision.pth"));
        var decoder = StateDict.Read(File("fcn8s_w64.safetensors")).Where(t => t.Name.StartsWith("decoder."));
        var report = WeightLoader.Load(model, decoder);
        model.eval();
        using var _g = no_grad();

        Assert.All(report.Missing, name => Assert.StartsWith("encoder.", name));
        Assert.InRange(RelativeError(model.call(input), expected), 0, 1e-4);
    }

    [Theory]
    [InlineData("fcn8s_w64_parameters_legacy.pth")]
    [InlineData("fcn8s_w64_wrapped.pth")]
    public void Pth_files_in_fcn_naming_load_completely(string file)
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: Divisor);
        var (input, expected) = Io("fcn8s");

        var report = WeightLoader.Load(model, File(file), requireAll: true);
        model.eval();
        using var _g = no_grad();

        Assert.False(report.IsPartial);
        Assert.InRange(RelativeError(model.call(input), expected), 0, 1e-4);
    }

    [Fact]
    public void Wrong_width_lists_every_mismatch_and_leaves_the_model_untouched()
    {
        using var scope = NewDisposeScope();
        using var model = Fcn.Create("fcn8s", widthDivisor: 32);
        var before = model.state_dict()["encoder.features.0.weight"].clone();

        var error = Assert.Throws<BadInputException>(() => WeightLoader.Load(model, File("vgg16_w64_torchvision.pth")));

        Assert.Contains("30 tensor(s) have the wrong shape", error.Message);
        Assert.Contains("features.0.weight is [1, 3, 3, 3] but encoder.features.0.weight is [2, 3, 3, 3]", error.Message);
        Assert.Contains("width divisor 32", error.Message);
        Assert.True(model.state_dict()["encoder.features.0.weight"].Same(before));
    }

    [Fact]
    public void Unexpected_and_required_missing_tensors_are_listed()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = Fcn.Create("fcn32s", widthDivisor: Divisor);
        Safetensors.Write(dir["extra.safetensors"], [("decoder.score_fr.bias", zeros(2)), ("decoder.bogus.weight", zeros(3))]);

        var unexpected = Assert.Throws<BadInputException>(() => WeightLoader.Load(model, dir["extra.safetensors"]));
        var onlyBias = StateDict.Read(dir["extra.safetensors"]).Where(t => t.Name != "decoder.bogus.weight");
        var missing = Assert.Throws<BadInputException>(() => WeightLoader.Load(model, onlyBias, requireAll: true));

        Assert.Contains("1 tensor(s) the model does not have: decoder.bogus", unexpected.Message);
        Assert.Contains("model tensor(s) are not in the file: encoder.features.0", missing.Message);
        Assert.Single(WeightLoader.Load(model, onlyBias).Loaded);
    }

    [Fact]
    public void DataParallel_module_prefixes_are_removed()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var source = Fcn.Create("fcn32s", widthDivisor: Divisor);
        using var target = Fcn.Create("fcn32s", widthDivisor: Divisor);
        Safetensors.Write(dir["dp.safetensors"], source.state_dict().Select(p => ("module." + p.Key, p.Value)));

        var report = WeightLoader.Load(target, dir["dp.safetensors"], requireAll: true);

        Assert.Contains("'module.' prefix removed", report.Layout);
        Assert.True(target.state_dict()["encoder.fc6.weight"].Same(source.state_dict()["encoder.fc6.weight"]));
    }

    [Fact]
    public void Own_checkpoint_round_trip_restores_architecture_weights_and_extras()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = new Fcn(new FcnOptions("fcn16s", NumClasses: 3, WidthDivisor: 32, Dropout: 0.25));
        var input = randn(1, 3, 40, 50);
        model.eval();
        Tensor expected;
        using (no_grad())
            expected = model.call(input);

        FcnCheckpoint.Save(model, dir["m.safetensors"], new Dictionary<string, string> { ["epoch"] = "7" }, [("train.step", tensor(123L))]);
        var (loaded, file) = FcnCheckpoint.Load(dir["m.safetensors"]);
        using var _l = loaded;
        loaded.eval();

        Assert.Equal(model.Options, loaded.Options);
        Assert.Equal("7", file.Metadata["epoch"]);
        Assert.Equal(123L, file.Find("train.step")!.ToTensor().item<long>());
        using (no_grad())
            Assert.True(loaded.call(input).Same(expected));
        Assert.Throws<ArgumentException>(() => FcnCheckpoint.Save(model, dir["bad.safetensors"], extra: [("step", tensor(1L))]));
    }

    [Fact]
    public void A_plain_weight_file_is_not_taken_for_a_checkpoint()
    {
        var error = Assert.Throws<BadInputException>(() => FcnCheckpoint.Load(File("vgg16_w64_torchvision.pth")));

        Assert.Contains("not a checkpoint of this project", error.Message);
        Assert.Contains("WeightLoader.Load", error.Fix);
    }
}
