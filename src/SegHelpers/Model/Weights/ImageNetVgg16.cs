using System.Text.RegularExpressions;
using SegHelpers.Downloads;

namespace SegHelpers.Model.Weights;

/// <summary>
/// torchvision's ImageNet VGG16 (<c>vgg16-397923af.pth</c>, 528 MB), the encoder the paper and every FCN result on KITTI start
/// from. It is cached where PyTorch keeps it (<c>$TORCH_HOME/hub/checkpoints</c>, by default <c>~/.cache/torch/hub/checkpoints</c>),
/// so a file PyTorch already downloaded is used as it is. <c>SEG_WEIGHTS_CACHE</c> or an explicit folder overrides the place,
/// <c>SEG_VGG16_URL</c> or an explicit URL the source (a mirror).
/// </summary>
public static partial class ImageNetVgg16
{
    /// <summary>The value of every encoder-weights knob that means this file.</summary>
    public const string Keyword = "imagenet";

    /// <summary>torchvision's download address.</summary>
    public static readonly Uri DefaultUrl = new("https://download.pytorch.org/models/vgg16-397923af.pth");

    /// <summary>The cache folder: <paramref name="cache"/>, else <c>SEG_WEIGHTS_CACHE</c>, else PyTorch's hub checkpoint folder.</summary>
    public static string CacheFolder(string? cache = null) => CacheFolder(cache, Environment.GetEnvironmentVariable);

    internal static string CacheFolder(string? cache, Func<string, string?> environment) =>
        cache ?? (environment("SEG_WEIGHTS_CACHE") is { Length: > 0 } segCache ? segCache
            : Path.Combine(environment("TORCH_HOME") is { Length: > 0 } torchHome
                ? torchHome
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "torch"), "hub", "checkpoints"));

    /// <summary>The download address: <paramref name="url"/>, else <c>SEG_VGG16_URL</c>, else <see cref="DefaultUrl"/>.</summary>
    public static Uri Source(Uri? url = null) =>
        url ?? (Environment.GetEnvironmentVariable("SEG_VGG16_URL") is { Length: > 0 } env ? new Uri(env) : DefaultUrl);

    /// <summary>
    /// The cached file, downloaded first when missing. As torch.hub does, the SHA-256 must start with the hex digits after the
    /// last '-' of the file name (<c>397923af</c>). A cached file is hashed before it is trusted, unless a check recorded beside
    /// it still matches (see <see cref="Downloader"/>); a wrong one is deleted and downloaded again.
    /// </summary>
    public static string Fetch(string? cache = null, Uri? url = null, IProgress<DownloadProgress>? progress = null, DownloadOptions? options = null,
        IProgress<DownloadProgress>? verifying = null)
    {
        var source = Source(url);
        string name = Path.GetFileName(source.LocalPath);
        string? prefix = HashInName().Match(name) is { Success: true } m ? m.Groups[1].Value : null;
        return Downloader.Fetch(source, Path.Combine(CacheFolder(cache), name), prefix, options, progress, verifying: verifying);
    }

    /// <summary>An encoder-weights value as a file: <see cref="Keyword"/> becomes the cached ImageNet file (fetched if missing, checked if never checked), anything else is a path.</summary>
    public static string? Resolve(string? encoderWeights, IProgress<DownloadProgress>? progress = null) =>
        string.Equals(encoderWeights, Keyword, StringComparison.OrdinalIgnoreCase) ? Fetch(progress: progress, verifying: progress) : encoderWeights;

    [GeneratedRegex(@"-([0-9a-f]{6,64})\.[A-Za-z]+$")]
    private static partial Regex HashInName();
}
