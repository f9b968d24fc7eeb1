using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Backends;

/// <summary>Fusion is decided by what the device and the network can do: a wrapping backend keeps it unless it opts out.</summary>
public sealed class WrappedFusionTests
{
    [Fact]
    public void A_wrapped_ilgpu_device_still_runs_the_three_fused_launches()
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var wrapped = new CountingBackend(device);
        using var trainer = new Trainer(wrapped, Bundled.Mnist.Train.Take(128), new TrainingSettings { HiddenUnits = 32, Epochs = 1 });
        long before = device.KernelLaunches;
        trainer.TrainEpoch();
        Assert.Equal(3, device.KernelLaunches - before);
        Assert.Equal(0, wrapped.DenseForwards);
    }

    [Fact]
    public void A_wrapped_host_still_fuses_and_the_profiler_opts_out()
    {
        using var host = new HostBackend(threads: 1);
        using var wrapped = new CountingBackend(host);
        using (var trainer = new Trainer(wrapped, Bundled.Mnist.Train.Take(128), new TrainingSettings { HiddenUnits = 32, Epochs = 1 }))
            trainer.TrainEpoch();
        Assert.Equal(0, wrapped.DenseForwards);

        var profiling = new MnistGpu.Engine.Benchmarking.ProfilingBackend(host);
        using (var trainer = new Trainer(profiling, Bundled.Mnist.Train.Take(128), new TrainingSettings { HiddenUnits = 32, Epochs = 1 }))
            trainer.TrainEpoch();
        Assert.Equal(1, profiling.Totals["dense forward 784->32 +ReLU"].Calls);
        Assert.Equal(1, profiling.Totals["dense forward 32->10"].Calls);
    }

    /// <summary>Counts the separate dense forward products it is asked for: none when the inner backend fuses the step.</summary>
    private sealed class CountingBackend(ITrainingBackend inner) : DelegatingBackend(inner)
    {
        public int DenseForwards { get; private set; }

        public override void DenseForward(DenseParameters layer, DeviceArray<float> x, DeviceArray<float> y, int batch, bool relu)
        {
            DenseForwards++;
            base.DenseForward(layer, x, y, batch, relu);
        }
    }
}
