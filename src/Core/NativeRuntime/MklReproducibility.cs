using System.Runtime.InteropServices;

namespace PluginGpt.Core.NativeRuntime;

/// <summary>
/// MKL's conditional numerical reproducibility. Without it MKL may schedule a GEMM's work across threads by load, so the same
/// seed gave losses that differed in the 7th digit when another process shared the cores (seen on a 2-core AMD EPYC: one run in
/// eight under load; none in twelve with <c>MKL_CBWR=AUTO</c>, at the same matmul peak). <c>AUTO</c> keeps the CPU's fastest
/// instruction path and fixes the scheduling and reductions. MKL reads the variable at its first call, so it is set in the
/// native environment before any GEMM; a value the user set wins.
/// </summary>
public static class MklReproducibility
{
    /// <summary>MKL's environment variable.</summary>
    public const string Variable = "MKL_CBWR";
    const string Ours = "AUTO";
    /// <summary>MKL's code for the <c>AUTO</c> branch (mkl_service.h: <c>MKL_CBWR_AUTO</c>).</summary>
    public const int AutoBranch = 2;
    const int BranchOption = 1;   // MKL_CBWR_BRANCH: ask for the branch setting

    /// <summary>Sets <c>MKL_CBWR=AUTO</c> in the native environment unless it is set (Linux; idempotent).</summary>
    public static void Request()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null) return;
        try
        {
            if (LibC.SetEnvironment(Variable, Ours, overwrite: 0) == 0) Environment.SetEnvironmentVariable(Variable, Ours);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc setenv: MKL keeps its default scheduling.
        }
    }

    /// <summary>The branch MKL runs under (<see cref="AutoBranch"/> once <see cref="Request"/> held before its first call), or
    /// null where LibTorch carries no MKL.</summary>
    public static int? Branch()
    {
        if (!OperatingSystem.IsLinux()) return null;
        // libtorch_cpu links MKL statically and exports its service layer's getter, not the public mkl_cbwr_get.
        return LibTorchLibrary.Export("mkl_serv_cbwr_get") is { } export
            ? Marshal.GetDelegateForFunctionPointer<CbwrGet>(export)(BranchOption) : null;
    }

    delegate int CbwrGet(int option);
}
