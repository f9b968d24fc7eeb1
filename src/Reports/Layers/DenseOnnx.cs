using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>
/// A dense layer as ONNX's Gemm: "W{n}" (inputs, outputs), as the engine keeps it, is Gemm's B
/// operand without a transpose, and "b{n}" (outputs) its C.
/// </summary>
internal sealed class DenseOnnx : IOnnxLayer
{
    public ILayerKind Kind => Dense.Kind;

    public void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number)
    {
        var dense = (DenseLayerShape)layer;
        graph.Initializer.Add(OnnxGraph.Initializer($"W{number}", parameters[..dense.WeightCount], dense.Inputs, dense.Outputs));
        graph.Initializer.Add(OnnxGraph.Initializer($"b{number}", parameters.Slice(dense.WeightCount, dense.Outputs), dense.Outputs));
        graph.Node.Add(OnnxGraph.Node("Gemm", $"dense{number}", [input, $"W{number}", $"b{number}"], output));
    }
}
