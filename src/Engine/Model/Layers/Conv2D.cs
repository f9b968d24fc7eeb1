using System.Globalization;
using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// 2-D convolutions, Keras' Conv2D with stride 1: k×k kernels (k,k,C,F) then biases (F), so the
/// parameters are one (k·k·C+1, F) matrix, the layout of a dense layer over the unrolled patches.
/// Spec: "conv3x3:32" (valid padding, ReLU), with ":same" for 'same' padding and ":linear" for
/// no activation, e.g. "conv5x5:16:same:linear". Its reference is
/// <see cref="Reference.ReferenceMath.ConvolutionForward"/> and the two backward forms; its
/// kernels <see cref="ConvolutionKernels"/> around <see cref="MatMulKernels"/>.
/// </summary>
public sealed class Conv2D : ILayerKind
{
    private Conv2D()
    {
    }

    public static Conv2D Kind { get; } = new();

    public string Name => "conv";

    public string Usage => "conv<k>x<k>:<filters>[:same][:linear]";

    public string TypeName => "Conv2D";

    public Layer Create(string argument, FeatureShape input, long offset)
    {
        var parts = argument.Split(':');
        var size = parts[0].Split('x');
        int k = 0, k2 = -1, filters = 0;
        bool wellFormed = parts.Length >= 2 && size.Length == 2 && Whole(size[0], out k) && Whole(size[1], out k2) && Whole(parts[1], out filters);
        if (!wellFormed || k != k2 || parts.Skip(2).Any(option => !Options.ContainsKey(option)))
            throw new UserInputException($"a convolution is written conv<k>x<k>:<filters>[:same][:linear], e.g. conv3x3:32, not 'conv{argument}'");

        // Each option sets padding or activation once: "same:valid" or "linear:relu" would leave
        // the meaning to whichever came last, and a checkpoint would record the contradiction.
        var given = parts.Skip(2).ToList();
        foreach (var setting in given.GroupBy(option => Options[option]))
        {
            var named = setting.ToList();
            if (named.Count > 1)
            {
                string what = named.Distinct().Count() == 1 ? $"'{named[0]}' is given twice" : $"'{string.Join("' and '", named.Distinct())}' contradict each other";
                throw new UserInputException($"conv{argument}: {what}; give the {setting.Key} once");
            }
        }

        bool same = given.Contains("same"), relu = !given.Contains("linear");
        return new Conv2DLayerShape(input, k, filters, same, relu, offset);
    }

    public string Format(string argument) => $"{Name}{argument}";

    /// <summary>A convolution's options after its size and filters, and what each sets.</summary>
    private static readonly Dictionary<string, string> Options = new()
    {
        ["same"] = "padding",
        ["valid"] = "padding",
        ["relu"] = "activation",
        ["linear"] = "activation",
    };

    private static bool Whole(string text, out int value) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}

