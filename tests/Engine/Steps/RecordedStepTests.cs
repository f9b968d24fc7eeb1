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

    /// <summary>Poolings after convolutions, one under a convolution and one under a flatten.</summary>
    private const string SmallConvnet = "conv3x3:4,maxpool,conv3x3:8,maxpool,flatten,16";

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
                cases.Add(device, SmallConvnet, "rmsprop", true);
                cases.Add(device, SmallConvnet, "rmsprop", false);
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
        var launches = PlannedStep.Of(recorder, NetworkShape.Default, 128, OptimizerSettings.RmsProp, StepOptions.Fused);

        Assert.Equal(["FusedStepKernels.HiddenForwardTiled", tail, "FusedStepKernels.GradientsUpdateTiled"], launches.Select(l => l.Kernel.Name));
        Assert.Equal([4096, tailBytes, 4096], launches.Select(l => l.SharedMemoryBytes));
        Assert.Equal([256, 128, 1056], launches.Select(l => l.Groups));
        Assert.Equal(0, recorder.KernelLaunches);
    }

    /// <summary>
    /// A convnet's step recorded for a GPU: the tiled implicit products, each in 8 KiB of shared
    /// memory, the first two convolutions with their poolings, no unrolling.
    /// </summary>
    [Fact]
    public void A_convnet_step_recorded_for_a_gpu_profile_runs_the_tiled_implicit_products()
    {
        using var recorder = IlgpuBackend.Recorder(DeviceProfile.NvidiaH200, "H200 profile");
        var launches = PlannedStep.Of(recorder, new NetworkShape(NetworkShape.Default.Inputs, TrainingSettings.Convnet.Layers, NetworkShape.Default.Classes), 64, OptimizerSettings.RmsProp, StepOptions.Fused);

        var convolutions = launches.Where(l => l.Kernel.Name.StartsWith("ImplicitConvolutionKernels.", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, convolutions.Count);
        Assert.All(convolutions, l => Assert.EndsWith("Tiled", l.Kernel.Name, StringComparison.Ordinal));
        Assert.All(convolutions, l => Assert.Equal((8192, 256), (l.SharedMemoryBytes, l.GroupSize)));
        Assert.Equal(2, launches.Count(l => l.Operation.Contains("conv forward + maxpool", StringComparison.Ordinal)));
        Assert.DoesNotContain(launches, l => l.Kernel.Name == "GatherKernels.Batch");
        Assert.Equal(18, launches.Count);
    }

    /// <summary>
    /// Where the optimizer runs depends on the batch: at 16 rows conv1's kernel gradient is one
    /// chunk, so every layer updates in its gradient's epilogue and no update launch is left; at
    /// 512 conv2's is 4 chunks too (a launch sums them), so the launch after the gradients updates
    /// conv1 and conv2, adding conv1's chunks first. Each layer's input gradient, which reads its
    /// weights, comes before the epilogue that updates them.
    /// </summary>
    [Theory]
    [InlineData(16, 17, "The optimizer runs in the kernel gradients' epilogues: at batch 16 one work item or group sums each parameter's gradient whole, so the update needs no launch of its own.")]
    [InlineData(512, 19, "The optimizer updates 74,506 parameters in their kernel gradients' epilogues, where one work item or group sums each gradient whole. In conv2 the 18,432 weights each sum over 61,952 positions, in 4 chunks, so no group owns a whole sum: the 18,816 parameters up to it update in a launch of their own after the gradients, which adds conv1's chunks first.")]
    public void A_convnet_step_updates_in_the_epilogues_its_batch_allows(int batch, int count, string reason)
    {
        using var backend = IlgpuBackend.CreateCpuAccelerator();
        var shape = new NetworkShape(NetworkShape.Default.Inputs, TrainingSettings.Convnet.Layers, NetworkShape.Default.Classes);
        var launches = PlannedStep.Of(backend, shape, batch, OptimizerSettings.Adam, StepOptions.Fused).Select(l => l.Operation).ToList();

        Assert.Equal(reason, PlannedStep.Unfused(backend, shape, batch, StepOptions.Fused));
        Assert.Equal(count, launches.Count);
        Assert.Equal(batch == 16, !launches.Contains("adam, conv kernel gradient's chunks summed first"));
        Assert.Equal(batch == 16 ? "conv backward parameters + adam 9->32" : "adam, conv kernel gradient's chunks summed first", launches[^1]);
        Assert.Equal(batch == 512, launches.Contains("conv backward parameters, chunks summed"));
        Assert.Equal(batch == 512, launches.Contains("conv backward parameters 288->64"));
        Assert.True(launches.IndexOf("dense backward input 64->576") < launches.IndexOf("dense backward parameters + adam 576->64"));
        Assert.True(launches.IndexOf("conv backward input + maxpool backward 64->576") < launches.IndexOf("conv backward parameters + adam 576->64"));
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
        var steps = fused ? StepOptions.Fused : StepOptions.Unfused;
        var settings = new TrainingSettings
        {
            Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList(layers),
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
        var recorded = PlannedStep.Of(backend, Trainer.ShapeFor(data, settings), settings.BatchSize, settings.Optimizer, steps);

        using var trainer = new Trainer(backend, data, settings, steps: steps);
        using var stop = new CancellationTokenSource();
        long before = backend.KernelLaunches;
        trainer.TrainEpoch(stop.Token, step => stop.Cancel());

        Assert.Equal(recorded.Count, backend.KernelLaunches - before);
        if (device == "host")
            return;
        Assert.NotEmpty(recorded);
        Assert.Equal(recorded[^1].Kernel.Name, (backend as IlgpuBackend)!.LastKernelIssued);
        // Fused, a dense stack starts with its fused step; a convnet with its first convolution, which gathers the batch itself.
        string first = !fused ? "GatherKernels.Batch" : layers.StartsWith("conv", StringComparison.Ordinal) ? "ImplicitConvolutionKernels.Forward" : "FusedStepKernels.";
        Assert.StartsWith(first, recorded[0].Kernel.Name, StringComparison.Ordinal);
        if (layers.StartsWith("conv", StringComparison.Ordinal))
            Assert.Equal(fused, recorded.Any(l => l.Kernel.Name.StartsWith("ImplicitConvolutionKernels.", StringComparison.Ordinal)));
    }
}
