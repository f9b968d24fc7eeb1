using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;

namespace MnistGpu.Kernels;
/// <summary>Launch 2, the tail: per row of the batch, the output layer, softmax-cross-entropy and the gradient sent down.</summary>
public static partial class FusedStepKernels
{
    /// <summary>
    /// Launch 2, GPU: one group per row of the batch. The 512-long dot products of z = h·W2 are
    /// split over the group's threads and summed by <typeparamref name="TSum"/>: ILGPU.Algorithms'
    /// group reduction where the backend has one (CUDA), a shared-memory tree where it does not
    /// (OpenCL drivers without work-group collectives: PoCL, NVIDIA's).
    /// <paramref name="backward"/> 0: a forward-only pass writes probabilities instead of dz and no dh.
    /// </summary>
    public static void TailPerGroup<TSum>(FusedStep s, int backward)
        where TSum : struct, IGroupSum
    {
        var logits = SharedMemory.Allocate1D<float>(MaxClasses);
        int hidden = s.TailInputs, classes = s.Classes;
        for (int row = Grid.IdxX; row < s.Batch; row += Grid.DimX)
        {
            int h = row * hidden;
            for (int c = 0; c < classes; c++)
            {
                float partial = 0f;
                for (int j = Group.IdxX; j < hidden; j += Group.DimX)
                    partial += s.TailInput[h + j] * s.Parameters[s.OutputWeights + j * classes + c];
                float total = default(TSum).Sum(partial);
                if (Group.IsFirstThread)
                    logits[c] = total + s.Parameters[s.OutputBias + c];
            }

            Group.Barrier();
            int label = s.Labels[s.Order[s.Start + row]];
            float max = logits[0];
            int argmax = 0;
            for (int c = 1; c < classes; c++)
            {
                if (logits[c] > max)
                {
                    max = logits[c];
                    argmax = c;
                }
            }

            float sum = 0f;
            for (int c = 0; c < classes; c++)
                sum += MathF.Exp(logits[c] - max);
            float inverse = 1f / sum, scale = 1f / s.Batch;
            if (Group.IsFirstThread)
            {
                s.Losses[s.Start + row] = MathF.Log(sum) - (logits[label] - max);
                s.Predictions[s.Start + row] = argmax;
            }

            for (int c = Group.IdxX; c < classes; c += Group.DimX)
            {
                float p = MathF.Exp(logits[c] - max) * inverse;
                s.Output[row * classes + c] = backward == 0 ? p : (c == label ? p - 1f : p) * scale;
            }

            if (backward != 0)
            {
                for (int j = Group.IdxX; j < hidden; j += Group.DimX)
                {
                    float dh = 0f;
                    for (int c = 0; c < classes; c++)
                    {
                        float p = MathF.Exp(logits[c] - max) * inverse;
                        dh += (c == label ? p - 1f : p) * scale * s.Parameters[s.OutputWeights + j * classes + c];
                    }

                    s.TailInputGradient[h + j] = s.TailInput[h + j] > 0f ? dh * s.TailDropoutScale : 0f;
                }
            }

            Group.Barrier();
        }
    }

    /// <summary>The sum of one value per thread of a group, valid in its first thread; every thread must call it.</summary>
    public interface IGroupSum
    {
        float Sum(float value);
    }

    /// <summary>ILGPU.Algorithms' group reduction: warp shuffles on CUDA.</summary>
    public readonly struct AlgorithmsGroupSum : IGroupSum
    {
        public float Sum(float value) => GroupExtensions.Reduce<float, AddFloat>(value);
    }

    /// <summary>
    /// A halving tree in shared memory, for groups of a power of two up to <see cref="MaxGroupSize"/>
    /// threads: what every OpenCL device compiles. (A tree whose active threads are picked by
    /// thread % (2·stride) summed nothing on PoCL 3.1; this form is measured to work there.)
    /// </summary>
    public readonly struct SharedMemoryGroupSum : IGroupSum
    {
        public const int MaxGroupSize = 1024;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Sum(float value)
        {
            var scratch = SharedMemory.Allocate1D<float>(MaxGroupSize);
            int thread = Group.IdxX;
            scratch[thread] = value;
            Group.Barrier();
            for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
            {
                if (thread < stride)
                    scratch[thread] += scratch[thread + stride];
                Group.Barrier();
            }

            float total = scratch[0];
            Group.Barrier();
            return total;
        }
    }

    /// <summary>Launch 2, CPU-like devices: one work item per row, everything in plain loops.</summary>
    public static void TailPerRow(FusedStep s, int backward)
    {
        var logits = LocalMemory.Allocate1D<float>(MaxClasses);
        int hidden = s.TailInputs, classes = s.Classes;
        for (int row = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; row < s.Batch; row += step)
        {
            int h = row * hidden;
            for (int c = 0; c < classes; c++)
                logits[c] = 0f;
            for (int j = 0; j < hidden; j++)
            {
                float value = s.TailInput[h + j];
                if (value == 0f)
                    continue;
                int w = s.OutputWeights + j * classes;
                for (int c = 0; c < classes; c++)
                    logits[c] += value * s.Parameters[w + c];
            }

            int label = s.Labels[s.Order[s.Start + row]];
            float max = float.NegativeInfinity;
            int argmax = 0;
            for (int c = 0; c < classes; c++)
            {
                logits[c] += s.Parameters[s.OutputBias + c];
                if (c == 0 || logits[c] > max)
                {
                    max = logits[c];
                    argmax = c;
                }
            }

            float labelLogit = logits[label];
            float sum = 0f;
            for (int c = 0; c < classes; c++)
            {
                logits[c] = MathF.Exp(logits[c] - max);
                sum += logits[c];
            }

            s.Losses[s.Start + row] = MathF.Log(sum) - (labelLogit - max);
            s.Predictions[s.Start + row] = argmax;
            float inverse = 1f / sum, scale = 1f / s.Batch;
            for (int c = 0; c < classes; c++)
            {
                float p = logits[c] * inverse;
                logits[c] = backward == 0 ? p : (c == label ? p - 1f : p) * scale;
                s.Output[row * classes + c] = logits[c];
            }

            if (backward == 0)
                continue;
            for (int j = 0; j < hidden; j++)
            {
                if (s.TailInput[h + j] <= 0f)
                {
                    s.TailInputGradient[h + j] = 0f;
                    continue;
                }

                float dh = 0f;
                int w = s.OutputWeights + j * classes;
                for (int c = 0; c < classes; c++)
                    dh += logits[c] * s.Parameters[w + c];
                s.TailInputGradient[h + j] = dh * s.TailDropoutScale;
            }
        }
    }
}
