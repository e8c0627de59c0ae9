using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core;

/// <summary>Turns a config's device name into a TorchSharp device: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
public static class DeviceSelector
{
    public static Device Parse(string name)
    {
        NativeRuntime.MklCpuDispatch.Apply();   // before the first matmul, where MKL settles its kernels
        var n = name.Trim().ToLowerInvariant();
        if (n is "" or "cpu") return torch.CPU;
        if (n == "cuda" || n.StartsWith("cuda:"))
        {
            if (!torch.cuda.is_available())
                throw new OptionsException($"device '{name}': CUDA is not available " +
                    "(build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU)");
            return torch.device(n);
        }
        throw new OptionsException($"device '{name}' is not cpu, cuda or cuda:N");
    }
}
