using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;

namespace MnistGpu.Tests.Support;

/// <summary>A checkpoint trained once per test run: 1 epoch on 3,000 MNIST digits, hidden layer of 64, on the CPU accelerator.</summary>
internal static class SmallModel
{
    private static readonly Lazy<(Checkpoint Checkpoint, byte[] Bytes)> Trained = new(() => Train(new TrainingSettings { HiddenUnits = 64, Epochs = 1, Seed = 3 }));

    private static readonly Lazy<Checkpoint> TrainedDeeper = new(() => Train(new TrainingSettings { Layers = [64, 32, 16], Optimizer = OptimizerSettings.Adam, Epochs = 1, Seed = 3 }).Checkpoint);

    private static readonly Lazy<Checkpoint> TrainedConvnet = new(() => Train(new TrainingSettings
    {
        Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList("conv3x3:8,maxpool,conv2x2:8:same,conv3x3:6:linear,maxpool,flatten,32"),
        BatchSize = 64,
        Epochs = 1,
        Seed = 3,
    }).Checkpoint);

    private static readonly Lazy<Checkpoint> TrainedWithDropout = new(() => Train(new TrainingSettings
    {
        Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList("64,dropout:0.5,32,dropout:0.2"),
        Epochs = 1,
        Seed = 3,
    }).Checkpoint);

    private static readonly Lazy<Checkpoint> TrainedWithBatchNorm = new(() => Train(new TrainingSettings
    {
        Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList("conv3x3:4:linear,batchnorm:relu,maxpool,flatten,16,batchnorm"),
        Epochs = 1,
        Seed = 3,
    }).Checkpoint);

    /// <summary>A convolution with BatchNormalization and a ReLU after it, and a dense layer with one after its ReLU.</summary>
    public static Checkpoint WithBatchNorm => TrainedWithBatchNorm.Value;

    /// <summary>A named network (--network), trained one step of 128 digits on the host: its layers at their real sizes.</summary>
    public static Checkpoint Preset(string name) => CpuTraining.Train(
        Bundled.Mnist.Train.Take(128), NetworkPresets.Find(name)!.Settings with { Seed = 3 }, epochs: 1, from: null, () => new MnistGpu.Engine.Backends.Host.HostBackend());

    /// <summary>Two dense layers, each with a Dropout after it.</summary>
    public static Checkpoint WithDropout => TrainedWithDropout.Value;

    /// <summary>A small convnet: both paddings (an even kernel's asymmetric 'same'), a linear convolution, odd-sized pooling.</summary>
    public static Checkpoint Convnet => TrainedConvnet.Value;

    /// <summary>The same, with three hidden layers (64, 32, 16) and Adam.</summary>
    public static Checkpoint Deeper => TrainedDeeper.Value;

    public static Checkpoint Checkpoint => Trained.Value.Checkpoint;

    /// <summary>The checkpoint file's bytes.</summary>
    public static byte[] Bytes => Trained.Value.Bytes;

    private static (Checkpoint Checkpoint, byte[] Bytes) Train(TrainingSettings settings)
    {
        var checkpoint = CpuTraining.Train(Bundled.Mnist.Train.Take(3_000), settings, epochs: 1, from: null);
        return (checkpoint, checkpoint.Encode());
    }

    public static string WriteTo(TempDirectory folder, string name = "model.ckpt")
    {
        string path = folder.File(name);
        File.WriteAllBytes(path, Bytes);
        return path;
    }
}
