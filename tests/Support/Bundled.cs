using MnistGpu.Engine.Data;

namespace MnistGpu.Tests.Support;

/// <summary>The bundled MNIST set, decompressed once per test run.</summary>
internal static class Bundled
{
    private static readonly Lazy<MnistData> Data = new(MnistData.LoadBundled);

    public static MnistData Mnist => Data.Value;
}
