using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

public sealed class AllocationTests
{
    /// <summary>
    /// The engine's training loop allocates nothing per step: an epoch of 32 steps allocates no
    /// more than an epoch of 4. (On the reference backend, which itself allocates nothing per
    /// operation; what an accelerator's launcher allocates is reported by the bench command.)
    /// </summary>
    [Fact]
    public void An_epoch_allocates_the_same_whatever_its_number_of_steps()
    {
        long few = AllocatedBySecondEpoch(trainCount: 4 * 32);
        long many = AllocatedBySecondEpoch(trainCount: 32 * 32);
        Assert.InRange(many, 0, few + 256);
        Assert.InRange(few, 0, 4_096);
    }

    private static long AllocatedBySecondEpoch(int trainCount)
    {
        using var reference = new ReferenceBackend();
        using var trainer = new Trainer(reference, Bundled.Mnist.Train.Take(trainCount), new TrainingSettings { BatchSize = 32, HiddenUnits = 8 });
        trainer.TrainEpoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainEpoch();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
