using System.Numerics;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Operations;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Steps;
using MnistGpu.Engine.Training;

namespace MnistGpu.Engine.Verification;

/// <summary>
/// Proves a device computes what the reference computes: every operation on seeded random inputs
/// at the training shapes and at awkward ones (odd sizes, a batch of one), then two real training
/// steps, each compared element by element with <see cref="ReferenceBackend"/>. The test suite
/// runs these same checks on every accelerator it finds; <c>mnistgpu verify</c> runs them on one.
/// </summary>
public sealed partial class DeviceVerifier : IDisposable
{
    // Float sums of up to 784 products of values in [-1, 1] drift from the double sum by ~1e-5;
    // a wrong index or a missed edge is off by far more than this.
    private const double MatMulAbsolute = 1e-4;
    private const double MatMulRelative = 1e-4;

    /// <summary>(batch, inputs, outputs): both layers of a training step, the last partial batch, and awkward sizes.</summary>
    private static readonly (int Batch, int Inputs, int Outputs)[] DenseShapes =
    [
        (128, 784, 512), (128, 512, 10), (96, 784, 512), (1, 784, 512), (1, 1, 1), (13, 29, 11), (7, 5, 3), (33, 17, 9),
    ];

    /// <summary>
    /// (batch, height, width, channels, kernel, filters, same): the convnet's second layer at a
    /// small batch, both paddings, an even kernel's asymmetric 'same', a 1×1 kernel, rectangular maps.
    /// </summary>
    private static readonly ConvolutionCase[] ConvolutionShapes =
    [
        new(16, 28, 28, 1, 3, 8, false), new(2, 13, 13, 32, 3, 64, false), new(3, 9, 7, 2, 3, 5, false), new(3, 9, 7, 2, 3, 5, true), new(2, 6, 5, 3, 2, 4, true), new(1, 4, 4, 3, 1, 2, false), new(2, 5, 5, 1, 5, 3, false),
    ];

    /// <summary>(batch, height, width, channels): the convnet's poolings and odd sizes, whose last row and column are dropped.</summary>
    /// <summary>
    /// A small convnet with both paddings, a linear convolution, and a first layer without a
    /// pooling (so the fused step gathers the batch rather than reading the images in it): what
    /// the training checks run beside the dense ones.
    /// </summary>
    private static readonly LayerSpec[] SmallConvnet = LayerSpec.ParseList("conv3x3:8:same:linear,conv3x3:12,maxpool,conv3x3:16,maxpool,flatten,32");

    /// <summary>
    /// A convnet small enough for a simulator, on 7×7 digits: a pooling that drops a row and a
    /// column and whose gradient the convolution above sends through, an even kernel's 'same', and a
    /// pooling before a flatten.
    /// </summary>
    private static readonly LayerSpec[] TinyConvnet = LayerSpec.ParseList("conv3x3:4,maxpool,conv2x2:5:same,maxpool,flatten,8");

