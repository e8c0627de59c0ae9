using System.CommandLine;
using System.Runtime.InteropServices;
using PluginGpt.Core;
using PluginGpt.Core.NativeRuntime;
using PluginGpt.Core.Training;
using PluginGpt.Runs.Plugins;
using Spectre.Console;
using TorchSharp;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt doctor</c>: whether LibTorch loads (the usual first failure of TorchSharp apps), which devices it sees,
/// where plugins are looked for and what loaded, this machine's matmul speed, the GEMM path MKL takes and the allocator
/// settings.
/// </summary>
public sealed class DoctorCommand(IAnsiConsole console, PluginDiscovery discovery, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var command = new Command("doctor", "Check LibTorch, devices, plugin folders and plugins.");
        command.SetAction(parse =>
        {
            var table = new Table().AddColumns("check", "result");
            table.AddRow(".NET", RuntimeInformation.FrameworkDescription);
            table.AddRow("OS", RuntimeInformation.OSDescription);
            table.AddRow("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?");
            string dispatch = MklCpuDispatch.Apply();   // before the first matmul: MKL settles its kernels then
            using (var t = torch.ones(2, 2)) table.AddRow("LibTorch (CPU)", $"loaded: ones(2,2).sum() = {t.sum().item<float>()}");
            table.AddRow("CUDA",
                torch.cuda.is_available() ? $"{torch.cuda.device_count()} device(s)" : "not available (CPU build or no GPU)");
            table.AddRow("CPU", Markup.Escape(CpuFeatures.Model ?? "not listed by the OS"));
            table.AddRow("threads", torch.get_num_threads().ToString());
            var (fp32, bf16) = PrecisionSelector.Peaks(torch.CPU);
            table.AddRow("matmul peak (best of 512³, 1024³)", $"fp32 {fp32:F0} GFLOP/s, bf16 {bf16:F0} GFLOP/s");
            table.AddRow("GEMM", Markup.Escape($"{dispatch}: {MklCpuDispatch.Description() ?? "no MKL in this LibTorch"}"));
            table.AddRow("GEMM scheduling", Markup.Escape(MklReproducibility.Branch() switch
            {
                null => "no MKL in this LibTorch",
                MklReproducibility.AutoBranch =>
                    $"reproducible ({MklReproducibility.Variable}={Environment.GetEnvironmentVariable(MklReproducibility.Variable)})",
                var other => $"MKL branch {other} " +
                    $"({MklReproducibility.Variable}={Environment.GetEnvironmentVariable(MklReproducibility.Variable) ?? "unset"})",
            }));
            table.AddRow("memory allocator", Markup.Escape(HeapSettings.Apply()));
            table.AddRow("JIT", Markup.Escape(JitSettings.Describe()));
            table.AddRow("hand-written kernels' threads", Markup.Escape(OpenMpTeam.Available
                ? "LibTorch's OpenMP team (loss row pass, dropout masks, causal softmax, tanh GELU)"
                : Environment.GetEnvironmentVariable(OpenMpTeam.SwitchVariable) == "0"
                    ? $".NET's thread pool ({OpenMpTeam.SwitchVariable}=0)"
                    : ".NET's thread pool (LibTorch without libgomp here)"));
            table.AddRow("pre-training batches", Markup.Escape(BatchShards.Describe()));
            table.AddRow("bf16 cached generation step", Autocast.HasMatrixVectorKernel
                ? "PluginGpt's AVX-512 matrix–vector kernel and one-call attention"
                : "LibTorch's Linear and attention (512-bit vectors not accelerated here)");
            var auto = PrecisionSelector.Resolve("auto", torch.CPU);
            table.AddRow("precision auto",
                Markup.Escape($"{auto.Name} ({auto.Reason})"));
            var folders = discovery.Folders;
            table.AddRow("plugin folders",
                Markup.Escape(string.Join("\n", folders.Select(f => Directory.Exists(f) ? f : f + " (missing)"))));
            var catalog = plugins.Value;
            table.AddRow("plugins", Markup.Escape(string.Join(", ",
                catalog.Plugins.Select(p => $"{p.Manifest.Kind.ToString().ToLowerInvariant()}:{p.Manifest.Name}"))));
            foreach (var e in catalog.Errors) table.AddRow("[yellow]plugin skipped[/]", Markup.Escape($"{e.Path}: {e.Message}"));
            console.Write(table);
            return catalog.Plugins.Count > 0 ? 0 : Cli.CheckFailed;
        });
        return command;
    }
}
