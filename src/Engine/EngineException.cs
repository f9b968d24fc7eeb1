namespace MnistGpu.Engine;

/// <summary>
/// A run failed for a reason the engine understands (a device out of memory, a diverged loss).
/// The message is one line that says what happened and where; front ends print it as it is.
/// </summary>
public class EngineException : Exception
{
    public EngineException(string message)
        : base(message)
    {
    }

    public EngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