    /// <summary>Every optimizer and form the engine runs, with Keras' defaults.</summary>
    private static readonly (string Name, OptimizerSettings Settings)[] Optimizers =
    [
        ("rmsprop", OptimizerSettings.RmsProp),
        ("adam", OptimizerSettings.Adam),
        ("sgd", OptimizerSettings.Sgd),
        ("sgd momentum", OptimizerSettings.Sgd with { Momentum = 0.9f }),
        ("sgd nesterov", OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true }),
    ];

    private static readonly (VerifierCheck Check, Func<DeviceVerifier, CheckResult> Run)[] All =
    [
        .. DenseShapes.Select(s => Check($"dense forward {Name(s)}", CheckKind.MatMul, Largest(s), v => v.DenseForward(s, relu: false))),
        .. DenseShapes.Select(s => Check($"dense forward+relu {Name(s)}", CheckKind.MatMul, Largest(s), v => v.DenseForward(s, relu: true))),
        .. DenseShapes.Select(s => Check($"dense backward input {Name(s)}", CheckKind.MatMul, Largest(s), v => v.DenseBackwardInput(s))),
        .. DenseShapes.Select(s => Check($"dense backward parameters {Name(s)}", CheckKind.MatMul, Largest(s), v => v.DenseBackwardParameters(s))),
        .. ConvolutionShapes.SelectMany(c => new[] { ConvolutionAlgorithm.Implicit, ConvolutionAlgorithm.Unrolled }.Select(algorithm => c with { Algorithm = algorithm }).SelectMany(s => new[]
        {
            Check($"conv forward {s}{s.Form}", CheckKind.Convolution, s.Largest, v => v.ConvolutionForward(s, relu: false)),
            Check($"conv forward+relu {s}{s.Form}", CheckKind.Convolution, s.Largest, v => v.ConvolutionForward(s, relu: true)),
            Check($"conv backward input {s}{s.Form}", CheckKind.Convolution, s.Largest, v => v.ConvolutionBackwardInput(s, relu: false)),
            Check($"conv backward input+relu mask {s}{s.Form}", CheckKind.Convolution, s.Largest, v => v.ConvolutionBackwardInput(s, relu: true)),
            Check($"conv backward parameters {s}{s.Form}", CheckKind.Convolution, s.Largest, v => v.ConvolutionBackwardParameters(s)),
        })),
        .. Optimizers.SelectMany(o => new[] { 407_050, 1, 1_001 }.Select(n => Check($"{o.Name} {n}", CheckKind.Optimizer, n, v => v.OptimizerCheck(o.Name, o.Settings, n)))),
        Check("training: 2 steps of 784-512-10, rmsprop (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(new TrainingSettings { Seed = 4 })),
        Check("training: 2 steps of 784-64-32-16-10, adam (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(new TrainingSettings { Seed = 4, Layers = [64, 32, 16], Optimizer = OptimizerSettings.Adam })),
        Check("training: 2 steps of 784-64-10, sgd nesterov (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(new TrainingSettings { Seed = 4, Layers = [64], Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true } })),
        // SGD, not RMSprop: a convolution's gradient sums tens of thousands of terms, and where they
        // cancel to near zero, RMSprop's g/√v turns rounding's sign into a full step either way.
        Check($"training: 2 steps of 784-{NetworkShape.FormatLayers(SmallConvnet).Replace(',', '-')}-10, sgd momentum (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(new TrainingSettings { Seed = 4, Layers = SmallConvnet, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f } }), convolutional: true),
        Check("fused step vs composition: 2 steps of 49-32-10, batch 16 (7x7 digits)", CheckKind.FusedStep, 64, v => v.FusedAgainstComposition(Shrunk(v.digits.Take(32)), new TrainingSettings { Seed = 5, HiddenUnits = 32, BatchSize = 16 }, 1e-5)),
        Check("fused step vs composition: 2 steps of 784-512-10 (128 + 72 digits)", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), new TrainingSettings { Seed = 4 }, 1e-5)),
        Check("fused step vs composition: an epoch of 2,000 digits", CheckKind.FusedStep, 2_000, v => v.FusedAgainstComposition(v.digits.Take(2_000), new TrainingSettings { Seed = 6 }, 1e-4)),
        Check("fused step vs composition: 2 steps of 784-512-10, adam", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), new TrainingSettings { Seed = 4, Optimizer = OptimizerSettings.Adam }, 1e-5)),
        Check("fused step vs composition: 2 steps of 784-512-10, sgd nesterov", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), new TrainingSettings { Seed = 4, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true } }, 1e-5)),
        // The deep stack's fused path, a dropout folded into its first launch and tail, and run in place between.
        Check("fused step vs composition: 2 steps of 49-24-dropout:0.5-20-12-dropout:0.25-10, batch 16, sgd nesterov", CheckKind.FusedStep, 64, v => v.FusedAgainstComposition(Shrunk(v.digits.Take(32)), new TrainingSettings { Seed = 5, Layers = LayerSpec.ParseList("24,dropout:0.5,20,12,dropout:0.25"), BatchSize = 16, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true } }, 1e-5)),
        Check("fused step vs composition: an epoch of 2,000 digits, 784-64-32-10, adam", CheckKind.FusedStep, 2_000, v => v.FusedAgainstComposition(v.digits.Take(2_000), new TrainingSettings { Seed = 6, Layers = [64, 32], Optimizer = OptimizerSettings.Adam }, 1e-4)),
        Check("fused step vs composition: 4 steps of the Keras convnet, batch 64, rmsprop (3x64 + 8 digits)", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), new TrainingSettings { Seed = 4, Layers = TrainingSettings.Convnet.Layers, BatchSize = 64 }, v.ConvolutionFormTolerance), convolutional: true),
        Check($"fused step vs composition: 2 steps of 784-{NetworkShape.FormatLayers(SmallConvnet).Replace(',', '-')}-10, sgd momentum (128 + 72 digits)", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), new TrainingSettings { Seed = 4, Layers = SmallConvnet, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f } }, v.ConvolutionFormTolerance), convolutional: true),
        Check($"fused step vs composition: 2 steps of 49-{NetworkShape.FormatLayers(TinyConvnet).Replace(',', '-')}-10, batch 16, sgd momentum (7x7 digits)", CheckKind.FusedStep, 64, v => v.FusedAgainstComposition(Shrunk(v.digits.Take(32)), new TrainingSettings { Seed = 5, Layers = TinyConvnet, BatchSize = 16, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f } }, v.ConvolutionFormTolerance), convolutional: true),
        Check($"fused step vs composition: 2 steps of 49-{NetworkShape.FormatLayers(TinyConvnet).Replace(',', '-')}-10, batch 16, adam (7x7 digits)", CheckKind.FusedStep, 64, v => v.FusedAgainstComposition(Shrunk(v.digits.Take(32)), new TrainingSettings { Seed = 5, Layers = TinyConvnet, BatchSize = 16, Optimizer = OptimizerSettings.Adam }, v.ConvolutionFormTolerance), convolutional: true),
        // The first convolution reads standardised pixels straight from the images in the fused step, through the gather when composed.
        Check($"fused step vs composition: 2 steps of 49-{NetworkShape.FormatLayers(TinyConvnet).Replace(',', '-')}-10, standardized, fan-in-uniform, batch 16, adam (7x7 digits)", CheckKind.FusedStep, 64, v => v.FusedAgainstComposition(Shrunk(v.digits.Take(32)), new TrainingSettings { Seed = 5, Layers = TinyConvnet, BatchSize = 16, Optimizer = OptimizerSettings.Adam, Standardize = true, Initializer = Initializer.FanInUniform }, v.ConvolutionFormTolerance), convolutional: true),
        Check($"training: 2 steps of 784-{NetworkShape.FormatLayers(SmallConvnet).Replace(',', '-')}-10, standardized, sgd momentum (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(new TrainingSettings { Seed = 4, Layers = SmallConvnet, Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f }, Standardize = true }), convolutional: true),
        Check("fused evaluation vs composition: 200 digits, the Keras convnet", CheckKind.FusedStep, 784, v => v.FusedEvaluation(v.digits.Take(200), new TrainingSettings { Seed = 7, Layers = TrainingSettings.Convnet.Layers }), convolutional: true),
        Check("fused evaluation vs composition: 1,000 digits", CheckKind.FusedStep, 1_000, v => v.FusedEvaluation(v.digits.Take(1_000), new TrainingSettings { Seed = 7 })),
        Check("fused evaluation vs composition: 1,000 digits, 784-64-32-10", CheckKind.FusedStep, 1_000, v => v.FusedEvaluation(v.digits.Take(1_000), new TrainingSettings { Seed = 7, Layers = [64, 32] })),
        .. OperationChecks.All.Select(c => Check(c.Name, CheckKind.Operation, c.LargestDimension, v => v.Brought(c), c.Convolutional)),
        .. OperationChecks.Networks.SelectMany(n => new[]
        {
            Check($"training: 2 steps of 784-{n.Layers.Replace(',', '-')}-10, sgd momentum (128 + 72 digits)", CheckKind.TrainingStep, 784, v => v.TrainingSteps(Brought(n)), convolutional: n.Layers.Contains("conv", StringComparison.Ordinal)),
            Check($"fused step vs composition: 2 steps of 784-{n.Layers.Replace(',', '-')}-10, sgd momentum (128 + 72 digits)", CheckKind.FusedStep, 784, v => v.FusedAgainstComposition(v.digits.Take(200), Brought(n), v.ConvolutionFormTolerance), convolutional: n.Layers.Contains("conv", StringComparison.Ordinal)),
        }),
    ];


    private readonly ITrainingBackend device;
    private readonly ITrainingBackend reference;
    private readonly bool ownsReference;
    private readonly LabeledImages digits;
    private readonly DevicePair pair;

    /// <summary>The checks' shapes: an epoch of 2,000 real 28×28 digits is the largest.</summary>
    public const int DigitsNeeded = 2_000;

    public const int DigitSide = 28;

    /// <param name="digits">Real training images for the training and fused-step checks: at least <see cref="DigitsNeeded"/> of 28×28.</param>
    /// <param name="against">What the device is compared with; default: the double-precision reference.</param>
    /// <exception cref="UserInputException">Too few images, or not 28×28, for the checks' shapes.</exception>
    public DeviceVerifier(ITrainingBackend device, LabeledImages digits, ITrainingBackend? against = null)
    {
        if (digits.Count < DigitsNeeded || digits.Rows != DigitSide || digits.Columns != DigitSide)
            throw new UserInputException($"the checks need at least {DigitsNeeded:N0} training images of {DigitSide}x{DigitSide}; this set has {digits.Count:N0} of {digits.Rows}x{digits.Columns} (verify without --data uses the bundled MNIST)");
        this.device = device;
        this.digits = digits;
        reference = against ?? new ReferenceBackend();
        ownsReference = against is null;
        pair = new DevicePair(device, reference);
    }

    /// <summary>Every check, in the order <see cref="RunAll"/> runs them.</summary>
    public static IReadOnlyList<VerifierCheck> Checks { get; } = Array.ConvertAll(All, c => c.Check);

    public static IReadOnlyList<string> CheckNames { get; } = Checks.Select(c => c.Name).ToList();

    public CheckResult Run(string checkName)
    {
        var check = Array.Find(All, c => c.Check.Name == checkName);
        if (check.Run is null)
            throw new ArgumentException($"no check '{checkName}'", nameof(checkName));
        try
        {
            return check.Run(this);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or UserInputException))
        {
            // A device that fails a check fails that check only: the row names the error and the
            // kernel, and the other checks still run.
            string kernel = device is IlgpuBackend { LastKernelIssued: { } name } ? $" in {name}" : "";
            return new CheckResult(check.Check.Name, "-", double.NaN, double.NaN, 0, 0, $"the device failed{kernel}: {Describe(e)}");
        }
        finally
        {
            pair.Release();
        }
    }

    public IEnumerable<CheckResult> RunAll() => CheckNames.Select(Run);

    /// <summary>
    /// The form a check runs in on this device, so that rows of the same operation tell apart:
    /// a convolution "unrolled" (patches, then a product) or "implicit, panels"/"implicit, tiles"
    /// (ILGPU) or "implicit, host SIMD"; a fused check "fused vs composed"; else "".
    /// </summary>
    public string FormOf(VerifierCheck check)
    {
        if (check.Kind == CheckKind.FusedStep)
            return "fused vs composed";
        if (check.Kind != CheckKind.Convolution || !check.Name.StartsWith("conv ", StringComparison.Ordinal))
            return "";
        if (check.Name.EndsWith(" unrolled", StringComparison.Ordinal))
            return "unrolled";
        return device is IlgpuBackend ilgpu ? $"implicit, {(ilgpu.Launches.ConvolutionLayout == KernelLayout.Tiled ? "tiles" : "panels")}" : "implicit, host SIMD";
    }

    /// <summary>An OpenCL or CUDA error by its code (ILGPU's own message says only the exception's type).</summary>
    private static string Describe(Exception e) => e switch
    {
        ILGPU.Runtime.OpenCL.CLException cl => $"{cl.Error} ({e.GetType().Name})",
        ILGPU.Runtime.Cuda.CudaException cuda => $"{cuda.Error} ({e.GetType().Name})",
        _ => $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}",
    };

    public void Dispose()
    {
        if (ownsReference)
            reference.Dispose();
    }

    private static (VerifierCheck, Func<DeviceVerifier, CheckResult>) Check(string name, CheckKind kind, int largestDimension, Func<DeviceVerifier, CheckResult> run, bool convolutional = false) =>
        (new VerifierCheck(name, kind, largestDimension) { Convolutional = convolutional || kind == CheckKind.Convolution }, run);

    /// <summary>An operation's own check, compared as every other: the row's operation is its name up to the last word, the shape.</summary>
    private CheckResult Brought(OperationCheck check)
    {
        var outcome = check.Run(pair);
        int cut = check.Name.LastIndexOf(' ');
        var comparison = new Comparison(check.Name[..cut], check.Name[(cut + 1)..], check.Absolute, check.Relative);
        foreach (var (what, expected, actual) in outcome.Arrays)
            comparison = comparison.Compare(what, expected, actual);
        return comparison.Require(outcome.Problem is null, outcome.Problem ?? "").Result();
    }

    /// <summary>The settings a brought network trains with: SGD with momentum, which a convolution's cancelling sums cannot turn into full steps either way.</summary>
    private static TrainingSettings Brought(NetworkCheck network) => new()
    {
        Seed = 4,
        Layers = LayerSpec.ParseList(network.Layers),
        Optimizer = OptimizerSettings.Sgd with { Momentum = 0.9f },
    };

    private static int Largest((int Batch, int Inputs, int Outputs) s) => Math.Max(s.Batch, Math.Max(s.Inputs, s.Outputs));

    private static string Name((int Batch, int Inputs, int Outputs) s) => $"{s.Batch}x{s.Inputs}x{s.Outputs}";


    private CheckResult DenseForward((int Batch, int Inputs, int Outputs) s, bool relu)
    {
        var random = new Random(s.Batch + s.Inputs * 7 + s.Outputs * 13);
        var layer = Layer(random, s.Inputs, s.Outputs);
        var x = pair.Both(Uniform(random, s.Batch * s.Inputs));
        var y = pair.Zeros<float>(s.Batch * s.Outputs);

        device.DenseForward(layer.Device, x.Device, y.Device, s.Batch, relu);
        reference.DenseForward(layer.Reference, x.Reference, y.Reference, s.Batch, relu);

        var actual = pair.Actual(y.Device);
        return new Comparison(relu ? "dense forward+relu" : "dense forward", Name(s), MatMulAbsolute, MatMulRelative)
            .Compare("y", pair.Expected(y.Reference), actual)
            .Require(!relu || actual.All(v => v >= 0f), "a ReLU output is negative")
            .Result();
    }

    private CheckResult DenseBackwardInput((int Batch, int Inputs, int Outputs) s)
    {
        var random = new Random(s.Batch + s.Inputs * 5 + s.Outputs * 11);
        var layer = Layer(random, s.Inputs, s.Outputs);
        var dy = pair.Both(Uniform(random, s.Batch * s.Outputs));
        // About half the activations are zero, as after a ReLU, so the mask matters.
        var activation = pair.Both(Uniform(random, s.Batch * s.Inputs).Select(v => Math.Max(v, 0f)).ToArray());
        var dx = pair.Zeros<float>(s.Batch * s.Inputs);

        device.DenseBackwardInput(layer.Device, dy.Device, activation.Device, dx.Device, s.Batch, relu: true);
        reference.DenseBackwardInput(layer.Reference, dy.Reference, activation.Reference, dx.Reference, s.Batch, relu: true);

        return new Comparison("dense backward input", Name(s), MatMulAbsolute, MatMulRelative)
            .Compare("dx", pair.Expected(dx.Reference), pair.Actual(dx.Device))
            .Result();
    }

    private CheckResult DenseBackwardParameters((int Batch, int Inputs, int Outputs) s)
    {
        var random = new Random(s.Batch + s.Inputs * 3 + s.Outputs * 17);
        var gradients = Layer(random, s.Inputs, s.Outputs);
        var x = pair.Both(Uniform(random, s.Batch * s.Inputs));
        var dy = pair.Both(Uniform(random, s.Batch * s.Outputs));

        device.DenseBackwardParameters(gradients.Device, x.Device, dy.Device, s.Batch);
        reference.DenseBackwardParameters(gradients.Reference, x.Reference, dy.Reference, s.Batch);

        return new Comparison("dense backward parameters", Name(s), MatMulAbsolute, MatMulRelative)
            .Compare("dW", pair.Expected(gradients.Reference.Weights), pair.Actual(gradients.Device.Weights))
            .Compare("db", pair.Expected(gradients.Reference.Bias), pair.Actual(gradients.Device.Bias))
            .Result();
    }

    /// <summary>Three updates (Adam's bias correction differs in each) from random weights, gradients and state.</summary>
    private CheckResult OptimizerCheck(string name, OptimizerSettings optimizer, int count)
    {
        var random = new Random(count);
        var weights = pair.Both(Uniform(random, count));
        var gradients = pair.Both(Uniform(random, count, -0.1f, 0.1f));
        var state = Enumerable.Range(0, optimizer.StateArrays)
            .Select(a => pair.Both(optimizer.StateIsSquares(a) ? Uniform(random, count, 0f, 0.01f) : Uniform(random, count, -0.01f, 0.01f)))
            .ToList();
        var onDevice = new OptimizerState(state.Select(s => s.Device).ToList());
        var onReference = new OptimizerState(state.Select(s => s.Reference).ToList());
        for (int step = 1; step <= 3; step++)
        {
            device.OptimizerUpdate(weights.Device, gradients.Device, onDevice, optimizer.ForUpdate(step));
            reference.OptimizerUpdate(weights.Reference, gradients.Reference, onReference, optimizer.ForUpdate(step));
        }

        var comparison = new Comparison(name, $"{count}, 3 steps", 1e-6, 1e-5)
            .Compare("weights", pair.Expected(weights.Reference), pair.Actual(weights.Device));
        for (int a = 0; a < state.Count; a++)
            comparison = comparison.Compare(optimizer.StateName(a), pair.Expected(state[a].Reference), pair.Actual(state[a].Device));
        return comparison.Result();
    }

    /// <summary>
    /// The trainer's own code on both backends: 200 real digits in batches of 128, so one full
    /// and one partial step. One RMSprop or Adam step moves a weight by about 1e-3 to 3e-3, so
    /// 2e-5 is far below a step that went the wrong way or was skipped.
    /// </summary>
    private CheckResult TrainingSteps(TrainingSettings settings)
    {
        var subset = digits.Take(Math.Min(200, digits.Count));
        using var onDevice = new Trainer(device, subset, settings);
        using var onReference = new Trainer(reference, subset, settings);
        var deviceEpoch = onDevice.TrainEpoch();
        var referenceEpoch = onReference.TrainEpoch();

        return new Comparison("training", $"{subset.Count} digits, {deviceEpoch.Steps} steps", 2e-5, 0)
            .Compare("parameters", pair.Expected(onReference.Network.Parameters), onDevice.Network.GetParameters())
            .Require(Math.Abs(deviceEpoch.Loss - referenceEpoch.Loss) <= 1e-5, $"mean loss {deviceEpoch.Loss}, reference {referenceEpoch.Loss}")
            .Require(deviceEpoch.Accuracy == referenceEpoch.Accuracy, $"accuracy {deviceEpoch.Accuracy}, reference {referenceEpoch.Accuracy}")
            .Result();
    }

    /// <summary>
    /// The fused step (the device's fused runner, <see cref="Steps.StepRunners"/>, where it has one) against
    /// the same step composed of the separate operations on the same device, from the same start.
    /// Only the order of float sums may differ (the tiled tail sums a row's dot products in a
    /// tree), which RMSprop's g/√v amplifies where gradients are near zero: after two steps 1e-5,
    /// a three-hundredth of one step's move (measured 2e-6 on PoCL's tiles; the panels agree
    /// exactly). On a device that fuses nothing both runs compose and agree exactly.
    /// </summary>
    private CheckResult FusedAgainstComposition(LabeledImages subset, TrainingSettings settings, double tolerance)
    {
        var (composed, composedEpoch) = TrainOnce(subset, settings, fused: false);
        var (fused, fusedEpoch) = TrainOnce(subset, settings, fused: true);
        return new Comparison("fused step", $"{subset.Count} digits of {subset.Pixels} pixels, {fusedEpoch.Steps} steps", tolerance, tolerance)
            .Compare("parameters", Array.ConvertAll(composed, v => (double)v), fused)
            .Require(Math.Abs(fusedEpoch.Loss - composedEpoch.Loss) <= tolerance, $"mean loss {fusedEpoch.Loss}, composed {composedEpoch.Loss}")
            .Require(Math.Abs(fusedEpoch.Accuracy - composedEpoch.Accuracy) <= 2.0 / subset.Count, $"accuracy {fusedEpoch.Accuracy}, composed {composedEpoch.Accuracy}")
            .Result();
    }

    private (float[] Parameters, EpochResult Epoch) TrainOnce(LabeledImages subset, TrainingSettings settings, bool fused)
    {
        using var trainer = new Trainer(device, subset, settings, steps: fused ? StepOptions.Fused : StepOptions.Unfused);
        var epoch = trainer.TrainEpoch();
        return (trainer.Network.GetParameters(), epoch);
    }

    /// <summary>The fused forward-only pass against the composed one, on fresh Glorot weights.</summary>
    private CheckResult FusedEvaluation(LabeledImages split, TrainingSettings settings)
    {
        var results = new Evaluation[2];
        for (int i = 0; i < 2; i++)
        {
            // The same seed: both trainers start from the same weights.
            using var trainer = new Trainer(device, split.Take(1), settings, steps: i == 1 ? StepOptions.Fused : StepOptions.Unfused);
            results[i] = trainer.Evaluate(split);
        }

        return new Comparison("fused evaluation", $"{split.Count} digits", 1e-6, 1e-5)
            .Compare("probabilities", Array.ConvertAll(results[0].Probabilities, v => (double)v), results[1].Probabilities)
            .Require(Math.Abs(results[0].Loss - results[1].Loss) <= 1e-5, $"mean loss {results[1].Loss}, composed {results[0].Loss}")
            .Require(results[0].Predictions.AsSpan().SequenceEqual(results[1].Predictions), "a prediction differs")
            .Result();
    }

    /// <summary>The digits averaged down to 7×7, so that a GPU-shaped step stays small on a device that runs each GPU thread as an OS thread.</summary>
    private static LabeledImages Shrunk(LabeledImages digits)
    {
        const int Side = 7;
        int factor = digits.Rows / Side;
        var images = new byte[digits.Count * Side * Side];
        for (int n = 0; n < digits.Count; n++)
        {
            for (int y = 0; y < Side; y++)
            {
                for (int x = 0; x < Side; x++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < factor; dy++)
                    {
                        for (int dx = 0; dx < factor; dx++)
                            sum += digits.Images[n * digits.Pixels + (y * factor + dy) * digits.Columns + x * factor + dx];
                    }

                    images[n * Side * Side + y * Side + x] = (byte)(sum / (factor * factor));
                }
            }
        }

        return new LabeledImages($"{digits.Name} 7x7", images, digits.Labels, Side, Side);
    }

    private (DenseParameters Device, DenseParameters Reference) Layer(Random random, int inputs, int outputs)
    {
        var shape = new DenseLayerShape(inputs, outputs, offset: 0);
        var parameters = pair.Both(Uniform(random, (int)shape.ParameterCount));
        return (shape.Within(device, parameters.Device), shape.Within(reference, parameters.Reference));
    }

    private static float[] Uniform(Random random, int length, float min = -1f, float max = 1f)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = min + (float)random.NextDouble() * (max - min);
        return values;
    }

}
