#nullable enable
// This file is compiled twice: into SegHelpers (where SEGHELPERS is defined) and, by
// build/LibTorchSharpPatch.targets, as an MSBuild inline task against netstandard2.0.
// It therefore uses only netstandard2.0 APIs and no C# features that need newer runtimes.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace SegHelpers.Native
{
    /// <summary>What <see cref="ElfWeakReference.Weaken"/> did to an ELF image.</summary>
    public enum ElfPatchResult
    {
        /// <summary>The reference was strong and is now weak.</summary>
        Patched,
        /// <summary>The reference was already weak; nothing changed.</summary>
        AlreadyWeak,
        /// <summary>The image does not need that symbol version at all.</summary>
        NotReferenced,
    }

    /// <summary>One symbol version an ELF image needs from a library.</summary>
    public sealed class VersionNeed
    {
        /// <summary>A need of <paramref name="version"/> from <paramref name="file"/>.</summary>
        public VersionNeed(string file, string version, bool weak)
        {
            File = file;
            Version = version;
            Weak = weak;
        }

        /// <summary>The library's soname, e.g. <c>libstdc++.so.6</c>.</summary>
        public string File { get; }

        /// <summary>The version, e.g. <c>GLIBCXX_3.4.30</c>.</summary>
        public string Version { get; }

        /// <summary>True when the loader accepts a library without it.</summary>
        public bool Weak { get; }

        /// <summary>The undefined symbols bound to this version.</summary>
        public List<string> Symbols { get; } = new List<string>();
    }

    /// <summary>
    /// Turns one versioned undefined symbol of an ELF64 little-endian shared library into a weak
    /// reference: <c>STB_WEAK</c> binding in <c>.dynsym</c> and <c>VER_FLG_WEAK</c> on the matching
    /// <c>.gnu.version_r</c> entry. The dynamic loader then accepts a library that lacks the version.
    /// </summary>
    public static class ElfWeakReference
    {
        /// <summary>The anchor GCC 13 emits for &lt;iostream&gt; and never calls.</summary>
        public const string IostreamAnchorSymbol = "_ZSt21ios_base_library_initv";

        /// <summary>The libstdc++ symbol version that only <see cref="IostreamAnchorSymbol"/> needs in libLibTorchSharp.so.</summary>
        public const string IostreamAnchorVersion = "GLIBCXX_3.4.32";

        /// <summary><c>std::condition_variable::wait(std::unique_lock&lt;std::mutex&gt;&amp;)</c>, a real call of libLibTorchSharp.so.</summary>
        public const string ConditionVariableWaitSymbol = "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE";

        /// <summary>The version GCC 12 gave <see cref="ConditionVariableWaitSymbol"/>; GCC 11's libstdc++ (Amazon Linux 2023 before its 2025 update) lacks it.</summary>
        public const string ConditionVariableWaitVersion = "GLIBCXX_3.4.30";

        /// <summary>The version every libstdc++ since GCC 4.4 exports <see cref="ConditionVariableWaitSymbol"/> under (GCC 12 and later keep it for compatibility).</summary>
        public const string ConditionVariableWaitOldVersion = "GLIBCXX_3.4.11";

        const uint ShtDynsym = 11;
        const uint ShtGnuVerneed = 0x6ffffffe;
        const uint ShtGnuVersym = 0x6fffffff;
        const ushort VerFlgWeak = 0x2;
        const byte StbWeak = 2;
        const int SymSize = 24;

        /// <summary>
        /// Weakens the reference to <paramref name="symbol"/>@<paramref name="version"/> in place.
        /// Refuses (with <see cref="InvalidDataException"/>) when any other symbol also needs
        /// <paramref name="version"/>, because weakening the version would hide a real dependency.
        /// </summary>
        public static ElfPatchResult Weaken(byte[] elf, string symbol, string version)
        {
            var (sections, dynsym, versym, dynstr) = SymbolTables(elf);
            int auxOffset = FindNeed(elf, sections, dynstr, version, out ushort versionIndex);
            if (auxOffset < 0)
                return ElfPatchResult.NotReferenced;

            var others = new List<string>();
            var users = Bound(elf, dynsym, versym, dynstr, versionIndex, symbol, others);
            if (others.Count > 0)
                throw new InvalidDataException(
                    "symbols other than " + symbol + " need " + version + " (" + string.Join(", ", others) +
                    "); making the version weak would hide a real dependency");

            bool changed = false;
            ushort flags = U16(elf, auxOffset + 4);
            if ((flags & VerFlgWeak) == 0)
            {
                Put16(elf, auxOffset + 4, (ushort)(flags | VerFlgWeak));
                changed = true;
            }
            foreach (var (sym, _) in users)
            {
                byte info = elf[sym + 4];
                if (info >> 4 != StbWeak)
                {
                    elf[sym + 4] = (byte)((StbWeak << 4) | (info & 0xf));
                    changed = true;
                }
            }
            return changed ? ElfPatchResult.Patched : ElfPatchResult.AlreadyWeak;
        }

        /// <summary>
        /// Binds the undefined <paramref name="symbol"/>@<paramref name="fromVersion"/> to <paramref name="toVersion"/> instead
        /// (its <c>.gnu.version</c> entry), when the image already needs <paramref name="toVersion"/> from the same library.
        /// When no other symbol needs <paramref name="fromVersion"/> any more, that requirement is made weak, so the loader
        /// accepts a library without it. Other users of <paramref name="fromVersion"/> keep it required.
        /// </summary>
        public static ElfPatchResult Retarget(byte[] elf, string symbol, string fromVersion, string toVersion)
        {
            var (sections, dynsym, versym, dynstr) = SymbolTables(elf);
            int fromAux = FindNeed(elf, sections, dynstr, fromVersion, out ushort fromIndex);
            if (fromAux < 0)
                return ElfPatchResult.NotReferenced;
            if (FindNeed(elf, sections, dynstr, toVersion, out ushort toIndex) < 0)
                throw new InvalidDataException("the image does not need " + toVersion + ", so " + symbol + " cannot be bound to it");
            var others = new List<string>();
            var users = Bound(elf, dynsym, versym, dynstr, fromIndex, symbol, others);
            bool changed = users.Count > 0;
            foreach (var (_, entry) in users)
                Put16(elf, entry, toIndex);
            ushort flags = U16(elf, fromAux + 4);
            if (others.Count == 0 && (flags & VerFlgWeak) == 0)
            {
                Put16(elf, fromAux + 4, (ushort)(flags | VerFlgWeak));
                changed = true;
            }
            return changed ? ElfPatchResult.Patched : ElfPatchResult.AlreadyWeak;
        }

        /// <summary>
        /// Makes libLibTorchSharp.so load on an older libstdc++: weakens the iostream anchor and binds
        /// <see cref="ConditionVariableWaitSymbol"/> to <see cref="ConditionVariableWaitOldVersion"/>, in the file at
        /// <paramref name="path"/>. The new bytes go to a temporary file beside it that then replaces the original, so a crash
        /// never leaves a torn library and a copy hard-linked elsewhere (the NuGet cache) keeps its own bytes.
        /// </summary>
        public static ElfPatchResult PatchFile(string path)
        {
            byte[] bytes = File.ReadAllBytes(path);
            ElfPatchResult anchor = Weaken(bytes, IostreamAnchorSymbol, IostreamAnchorVersion);
            ElfPatchResult wait = Retarget(bytes, ConditionVariableWaitSymbol, ConditionVariableWaitVersion, ConditionVariableWaitOldVersion);
            ElfPatchResult result = anchor == ElfPatchResult.Patched || wait == ElfPatchResult.Patched ? ElfPatchResult.Patched
                : anchor == ElfPatchResult.AlreadyWeak || wait == ElfPatchResult.AlreadyWeak ? ElfPatchResult.AlreadyWeak
                : ElfPatchResult.NotReferenced;
            if (result != ElfPatchResult.Patched)
                return result;
            string temp = path + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp";
            try
            {
                File.WriteAllBytes(temp, bytes);
                File.Replace(temp, path, null);
            }
            finally
            {
                if (File.Exists(temp))
                    File.Delete(temp);
            }
            return result;
        }

        /// <summary>
        /// The libstdc++ that this process has loaded (read from /proc/self/maps), or the usual system
        /// location when none is loaded; null where there is none (not Linux).
        /// </summary>
        public static string? LoadedLibStdCxx()
        {
            const string maps = "/proc/self/maps";
            if (File.Exists(maps))
            {
                foreach (string line in File.ReadAllLines(maps))
                {
                    int slash = line.IndexOf('/');
                    if (slash >= 0 && line.IndexOf("libstdc++.so", slash, StringComparison.Ordinal) >= 0)
                        return line.Substring(slash).Trim();
                }
            }
            foreach (string candidate in new[] { "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
                if (File.Exists(candidate))
                    return candidate;
            return null;
        }

        /// <summary>True when <paramref name="libStdCxx"/> defines <see cref="IostreamAnchorVersion"/>, i.e. no patch is needed.</summary>
        public static bool Provides(string libStdCxx, string version)
        {
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            byte[] hay = File.ReadAllBytes(libStdCxx);
            for (int i = 0; i + needle.Length <= hay.Length; i++)
            {
                if (hay[i] != needle[0] || (i > 0 && hay[i - 1] != 0))
                    continue;
                int k = 1;
                while (k < needle.Length && hay[i + k] == needle[k])
                    k++;
                if (k == needle.Length)
                    return true;
            }
            return false;
        }

        /// <summary>True when this process's libstdc++ lacks <see cref="IostreamAnchorVersion"/> (Linux only).</summary>
        public static bool SystemNeedsPatch()
        {
            string? lib = LoadedLibStdCxx();
            return lib != null && !Provides(lib, IostreamAnchorVersion);
        }

        /// <summary>
        /// The symbol versions an ELF image needs, per library (<c>.gnu.version_r</c>), each with the undefined symbols bound to
        /// it and whether it is weak (the loader then accepts a library without it).
        /// </summary>
        public static List<VersionNeed> Needs(byte[] elf)
        {
            CheckHeader(elf);
            var sections = ReadSections(elf);
            var needs = new List<VersionNeed>();
            var verneed = FindOptional(sections, ShtGnuVerneed);
            var dynsym = FindOptional(sections, ShtDynsym);
            var versym = FindOptional(sections, ShtGnuVersym);
            if (verneed == null || dynsym == null || versym == null)
                return needs;
            var dynstr = sections[(int)dynsym.Link];
            var byIndex = new Dictionary<ushort, VersionNeed>();
            long entry = (long)verneed.Offset;
            for (uint i = 0; i < verneed.Info; i++)
            {
                string file = Str(elf, dynstr, U32(elf, entry + 4));
                ushort count = U16(elf, entry + 2);
                long aux = entry + U32(elf, entry + 8);
                for (int j = 0; j < count; j++)
                {
                    var need = new VersionNeed(file, Str(elf, dynstr, U32(elf, aux + 8)), (U16(elf, aux + 4) & VerFlgWeak) != 0);
                    needs.Add(need);
                    byIndex[(ushort)(U16(elf, aux + 6) & 0x7fff)] = need;
                    aux += U32(elf, aux + 12);
                }
                entry += U32(elf, entry + 12);
            }
            long symbolCount = (long)(dynsym.Size / SymSize);
            for (long i = 0; i < symbolCount; i++)
            {
                long sym = (long)dynsym.Offset + SymSize * i;
                if (U16(elf, sym + 6) == 0 && byIndex.TryGetValue((ushort)(U16(elf, (long)versym.Offset + 2 * i) & 0x7fff), out var need))
                    need.Symbols.Add(Str(elf, dynstr, U32(elf, sym)));
            }
            return needs;
        }

        /// <summary>
        /// The undefined references to <paramref name="symbol"/> bound to version <paramref name="index"/>, as their
        /// <c>.dynsym</c> and <c>.gnu.version</c> entry offsets; the names of the other symbols bound to it go to <paramref name="others"/>.
        /// </summary>
        static List<(long Symbol, long Version)> Bound(byte[] elf, Section dynsym, Section versym, Section dynstr, ushort index, string symbol, List<string> others)
        {
            var users = new List<(long Symbol, long Version)>();
            long symbolCount = (long)(dynsym.Size / SymSize);
            for (long i = 0; i < symbolCount; i++)
            {
                long entry = (long)versym.Offset + 2 * i;
                if ((U16(elf, entry) & 0x7fff) != index)
                    continue;
                long sym = (long)dynsym.Offset + SymSize * i;
                string name = Str(elf, dynstr, U32(elf, sym));
                if (name == symbol && U16(elf, sym + 6) == 0)
                    users.Add((sym, entry));
                else
                    others.Add(name);
            }
            return users;
        }

        static void CheckHeader(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        }

        /// <summary>The offset of the <c>.gnu.version_r</c> entry for <paramref name="version"/> and its index, or -1.</summary>
        static int FindNeed(byte[] elf, List<Section> sections, Section dynstr, string version, out ushort index)
        {
            index = 0;
            var verneed = FindOptional(sections, ShtGnuVerneed);
            if (verneed == null)
                return -1;
            long entry = (long)verneed.Offset;
            for (uint i = 0; i < verneed.Info; i++)
            {
                ushort count = U16(elf, entry + 2);
                long aux = entry + U32(elf, entry + 8);
                for (int j = 0; j < count; j++)
                {
                    if (Str(elf, dynstr, U32(elf, aux + 8)) == version)
                    {
                        index = (ushort)(U16(elf, aux + 6) & 0x7fff);
                        return (int)aux;
                    }
                    aux += U32(elf, aux + 12);
                }
                entry += U32(elf, entry + 12);
            }
            return -1;
        }

        sealed class Section
        {
            public uint Type;
            public ulong Offset;
            public ulong Size;
            public uint Link;
            public uint Info;
        }

        /// <summary>The section headers and the dynamic symbol, symbol version and dynamic string tables that Weaken and Retarget patch.</summary>
        static (List<Section> Sections, Section Dynsym, Section Versym, Section Dynstr) SymbolTables(byte[] elf)
        {
            CheckHeader(elf);
            var sections = ReadSections(elf);
            var dynsym = Find(sections, ShtDynsym, ".dynsym");
            return (sections, dynsym, Find(sections, ShtGnuVersym, ".gnu.version"), sections[(int)dynsym.Link]);
        }

        static List<Section> ReadSections(byte[] elf)
        {
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3a);
            ushort shnum = U16(elf, 0x3c);
            if (shoff == 0 || shnum == 0 || shoff + (long)shentsize * shnum > elf.Length)
                throw new InvalidDataException("the ELF file has no usable section headers");
            var list = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)shentsize * i;
                var s = new Section
                {
                    Type = U32(elf, h + 4),
                    Offset = U64(elf, h + 24),
                    Size = U64(elf, h + 32),
                    Link = U32(elf, h + 40),
                    Info = U32(elf, h + 44),
                };
                if (s.Type != 8 /* SHT_NOBITS */ && (long)(s.Offset + s.Size) > elf.Length)
                    throw new InvalidDataException("section " + i + " lies outside the file (truncated?)");
                list.Add(s);
            }
            return list;
        }

        static Section Find(List<Section> sections, uint type, string name)
        {
            Section? s = FindOptional(sections, type);
            if (s == null)
                throw new InvalidDataException("the ELF file has no " + name + " section");
            return s;
        }

        static Section? FindOptional(List<Section> sections, uint type)
        {
            foreach (var s in sections)
                if (s.Type == type)
                    return s;
            return null;
        }

        static string Str(byte[] elf, Section strtab, uint offset)
        {
            long start = (long)strtab.Offset + offset;
            long end = start;
            while (end < elf.Length && elf[end] != 0)
                end++;
            return Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }

        static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;
        static void Put16(byte[] b, long o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }
    }
}

