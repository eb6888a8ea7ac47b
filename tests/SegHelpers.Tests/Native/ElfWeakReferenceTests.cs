using System.Runtime.InteropServices;
using SegHelpers.Native;

namespace SegHelpers.Tests.Native;

public class ElfWeakReferenceTests
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "elf");

    static string CopyPair(TempDir dir, string consumer)
    {
        File.Copy(Path.Combine(Fixtures, "libanchor_old.so"), dir["libanchor.so"]);
        string target = dir[consumer];
        File.Copy(Path.Combine(Fixtures, consumer), target);
        return target;
    }

    [Fact]
    public unsafe void Weakening_makes_a_library_load_against_a_provider_without_the_version()
    {
        using var before = new TempDir();
        Assert.False(NativeLibrary.TryLoad(CopyPair(before, "libconsumer.so"), out _));

        using var after = new TempDir();
        string patched = CopyPair(after, "libconsumer.so");
        Assert.Equal(ElfPatchResult.Patched, ElfWeakReference.PatchFile(patched));

        IntPtr handle = NativeLibrary.Load(patched);
        var answer = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "answer");
        Assert.Equal(42, answer());
    }

    [Fact]
    public void Patch_changes_exactly_the_binding_and_the_version_flag_and_is_idempotent()
    {
        using var dir = new TempDir();
        string path = CopyPair(dir, "libconsumer.so");
        byte[] original = File.ReadAllBytes(path);

        Assert.Equal(ElfPatchResult.Patched, ElfWeakReference.PatchFile(path));
        byte[] once = File.ReadAllBytes(path);
        Assert.Equal(ElfPatchResult.AlreadyWeak, ElfWeakReference.PatchFile(path));
        byte[] twice = File.ReadAllBytes(path);

        Assert.Equal(once, twice);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != once[i]).ToList();
        Assert.Equal(2, changed.Count);
        Assert.Contains(changed, i => original[i] == 0x12 && once[i] == 0x22); // STB_GLOBAL|STT_FUNC -> STB_WEAK|STT_FUNC
        Assert.Contains(changed, i => original[i] == 0 && once[i] == 2);       // vna_flags |= VER_FLG_WEAK
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Refuses_when_another_symbol_needs_the_same_version_and_leaves_the_file_alone()
    {
        using var dir = new TempDir();
        string path = CopyPair(dir, "libconsumer_two.so");
        byte[] original = File.ReadAllBytes(path);

        var error = Assert.Throws<InvalidDataException>(() => ElfWeakReference.PatchFile(path));

        Assert.Contains("also_new", error.Message);
        Assert.Equal(original, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_library_without_the_version_is_not_touched()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Fixtures, "libanchor_old.so"));
        byte[] copy = (byte[])bytes.Clone();

        Assert.Equal(ElfPatchResult.NotReferenced,
            ElfWeakReference.Weaken(copy, ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
        Assert.Equal(bytes, copy);
    }

    [Fact]
    public void Non_elf_and_truncated_files_are_rejected_with_a_reason()
    {
        var notElf = Assert.Throws<InvalidDataException>(() =>
            ElfWeakReference.Weaken(new byte[100], ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
        Assert.Contains("not an ELF", notElf.Message);

        byte[] whole = File.ReadAllBytes(Path.Combine(Fixtures, "libconsumer.so"));
        var truncated = Assert.Throws<InvalidDataException>(() =>
            ElfWeakReference.Weaken(whole[..(whole.Length / 2)], ElfWeakReference.IostreamAnchorSymbol, ElfWeakReference.IostreamAnchorVersion));
        Assert.Contains("section", truncated.Message);
    }

    [Fact]
    public void Detects_whether_a_libstdcxx_defines_a_version()
    {
        using var dir = new TempDir();
        string lib = dir["libfake.so"];
        File.WriteAllBytes(lib, [.. "\0GLIBCXX_3.4.30\0GLIBCXX_3.4.31\0xGLIBCXX_3.4.32\0"u8]);

        Assert.True(ElfWeakReference.Provides(lib, "GLIBCXX_3.4.31"));
        Assert.False(ElfWeakReference.Provides(lib, "GLIBCXX_3.4.32")); // only as a suffix of another string
        Assert.False(ElfWeakReference.Provides(lib, "GLIBCXX_3.4.3"));
    }
}
