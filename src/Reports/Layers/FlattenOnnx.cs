using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>
/// Flatten in the engine's channels-last order: feature maps, kept as (N, C, H, W) in the graph,
/// are transposed back to (N, H, W, C) first, so the dense weights after it read what they were
/// trained on; flat rows pass through.
/// </summary>
internal sealed class FlattenOnnx : IOnnxLayer
{
    public ILayerKind Kind => Flatten.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number)
    {
        if (layer.Input.Layout == FeatureLayout.Maps)
        {
            graph.Node.Add(OnnxGraph.Node("Transpose", $"channels_last{number}", [input], $"nhwc{number}").With("perm", 0, 2, 3, 1));
            input = $"nhwc{number}";
        }

        graph.Node.Add(OnnxGraph.Node("Flatten", $"flatten{number}", [input], output));
    }
}
