using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary><c>mnistgpu summary</c>: a network as Keras' model.summary() shows it, with Keras' figures for the book's networks.</summary>
public sealed class SummaryCommandTests
{
    [Fact]
    public void The_book_s_convnet_has_the_93_322_parameters_Keras_counts()
    {
        var (code, output, error) = CliRun.Run(["summary", "--network", "convnet"]);
        Assert.Equal(("", 0), (error, code));
        string[] rows =
        [
            "conv2d (Conv2D) (None, 26, 26, 32) 320",
            "max_pooling2d (MaxPooling2D) (None, 13, 13, 32) 0",
            "conv2d_1 (Conv2D) (None, 11, 11, 64) 18,496",
            "max_pooling2d_1 (MaxPooling2D) (None, 5, 5, 64) 0",
            "conv2d_2 (Conv2D) (None, 3, 3, 64) 36,928",
            "flatten (Flatten) (None, 576) 0",
            "dense (Dense) (None, 64) 36,928",
            "dense_1 (Dense) (None, 10) 650",
        ];
        var lines = output.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Replace(line.Trim(), " {2,}", " ")).ToList();
        Assert.Equal(rows, lines.Where(line => line.Contains(") (None", StringComparison.Ordinal)));
        Assert.Contains(" Total params: 93,322 (364.54 KB)", output, StringComparison.Ordinal);
        Assert.Contains(" Non-trainable params: 0 (0.00 B)", output, StringComparison.Ordinal);
        TableLines.AssertFit(output);
    }

    [Fact]
    public void A_checkpoint_s_network_is_summarised_from_the_file()
    {
        using var folder = new TempDirectory();
        var seed = CliRun.Run(["summary", "--model", SmallModel.WriteTo(folder)]);
        Assert.Equal(("", 0), (seed.Error, seed.Code));
        Assert.StartsWith("Model: 784-64-10\n", seed.Output, StringComparison.Ordinal);
        Assert.Contains(" Total params: 50,890 (198.79 KB)", seed.Output, StringComparison.Ordinal);

        var mlp = CliRun.Run(["summary"]);
        Assert.Contains(" Total params: 407,050 (1.55 MB)", mlp.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("summary --model m.ckpt --layers 64", "mnistgpu: --model's checkpoint names its network: give it or --network/--layers/--hidden, not both")]
    [InlineData("summary --layers conv3x3:8,16", "mnistgpu: layer 2 (16): a dense layer after 26x26x8 feature maps needs a flatten before it")]
    [InlineData("summary --model absent.ckpt", "mnistgpu: ")]
    [InlineData("summary --optimizer adam", "mnistgpu: summary: unknown option '--optimizer'")]
    public void What_cannot_be_summarised_is_one_line_and_exit_2(string arguments, string expected)
    {
        var (code, output, error) = CliRun.Run(arguments.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        OneLine.Expect(error, expected);
    }
}
