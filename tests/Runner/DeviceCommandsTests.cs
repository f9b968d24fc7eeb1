using MnistGpu.Engine.Devices;
using MnistGpu.Engine.Verification;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

[Collection(MnistGpu.Tests.Kernels.OpenClRuntime.Name)]
public sealed class DeviceCommandsTests
{
    [Fact]
    public void Devices_lists_the_cpu_accelerator_as_usable()
    {
        var (code, output, error) = CliRun.Run(["devices"]);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        var cpuRow = output.Split('\n').Single(line => line.Contains("cpu:0", StringComparison.Ordinal));
        Assert.Contains("ILGPU CPU accelerator, 16 threads per group", cpuRow);
        Assert.Contains("yes", cpuRow);
    }

    [Fact]
    public void Kernels_lists_the_fused_step_of_the_network_the_options_describe()
    {
        var seed = CliRun.Run(["kernels", "--device", "cpu"]);
        Assert.Equal(("", 0), (seed.Error, seed.Code));
        Assert.Contains("One training step of the 784-512-10 network with rmsprop, batch 128: 3 launches", seed.Output);
        Assert.Contains("FusedStepKernels.GradientsUpdatePanel", seed.Output);

        var deeper = CliRun.Run(["kernels", "--device", "cpu", "--layers", "64,32", "--optimizer", "adam"]);
        Assert.Equal(("", 0), (deeper.Error, deeper.Code));
        Assert.Contains("One training step of the 784-64-32-10 network with adam, batch 128: 5 launches", deeper.Output);
        Assert.Contains("dense forward 64->32", deeper.Output);
        Assert.Contains("dense backward input 32->64", deeper.Output);
        Assert.Contains("every parameter's gradient and adam", deeper.Output);

        // A dropout between the dense layers folds into launches 1 and 2.
        var dropped = CliRun.Run(["kernels", "--device", "cpu", "--layers", "512,dropout:0.5"]);
        Assert.Equal(("", 0), (dropped.Error, dropped.Code));
        Assert.Contains("One training step of the 784-512-dropout:0.5-10 network with rmsprop, batch 128: 3 launches", dropped.Output);
        Assert.DoesNotContain("DropoutKernels", dropped.Output);
    }

