using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

public sealed class TrainerTests
{
    [Fact]
    public void A_seeded_run_on_the_cpu_accelerator_is_bit_for_bit_repeatable()
    {
        var subset = Bundled.Mnist.Train.Take(1_000);
        float[] first = TrainOneEpoch(subset, seed: 5);
        float[] second = TrainOneEpoch(subset, seed: 5);
        float[] otherSeed = TrainOneEpoch(subset, seed: 6);

        Assert.Equal(first, second);
        Assert.NotEqual(first, otherSeed);
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void One_epoch_on_6000_images_reaches_85_percent_on_the_test_set()
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = new Trainer(device, Bundled.Mnist.Train.Take(6_000), new TrainingSettings { Seed = 1 });
        var epoch = trainer.TrainEpoch();
        var test = trainer.Evaluate(Bundled.Mnist.Test);

        Assert.Equal(47, epoch.Steps);
        Assert.True(test.Accuracy > 0.85, $"test accuracy {test.Accuracy:P2}");
        Assert.Equal(10_000, test.Predictions.Length);
        Assert.Equal(test.Accuracy, (double)test.Correct / test.Count);
    }

    [Fact]
    public void Evaluation_probabilities_are_distributions_whose_argmax_is_the_prediction()
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = new Trainer(device, Bundled.Mnist.Train.Take(500), new TrainingSettings());
        trainer.TrainEpoch();
        var test = trainer.Evaluate(Bundled.Mnist.Test.Take(300));

        for (int i = 0; i < test.Count; i++)
        {
            var row = test.Probabilities.AsSpan(i * 10, 10);
            Assert.Equal(1.0, row.ToArray().Sum(), 1e-5);
            Assert.Equal(test.Predictions[i], row.IndexOf(row.ToArray().Max()));
        }
    }

    private static float[] TrainOneEpoch(MnistGpu.Engine.Data.LabeledImages subset, int seed)
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = new Trainer(device, subset, new TrainingSettings { Seed = seed });
        trainer.TrainEpoch();
        return trainer.Network.GetParameters();
    }
}
