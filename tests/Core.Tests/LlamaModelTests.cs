using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>
/// The Llama family against PyTorch (Fixtures/llama/make_golden.py: Hugging Face's Llama semantics written from scratch, GQA with an
/// untied head and MHA with a tied one) and against llama2.c's run.c on the real stories260K model.
/// </summary>
public class LlamaModelTests
{
    static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", "llama", .. parts]);
    static Tensor Ids(long[][] rows) => torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    [Theory]
    [InlineData("gqa-untied")]
    [InlineData("mha-tied")]
    public void Loss_logits_and_greedy_tokens_equal_PyTorchs(string name)
    {
        var dir = Fixture(name);
        var golden = GoldenFixture.From(dir);
        using var model = GptCheckpoint.Load(dir);
        Assert.Equal(golden.TotalParameters, ParameterSet.Count(model.parameters()));
        model.eval();
        using (torch.no_grad())
        {
            var input = Ids(golden.InputIds);
            var logits = model.Logits(input);
            Assert.Equal(golden.Loss, model.LanguageModelLoss(input, Ids(golden.Targets)).item<float>(), 1e-4);
            var first = logits[0, 0, ..8].data<float>().ToArray();
            var last = logits[1, -1, ^8..].data<float>().ToArray();
            for (int i = 0; i < 8; i++)
            {
                Assert.Equal(golden.LogitsFirstRowFirst8[i], first[i], 1e-4);
                Assert.Equal(golden.LogitsLastRowLast8[i], last[i], 1e-4);
            }
            Assert.Equal(golden.LogitsAbsSum, logits.abs().sum().item<float>(), 1e-5 * golden.LogitsAbsSum);
        }
        foreach (var cache in new[] { true, false })
            Assert.Equal(golden.GreedyNext16, TokenGenerator.Generate(model, golden.GreedyPrompt,
                new GenerationOptions { Greedy = true, MaxNewTokens = 16, UseKvCache = cache }).ToArray());
    }

