using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.IA3;
using PluginGpt.Plugins.LoRA;
using TorchSharp;

namespace PluginGpt.Plugins.Tests;

/// <summary>The SDK's PEFT key names, both ways, for both families, and the shipped methods that write them.</summary>
public class PeftKeysTests
{
    [Fact]
    public void A_key_is_the_prefix_the_Hugging_Face_module_name_and_the_tensor_name()
    {
        Assert.Equal("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
            PeftKeys.Key("transformer.h.0.attn.c_attn", "lora_A.weight"));
        Assert.Equal("base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector",
            PeftKeys.Key("model.layers.1.mlp.down_proj", "lora_magnitude_vector"));
        Assert.Throws<ArgumentException>(() => PeftKeys.Key("", "lora_A.weight"));
        Assert.Throws<ArgumentException>(() => PeftKeys.Key("transformer.h.0.attn.c_attn", ""));
    }

    [Fact]
    public void A_key_gives_back_its_module_name_only_for_its_own_tensor_name()
    {
        const string key = "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight";
        Assert.Equal("transformer.h.0.attn.c_attn", PeftKeys.ModuleName(key, "lora_A.weight"));
        Assert.Equal("transformer.h.0.attn.c_attn.lora_A", PeftKeys.ModuleName(key, "weight"));
        Assert.Null(PeftKeys.ModuleName(key, "lora_B.weight"));
        Assert.Null(PeftKeys.ModuleName("transformer.h.0.attn.c_attn.lora_A.weight", "lora_A.weight"));   // no PEFT prefix
        Assert.Null(PeftKeys.ModuleName("base_model.model.lora_A.weight", "lora_A.weight"));               // no module
    }

    [Theory]
    [InlineData("gpt2", "h.1.mlp.c_fc", "base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight")]
    [InlineData("llama", "layers.1.self_attn.v_proj", "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")]
    public void A_decoder_path_round_trips_through_its_familys_key(string family, string path, string key)
    {
        using var model = new Decoder(family == "llama" ? Presets.LlamaTiny : Presets.Tiny, torch.META);
        Assert.Equal(key, PeftKeys.Key(model, path, "lora_B.weight"));
        Assert.Equal(path, PeftKeys.LinearPath(model, key, "lora_B.weight"));
        Assert.All(model.LinearPaths(), p => Assert.Equal(p, PeftKeys.LinearPath(model, PeftKeys.Key(model, p, "ia3_l"), "ia3_l")));
        Assert.Null(PeftKeys.LinearPath(model, PeftKeys.Key("lm_head", "lora_B.weight"), "lora_B.weight"));   // not a hook point 1 Linear
    }

    [Fact]
    public void LoRA_and_IA3_name_their_tensors_with_the_helper_on_Llama_too()
    {
        using var model = new Decoder(Presets.LlamaTiny, torch.META);
        using (var lora = MethodInstaller.Attach(new LoraMethod(), model, TinyModel.Options("""{"r": 2}""")))
        {
            Assert.Contains(lora.Trainable, p => p.Name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
            Assert.All(lora.Trainable, p => Assert.NotNull(PeftKeys.LinearPath(model, p.Name, p.Name.EndsWith("lora_A.weight")
                ? "lora_A.weight" : "lora_B.weight")));
        }
        using var ia3 = MethodInstaller.Attach(new Ia3Method(), model, default);
        Assert.All(ia3.Trainable, p => Assert.NotNull(PeftKeys.LinearPath(model, p.Name, "ia3_l")));
    }
}
