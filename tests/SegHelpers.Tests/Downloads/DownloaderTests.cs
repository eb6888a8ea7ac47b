using System.Diagnostics;
using System.Security.Cryptography;
using SegHelpers.Downloads;
using SegHelpers.Model.Weights;

namespace SegHelpers.Tests.Downloads;

public class DownloaderTests
{
    static readonly DownloadOptions Quick = new(Attempts: 3, FirstBackoff: TimeSpan.FromMilliseconds(10), Timeout: TimeSpan.FromSeconds(10));

    /// <summary>Bytes and the torchvision-style name that carries their SHA-256 prefix.</summary>
    static (byte[] Bytes, string Name) WeightsFile(int size = 300_000, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return (bytes, $"vgg16-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..8]}.pth");
    }

    [Fact]
    public void The_weights_are_downloaded_verified_and_then_reused_without_touching_the_network()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile();
        server.Serve(name, new Served(bytes));

        string file = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick);
        string again = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick);

        Assert.Equal(dir[name], file);
        Assert.Equal(file, again);
        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal(1, server.Requests(name));
        Assert.Equal([name, name + ".verified"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_hash_that_does_not_match_the_name_deletes_the_download_and_shows_both_digests()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, _) = WeightsFile();
        server.Serve("vgg16-397923af.pth", new Served(bytes));

        var error = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir.Path, server.Url("vgg16-397923af.pth"), options: Quick));

        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(bytes)), error.Message);
        Assert.Contains("must start with 397923af", error.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_connection_dropped_mid_body_is_resumed_with_a_range_request()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile();
        server.Serve(name, new Served(bytes, CutAfter: 120_000));

        string file = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick);

        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal(2, server.Requests(name));
        var range = Assert.Single(server.Ranges);
        Assert.InRange(long.Parse(range["Range: bytes=".Length..].TrimEnd('-')), 1, 120_000);
    }

    [Fact]
    public void An_interrupted_download_keeps_its_part_and_the_next_call_resumes_it()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile();
        server.Serve(name, new Served(bytes, CutAfter: 100_000));

        var first = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick with { Attempts = 1 }));
        long kept = new FileInfo(dir[name + ".part"]).Length;
        string file = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick);

        Assert.Contains("run the same command again (it resumes)", first.Message);
        Assert.False(File.Exists(dir[name]) && kept == 0);
        Assert.InRange(kept, 1, 100_000);
        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal($"Range: bytes={kept}-", Assert.Single(server.Ranges));
    }

    [Theory]
    [InlineData(404)]
    [InlineData(403)]
    public void A_refusal_is_not_retried_and_names_the_url(int status)
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        server.Serve("vgg16-397923af.pth", new Served([], Status: status));
        var url = server.Url("vgg16-397923af.pth");

        var error = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir.Path, url, options: Quick));

        Assert.StartsWith($"{url}: answered HTTP {status}", error.Message);
        Assert.Contains(dir["vgg16-397923af.pth"], error.Fix);
        Assert.Equal(1, server.Requests("vgg16-397923af.pth"));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Server_errors_are_retried_with_backoff_then_reported()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        server.Serve("vgg16-397923af.pth", new Served([], Status: 503));

        var backoff = new DownloadOptions(Attempts: 3, FirstBackoff: TimeSpan.FromMilliseconds(300), Timeout: TimeSpan.FromSeconds(10));

        var error = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir.Path, server.Url("vgg16-397923af.pth"), options: backoff));

        Assert.Equal(3, server.Requests("vgg16-397923af.pth"));
        Assert.Contains("after 3 tries (HTTP 503", error.Message);
        // the waits between tries are the first backoff, then twice it
        var times = server.RequestTimes("vgg16-397923af.pth");
        Assert.InRange((times[1] - times[0]).TotalMilliseconds, 300, 3000);
        Assert.InRange((times[2] - times[1]).TotalMilliseconds, 600, 6000);
    }

    [Fact]
    public void No_network_says_where_to_put_the_file_by_hand()
    {
        using var dir = new TempDir();
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var error = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir.Path, new Uri($"http://127.0.0.1:{port}/vgg16-397923af.pth"), options: Quick));

        Assert.Contains("cannot be reached", error.Message);
        Assert.Contains($"put it at {dir["vgg16-397923af.pth"]}", error.Fix);
    }

    [Fact]
    public void A_good_cached_file_is_hashed_once_then_trusted_until_it_changes()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile();
        File.WriteAllBytes(dir[name], bytes);
        var hashed = new List<DownloadProgress>();

        string file = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick, verifying: new Recorder(hashed));

        Assert.Equal(dir[name], file);
        Assert.Equal(0, server.Requests(name));
        Assert.Equal(bytes.Length, hashed[^1].Bytes);
        Assert.True(Downloader.IsVerified(file, name[6..14]));
        int before = hashed.Count;
        ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick, verifying: new Recorder(hashed));
        Assert.Equal(before, hashed.Count); // the record matched: not hashed again

        var written = File.GetLastWriteTimeUtc(file);
        using (var stream = File.Open(file, FileMode.Append))
            stream.WriteByte(0);
        File.SetLastWriteTimeUtc(file, written); // another size with the recorded time: the size alone says it changed
        Assert.False(Downloader.IsVerified(file, name[6..14]));
        File.WriteAllBytes(file, bytes);

        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(-5)); // touched: its record no longer holds
        Assert.False(Downloader.IsVerified(file, name[6..14]));
        ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick, verifying: new Recorder(hashed));
        Assert.True(hashed.Count > before);
        Assert.Equal(0, server.Requests(name));
    }

    [Fact]
    public void A_corrupt_cached_file_is_replaced_by_a_fresh_download()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile();
        server.Serve(name, new Served(bytes));
        File.WriteAllBytes(dir[name], new byte[1_000_000]);

        string file = ImageNetVgg16.Fetch(dir.Path, server.Url(name), options: Quick);

        Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal(1, server.Requests(name));
        Assert.True(Downloader.IsVerified(file, name[6..14]));
    }

    sealed class Recorder(List<DownloadProgress> seen) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => seen.Add(value);
    }

    [Fact]
    public void The_cache_is_pytorchs_unless_told_otherwise()
    {
        var none = new Dictionary<string, string>();
        var torchHome = new Dictionary<string, string> { ["TORCH_HOME"] = "/th" };
        var both = new Dictionary<string, string> { ["TORCH_HOME"] = "/th", ["SEG_WEIGHTS_CACHE"] = "/seg" };

        Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "torch", "hub", "checkpoints"),
            ImageNetVgg16.CacheFolder(null, none.GetValueOrDefault));
        Assert.Equal("/th/hub/checkpoints", ImageNetVgg16.CacheFolder(null, torchHome.GetValueOrDefault));
        Assert.Equal("/seg", ImageNetVgg16.CacheFolder(null, both.GetValueOrDefault));
        Assert.Equal("/x", ImageNetVgg16.CacheFolder("/x", both.GetValueOrDefault));
    }

    [SmallDiskFact]
    public void A_full_disk_keeps_what_was_written_and_says_so()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name) = WeightsFile(size: 2_000_000);
        server.Serve(name, new Served(bytes));
        Directory.CreateDirectory(dir["small"]);
        using (var mounting = Process.Start("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir["small"]]))
        {
            mounting.WaitForExit();
            Assert.Equal(0, mounting.ExitCode);
        }
        try
        {
            var error = Assert.Throws<BadInputException>(() => ImageNetVgg16.Fetch(dir["small"], server.Url(name), options: Quick));

            Assert.Contains("the disk is full", error.Message);
            Assert.False(File.Exists(Path.Combine(dir["small"], name)), "nothing may look complete");
            // what was written stays, so that the next call (with space) resumes instead of starting over
            var part = new FileInfo(Path.Combine(dir["small"], name + ".part"));
            Assert.True(part.Exists && part.Length > 100_000, $"the .part file is kept ({(part.Exists ? part.Length : 0)} bytes)");
            Assert.Contains($"{part.Length:N0} bytes kept", error.Message);
            Assert.Equal(bytes.AsSpan(0, (int)part.Length).ToArray(), File.ReadAllBytes(part.FullName));
        }
        finally
        {
            Process.Start("umount", [dir["small"]]).WaitForExit();
        }
    }
}
