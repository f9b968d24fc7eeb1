using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>
/// A batch normalisation as an exported graph runs it, predicting: ONNX's BatchNormalization with
/// γ ("bn_scale{n}"), β, and the moving mean and variance, ε 1e-3, over channel axis 1 — of
/// (N, C, H, W) maps (the images reshaped first when it comes first) or of (N, C) rows.
/// </summary>
internal sealed class BatchNormalizationOnnx : IOnnxLayer
{
    public ILayerKind Kind => BatchNormalization.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number)
    {
        int features = ((BatchNormLayerShape)layer).Features;
        string[] names = [$"bn_scale{number}", $"bn_bias{number}", $"bn_mean{number}", $"bn_variance{number}"];
        graph.Initializer.Add(OnnxGraph.Initializer(names[0], parameters[..features], features));
        graph.Initializer.Add(OnnxGraph.Initializer(names[1], parameters[features..], features));
        graph.Initializer.Add(OnnxGraph.Initializer(names[2], state[..features], features));
        graph.Initializer.Add(OnnxGraph.Initializer(names[3], state[features..], features));
        var node = OnnxGraph.Node("BatchNormalization", $"batchnorm{number}", [OnnxGraph.ChannelsFirst(graph, layer, input, number), .. names], output);
        node.Attribute.Add(new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = Engine.Operations.BatchNormalization.BatchNormOperation.Epsilon });
        graph.Node.Add(node);
    }
}
