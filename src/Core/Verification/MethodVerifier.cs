using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Verification;

/// <summary>One conformance check: what was checked, whether it held, and the measured figure behind it.</summary>
public sealed record VerificationCheck(string Name, bool Passed, string Detail);

/// <summary>
/// What <c>plugingpt verify</c> checks of an adaptation method on a small random decoder, as the host will use it: modules on
/// the model's device and in its module tree, gradients reaching exactly the method's tensors, a training step that changes
/// nothing else, a claimed no-op at init, save → fresh attach → load reproducing the logits, merge equal to unmerged, the KV
/// cache equal to full recompute, and dispose restoring the base model and freeing every tensor the method made. A check
/// that throws fails with the exception's first line; the others still run. Bad options are the user's and propagate.
/// </summary>
public static class MethodVerifier
{
    const double Tolerance = 1e-5;

    sealed class Checks : List<VerificationCheck>
    {
        /// <summary>Runs one check; an exception (other than the user's bad options or a cancellation) is its failure.</summary>
        public bool Run(string name, Func<(bool Passed, string Detail)> check)
        {
            try
            {
                var (passed, detail) = check();
                Add(new VerificationCheck(name, passed, detail));
                return passed;
            }
            catch (Exception e) when (e is not UserInputException and not OperationCanceledException)
            {
                Add(new VerificationCheck(name, false, $"threw {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}"));
                return false;
            }
        }
    }

    /// <param name="computeType">null for fp32; <c>BFloat16</c> runs every check inside an <see cref="Autocast"/> region, with
    /// merge and KV-cache tolerances of bf16 (3 % of the largest logit instead of 0.01 %).</param>
    /// <param name="expectedTrainable">when given, the trainable count on <paramref name="config"/> must equal it (checked on the
    /// meta device: shapes only, so a GPT-2-sized count costs nothing).</param>
    public static IReadOnlyList<VerificationCheck> Run(IAdaptationMethod method, JsonElement options, GptConfig config,
        ScalarType? computeType = null, int seed = 0, long? expectedTrainable = null)
    {
        using var region = Autocast.Use(computeType);
        double mergeTolerance = computeType is null ? 1e-4 : 3e-2;
        var checks = new Checks();
        using var dir = new TemporaryFolder();
        using var model = Fresh(config, seed);
        var ids = Ids(config, seed);
        var baseLogits = Logits(model, ids);

        IAttachedMethod? attached = null;
        try
        {
            if (!checks.Run("attach", () =>
                {
                    attached = MethodInstaller.Attach(method, model, options);
                    return (true, $"{attached.Trainable.Count} trainable tensors, all in the model's module tree");
                }))
                return checks;
            var a = attached!;
            checks.Run("modules on the model's device", () => OnDevice(method, options, config));
            if (expectedTrainable is { } expected)
                checks.Run("trainable count", () => TrainableCount(method, options, config) is var count && count == expected
                    ? (true, $"{Thousands(count)} trainable values, as expected")
                    : (false, $"{Thousands(count)} trainable values, expected {Thousands(expected)}"));
            if (a.IsIdentityAtInit)
                checks.Run("no-op at init", () => MaxDiff(Logits(model, ids), baseLogits) is var d && d <= Tolerance
                    ? (true, $"max |Δlogit| = {d:G3} (claimed identity)") : (false, $"max |Δlogit| = {d:G3} (claimed identity)"));
            if (a.Trainable.Count > 0)
            {
                checks.Run("gradients", () => Gradients(model, a, ids));
                checks.Run("a training step changes only the trainable tensors", () => StepTouchesOnlyTrainable(model, a, ids));
            }

            // Perturb the method's tensors so that a save that loses anything shows.
            Perturb(a.Trainable, seed);
            var adapted = Logits(model, ids);
            checks.Run("save → fresh attach → load", () => SaveAndReload(method, options, config, seed, a, dir.Path, ids, adapted));
            if (a.CanMerge) checks.Run("merge == unmerged", () => MergeEqualsUnmerged(model, a, ids, adapted, mergeTolerance));
            checks.Run("KV cache == recompute", () =>
            {
                double d = CacheDiff(model, ids) / Math.Max(1, MaxAbs(adapted));
                return (d <= mergeTolerance, $"last-position relative max |Δlogit| = {d:G3}");
            });
        }
        finally { attached?.Dispose(); }
        Detach(method, options, config, seed, checks);
        return checks;
    }

