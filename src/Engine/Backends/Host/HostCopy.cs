using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MnistGpu.Engine.Backends.Host;

/// <summary>The masked copy on the host: Flatten's and an idle dropout's form, and the ReLU mask in a convolution's input-gradient epilogue.</summary>
internal static class HostCopy
{
    /// <summary>target = source, ⊙ [activation &gt; 0] when <paramref name="mask"/>, over <paramref name="length"/> values.</summary>
    public static void Masked(ReadOnlySpan<float> source, ReadOnlySpan<float> activation, Span<float> target, int length, bool mask)
    {
        if (!mask)
        {
            source[..length].CopyTo(target);
            return;
        }

        ref float source0 = ref MemoryMarshal.GetReference(source[..length]);
        ref float activation0 = ref MemoryMarshal.GetReference(activation[..length]);
        ref float target0 = ref MemoryMarshal.GetReference(target[..length]);
        int i = 0;
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref activation0, (nuint)i), Vector256<float>.Zero);
            Vector256.ConditionalSelect(positive, Vector256.LoadUnsafe(ref source0, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref target0, (nuint)i);
        }

        for (; i < length; i++)
            target[i] = activation[i] > 0f ? source[i] : 0f;
    }
}
