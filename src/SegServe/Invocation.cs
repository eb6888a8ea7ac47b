using System.Diagnostics;
using System.Text.Json;
using SegHelpers;
using SegHelpers.Data;
using SegHelpers.Evaluation;

namespace SegServe;

/// <summary>An answer's bytes and Content-Type.</summary>
/// <param name="Body">What is sent.</param>
/// <param name="ContentType">Its media type.</param>
sealed record Answer(byte[] Body, string ContentType);

/// <summary>
/// One admitted request's work on a model thread: decode the upload, predict, encode what <c>Accept</c> asked for. All of it
/// counts against the request's place in <see cref="PredictionQueue"/>, so the images in memory at once are one per worker.
/// </summary>
/// <param name="Body">The upload, already checked to be a PNG or JPEG of an admitted size.</param>
/// <param name="Kind">What to answer with.</param>
/// <param name="Flip">Flip test-time augmentation.</param>
/// <param name="MaxResponseBytes">Largest answer; the encoder stops there.</param>
/// <param name="Arrived">When the request arrived, for the summary's time.</param>
sealed record Invocation(byte[] Body, ResponseKind Kind, bool Flip, long MaxResponseBytes, long Arrived)
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Runs the request with <paramref name="predict"/>; <paramref name="model"/> and <paramref name="precision"/> go into the summary.</summary>
    /// <exception cref="ServeException">400 for an image that does not decode, 406 for an answer over the response limit.</exception>
    public Answer Run(Func<RgbImage, bool, RoadProbability> predict, string model, string precision)
    {
        RgbImage image;
        try
        {
            image = ImageFile.DecodeRgb(Body, "the request body");
        }
        catch (BadInputException e)
        {
            throw new ServeException(400, $"the request body: {e.Problem}");
        }
        var probability = predict(image, Flip);
        byte[]? body = Kind switch
        {
            ResponseKind.ProbabilityMap => ImageFile.EncodeGrayPng(probability.Width, probability.Height, probability.Values, MaxResponseBytes),
            ResponseKind.Mask => ImageFile.EncodeGrayPng(probability.Width, probability.Height, Overlay.BinaryMask(probability), MaxResponseBytes),
            ResponseKind.Overlay => ImageFile.EncodeJpeg(Overlay.Road(image, probability), 90, MaxResponseBytes),
            _ => JsonSerializer.SerializeToUtf8Bytes(new Summary(
                probability.Values.Count(v => v >= RoadProbability.Threshold) / (double)probability.Values.Length, image.Width, image.Height, model,
                precision, Flip, Math.Round(Stopwatch.GetElapsedTime(Arrived).TotalMilliseconds, 1)), Json),
        };
        if (body is null)
            throw new ServeException(406, $"the {Describe(Kind)} of this {image.Width}×{image.Height} image is over the {MaxResponseBytes / (double)ServeOptions.MB:0.##} MB response limit " +
                                          $"(--max-response-mb; SageMaker real-time endpoints send at most 6 MB); ask for {Smaller(Kind)}");
        return new Answer(body, Negotiation.ContentType(Kind));
    }

    static string Describe(ResponseKind kind) => kind switch
    {
        ResponseKind.ProbabilityMap => "probability map (image/png)",
        ResponseKind.Mask => "mask (image/png;output=mask)",
        ResponseKind.Overlay => "overlay (image/jpeg)",
        _ => "summary",
    };

    /// <summary>The answers that fit where <paramref name="kind"/> did not: the binary mask compresses best, the summary is tiny.</summary>
    static string Smaller(ResponseKind kind) => kind == ResponseKind.Mask
        ? "Accept: application/json, or send a smaller image"
        : "Accept: image/png;output=mask (the binary mask, which compresses far better) or application/json";

    sealed record Summary(double RoadFraction, int Width, int Height, string Model, string Precision, bool Flip, double Milliseconds);
}
