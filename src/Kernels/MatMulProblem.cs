namespace MnistGpu.Kernels;

/// <summary>What happens to each finished element of a product before it is stored, using the epilogue operand.</summary>
public enum Epilogue
{
    /// <summary>c = a·b</summary>
    None,

    /// <summary>c = a·b + epilogueOperand[col] (the bias)</summary>
    Bias,

    /// <summary>c = max(0, a·b + epilogueOperand[col])</summary>
    BiasRelu,

    /// <summary>c = a·b where epilogueOperand[row, col] &gt; 0, else 0: the ReLU's backward, fused.</summary>
    ReluMask,

    /// <summary>
    /// c = a·b, a layer's parameter gradient, and the optimizer's update of parameter
    /// row·N + col with it (<see cref="ParameterUpdate"/>): the sum has one owner, so the update
    /// needs no launch of its own nor a read of the gradient back.
    /// </summary>
    OptimizerUpdate,
}

/// <summary>
/// One matrix product c (M,N) = epilogue(a' (M,K) · b' (K,N)), c dense row-major, a' and b'
/// addressed through their layouts. Rows of a' at or past <see cref="ARows"/> read as all ones:
/// appending a ones row to xᵀ makes the bias gradient (a column sum) the last row of the weight
/// gradient's product, computed in the same launch.
/// </summary>
public readonly struct MatMulProblem
{
    public MatMulProblem(int m, int n, int k, int aRows, MatrixLayout a, MatrixLayout b, Epilogue epilogue)
    {
        M = m;
        N = n;
        K = k;
        ARows = aRows;
        A = a;
        B = b;
        Epilogue = epilogue;
    }

    public int M { get; }

    public int N { get; }

    public int K { get; }

    public int ARows { get; }

    public MatrixLayout A { get; }

    public MatrixLayout B { get; }

    public Epilogue Epilogue { get; }

    /// <summary>Dense layer forward: x (B,I) · w (I,O) + bias (O) → y (B,O), ReLU when <paramref name="relu"/>.</summary>
    public static MatMulProblem Forward(int batch, int inputs, int outputs, bool relu) =>
        new(batch, outputs, inputs, batch, MatrixLayout.RowMajor(inputs), MatrixLayout.RowMajor(outputs),
            relu ? Kernels.Epilogue.BiasRelu : Kernels.Epilogue.Bias);

    /// <summary>Input gradient: dy (B,O) · wᵀ (O,I) → dx (B,I), ⊙ [activation (B,I) &gt; 0] through the ReLU below when <paramref name="relu"/>.</summary>
    public static MatMulProblem BackwardInput(int batch, int inputs, int outputs, bool relu = true) =>
        new(batch, inputs, outputs, batch, MatrixLayout.RowMajor(outputs), MatrixLayout.Transposed(outputs), relu ? Kernels.Epilogue.ReluMask : Kernels.Epilogue.None);

    /// <summary>
    /// Weight and bias gradients in one product: [xᵀ; 1ᵀ] (I+1,B) · dy (B,O) → [dW; db] (I+1,O),
    /// which is exactly the layout of a layer's weights followed by its biases; with
    /// <paramref name="update"/>, the optimizer applied to them in the epilogue.
    /// </summary>
    public static MatMulProblem BackwardParameters(int batch, int inputs, int outputs, bool update = false) =>
        new(inputs + 1, outputs, batch, inputs, MatrixLayout.Transposed(inputs), MatrixLayout.RowMajor(outputs), update ? Kernels.Epilogue.OptimizerUpdate : Kernels.Epilogue.None);

    /// <summary>Multiply-adds performed: 2·M·N·K floating-point operations.</summary>
    public long Flops => 2L * M * N * K;
}
