using MnistGpu.Engine.Model.Layers;
using Onnx;

namespace MnistGpu.Reports.Layers;

/// <summary>A layer kind's ONNX form: the initializers and nodes of one layer of it.</summary>
public interface IOnnxLayer
{
    ILayerKind Kind { get; }

    /// <summary>
    /// Adds <paramref name="layer"/> (the network's layer <paramref name="number"/>, from 1) to
    /// <paramref name="graph"/>, reading <paramref name="input"/> and writing <paramref name="output"/>
    /// before any ReLU; its parameters are <paramref name="parameters"/> (from the layer's offset)
    /// and what it keeps untrained <paramref name="state"/> (<see cref="Layer.StateCount"/> values).
    /// </summary>
    void Add(GraphProto graph, Layer layer, ReadOnlySpan<float> parameters, ReadOnlySpan<float> state, string input, string output, int number);
}

/// <summary>Every layer kind's form in this assembly's pictures and exports: one registration here per kind.</summary>
public static class ReportLayers
{
    private static readonly Lock Guard = new();
    private static IOnnxLayer[] onnx = [new DenseOnnx(), new Conv2DOnnx(), new MaxPool2DOnnx(), new FlattenOnnx(), new DropoutOnnx(), new BatchNormalizationOnnx()];

    /// <summary>Adds the ONNX form of a kind registered elsewhere (a test's, a plug-in's); registering one for the same kind again replaces it.</summary>
    public static void Register(IOnnxLayer form)
    {
        lock (Guard)
            onnx = [.. onnx.Where(known => !ReferenceEquals(known.Kind, form.Kind)), form];
    }

    /// <summary>The ONNX form of <paramref name="kind"/>, or null when none is registered.</summary>
    public static IOnnxLayer? Onnx(ILayerKind kind) => onnx.FirstOrDefault(form => ReferenceEquals(form.Kind, kind));
}
