using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace SegHelpers.Downloads;

/// <summary>How <see cref="Downloader.Fetch"/> behaves on a slow or failing network.</summary>
/// <param name="Attempts">Tries per download before giving up (transient failures only: dropped connections, timeouts, 5xx).</param>
/// <param name="FirstBackoff">Wait before the second try; doubled before each later one.</param>
/// <param name="Timeout">Longest wait for the server to answer or for the next bytes of the body.</param>
public sealed record DownloadOptions(int Attempts = 5, TimeSpan? FirstBackoff = null, TimeSpan? Timeout = null)
{
    internal TimeSpan Backoff => FirstBackoff ?? TimeSpan.FromSeconds(2);

    internal TimeSpan Wait => Timeout ?? TimeSpan.FromSeconds(60);
}

/// <summary>Where a download stands.</summary>
/// <param name="Bytes">Bytes on disk so far (a resumed download starts from what an earlier call left).</param>
/// <param name="Total">The file's size, when the server says it.</param>
/// <param name="BytesPerSecond">Rate over this call.</param>
public sealed record DownloadProgress(long Bytes, long? Total, double BytesPerSecond)
{
    /// <summary>Time left at the current rate, when the size is known.</summary>
    public TimeSpan? Eta => Total is { } total && BytesPerSecond > 0 ? TimeSpan.FromSeconds((total - Bytes) / BytesPerSecond) : null;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Bytes / 1e6:F1}{(Total is { } t ? $" of {t / 1e6:F1}" : "")} MB, {BytesPerSecond / 1e6:F1} MB/s" + (Eta is { } eta ? $", eta {eta:hh\\:mm\\:ss}" : "");
}

