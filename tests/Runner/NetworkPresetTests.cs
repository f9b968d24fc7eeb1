using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>--network names a whole recipe: its layers, and its batch size, optimizer and epochs unless given beside it.</summary>
public sealed class NetworkPresetTests
{
    [Fact]
    public void Keras_io_s_simple_convnet_has_the_34_826_parameters_Keras_counts()
    {
        var (code, output, error) = CliRun.Run(["summary", "--network", "keras-convnet"]);
        Assert.Equal(("", 0), (error, code));
        var lines = output.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Replace(line.Trim(), " {2,}", " ")).ToList();
        Assert.Equal(
            [
                "conv2d (Conv2D) (None, 26, 26, 32) 320",
                "max_pooling2d (MaxPooling2D) (None, 13, 13, 32) 0",
                "conv2d_1 (Conv2D) (None, 11, 11, 64) 18,496",
                "max_pooling2d_1 (MaxPooling2D) (None, 5, 5, 64) 0",
                "flatten (Flatten) (None, 1600) 0",
                "dropout (Dropout) (None, 1600) 0",
                "dense (Dense) (None, 10) 16,010",
            ],
            lines.Where(line => line.Contains(") (None", StringComparison.Ordinal)));
        Assert.Contains(" Total params: 34,826 (136.04 KB)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_batchnorm_convnet_counts_its_moving_statistics_as_keras_does()
    {
        var (code, output, error) = CliRun.Run(["summary", "--network", "bn-convnet"]);
        Assert.Equal(("", 0), (error, code));
        var lines = output.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Replace(line.Trim(), " {2,}", " ")).ToList();
        Assert.Contains("batch_normalization (BatchNormalization) (None, 26, 26, 32) 128", lines);
        Assert.Contains("batch_normalization_3 (BatchNormalization) (None, 8, 8, 64) 256", lines);
        Assert.Contains(" Total params: 330,730 (1.26 MB)", output, StringComparison.Ordinal);
        Assert.Contains(" Trainable params: 330,346 (1.26 MB)", output, StringComparison.Ordinal);
        Assert.Contains(" Non-trainable params: 384 (1.50 KB)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_preset_brings_its_optimizer_batch_and_epochs_and_options_beside_it_win()
    {
        using var data = IdxWriter.MnistSubset(trainCount: 200, testCount: 50);
        var preset = CliRun.Run(["train", "--network", "keras-convnet", "--device", "host", "--data", data.Path, "--no-progress"]);
        Assert.Equal(("", 0), (preset.Error, preset.Code));
        Assert.Contains("Network 784-conv3x3:32-maxpool-conv3x3:64-maxpool-flatten-dropout:0.5-10, batch 128, Adam (lr 0.001", preset.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("Epoch 15/15", preset.Output, StringComparison.Ordinal);

        var overridden = CliRun.Run(["train", "--network", "keras-convnet", "--device", "host", "--data", data.Path, "--no-progress", "--epochs", "1", "--batch-size", "64", "--optimizer", "sgd"]);
        Assert.Equal(("", 0), (overridden.Error, overridden.Code));
        Assert.Contains("batch 64, SGD", overridden.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("Epoch 1/1", overridden.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Epoch 2/", overridden.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_speedrun_is_the_published_recipe_with_its_initializer_and_standardized_inputs()
    {
        var summary = CliRun.Run(["summary", "--network", "speedrun"]);
        Assert.Equal(("", 0), (summary.Error, summary.Code));
        // PyTorch's count for the recipe: 624 + 6,944 + 205,056 + 2,570.
        Assert.Contains(" Total params: 215,194 ", summary.Output, StringComparison.Ordinal);

        using var data = IdxWriter.MnistSubset(trainCount: 300, testCount: 50);
        var run = CliRun.Run(["train", "--network", "speedrun", "--device", "host", "--data", data.Path, "--no-progress"]);
        Assert.Equal(("", 0), (run.Error, run.Code));
        Assert.Matches(@"Network 784-conv5x5:24-maxpool-conv3x3:32-maxpool-flatten-256-10, batch 256, Adam \(lr 0\.01, beta1 0\.7, beta2 0\.9, epsilon 1e-8\), learning rate one-cycle over 1 epoch, fan-in-uniform initializer, inputs standardized \(mean 0\.1\d+, deviation 0\.3\d+\), seed 1", run.Diagnostics);
        Assert.Contains("Epoch 1/1", run.Output, StringComparison.Ordinal);

        var plain = CliRun.Run(["train", "--network", "speedrun", "--standardize", "false", "--initializer", "glorot-uniform", "--device", "host", "--data", data.Path, "--no-progress"]);
        Assert.Equal(("", 0), (plain.Error, plain.Code));
        Assert.DoesNotContain("standardized", plain.Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("initializer", plain.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_name_lists_the_presets_and_suggests_the_nearest()
    {
        var (code, output, error) = CliRun.Run(["train", "--network", "keras-conv"]);
        Assert.Equal((2, ""), (code, output));
        Assert.Equal("mnistgpu: --network must be mlp, convnet, keras-convnet, bn-convnet or speedrun, got 'keras-conv'; did you mean 'keras-convnet'? (see mnistgpu train --help)\n", error);
    }
}
