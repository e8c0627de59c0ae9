using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Core.Verification;

/// <summary>One conformance check: what was checked, whether it held, and the measured figure behind it.</summary>
public sealed record VerificationCheck(string Name, bool Passed, string Detail);

/// <summary>
/// What <c>plugingpt verify</c> checks of an adaptation method on a small random decoder, as the host will use it: the host's
/// freezing leaves exactly the method's tensors trainable, they live in the module tree and receive gradients, a claimed
/// no-op at init holds, save → fresh attach → load reproduces the logits, merge equals unmerged, the KV cache equals full
/// recompute, and dispose restores the base model and frees every tensor the method made.
/// </summary>
public static class MethodVerifier
{
    const double Tolerance = 1e-5, MergeTolerance = 1e-4;

    public static IReadOnlyList<VerificationCheck> Run(IAdaptationMethod method, JsonElement options, GptConfig config, int seed = 0)
    {
        var checks = new List<VerificationCheck>();
        void Check(string name, bool passed, string detail) => checks.Add(new VerificationCheck(name, passed, detail));
        using var dir = new TemporaryFolder();
        using var model = Fresh(config, seed);
        var ids = Ids(config, seed);
        var baseLogits = Logits(model, ids);

        IAttachedMethod attached;
        try { attached = MethodInstaller.Attach(method, model, options); }
        catch (Exception e) when (e is not UserInputException)
        {
            Check("attach", false, $"{e.GetType().Name}: {e.Message}");
            return checks;
        }
        Check("attach", true, $"{attached.Trainable.Count} trainable tensors, all in the model's module tree");

        long trainable = attached.Trainable.Sum(p => p.Parameter.numel());
        long requiringGrad = ParameterSet.Count(model.parameters().Where(p => p.requires_grad));
        Check("trainable = requires_grad", trainable == requiringGrad, $"method reports {trainable:N0}, {requiringGrad:N0} require grad");

        if (attached.IsIdentityAtInit)
        {
            double diff = MaxDiff(Logits(model, ids), baseLogits);
            Check("no-op at init", diff <= Tolerance, $"max |Δlogit| = {diff:G3} (claimed identity)");
        }

        if (attached.Trainable.Count > 0) Check("gradients", Gradients(model, attached, ids, out var detail), detail);

        // Perturb the method's tensors so that a save that loses anything shows.
        Perturb(attached.Trainable, seed);
        var adapted = Logits(model, ids);
        attached.Save(dir.Path);
        using (var other = Fresh(config, seed))
        {
            var reloaded = MethodInstaller.Attach(method, other, options);
            reloaded.Load(dir.Path);
            double diff = MaxDiff(Logits(other, ids), adapted);
            Check("save → fresh attach → load", diff == 0, $"max |Δlogit| = {diff:G3}");
            reloaded.Dispose();
        }

        if (attached.CanMerge)
        {
            attached.Merge();
            double merged = MaxDiff(Logits(model, ids), adapted) / Math.Max(1, MaxAbs(adapted));
            attached.Unmerge();
            double back = MaxDiff(Logits(model, ids), adapted);
            Check("merge == unmerged", merged <= MergeTolerance && back <= MergeTolerance,
                $"merged: relative max |Δlogit| = {merged:G3}; unmerged again: {back:G3}");
        }

        double cache = CacheDiff(model, ids);
        Check("KV cache == recompute", cache <= MergeTolerance, $"last-position max |Δlogit| = {cache:G3}");

        attached.Dispose();
        Detach(method, options, config, seed, Check);
        return checks;
    }

    /// <summary>On a fresh model: attach, change the method's own tensors, dispose; the base output and the live tensor count must come
    /// back.</summary>
    static void Detach(IAdaptationMethod method, JsonElement options, GptConfig config, int seed, Action<string, bool, string> check)
    {
        using var model = Fresh(config, seed);
        var ids = Ids(config, seed);
        var baseLogits = Logits(model, ids);
        var body = model.parameters().Select(p => p.Handle).ToHashSet();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var attached = MethodInstaller.Attach(method, model, options);
        // the body's own tensors stay: dispose cannot undo training them
        Perturb(attached.Trainable.Where(p => !body.Contains(p.Parameter.Handle)), seed);
        attached.Dispose();
        double restored = MaxDiff(Logits(model, ids), baseLogits);
        check("dispose restores the base", restored <= Tolerance && model.AttachedModules.Count == 0,
            $"max |Δlogit| = {restored:G3}; attached modules left: {model.AttachedModules.Count}");
        long leaked = DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveBefore;
        check("frees what it made", leaked == 0,
            leaked == 0 ? "live tensor count back to where it was" : $"{leaked} tensors still alive after dispose");
    }

    static Decoder Fresh(GptConfig config, int seed)
    {
        torch.manual_seed(seed);
        var model = new Decoder(config);
        model.eval();
        return model;
    }

    static long[,] Ids(GptConfig config, int seed)
    {
        var rng = new Random(seed);
        int length = Math.Min(12, config.Context / 2);
        var ids = new long[2, length];
        for (int b = 0; b < 2; b++) for (int t = 0; t < length; t++) ids[b, t] = rng.Next(config.Vocab);
        return ids;
    }

    /// <summary>Logits of every position, as numbers (no tensor outlives the call).</summary>
    static float[] Logits(Decoder model, long[,] ids)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.eval();
        return model.Logits(torch.tensor(ids, device: model.Device)).cpu().data<float>().ToArray();
    }

    static bool Gradients(Decoder model, IAttachedMethod attached, long[,] ids, out string detail)
    {
        using var scope = torch.NewDisposeScope();
        model.train();
        var x = torch.tensor(ids, device: model.Device);
        model.LanguageModelLoss(x, x).backward();
        var own = attached.Trainable.Select(p => p.Parameter.Handle).ToHashSet();
        var missing = attached.Trainable.Where(p => p.Parameter.grad is null).Select(p => p.Name).ToList();
        var stray = model.named_parameters().Where(p => !own.Contains(p.parameter.Handle) && p.parameter.grad is not null)
            .Select(p => p.name).ToList();
        foreach (var p in model.parameters()) p.grad = null;
        model.eval();
        detail = missing.Count == 0 && stray.Count == 0
            ? $"all {attached.Trainable.Count} trainable tensors receive a gradient, no frozen one does"
            : (missing.Count > 0 ? $"no gradient: {string.Join(", ", missing.Take(3))}; " : "")
                + (stray.Count > 0 ? $"frozen but given a gradient: {string.Join(", ", stray.Take(3))}" : "");
        return missing.Count == 0 && stray.Count == 0;
    }

    static void Perturb(IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter)> tensors, int seed)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        torch.manual_seed(seed + 1);
        foreach (var (_, p) in tensors) p.add_(torch.randn_like(p) * 0.05);
    }

    /// <summary>Max difference between the last position's logits computed with the KV cache (prefix, then one step) and in one
    /// pass.</summary>
    static double CacheDiff(Decoder model, long[,] ids)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.eval();
        var x = torch.tensor(ids, device: model.Device);
        long t = x.shape[1];
        var full = model.Logits(x)[.., -1];
        using var cache = new KvCache(model.Config.Layers);
        model.Logits(x[.., ..(int)(t - 1)], cache);
        var stepped = model.Logits(x[.., (int)(t - 1)..], cache)[.., -1];
        return (full - stepped).abs().max().item<float>();
    }

    static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    static double MaxAbs(float[] a) => a.Max(x => (double)Math.Abs(x));

    sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("plugingpt-verify-").FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
