using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

public class NativeLibraryTests
{
    [Fact]
    public void TorchSharp_runs_a_matmul_from_the_test_output()
    {
        using var a = ones(4, 3);
        using var b = ones(3, 2);
        using var c = a.matmul(b);
        Assert.Equal(new long[] { 4, 2 }, c.shape);
        Assert.Equal(3f, c[0, 0].item<float>());
    }
}
