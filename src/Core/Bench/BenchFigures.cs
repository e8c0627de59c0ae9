namespace PluginGpt.Core.Bench;

/// <summary>
/// Each benchmark's results as the named figures <c>plugingpt bench</c> prints, records in the results database and
/// <c>bench compare</c> reads (rounded; ratios between precisions measured in the same run).
/// </summary>
public static class BenchFigures
{
    const double MiB = 1024 * 1024;

    public static Dictionary<string, object> Training(string preset, string activation, int batch, int block, bool checkpointing,
        IReadOnlyList<Benchmarks.TrainingResult> results)
    {
        var figures = new Dictionary<string, object>
        {
            ["preset"] = preset,
            ["activation"] = activation,
            ["parameters"] = results[0].Parameters,
            ["batch"] = $"{batch} x {block}",
            ["gradient_checkpointing"] = checkpointing,
        };
        foreach (var r in results)
        {
            figures[$"{r.Precision}_matmul_peak_gflops"] = Math.Round(r.PeakGFlops, 1);
            figures[$"{r.Precision}_train_tokens_per_s"] = Math.Round(r.TokensPerSecond);
            figures[$"{r.Precision}_train_gflops"] = Math.Round(r.GFlops, 1);
            figures[$"{r.Precision}_utilisation_of_peak"] = Math.Round(r.Utilisation, 3);
            figures[$"{r.Precision}_step_s"] = Math.Round(r.StepSeconds, 3);
            // The first precision's is the clean figure: a later one may reuse memory the allocator kept from the first.
            if (r.MemoryBytes is { } bytes) figures[$"{r.Precision}_train_memory_mib"] = Math.Round(bytes / MiB, 1);
        }
        if (results.Count == 2)
            figures[$"{results[1].Precision}_over_{results[0].Precision}_tokens_per_s"] =
                Math.Round(results[1].TokensPerSecond / results[0].TokensPerSecond, 2);
        return figures;
    }

    public static Dictionary<string, object> Generation(string preset, int newTokens,
        IReadOnlyList<(string Precision, Benchmarks.GenerationResult Result)> results)
    {
        var figures = new Dictionary<string, object> { ["preset"] = preset, ["new_tokens"] = newTokens };
        foreach (var (name, r) in results)
        {
            figures[$"{name}_cached_tokens_per_s"] = Math.Round(r.CachedTokensPerSecond, 1);
            figures[$"{name}_uncached_tokens_per_s"] = Math.Round(r.UncachedTokensPerSecond, 1);
            figures[$"{name}_kv_cache_speedup"] = Math.Round(r.Speedup, 2);
        }
        if (results.Count == 2)
            figures[$"{results[1].Precision}_over_{results[0].Precision}_cached_tokens_per_s"] =
                Math.Round(results[1].Result.CachedTokensPerSecond / results[0].Result.CachedTokensPerSecond, 2);
        return figures;
    }

    public static Dictionary<string, object> Profile(StepProfile p)
    {
        double ops = p.ForwardOps.Sum(o => o.Seconds);
        var figures = new Dictionary<string, object>
        {
            ["precision"] = p.Precision,
            ["step_ms"] = Math.Round((p.ForwardSeconds + p.BackwardSeconds + p.OptimizerSeconds) * 1000, 1),
            ["forward_ms"] = Math.Round(p.ForwardSeconds * 1000, 1),
            ["backward_ms"] = Math.Round(p.BackwardSeconds * 1000, 1),
            ["optimizer_ms"] = Math.Round(p.OptimizerSeconds * 1000, 1),
        };
        foreach (var (op, seconds) in p.ForwardOps) figures[$"forward: {op}"] = $"{seconds * 1000:F2} ms ({seconds / ops:P0} of the ops)";
        foreach (var (op, seconds) in p.BackwardOps) figures[$"backward: {op}"] = $"{seconds * 1000:F2} ms";
        return figures;
    }

    public static Dictionary<string, object> Hooks(string preset, string precision, HookOverhead.Result r) => new()
    {
        ["preset"] = preset,
        ["precision"] = precision,
        ["step_ms_without_hooks"] = Math.Round(r.AbsentStepSeconds * 1000, 1),
        ["step_ms_with_empty_hooks"] = Math.Round(r.PresentStepSeconds * 1000, 1),
        ["overhead"] = $"{r.Overhead:P1}",
    };

    public static Dictionary<string, object> Method(string preset, string method, string precision, MethodBenchResult r)
    {
        var figures = new Dictionary<string, object>
        {
            ["preset"] = preset,
            ["method"] = method,
            ["precision"] = precision,
            ["trainable_parameters"] = r.TrainableParameters,
            ["total_parameters"] = r.TotalParameters,
            ["base_forward_ms"] = Math.Round(r.BaseForwardSeconds * 1000, 2),
            ["method_forward_ms"] = Math.Round(r.MethodForwardSeconds * 1000, 2),
            ["method_forward_over_base"] = Math.Round(r.MethodForwardSeconds / r.BaseForwardSeconds, 3),
        };
        if (r.MergedForwardSeconds is { } merged)
        {
            figures["merged_forward_ms"] = Math.Round(merged * 1000, 2);
            figures["merged_forward_over_base"] = Math.Round(merged / r.BaseForwardSeconds, 3);
        }
        figures["full_step_ms"] = Math.Round(r.FullStepSeconds * 1000, 1);
        figures["full_step_weight_casts"] = r.FullStepWeightCasts;
        if (!double.IsNaN(r.MethodStepSeconds))
        {
            figures["method_step_ms"] = Math.Round(r.MethodStepSeconds * 1000, 1);
            figures["method_step_over_full"] = Math.Round(r.MethodStepSeconds / r.FullStepSeconds, 3);
            figures["method_step_weight_casts"] = r.MethodStepWeightCasts;
        }
        if (r.FullStepMemoryBytes is { } fullBytes) figures["full_step_memory_mib"] = Math.Round(fullBytes / MiB, 1);
        if (r.MethodStepMemoryBytes is { } methodBytes) figures["method_step_memory_mib"] = Math.Round(methodBytes / MiB, 1);
        if (r.FullStepMemoryBytes is > 0 && r.MethodStepMemoryBytes is { } m)
            figures["method_memory_over_full"] = Math.Round(m / (double)r.FullStepMemoryBytes.Value, 3);
        return figures;
    }
}
