using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.LoRA;
using PluginGpt.Plugins.T5Prefix;
using PluginGpt.Plugins.Tasks;
using TorchSharp;

namespace PluginGpt.Plugins.Tests;

/// <summary>Text-to-text training through the host's loop, as <c>experiments/t5/multitask-lora.json</c> runs it on a Llama-family
/// base, leaves no tensor behind (when such a run on pg-base-long grew 9.3 GiB in 500 steps, the cause was the heap's
/// fragmentation by a new batch width each step — <c>TokenBatch.BucketWidth</c> — not a leak).</summary>
public class TextToTextTrainingTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoRA_text_to_text_training_on_a_llama_body_frees_every_tensor_it_makes(bool bf16)
    {
        using var dir = new TempDir();
        using var region = Autocast.Use(bf16 ? torch.ScalarType.BFloat16 : null);
        var task = new NliTask();
        var data = task.LoadBuiltIn("rte", 16, 4);
        torch.manual_seed(1);
        using var model = new Decoder(Presets.LlamaTiny with { Vocab = Tok.VocabSize, Context = 128 });
        var lora = JsonDocument.Parse("""{"r": 4, "lora_alpha": 8, "target_modules": ".*_proj$"}""").RootElement;
        using var method = MethodInstaller.Attach(new LoraMethod(), model, lora);
        using var objective = new TextToTextObjective().Create(new ObjectiveContext(model, Tok, data, default));
        var spec = new TrainingSpec { Epochs = 2, BatchSize = 4, LearningRate = 1e-3 };
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        FineTuner.Run(new FineTuneJob(model, method, objective, task, data, spec, 3, dir.Path));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
