using MnistGpu.Kernels;

namespace MnistGpu.Engine.Backends;

/// <summary>
/// The check every backend makes before it hands a <see cref="MatMulProblem"/> to code that
/// indexes without bounds checks (the host's SIMD micro-kernel, a GPU kernel): each operand is
/// long enough for the furthest element the problem addresses, computed in 64-bit arithmetic.
/// </summary>
internal static class MatMulOperands
{
    /// <exception cref="ArgumentException">An operand is shorter than the problem needs.</exception>
    public static void Require(MatMulProblem p, int aLength, int bLength, int cLength, int epilogueOperandLength)
    {
        long a = p.ARows == 0 ? 0 : Furthest(p.ARows, p.K, p.A) + 1;
        long b = Furthest(p.K, p.N, p.B) + 1;
        long c = (long)p.M * p.N;
        long operand = p.Epilogue switch
        {
            Epilogue.Bias or Epilogue.BiasRelu => p.N,
            Epilogue.ReluMask => c,
            _ => 0,
        };
        if (p.M < 1 || p.N < 1 || p.K < 1 || p.ARows < 0 || aLength < a || bLength < b || cLength < c || epilogueOperandLength < operand)
            throw new ArgumentException($"a {p.M}x{p.K} · {p.K}x{p.N} product needs operands of {a}, {b}, {c} and {operand} elements; got {aLength}, {bLength}, {cLength} and {epilogueOperandLength}");
    }

    private static long Furthest(int rows, int columns, MatrixLayout layout) =>
        (long)(rows - 1) * layout.RowStride + (long)(columns - 1) * layout.ColStride;
}
