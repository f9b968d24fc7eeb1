using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Steps;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Kernels;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Steps;

/// <summary>
/// The launches a recorded step lists (what <c>kernels</c> prints and bench reports) are the ones
/// a real step issues: as many, the same last kernel, fused or not, for every optimizer, on the
/// host (none), the CPU accelerator and PoCL.
/// </summary>
[Collection(OpenClRuntime.Name)]
public sealed class RecordedStepTests(OpenClFixture openCl)
{
    private static readonly string[] Optimizers = ["rmsprop", "adam", "sgd", "sgd-nesterov"];

    public static TheoryData<string, string, string, bool> Cases
    {
        get
        {
            var cases = new TheoryData<string, string, string, bool>();
            foreach (string device in new[] { "host", "cpu", "opencl" })
            {
                foreach (string layers in new[] { "512", "64,32" })
                {
                    foreach (string optimizer in Optimizers)
                        cases.Add(device, layers, optimizer, true);
                }

                cases.Add(device, "64,32", "adam", false);
            }

            return cases;
        }
    }

    /// <summary>
    /// Recorded for a GPU's profile with no GPU: the fused tail's shared memory is what its code
    /// and ILGPU.Algorithms allocate (80 B on CUDA, 4,160 B through shared memory on OpenCL), not 0.
    /// </summary>
    [Theory]
    [InlineData(false, "FusedStepKernels.TailPerGroup.AlgorithmsGroupSum", 80)]
    [InlineData(true, "FusedStepKernels.TailPerGroup.SharedMemoryGroupSum", 4160)]
    public void A_step_recorded_for_a_gpu_profile_needs_no_gpu_and_states_the_compiled_shared_memory(bool openCl, string tail, int tailBytes)
    {
        using var recorder = IlgpuBackend.Recorder(DeviceProfile.NvidiaH200 with { IsOpenCl = openCl }, "H200 profile");
        var launches = PlannedStep.Of(recorder, NetworkShape.Default, 128, OptimizerSettings.RmsProp);

        Assert.Equal(["FusedStepKernels.HiddenForwardTiled", tail, "FusedStepKernels.GradientsUpdateTiled"], launches.Select(l => l.Kernel.Name));
        Assert.Equal([4096, tailBytes, 4096], launches.Select(l => l.SharedMemoryBytes));
        Assert.Equal([256, 128, 1056], launches.Select(l => l.Groups));
        Assert.Equal(0, recorder.KernelLaunches);
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void A_recorded_step_lists_the_launches_a_step_issues(string device, string layers, string optimizer, bool fused)
    {
        using var owned = device switch
        {
            "host" => (ITrainingBackend)new HostBackend(threads: 1),
            "cpu" => IlgpuBackend.CreateCpuAccelerator(),
            _ => null,
        };
        var backend = owned ?? openCl.Require();
        bool was = backend.FusedSteps;
        backend.FusedSteps = fused;
        try
        {
            var settings = new TrainingSettings
            {
                Layers = [.. layers.Split(',').Select(width => (MnistGpu.Engine.Model.Layers.LayerSpec)int.Parse(width, System.Globalization.CultureInfo.InvariantCulture))],
                Optimizer = optimizer switch
                {
                    "adam" => OptimizerSettings.Adam,
                    "sgd" => OptimizerSettings.Sgd,
                    "sgd-nesterov" => OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true },
                    _ => OptimizerSettings.RmsProp,
                },
                Epochs = 1,
            };
            var data = Bundled.Mnist.Train.Take(256);
            var recorded = PlannedStep.Of(backend, Trainer.ShapeFor(data, settings), settings.BatchSize, settings.Optimizer);

            using var trainer = new Trainer(backend, data, settings);
            using var stop = new CancellationTokenSource();
            long before = backend.KernelLaunches;
            trainer.TrainEpoch(stop.Token, step => stop.Cancel());

            Assert.Equal(recorded.Count, backend.KernelLaunches - before);
            if (device == "host")
                return;
            Assert.NotEmpty(recorded);
            Assert.Equal(recorded[^1].Kernel.Name, (backend as IlgpuBackend)!.LastKernelIssued);
            Assert.Equal(fused && device != "host" ? "FusedStepKernels" : "GatherKernels", recorded[0].Kernel.Name.Split('.')[0]);
        }
        finally
        {
            backend.FusedSteps = was;
        }
    }
}
