namespace PluginGpt.Abstractions;

/// <summary>
/// Something the user gave cannot be used: an option, a file, a data row, a checkpoint. The host prints the message as
/// one line and exits with code 2; every other exception is treated as a bug (exit code 1, stack trace in a log file).
/// Messages name what is at fault first: the file (and line or key) or the option's path, then what was expected.
/// </summary>
public class UserInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An option or experiment field out of range or of the wrong kind; the message starts with its path (<c>method.options.r:
/// …</c>).</summary>
public class OptionsException(string message, Exception? inner = null) : UserInputException(message, inner);

/// <summary>A data file or row that cannot be used; the message names the file and, where one is at fault, the line.</summary>
public class DataException(string message, Exception? inner = null) : UserInputException(message, inner);

/// <summary>A checkpoint or weights file that cannot be used; the message names the file and, where one is at fault, the key.</summary>
public class CheckpointException(string message, Exception? inner = null) : UserInputException(message, inner);

/// <summary>Training went non-finite (NaN or ∞ loss): the options (learning rate, warmup) are the user's to change.</summary>
public class TrainingDivergedException(string message) : UserInputException(message);
