namespace PluginGpt.Runs.Sweeps;

/// <summary>
/// A sweep made ready before its first run: every combination of the grid bound and checked (plugin options and data, with the
/// given check), every run's folder name checked, the sweep folder claimed and its plan written. One reading of
/// the experiment file is checked, run here and copied for Slurm's array tasks.
/// </summary>
public sealed record SweepSetup(OutputFolder.Claimed Claim, SweepPlan Plan, IReadOnlyList<ExperimentSpec> Specs) : IDisposable
{
    public string Directory => Claim.Directory;

    /// <summary>Null when <paramref name="cancel"/> was set while the combinations were checked.</summary>
    public static SweepSetup? Prepare(string path, IReadOnlyList<string> grids, IReadOnlyList<string> shared, string? chosenFolder,
        bool onSlurm, Action<ExperimentSpec> check, CancellationToken cancel)
    {
        var combinations = SweepGrid.Combinations(grids);
        var source = ShippedData.ExperimentFile(path);
        var text = File.Exists(source) ? File.ReadAllText(source) : null;
        var specs = combinations.Select(c => ExperimentFile.LoadValid(path, [.. shared, .. c], text)).ToList();
        foreach (var spec in specs)
        {
            if (cancel.IsCancellationRequested) return null;
            check(spec);
        }
        var name = $"{OutputFolder.SafeName(specs[0].Name)}-sweep-{DateTime.Now:yyyyMMdd-HHmmss}";
        var folder = OutputFolder.CheckName(chosenFolder ?? Path.Combine("runs", name), "--out");
        if (onSlurm) SlurmJob.CheckPaths(Path.GetFullPath(folder));
        var plan = SweepPlan.Create(specs[0].Name, source, combinations, shared);
        foreach (var run in plan.Runs) OutputFolder.CheckName(Path.Combine(folder, run.Folder), "--grid");
        var claim = OutputFolder.Claim(folder, "--out", unique: chosenFolder is null);
        try { plan.Write(claim.Directory, text!); }
        catch
        {
            claim.Dispose();
            throw;
        }
        return new SweepSetup(claim, plan, specs);
    }

    public void Dispose() => Claim.Dispose();
}
