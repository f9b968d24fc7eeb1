using System.Buffers;
using System.Numerics;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Engine.Operations.BatchNormalization;

/// <summary>
/// The kernels' steps as loops, in either precision: double for the reference, float for the host
/// where its vector form does not apply (the kernels' sums in their order and compensation, so the
/// same bits as ILGPU's CPU accelerator).
/// </summary>
public sealed partial class BatchNormOperation
{
    internal override void RunReference() =>
        Run<double>(new Arrays<double>(Precise(Input), Precise(OutputGradient), Precise(Target), Precise(Parameters), Precise(Gradients), Precise(State), Precise(Saved), Precise(Partials)));

    private void Run<T>(Arrays<T> a)
        where T : IFloatingPointIeee754<T>
    {
        foreach (var (kernel, sum) in Launches)
        {
            if (kernel == PartialSumsKernel)
                PartialSums(a, sum);
            else if (kernel == FinishKernel)
                Finish(a, sum);
            else
                Elementwise(a, normalize: kernel == NormalizeKernel);
        }
    }

    /// <summary>Row by row, every feature's sums side by side (the rows in memory order): each feature's in the kernel's order.</summary>
    private void PartialSums<T>(Arrays<T> a, BatchNormSum sum)
        where T : IFloatingPointIeee754<T>
    {
        // Pooled: the host runs this form every step where the features are not whole vectors.
        var pool = ArrayPool<Sum<T>>.Shared;
        Sum<T>[] oneRented = pool.Rent(Features), twoRented = pool.Rent(Features);
        var one = oneRented.AsSpan(0, Features);
        var two = twoRented.AsSpan(0, Features);
        for (int chunk = 0; chunk < Chunks; chunk++)
        {
            one.Clear();
            two.Clear();
            for (int r = chunk * ChunkRows; r < Math.Min(Rows, (chunk + 1) * ChunkRows); r++)
            {
                for (int f = 0; f < Features; f++)
                {
                    int i = (r * Features) + f;
                    T x = a.Input[i];
                    if (sum == BatchNormSum.Values)
                    {
                        one[f] = one[f].Add(x);
                    }
                    else if (sum == BatchNormSum.Squares)
                    {
                        T d = x - a.Saved[f];
                        one[f] = one[f].Add(d * d);
                    }
                    else
                    {
                        T dy = a.OutputGradient[i];
                        one[f] = one[f].Add(dy * ((x - a.Saved[f]) * a.Saved[Features + f]));
                        two[f] = two[f].Add(dy);
                    }
                }
            }

            for (int f = 0; f < Features; f++)
                (a.Partials[(2 * chunk * Features) + f], a.Partials[(((2 * chunk) + 1) * Features) + f]) = (one[f].Value, two[f].Value);
        }

        pool.Return(oneRented);
        pool.Return(twoRented);
    }

    private void Finish<T>(Arrays<T> a, BatchNormSum sum)
        where T : IFloatingPointIeee754<T>
    {
        T rows = T.CreateChecked(Rows), momentum = T.CreateChecked(Momentum), complement = T.CreateChecked(1f - Momentum);
        for (int f = 0; f < Features; f++)
        {
            Sum<T> one = default, two = default;
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                one = one.Add(a.Partials[(2 * chunk * Features) + f]);
                two = two.Add(a.Partials[(((2 * chunk) + 1) * Features) + f]);
            }

            if (sum == BatchNormSum.Values)
            {
                a.Saved[f] = one.Value / rows;
            }
            else if (sum == BatchNormSum.Squares)
            {
                T variance = one.Value / rows;
                a.Saved[Features + f] = T.One / T.Sqrt(variance + T.CreateChecked(Epsilon));
                a.State[f] = (a.State[f] * momentum) + (a.Saved[f] * complement);
                a.State[Features + f] = (a.State[Features + f] * momentum) + (variance * complement);
            }
            else
            {
                (a.Gradients[f], a.Gradients[Features + f]) = (one.Value, two.Value);
            }
        }
    }

    private void Elementwise<T>(Arrays<T> a, bool normalize)
        where T : IFloatingPointIeee754<T>
    {
        T rows = T.CreateChecked(Rows), epsilon = T.CreateChecked(Epsilon);
        bool moving = Pass == BatchNormPass.ForwardInference;
        for (int i = 0; i < Rows * Features; i++)
        {
            int f = i % Features;
            T x = a.Input[i];
            if (normalize)
            {
                T mean = moving ? a.State[f] : a.Saved[f];
                T inverse = moving ? T.One / T.Sqrt(a.State[Features + f] + epsilon) : a.Saved[Features + f];
                T y = (a.Parameters[f] * ((x - mean) * inverse)) + a.Parameters[Features + f];
                a.Target[i] = Relu && y < T.Zero ? T.Zero : y;
            }
            else
            {
                T mean = a.Saved[f], inverse = a.Saved[Features + f];
                T dx = a.Parameters[f] * inverse * (a.OutputGradient[i] - (a.Gradients[Features + f] / rows) - (((x - mean) * inverse) * (a.Gradients[f] / rows)));
                a.Target[i] = !Relu || x > T.Zero ? dx : T.Zero;
            }
        }
    }

    /// <summary>The operation's arrays as one precision's spans.</summary>
    private readonly ref struct Arrays<T>(Span<T> input, Span<T> outputGradient, Span<T> target, Span<T> parameters, Span<T> gradients, Span<T> state, Span<T> saved, Span<T> partials)
    {
        public Span<T> Input { get; } = input;

        public Span<T> OutputGradient { get; } = outputGradient;

        public Span<T> Target { get; } = target;

        public Span<T> Parameters { get; } = parameters;

        public Span<T> Gradients { get; } = gradients;

        public Span<T> State { get; } = state;

        public Span<T> Saved { get; } = saved;

        public Span<T> Partials { get; } = partials;
    }

    /// <summary><see cref="CompensatedSum"/> in either precision: the kernels' order and rounding in float.</summary>
    private readonly record struct Sum<T>(T Value, T Lost)
        where T : IFloatingPointIeee754<T>
    {
        public Sum<T> Add(T value)
        {
            T corrected = value - Lost;
            T total = Value + corrected;
            return new Sum<T>(total, (total - Value) - corrected);
        }
    }
}