    /// <summary>
    /// The Keras convnet at batch 64, fused: 7 launches forward (each convolution one implicit
    /// product, the first two with their poolings, the first reading the images and gathering the
    /// labels itself), 10 backward (each convolution's kernel gradient one launch, the first one's
    /// 43,264 positions in 3 chunks; the input gradients of the second and third sent through the
    /// poolings below them; every layer but the first updated by the optimizer in its kernel
    /// gradient's epilogue, after its input gradient), then the first layer's update, which adds
    /// the chunks first: 18. Unfused: the
    /// gather (+1), the poolings separate (+4), each forward convolution unrolls first (+3), each
    /// kernel gradient unrolls afresh and the first runs one product per chunk, then their sum
    /// (+6), each input gradient is a product and a fold (+2): 34.
    /// </summary>
    [Fact]
    public void Kernels_lists_every_launch_of_a_convnet_step()
    {
        var (code, output, error) = CliRun.Run(["kernels", "--device", "cpu", "--network", "convnet"]);
        Assert.Equal(("", 0), (error, code));
        Assert.Contains("One training step of the 784-conv3x3:32-maxpool-conv3x3:64-maxpool-conv3x3:64-flatten-64-10 network with rmsprop, batch 64: 18 launches", output);
        foreach (string kernel in new[] { "ImplicitConvolutionKernels.ForwardPanel", "ImplicitConvolutionKernels.BackwardInputPanel", "ImplicitConvolutionKernels.BackwardParametersPanel", "CopyKernels.Apply" })
            Assert.Contains(kernel, output);
        Assert.Contains("gather + conv forward + maxpool 9->32", output);
        Assert.Contains("conv forward + maxpool 288->64", output);
        Assert.Contains("conv backward input + maxpool backward 64->288", output);
        Assert.Contains("rmsprop, conv kernel gradient's chunks summed first", output);
        Assert.Contains("The optimizer updates 93,002 parameters in their kernel gradients' epilogues, where one work item or group sums each gradient whole. In conv1 the 288 weights each sum over 43,264 positions, in 3 chunks, so no group owns a whole sum: the 320 parameters up to it update in a launch of their own after the gradients, which adds conv1's chunks first.", output);
        foreach (string updated in new[] { "dense backward parameters + rmsprop 64->10", "dense backward parameters + rmsprop 576->64", "conv backward parameters + rmsprop 576->64", "conv backward parameters + rmsprop 288->64" })
            Assert.Contains(updated, output);
        Assert.Contains("conv backward parameters 9->32: ", output);
        // Each layer's input gradient reads its weights before its kernel gradient's epilogue updates them.
        Assert.True(output.IndexOf("dense backward input 10->64", StringComparison.Ordinal) < output.IndexOf("dense backward parameters + rmsprop 64->10", StringComparison.Ordinal));
        Assert.True(output.IndexOf("conv backward input + maxpool backward 64->288", StringComparison.Ordinal) < output.IndexOf("conv backward parameters + rmsprop 288->64", StringComparison.Ordinal));
        foreach (string kernel in new[] { "GatherKernels.Batch", "ConvolutionKernels.Unroll", "ConvolutionKernels.SumPartials", "MaxPoolKernels.Forward", "MaxPoolKernels.Backward" })
            Assert.DoesNotContain(kernel, output);

        var unfused = CliRun.Run(["kernels", "--device", "cpu", "--network", "convnet", "--unfused"]);
        Assert.Equal(("", 0), (unfused.Error, unfused.Code));
        Assert.Contains("batch 64, as separate operations: 34 launches", unfused.Output);
        foreach (string kernel in new[] { "ConvolutionKernels.Unroll", "ConvolutionKernels.Fold", "ConvolutionKernels.SumPartials", "MaxPoolKernels.Forward", "MaxPoolKernels.Backward" })
            Assert.Contains(kernel, unfused.Output);
        Assert.DoesNotContain("ImplicitConvolutionKernels", unfused.Output);
        Assert.DoesNotContain("The optimizer updates", unfused.Output);
        Assert.DoesNotContain("+ rmsprop", unfused.Output);
    }

    [Fact]
    public void Verify_network_convnet_runs_the_convolution_checks_only()
    {
        var (code, output, error) = CliRun.Run(["verify", "--device", "host", "--network", "convnet"]);
        Assert.Equal(("", 0), (error, code));
        int expected = DeviceVerifier.Checks.Count(check => check.Convolutional);
        Assert.Contains($"All {expected} checks agree with the reference on host", output);
        Assert.Contains("conv backward parameters", output);
        Assert.Contains("maxpool backward+relu mask", output);
        Assert.DoesNotContain("dense forward", output);
    }