    /// <summary>Saved, then loaded into the method attached afresh to a new model, the logits must be the same bit for bit.</summary>
    static (bool, string) SaveAndReload(IAdaptationMethod method, JsonElement options, GptConfig config, int seed,
        IAttachedMethod attached, string dir, long[,] ids, float[] adapted)
    {
        attached.Save(dir);
        using var other = Fresh(config, seed);
        var reloaded = MethodInstaller.Attach(method, other, options);
        try
        {
            reloaded.Load(dir);
            double diff = MaxDiff(Logits(other, ids), adapted);
            return (diff == 0, $"max |Δlogit| = {diff:G3}");
        }
        finally { reloaded.Dispose(); }
    }

    /// <summary>Merged, the logits equal the unmerged ones within <paramref name="tolerance"/>; unmerged again they come back, and
    /// no tensor is left behind (a delta built outside a dispose scope leaks per merge).</summary>
    static (bool, string) MergeEqualsUnmerged(Decoder model, IAttachedMethod attached, long[,] ids, float[] adapted, double tolerance)
    {
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        attached.Merge();
        double merged = MaxDiff(Logits(model, ids), adapted) / Math.Max(1, MaxAbs(adapted));
        attached.Unmerge();
        long leaked = DisposeScopeManager.Statistics.ThreadTotalLiveCount - live;
        double back = MaxDiff(Logits(model, ids), adapted);
        return (merged <= tolerance && back <= tolerance && leaked == 0,
            $"merged: relative max |Δlogit| = {merged:G3}; unmerged again: {back:G3}; " +
            (leaked == 0 ? "no tensor left behind" : $"{leaked} tensors left behind"));
    }

    /// <summary>Attached to a model on the meta device (shapes only), every tensor in the tree must be there too.</summary>
    static (bool, string) OnDevice(IAdaptationMethod method, JsonElement options, GptConfig config)
    {
        using var model = new Decoder(config, torch.META);
        using var attached = MethodInstaller.Attach(method, model, options);
        var elsewhere = model.named_parameters().Where(p => p.parameter.device.type != DeviceType.META).Select(p => p.name).ToList();
        return (elsewhere.Count == 0, elsewhere.Count == 0 ? "every tensor on the model's device (checked on meta)"
            : $"not on the model's device: {string.Join(", ", elsewhere.Take(3))}");
    }

    static string Thousands(long n) => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Trainable values (each tensor once) when attached to a model of <paramref name="config"/> on the meta device.</summary>
    static long TrainableCount(IAdaptationMethod method, JsonElement options, GptConfig config)
    {
        using var model = new Decoder(config, torch.META);
        using var attached = MethodInstaller.Attach(method, model, options);
        return ParameterSet.Distinct(attached.Trainable).Sum(p => p.Parameter.numel());
    }

