using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

public sealed class HostTrainingTests
{
    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void The_host_path_reaches_97_8_percent_in_five_epochs()
    {
        using var host = new HostBackend();
        using var trainer = new Trainer(host, Bundled.Mnist.Train, new TrainingSettings { Seed = 1 });
        for (int epoch = 0; epoch < 5; epoch++)
            trainer.TrainEpoch();
        var test = trainer.Evaluate(Bundled.Mnist.Test);
        Assert.True(test.Accuracy >= 0.978, $"test accuracy {test.Accuracy:P2}");
    }
}