/// <summary>A convolution's geometry and its place in the flat parameter array: kernels (k,k,C,F), then biases (F).</summary>
public sealed class Conv2DLayerShape(FeatureShape input, int kernelSize, int filters, bool same, bool relu, long offset)
    : Layer(Conv2D.Kind, input, OutputOf(input, kernelSize, filters, same), offset)
{
    public int KernelSize { get; } = kernelSize;

    public int Filters { get; } = filters;

    public bool Same { get; } = same;

    public override bool Relu => relu;

    public override long ParameterCount => Sizes.Product(Sizes.Sum(Sizes.Product(KernelSize, KernelSize, Input.Channels), 1), Filters);

    /// <summary>
    /// The unrolled patches of a batch row (OH·OW rows of k·k·C), and room for one image's share
    /// of the kernel gradient's partial sums (a backend may sum it in chunks of images).
    /// </summary>
    public override long ScratchPerRow => Sizes.Sum(Sizes.Product(Output.Height, Output.Width, KernelSize, KernelSize, Input.Channels), ParameterCount);

    public override LayerSpec Spec => new(Conv2D.Kind, $"{KernelSize}x{KernelSize}:{Filters}{(Same ? ":same" : "")}{(Relu ? "" : ":linear")}");

    public override string? Problem =>
        Input.Layout == FeatureLayout.Flat ? $"a convolution takes the images or feature maps, not the {Input} flat values of a flatten or dense layer before it"
        : KernelSize < 1 ? "a convolution's kernel is at least 1x1"
        : Filters < 1 ? $"a convolution needs at least 1 filter, not {Filters}"
        : !Same && (KernelSize > Input.Height || KernelSize > Input.Width) ? $"a {KernelSize}x{KernelSize} kernel is larger than its {Input} input"
        : Same && KernelSize > MaxSameKernel ? $"a 'same' kernel is at most {MaxSameKernel}x{MaxSameKernel} on a {Input} input (twice its larger side less one: a larger kernel reads nothing but padding beyond that), not {KernelSize}x{KernelSize}"
        : null;

    /// <summary>What the kernels take: the geometry of an accepted layer (whose sizes fit an int).</summary>
    public ConvolutionShape Geometry => new(Input.Height, Input.Width, Input.Channels, KernelSize, Filters, Same ? (KernelSize - 1) / 2 : 0, Output.Height, Output.Width);

    /// <summary>The largest 'same' kernel with a use: from any output position it already reaches every input position.</summary>
    private long MaxSameKernel => 2L * Math.Max(Input.Height, Input.Width) - 1;

    private int WeightCount => KernelSize * KernelSize * Input.Channels * Filters;

    /// <summary>Glorot-uniform kernels, U(−l, l) with l = √(6 / (k·k·C + k·k·F)), Keras' fans for a convolution; zero biases.</summary>
    public override void Initialize(Span<float> parameters, Random random, Initializer initializer)
    {
        int area = KernelSize * KernelSize;
        Initialization.Fill(parameters[..WeightCount], parameters[WeightCount..], area * Input.Channels, area * Filters, random, initializer);
    }

    public override string Locate(int index)
    {
        if (index >= WeightCount)
            return $"bias [{index - WeightCount}]";
        int f = index % Filters, rest = index / Filters;
        int c = rest % Input.Channels;
        rest /= Input.Channels;
        return $"kernel [{rest / KernelSize}, {rest % KernelSize}, {c}, {f}]";
    }

    public override LayerOnDevice Bind(ITrainingBackend backend, LayerArrays arrays) =>
        new Conv2DOnDevice(Within(backend, arrays.Parameters, arrays.Convolutions), Within(backend, arrays.Gradients, arrays.Convolutions), arrays);

    /// <summary>This layer's kernels and biases as views into a flat array of the network's layout, computed by <paramref name="algorithm"/> on ILGPU devices.</summary>
    public ConvolutionParameters Within(ITrainingBackend backend, DeviceArray<float> flat, ConvolutionAlgorithm algorithm = ConvolutionAlgorithm.Implicit)
    {
        int patch = KernelSize * KernelSize * Input.Channels;
        var matrix = new DenseParameters(
            backend.Slice(flat, Offset, (int)ParameterCount),
            backend.Slice(flat, Offset, WeightCount),
            backend.Slice(flat, Offset + WeightCount, Filters),
            patch,
            Filters);
        return new ConvolutionParameters(matrix, Geometry, algorithm);
    }

    /// <summary>'valid': H − k + 1 by W − k + 1; 'same': H by W (Keras pads (k−1)/2 before, the rest after).</summary>
    private static FeatureShape OutputOf(FeatureShape input, int kernelSize, int filters, bool same) =>
        same ? new(input.Height, input.Width, filters, FeatureLayout.Maps)
        : new((int)Math.Max(0L, (long)input.Height - kernelSize + 1), (int)Math.Max(0L, (long)input.Width - kernelSize + 1), filters, FeatureLayout.Maps);
}

/// <summary>A convolution on a backend: its parameters and gradients (views into the flat arrays), output, output gradient and the shared scratch.</summary>
public sealed class Conv2DOnDevice(ConvolutionParameters parameters, ConvolutionParameters gradients, LayerArrays arrays)
    : LayerOnDevice(arrays.Output, arrays.OutputGradient)
{
    public ConvolutionParameters Parameters { get; } = parameters;

    public ConvolutionParameters Gradients { get; } = gradients;

    public override void Forward(ITrainingBackend backend, DeviceArray<float> x, int batch, bool relu, StepContext context) =>
        backend.ConvolutionForward(Parameters, x, Output, arrays.Scratch, batch, relu);

    public override void BackwardParameters(ITrainingBackend backend, DeviceArray<float> x, int batch, StepContext context) =>
        backend.ConvolutionBackwardParameters(Gradients, x, OutputGradient, arrays.Scratch, batch);

    public override void BackwardInput(ITrainingBackend backend, DeviceArray<float> activation, DeviceArray<float> dx, int batch, bool relu, StepContext context) =>
        backend.ConvolutionBackwardInput(Parameters, OutputGradient, activation, dx, arrays.Scratch, batch, relu);
}
