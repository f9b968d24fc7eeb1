using System.Globalization;

namespace MnistGpu.Engine.Verification;

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
