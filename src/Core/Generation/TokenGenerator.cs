using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Generation;

/// <summary>Autoregressive decoding with an optional KV cache; yields token ids as they are chosen.</summary>
public static class TokenGenerator
{
    public static IEnumerable<int> Generate(Decoder model, IReadOnlyList<int> prompt, GenerationOptions options)
    {
        options.Validate();
        if (prompt.Count == 0) throw new OptionsException("the prompt must hold at least one token");
        bool wasTraining = model.training;
        model.eval();
        using var span = Telemetry.Source.StartActivity("generate");
        span?.SetTag("prompt_tokens", prompt.Count);
        span?.SetTag("kv_cache", options.UseKvCache);
        var total = System.Diagnostics.Stopwatch.StartNew();
        var tags = new System.Diagnostics.TagList { { "source", options.Source }, { "kv_cache", options.UseKvCache } };
        int generated = 0;
        var device = model.Device;
        var rng = new torch.Generator(options.Seed, device);
        var tokens = new List<int>(prompt);
        // Positions left for tokens: virtual tokens a method prepends (prompt tuning) take the rest.
        int context = ((IDecoder)model).UsableContext;
        KvCache? cache = options.UseKvCache ? new KvCache(model.Config.Layers, model.Config.Context) : null;
        // Weights are cast to bf16 once per generation, not once per token; entered per token (this is an iterator).
        using var casts = Autocast.NewCastCache();
        // Whether the last cached step used the kernel's helper threads (its products on Autocast's matrix–vector kernel, or its
        // attention in one call).
        bool kernelRan = false;
        try
        {
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                int next;
                var latency = System.Diagnostics.Stopwatch.StartNew();
                // Past the context the window slides, positions shift, and cached keys no longer apply.
                if (cache is not null && tokens.Count > context) { cache.Dispose(); cache = null; }
                bool cachedStep = cache is { Length: > 0 };
                long kernelCalls = Autocast.MatrixVectorProducts + OneQueryAttention.Calls;
                using (var scope = torch.NewDisposeScope())
                using (torch.no_grad())
                using (casts.Enter())
                // A cached bf16 step's products run on the kernel's own threads; LibTorch's OpenMP workers, spinning after each of
                // the step's small ops, would take their cores (a cached gpt2-small token: 26–37 → 19–24 ms on a 2-core Xeon).
                using (kernelRan && cachedStep ? TorchThreadLimit.To(1) : null)
                {
                    var window = cachedStep ? tokens.Skip(tokens.Count - 1) : tokens.Skip(Math.Max(0, tokens.Count - context));
                    var input = torch.tensor(window.Select(t => (long)t).ToArray(), device: device).unsqueeze(0);
                    var logits = model.Logits(input, cache)[0, -1].to(ScalarType.Float32);
                    next = Pick(logits, tokens, options, rng);
                }
                if (cachedStep) kernelRan = Autocast.MatrixVectorProducts + OneQueryAttention.Calls > kernelCalls;
                Telemetry.TokenLatency.Record(latency.Elapsed.TotalSeconds, tags);
                if (options.StopTokens.Contains(next)) yield break;
                tokens.Add(next);
                generated++;
                yield return next;
            }
        }
        finally
        {
            // The time the caller spent between tokens counts too: this is the rate a reader of the stream sees.
            if (generated > 0) Telemetry.GenerateTokensPerSecond.Record(generated / total.Elapsed.TotalSeconds, tags);
            span?.SetTag("new_tokens", generated);
            cache?.Dispose();
            rng.Dispose();
            model.train(wasTraining);
        }
    }

    static int Pick(Tensor logits, IReadOnlyCollection<int> seen, GenerationOptions o, torch.Generator rng)
    {
        if (o.VocabularyLimit > 0 && o.VocabularyLimit < logits.shape[0])
            logits = logits.index_fill(0, torch.arange(o.VocabularyLimit, logits.shape[0], device: logits.device), double.NegativeInfinity);
        logits = LogitsProcessing.ApplyRepetitionPenalty(logits, seen, o.RepetitionPenalty);
        if (o.Greedy) return (int)logits.argmax().item<long>();
        logits = LogitsProcessing.TopK(logits / o.Temperature, o.TopK);
        logits = LogitsProcessing.TopP(logits, o.TopP);
        return (int)logits.softmax(0).multinomial(1, generator: rng).item<long>();
    }
}
