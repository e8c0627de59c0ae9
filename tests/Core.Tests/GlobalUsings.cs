global using PluginGpt.Abstractions;
global using PluginGpt.TestSupport;