    [Fact]
    public void Kv_cache_logits_equal_full_recompute_under_grouped_query_attention()
    {
        using var model = GptCheckpoint.Load(Fixture("gqa-untied"));
        model.eval();
        using var _ = torch.no_grad();
        var ids = torch.tensor(new long[] { 5, 17, 3, 90, 44, 12, 7, 61, 33, 2 }).unsqueeze(0);
        var full = model.Logits(ids);
        using var cache = new KvCache(model.Config.Layers);
        var steps = Enumerable.Range(6, 4).Select(t => model.Logits(ids[.., t..(t + 1)], cache));
        var stepwise = torch.cat([model.Logits(ids[.., ..6], cache), .. steps], 1);
        Assert.True((full - stepwise).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Saving_writes_hugging_face_names_back_and_the_tensors_byte_for_byte()
    {
        using var temp = new TempDir();
        foreach (var name in new[] { "gqa-untied", "mha-tied" })
        {
            using var model = GptCheckpoint.Load(Fixture(name));
            var output = temp[name];
            GptCheckpoint.Save(model, output);
            var original = Safetensors.ReadHeader(Path.Combine(Fixture(name), GptCheckpoint.WeightsFile)).Entries;
            var written = Safetensors.ReadHeader(Path.Combine(output, GptCheckpoint.WeightsFile)).Entries;
            Assert.Equal(original.Keys.Order(), written.Keys.Order());
            var before = Safetensors.Load(Path.Combine(Fixture(name), GptCheckpoint.WeightsFile));
            var after = Safetensors.Load(Path.Combine(output, GptCheckpoint.WeightsFile));
            foreach (var key in original.Keys)
                Assert.Equal(before[key].bytes.ToArray(), after[key].bytes.ToArray());
            var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, GptCheckpoint.ConfigFile))).RootElement;
            Assert.Equal("llama", config.GetProperty("model_type").GetString());
            Assert.Equal(model.Config.KeyValueHeads, config.GetProperty("num_key_value_heads").GetInt32());
            Assert.Equal(model.Config, GptCheckpoint.ReadConfig(output));
        }
    }

    [Theory]
    [InlineData("bfloat16")]
    [InlineData("float16")]
    public void A_sharded_half_precision_checkpoint_loads_to_the_logits_of_its_fp32_twin(string dtype)
    {
        using var temp = new TempDir();
        using var model = GptCheckpoint.Load(Fixture("gqa-untied"));
        var type = dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float16;
        GptCheckpoint.Save(model, temp["half"], new GptCheckpoint.SaveOptions(MaxShardBytes: 8_000, Dtype: type));
        Assert.True(GptCheckpoint.WeightFiles(temp["half"]).Count >= 3);
        // The twin: the same weights rounded to half precision once, saved as one fp32 file.
        using (torch.no_grad()) foreach (var p in model.parameters()) p.copy_(p.to(type).to(ScalarType.Float32));
        GptCheckpoint.Save(model, temp["fp32"]);
        using var half = GptCheckpoint.Load(temp["half"]);
        using var twin = GptCheckpoint.Load(temp["fp32"]);
        Assert.Equal(dtype, JsonDocument.Parse(File.ReadAllText(Path.Combine(temp["half"], "config.json"))).RootElement
            .GetProperty("torch_dtype").GetString());
        using var _ = torch.no_grad();
        var ids = torch.tensor(new long[] { 5, 17, 3, 90, 44, 12 }).unsqueeze(0);
        Assert.Equal(0f, (half.Logits(ids) - twin.Logits(ids)).abs().max().item<float>());
    }

    [Fact]
    public void Stories260K_from_its_hugging_face_folder_has_260032_parameters_and_generates_what_run_c_generates()
    {
        using var model = GptCheckpoint.Load(Fixture("stories260K", "hf"));
        Assert.Equal(260_032, ParameterSet.Count(model.parameters()));
        using var reference = JsonDocument.Parse(File.ReadAllText(Fixture("stories260K-runc.json")));
        foreach (var run in reference.RootElement.GetProperty("prompts").EnumerateArray())
        {
            var prompt = run.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = run.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
            bool stopped = run.GetProperty("stopped_on_bos").GetBoolean();
            if (stopped) expected.RemoveAt(expected.Count - 1);   // run.c stops on BOS; our stop token is not emitted
            var generated = TokenGenerator.Generate(model, prompt, new GenerationOptions
            {
                Greedy = true,
                MaxNewTokens = expected.Count + (stopped ? 1 : 0),
                StopTokens = [1],
            }).ToArray();
            Assert.Equal(expected, generated);
        }
    }

    [Fact]
    public void A_converted_llama2c_file_equals_the_hugging_face_folder_and_its_tokenizer_encodes_as_run_c()
    {
        using var temp = new TempDir();
        using (var converted = Llama2cCheckpoint.Read(Fixture("stories260K", "stories260K.bin")))
        {
            GptCheckpoint.Save(converted, temp.Path);
            Llama2cTokenizerFile.ConvertToHuggingFace(Fixture("stories260K", "tok512.bin"), converted.Config.Vocab, temp.Path);
        }
        using var model = GptCheckpoint.Load(temp.Path);
        using var hf = GptCheckpoint.Load(Fixture("stories260K", "hf"));
        Assert.Equal(hf.Config, model.Config);
        using (torch.no_grad())
        {
            // The hf/ folder was converted by Hugging Face's script in PyTorch: the same permutation, so the same floats.
            foreach (var (name, p) in hf.named_parameters())
                Assert.True((p - model.get_parameter(name)!).abs().max().item<float>() == 0, name);
        }
        var tokenizer = ModelTokenizer.Load(temp.Path);
        tokenizer.CheckFits(model.Config, temp.Path);
        using var reference = JsonDocument.Parse(File.ReadAllText(Fixture("stories260K-runc.json")));
        var first = reference.RootElement.GetProperty("prompts")[0];
        int[] prompt = [tokenizer.BeginningOfSequence!.Value, .. tokenizer.EncodeStart(first.GetProperty("prompt").GetString()!)];
        Assert.Equal(first.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32()), prompt);
        var generated = TokenGenerator.Generate(model, prompt, new GenerationOptions { Greedy = true, MaxNewTokens = 30 }).ToArray();
        var printed = first.GetProperty("printed_text").GetString()!;
        Assert.StartsWith(tokenizer.Decode([.. prompt, .. generated]), printed);
    }

    [Fact]
    public void A_llama2c_file_of_the_wrong_size_is_named()
    {
        using var temp = new TempDir();
        var bytes = File.ReadAllBytes(Fixture("stories260K", "stories260K.bin"));
        File.WriteAllBytes(temp["cut.bin"], bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<CheckpointException>(() => Llama2cCheckpoint.Read(temp["cut.bin"]));
        Assert.Contains("cut.bin", e.Message);
        Assert.Contains("bytes", e.Message);
    }

    [Fact]
    public void Qwen2_is_the_llama_block_with_query_key_value_biases_and_round_trips()
    {
        using var temp = new TempDir();
        using var model = new Decoder(Presets.LlamaTiny with { ModelType = "qwen2", AttentionBias = true });
        // The biases are real parameters of the forward pass: q (32) + k (16) + v (16) per layer.
        using var plain = new Decoder(Presets.LlamaTiny, torch.META);
        Assert.Equal(ParameterSet.Count(plain.parameters()) + 2 * 64, ParameterSet.Count(model.parameters()));
        GptCheckpoint.Save(model, temp.Path);
        var config = JsonDocument.Parse(File.ReadAllText(temp["config.json"])).RootElement;
        Assert.Equal("Qwen2ForCausalLM", config.GetProperty("architectures")[0].GetString());
        Assert.False(config.TryGetProperty("attention_bias", out _));   // Qwen2's config has no such field: the biases are implied
        Assert.Contains("model.layers.1.self_attn.k_proj.bias", Safetensors.ReadHeader(temp[GptCheckpoint.WeightsFile]).Entries.Keys);
        using var loaded = GptCheckpoint.Load(temp.Path);
        Assert.Equal(model.Config, loaded.Config);
        using var noGrad = torch.no_grad();
        foreach (var p in model.named_parameters().Where(p => p.name.EndsWith("proj.bias"))) p.parameter.add_(0.1);   // biases matter
        GptCheckpoint.Save(model, temp["changed"]);
        using var changed = GptCheckpoint.Load(temp["changed"]);
        var ids = torch.tensor(new long[] { 5, 17, 3, 90 }).unsqueeze(0);
        Assert.Equal(0f, (model.Logits(ids) - changed.Logits(ids)).abs().max().item<float>());
        Assert.True((loaded.Logits(ids) - changed.Logits(ids)).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void Rotary_settings_are_read_where_transformers_5_writes_them_and_llama_attention_bias_covers_o_proj()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp["config.json"], Shape + """, "rope_parameters": {"rope_type": "default", "rope_theta": 500000},""" +
            """ "attention_bias": true}""");
        var config = GptCheckpoint.ReadConfig(temp.Path);
        Assert.Equal(500000, config.RopeTheta);
        Assert.Contains("layers.0.self_attn.o_proj.bias", GptCheckpoint.ExpectedShapes(config).Keys);
        Assert.DoesNotContain("layers.0.self_attn.o_proj.bias", GptCheckpoint.ExpectedShapes(config with { ModelType = "qwen2" }).Keys);
    }

    [Fact]
    public void Preset_counts_follow_from_the_shapes()
    {
        using var model = new Decoder(Presets.LlamaTiny);
        // Per layer: q 32·32, k and v 16·32 each (2 of 4 heads), o 32·32, SwiGLU 3·32·64, two RMSNorms of 32; untied head.
        long layer = 32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 32 * 64 + 2 * 32;
        Assert.Equal(512 * 32 + 2 * layer + 32 + 512 * 32, ParameterSet.Count(model.parameters()));
        Assert.Equal(["self_attn.q_proj", "self_attn.v_proj"], model.LinearNames(LinearRole.Query, LinearRole.Value));
        Assert.Equal("model.layers.1.mlp.down_proj", model.HuggingFaceName("layers.1.mlp.down_proj"));
        Assert.Equal(14, model.LinearPaths().Count);
    }

    const string Shape = "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2, " +
        "\"num_attention_heads\": 4, \"vocab_size\": 96";

    [Theory]
    [InlineData("""{"model_type": "bert", "hidden_size": 32}""", "model_type")]
    [InlineData("""{"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4}""", "num_hidden_layers")]
    [InlineData(Shape + """, "num_key_value_heads": 3}""", "num_key_value_heads")]
    [InlineData(Shape + """, "rope_scaling": {"rope_type": "yarn"}}""", "rope_scaling")]
    [InlineData(Shape + """, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000}}""", "rope_parameters")]
    [InlineData(Shape + """, "mlp_bias": true}""", "mlp_bias")]
    [InlineData("""{"model_type": "llama", "hidden_size": "64", "num_attention_heads": 4}""", "hidden_size")]
    [InlineData("""{"model_type": 5}""", "model_type")]
    public void A_config_that_does_not_fit_is_one_line_naming_the_file_and_field(string json, string field)
    {
        using var temp = new TempDir();
        File.WriteAllText(temp["config.json"], json);
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.ReadConfig(temp.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(field, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_shard_or_a_misshapen_weight_is_named()
    {
        using var temp = new TempDir();
        using var model = GptCheckpoint.Load(Fixture("gqa-untied"));
        GptCheckpoint.Save(model, temp["sharded"], new GptCheckpoint.SaveOptions(MaxShardBytes: 8_000));
        var shard = GptCheckpoint.WeightFiles(temp["sharded"])[1];
        File.Delete(shard);
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.Load(temp["sharded"]));
        Assert.Contains(Path.GetFileName(shard), e.Message);
        Assert.Contains(GptCheckpoint.IndexFile, e.Message);

        var config = File.ReadAllText(Path.Combine(Fixture("gqa-untied"), "config.json"))
            .Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4");
        Directory.CreateDirectory(temp["shapes"]);
        File.WriteAllText(Path.Combine(temp["shapes"], "config.json"), config);
        File.Copy(Path.Combine(Fixture("gqa-untied"), "model.safetensors"), Path.Combine(temp["shapes"], "model.safetensors"));
        e = Assert.Throws<CheckpointException>(() => GptCheckpoint.Load(temp["shapes"]));
        Assert.Contains("model.layers.0.self_attn.k_proj.weight", e.Message);
        Assert.Contains("shape", e.Message);
    }
}
