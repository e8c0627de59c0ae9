using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PluginGpt.Host;

// The CLI runs inside the Generic Host so commands get their services (console, logging, later plugins) from DI.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = true });
builder.Logging.ClearProviders();
builder.Services.AddPluginGptCli();
using var host = builder.Build();
return await host.Services.GetRequiredService<Cli>().RunAsync(args);
