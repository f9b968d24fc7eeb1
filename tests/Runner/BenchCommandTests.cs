using System.Text.Json;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

public sealed class BenchCommandTests
{
    [Fact]
    public void Unfused_steps_launch_eight_kernels_on_the_cpu_accelerator()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 256, testCount: 100);
        string json = folder.File("bench.json");
        var (code, output, error) = CliRun.Run(["bench", "--device", "cpu", "--epochs", "1", "--data", folder.Path, "--json", json, "--unfused"]);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("separate operations (--unfused)", output);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var device = Assert.Single(document.RootElement.GetProperty("devices").EnumerateArray().ToList());
        Assert.False(device.GetProperty("fusedSteps").GetBoolean());
        Assert.Equal(8, device.GetProperty("launchesPerStep").GetInt32());
    }

    [Theory]
    [InlineData(false, 5)]
    [InlineData(true, 11)]
    public void A_second_hidden_layer_adds_two_launches_to_the_fused_step(bool unfused, int launches)
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 256, testCount: 100);
        string json = folder.File("bench.json");
        string[] args = ["bench", "--device", "cpu", "--epochs", "1", "--data", folder.Path, "--json", json, "--layers", "32,16", "--optimizer", "adam"];
        var (code, _, error) = CliRun.Run(unfused ? [.. args, "--unfused"] : args);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var device = Assert.Single(document.RootElement.GetProperty("devices").EnumerateArray().ToList());
        Assert.Equal(!unfused, device.GetProperty("fusedSteps").GetBoolean());
        Assert.Equal(launches, device.GetProperty("launchesPerStep").GetInt32());
    }

    [Fact]
    public void Target_accuracy_reports_where_and_after_how_much_training_it_was_reached_or_that_it_was_not()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 1_000, testCount: 200);
        string json = folder.File("bench.json");
        // 8 steps an epoch: evaluations after updates 4 and 8, 12 and 16.
        var missed = CliRun.Run(["bench", "--device", "host", "--epochs", "2", "--data", folder.Path, "--layers", "32", "--target-accuracy", "1", "--eval-every", "4", "--json", json]);
        Assert.Equal(("", 0), (missed.Error, missed.Code));
        Assert.Matches(@"host \(.*\): 100\.00 % not reached in 2 epochs \([\d.]+ m?s of training, best test accuracy \d+\.\d\d %; 4 evaluations took [\d.]+ m?s more; opening the device [\d.]+ m?s\)", missed.Output);
        Assert.Matches(@"(?m)^  epoch 1, step 4 \(update 4\): ", missed.Diagnostics);
        Assert.Matches(@"(?m)^  epoch 2, step 8 \(update 16\): ", missed.Diagnostics);
        using (var document = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var result = Assert.Single(document.RootElement.GetProperty("timeToAccuracy").EnumerateArray().ToList());
            Assert.Equal(JsonValueKind.Null, result.GetProperty("reached").ValueKind);
            Assert.Equal([4L, 8L, 12L, 16L], result.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("update").GetInt64()));
        }

        var reached = CliRun.Run(["bench", "--device", "host", "--epochs", "2", "--data", folder.Path, "--layers", "32", "--target-accuracy", "0.4", "--json", json]);
        Assert.Equal(("", 0), (reached.Error, reached.Code));
        Assert.Matches(@"host \(.*\): test accuracy \d+\.\d\d % >= 40\.00 % at epoch 1, step 8 \(update 8\) after [\d.]+ m?s of training \(1 evaluation took", reached.Output);
        using (var document = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var result = Assert.Single(document.RootElement.GetProperty("timeToAccuracy").EnumerateArray().ToList());
            Assert.Equal(1, result.GetProperty("reached").GetProperty("epoch").GetInt32());
            Assert.True(result.GetProperty("reached").GetProperty("accuracy").GetDouble() >= 0.4);
        }
    }

    [Theory]
    [InlineData("--target-accuracy 1.5", "--target-accuracy must be a fraction in (0, 1], such as 0.99, got 1.5")]
    [InlineData("--target-accuracy 0", "--target-accuracy must be a fraction in (0, 1], such as 0.99, got 0")]
    [InlineData("--eval-every 10", "--eval-every is an option of --target-accuracy")]
    [InlineData("--target-accuracy 0.99 --eval-every 0", "--eval-every must be a whole number of at least 1, got '0'")]
    public void Bad_targets_are_one_line_and_exit_2(string arguments, string expected)
    {
        var (code, output, error) = CliRun.Run(["bench", .. arguments.Split(' ')]);
        Assert.Equal((2, ""), (code, output));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Every_device_says_its_estimated_time_first_and_the_tables_fit_100_columns_or_a_row_a_line()
    {
        // Every device but OpenCL's (an empty folder of OpenCL runtimes for the child): the host
        // and the CPU accelerator are two devices, and cost seconds where PoCL and rusticl would
        // compile every kernel twice.
        using var folder = IdxWriter.MnistSubset(trainCount: 256, testCount: 100);
        Directory.CreateDirectory(folder.File("no-opencl"));
        using var process = RunnerProcess.Start(new Dictionary<string, string> { ["OCL_ICD_VENDORS"] = folder.File("no-opencl") }, "bench", "--device", "all", "--epochs", "1", "--data", folder.Path, "--hidden", "16");
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);
        var estimate = (await error).Split('\n').First(line => line.StartsWith("Estimated", StringComparison.Ordinal));
        Assert.Matches(@"^Estimated time: .+ in all \(host:0 \d+ s, cpu:0 .*\)$", estimate);
        TableLines.AssertFit(output);
        Assert.Matches(@"(?m)^epoch times: host [\d.]+ (ms|s) \| cpu:0 ", output);
    }

    [Fact]
    public void Bench_reports_every_figure_in_the_table_and_the_json()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 640, testCount: 200);
        string json = folder.File("bench.json");

        var (code, output, error) = CliRun.Run(["bench", "--device", "cpu", "--epochs", "2", "--data", folder.Path, "--json", json]);

        Assert.Equal("", error);
        Assert.Equal(0, code);
        foreach (string row in new[] { "kernel compile", "time to first finished step", "epoch time (median after the first)", "samples per second", "GFLOP/s x·W", "GFLOP/s dy·Wᵀ", "GFLOP/s xᵀ·dy", "managed bytes allocated per epoch", "test loss / accuracy", "profiled epoch on cpu:0" })
            Assert.Contains(row, output);

        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var root = document.RootElement;
        Assert.Equal("mnistgpu-bench/1", root.GetProperty("schema").GetString());
        var provenance = root.GetProperty("provenance");
        foreach (string field in new[] { "commit", "dotNet", "ilgpu", "cpu", "operatingSystem" })
            Assert.False(string.IsNullOrEmpty(provenance.GetProperty(field).GetString()), field);

        var device = Assert.Single(root.GetProperty("devices").EnumerateArray().ToList());
        Assert.StartsWith("cpu:0", device.GetProperty("device").GetString());
        Assert.True(device.GetProperty("kernelCompileSeconds").GetDouble() > 0);
        Assert.True(device.GetProperty("firstStepSeconds").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Number, device.GetProperty("managedBytesPerEpoch").ValueKind);
        Assert.True(device.GetProperty("fusedSteps").GetBoolean());
        Assert.Equal(3, device.GetProperty("launchesPerStep").GetInt32());
        Assert.True(device.GetProperty("launchIssueSecondsPerEpoch").GetDouble() > 0);
        Assert.Equal(2, device.GetProperty("epochSeconds").GetArrayLength());
        Assert.Equal(device.GetProperty("epochSeconds")[1].GetDouble(), device.GetProperty("medianEpochSeconds").GetDouble());
        Assert.Equal(640 / device.GetProperty("medianEpochSeconds").GetDouble(), device.GetProperty("samplesPerSecond").GetDouble(), 6);
        var matMul = device.GetProperty("matMul").EnumerateArray().ToList();
        Assert.Equal(["forward", "input-gradient", "weight-gradient"], matMul.Select(m => m.GetProperty("key").GetString()));
        Assert.All(matMul, m => Assert.True(m.GetProperty("gigaflopsPerSecond").GetDouble() > 0));
        Assert.Equal(["SparseRowPanel", "RegisterTiled", "SparseRowPanel"], matMul.Select(m => m.GetProperty("kernel").GetString()));
        var variants = device.GetProperty("matMulVariants").EnumerateArray().ToList();
        Assert.Equal(["RegisterTiled", "SparseRowPanel"], variants.Select(v => v.GetProperty("kernel").GetString()).Distinct());
        Assert.Equal(6, variants.Count);
        Assert.Contains("GFLOP/s per variant on cpu:0", output);
        Assert.Empty(device.GetProperty("convolutionForms").EnumerateArray());
        var operations = device.GetProperty("operations").EnumerateArray().ToList();
        var rmsProp = operations.Single(o => o.GetProperty("operation").GetString() == "rmsprop");
        Assert.Equal(5, rmsProp.GetProperty("calls").GetInt32());
        Assert.Equal(1.0, operations.Sum(o => o.GetProperty("share").GetDouble()), 6);
        Assert.InRange(device.GetProperty("testAccuracy").GetDouble(), 0.3, 1.0);
    }

    /// <summary>
    /// A convnet's step: each product one implicit launch, a pooling run with the convolution below
    /// it (the unrolled composition: patches unrolled or folded around each product, the pooling
    /// separate, with --unfused), and its rates per layer in the profile.
    /// </summary>
    [Fact]
    public void A_convnet_bench_reports_launches_per_step_and_each_layers_gflops()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 128, testCount: 100);
        string json = folder.File("bench.json");
        string[] arguments = ["bench", "--device", "cpu", "--epochs", "1", "--data", folder.Path, "--json", json, "--layers", "conv3x3:4,maxpool,conv3x3:8,flatten,16"];
        var (code, output, error) = CliRun.Run(arguments);
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("peak resident memory", output);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var device = Assert.Single(document.RootElement.GetProperty("devices").EnumerateArray().ToList());
        // Forward 6: conv1 with its pooling, reading the images and gathering the labels, conv2,
        // flatten, 2 dense, softmax. Backward 8: 2 dense x2; flatten; conv2 parameters, and its
        // input gradient sent through the pooling; conv1 parameters in 6 chunks of 24 images'
        // 16,224 positions, one launch. Then rmsprop, which adds conv1's chunks first.
        Assert.Equal(15, device.GetProperty("launchesPerStep").GetInt32());
        // Unfused, forward 10: the gather; each convolution unrolls its patches first. Backward 18: conv2
        // unroll + product, input product + fold; conv1 unroll + 6 products + their sum.
        Assert.Equal(0, CliRun.Run([.. arguments, "--unfused"]).Code);
        using (var unfused = JsonDocument.Parse(File.ReadAllText(json)))
            Assert.Equal(29, unfused.RootElement.GetProperty("devices")[0].GetProperty("launchesPerStep").GetInt32());
        Assert.Empty(device.GetProperty("matMul").EnumerateArray());
        // Both convolutions' three products in both forms, each named by the kernels it launches.
        var forms = device.GetProperty("convolutionForms").EnumerateArray().ToList();
        Assert.Equal(12, forms.Count);
        Assert.Equal(["conv1 forward", "conv1 input-gradient", "conv1 weight-gradient", "conv2 forward", "conv2 input-gradient", "conv2 weight-gradient"], forms.Select(f => f.GetProperty("key").GetString()).Distinct());
        Assert.All(forms, f => Assert.True(f.GetProperty("gigaflopsPerSecond").GetDouble() > 0));
        Assert.Equal("ImplicitConvolutionKernels.ForwardPanel", forms.Single(f => f.GetProperty("key").GetString() == "conv2 forward" && f.GetProperty("form").GetString() == "implicit").GetProperty("kernel").GetString());
        Assert.Equal("ConvolutionKernels.Unroll + MatMulKernels.RegisterTiled", forms.Single(f => f.GetProperty("key").GetString() == "conv2 forward" && f.GetProperty("form").GetString() == "unrolled").GetProperty("kernel").GetString());
        Assert.Contains("convolution GFLOP/s per form on cpu:0", output);
        Assert.True(device.GetProperty("peakWorkingSetBytes").GetInt64() > 0);
        var operations = device.GetProperty("operations").EnumerateArray().ToDictionary(o => o.GetProperty("operation").GetString()!);
        foreach (string conv in new[] { "conv3x3 forward 28x28x1->26x26x4 +ReLU", "conv3x3 backward parameters 28x28x1->26x26x4", "conv3x3 backward input 13x13x4->11x11x8" })
            Assert.True(operations[conv].GetProperty("gigaflopsPerSecond").GetDouble() > 0, conv);
        Assert.Equal(JsonValueKind.Null, operations["maxpool forward 26x26x4"].GetProperty("gigaflopsPerSecond").ValueKind);
    }
}
