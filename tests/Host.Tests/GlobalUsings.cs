global using PluginGpt.TestSupport;
