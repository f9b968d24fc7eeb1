using ILGPU;

namespace MnistGpu.Engine.Operations.BatchNormalization;

/// <summary>What a batch normalisation's partial sums add up, per feature and chunk of rows.</summary>
public enum BatchNormSum
{
    /// <summary>Σ x.</summary>
    Values,

    /// <summary>Σ (x − μ)², μ the saved mean.</summary>
    Squares,

    /// <summary>Σ dy · x̂ and Σ dy, x̂ from the saved statistics.</summary>
    Gradients,
}

/// <summary>
/// A batch normalisation's arguments: x (rows, features) channels-last, a feature's values every
/// <see cref="Features"/>-th, its rows in <see cref="Chunks"/> chunks of <see cref="ChunkRows"/>.
/// One struct for its kernels; a kernel ignores what it does not read.
/// </summary>
public readonly struct BatchNormArguments
{
    /// <summary>x (rows, features): the layer's input (after the ReLU below it, if any).</summary>
    public ArrayView<float> Input { get; init; }

    /// <summary>dy (rows, features): the gradient of the layer's output (already masked by its own ReLU).</summary>
    public ArrayView<float> OutputGradient { get; init; }

    /// <summary>y forward, dx backward (rows, features).</summary>
    public ArrayView<float> Target { get; init; }

    /// <summary>γ then β (2 · features): the layer's parameters.</summary>
    public ArrayView<float> Parameters { get; init; }

    /// <summary>dγ then dβ (2 · features): the parameter gradients, or the saved copy the input gradient reads.</summary>
    public ArrayView<float> Gradients { get; init; }

    /// <summary>Moving mean then moving variance (2 · features): the layer's state.</summary>
    public ArrayView<float> State { get; init; }

    /// <summary>The batch's mean then 1/√(σ² + ε) (2 · features): what the forward saves for the backward.</summary>
    public ArrayView<float> Saved { get; init; }

    /// <summary>(chunks, 2, features): each chunk's partial sums.</summary>
    public ArrayView<float> Partials { get; init; }

    public int Rows { get; init; }

    public int Features { get; init; }

    public int Chunks { get; init; }

    public int ChunkRows { get; init; }

    /// <summary>A <see cref="BatchNormSum"/>: what <see cref="BatchNormKernels.PartialSums"/> and <see cref="BatchNormKernels.Finish"/> add up.</summary>
    public int Sum { get; init; }

    /// <summary>1: a ReLU follows (forward), or the layer below has one (input gradient).</summary>
    public int Relu { get; init; }

    public float Momentum { get; init; }

    /// <summary>1 − <see cref="Momentum"/>, rounded once on the host.</summary>
    public float Complement { get; init; }

    public float Epsilon { get; init; }

    /// <summary>1: normalise by the moving statistics (inference); 0: by the saved batch ones.</summary>
    public int Moving { get; init; }
}

/// <summary>
/// A batch normalisation's kernels. Its sums run per feature and chunk of at most 16,384 rows
/// (Mesa's rusticl returned wrong results for one work item's loop over the 86,528 rows of a
/// convnet's first maps), compensated (Kahan's), then chunk by chunk in order: the same sums on
/// every device and every run, no atomics; the host's form sums in the same order, so it gives
/// the same bits as ILGPU's CPU accelerator. Everything else is one work item per element.
/// </summary>
public static class BatchNormKernels
{
    /// <summary>The most rows one work item sums.</summary>
    public const int MaxChunkRows = 16_384;

