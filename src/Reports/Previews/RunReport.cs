using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;

namespace MnistGpu.Reports.Previews;

/// <summary>What a report says about the run that produced the network.</summary>
/// <param name="Device">The device's name, e.g. "host:0 (AVX-512, 2 threads)".</param>
/// <param name="DataSource">Where the data came from: a folder, or the bundled set (<see cref="Engine.Data.MnistData.Source"/>).</param>
/// <param name="Written">When the report was made, for the reader who finds it months later.</param>
/// <param name="FirstLayer">A convnet's first convolution and one digit's feature maps, for their pictures; null for other networks.</param>
public sealed record RunReport(
    string Device, string DataSource, NetworkShape Shape, TrainingSettings Settings, IReadOnlyList<EpochResult> History, Evaluation Test, DateTimeOffset Written,
    FirstLayerPictures? FirstLayer = null);

/// <summary>
/// What the first convolution learned and what it sees: its kernels (k,k,C,F) as trained, and
/// test digit <paramref name="DigitIndex"/>'s feature maps (OH,OW,F) after its ReLU.
/// </summary>
public sealed record FirstLayerPictures(Conv2DLayerShape Layer, float[] Kernels, int DigitIndex, float[] Maps)
{
    /// <summary>
    /// The pictures of <paramref name="checkpoint"/>'s first layer when it is a convolution, else null;
    /// <paramref name="featureMaps"/> runs the network on a digit's pixels and returns the first layer's output.
    /// </summary>
    public static FirstLayerPictures? Of(Checkpoint checkpoint, LabeledImages testSet, int digitIndex, Func<float[], float[]> featureMaps)
    {
        if (checkpoint.Shape.Layers[0] is not Conv2DLayerShape conv || testSet.Count <= digitIndex)
            return null;
        int weights = conv.KernelSize * conv.KernelSize * conv.Input.Channels * conv.Filters;
        var pixels = testSet.Images.Skip(digitIndex * testSet.Pixels).Take(testSet.Pixels).Select(p => p / 255f).ToArray();
        return new FirstLayerPictures(conv, checkpoint.Parameters.AsSpan(conv.Offset, weights).ToArray(), digitIndex, featureMaps(pixels));
    }
}
