using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>The pieces every layer's ONNX form is built from.</summary>
public static class OnnxGraph
{
    public static TensorProto Initializer(string name, ReadOnlySpan<float> values, params long[] dimensions)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(dimensions);
        tensor.FloatData.Add(values.ToArray());
        return tensor;
    }

    public static TensorProto Int64Initializer(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        return tensor;
    }

    public static NodeProto Node(string operation, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = operation, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }

    /// <summary><paramref name="node"/> with an attribute of integers (kernel_shape, pads, perm…).</summary>
    public static NodeProto With(this NodeProto node, string attribute, params long[] values)
    {
        var proto = new AttributeProto { Name = attribute, Type = AttributeProto.Types.AttributeType.Ints };
        proto.Ints.Add(values);
        node.Attribute.Add(proto);
        return node;
    }

    /// <summary>
    /// The name of <paramref name="input"/> as ONNX's convolutions and poolings take it, (N, C, H, W):
    /// the network's input rows [N, H·W·C] are reshaped to the engine's (N, H, W, C) and
    /// transposed (nodes added once, named after layer <paramref name="number"/>); feature maps
    /// between such layers are kept as (N, C, H, W) already.
    /// </summary>
    public static string ChannelsFirst(GraphProto graph, Layer layer, string input, int number)
    {
        if (layer.Input.Layout != FeatureLayout.Image)
            return input;
        graph.Initializer.Add(Int64Initializer($"shape{number}", -1, layer.Input.Height, layer.Input.Width, layer.Input.Channels));
        graph.Node.Add(Node("Reshape", $"images{number}", [input, $"shape{number}"], $"nhwc{number}"));
        graph.Node.Add(Node("Transpose", $"channels_first{number}", [$"nhwc{number}"], $"nchw{number}").With("perm", 0, 3, 1, 2));
        return $"nchw{number}";
    }
}
