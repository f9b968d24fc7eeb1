using System.Runtime.InteropServices;

namespace MnistGpu.Engine.IO;

/// <summary>
/// A FIFO opened for writing without blocking. A plain open waits inside the kernel until a
/// reader comes, and a full pipe blocks a plain write, both deaf to Ctrl-C once the program
/// handles it; here both waits are short polls that give up when <c>signals</c> changes.
/// </summary>
internal sealed class FifoStream : Stream
{
    private const int PollMilliseconds = 50;
    private readonly int descriptor;
    private readonly Func<int> signals;
    private readonly int signalsAtStart;
    private bool closed;

    private FifoStream(int descriptor, Func<int> signals, int signalsAtStart)
    {
        this.descriptor = descriptor;
        this.signals = signals;
        this.signalsAtStart = signalsAtStart;
    }

    /// <summary>
    /// Waits for a reader of the FIFO at <paramref name="path"/>, until <paramref name="signals"/>
    /// counts more stop signals than <paramref name="signalsBefore"/> (by default, than when the
    /// wait begins).
    /// </summary>
    /// <exception cref="IOException">No reader came before a stop signal, or the FIFO cannot be opened.</exception>
    public static FifoStream Open(string path, Func<int> signals, int? signalsBefore = null)
    {
        int atStart = signalsBefore ?? signals();
        while (true)
        {
            int descriptor = NativeFiles.Open(path, NativeFiles.WriteOnly | NativeFiles.NonBlocking | NativeFiles.CloseOnExec);
            if (descriptor >= 0)
                return new FifoStream(descriptor, signals, atStart);
            int error = Marshal.GetLastPInvokeError();
            if (error == NativeFiles.Interrupted)
                continue;
            if (error != NativeFiles.NoReader)
                throw new IOException($"cannot open the FIFO: {Marshal.GetPInvokeErrorMessage(error)}", error);
            if (signals() != atStart)
                throw new IOException("stopped while waiting for a reader of the FIFO; nothing was written");
            Thread.Sleep(PollMilliseconds);
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            nint written;
            fixed (byte* start = buffer)
                written = NativeFiles.Write(descriptor, start, buffer.Length);
            if (written >= 0)
            {
                buffer = buffer[(int)written..];
                continue;
            }

            int error = Marshal.GetLastPInvokeError();
            if (error == NativeFiles.Interrupted)
                continue;
            if (error != NativeFiles.WouldBlock)
                throw new IOException($"writing to the FIFO failed: {Marshal.GetPInvokeErrorMessage(error)}", error);
            if (signals() != signalsAtStart)
                throw new IOException("stopped while the FIFO's reader was not reading; the output is incomplete");
            var wait = new NativeFiles.PollDescriptor { Descriptor = descriptor, Events = NativeFiles.PollOut };
            _ = NativeFiles.Poll(&wait, 1, PollMilliseconds);
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!closed)
            _ = NativeFiles.Close(descriptor);
        closed = true;
        base.Dispose(disposing);
    }
}
