using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

/// <summary>
/// What a newcomer mistypes gets one line that points at what was meant: the nearest command,
/// option or value, the option other tools call --lr, --model for a checkpoint given bare, cuda
/// or opencl for "gpu"; an unknown option is refused by name wherever it stands.
/// </summary>
public sealed class UsageMistakeTests
{
    [Theory]
    [InlineData("train --epoch 1", "mnistgpu: train: unknown option '--epoch'; did you mean --epochs? (see mnistgpu train --help)")]
    [InlineData("train --lr 0.01", "mnistgpu: train: unknown option '--lr'; did you mean --learning-rate? (see mnistgpu train --help)")]
    [InlineData("train --batchsize 64", "mnistgpu: train: unknown option '--batchsize'; did you mean --batch-size? (see mnistgpu train --help)")]
    [InlineData("train --bs 64", "mnistgpu: train: unknown option '--bs'; did you mean --batch-size? (see mnistgpu train --help)")]
    [InlineData("bench --learnig-rate 0.1", "mnistgpu: bench: unknown option '--learnig-rate'; did you mean --learning-rate? (see mnistgpu bench --help)")]
    [InlineData("trian", "mnistgpu: 'trian' is not a command; did you mean 'train'? (see mnistgpu --help)")]
    [InlineData("frobnicate", "mnistgpu: 'frobnicate' is not a command; the commands are train, devices, verify, bench, evaluate, predict, export, report, kernels, serve, summary (see mnistgpu --help)")]
    [InlineData("", "mnistgpu: give a command: train, devices, verify, bench, evaluate, predict, export, report, kernels, serve, summary (see mnistgpu --help)")]
    [InlineData("--verison", "mnistgpu: unknown option '--verison'; did you mean --version? (see mnistgpu --help)")]
    [InlineData("evaluate m.ckpt", "mnistgpu: evaluate takes the checkpoint as --model: did you mean --model m.ckpt? (see mnistgpu evaluate --help)")]
    [InlineData("export m.ckpt --onnx m.onnx", "mnistgpu: export takes the checkpoint as --model: did you mean --model m.ckpt? (see mnistgpu export --help)")]
    [InlineData("train --optimizer adamw", "mnistgpu: --optimizer: unknown optimizer 'adamw': use rmsprop, adam or sgd; did you mean 'adam'? (see mnistgpu train --help)")]
    [InlineData("train --network convnett", "mnistgpu: --network must be mlp, convnet, keras-convnet, bn-convnet or speedrun, got 'convnett'; did you mean 'convnet'? (see mnistgpu train --help)")]
    [InlineData("predict --model m x.png --top 5", "mnistgpu: predict: unknown option '--top' (a file whose name starts with '-' goes after --) (see mnistgpu predict --help)")]
    [InlineData("predict --model m x.png -v", "mnistgpu: predict: unknown option '-v' (a file whose name starts with '-' goes after --) (see mnistgpu predict --help)")]
    [InlineData("train --nesterov --foo", "mnistgpu: train: unknown option '--foo' (a file whose name starts with '-' goes after --) (see mnistgpu train --help)")]
    [InlineData("train --epochs 0 --batch-size 0", "mnistgpu: --epochs must be at least 1, got 0; --batch-size must be at least 1, got 0 (see mnistgpu train --help)")]
    public void A_mistake_gets_one_line_naming_what_was_meant(string arguments, string expected)
    {
        var (code, output, error) = CliRun.Run(arguments.Length == 0 ? [] : arguments.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal(expected, Assert.Single(error.TrimEnd('\n').Split('\n')));
        Assert.DoesNotContain(".;", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpu", "mnistgpu: no device 'gpu': a GPU is named cuda (NVIDIA) or opencl (any OpenCL GPU); this machine has: ")]
    [InlineData("nvidia", "mnistgpu: no device 'nvidia': a GPU is named cuda (NVIDIA) or opencl (any OpenCL GPU); this machine has: ")]
    [InlineData("hots", "mnistgpu: no device 'hots'; available: ")]
    public void A_device_that_is_not_named_so_is_pointed_at_the_names_that_exist(string device, string expected)
    {
        var (code, _, error) = CliRun.Run(["train", "--device", device]);
        Assert.Equal(2, code);
        OneLine.Expect(error, expected);
        Assert.Contains("host:0 (host CPU", error, StringComparison.Ordinal);
        if (device == "hots")
            Assert.EndsWith("; did you mean 'host'?", error.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_picture_whose_name_starts_with_a_dash_is_a_picture_after_the_double_dash()
    {
        using var folder = new TempDirectory();
        string model = SmallModel.WriteTo(folder);
        string picture = DigitPictures.LightOnDark(folder, 0, "-seven.png");
        var (code, output, error) = CliRun.Run(["predict", "--model", model, "--device", "host", "--", picture]);
        Assert.Equal(("", 0), (error, code));
        Assert.Contains("-seven.png: 7 ", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train", "report.html")]
    [InlineData("train", "out/REPORT.HTM")]
    [InlineData("report", "report.html")]
    public void A_previews_folder_named_like_the_page_is_refused_before_any_work(string command, string name)
    {
        using var folder = new TempDirectory();
        Directory.CreateDirectory(folder.File("out"));
        string previews = folder.File(name);
        string[] args = command == "train"
            ? ["train", "--device", "host", "--epochs", "1", "--previews", previews]
            : ["report", "--model", SmallModel.WriteTo(folder), "--device", "host", "--previews", previews];
        var result = CliRun.Run(args);
        Assert.Equal(2, result.Code);
        OneLine.Expect(result.Error, $"mnistgpu: --previews {previews}: names the folder the previews are written to, report.html among them; give a folder, e.g. --previews {Path.Combine(Path.GetDirectoryName(previews)!, "previews")}");
        Assert.DoesNotContain("Device:", result.Diagnostics, StringComparison.Ordinal);
        Assert.False(Path.Exists(previews));
    }
}
