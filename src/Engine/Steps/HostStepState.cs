using System.Numerics;
using System.Runtime.CompilerServices;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// What the host fused step's phases share: the step under way (the batch's arrays and sizes, the
/// network's storage, the optimizer), set by <see cref="Set"/> before the phases run and dropped
/// by <see cref="Release"/> after, and the buffers every step reuses. Each phase is passed this
/// object for its run (<c>Run(state, parts)</c>) and reads it; only <see cref="HostFusedStep{TVec}"/> writes it.
/// </summary>
internal sealed class HostStepState<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    // The step under way.
    internal byte[] images = [];
    internal int[] order = [];
    internal byte[] labels = [];
    internal int start, batch, pixels, hidden, classes, paddedClasses;
    internal float[] parameters = [], first = [], second = [], h = [], dh = [], losses = [], output = [], zeros = [];
    internal int[] predictions = [];
    internal int outputOffset;
    internal bool backward;
    internal OptimizerStep optimizer;

    /// <summary>A dropout between the two dense layers, applied to h as it is stored: <see cref="FoldedDropout.None"/> but in a training step of such a network.</summary>
    internal FoldedDropout dropout = FoldedDropout.None;

    // Buffers reused by every step: W2 padded to whole vectors per row and transposed, dz padded,
    // each row group's nonzero pixels with the four rows' values, and per-thread scratch.
    internal float[] w2Padded = [], w2Transposed = [], dzPadded = [], logits = [];
    internal int[] groupCount = [];
    internal ushort[] groupPixel = [];
    internal float[] groupValues = [];
    internal readonly float[][] scratch;
    internal readonly int[][] rowLists;

    public HostStepState(WorkerPool pool)
    {
        Pool = pool;
        scratch = new float[pool.Threads][];
        rowLists = new int[pool.Threads][];
        for (int i = 0; i < scratch.Length; i++)
        {
            scratch[i] = [];
            rowLists[i] = [];
        }
    }

    /// <summary>Vectors per row of a four-row register block (of h, or of W1's gradient): 16 accumulators fit AVX-512's 32 registers, 8 AVX2's 16.</summary>
    public static int BlockVectors => TVec.Count >= 16 ? 4 : 2;

    /// <summary>The threads every phase runs on.</summary>
    public WorkerPool Pool { get; }

    /// <summary>Where W2 starts in the flat parameters.</summary>
    public int W2 => (pixels + 1) * hidden;

    public int RowGroups => (batch + HostStep.Group - 1) / HostStep.Group;

    public int PixelGroups => (pixels + HostStep.Group - 1) / HostStep.Group;

    /// <summary>Parts to split <paramref name="work"/> items into: one per thread, at most one per item.</summary>
    public int Parts(int work) => Math.Min(Pool.Threads, work);

    /// <summary>The step's batch and network, with the buffers grown for them.</summary>
    public void Set(Network network, BatchSource source, int first, int rows)
    {
        images = HostStep.Storage(source.Images);
        order = HostStep.Storage(source.Order);
        labels = HostStep.Storage(source.Labels);
        (start, batch) = (first, rows);
        (pixels, hidden, classes) = (network.Shape.Inputs, network.Shape.Hidden, network.Shape.Classes);
        paddedClasses = (classes + TVec.Count - 1) / TVec.Count * TVec.Count;
        parameters = HostStep.Storage(network.Parameters);
        h = HostStep.Storage(network.Layers[0].Output);
        dh = HostStep.Storage(network.Layers[0].OutputGradient);
        HostStep.Grow(ref zeros, hidden);
        HostStep.Grow(ref w2Padded, hidden * paddedClasses);
        HostStep.Grow(ref w2Transposed, classes * hidden);
        HostStep.Grow(ref dzPadded, batch * paddedClasses);
        HostStep.Grow(ref logits, batch * classes);
        HostStep.Grow(ref groupCount, RowGroups);
        HostStep.Grow(ref groupPixel, RowGroups * pixels);
        HostStep.Grow(ref groupValues, RowGroups * pixels * HostStep.Group);
        int outputRows = (hidden + 1 + Pool.Threads - 1) / Pool.Threads + 1;
        foreach (ref var row in scratch.AsSpan())
            HostStep.Grow(ref row, Math.Max(HostStep.Group * (hidden + batch), Math.Max(5 * TVec.Count, outputRows * paddedClasses)));
        foreach (ref var list in rowLists.AsSpan())
            HostStep.Grow(ref list, batch + 1);
    }

    /// <summary>Drops the step's references to the network and data, so that nothing here keeps a disposed network's arrays alive.</summary>
    public void Release()
    {
        (images, order, labels) = ([], [], []);
        (parameters, first, second, h, dh, losses, output, predictions) = ([], [], [], [], [], [], [], []);
    }

    /// <summary>W2 as rows of whole vectors (for z) and transposed (for dh), copied once per step: 5,120 floats.</summary>
    public void PrepareOutputLayer()
    {
        var w2 = parameters.AsSpan(W2, hidden * classes);
        for (int j = 0; j < hidden; j++)
        {
            var row = w2Padded.AsSpan(j * paddedClasses, paddedClasses);
            w2.Slice(j * classes, classes).CopyTo(row);
            row[classes..].Clear();
            for (int c = 0; c < classes; c++)
                w2Transposed[c * hidden + j] = w2[j * classes + c];
        }
    }

    /// <summary>The optimizer on parameters [at, at + length) with their gradient <paramref name="g"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Update(int at, int length, ReadOnlySpan<float> g) =>
        SimdOptimizer.Apply<TVec>(parameters.AsSpan(at, length), g, State(first, at, length), State(second, at, length), optimizer);

    /// <summary>
    /// The optimizer on parameters whose gradient is zero (pixels zero across the batch): RMSprop
    /// only decays its mean squares (w − 0 = w), plain SGD changes nothing, while Adam and
    /// momentum still move the weights, so they get a zero gradient row by row.
    /// </summary>
    public void UpdateWithZeroGradient(int at, int length)
    {
        if (optimizer.Rule == UpdateRule.RmsProp)
        {
            var v = first.AsSpan(at, length);
            System.Numerics.Tensors.TensorPrimitives.Multiply(v, optimizer.Rho, v);
        }
        else if (optimizer.Rule is UpdateRule.Adam or UpdateRule.SgdMomentum)
        {
            for (int done = 0; done < length; done += hidden)
                Update(at + done, Math.Min(hidden, length - done), zeros.AsSpan(0, Math.Min(hidden, length - done)));
        }
    }

    private static Span<float> State(float[] array, int at, int length) => array.Length == 0 ? default : array.AsSpan(at, length);
}

