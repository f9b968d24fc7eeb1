using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>
/// Dropout as an exported graph runs it, predicting: the identity. An Identity node, named for the
/// layer, keeps the layer visible in a graph viewer without an operation a runtime could train with.
/// </summary>
internal sealed class DropoutOnnx : IOnnxLayer
{
    public ILayerKind Kind => Dropout.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number) =>
        graph.Node.Add(OnnxGraph.Node("Identity", $"dropout{number}", [input], output));
}
