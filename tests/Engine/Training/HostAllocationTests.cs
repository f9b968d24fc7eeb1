using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>
/// Counts what the training thread allocates, so it runs alone: beside the parallel suite it
/// counted 6.7–8 KB more for 32 steps than for 4 in 2 of ~10 full runs, which neither the test
/// alone, nor with CPU hogs, nor with other trainings and allocation on other threads reproduced.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class HostAllocationTests
{
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

    /// <summary>The least any of three epochs after the first allocates: a collection during an epoch can add an 8 KB allocation quantum to the count.</summary>
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