    /// <summary>On a fresh model: attach, run a training step, change the method's own tensors, dispose; the base output and the
    /// live tensor count must come back.</summary>
    static void Detach(IAdaptationMethod method, JsonElement options, GptConfig config, int seed, Checks checks)
    {
        using var model = Fresh(config, seed);
        var ids = Ids(config, seed);
        var baseLogits = Logits(model, ids);
        var body = model.parameters().Select(p => p.Handle).ToHashSet();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var own = ((IDecoder)model).ModulePaths().ToDictionary(p => p, p => model.GetModule(p));
        checks.Run("dispose restores the base", () =>
        {
            var attached = MethodInstaller.Attach(method, model, options);
            try
            {
                // A forward and backward first, so state a method makes lazily is counted too.
                if (attached.Trainable.Count > 0) Gradients(model, attached, ids);
                // The body's own tensors stay: dispose cannot undo training them.
                Perturb(attached.Trainable.Where(p => !body.Contains(p.Parameter.Handle)), seed);
            }
            finally { attached.Dispose(); }
            double restored = MaxDiff(Logits(model, ids), baseLogits);
            var replaced = own.Where(o => !ReferenceEquals(model.GetModule(o.Key), o.Value)).Select(o => o.Key).ToList();
            int hooks = HooksLeft(model);
            return (restored <= Tolerance && model.AttachedModules.Count == 0 && replaced.Count == 0 && hooks == 0,
                $"max |Δlogit| = {restored:G3}; attached modules left: {model.AttachedModules.Count}; " +
                $"replaced modules left: {(replaced.Count == 0 ? "0" : string.Join(", ", replaced.Take(3)))}; hooks left: {hooks}");
        });
        long leaked = DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveBefore;
        checks.Run("frees what it made", () => (leaked == 0,
            leaked == 0 ? "live tensor count back to where it was" : $"{leaked} tensors still alive after dispose"));
    }

#pragma warning disable CS0618 // the obsolete hook point 4 must be left empty too
    static int HooksLeft(Decoder model) =>
        (model.InputEmbeddingHook is null ? 0 : 1) + (model.KeyValuePrefix is null ? 0 : 1) + (model.BlockOutputHook is null ? 0 : 1);
#pragma warning restore CS0618

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
        return Autocast.Float(model.Logits(torch.tensor(ids, device: model.Device))).cpu().data<float>().ToArray();
    }

    static (bool, string) Gradients(Decoder model, IAttachedMethod attached, long[,] ids)
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
        bool ok = missing.Count == 0 && stray.Count == 0;
        return (ok, ok ? $"all {attached.Trainable.Count} trainable tensors receive a gradient, no frozen one does"
            : (missing.Count > 0 ? $"no gradient: {string.Join(", ", missing.Take(3))}; " : "")
              + (stray.Count > 0 ? $"frozen but given a gradient: {string.Join(", ", stray.Take(3))}" : ""));
    }

    /// <summary>One AdamW step over the method's tensors (as the host trains them); every other tensor of the model must be
    /// unchanged.</summary>
    static (bool, string) StepTouchesOnlyTrainable(Decoder model, IAttachedMethod attached, long[,] ids)
    {
        var own = attached.Trainable.Select(p => p.Parameter.Handle).ToHashSet();
        var others = model.named_parameters().Where(p => !own.Contains(p.parameter.Handle)).ToList();
        var before = others.Select(p => Values(p.parameter)).ToList();
        var tensors = attached.Trainable
            .Select(p => new TrainableTensor(p.Name, p.Parameter, attached.SettingsFor(p.Name, p.Parameter))).ToList();
        using (var optimizer = new OptimizerStep(tensors, new LearningRateSchedule(1e-3, 1e-3, 0, 1), 0.01, gradClip: 1.0))
        using (var scope = torch.NewDisposeScope())
        {
            model.train();
            var x = torch.tensor(ids, device: model.Device);
            model.LanguageModelLoss(x, x).backward();
            optimizer.Step(0);
            model.eval();
        }
        foreach (var p in model.parameters()) p.grad = null;
        var changed = others.Where((p, i) => !Values(p.parameter).SequenceEqual(before[i])).Select(p => p.name).ToList();
        return (changed.Count == 0, changed.Count == 0 ? $"{others.Count} other tensors unchanged"
            : $"changed without being trainable: {string.Join(", ", changed.Take(3))}");
    }

    static float[] Values(TorchSharp.Modules.Parameter p)
    {
        using var scope = torch.NewDisposeScope();
        return p.detach().cpu().to(torch.ScalarType.Float32).data<float>().ToArray();
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
        using var cache = new KvCache(model.Config.Layers, model.Config.Context);
        model.Logits(x[.., ..(int)(t - 1)], cache);
        var stepped = model.Logits(x[.., (int)(t - 1)..], cache)[.., -1];
        return Autocast.Float(full - stepped).abs().max().item<float>();
    }

    static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    static double MaxAbs(float[] a) => a.Max(x => (double)Math.Abs(x));

    sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("plugingpt-verify-").FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
