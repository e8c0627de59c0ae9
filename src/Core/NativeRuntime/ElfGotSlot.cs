using System.Buffers.Binary;
using System.Text;

namespace PluginGpt.Core.NativeRuntime;

/// <summary>
/// Where a shared library (64-bit little-endian ELF) keeps the address it calls a dynamic symbol through: the offset, from
/// the library's load address, of the global-offset-table slot a PLT or GOT relocation fills for that symbol. Read from the
/// section headers, the relocation sections and the dynamic symbol table only (the file itself may be hundreds of MB).
/// Hand-written: no .NET library reads ELF relocations, and this needs forty lines of the format.
/// </summary>
public static class ElfGotSlot
{
    const uint Rela = 4, DynamicSymbols = 11;
    const uint JumpSlot = 7, GlobalData = 6;

    /// <summary>For each of the symbols called through a slot: the slot's offset from the first loadable segment's address
    /// (where the library's first page is mapped). Symbols not called through a slot (or a file that is no 64-bit ELF) are
    /// left out.</summary>
    public static IReadOnlyDictionary<string, ulong> Find(string libraryPath, IReadOnlyCollection<string> symbolNames)
    {
        var found = new Dictionary<string, ulong>();
        using var file = File.OpenRead(libraryPath);
        var header = Read(file, 0, 64);
        if (header[0] != 0x7F || header[1] != 'E' || header[2] != 'L' || header[3] != 'F' || header[4] != 2 || header[5] != 1)
            return found;
        ulong programOffset = U64(header, 0x20), sectionOffset = U64(header, 0x28);
        int programSize = U16(header, 0x36), programCount = U16(header, 0x38);
        int sectionSize = U16(header, 0x3A), sectionCount = U16(header, 0x3C);
        var sections = Enumerable.Range(0, sectionCount)
            .Select(i => Read(file, (long)sectionOffset + i * sectionSize, 64)).ToArray();
        ulong firstSegment = Enumerable.Range(0, programCount)
            .Select(i => Read(file, (long)programOffset + i * programSize, 56))
            .Where(p => U32(p, 0) == 1).Select(p => U64(p, 0x10)).FirstOrDefault();
        foreach (var relocations in sections.Where(s => U32(s, 4) == Rela))
        {
            var symbols = sections[U32(relocations, 0x28)];
            if (U32(symbols, 4) != DynamicSymbols) continue;
            var names = sections[U32(symbols, 0x28)];
            var symbolTable = Read(file, (long)U64(symbols, 0x18), (int)U64(symbols, 0x20));
            var nameTable = Read(file, (long)U64(names, 0x18), (int)U64(names, 0x20));
            var entries = Read(file, (long)U64(relocations, 0x18), (int)U64(relocations, 0x20));
            for (int at = 0; at + 24 <= entries.Length; at += 24)
            {
                ulong info = U64(entries, at + 8);
                if ((uint)info is not (JumpSlot or GlobalData)) continue;
                int nameAt = (int)U32(symbolTable, (int)(info >> 32) * 24);
                var name = NameAt(nameTable, nameAt);
                if (symbolNames.Contains(name)) found.TryAdd(name, U64(entries, at) - firstSegment);
            }
        }
        return found;
    }

    static string NameAt(byte[] table, int at)
    {
        int end = Array.IndexOf(table, (byte)0, at);
        return Encoding.ASCII.GetString(table, at, (end < 0 ? table.Length : end) - at);
    }

    static byte[] Read(FileStream file, long offset, int length)
    {
        var buffer = new byte[length];
        file.Position = offset;
        file.ReadExactly(buffer);
        return buffer;
    }

    static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
}
