using Microsoft.AspNetCore.Http;

namespace SegServe;

/// <summary>
/// Reads an upload within the body limit and the request's deadline. What goes wrong on the client's side is a 4xx, never a
/// 500: a body over the limit 413, one shorter than its Content-Length or cut off 400, one that arrives too slowly (Kestrel's
/// minimum data rate) or not before the deadline 408; the answers TorchServe and Triton give for the same faults.
/// </summary>
static class RequestBody
{
    /// <summary>The body's bytes.</summary>
    /// <exception cref="ServeException">The client's fault, with its status.</exception>
    /// <exception cref="OperationCanceledException">The client went away (<paramref name="aborted"/>).</exception>
    public static async Task<byte[]> ReadAsync(HttpRequest request, long limit, TimeSpan timeout, CancellationToken aborted)
    {
        string tooLarge = $"over the {limit / (double)ServeOptions.MB:0.##} MB limit (--max-body-mb, {SageMakerEnvironment.MaxPayloadInMB}; SageMaker real-time endpoints take at most 6 MB)";
        if (request.ContentLength > limit)
            throw new ServeException(413, $"the body of {request.ContentLength / (double)ServeOptions.MB:0.##} MB is {tooLarge}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(timeout);
        try
        {
            byte[] body = request.ContentLength is { } length ? new byte[length] : [];
            int filled = 0;
            using var grown = request.ContentLength is null ? new MemoryStream() : null;
            var chunk = grown is null ? null : new byte[81920];
            while (true)
            {
                var into = grown is null ? body.AsMemory(filled) : chunk;
                if (into.Length == 0)
                    break; // Kestrel ends the body at its Content-Length
                int read = await request.Body.ReadAsync(into, deadline.Token);
                if (read == 0)
                    break;
                if (grown is null)
                {
                    filled += read;
                    continue;
                }
                if (grown.Length + read > limit)
                    throw new ServeException(413, $"the body is {tooLarge}");
                grown.Write(chunk!, 0, read);
            }
            if (grown is not null)
                body = grown.ToArray();
            else if (filled < body.Length)
                throw new ServeException(400, $"the body ended after {filled} of its {body.Length} bytes (Content-Length); send it whole");
            if (body.Length == 0)
                throw new ServeException(400, "the body is empty; send the image's bytes");
            return body;
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            throw new ServeException(408, $"the body did not arrive within the {timeout.TotalSeconds:0.#} s timeout (--timeout, {SageMakerEnvironment.ModelServerTimeout})");
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own verdicts on the upload: 400 for a body that ended early, 408 for one too slow, 413 past its size.
            throw new ServeException(e.StatusCode, e.StatusCode == 408
                ? "the body arrived too slowly (under Kestrel's minimum data rate); send it at network speed"
                : $"the body could not be read: {e.Message.TrimEnd('.')}");
        }
    }
}
