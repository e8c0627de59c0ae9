// MSBuild task: marks the GLIBCXX_3.4.32 version need of libLibTorchSharp.so as weak (VER_FLG_WEAK).
// Why by hand: no tool on a fresh Debian 12 + .NET SDK machine edits ELF version flags (patchelf cannot
// weaken a need), and TorchSharp 0.107's native library needs that version for one unrelocated symbol only.
// Idempotent: a file already patched is left byte-identical.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenGlibcxx : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            try
            {
                int patched = Patch(path);
                if (patched > 0) Log.LogMessage(MessageImportance.High, $"PluginGpt: weakened GLIBCXX_3.4.32 need in {path}");
            }
            catch (Exception e) { Log.LogError($"PluginGpt: cannot patch {path}: {e.Message}"); }
        }
        return !Log.HasLoggedErrors;
    }

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static int Patch(string path)
    {
        byte[] data = File.ReadAllBytes(path);
        if (data.Length < 64 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F' || data[4] != 2)
            throw new InvalidDataException("not an ELF64 file");
        ulong shoff = BitConverter.ToUInt64(data, 0x28);
        int shentsize = BitConverter.ToUInt16(data, 0x3A), shnum = BitConverter.ToUInt16(data, 0x3C);
        int count = 0;
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(data, sh + 4) != ShtGnuVerneed) continue;
            int off = (int)BitConverter.ToUInt64(data, sh + 0x18);
            int link = (int)BitConverter.ToUInt32(data, sh + 0x28);
            int entries = (int)BitConverter.ToUInt32(data, sh + 0x2C);
            int strtab = (int)BitConverter.ToUInt64(data, checked((int)shoff + link * shentsize) + 0x18);
            int vn = off;
            for (int e = 0; e < entries; e++)
            {
                int auxCount = BitConverter.ToUInt16(data, vn + 2);
                int va = vn + (int)BitConverter.ToUInt32(data, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BitConverter.ToUInt16(data, va + 4);
                    int name = strtab + (int)BitConverter.ToUInt32(data, va + 8);
                    int end = Array.IndexOf(data, (byte)0, name);
                    if (Encoding.ASCII.GetString(data, name, end - name) == "GLIBCXX_3.4.32" && (flags & VerFlgWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(data, va + 4);
                        count++;
                    }
                    va += (int)BitConverter.ToUInt32(data, va + 12);
                }
                uint next = BitConverter.ToUInt32(data, vn + 12);
                if (next == 0) break;
                vn += (int)next;
            }
        }
        if (count > 0)
        {
            // Write beside, then replace: a reader never sees a half-written library, and a build output hard-linked to NuGet's
            // copy (Directory.Build.props) is unlinked rather than written through.
            string tmp = path + ".patching";
            File.WriteAllBytes(tmp, data);
            File.Delete(path);
            File.Move(tmp, path);
        }
        return count;
    }
}
