using System.Globalization;

namespace MnistGpu.Engine.Verification;

/// <summary>What a verifier check exercises.</summary>
public enum CheckKind
{
    MatMul,
    Optimizer,
    TrainingStep,

    /// <summary>A convolution's operation.</summary>
    Convolution,

    /// <summary>A fused step or evaluation against the composition of the separate operations on the same device.</summary>
    FusedStep,

    /// <summary>A check an operation brings from its own folder (<see cref="Operations.OperationChecks"/>), e.g. dropout's.</summary>
    Operation,
}

/// <summary>One check of <see cref="DeviceVerifier"/>, described by its fields so that callers choose checks by them, not by their names.</summary>
/// <param name="LargestDimension">The largest size it computes with: a rows, columns or element count.</param>
public sealed record VerifierCheck(string Name, CheckKind Kind, int LargestDimension)
{
    /// <summary>Whether it checks what only convolutional networks use: a convolution's, pooling's or flatten's operation, or a convnet's training step.</summary>
    public bool Convolutional { get; init; } = Kind == CheckKind.Convolution;

    /// <summary>
    /// Every size below 512 and no training step: what simulated devices that run each GPU thread
    /// as an OS thread can afford to run.
    /// </summary>
    public bool IsSmall => Kind != CheckKind.TrainingStep && LargestDimension < 512;

    public override string ToString() => Name;
}

/// <summary>
/// One comparison of a device result with the reference: passed when every element satisfies
/// |device − reference| ≤ AbsoluteTolerance + RelativeTolerance·|reference| and no
/// <see cref="Problem"/> (a NaN, a negative ReLU output, a wrong prediction) was found.
/// </summary>
/// <param name="MaxRelativeError">Largest |device − reference| / |reference| over elements whose reference exceeds the absolute tolerance.</param>
public sealed record CheckResult(
    string Operation, string Shape, double MaxAbsoluteError, double MaxRelativeError,
    double AbsoluteTolerance, double RelativeTolerance, string? Problem)
{
    public bool Passed => Problem is null;

    public string Tolerance => RelativeTolerance == 0
        ? AbsoluteTolerance.ToString("0e0", CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{AbsoluteTolerance:0e0} + {RelativeTolerance:0e0}·|ref|");

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Operation} [{Shape}]: max abs {MaxAbsoluteError:0.00e+00}, max rel {MaxRelativeError:0.00e+00}, tolerance {Tolerance}: {Problem ?? "ok"}");
}
