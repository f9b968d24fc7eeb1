using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>A 2×2 max pooling as ONNX's MaxPool on (N, C, H, W), stride 2; ONNX floors the output as Keras does.</summary>
internal sealed class MaxPool2DOnnx : IOnnxLayer
{
    public ILayerKind Kind => MaxPool2D.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number) =>
        graph.Node.Add(OnnxGraph.Node("MaxPool", $"maxpool{number}", [OnnxGraph.ChannelsFirst(graph, layer, input, number)], output)
            .With("kernel_shape", 2, 2)
            .With("strides", 2, 2));
}
