using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>
/// The training loop allocates nothing per step: an epoch of 32 steps allocates no more than an
/// epoch of 4, counted on the training thread. These run alone: beside the parallel suite the
/// host's count was 6.7–8 KB higher for 32 steps in 2 of ~10 full runs, which neither the test
/// alone, nor with CPU hogs, nor beside other trainings and allocation on other threads reproduced.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class AllocationTests
{
    /// <summary>On the reference backend, which itself allocates nothing per operation (what an accelerator's launcher allocates is reported by the bench command).</summary>
    [Fact]
    public void An_epoch_allocates_the_same_whatever_its_number_of_steps()
    {
        var settings = new TrainingSettings { BatchSize = 32, HiddenUnits = 8 };
        long few = AllocatedByAnEpoch(() => new ReferenceBackend(), 4, settings);
        long many = AllocatedByAnEpoch(() => new ReferenceBackend(), 32, settings);
        Assert.InRange(many, 0, few + 256);
        Assert.InRange(few, 0, 4_096);
    }

    /// <summary>On the host path, whose pool's workers only run parts of operations, which allocate nothing.</summary>
    [Fact]
    public void A_host_epoch_allocates_the_same_whatever_its_number_of_steps()
    {
        var settings = new TrainingSettings { HiddenUnits = 64 };
        long few = AllocatedByAnEpoch(() => new HostBackend(threads: 2), 4, settings);
        long many = AllocatedByAnEpoch(() => new HostBackend(threads: 2), 32, settings);
        Assert.InRange(many, 0, few + 256);
    }

    /// <summary>The least any of three epochs of <paramref name="steps"/> steps after the first allocates: a collection during an epoch can add an 8 KB allocation quantum to the count.</summary>
    private static long AllocatedByAnEpoch(Func<ITrainingBackend> open, int steps, TrainingSettings settings)
    {
        using var backend = open();
        using var trainer = new Trainer(backend, Bundled.Mnist.Train.Take(steps * settings.BatchSize), settings);
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
