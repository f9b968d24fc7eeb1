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

    public static NodeProto Node(string operation, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = operation, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }
}