/// <summary>
/// One phase of the host fused step: run on the pool over the step <see cref="Run"/> is passed,
/// each part of it in <see cref="Execute"/>, which reads the step through <see cref="Step"/>.
/// </summary>
internal abstract class HostStepPhase<TVec> : IParallelWork
    where TVec : struct, ISimdFloat<TVec>
{
    private HostStepState<TVec>? step;

    /// <summary>The step under way: only while <see cref="Run"/> runs.</summary>
    protected HostStepState<TVec> Step => step ?? throw new InvalidOperationException("a phase reads its step only while it runs");

    /// <summary>Runs the phase over <paramref name="state"/>'s step, split into <paramref name="parts"/> parts on its pool.</summary>
    public void Run(HostStepState<TVec> state, int parts)
    {
        step = state;
        try
        {
            state.Pool.Run(parts, this);
        }
        finally
        {
            step = null;
        }
    }

    public abstract void Execute(int part);
}

/// <summary>What every phase of the host fused step uses, whatever its vector width.</summary>
internal static class HostStep
{
    /// <summary>Rows of h (and pixels of W1's gradient) that share each load.</summary>
    public const int Group = 4;

    /// <summary>byte / 255 for every byte: the gather's exact values, without a division per pixel.</summary>
    public static readonly float[] Unit = Enumerable.Range(0, 256).Select(value => value / 255f).ToArray();

    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> of [0, count), its ends multiples of <paramref name="align"/>.</summary>
    public static (int From, int To) Share(int count, int parts, int part, int align)
    {
        int units = (count + align - 1) / align;
        return (Math.Min(count, units * part / parts * align), Math.Min(count, units * (part + 1) / parts * align));
    }

    public static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = new T[length];
    }

    /// <summary>A host array's whole storage.</summary>
    public static T[] Storage<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T>
    {
        var host = HostArray<T, T>.Of(array);
        if (host.Offset != 0)
            throw new ArgumentException("the fused step works on whole arrays", nameof(array));
        return host.Storage;
    }
}
