using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw bytes).
/// Written here rather than taken from TorchSharp.PyBridge because every failure must name the file and key
/// (truncated data, offsets past the end, shape/dtype disagreeing with the byte count), and writes must be atomic.
/// </summary>
public static class Safetensors
{
    static readonly Dictionary<string, (ScalarType Type, int Size)> Dtypes = new()
    {
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["F64"] = (ScalarType.Float64, 8),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>One tensor's entry in a header.</summary>
    /// <param name="Dtype">the format's type name (<c>F32</c>, <c>BF16</c>, <c>I64</c>, …).</param>
    /// <param name="Shape">the tensor's dimensions.</param>
    /// <param name="Begin">where its bytes start in the data section (after the header).</param>
    /// <param name="End">where they end, exclusive.</param>
    public sealed record Entry(string Dtype, long[] Shape, long Begin, long End);

    /// <summary>The header's tensors (in file order) and its <c>__metadata__</c>.</summary>
    public static (IReadOnlyDictionary<string, Entry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart)
        ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    static (IReadOnlyDictionary<string, Entry>, IReadOnlyDictionary<string, string>, long) ReadHeader(Stream stream, string path)
    {
        var lengthBytes = new byte[8];
        if (stream.Read(lengthBytes, 0, 8) != 8) throw new CheckpointException($"{path}: truncated (no header length)");
        long headerLength = BitConverter.ToInt64(lengthBytes, 0);
        if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > stream.Length)
            throw new CheckpointException($"{path}: corrupt header length {headerLength} for a file of {stream.Length} bytes");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try { header = JsonNode.Parse(Encoding.UTF8.GetString(headerBytes))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        { throw new CheckpointException($"{path}: header is not valid JSON ({e.Message})"); }

        long dataStart = 8 + headerLength, dataLength = stream.Length - dataStart;
        var entries = new Dictionary<string, Entry>();
        var metadata = new Dictionary<string, string>();
        foreach (var (key, node) in header)
        {
            if (key == "__metadata__")
            {
                if (node is not JsonObject meta) throw new CheckpointException($"{path}: __metadata__ is not an object");
                foreach (var (mk, mv) in meta) metadata[mk] = mv?.ToString() ?? "";
                continue;
            }
            Entry entry;
            try
            {
                var o = node!.AsObject();
                var offsets = o["data_offsets"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray();
                entry = new Entry(o["dtype"]!.GetValue<string>(), o["shape"]!.AsArray().Select(n => n!.GetValue<long>()).ToArray(),
                    offsets[0], offsets[1]);
            }
            catch (Exception e) when (e is not CheckpointException)
            { throw new CheckpointException($"{path}: tensor '{key}' has a malformed header entry"); }
            if (!Dtypes.TryGetValue(entry.Dtype, out var dt))
                throw new CheckpointException($"{path}: tensor '{key}' has unsupported dtype {entry.Dtype}");
            if (entry.Shape.Any(d => d < 0)) throw new CheckpointException($"{path}: tensor '{key}' has a negative dimension");
            long expected;
            try { expected = checked(entry.Shape.Aggregate(1L, (a, b) => a * b) * dt.Size); }
            catch (OverflowException) { throw new CheckpointException($"{path}: tensor '{key}' has an impossible shape"); }
            if (entry.End - entry.Begin != expected || entry.Begin < 0)
                throw new CheckpointException($"{path}: tensor '{key}' has {entry.End - entry.Begin} bytes " +
                    $"but shape [{string.Join(", ", entry.Shape)}] {entry.Dtype} needs {expected}");
            if (entry.End > dataLength)
                throw new CheckpointException(
                    $"{path}: truncated: tensor '{key}' ends at byte {entry.End} of a {dataLength}-byte data section");
            entries[key] = entry;
        }
        CheckLayout(path, entries, dataLength);
        return (entries, metadata, dataStart);
    }

    /// <summary>As Hugging Face's safetensors validates: the tensors, in offset order, tile the data section exactly — no
    /// overlap (two tensors sharing bytes), no gap, nothing after the last.</summary>
    static void CheckLayout(string path, Dictionary<string, Entry> entries, long dataLength)
    {
        long next = 0;
        foreach (var (key, e) in entries.OrderBy(p => p.Value.Begin).ThenBy(p => p.Value.End))
        {
            if (e.Begin != next)
                throw new CheckpointException($"{path}: tensor '{key}' starts at byte {e.Begin}, expected {next} " +
                    $"({(e.Begin < next ? "it overlaps the tensor before it" : "a gap before it")})");
            next = e.End;
        }
        if (next != dataLength)
            throw new CheckpointException($"{path}: the tensors cover {next} bytes of a {dataLength}-byte data section");
    }

    /// <summary>Loads every tensor (on the CPU, in the file's dtype).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        using var stream = File.OpenRead(path);
        var (entries, _, dataStart) = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, e) in entries)
        {
            var t = torch.empty(e.Shape, Dtypes[e.Dtype].Type);
            stream.Position = dataStart + e.Begin;
            try { t.ReadBytesFromStream(stream, 1 << 16); }
            catch (EndOfStreamException) { t.Dispose(); throw new CheckpointException($"{path}: truncated while reading tensor '{key}'"); }
            result[key] = t;
        }
        return result;
    }

    /// <summary>Writes tensors (any device, made contiguous on the CPU) to a temp file and renames it over
    /// <paramref name="path"/>.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var scope = torch.NewDisposeScope();   // the CPU copies below (and every intermediate wrapper) are freed on return
        var list = tensors.Select(kv => (kv.Key, Tensor: kv.Value.detach().cpu().contiguous())).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)JsonValue.Create(m.Value))));
        long offset = 0;
        foreach (var (key, t) in list)
        {
            var name = Dtypes.First(d => d.Value.Type == t.dtype).Key;
            long size = t.numel() * Dtypes[name].Size;
            header[key] = new JsonObject
            {
                ["dtype"] = name,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;   // the format aligns the data section to 8 bytes with spaces
        headerBytes = [.. headerBytes, .. Enumerable.Repeat((byte)' ', padding)];
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((long)headerBytes.Length));
            stream.Write(headerBytes);
            foreach (var (_, t) in list) t.WriteBytesToStream(stream, 1 << 16);
        });
    }
}