    /// <summary>partials[chunk, k, f]: the chunk's sums (<see cref="BatchNormSum"/>), one work item per (chunk, feature).</summary>
    public static void PartialSums(BatchNormArguments a)
    {
        int total = a.Chunks * a.Features;
        for (int item = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; item < total; item += step)
        {
            int f = item % a.Features, chunk = item / a.Features;
            int first = chunk * a.ChunkRows, last = Math.Min(a.Rows, first + a.ChunkRows);
            CompensatedSum one = default, two = default;
            float mean = a.Saved[f], inverse = a.Saved[a.Features + f];
            for (int r = first; r < last; r++)
            {
                int i = (r * a.Features) + f;
                float x = a.Input[i];
                if (a.Sum == (int)BatchNormSum.Values)
                {
                    one = one.Add(x);
                }
                else if (a.Sum == (int)BatchNormSum.Squares)
                {
                    float d = x - mean;
                    one = one.Add(d * d);
                }
                else
                {
                    float dy = a.OutputGradient[i];
                    one = one.Add(dy * ((x - mean) * inverse));
                    two = two.Add(dy);
                }
            }

            a.Partials[(2 * chunk * a.Features) + f] = one.Value;
            a.Partials[(((2 * chunk) + 1) * a.Features) + f] = two.Value;
        }
    }

    /// <summary>
    /// Per feature, the chunks' sums in order, then: the mean (saved); the biased variance, its
    /// 1/√(σ² + ε) (saved) and the moving statistics' update; or dγ and dβ (into <see cref="BatchNormArguments.Gradients"/>).
    /// </summary>
    public static void Finish(BatchNormArguments a)
    {
        for (int f = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; f < a.Features; f += step)
        {
            CompensatedSum one = default, two = default;
            for (int chunk = 0; chunk < a.Chunks; chunk++)
            {
                one = one.Add(a.Partials[(2 * chunk * a.Features) + f]);
                two = two.Add(a.Partials[(((2 * chunk) + 1) * a.Features) + f]);
            }

            if (a.Sum == (int)BatchNormSum.Values)
            {
                a.Saved[f] = one.Value / a.Rows;
            }
            else if (a.Sum == (int)BatchNormSum.Squares)
            {
                float variance = one.Value / a.Rows;
                a.Saved[a.Features + f] = 1f / MathF.Sqrt(variance + a.Epsilon);
                a.State[f] = (a.State[f] * a.Momentum) + (a.Saved[f] * a.Complement);
                a.State[a.Features + f] = (a.State[a.Features + f] * a.Momentum) + (variance * a.Complement);
            }
            else
            {
                a.Gradients[f] = one.Value;
                a.Gradients[a.Features + f] = two.Value;
            }
        }
    }

    /// <summary>y = γ (x − μ)/√(σ² + ε) + β, by the saved batch statistics or the moving ones, ReLU'd when asked.</summary>
    public static void Normalize(BatchNormArguments a)
    {
        int total = a.Rows * a.Features;
        for (int i = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; i < total; i += step)
        {
            int f = i % a.Features;
            float mean = a.Moving != 0 ? a.State[f] : a.Saved[f];
            float inverse = a.Moving != 0 ? 1f / MathF.Sqrt(a.State[a.Features + f] + a.Epsilon) : a.Saved[a.Features + f];
            float y = (a.Parameters[f] * ((a.Input[i] - mean) * inverse)) + a.Parameters[a.Features + f];
            a.Target[i] = a.Relu != 0 && y < 0f ? 0f : y;
        }
    }

    /// <summary>dx = γ/√(σ² + ε) · (dy − dβ/N − x̂ · dγ/N), ⊙ [x &gt; 0] through the ReLU below when asked; dγ, dβ from <see cref="BatchNormArguments.Gradients"/>.</summary>
    public static void InputGradient(BatchNormArguments a)
    {
        int total = a.Rows * a.Features;
        for (int i = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; i < total; i += step)
        {
            int f = i % a.Features;
            float mean = a.Saved[f], inverse = a.Saved[a.Features + f];
            float x = a.Input[i];
            float dx = a.Parameters[f] * inverse * (a.OutputGradient[i] - (a.Gradients[a.Features + f] / a.Rows) - (((x - mean) * inverse) * (a.Gradients[f] / a.Rows)));
            a.Target[i] = a.Relu == 0 || x > 0f ? dx : 0f;
        }
    }
}

/// <summary>Kahan's compensated sum: the running total and the low-order part its last addition lost.</summary>
public readonly record struct CompensatedSum(float Value, float Lost)
{
    public CompensatedSum Add(float value)
    {
        float corrected = value - Lost;
        float total = Value + corrected;
        return new CompensatedSum(total, (total - Value) - corrected);
    }
}
