using MnistGpu.Engine.Backends.Host;
using MnistGpu.Kernels;

namespace MnistGpu.Tests.Engine.Backends.Host;

/// <summary>
/// The host's convolutions, packed from the maps as the products read them, against the same
/// micro-kernel multiplying patches unrolled into memory first and folded back after: the same
/// bits for every vector width and any number of threads, 'valid' and 'same', whole and ragged
/// slivers and panels, kernel gradients summed by patch element and by filter (32 channels), and
/// sums longer than one chunk.
/// </summary>
public sealed class HostConvolutionProductsTests
{
    public static TheoryData<int, int, int, int, int, bool, int> Shapes => new()
    {
        // height, width, channels, kernel size, filters, same, batch
        { 13, 13, 32, 3, 64, false, 3 },
        { 6, 6, 32, 3, 10, true, 2 },
        { 28, 28, 1, 3, 32, false, 2 },
        { 9, 7, 2, 3, 5, true, 3 },
        { 6, 5, 3, 2, 4, true, 2 },
        { 5, 5, 3, 5, 40, false, 7 },
        { 4, 4, 3, 1, 2, false, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Packing_from_the_maps_gives_the_bits_of_unrolled_patches(int height, int width, int channels, int kernelSize, int filters, bool same, int batch)
    {
        int padding = same ? (kernelSize - 1) / 2 : 0, outputHeight = same ? height : height - kernelSize + 1, outputWidth = same ? width : width - kernelSize + 1;
        var shape = new ConvolutionShape(height, width, channels, kernelSize, filters, padding, outputHeight, outputWidth);
        Compare<PortableFloat>(shape, batch);
        if (Avx2Float.IsSupported)
            Compare<Avx2Float>(shape, batch);
        if (Avx512Float.IsSupported)
            Compare<Avx512Float>(shape, batch);
    }

    private static void Compare<TVec>(ConvolutionShape s, int batch)
        where TVec : struct, ISimdFloat<TVec>
    {
        var random = new Random(s.PatchSize * 31 + s.Filters);
        // Half the inputs and gradients exact zeros, as after a ReLU: the skipped steps must match too.
        float[] Values(int length) => [.. Enumerable.Range(0, length).Select(_ => random.Next(2) == 0 ? 0f : (float)(random.NextDouble() * 2 - 1))];
        var x = Values(batch * s.Height * s.Width * s.Channels);
        var kernels = Values(s.PatchSize * s.Filters);
        var bias = Values(s.Filters);
        var dy = Values(batch * s.Positions * s.Filters);
        var activation = Values(x.Length);

        var expected = Unrolled<TVec>(s, batch, x, kernels, bias, dy, activation);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var pool = new WorkerPool(threads);
            var products = new HostConvolutionProducts<TVec>(pool);
            var (y, dx, gradients) = (new float[batch * s.Positions * s.Filters], new float[x.Length], new float[(s.PatchSize + 1) * s.Filters]);
            products.Forward(s, x, kernels, bias, y, batch, withRelu: true);
            products.BackwardInput(s, dy, kernels, activation, dx, batch, mask: true);
            products.BackwardParameters(s, x, dy, gradients, batch);
            Assert.Equal(expected.Y, y);
            Assert.Equal(expected.Dx, dx);
            Assert.Equal(expected.Gradients, gradients);
        }
    }

    /// <summary>The three products through <see cref="HostMatMul{TVec}"/> over patches unrolled into memory, patch gradients folded in position order.</summary>
    private static (float[] Y, float[] Dx, float[] Gradients) Unrolled<TVec>(ConvolutionShape s, int batch, float[] x, float[] kernels, float[] bias, float[] dy, float[] activation)
        where TVec : struct, ISimdFloat<TVec>
    {
        int rows = batch * s.Positions;
        var patches = new float[rows * s.PatchSize];
        ForEachPatchElement(s, batch, (row, e, at) => patches[row * s.PatchSize + e] = at < 0 ? 0f : x[at]);

        using var pool = new WorkerPool(1);
        var matMul = new HostMatMul<TVec>(pool);
        var y = new float[rows * s.Filters];
        matMul.Multiply(MatMulProblem.Forward(rows, s.PatchSize, s.Filters, relu: true), patches, kernels, y, bias);
        var gradients = new float[(s.PatchSize + 1) * s.Filters];
        matMul.Multiply(MatMulProblem.BackwardParameters(rows, s.PatchSize, s.Filters), patches, dy, gradients, dy);
        var patchGradients = new float[rows * s.PatchSize];
        matMul.Multiply(MatMulProblem.BackwardInput(rows, s.PatchSize, s.Filters, relu: false), dy, kernels, patchGradients, dy);

        var dx = new float[x.Length];
        ForEachPatchElement(s, batch, (row, e, at) =>
        {
            if (at >= 0)
                dx[at] += patchGradients[row * s.PatchSize + e];
        });
        for (int i = 0; i < dx.Length; i++)
            dx[i] = activation[i] > 0f ? dx[i] : 0f;
        return (y, dx, gradients);
    }

    /// <summary>Every (patch row, patch element) in row order, with the input it reads (−1 in the padding).</summary>
    private static void ForEachPatchElement(ConvolutionShape s, int batch, Action<int, int, int> visit)
    {
        for (int row = 0; row < batch * s.Positions; row++)
        {
            int image = row / s.Positions, oh = row % s.Positions / s.OutputWidth, ow = row % s.OutputWidth;
            for (int e = 0; e < s.PatchSize; e++)
            {
                int i = e / (s.KernelSize * s.Channels), j = e / s.Channels % s.KernelSize, c = e % s.Channels;
                int h = oh + i - s.Padding, w = ow + j - s.Padding;
                bool inside = h >= 0 && h < s.Height && w >= 0 && w < s.Width;
                visit(row, e, inside ? ((image * s.Height + h) * s.Width + w) * s.Channels + c : -1);
            }
        }
    }
}
