using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// Phase 0: for each group of four batch rows, the pixels nonzero in any of them, ascending,
/// with the four values x = byte / 255 (0 where a row's pixel is 0), the bytes compared 32 at a
/// time. Group g's list is at g·P of the buffers, its length in groupCount[g]; each part a block of groups.
/// </summary>
internal sealed class HostStepGroupPixels<TVec> : HostStepPhase<TVec>
    where TVec : struct, ISimdFloat<TVec>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int part)
    {
        var s = Step;
        int pixels = s.pixels;
        var images = s.images;
        var (from, to) = HostStep.Share(s.RowGroups, s.Parts(s.RowGroups), part, 1);
        Span<int> image = stackalloc int[HostStep.Group];
        for (int g = from; g < to; g++)
        {
            int rows = Math.Min(HostStep.Group, s.batch - g * HostStep.Group);
            for (int r = 0; r < HostStep.Group; r++)
                image[r] = s.order[s.start + g * HostStep.Group + Math.Min(r, rows - 1)] * pixels;
            ref ushort pixelOf = ref s.groupPixel[g * pixels];
            ref float valuesOf = ref s.groupValues[g * pixels * HostStep.Group];
            int entries = 0, k = 0;
            for (; k + Vector256<byte>.Count <= pixels; k += Vector256<byte>.Count)
            {
                var any = Vector256.LoadUnsafe(ref images[image[0] + k]) | Vector256.LoadUnsafe(ref images[image[1] + k])
                    | Vector256.LoadUnsafe(ref images[image[2] + k]) | Vector256.LoadUnsafe(ref images[image[3] + k]);
                uint mask = ~Vector256.Equals(any, Vector256<byte>.Zero).ExtractMostSignificantBits();
                for (; mask != 0; mask &= mask - 1)
                    Append(images, image, rows, k + BitOperations.TrailingZeroCount(mask), ref pixelOf, ref valuesOf, ref entries);
            }

            for (; k < pixels; k++)
            {
                if ((images[image[0] + k] | images[image[1] + k] | images[image[2] + k] | images[image[3] + k]) != 0)
                    Append(images, image, rows, k, ref pixelOf, ref valuesOf, ref entries);
            }

            s.groupCount[g] = entries;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Append(byte[] images, ReadOnlySpan<int> image, int rows, int pixel, ref ushort pixelOf, ref float valuesOf, ref int entries)
    {
        Unsafe.Add(ref pixelOf, entries) = (ushort)pixel;
        ref float values = ref Unsafe.Add(ref valuesOf, entries * HostStep.Group);
        values = HostStep.Unit[images[image[0] + pixel]];
        Unsafe.Add(ref values, 1) = rows > 1 ? HostStep.Unit[images[image[1] + pixel]] : 0f;
        Unsafe.Add(ref values, 2) = rows > 2 ? HostStep.Unit[images[image[2] + pixel]] : 0f;
        Unsafe.Add(ref values, 3) = rows > 3 ? HostStep.Unit[images[image[3] + pixel]] : 0f;
        entries++;
    }
}
