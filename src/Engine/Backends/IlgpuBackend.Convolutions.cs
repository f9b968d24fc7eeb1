using ILGPU;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// A convolution's launches: the implicit products (patches read in place, a pooling or the
/// images in their epilogues) or, for <see cref="ConvolutionAlgorithm.Unrolled"/>, the unrolled
/// composition around the matrix products; and the kernel gradient's chunks.
/// </summary>
public sealed partial class IlgpuBackend
{
    public void ConvolutionForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, DeviceArray<float> scratch, int batch, bool relu)
    {
        var s = layer.Shape;
        var operation = new LaunchLabel("conv forward", s.PatchSize, s.Filters);
        if (layer.Algorithm == ConvolutionAlgorithm.Implicit)
        {
            LaunchImplicit(implicitForward, batch * s.Positions, s.Filters, 1, ForwardArguments(layer, x, y, batch, relu, images: null), operation);
            return;
        }

        Patches(unroll, s, x, scratch, x, batch, relu: false);
        Multiply(MatMulProblem.Forward(batch * s.Positions, s.PatchSize, s.Filters, relu), scratch, layer.Matrix.Weights, y, layer.Matrix.Bias, operation);
    }

    /// <summary>
    /// The kernel gradient's sum over B·OH·OW positions in chunks of whole images of at most
    /// <see cref="ConvolutionKernels.ChunkRows"/> positions, each chunk's sums into the scratch
    /// (after the patches, when they are unrolled), then the chunks summed in order:
    /// deterministic, and no work item loops over a whole batch of positions. One chunk sums
    /// straight into the gradient.
    /// </summary>
    public void ConvolutionBackwardParameters(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch)
    {
        var s = gradients.Shape;
        int imagesPerChunk = ConvolutionKernels.ImagesPerChunk(s.Positions);
        int chunks = ConvolutionKernels.Chunks(batch, s.Positions);
        int parameters = (s.PatchSize + 1) * s.Filters;
        var operation = new LaunchLabel("conv backward parameters", s.PatchSize, s.Filters);
        if (gradients.Algorithm == ConvolutionAlgorithm.Implicit)
        {
            if (ConvolutionGradientChunks(gradients, x, dy, scratch, batch) > 1)
                SumChunks(scratch, 0, chunks, gradients.Matrix.All, parameters);
            return;
        }

        Patches(unroll, s, x, scratch, x, batch, relu: false);
        if (chunks == 1)
        {
            Multiply(MatMulProblem.BackwardParameters(batch * s.Positions, s.PatchSize, s.Filters), scratch, dy, gradients.Matrix.All, dy, operation);
            return;
        }

        int partialsStart = batch * s.Positions * s.PatchSize;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            int first = chunk * imagesPerChunk, rows = Math.Min(imagesPerChunk, batch - first) * s.Positions;
            var dyChunk = Slice(dy, first * s.Positions * s.Filters, rows * s.Filters);
            Multiply(
                MatMulProblem.BackwardParameters(rows, s.PatchSize, s.Filters),
                Slice(scratch, first * s.Positions * s.PatchSize, rows * s.PatchSize),
                dyChunk,
                Slice(scratch, partialsStart + chunk * parameters, parameters),
                dyChunk,
                operation);
        }

        SumChunks(scratch, partialsStart, chunks, gradients.Matrix.All, parameters);
    }

    public void ConvolutionBackwardInput(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, DeviceArray<float> scratch, int batch, bool relu)
    {
        var s = layer.Shape;
        if (layer.Algorithm == ConvolutionAlgorithm.Implicit)
        {
            int inputs = batch * s.Height * s.Width;
            LaunchImplicit(implicitBackwardInput, inputs, s.Channels, 1, BackwardInputArguments(layer, dy, activation, dx, inputs * s.Channels, batch, relu), new LaunchLabel("conv backward input", s.Filters, s.PatchSize));
            return;
        }

        Multiply(MatMulProblem.BackwardInput(batch * s.Positions, s.PatchSize, s.Filters, relu: false), dy, layer.Matrix.Weights, scratch, dy, new LaunchLabel("conv backward input patches", s.Filters, s.PatchSize));
        Patches(fold, s, dx, scratch, activation, batch, relu);
    }

    /// <summary>
    /// For a step runner: a convolution with ReLU and the 2×2 max pooling after it in one launch.
    /// pooled (B,OH/2,OW/2,F) gets each window's maximum; <paramref name="mask"/> (B,OH,OW,F), the
    /// convolution's output array, that maximum at its position and 0 at the window's other three
    /// (a dropped last row or column is left as it was): what
    /// <see cref="ConvolutionBackwardInputThroughPool"/> and <see cref="MaxPoolBackward"/> (with its ReLU mask) need of it.
    /// </summary>
    /// <param name="images">When set, the network's first convolution: x is read straight from the split's images, and the batch's labels gathered in the same launch (<see cref="ConvolutionInput.FromImages"/>); x is then unread.</param>
    internal void ConvolutionPoolForward(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> mask, DeviceArray<float> pooled, int batch, BatchImages? images = null)
    {
        var s = layer.Shape;
        int windows = batch * (s.OutputHeight / 2) * (s.OutputWidth / 2);
        var arguments = ForwardArguments(layer, x, mask, batch, relu: true, images) with
        {
            Pooled = View(pooled).SubView(0, windows * s.Filters),
            PoolHeight = s.OutputHeight,
            PoolWidth = s.OutputWidth,
        };
        LaunchImplicit(implicitForward, windows * 4, s.Filters, 1, arguments, new LaunchLabel(images is null ? "conv forward + maxpool" : "gather + conv forward + maxpool", s.PatchSize, s.Filters));
    }

    /// <summary>
    /// For a step runner: a convolution's input gradient, its input the output of a 2×2 max
    /// pooling, sent on through that pooling in the same launch: dx (B,H,W,C) of the maps below
    /// the pooling (<paramref name="below"/>), each window's gradient at its maximum as
    /// <paramref name="mask"/> (<see cref="ConvolutionPoolForward"/>'s) marks it, 0 elsewhere.
    /// <paramref name="relu"/> masks by <paramref name="activation"/>, the pooling's output.
    /// </summary>
    internal void ConvolutionBackwardInputThroughPool(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, MapShape below, DeviceArray<float> mask, DeviceArray<float> dx, int batch, bool relu)
    {
        var s = layer.Shape;
        int inputs = batch * s.Height * s.Width, belowLength = batch * below.Size;
        var arguments = BackwardInputArguments(layer, dy, activation, dx, belowLength, batch, relu) with
        {
            PoolMask = View(mask).SubView(0, belowLength),
            PoolHeight = below.Height,
            PoolWidth = below.Width,
        };
        LaunchImplicit(implicitBackwardInput, inputs, s.Channels, 1, arguments, new LaunchLabel("conv backward input + maxpool backward", s.Filters, s.PatchSize));
    }

    /// <summary>
    /// For a step runner: a convolution's kernel gradient in its implicit form, its chunks' partial
    /// sums left in <paramref name="scratch"/> for <see cref="OptimizerUpdateSummingChunks"/> to
    /// add; one chunk sums straight into the gradient. Returns the number of chunks.
    /// </summary>
    /// <param name="images">When set, x is read straight from the split's images, as <see cref="ConvolutionPoolForward"/> read them.</param>
    /// <param name="update">
    /// When set, the optimizer's update of the layer's parameters in the epilogue (<see cref="EpilogueUpdate"/>):
    /// only for one chunk, where one work item or group sums each gradient whole; the layer's input
    /// gradient must have read the kernels already.
    /// </param>
    /// <exception cref="InvalidOperationException">An update asked of a gradient summed in chunks.</exception>
    internal int ConvolutionGradientChunks(ConvolutionParameters gradients, DeviceArray<float> x, DeviceArray<float> dy, DeviceArray<float> scratch, int batch, BatchImages? images = null, ParameterUpdate? update = null)
    {
        var s = gradients.Shape;
        int imagesPerChunk = ConvolutionKernels.ImagesPerChunk(s.Positions);
        int chunks = ConvolutionKernels.Chunks(batch, s.Positions);
        int parameters = (s.PatchSize + 1) * s.Filters;
        var sums = chunks == 1 ? gradients.Matrix.All : scratch;
        var arguments = new ConvolutionBackwardParametersArguments
        {
            Input = Input(x, images),
            OutputGradients = View(dy),
            Sums = View(sums).SubView(0, chunks * parameters),
            Shape = s,
            Batch = batch,
            ImagesPerChunk = imagesPerChunk,
            Update = new ParameterUpdate { Weights = View(x), State1 = View(x), State2 = View(x) },
        };
        var operation = new LaunchLabel("conv backward parameters", s.PatchSize, s.Filters);
        if (update is { } epilogue)
        {
            if (chunks > 1)
                throw new InvalidOperationException($"a kernel gradient summed in {chunks} chunks has no single owner per parameter to update it in its epilogue");
            RequireLength(epilogue, parameters);
            arguments = arguments with { Update = epilogue, UpdateParameters = 1 };
            operation = new LaunchLabel(ConvolutionUpdatingOperations[(int)epilogue.Step.Rule], s.PatchSize, s.Filters);
        }

        LaunchImplicit(implicitBackwardParameters, s.PatchSize + 1, s.Filters, chunks, arguments, operation);
        return chunks;
    }

    private void SumChunks(DeviceArray<float> scratch, int partialsStart, int chunks, DeviceArray<float> sums, int parameters)
    {
        var arguments = new PartialSumArguments
        {
            Partials = View(scratch).SubView(partialsStart, chunks * parameters),
            Sums = View(sums),
            Chunks = chunks,
        };
        Launch(sumPartials, launch.For(parameters), arguments, new LaunchLabel("conv backward parameters, chunks summed"));
    }

    /// <summary>One implicit product (M, N) over <paramref name="chunks"/> chunks.</summary>
    private void LaunchImplicit<T>(Kernel<T> kernel, int m, int n, int chunks, T arguments, LaunchLabel operation)
        where T : struct =>
        Launch(kernel, launch.ForImplicitConvolution(m, n, chunks), arguments, operation);

    /// <summary>The maps a product reads: x, or the split's images when <paramref name="images"/> is set; any view where one is unread.</summary>
    private static ConvolutionInput Input(DeviceArray<float> x, BatchImages? images) =>
        images is not { } batch
            ? new() { Maps = View(x), Images = View(x).Cast<byte>(), Order = View(x).Cast<int>() }
            : new()
            {
                Maps = View(x),
                Images = View(batch.Source.Images),
                Order = View(batch.Source.Order),
                Start = batch.Start,
                FromImages = 1,
                Mean = batch.Source.Scaling.Mean,
                InverseDeviation = batch.Source.Scaling.InverseDeviation,
            };

    /// <summary>The forward's arguments, without pooling: y cut to what it writes, any view where one is unread; from the images it gathers the batch's labels.</summary>
    private static ConvolutionForwardArguments ForwardArguments(ConvolutionParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu, BatchImages? images)
    {
        var s = layer.Shape;
        return new()
        {
            Input = Input(x, images),
            Parameters = View(layer.Matrix.All),
            Output = View(y).SubView(0, batch * s.Positions * s.Filters),
            Pooled = View(x),
            Labels = images is { } source ? View(source.Source.Labels) : View(x).Cast<byte>(),
            BatchLabels = images is { } target ? View(target.Labels).SubView(0, batch) : View(x).Cast<int>(),
            Shape = s,
            Batch = batch,
            Relu = relu ? 1 : 0,
        };
    }

    /// <summary>The input gradient's arguments, without pooling: dx cut to <paramref name="dxLength"/>, the pool mask's view unread.</summary>
    private static ConvolutionBackwardInputArguments BackwardInputArguments(ConvolutionParameters layer, DeviceArray<float> dy, DeviceArray<float> activation, DeviceArray<float> dx, int dxLength, int batch, bool relu) => new()
    {
        OutputGradients = View(dy),
        Parameters = View(layer.Matrix.All),
        InputGradients = View(dx).SubView(0, dxLength),
        Activation = View(activation),
        PoolMask = View(dy),
        Shape = layer.Shape,
        Batch = batch,
        Relu = relu ? 1 : 0,
    };

    /// <summary>
    /// Unrolls <paramref name="maps"/> into the scratch's first B·OH·OW·k·k·C floats (the products
    /// read only those), or folds them back into <paramref name="maps"/>: <paramref name="kernel"/> says which.
    /// </summary>
    private void Patches(Kernel<PatchArguments> kernel, ConvolutionShape s, DeviceArray<float> maps, DeviceArray<float> scratch, DeviceArray<float> activation, int batch, bool relu)
    {
        int mapLength = batch * s.Height * s.Width * s.Channels, patchLength = batch * s.Positions * s.PatchSize;
        var arguments = new PatchArguments
        {
            Maps = View(maps).SubView(0, mapLength),
            Patches = View(scratch).SubView(0, patchLength),
            Activation = View(activation).SubView(0, mapLength),
            Shape = s,
            Relu = relu ? 1 : 0,
        };
        bool unrolling = ReferenceEquals(kernel, unroll);
        Launch(kernel, launch.For(unrolling ? patchLength : mapLength), arguments, new LaunchLabel(unrolling ? "conv unroll patches" : "conv fold patches"));
    }
}
