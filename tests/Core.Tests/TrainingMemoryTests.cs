using PluginGpt.Core.Training;

namespace PluginGpt.Core.Tests;

/// <summary>Reading <c>/proc/self/status</c>: a run whose peak passed 9.5 GiB crashed at its end on the unpadded figure.</summary>
public class TrainingMemoryTests
{
    [Theory]
    [InlineData("VmHWM:\t    2200 kB", 2200L * 1024)]
    [InlineData("VmHWM:\t10485760 kB", 10485760L * 1024)]   // 8 digits: no space after the tab
    [InlineData("VmRSS:\t123456789 kB", 123456789L * 1024)]
    public void A_status_line_gives_its_bytes_however_wide_the_figure(string line, long bytes) =>
        Assert.Equal(bytes, TrainingMemory.StatusBytes(line));

    [Theory]
    [InlineData("Name:\tdotnet")]
    [InlineData("VmHWM:\t12x4 kB")]
    [InlineData("VmHWM:")]
    public void A_line_without_a_kilobyte_figure_gives_none(string line) => Assert.Null(TrainingMemory.StatusBytes(line));

    [Fact]
    public void This_process_resident_set_reads_as_a_positive_size()
    {
        if (!OperatingSystem.IsLinux()) return;
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        Assert.True(TrainingMemory.StatusBytes(line) > 1 << 20);
    }
}
