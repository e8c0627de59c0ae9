global using PluginGpt.Abstractions;
