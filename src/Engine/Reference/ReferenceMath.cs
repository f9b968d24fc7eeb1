namespace MnistGpu.Engine.Reference;

/// <summary>
/// The plain double-precision definition of every training operation: the loops a reader can
/// check against the formulas, and the yardstick every kernel is compared with. Matrices are
/// dense row-major. Shapes: B batch rows, I layer inputs, O layer outputs, C classes, P pixels.
/// </summary>
internal static partial class ReferenceMath
{
    /// <summary>x (B,I) · W (I,O) + bias (O) → y (B,O), then ReLU when <paramref name="relu"/>.</summary>
    public static void DenseForward(
        ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> bias, Span<double> y,
        int batch, int inputs, int outputs, bool relu)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double sum = bias[o];
                for (int i = 0; i < inputs; i++)
                    sum += x[b * inputs + i] * w[i * outputs + o];
                y[b * outputs + o] = relu ? Math.Max(sum, 0.0) : sum;
            }
        }
    }

    /// <summary>dy (B,O) · Wᵀ (O,I) → dx (B,I), ⊙ [activation (B,I) &gt; 0] when <paramref name="relu"/></summary>
    public static void DenseBackwardInput(
        ReadOnlySpan<double> dy, ReadOnlySpan<double> w, ReadOnlySpan<double> activation, Span<double> dx,
        int batch, int inputs, int outputs, bool relu)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < inputs; i++)
            {
                double sum = 0;
                for (int o = 0; o < outputs; o++)
                    sum += dy[b * outputs + o] * w[i * outputs + o];
                dx[b * inputs + i] = !relu || activation[b * inputs + i] > 0 ? sum : 0.0;
            }
        }
    }

    /// <summary>xᵀ (I,B) · dy (B,O) → dW (I,O); Σ_b dy → db (O)</summary>
    public static void DenseBackwardParameters(
        ReadOnlySpan<double> x, ReadOnlySpan<double> dy, Span<double> dw, Span<double> db,
        int batch, int inputs, int outputs)
    {
        for (int i = 0; i < inputs; i++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double sum = 0;
                for (int b = 0; b < batch; b++)
                    sum += x[b * inputs + i] * dy[b * outputs + o];
                dw[i * outputs + o] = sum;
            }
        }

        for (int o = 0; o < outputs; o++)
        {
            double sum = 0;
            for (int b = 0; b < batch; b++)
                sum += dy[b * outputs + o];
            db[o] = sum;
        }
    }

    /// <summary>v ← ρv + (1−ρ)g²; w ← w − lr·g/(√v + ε)</summary>
    public static void RmsPropUpdate(
        Span<double> weights, ReadOnlySpan<double> gradients, Span<double> meanSquares,
        double learningRate, double rho, double epsilon)
    {
        for (int i = 0; i < weights.Length; i++)
        {
            double g = gradients[i];
            meanSquares[i] = rho * meanSquares[i] + (1 - rho) * g * g;
            weights[i] -= learningRate * g / (Math.Sqrt(meanSquares[i]) + epsilon);
        }
    }

    /// <summary>m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²; w ← w − lr_t·m/(√v + ε)</summary>
    public static void AdamUpdate(
        Span<double> weights, ReadOnlySpan<double> gradients, Span<double> first, Span<double> second,
        double stepSize, double beta1, double beta2, double epsilon)
    {
        for (int i = 0; i < weights.Length; i++)
        {
            double g = gradients[i];
            first[i] = beta1 * first[i] + (1 - beta1) * g;
            second[i] = beta2 * second[i] + (1 - beta2) * g * g;
            weights[i] -= stepSize * first[i] / (Math.Sqrt(second[i]) + epsilon);
        }
    }

    /// <summary>w ← w − lr·g; with a velocity u ← μu − lr·g, w ← w + u (Nesterov: w ← w + μu − lr·g)</summary>
    public static void SgdUpdate(
        Span<double> weights, ReadOnlySpan<double> gradients, Span<double> velocity,
        double learningRate, double momentum, bool nesterov)
    {
        for (int i = 0; i < weights.Length; i++)
        {
            double g = gradients[i];
            if (velocity.IsEmpty)
            {
                weights[i] -= learningRate * g;
                continue;
            }

            velocity[i] = momentum * velocity[i] - learningRate * g;
            weights[i] += nesterov ? momentum * velocity[i] - learningRate * g : velocity[i];
        }
    }
}
