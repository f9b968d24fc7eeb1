using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// The host's training step (and evaluation batch), fused, using the zeros of the uint8 images.
/// For Dense(P→H, ReLU) → Dense(H→C, softmax), the seed network:
/// <list type="number">
/// <item>h (B,H) = ReLU(x·W1 + b1), four rows at a time over the pixels that are nonzero in any of
/// them (found from the bytes with vector compares), so each load of a W1 row feeds four rows;
/// columns split across threads, each keeping its block of W1 in its L2;</item>
/// <item>per row: z = h·W2 + b2, softmax-cross-entropy, dz, dh = dz·W2ᵀ ⊙ [h &gt; 0];</item>
/// <item>[hᵀ; 1ᵀ]·dz, then the optimizer on W2 and b2;</item>
/// <item>[xᵀ; 1ᵀ]·dh four pixels at a time over the batch rows where any of them is nonzero, each
/// gradient row whole in a per-thread buffer and applied by the optimizer while in cache; a pixel
/// that is zero across the batch still goes through the optimizer with g = 0 (RMSprop: v ← ρv,
/// w unchanged; Adam and momentum move w).</item>
/// </list>
/// A deeper network keeps steps 0, 1 and 4 for its first layer and runs the layers above it as
/// the composition does (dense products, softmax-cross-entropy, the optimizer over their
/// parameters), down to the first layer's dh.
/// Every sum runs in the order, and with the fused multiply-adds, of the separate host
/// operations — a zero pixel or activation either adds 0·w or is skipped, which is the same bits —
/// so the results are the composition's exactly. Nothing is allocated per step.
/// </summary>
internal sealed class HostFusedStep<TVec> : IHostFusedStep
    where TVec : struct, ISimdFloat<TVec>
{
    /// <summary>Rows of h (and pixels of W1's gradient) that share each load.</summary>
    private const int Group = 4;

    /// <summary>byte / 255 for every byte: the gather's exact values, without a division per pixel.</summary>
    private static readonly float[] Unit = Enumerable.Range(0, 256).Select(value => value / 255f).ToArray();

    private readonly WorkerPool pool;
    private readonly GroupPixels groupPixels;
    private readonly HiddenForward forward;
    private readonly Tail tail;
    private readonly OutputGradients outputGradients;
    private readonly HiddenGradients hiddenGradients;

    // The step under way, set before each phase runs on the pool.
    private byte[] images = [];
    private int[] order = [];
    private byte[] labels = [];
    private int start, batch, pixels, hidden, classes, paddedClasses;
    private float[] parameters = [], first = [], second = [], h = [], dh = [], losses = [], output = [], zeros = [];
    private int[] predictions = [];
    private int outputOffset;
    private bool backward;
    private OptimizerStep optimizer;

    // Buffers reused by every step: W2 padded to whole vectors per row and transposed, dz padded,
    // each row group's nonzero pixels with the four rows' values, and per-thread scratch.
    private float[] w2Padded = [], w2Transposed = [], dzPadded = [], logits = [];
    private int[] groupCount = [];
    private ushort[] groupPixel = [];
    private float[] groupValues = [];
    private readonly float[][] scratch;
    private readonly int[][] rowLists;

    // A deeper network's layers above the first, as views into its flat arrays (they own no
    // storage), made once per network and gone with it.
    private readonly ConditionalWeakTable<Network, UpperViews> uppers = [];

    public HostFusedStep(WorkerPool pool)
    {
        this.pool = pool;
        groupPixels = new GroupPixels(this);
        forward = new HiddenForward(this);
        tail = new Tail(this);
        outputGradients = new OutputGradients(this);
        hiddenGradients = new HiddenGradients(this);
        scratch = new float[pool.Threads][];
        rowLists = new int[pool.Threads][];
        for (int i = 0; i < scratch.Length; i++)
        {
            scratch[i] = [];
            rowLists[i] = [];
        }
    }

    /// <summary>Whether images of <paramref name="pixels"/> pixels fit the 16-bit pixel lists.</summary>
    public static bool Fits(int pixels) => pixels <= ushort.MaxValue + 1;

    public void Train(TrainingStep work, int start, int batch)
    {
        var network = work.Network;
        Set(network, work.Source, start, batch);
        (losses, predictions, outputOffset) = (Storage(work.Losses), Storage(work.Predictions), start);
        (backward, optimizer) = (true, work.Update);
        var state = network.OptimizerState.Arrays;
        first = state.Count > 0 ? Storage(state[0]) : [];
        second = state.Count > 1 ? Storage(state[1]) : [];
        pool.Run(Parts(RowGroups), groupPixels);
        pool.Run(Parts(hidden), forward);
        if (network.Layers.Count == 2)
        {
            PrepareOutputLayer();
            pool.Run(Parts(batch), tail);
            pool.Run(Parts(hidden + 1), outputGradients);
        }
        else
        {
            // Above the first layer the step is the composition, down to the first layer's dh.
            GatherLabels(network);
            network.ComputeGradients(batch, new SampleOutputs(work.Losses, work.Predictions, start), lowestLayer: 1);
            var upper = UpperLayers(network);
            network.Backend.OptimizerUpdate(upper.Parameters, upper.Gradients, upper.State, optimizer);
        }

        pool.Run(Parts(PixelGroups + 1), hiddenGradients);
        Release();
    }

    public void Evaluate(EvaluationPass work, int start, int batch)
    {
        var network = work.Network;
        Set(network, work.Source, start, batch);
        (losses, predictions, outputOffset) = (Storage(work.Losses), Storage(work.Predictions), start);
        backward = false;
        output = Storage(work.Probabilities);
        pool.Run(Parts(RowGroups), groupPixels);
        pool.Run(Parts(hidden), forward);
        if (network.Layers.Count == 2)
        {
            PrepareOutputLayer();
            pool.Run(Parts(batch), tail);
            Release();
            return;
        }

        GatherLabels(network);
        network.Forward(batch, fromLayer: 1);
        int classes = network.Shape.Classes;
        using var probabilities = network.Backend.Slice(work.Probabilities, start * classes, batch * classes);
        network.Backend.SoftmaxCrossEntropyForward(network.Logits, network.Labels, batch, classes, probabilities, new SampleOutputs(work.Losses, work.Predictions, start));
        Release();
    }

    /// <summary>The batch's labels into the network's, for the composed loss above the first layer.</summary>
    private void GatherLabels(Network network)
    {
        var target = Storage(network.Labels);
        for (int b = 0; b < batch; b++)
            target[b] = labels[order[start + b]];
    }

    /// <summary>Views of every layer's parameters, gradients and optimizer state above the first, made once per network.</summary>
    private UpperViews UpperLayers(Network network)
    {
        if (!uppers.TryGetValue(network, out var upper))
        {
            var backend = network.Backend;
            int offset = network.Shape.Layers[1].Offset, length = network.Shape.ParameterCount - offset;
            upper = new UpperViews(
                backend.Slice(network.Parameters, offset, length),
                backend.Slice(network.Gradients, offset, length),
                new OptimizerState(network.OptimizerState.Arrays.Select(array => backend.Slice(array, offset, length)).ToList()));
            uppers.Add(network, upper);
        }

        return upper;
    }

    private sealed record UpperViews(DeviceArray<float> Parameters, DeviceArray<float> Gradients, OptimizerState State);

    /// <summary>Drops the step's references to the network and data, so that nothing here keeps a disposed network's arrays alive.</summary>
    private void Release()
    {
        (images, order, labels) = ([], [], []);
        (parameters, first, second, h, dh, losses, output, predictions) = ([], [], [], [], [], [], [], []);
    }

    private int W2 => (pixels + 1) * hidden;

    /// <summary>The optimizer on parameters [at, at + length) with their gradient <paramref name="g"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Update(int at, int length, ReadOnlySpan<float> g) =>
        SimdOptimizer.Apply<TVec>(parameters.AsSpan(at, length), g, State(first, at, length), State(second, at, length), optimizer);

    /// <summary>
    /// The optimizer on parameters whose gradient is zero (pixels zero across the batch): RMSprop
    /// only decays its mean squares (w − 0 = w), plain SGD changes nothing, while Adam and
    /// momentum still move the weights, so they get a zero gradient row by row.
    /// </summary>
    private void UpdateWithZeroGradient(int at, int length)
    {
        if (optimizer.Rule == UpdateRule.RmsProp)
        {
            var v = first.AsSpan(at, length);
            System.Numerics.Tensors.TensorPrimitives.Multiply(v, optimizer.Rho, v);
        }
        else if (first.Length > 0)
        {
            for (int done = 0; done < length; done += hidden)
                Update(at + done, Math.Min(hidden, length - done), zeros.AsSpan(0, Math.Min(hidden, length - done)));
        }
    }

    private static Span<float> State(float[] array, int at, int length) => array.Length == 0 ? default : array.AsSpan(at, length);

    private int RowGroups => (batch + Group - 1) / Group;

    private int PixelGroups => (pixels + Group - 1) / Group;

    private int Parts(int work) => Math.Min(pool.Threads, work);

    private void Set(Network network, BatchSource source, int first, int rows)
    {
        images = Storage(source.Images);
        order = Storage(source.Order);
        labels = Storage(source.Labels);
        (start, batch) = (first, rows);
        (pixels, hidden, classes) = (network.Shape.Inputs, network.Shape.Hidden, network.Shape.Classes);
        paddedClasses = (classes + TVec.Count - 1) / TVec.Count * TVec.Count;
        parameters = Storage(network.Parameters);
        h = Storage(network.Layers[0].Output);
        dh = Storage(network.Layers[0].OutputGradient);
        Grow(ref zeros, hidden);
        Grow(ref w2Padded, hidden * paddedClasses);
        Grow(ref w2Transposed, classes * hidden);
        Grow(ref dzPadded, batch * paddedClasses);
        Grow(ref logits, batch * classes);
        Grow(ref groupCount, RowGroups);
        Grow(ref groupPixel, RowGroups * pixels);
        Grow(ref groupValues, RowGroups * pixels * Group);
        int outputRows = (hidden + 1 + pool.Threads - 1) / pool.Threads + 1;
        foreach (ref var row in scratch.AsSpan())
            Grow(ref row, Math.Max(Group * (hidden + batch), Math.Max(5 * TVec.Count, outputRows * paddedClasses)));
        foreach (ref var list in rowLists.AsSpan())
            Grow(ref list, batch + 1);
    }

    /// <summary>W2 as rows of whole vectors (for z) and transposed (for dh), copied once per step: 5,120 floats.</summary>
    private void PrepareOutputLayer()
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

    /// <summary>
    /// Phase 0: for each group of four batch rows, the pixels nonzero in any of them, ascending,
    /// with the four values x = byte / 255 (0 where a row's pixel is 0), the bytes compared 32 at a
    /// time. Group g's list is at g·P of the buffers, its length in groupCount[g]; each part a block of groups.
    /// </summary>
    private sealed class GroupPixels(HostFusedStep<TVec> step) : IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = step;
            int pixels = s.pixels;
            var images = s.images;
            var (from, to) = Share(s.RowGroups, s.Parts(s.RowGroups), part, 1);
            Span<int> image = stackalloc int[Group];
            for (int g = from; g < to; g++)
            {
                int rows = Math.Min(Group, s.batch - g * Group);
                for (int r = 0; r < Group; r++)
                    image[r] = s.order[s.start + g * Group + Math.Min(r, rows - 1)] * pixels;
                ref ushort pixelOf = ref s.groupPixel[g * pixels];
                ref float valuesOf = ref s.groupValues[g * pixels * Group];
                int entries = 0, k = 0;
                for (; k + Vector256<byte>.Count <= pixels; k += Vector256<byte>.Count)
                {
                    var any = Vector256.LoadUnsafe(ref images[image[0] + k]) | Vector256.LoadUnsafe(ref images[image[1] + k])
                        | Vector256.LoadUnsafe(ref images[image[2] + k]) | Vector256.LoadUnsafe(ref images[image[3] + k]);
                    uint mask = ~Vector256.Equals(any, Vector256<byte>.Zero).ExtractMostSignificantBits();
                    for (; mask != 0; mask &= mask - 1)
                        Append(images, image, rows, k + BitOperations.TrailingZeroCount(mask), ref pixelOf, ref valuesOf, ref entries);
                }

                for (; k < pixels; k++)
                {
                    if ((images[image[0] + k] | images[image[1] + k] | images[image[2] + k] | images[image[3] + k]) != 0)
                        Append(images, image, rows, k, ref pixelOf, ref valuesOf, ref entries);
                }

                s.groupCount[g] = entries;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Append(byte[] images, ReadOnlySpan<int> image, int rows, int pixel, ref ushort pixelOf, ref float valuesOf, ref int entries)
        {
            Unsafe.Add(ref pixelOf, entries) = (ushort)pixel;
            ref float values = ref Unsafe.Add(ref valuesOf, entries * Group);
            values = Unit[images[image[0] + pixel]];
            Unsafe.Add(ref values, 1) = rows > 1 ? Unit[images[image[1] + pixel]] : 0f;
            Unsafe.Add(ref values, 2) = rows > 2 ? Unit[images[image[2] + pixel]] : 0f;
            Unsafe.Add(ref values, 3) = rows > 3 ? Unit[images[image[3] + pixel]] : 0f;
            entries++;
        }
    }

    private static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = new T[length];
    }

    private static T[] Storage<T>(DeviceArray<T> array)
        where T : unmanaged, INumber<T>
    {
        var host = HostArray<T, T>.Of(array);
        if (host.Offset != 0)
            throw new ArgumentException("the fused step works on whole arrays", nameof(array));
        return host.Storage;
    }

    private static (int From, int To) Share(int count, int parts, int part, int align)
    {
        int units = (count + align - 1) / align;
        return (Math.Min(count, units * part / parts * align), Math.Min(count, units * (part + 1) / parts * align));
    }

    /// <summary>
    /// Phase 1: h = ReLU(x·W1 + b1); each part a block of columns, each row group's pixels in
    /// order, four rows × two or four vectors of h in registers per pass.
    /// </summary>
    private sealed class HiddenForward(HostFusedStep<TVec> step) : IParallelWork
    {
        /// <summary>Vectors of each of the four rows per pass: 16 accumulators fit AVX-512's 32 registers, 8 AVX2's 16.</summary>
        private static int Vectors => TVec.Count >= 16 ? 4 : 2;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = step;
            int hidden = s.hidden, count = TVec.Count, width = Vectors * count;
            var (from, to) = Share(hidden, s.Parts(hidden), part, count);
            ref float w1 = ref MemoryMarshal.GetArrayDataReference(s.parameters);
            ref float bias = ref Unsafe.Add(ref w1, s.pixels * hidden);
            ref ushort pixelOf = ref MemoryMarshal.GetArrayDataReference(s.groupPixel);
            ref float valuesOf = ref MemoryMarshal.GetArrayDataReference(s.groupValues);
            for (int g = 0; g < s.RowGroups; g++)
            {
                int e0 = g * s.pixels, e1 = e0 + s.groupCount[g];
                int rows = Math.Min(Group, s.batch - g * Group);
                ref float h = ref s.h[g * Group * hidden];
                int col = from;
                for (; col + width <= to; col += width)
                {
                    if (Vectors == 4)
                        Block4(ref Unsafe.Add(ref pixelOf, e0), ref Unsafe.Add(ref valuesOf, e0 * Group), e1 - e0, ref Unsafe.Add(ref w1, col), hidden, ref Unsafe.Add(ref bias, col), ref Unsafe.Add(ref h, col), rows);
                    else
                        Block2(ref Unsafe.Add(ref pixelOf, e0), ref Unsafe.Add(ref valuesOf, e0 * Group), e1 - e0, ref Unsafe.Add(ref w1, col), hidden, ref Unsafe.Add(ref bias, col), ref Unsafe.Add(ref h, col), rows);
                }

                for (; col < to; col++)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        float acc = 0f;
                        for (int e = e0; e < e1; e++)
                            acc = TVec.ScalarMultiplyAdd(Unsafe.Add(ref valuesOf, e * Group + r), Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * hidden + col), acc);
                        Unsafe.Add(ref h, r * hidden + col) = Math.Max(acc + Unsafe.Add(ref bias, col), 0f);
                    }
                }
            }
        }

        /// <summary>Four rows × four vectors of h over the group's pixels: each W1 load feeds four rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block4(ref ushort pixelOf, ref float valuesOf, int entries, ref float w1, int stride, ref float bias, ref float h, int rows)
        {
            int count = TVec.Count;
            TVec a00 = TVec.Zero, a01 = TVec.Zero, a02 = TVec.Zero, a03 = TVec.Zero;
            TVec a10 = TVec.Zero, a11 = TVec.Zero, a12 = TVec.Zero, a13 = TVec.Zero;
            TVec a20 = TVec.Zero, a21 = TVec.Zero, a22 = TVec.Zero, a23 = TVec.Zero;
            TVec a30 = TVec.Zero, a31 = TVec.Zero, a32 = TVec.Zero, a33 = TVec.Zero;
            for (int e = 0; e < entries; e++)
            {
                ref float w = ref Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * stride);
                TVec w0 = TVec.Load(ref w), w1v = TVec.Load(ref Unsafe.Add(ref w, count));
                TVec w2 = TVec.Load(ref Unsafe.Add(ref w, 2 * count)), w3 = TVec.Load(ref Unsafe.Add(ref w, 3 * count));
                ref float x = ref Unsafe.Add(ref valuesOf, e * Group);
                var x0 = TVec.Broadcast(x);
                a00 = TVec.MultiplyAdd(x0, w0, a00); a01 = TVec.MultiplyAdd(x0, w1v, a01); a02 = TVec.MultiplyAdd(x0, w2, a02); a03 = TVec.MultiplyAdd(x0, w3, a03);
                var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
                a10 = TVec.MultiplyAdd(x1, w0, a10); a11 = TVec.MultiplyAdd(x1, w1v, a11); a12 = TVec.MultiplyAdd(x1, w2, a12); a13 = TVec.MultiplyAdd(x1, w3, a13);
                var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
                a20 = TVec.MultiplyAdd(x2, w0, a20); a21 = TVec.MultiplyAdd(x2, w1v, a21); a22 = TVec.MultiplyAdd(x2, w2, a22); a23 = TVec.MultiplyAdd(x2, w3, a23);
                var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
                a30 = TVec.MultiplyAdd(x3, w0, a30); a31 = TVec.MultiplyAdd(x3, w1v, a31); a32 = TVec.MultiplyAdd(x3, w2, a32); a33 = TVec.MultiplyAdd(x3, w3, a33);
            }

            StoreRow(ref h, ref bias, a00, a01, a02, a03);
            if (rows > 1)
                StoreRow(ref Unsafe.Add(ref h, stride), ref bias, a10, a11, a12, a13);
            if (rows > 2)
                StoreRow(ref Unsafe.Add(ref h, 2 * stride), ref bias, a20, a21, a22, a23);
            if (rows > 3)
                StoreRow(ref Unsafe.Add(ref h, 3 * stride), ref bias, a30, a31, a32, a33);
        }

        /// <summary>Four rows × two vectors of h: the AVX2 and portable shape of <see cref="Block4"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block2(ref ushort pixelOf, ref float valuesOf, int entries, ref float w1, int stride, ref float bias, ref float h, int rows)
        {
            int count = TVec.Count;
            TVec a00 = TVec.Zero, a01 = TVec.Zero, a10 = TVec.Zero, a11 = TVec.Zero;
            TVec a20 = TVec.Zero, a21 = TVec.Zero, a30 = TVec.Zero, a31 = TVec.Zero;
            for (int e = 0; e < entries; e++)
            {
                ref float w = ref Unsafe.Add(ref w1, Unsafe.Add(ref pixelOf, e) * stride);
                TVec w0 = TVec.Load(ref w), w1v = TVec.Load(ref Unsafe.Add(ref w, count));
                ref float x = ref Unsafe.Add(ref valuesOf, e * Group);
                var x0 = TVec.Broadcast(x);
                a00 = TVec.MultiplyAdd(x0, w0, a00); a01 = TVec.MultiplyAdd(x0, w1v, a01);
                var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
                a10 = TVec.MultiplyAdd(x1, w0, a10); a11 = TVec.MultiplyAdd(x1, w1v, a11);
                var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
                a20 = TVec.MultiplyAdd(x2, w0, a20); a21 = TVec.MultiplyAdd(x2, w1v, a21);
                var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
                a30 = TVec.MultiplyAdd(x3, w0, a30); a31 = TVec.MultiplyAdd(x3, w1v, a31);
            }

            StoreRow(ref h, ref bias, a00, a01);
            if (rows > 1)
                StoreRow(ref Unsafe.Add(ref h, stride), ref bias, a10, a11);
            if (rows > 2)
                StoreRow(ref Unsafe.Add(ref h, 2 * stride), ref bias, a20, a21);
            if (rows > 3)
                StoreRow(ref Unsafe.Add(ref h, 3 * stride), ref bias, a30, a31);
        }

        /// <summary>h = ReLU(sum + b1) for consecutive vectors of one row, bias added after the sum as the separate operation does.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow(ref float h, ref float bias, params ReadOnlySpan<TVec> sums)
        {
            int count = TVec.Count;
            for (int i = 0; i < sums.Length; i++)
                TVec.Store(TVec.Relu(TVec.Add(sums[i], TVec.Load(ref Unsafe.Add(ref bias, i * count)))), ref Unsafe.Add(ref h, i * count));
        }
    }

    /// <summary>Phase 2: per row, the output layer, softmax-cross-entropy and, training, dz and dh; each part a block of rows.</summary>
    private sealed class Tail(HostFusedStep<TVec> step) : IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = step;
            int hidden = s.hidden, classes = s.classes, padded = s.paddedClasses, count = TVec.Count;
            var (from, to) = Share(s.batch, s.Parts(s.batch), part, 1);
            // Room for four rows of logits (one vector each) after the row in use.
            var z = s.scratch[part].AsSpan(0, Math.Max(padded, 5 * count));
            ref float zRef = ref MemoryMarshal.GetReference(z);
            ref float w2 = ref MemoryMarshal.GetArrayDataReference(s.w2Padded);
            var bias = s.parameters.AsSpan(s.W2 + hidden * classes, classes);
            float scale = s.backward ? 1f / s.batch : 0f;
            for (int b = from; b < to; b++)
            {
                ref float hRow = ref s.h[b * hidden];
                if (padded == count)
                {
                    // The row's logits fit one vector: four rows at a time keep four independent
                    // chains of multiply-adds in registers. Zero activations are multiplied too, as
                    // the separate operation does (adding 0·w changes no bit), so no branch on the
                    // ReLU's random zeros stalls the loop.
                    if ((b - from) % 4 == 0)
                        LogitsOfFour(s, b, Math.Min(4, to - b), ref w2, z);
                    z.Slice((1 + ((b - from) % 4)) * count, count).CopyTo(z[..count]);
                }
                else
                {
                    z.Clear();
                    for (int j = 0; j < hidden; j++)
                    {
                        float value = Unsafe.Add(ref hRow, j);
                        if (value == 0f)
                            continue;
                        var a = TVec.Broadcast(value);
                        for (int q = 0; q < padded; q += count)
                            TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref w2, j * padded + q)), TVec.Load(ref Unsafe.Add(ref zRef, q))), ref Unsafe.Add(ref zRef, q));
                    }
                }

                var logits = s.logits.AsSpan(b * classes, classes);
                for (int c = 0; c < classes; c++)
                    logits[c] = z[c] + bias[c];
                var p = s.backward ? s.dzPadded.AsSpan(b * padded, classes) : s.output.AsSpan((s.outputOffset + b) * classes, classes);
                int label = s.labels[s.order[s.start + b]];
                s.losses[s.outputOffset + b] = HostBackend.SoftmaxRow(logits, p, label, scale, out int argmax);
                s.predictions[s.outputOffset + b] = argmax;
                if (!s.backward)
                    continue;
                s.dzPadded.AsSpan(b * padded + classes, padded - classes).Clear();
                HiddenGradientRow(s, b, p);
            }
        }

        /// <summary>z of rows b..b+rows−1 (at most four) into z[count..], one vector each, j in order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void LogitsOfFour(HostFusedStep<TVec> s, int b, int rows, ref float w2, Span<float> z)
        {
            int hidden = s.hidden, count = TVec.Count;
            ref float h0 = ref s.h[b * hidden];
            ref float h1 = ref Unsafe.Add(ref h0, Math.Min(1, rows - 1) * hidden);
            ref float h2 = ref Unsafe.Add(ref h0, Math.Min(2, rows - 1) * hidden);
            ref float h3 = ref Unsafe.Add(ref h0, Math.Min(3, rows - 1) * hidden);
            TVec z0 = TVec.Zero, z1 = TVec.Zero, z2 = TVec.Zero, z3 = TVec.Zero;
            for (int j = 0; j < hidden; j++)
            {
                var w = TVec.Load(ref Unsafe.Add(ref w2, j * count));
                z0 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h0, j)), w, z0);
                z1 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h1, j)), w, z1);
                z2 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h2, j)), w, z2);
                z3 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref h3, j)), w, z3);
            }

            ref float target = ref MemoryMarshal.GetReference(z);
            TVec.Store(z0, ref Unsafe.Add(ref target, count));
            TVec.Store(z1, ref Unsafe.Add(ref target, 2 * count));
            TVec.Store(z2, ref Unsafe.Add(ref target, 3 * count));
            TVec.Store(z3, ref Unsafe.Add(ref target, 4 * count));
        }

        /// <summary>
        /// dh[b] = dz[b]·W2ᵀ ⊙ [h[b] &gt; 0], vectorised over the hidden units: one pass per class
        /// over the row, in class order, so each element sums as the separate operation does.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void HiddenGradientRow(HostFusedStep<TVec> s, int b, ReadOnlySpan<float> dz)
        {
            int hidden = s.hidden, count = TVec.Count, whole = hidden / count * count;
            ref float wt = ref MemoryMarshal.GetArrayDataReference(s.w2Transposed);
            ref float hRow = ref s.h[b * hidden];
            ref float dhRow = ref s.dh[b * hidden];
            for (int c = 0; c < dz.Length; c++)
            {
                var a = TVec.Broadcast(dz[c]);
                ref float w = ref Unsafe.Add(ref wt, c * hidden);
                for (int j = 0; j < whole; j += count)
                    TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref w, j)), c == 0 ? TVec.Zero : TVec.Load(ref Unsafe.Add(ref dhRow, j))), ref Unsafe.Add(ref dhRow, j));
            }

            for (int j = 0; j < whole; j += count)
                TVec.Store(TVec.WherePositive(TVec.Load(ref Unsafe.Add(ref hRow, j)), TVec.Load(ref Unsafe.Add(ref dhRow, j))), ref Unsafe.Add(ref dhRow, j));
            for (int j = whole; j < hidden; j++)
            {
                float acc = 0f;
                for (int c = 0; c < dz.Length; c++)
                    acc = TVec.ScalarMultiplyAdd(dz[c], Unsafe.Add(ref wt, c * hidden + j), acc);
                Unsafe.Add(ref dhRow, j) = Unsafe.Add(ref hRow, j) > 0f ? acc : 0f;
            }
        }
    }

    /// <summary>
    /// Phase 3: W2's and b2's gradients ([hᵀ; 1ᵀ]·dz) and the optimizer; each part a block of rows of W2
    /// (the last is b2), whose gradient rows it accumulates over the batch, rows in order.
    /// </summary>
    private sealed class OutputGradients(HostFusedStep<TVec> step) : IParallelWork
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = step;
            int hidden = s.hidden, classes = s.classes, padded = s.paddedClasses, count = TVec.Count;
            var (from, to) = Share(hidden + 1, s.Parts(hidden + 1), part, 1);
            var g = s.scratch[part].AsSpan(0, (to - from) * padded);
            g.Clear();
            ref float gRef = ref MemoryMarshal.GetReference(g);
            ref float h = ref MemoryMarshal.GetArrayDataReference(s.h);
            ref float dz = ref MemoryMarshal.GetArrayDataReference(s.dzPadded);
            int j0 = from;
            if (padded == count)
            {
                // Eight rows of W2's gradient in registers at a time, over the batch in order;
                // zero activations multiply too (adding 0·dz changes no bit), so nothing branches.
                for (; j0 + 8 <= Math.Min(to, hidden); j0 += 8)
                    EightRows(s, j0, ref Unsafe.Add(ref gRef, (j0 - from) * padded));
            }

            for (int b = 0; b < s.batch; b++)
            {
                ref float hRow = ref Unsafe.Add(ref h, b * hidden);
                ref float dzRow = ref Unsafe.Add(ref dz, b * padded);
                for (int j = j0; j < to; j++)
                {
                    float value = j < hidden ? Unsafe.Add(ref hRow, j) : 1f;
                    if (value == 0f)
                        continue;
                    var a = TVec.Broadcast(value);
                    ref float gRow = ref Unsafe.Add(ref gRef, (j - from) * padded);
                    for (int q = 0; q < padded; q += count)
                        TVec.Store(TVec.MultiplyAdd(a, TVec.Load(ref Unsafe.Add(ref dzRow, q)), TVec.Load(ref Unsafe.Add(ref gRow, q))), ref Unsafe.Add(ref gRow, q));
                }
            }

            for (int j = from; j < to; j++)
            {
                int at = s.W2 + j * classes;
                s.Update(at, classes, g.Slice((j - from) * padded, classes));
            }
        }
    }

    /// <summary>Rows j0..j0+7 of W2's gradient, one vector each: g[j] = Σ_b h[b,j]·dz[b].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EightRows(HostFusedStep<TVec> s, int j0, ref float g)
    {
        int hidden = s.hidden, count = TVec.Count;
        ref float h = ref s.h[j0];
        ref float dz = ref MemoryMarshal.GetArrayDataReference(s.dzPadded);
        TVec g0 = TVec.Zero, g1 = TVec.Zero, g2 = TVec.Zero, g3 = TVec.Zero, g4 = TVec.Zero, g5 = TVec.Zero, g6 = TVec.Zero, g7 = TVec.Zero;
        for (int b = 0; b < s.batch; b++)
        {
            var d = TVec.Load(ref Unsafe.Add(ref dz, b * count));
            ref float hb = ref Unsafe.Add(ref h, b * hidden);
            g0 = TVec.MultiplyAdd(TVec.Broadcast(hb), d, g0);
            g1 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 1)), d, g1);
            g2 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 2)), d, g2);
            g3 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 3)), d, g3);
            g4 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 4)), d, g4);
            g5 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 5)), d, g5);
            g6 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 6)), d, g6);
            g7 = TVec.MultiplyAdd(TVec.Broadcast(Unsafe.Add(ref hb, 7)), d, g7);
        }

        TVec.Store(g0, ref g);
        TVec.Store(g1, ref Unsafe.Add(ref g, count));
        TVec.Store(g2, ref Unsafe.Add(ref g, 2 * count));
        TVec.Store(g3, ref Unsafe.Add(ref g, 3 * count));
        TVec.Store(g4, ref Unsafe.Add(ref g, 4 * count));
        TVec.Store(g5, ref Unsafe.Add(ref g, 5 * count));
        TVec.Store(g6, ref Unsafe.Add(ref g, 6 * count));
        TVec.Store(g7, ref Unsafe.Add(ref g, 7 * count));
    }

    /// <summary>
    /// Phase 4: W1's and b1's gradients ([xᵀ; 1ᵀ]·dh) and the optimizer; each part a block of groups of
    /// four pixels (the part after the last holds b1), each group summed over the batch rows in
    /// which any of its pixels is nonzero, rows in order.
    /// </summary>
    private sealed class HiddenGradients(HostFusedStep<TVec> step) : IParallelWork
    {
        /// <summary>Vectors of each pixel's gradient row per pass, as <see cref="HiddenForward"/>.</summary>
        private static int Vectors => TVec.Count >= 16 ? 4 : 2;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = step;
            int hidden = s.hidden, pixels = s.pixels, count = TVec.Count, width = Vectors * count;
            var (from, to) = Share(s.PixelGroups + 1, s.Parts(s.PixelGroups + 1), part, 1);
            var g = s.scratch[part].AsSpan(0, Group * hidden);
            ref float gRef = ref MemoryMarshal.GetReference(g);
            ref float dh = ref MemoryMarshal.GetArrayDataReference(s.dh);
            var rows = s.rowLists[part];
            var values = s.scratch[part].AsSpan(Group * hidden);
            for (int group = from; group < to; group++)
            {
                if (group == s.PixelGroups)
                {
                    // The ones row: b1's gradient is the column sum of dh (1·dh added in row order).
                    var gb = g[..hidden];
                    gb.Clear();
                    for (int b = 0; b < s.batch; b++)
                        AddRow(ref Unsafe.Add(ref dh, b * hidden), ref gRef, hidden);
                    int bias = pixels * hidden;
                    s.Update(bias, hidden, gb);
                    continue;
                }

                int k0 = group * Group, pixelsHere = Math.Min(Group, pixels - k0);
                int entries = BatchRows(s, k0, pixelsHere, rows, values);
                if (entries == 0)
                {
                    s.UpdateWithZeroGradient(k0 * hidden, pixelsHere * hidden);
                    continue;
                }

                ref float x = ref MemoryMarshal.GetReference(values);
                int col = 0;
                for (; col + width <= hidden; col += width)
                {
                    if (Vectors == 4)
                        Block4(rows, ref x, entries, ref Unsafe.Add(ref dh, col), hidden, ref Unsafe.Add(ref gRef, col));
                    else
                        Block2(rows, ref x, entries, ref Unsafe.Add(ref dh, col), hidden, ref Unsafe.Add(ref gRef, col));
                }

                for (; col < hidden; col++)
                {
                    for (int r = 0; r < Group; r++)
                    {
                        float acc = 0f;
                        for (int e = 0; e < entries; e++)
                            acc = TVec.ScalarMultiplyAdd(Unsafe.Add(ref x, e * Group + r), Unsafe.Add(ref dh, rows[e] * hidden + col), acc);
                        Unsafe.Add(ref gRef, r * hidden + col) = acc;
                    }
                }

                for (int r = 0; r < pixelsHere; r++)
                {
                    int at = (k0 + r) * hidden;
                    s.Update(at, hidden, g.Slice(r * hidden, hidden));
                }
            }
        }

        /// <summary>The batch rows in which any of pixels k0.. is nonzero, ascending, with the pixels' values; returns how many.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int BatchRows(HostFusedStep<TVec> s, int k0, int pixelsHere, int[] rows, Span<float> values)
        {
            // Every row is written and kept only when one of its pixels is nonzero: no branch on the
            // images' random zeros.
            int entries = 0;
            for (int b = 0; b < s.batch; b++)
            {
                int image = s.order[s.start + b] * s.pixels + k0;
                int any = 0;
                rows[entries] = b;
                for (int r = 0; r < Group; r++)
                {
                    byte value = r < pixelsHere ? s.images[image + r] : (byte)0;
                    any |= value;
                    values[entries * Group + r] = Unit[value];
                }

                entries += (int)((uint)-any >> 31);
            }

            return entries;
        }

        /// <summary>Four pixels × four vectors of the gradient over the listed batch rows: each dh load feeds four pixels.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block4(int[] rows, ref float valuesOf, int entries, ref float dh, int stride, ref float g)
        {
            int count = TVec.Count;
            TVec a00 = TVec.Zero, a01 = TVec.Zero, a02 = TVec.Zero, a03 = TVec.Zero;
            TVec a10 = TVec.Zero, a11 = TVec.Zero, a12 = TVec.Zero, a13 = TVec.Zero;
            TVec a20 = TVec.Zero, a21 = TVec.Zero, a22 = TVec.Zero, a23 = TVec.Zero;
            TVec a30 = TVec.Zero, a31 = TVec.Zero, a32 = TVec.Zero, a33 = TVec.Zero;
            ref int rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
            for (int e = 0; e < entries; e++)
            {
                ref float d = ref Unsafe.Add(ref dh, Unsafe.Add(ref rowOf, e) * stride);
                TVec d0 = TVec.Load(ref d), d1 = TVec.Load(ref Unsafe.Add(ref d, count));
                TVec d2 = TVec.Load(ref Unsafe.Add(ref d, 2 * count)), d3 = TVec.Load(ref Unsafe.Add(ref d, 3 * count));
                ref float x = ref Unsafe.Add(ref valuesOf, e * Group);
                var x0 = TVec.Broadcast(x);
                a00 = TVec.MultiplyAdd(x0, d0, a00); a01 = TVec.MultiplyAdd(x0, d1, a01); a02 = TVec.MultiplyAdd(x0, d2, a02); a03 = TVec.MultiplyAdd(x0, d3, a03);
                var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
                a10 = TVec.MultiplyAdd(x1, d0, a10); a11 = TVec.MultiplyAdd(x1, d1, a11); a12 = TVec.MultiplyAdd(x1, d2, a12); a13 = TVec.MultiplyAdd(x1, d3, a13);
                var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
                a20 = TVec.MultiplyAdd(x2, d0, a20); a21 = TVec.MultiplyAdd(x2, d1, a21); a22 = TVec.MultiplyAdd(x2, d2, a22); a23 = TVec.MultiplyAdd(x2, d3, a23);
                var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
                a30 = TVec.MultiplyAdd(x3, d0, a30); a31 = TVec.MultiplyAdd(x3, d1, a31); a32 = TVec.MultiplyAdd(x3, d2, a32); a33 = TVec.MultiplyAdd(x3, d3, a33);
            }

            Store(ref g, a00, a01, a02, a03);
            Store(ref Unsafe.Add(ref g, stride), a10, a11, a12, a13);
            Store(ref Unsafe.Add(ref g, 2 * stride), a20, a21, a22, a23);
            Store(ref Unsafe.Add(ref g, 3 * stride), a30, a31, a32, a33);
        }

        /// <summary>Four pixels × two vectors: the AVX2 and portable shape of <see cref="Block4"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block2(int[] rows, ref float valuesOf, int entries, ref float dh, int stride, ref float g)
        {
            int count = TVec.Count;
            TVec a00 = TVec.Zero, a01 = TVec.Zero, a10 = TVec.Zero, a11 = TVec.Zero;
            TVec a20 = TVec.Zero, a21 = TVec.Zero, a30 = TVec.Zero, a31 = TVec.Zero;
            ref int rowOf = ref MemoryMarshal.GetArrayDataReference(rows);
            for (int e = 0; e < entries; e++)
            {
                ref float d = ref Unsafe.Add(ref dh, Unsafe.Add(ref rowOf, e) * stride);
                TVec d0 = TVec.Load(ref d), d1 = TVec.Load(ref Unsafe.Add(ref d, count));
                ref float x = ref Unsafe.Add(ref valuesOf, e * Group);
                var x0 = TVec.Broadcast(x);
                a00 = TVec.MultiplyAdd(x0, d0, a00); a01 = TVec.MultiplyAdd(x0, d1, a01);
                var x1 = TVec.Broadcast(Unsafe.Add(ref x, 1));
                a10 = TVec.MultiplyAdd(x1, d0, a10); a11 = TVec.MultiplyAdd(x1, d1, a11);
                var x2 = TVec.Broadcast(Unsafe.Add(ref x, 2));
                a20 = TVec.MultiplyAdd(x2, d0, a20); a21 = TVec.MultiplyAdd(x2, d1, a21);
                var x3 = TVec.Broadcast(Unsafe.Add(ref x, 3));
                a30 = TVec.MultiplyAdd(x3, d0, a30); a31 = TVec.MultiplyAdd(x3, d1, a31);
            }

            Store(ref g, a00, a01);
            Store(ref Unsafe.Add(ref g, stride), a10, a11);
            Store(ref Unsafe.Add(ref g, 2 * stride), a20, a21);
            Store(ref Unsafe.Add(ref g, 3 * stride), a30, a31);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(ref float g, params ReadOnlySpan<TVec> sums)
        {
            for (int i = 0; i < sums.Length; i++)
                TVec.Store(sums[i], ref Unsafe.Add(ref g, i * TVec.Count));
        }

        /// <summary>g += 1·row, vectorised: the ones row's multiply-add.</summary>
        private static void AddRow(ref float row, ref float g, int length)
        {
            int count = TVec.Count, i = 0;
            var one = TVec.Broadcast(1f);
            for (; i + count <= length; i += count)
                TVec.Store(TVec.MultiplyAdd(one, TVec.Load(ref Unsafe.Add(ref row, i)), TVec.Load(ref Unsafe.Add(ref g, i))), ref Unsafe.Add(ref g, i));
            for (; i < length; i++)
                Unsafe.Add(ref g, i) = TVec.ScalarMultiplyAdd(1f, Unsafe.Add(ref row, i), Unsafe.Add(ref g, i));
        }
    }
}

/// <summary>The fused host step, whatever its vector width.</summary>
internal interface IHostFusedStep
{
    void Train(TrainingStep work, int start, int batch);

    void Evaluate(EvaluationPass work, int start, int batch);
}
