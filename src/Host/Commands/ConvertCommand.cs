using System.CommandLine;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Tokenization;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt convert llama2c MODEL.bin --tokenizer TOK.bin --out DIR</c>: a llama2.c model and its tokenizer as a Hugging Face
/// Llama folder (config.json, model.safetensors with q/k rows in Hugging Face's rotate_half layout, tokenizer.json) that
/// <c>generate --model</c>, experiments and Hugging Face-style loaders read as they are.
/// </summary>
public sealed class ConvertCommand(IAnsiConsole console) : ICliCommand
{
    public Command Build()
    {
        var model = new Argument<string>("model") { Description = "llama2.c model file (version 0, e.g. stories260K.bin)" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "llama2.c tokenizer file (e.g. tok512.bin)", Required = true };
        var output = new Option<string>("--out") { Description = "new or empty folder for the Hugging Face Llama model", Required = true };
        var llama2c = new Command("llama2c", "Convert a llama2.c model and tokenizer into a Hugging Face Llama folder.")
        { model, tokenizer, output };
        llama2c.SetAction((parse, cancel) =>
        {
            var target = OutputFolder.EnsureFree(parse.GetValue(output)!, "--out");
            var tokenizerFile = parse.GetValue(tokenizer)!;
            if (!File.Exists(tokenizerFile)) throw new UserInputException($"{tokenizerFile}: file not found (--tokenizer)");
            using var decoder = Llama2cCheckpoint.Read(parse.GetValue(model)!);
            // Both files are read before anything is written: a tokenizer that does not fit leaves no half-made folder.
            var tokenizerFiles = Llama2cTokenizerFile.Convert(tokenizerFile, decoder.Config.Vocab);
            using var claim = OutputFolder.Claim(target, "--out", unique: false);
            GptCheckpoint.Save(decoder, claim.Directory);
            AtomicFile.WriteAllText(Path.Combine(claim.Directory, SentencePieceBpeTokenizer.TokenizerFile), tokenizerFiles.TokenizerJson);
            AtomicFile.WriteAllText(Path.Combine(claim.Directory, SentencePieceBpeTokenizer.ConfigFile), tokenizerFiles.ConfigJson);
            long parameters = ParameterSet.Count(decoder.parameters());
            console.MarkupLineInterpolated($"{decoder.Config.Layers}-layer Llama model ({parameters:N0} parameters) written to {target}");
            return Task.FromResult(0);
        });
        var source = new Argument<string>("model") { Description = "model folder" };
        var dtype = new Option<string>("--to") { Description = "bf16, fp16 or fp32", Required = true };
        var dtypeOut = new Option<string>("--out") { Description = "new or empty folder for the converted model", Required = true };
        var convertDtype = new Command("dtype", "Write a model folder's weights in another type (bf16: half the bytes).")
        { source, dtype, dtypeOut };
        convertDtype.SetAction(parse =>
        {
            var type = parse.GetValue(dtype) switch
            {
                "bf16" or "bfloat16" => TorchSharp.torch.ScalarType.BFloat16,
                "fp16" or "float16" => TorchSharp.torch.ScalarType.Float16,
                "fp32" or "float32" => TorchSharp.torch.ScalarType.Float32,
                var other => throw new OptionsException($"--to: must be bf16, fp16 or fp32, got '{other}'"),
            };
            var from = ShippedData.ModelPath(parse.GetValue(source)!);
            var target = OutputFolder.EnsureFree(parse.GetValue(dtypeOut)!, "--out");
            using var decoder = GptCheckpoint.Load(from);
            var tokenizer = ModelTokenizer.Load(from);
            using var claim = OutputFolder.Claim(target, "--out", unique: false);
            GptCheckpoint.Save(decoder, claim.Directory, new GptCheckpoint.SaveOptions(Dtype: type));
            tokenizer.Save(claim.Directory);
            console.MarkupLineInterpolated($"{from} written to {target} in {parse.GetValue(dtype)}");
            return 0;
        });
        return new Command("convert", "Convert models from other formats into Hugging Face folders.") { llama2c, convertDtype };
    }
}
