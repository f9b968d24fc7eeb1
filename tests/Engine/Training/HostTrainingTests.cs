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

    /// <summary>
    /// No allocation per step: an epoch of 32 steps allocates no more than one of 4 (counted on
    /// the training thread; the pool's workers only run parts of operations, which allocate nothing).
    /// </summary>
    [Fact]
    public void A_host_epoch_allocates_the_same_whatever_its_number_of_steps()
    {
        long few = AllocatedByAnEpoch(trainCount: 4 * 128);
        long many = AllocatedByAnEpoch(trainCount: 32 * 128);
        Assert.InRange(many, 0, few + 256);
    }

    /// <summary>
    /// The least any of three epochs after the first allocates: a garbage collection that other
    /// tests cause during an epoch can add up to one 8 KB allocation quantum to the thread's count.
    /// </summary>
    private static long AllocatedByAnEpoch(int trainCount)
    {
        using var host = new HostBackend(threads: 2);
        using var trainer = new Trainer(host, Bundled.Mnist.Train.Take(trainCount), new TrainingSettings { HiddenUnits = 64 });
        trainer.TrainEpoch();
        long least = long.MaxValue;
        for (int epoch = 0; epoch < 3; epoch++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            trainer.TrainEpoch();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