    [Fact]
    public void Kernels_refuses_unfused_with_ptx()
    {
        using var folder = new TempDirectory();
        var (code, output, error) = CliRun.Run(["kernels", "--ptx", folder.Path, "--unfused"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("mnistgpu: --ptx writes every kernel, whatever the network; it takes no --network, --layers, --hidden, --unfused", Assert.Single(error.TrimEnd().Split('\n')));
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Kernels_refuses_network_options_with_ptx()
    {
        using var folder = new TempDirectory();
        var (code, output, error) = CliRun.Run(["kernels", "--ptx", folder.Path, "--layers", "64,32"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("mnistgpu: --ptx writes every kernel, whatever the network", Assert.Single(error.TrimEnd().Split('\n')));
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [SkippableFact]
    public void Devices_lists_the_host_path_and_auto_picks_it_without_a_gpu()
    {
        var (_, output, _) = CliRun.Run(["devices"]);
        var hostRow = output.Split('\n').Single(line => line.Contains("host:0", StringComparison.Ordinal));
        Assert.Contains("host CPU", hostRow);
        Assert.Contains("yes", hostRow);

        using var catalog = new DeviceCatalog();
        Skip.If(catalog.Devices.Any(d => d.IsGpu && d.Usable), "this machine has a usable GPU, which auto prefers");
        using var backend = catalog.Open("auto", out string choice);
        Assert.StartsWith("auto: host:0 (host CPU", choice);
        Assert.StartsWith("host (", backend.DeviceName);
    }

    [SkippableFact]
    public void Devices_lists_pocl_as_usable_once_every_kernel_builds_on_it()
    {
        // CI installs Debian's PoCL (OpenCL 3.0 without generic address space) without the -dev
        // package, so only libOpenCL.so.1 exists: the engine must find it, and build every kernel
        // on it before it calls it usable.
        Skip.If(NativeDrivers.Problem("OpenCL") is not null, "no OpenCL runtime on this machine");
        using (var catalog = new DeviceCatalog())
            Skip.IfNot(catalog.Devices.Any(d => d.Name.Contains("Portable Computing Language", StringComparison.Ordinal)), "no PoCL device on this machine");

        var (code, output, _) = CliRun.Run(["devices"]);

        Assert.Equal(0, code);
        Assert.Matches(@"opencl:\d+ +\S.*Portable Computing Language CPU .* yes \(ILGPU reports no generic address space; every kernel built\)", output.ReplaceLineEndings(" "));
    }

    [SkippableFact]
    public void Auto_does_not_pick_an_opencl_cpu_device()
    {
        using var catalog = new DeviceCatalog();
        Skip.If(catalog.Devices.Any(d => d.IsGpu && d.Usable), "this machine has a usable GPU, which auto prefers");
        Skip.IfNot(catalog.Devices.Any(d => d.Kind == DeviceKind.OpenCl && d.Usable), "no usable OpenCL CPU device on this machine");
        using var backend = catalog.Open("auto", out string choice);
        Assert.StartsWith("host (", backend.DeviceName);
        Assert.Contains("is not a GPU", choice);
    }

    [Fact]
    public void Asking_for_a_device_that_is_absent_exits_2_listing_the_ones_that_are()
    {
        var (code, _, error) = CliRun.Run(["train", "--device", "7"]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Matches(@"^mnistgpu: no device '7'; available: .*\d+=cpu:0 \(ILGPU CPU accelerator, 16 threads per group\)", error);
    }

    [SkippableFact]
    public void Asking_for_cuda_without_a_cuda_device_exits_2_saying_why()
    {
        using (var catalog = new DeviceCatalog())
            Skip.If(catalog.Devices.Any(d => d.Kind == DeviceKind.Cuda && d.Usable), "this machine has a CUDA device");

        var (code, _, error) = CliRun.Run(["train", "--device", "cuda"]);

        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("mnistgpu: no device 'cuda' (cuda: ", error);
        Assert.Contains("available: ", error);
    }

    [Fact]
    public void Verify_on_the_cpu_accelerator_passes_every_check()
    {
        var (code, output, error) = CliRun.Run(["verify", "--device", "cpu"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("dense forward+relu", output);
        Assert.Contains("training", output);
        Assert.DoesNotContain("MISMATCH", output);
        Assert.Contains("checks agree with the reference on cpu:0", output);
    }

    [Fact]
    public void Running_out_of_device_memory_is_one_line_naming_device_and_bytes()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 100, testCount: 10);
        var (code, output, error) = CliRun.Run(["train", "--device", "cpu", "--data", folder.Path, "--memory-limit", "1MB"]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Matches(@"^mnistgpu: cpu:0 \(.*\): over --memory-limit: this needs [\d,]+ bytes \(the network [\d,]+, host copies [\d,]+, the train set [\d,]+, the test set [\d,]+\); the limit is 1,048,576 bytes, of which 1,048,576 are left, and the device has [\d,]+ free", error);
        Assert.DoesNotContain("Epoch", output);
    }

    [Theory]
    [InlineData("--memory-limit lots", "--memory-limit must be a size such as 1048576, 512MB or 2GiB, got 'lots'")]
    [InlineData("--memory-limit 0", "--memory-limit must be a size")]
    public void A_bad_memory_limit_is_a_usage_error(string arguments, string expected)
    {
        var (code, _, error) = CliRun.Run(["train", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("^dense forward 1x1x1$|^sgd 1$", 0, "All 2 checks agree with the reference on ")]
    [InlineData("no such check", 2, "mnistgpu: --only no such check: no check matches")]
    [InlineData("(unclosed", 2, "mnistgpu: --only must be a regular expression")]
    public void Verify_runs_only_the_checks_asked_for(string pattern, int exitCode, string expected)
    {
        var (code, output, error) = CliRun.Run(["verify", "--device", "host", "--only", pattern]);
        Assert.Equal(exitCode, code);
        Assert.Contains(expected, exitCode == 0 ? output : error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_small_keeps_the_small_checks_of_every_kind_and_drops_the_large_ones_and_the_training_steps()
    {
        var (code, output, error) = CliRun.Run(["verify", "--device", "cpu", "--list", "--small"]);
        Assert.Equal(("", 0), (error, code));
        var expected = DeviceVerifier.Checks.Where(c => c.IsSmall).ToList();
        Assert.Contains($"{expected.Count} checks on cpu:0", output, StringComparison.Ordinal);
        foreach (var kind in new[] { "gather 7x13", "dense forward 1x1x1", "softmax-cross-entropy forward 1x10", "sgd nesterov 1", "conv backward parameters 2x5x5x1 5x5:3", "maxpool backward 1x2x2x1", "flatten copy+relu mask 300", "dropout forward 0.3 5x13", "dropout backward+relu mask 0.4 9x40", "batchnorm forward inference 5x3", "fused step vs composition: 2 steps of 49-32-10" })
            Assert.Contains(kind, output, StringComparison.Ordinal);
        Assert.DoesNotContain("dense forward 128x784x512", output, StringComparison.Ordinal);
        Assert.DoesNotContain("training: 2 steps", output, StringComparison.Ordinal);

        var none = CliRun.Run(["verify", "--device", "cpu", "--small", "--only", "^dense forward 128x784x512$"]);
        Assert.Equal(2, none.Code);
        Assert.Contains("no small check matches", none.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_list_names_each_check_s_form_without_running_it_and_every_row_of_a_run_names_it_too()
    {
        var listed = CliRun.Run(["verify", "--device", "cpu", "--list", "--only", "^conv forward 3x9x7x2 3x3:5( unrolled)?$|^fused step vs composition: 2 steps of 49-24"]);
        Assert.Equal(("", 0), (listed.Error, listed.Code));
        // A table that fits 100 columns, or a row a line: either way each row names its form.
        Assert.Matches(@"conv forward 3x9x7x2 3x3:5(: form | +)implicit, panels", listed.Output);
        Assert.Matches(@"conv forward 3x9x7x2 3x3:5 unrolled(: form | +)unrolled", listed.Output);
        Assert.Contains("fused vs composed", listed.Output, StringComparison.Ordinal);
        Assert.Contains("3 checks on cpu:0", listed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("max abs error", listed.Output, StringComparison.Ordinal);
        TableLines.AssertFit(listed.Output);

        var run = CliRun.Run(["verify", "--device", "host", "--only", "^maxpool forward 3x7x5x3$|^conv forward 3x9x7x2 3x3:5( unrolled)?$"]);
        Assert.Equal(("", 0), (run.Error, run.Code));
        var rows = run.Output.Split('\n').Where(line => line.StartsWith("conv forward", StringComparison.Ordinal) || line.TrimStart().StartsWith("conv forward", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains(rows, row => row.Contains("implicit, host SIMD", StringComparison.Ordinal));
        Assert.Contains(rows, row => row.Contains("unrolled", StringComparison.Ordinal));
        TableLines.AssertFit(run.Output);
    }

    [Fact]
    public void Kernels_on_the_host_names_the_device_that_lists_launches()
    {
        var (code, output, error) = CliRun.Run(["kernels", "--device", "host"]);
        Assert.Equal(("", 0), (error, code));
        Assert.Contains("nothing to list. 'mnistgpu kernels --device cpu' lists the launches a GPU would run", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Redirected_tables_fit_100_columns_or_keep_a_row_a_line()
    {
        foreach (string[] command in new[] { new[] { "devices" }, ["kernels", "--device", "cpu", "--network", "convnet"] })
        {
            var (code, output, _) = CliRun.Run(command);
            Assert.Equal(0, code);
            TableLines.AssertFit(output);
        }
    }
}