/// <summary>
/// Downloads one file to a cache path, safely: the bytes go to <c>FILE.part</c>, an interrupted download resumes from there
/// (HTTP Range) on the next call, transient failures are retried with backoff, and the file appears under its name only after
/// its SHA-256 has been checked. A file already in place is used without touching the network once its hash has been checked
/// too; the check is recorded in <c>FILE.verified</c> (digest, size, modification time), so a file is hashed again only when
/// it changed.
/// </summary>
public static class Downloader
{
    static readonly HttpClient Http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// Makes sure <paramref name="destination"/> holds the file at <paramref name="url"/> and returns its path. With
    /// <paramref name="sha256Prefix"/>, the file's SHA-256 hex digest must start with it (torchvision's convention: the prefix
    /// is in the file name); a mismatch deletes the download and throws <see cref="BadInputException"/> showing both digests.
    /// A file already at <paramref name="destination"/> is hashed first (<paramref name="verifying"/> hears the progress) unless
    /// its <c>.verified</c> record still matches it; a cached file with the wrong hash is deleted and downloaded again, and when
    /// that download fails the error names the file and both digests.
    /// </summary>
    /// <exception cref="BadInputException">The server refused (404, 403…), the network is unreachable, the disk is full, or the hash is wrong.</exception>
    public static string Fetch(Uri url, string destination, string? sha256Prefix = null, DownloadOptions? options = null,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default, IProgress<DownloadProgress>? verifying = null)
    {
        options ??= new DownloadOptions();
        destination = Path.GetFullPath(destination);
        string? corrupt = null;
        if (File.Exists(destination))
        {
            if (sha256Prefix is null || IsVerified(destination, sha256Prefix))
                return destination;
            string cached = Sha256(destination, verifying);
            if (cached.StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
            {
                RecordVerified(destination, cached);
                return destination;
            }
            corrupt = $"the cached {destination} had SHA-256 {cached}, but it must start with {sha256Prefix}; it was deleted";
            File.Delete(destination);
            File.Delete(VerifiedRecord(destination));
        }
        try
        {
            return Download(url, destination, sha256Prefix, options, progress, cancel);
        }
        catch (BadInputException e) when (corrupt is not null)
        {
            throw new BadInputException(destination, $"{corrupt}, and downloading it again failed: {e.Problem}", e.Fix, e);
        }
    }

    /// <summary>Where the record of a checked file is kept: beside it, <c>FILE.verified</c>.</summary>
    public static string VerifiedRecord(string path) => path + ".verified";

    /// <summary>True when <paramref name="path"/>'s record says it was hashed with a digest starting with <paramref name="sha256Prefix"/> and it has not changed since (same size and modification time).</summary>
    public static bool IsVerified(string path, string sha256Prefix)
    {
        string record = VerifiedRecord(path);
        if (!File.Exists(record) || !File.Exists(path))
            return false;
        var fields = File.ReadAllText(record).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var info = new FileInfo(path);
        return fields.Length == 3
               && fields[0].StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase)
               && fields[1] == info.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)
               && fields[2] == info.LastWriteTimeUtc.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    static void RecordVerified(string path, string digest)
    {
        var info = new FileInfo(path);
        try
        {
            AtomicFile.WriteText(VerifiedRecord(path), $"{digest} {info.Length} {info.LastWriteTimeUtc.Ticks}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a read-only cache: the file stays good, it is only hashed again next time
        }
    }

    static string Download(Uri url, string destination, string? sha256Prefix, DownloadOptions options, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        string part = destination + ".part";
        Exception? last = null;
        for (int attempt = 1; attempt <= options.Attempts; attempt++)
        {
            try
            {
                Transfer(url, part, destination, options, progress, cancel);
                last = null;
                break;
            }
            catch (TransientException e)
            {
                last = e.InnerException ?? e;
                if (attempt < options.Attempts)
                    Thread.Sleep(options.Backoff * Math.Pow(2, attempt - 1));
            }
        }
        if (last is not null)
        {
            var kept = new FileInfo(part);
            string keptText = kept.Exists ? $"{kept.Length:N0} bytes are kept in {part}" : "nothing was kept";
            throw new BadInputException(url.ToString(), $"could not be downloaded after {options.Attempts} tries ({last.Message}); {keptText}",
                $"check the network and run the same command again (it resumes), or download the file by hand and put it at {destination}", last);
        }
        string? digest = null;
        if (sha256Prefix is not null)
        {
            digest = Sha256(part);
            if (!digest.StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(part);
                throw new BadInputException(url.ToString(), $"downloaded a file whose SHA-256 is {digest}, but it must start with {sha256Prefix}; the download was deleted",
                    "run the command again; if it repeats, the server or a proxy is changing the file");
            }
        }
        File.Move(part, destination, overwrite: false);
        if (digest is not null)
            RecordVerified(destination, digest);
        return destination;
    }

    /// <summary>The lower-case hex SHA-256 of a file; <paramref name="progress"/> hears the bytes hashed so far.</summary>
    public static string Sha256(string path, IProgress<DownloadProgress>? progress = null)
    {
        using var stream = File.OpenRead(path);
        if (progress is null)
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long done = 0, total = stream.Length;
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            done += n;
            if (clock.Elapsed - last > TimeSpan.FromMilliseconds(200) || done == total)
            {
                last = clock.Elapsed;
                progress.Report(new DownloadProgress(done, total, done / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
            }
        }
        if (total == 0)
            progress.Report(new DownloadProgress(0, 0, 0));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>One request: appends to <paramref name="part"/> from where it ends, or starts it over when the server ignores Range.</summary>
    static void Transfer(Uri url, string part, string destination, DownloadOptions options, IProgress<DownloadProgress>? progress, CancellationToken cancel)
    {
        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0)
            request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage response;
        using (var answer = CancellationTokenSource.CreateLinkedTokenSource(cancel))
        {
            answer.CancelAfter(options.Wait);
            try
            {
                response = Http.Send(request, HttpCompletionOption.ResponseHeadersRead, answer.Token);
            }
            catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError)
            {
                throw new BadInputException(url.ToString(), $"cannot be reached ({e.Message})",
                    $"without a network route to it, download the file elsewhere and put it at {destination}, or pass a reachable --url");
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
            {
                throw new TransientException(e);
            }
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                File.Delete(part); // what is kept is not a prefix of what the server has now
                throw new TransientException(new IOException("the server refused to resume; starting over"));
            }
            if ((int)response.StatusCode >= 500)
                throw new TransientException(new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}"));
            if (!response.IsSuccessStatusCode)
                throw new BadInputException(url.ToString(), $"answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}",
                    $"check the URL (pass another with --url), or download the file by hand and put it at {destination}");
            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            if (!resumed)
                have = 0;
            long? total = response.Content.Headers.ContentLength is { } length ? length + have : null;
            var clock = Stopwatch.StartNew();
            long received = 0;
            var lastReport = -TimeSpan.FromDays(1);
            try
            {
                using var body = response.Content.ReadAsStream(cancel);
                using var file = new FileStream(part, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None);
                var buffer = new byte[1 << 16];
                while (true)
                {
                    int n = ReadWithTimeout(body, buffer, options.Wait, cancel);
                    if (n == 0)
                        break;
                    file.Write(buffer, 0, n);
                    received += n;
                    if (clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(200))
                    {
                        lastReport = clock.Elapsed;
                        progress?.Report(new DownloadProgress(have + received, total, received / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
                    }
                }
                file.Flush(flushToDisk: true);
            }
            catch (IOException e) when (AtomicFile.IsDiskFull(e))
            {
                throw new BadInputException(part, $"could not be written: the disk is full ({(File.Exists(part) ? new FileInfo(part).Length : 0):N0} bytes kept)",
                    "free space (or choose another --cache / --out) and run the command again; it resumes");
            }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
            {
                throw new TransientException(e);
            }
            if (total is { } expected && have + received != expected)
                throw new TransientException(new IOException($"the connection closed after {have + received:N0} of {expected:N0} bytes"));
            progress?.Report(new DownloadProgress(have + received, total, received / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
        }
    }

    static int ReadWithTimeout(Stream body, byte[] buffer, TimeSpan wait, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(wait);
        return body.ReadAsync(buffer, timeout.Token).AsTask().GetAwaiter().GetResult();
    }

    sealed class TransientException(Exception inner) : Exception(inner.Message, inner);
}
