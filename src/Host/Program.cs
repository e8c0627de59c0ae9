using PluginGpt.Host;

// The composition root: the Generic Host with DI, logging, OpenTelemetry and the plugins' services; the command line runs
// as its hosted service, so Ctrl+C and SIGTERM reach every command through one cancellation token.
return await Composition.RunAsync(args);
