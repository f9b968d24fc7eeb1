namespace MnistGpu.Tests.Support;

internal static class RandomArrays
{
    public static float[] Uniform(Random random, int length, float min = -1f, float max = 1f)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = min + (float)random.NextDouble() * (max - min);
        return values;
    }

    public static int[] Integers(Random random, int length, int maxExclusive)
    {
        var values = new int[length];
        for (int i = 0; i < length; i++)
            values[i] = random.Next(maxExclusive);
        return values;
    }

    public static byte[] Bytes(Random random, int length)
    {
        var values = new byte[length];
        random.NextBytes(values);
        return values;
    }
}
