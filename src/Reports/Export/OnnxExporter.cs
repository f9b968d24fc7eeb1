using Google.Protobuf;
using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Layers;
using Onnx;

namespace MnistGpu.Reports.Export;

/// <summary>
/// Writes a checkpoint's network as an ONNX model: input "input" float [N, inputs] in [0,1]
/// (byte / 255; a standardised network's first nodes subtract its mean and multiply by its
/// inverse deviation, as its kernels do), each layer in its kind's form (<see cref="ReportLayers"/>; a dense layer is a Gemm, a
/// convolution a Conv on channels-first maps), a Relu after each layer that has one, then
/// Softmax: output "probabilities" float [N, classes].
/// </summary>
public static class OnnxExporter
{
    /// <summary>ONNX IR version 8 with operator set 13: understood by every ONNX Runtime since 1.10.</summary>
    private const long IrVersion = 8;
    private const long OperatorSet = 13;

    public const string InputName = "input";
    public const string OutputName = "probabilities";

    /// <summary>About the size of the exported file: the float weights and a little structure.</summary>
    public static long FileBytes(NetworkShape shape) => 4L * shape.ParameterCount + (64 << 10);

    /// <summary>Writes the model and returns its operators in order ("Gemm -> Relu -> … -> Softmax"), read from the graph written.</summary>
    /// <exception cref="EngineException">Writing failed (disk full, I/O error).</exception>
    public static string Export(Checkpoint checkpoint, string path)
    {
        var model = Build(checkpoint);
        OutputFile.Write(path, model.ToByteArray());
        return string.Join(" -> ", model.Graph.Node.Select(node => node.OpType));
    }

    public static ModelProto Build(Checkpoint checkpoint)
    {
        var shape = checkpoint.Shape;
        var parameters = checkpoint.Parameters.AsSpan();
        var graph = new GraphProto { Name = $"mnistgpu {shape}" };
        graph.Input.Add(Tensor(InputName, shape.Inputs));
        graph.Output.Add(Tensor(OutputName, shape.Classes));
        string activation = Standardized(graph, shape.Scaling);
        for (int i = 0; i < shape.Layers.Count; i++)
        {
            var layer = shape.Layers[i];
            int number = i + 1;
            bool last = i == shape.Layers.Count - 1;
            var form = ReportLayers.Onnx(layer.Kind) ?? throw new EngineException($"no ONNX form is registered for {layer.Kind.Name} layers");
            string linear = last ? "logits" : $"linear{number}";
            form.Add(graph, layer, parameters.Slice(layer.Offset, (int)layer.ParameterCount), checkpoint.LayerState.AsSpan(shape.StateOffset(i), layer.StateCount), activation, linear, number);
            if (last)
                break;
            activation = linear;
            if (!layer.Relu)
                continue;
            activation = $"hidden{number}";
            graph.Node.Add(OnnxGraph.Node("Relu", $"relu{number}", [linear], activation));
        }

        var softmax = OnnxGraph.Node("Softmax", "softmax", ["logits"], OutputName);
        softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(softmax);

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "mnistgpu",
            DocString = $"Keras MNIST network trained by MnistGpu: {checkpoint.Position.EpochsDone} epochs, seed {checkpoint.Settings.Seed}",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OperatorSet });
        return model;
    }

    /// <summary>The name of the input as the first layer reads it: (input − mean) · (1 / deviation) for a standardised network, the input itself otherwise.</summary>
    private static string Standardized(GraphProto graph, InputScaling scaling)
    {
        if (scaling.IsUnit)
            return InputName;
        graph.Initializer.Add(OnnxGraph.Initializer("input_mean", [scaling.Mean]));
        graph.Initializer.Add(OnnxGraph.Initializer("input_inverse_deviation", [scaling.InverseDeviation]));
        graph.Node.Add(OnnxGraph.Node("Sub", "centre", [InputName, "input_mean"], "centred"));
        graph.Node.Add(OnnxGraph.Node("Mul", "standardize", ["centred", "input_inverse_deviation"], "standardized"));
        return "standardized";
    }

    private static ValueInfoProto Tensor(string name, int width)
    {
        var tensorShape = new TensorShapeProto();
        tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape },
            },
        };
    }
}
