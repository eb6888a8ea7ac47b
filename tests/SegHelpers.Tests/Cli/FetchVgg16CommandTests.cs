using System.Security.Cryptography;
using SegHelpers.Downloads;
using SegHelpers.Tests.Downloads;

namespace SegHelpers.Tests.Cli;

/// <summary><c>seg fetch vgg16</c> through the binary: it reports a cached file as good only after checking it.</summary>
public class FetchVgg16CommandTests
{
    static (byte[] Bytes, string Name, string Digest) WeightsFile()
    {
        var bytes = new byte[400_000];
        new Random(5).NextBytes(bytes);
        string digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
        return (bytes, $"vgg16-{digest[..8]}.pth", digest);
    }

    [Fact]
    public void A_corrupt_cache_is_deleted_and_downloaded_again()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name, _) = WeightsFile();
        server.Serve(name, new Served(bytes));
        var junk = new byte[1_000_000];
        new Random(9).NextBytes(junk);
        Directory.CreateDirectory(dir["cache"]);
        File.WriteAllBytes(dir[$"cache/{name}"], junk);

        var (exit, stdout, stderr) = Seg.Run("fetch", "vgg16", "--cache", dir["cache"], "--url", server.Url(name).ToString());

        Assert.True(exit == 0, stderr);
        Assert.Equal(bytes, File.ReadAllBytes(dir[$"cache/{name}"]));
        Assert.Equal(1, server.Requests(name));
        Assert.Contains("verifying the cached vgg16: 1.0 of 1.0 MB", stderr);
        Assert.Contains("SHA-256 checked", stdout);
        Assert.True(Downloader.IsVerified(dir[$"cache/{name}"], name[6..14]));
    }

    [Fact]
    public void A_corrupt_cache_offline_exits_two_naming_the_file_and_both_digests()
    {
        using var dir = new TempDir();
        var (_, name, _) = WeightsFile();
        var junk = new byte[1_000_000];
        new Random(9).NextBytes(junk);
        Directory.CreateDirectory(dir["cache"]);
        File.WriteAllBytes(dir[$"cache/{name}"], junk);
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var (exit, stdout, stderr) = Seg.Run("fetch", "vgg16", "--cache", dir["cache"], "--url", $"http://127.0.0.1:{port}/{name}");

        Assert.Equal(2, exit);
        string line = stderr.Split('\n').Single(l => l.StartsWith("error: "));
        Assert.Contains(dir[$"cache/{name}"], line);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(junk)), line);
        Assert.Contains($"must start with {name[6..14]}", line);
        Assert.DoesNotContain("SHA-256 checked", stdout);
    }

    [Fact]
    public void A_good_cache_is_checked_once_and_then_trusted()
    {
        using var server = new LoopbackServer();
        using var dir = new TempDir();
        var (bytes, name, digest) = WeightsFile();
        Directory.CreateDirectory(dir["cache"]);
        File.WriteAllBytes(dir[$"cache/{name}"], bytes);

        var first = Seg.Run("fetch", "vgg16", "--cache", dir["cache"], "--url", server.Url(name).ToString());
        var second = Seg.Run("fetch", "vgg16", "--cache", dir["cache"], "--url", server.Url(name).ToString());

        Assert.Equal((0, 0), (first.Exit, second.Exit));
        Assert.Contains("verifying the cached vgg16", first.Err);
        Assert.DoesNotContain("verifying", second.Err);
        Assert.Equal(0, server.Requests(name));
        Assert.StartsWith(digest, File.ReadAllText(dir[$"cache/{name}.verified"]));
    }
}
