using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>
/// A convolution as ONNX's Conv on (N, C, H, W): "K{n}" its kernels transposed from the engine's
/// (k, k, in, out) to ONNX's (out, in, k, k), "b{n}" its biases, and 'same' as Keras pads it
/// ((k−1)/2 before, the rest after).
/// </summary>
internal sealed class Conv2DOnnx : IOnnxLayer
{
    public ILayerKind Kind => Conv2D.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number)
    {
        var conv = (Conv2DLayerShape)layer;
        int k = conv.KernelSize, channels = conv.Input.Channels, filters = conv.Filters;
        var kernels = new float[k * k * channels * filters];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++)
            {
                for (int c = 0; c < channels; c++)
                {
                    for (int f = 0; f < filters; f++)
                        kernels[((f * channels + c) * k + i) * k + j] = parameters[((i * k + j) * channels + c) * filters + f];
                }
            }
        }

        graph.Initializer.Add(OnnxGraph.Initializer($"K{number}", kernels, filters, channels, k, k));
        graph.Initializer.Add(OnnxGraph.Initializer($"b{number}", parameters.Slice(kernels.Length, filters), filters));
        long before = conv.Same ? (k - 1) / 2 : 0, after = conv.Same ? k - 1 - before : 0;
        graph.Node.Add(OnnxGraph.Node("Conv", $"conv{number}", [OnnxGraph.ChannelsFirst(graph, layer, input, number), $"K{number}", $"b{number}"], output)
            .With("kernel_shape", k, k)
            .With("strides", 1, 1)
            .With("pads", before, before, after, after));
    }
}
