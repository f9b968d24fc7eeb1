using System.Numerics;
using System.Runtime.InteropServices;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Operations.BatchNormalization;

/// <summary>
/// The host's form: the loops of <see cref="Run{T}"/> with a vector of features per step — each
/// lane one feature's compensated sum, rows in the same order, so the same bits — split over the
/// host's threads (chunks × blocks of features for the sums, rows for the element-wise passes).
/// Features that are not a whole number of vectors take the scalar loops.
/// </summary>
public sealed partial class BatchNormOperation
{
    /// <summary>The host's work for this operation, made on its first run: a layer runs the same operation every step.</summary>
    private HostPass? hostPass;

    internal override void RunHost(ITrainingBackend host)
    {
        if (host is not HostBackend { Pool: var pool } || Features % Vector<float>.Count != 0)
        {
            Run<float>(HostArrays());
            return;
        }

        var pass = hostPass ??= new HostPass(this);
        foreach (var (kernel, sum) in Launches)
        {
            pass.Sum = sum;
            if (kernel == PartialSumsKernel)
            {
                pass.Elementwise = false;
                pool.Run(Chunks * pass.Blocks, pass);
            }
            else if (kernel == FinishKernel)
            {
                Finish(HostArrays(), sum);
            }
            else
            {
                (pass.Elementwise, pass.Parts) = (true, pool.Threads);
                pool.Run(pool.Threads, pass);
            }
        }
    }

    /// <summary>The operation's arrays as the host's spans.</summary>
    private Arrays<float> HostArrays() => new Arrays<float>(OnHost(Input), OnHost(OutputGradient), OnHost(Target), OnHost(Parameters), OnHost(Gradients), OnHost(State), OnHost(Saved), OnHost(Partials));

    /// <summary>One launch's work on the host's threads: part p of the chunks' sums or of the rows.</summary>
    private sealed class HostPass(BatchNormOperation op) : IParallelWork
    {
        private readonly Memory<float> input = Whole(op.Input), outputGradient = Whole(op.OutputGradient), target = Whole(op.Target);
        private readonly Memory<float> parameters = Whole(op.Parameters), gradients = Whole(op.Gradients), state = Whole(op.State);
        private readonly Memory<float> saved = Whole(op.Saved), partials = Whole(op.Partials);

        public BatchNormSum Sum { get; set; }

        /// <summary>Whether the launch is element-wise (y or dx), split into <see cref="Parts"/> blocks of rows; the chunks' sums otherwise.</summary>
        public bool Elementwise { get; set; }

        public int Parts { get; set; }

        /// <summary>Vectors of features in a row.</summary>
        public int Blocks => op.Features / Vector<float>.Count;

        public void Execute(int part)
        {
            if (Elementwise)
                Rows(part);
            else
                PartialSums(part / Blocks, part % Blocks * Vector<float>.Count);
        }

        private static Memory<float> Whole(DeviceArray<float> array) => HostArray<float, float>.Of(array).Memory;

        /// <summary>Chunk <paramref name="chunk"/>'s sums of features [f0, f0 + count).</summary>
        private void PartialSums(int chunk, int f0)
        {
            int features = op.Features;
            var x = input.Span;
            var dy = outputGradient.Span;
            var mean = Load(saved.Span, f0);
            var inverse = Load(saved.Span, features + f0);
            Vector<float> one = default, oneLost = default, two = default, twoLost = default;
            for (int r = chunk * op.ChunkRows, end = Math.Min(op.Rows, (chunk + 1) * op.ChunkRows); r < end; r++)
            {
                int i = (r * features) + f0;
                var value = Load(x, i);
                if (Sum == BatchNormSum.Values)
                {
                    Add(ref one, ref oneLost, value);
                }
                else if (Sum == BatchNormSum.Squares)
                {
                    var d = value - mean;
                    Add(ref one, ref oneLost, d * d);
                }
                else
                {
                    var gradient = Load(dy, i);
                    Add(ref one, ref oneLost, gradient * ((value - mean) * inverse));
                    Add(ref two, ref twoLost, gradient);
                }
            }

            var sums = partials.Span;
            one.CopyTo(sums[((2 * chunk * features) + f0)..]);
            two.CopyTo(sums[((((2 * chunk) + 1) * features) + f0)..]);
        }

        /// <summary>Part <paramref name="part"/> of the rows: y from the statistics, or dx.</summary>
        private void Rows(int part)
        {
            int features = op.Features, count = Vector<float>.Count;
            int from = (int)((long)op.Rows * part / Parts), to = (int)((long)op.Rows * (part + 1) / Parts);
            var x = input.Span;
            var dy = outputGradient.Span;
            var y = target.Span;
            var p = parameters.Span;
            var g = gradients.Span;
            float rows = op.Rows;
            bool moving = op.Pass == BatchNormPass.ForwardInference;
            bool normalize = op.Pass is BatchNormPass.ForwardTraining or BatchNormPass.ForwardInference;
            for (int f0 = 0; f0 < features; f0 += count)
            {
                var gamma = Load(p, f0);
                var mean = moving ? Load(state.Span, f0) : Load(saved.Span, f0);
                var inverse = moving ? Vector<float>.One / Vector.SquareRoot(Load(state.Span, features + f0) + new Vector<float>(Epsilon)) : Load(saved.Span, features + f0);
                var beta = Load(p, features + f0);
                var betaShare = Load(g, features + f0) / new Vector<float>(rows);
                var gammaShare = Load(g, f0) / new Vector<float>(rows);
                for (int r = from; r < to; r++)
                {
                    int i = (r * features) + f0;
                    var value = Load(x, i);
                    Vector<float> result;
                    if (normalize)
                    {
                        result = (gamma * ((value - mean) * inverse)) + beta;
                        if (op.Relu)
                            result = Vector.ConditionalSelect(Vector.LessThan(result, Vector<float>.Zero), Vector<float>.Zero, result);
                    }
                    else
                    {
                        result = gamma * inverse * (Load(dy, i) - betaShare - ((value - mean) * inverse * gammaShare));
                        if (op.Relu)
                            result = Vector.ConditionalSelect(Vector.GreaterThan(value, Vector<float>.Zero), result, Vector<float>.Zero);
                    }

                    result.CopyTo(y[i..]);
                }
            }
        }

        private static Vector<float> Load(Span<float> values, int at) => new(values[at..]);

        /// <summary><see cref="CompensatedSum"/> on each lane.</summary>
        private static void Add(ref Vector<float> total, ref Vector<float> lost, Vector<float> value)
        {
            var corrected = value - lost;
            var sum = total + corrected;
            lost = (sum - total) - corrected;
            total = sum;
        }
    }
}
