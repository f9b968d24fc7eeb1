namespace MnistGpu.Engine;

/// <summary>
/// Something the user gave us is wrong (a missing folder, a malformed file, an unknown device, an
/// invalid setting). The message is one line that says what and where; front ends print it and
/// exit with a usage error instead of a stack trace.
/// </summary>
public sealed class UserInputException : Exception
{
    public UserInputException(string message)
        : base(message)
    {
    }

    public UserInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