#if !SEGHELPERS
/// <summary>MSBuild inline task: weakens the iostream anchor in each given libLibTorchSharp.so when this machine's libstdc++ needs it.</summary>
public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    /// <summary>Library files to patch; missing ones are skipped.</summary>
    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = new Microsoft.Build.Framework.ITaskItem[0];

    /// <summary>When false, a file that cannot be patched (read-only NuGet cache) is a message instead of an error.</summary>
    public bool Required { get; set; } = true;

    /// <inheritdoc />
    public override bool Execute()
    {
        if (!SegHelpers.Native.ElfWeakReference.SystemNeedsPatch())
            return true;
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!System.IO.File.Exists(path))
                continue;
            try
            {
                var result = SegHelpers.Native.ElfWeakReference.PatchFile(path);
                if (result == SegHelpers.Native.ElfPatchResult.Patched)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        "Patched " + path + " for this system's libstdc++, which lacks " + SegHelpers.Native.ElfWeakReference.IostreamAnchorVersion + ": " +
                        SegHelpers.Native.ElfWeakReference.IostreamAnchorSymbol + " made weak, " + SegHelpers.Native.ElfWeakReference.ConditionVariableWaitSymbol + " bound to " +
                        SegHelpers.Native.ElfWeakReference.ConditionVariableWaitOldVersion);
            }
            catch (System.Exception e)
            {
                string text = "Cannot patch " + path + " for this system's libstdc++ (" + e.Message + "). TorchSharp will not load from it. Fix: make the file writable, or delete it and build again.";
                if (Required)
                    Log.LogError(text);
                else
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, text);
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif
