using System.Globalization;

namespace MnistGpu.Engine.Data;

/// <summary>
/// What a network does to each pixel byte before its first layer: x = (byte / 255 − Mean) / Deviation.
/// <see cref="Unit"/> (mean 0, deviation 1: pixels in [0, 1]) is the default; <c>--standardize</c>
/// takes one mean and one standard deviation over every pixel of the training split
/// (<see cref="Standardizing"/>), kept with the network so that evaluation, prediction, serving
/// and export apply the same. The kernels compute (byte / 255 − Mean) · <see cref="InverseDeviation"/>,
/// which for the unit scaling is byte / 255 to the bit.
/// </summary>
public sealed record InputScaling
{
    /// <exception cref="UserInputException">The mean is not finite, or the deviation not a positive finite number.</exception>
    public InputScaling(float mean, float deviation)
    {
        if (!float.IsFinite(mean) || !float.IsFinite(deviation) || deviation <= 0 || !float.IsFinite(1f / deviation))
            throw new UserInputException(string.Create(CultureInfo.InvariantCulture, $"an input scaling needs a finite mean and a positive deviation, got mean {mean} and deviation {deviation}"));
        (Mean, Deviation) = (mean, deviation);
    }

    /// <summary>Pixels as byte / 255, in [0, 1].</summary>
    public static InputScaling Unit { get; } = new(0f, 1f);

    public float Mean { get; }

    public float Deviation { get; }

    public bool IsUnit => Mean == 0f && Deviation == 1f;

    /// <summary>What the kernels multiply by: 1 / <see cref="Deviation"/> in single precision.</summary>
    public float InverseDeviation => 1f / Deviation;

    /// <summary>
    /// The mean and (population) standard deviation of byte / 255 over every pixel of
    /// <paramref name="split"/>, from exact integer sums, so the same split always gives the same
    /// two floats. MNIST's training set gives 0.1307 and 0.3081.
    /// </summary>
    /// <exception cref="UserInputException">Every pixel of the split has the same value: there is no deviation to divide by.</exception>
    public static InputScaling Standardizing(LabeledImages split)
    {
        long sum = 0, squares = 0;
        foreach (byte value in split.Images)
        {
            sum += value;
            squares += value * value;
        }

        double count = split.Images.Length;
        double mean = sum / count;
        double variance = Math.Max(0, (squares / count) - (mean * mean));
        if (variance == 0)
            throw new UserInputException($"--standardize needs pixels that vary, but every pixel of the {split.Name} set is {split.Images.FirstOrDefault()}");
        return new InputScaling((float)(mean / 255), (float)(Math.Sqrt(variance) / 255));
    }

    /// <summary>Scales <paramref name="pixels"/>, given as byte / 255, in place exactly as the kernels do: nothing for the unit scaling.</summary>
    public void ApplyInPlace(Span<float> pixels)
    {
        if (IsUnit)
            return;
        System.Numerics.Tensors.TensorPrimitives.Subtract(pixels, Mean, pixels);
        System.Numerics.Tensors.TensorPrimitives.Multiply(pixels, InverseDeviation, pixels);
    }

    /// <summary>The pixel <paramref name="value"/> (a byte) as the network's first layer reads it, in double precision: the references' form.</summary>
    public double Apply(double value) => ((value / 255.0) - Mean) / Deviation;

    /// <summary>"mean 0.1307, deviation 0.3081", for summaries.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"mean {Mean:0.####}, deviation {Deviation:0.####}");
}
