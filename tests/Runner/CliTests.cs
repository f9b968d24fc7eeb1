using System.Text.Json;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Runner;

public sealed class CliTests
{
    [Theory]
    [InlineData("--batch-size 0", "--batch-size must be at least 1, got 0")]
    [InlineData("--batch-size -5", "--batch-size must be at least 1, got -5")]
    [InlineData("--epochs 0", "--epochs must be at least 1, got 0")]
    [InlineData("--hidden 0", "--hidden must be at least 1, got 0")]
    [InlineData("--learning-rate 0", "--learning-rate must be a positive number, got 0")]
    [InlineData("--learning-rate -0.1", "--learning-rate must be a positive number, got -0.1")]
    [InlineData("--learning-rate NaN", "--learning-rate must be a positive number, got NaN")]
    [InlineData("--batch-size abc", "--batch-size must be a whole number, got 'abc'")]
    [InlineData("--learning-rate fast", "--learning-rate must be a number, got 'fast'")]
    [InlineData("--learning-rate Infinity", "--learning-rate must be a positive number, got Infinity")]
    [InlineData("--no-such-option", "--no-such-option")]
    [InlineData("--data /no/such/folder", "data folder not found: /no/such/folder")]
    [InlineData("--device 99", "no device '99'; available: ")]
    [InlineData("--device tpu", "no device 'tpu'; available: ")]
    [InlineData("--json /no/such/folder/run.json", "folder /no/such/folder does not exist")]
    [InlineData("--layers 512,0", "--layers must be hidden layer widths of at least 1 or layer specs, separated by commas, such as 512,256, got '512,0'")]
    [InlineData("--layers 512,,10", "--layers must be hidden layer widths of at least 1 or layer specs, separated by commas, such as 512,256, got '512,,10'")]
    [InlineData("--layers 512 --hidden 64", "--hidden is shorthand for --layers: give one of them")]
    [InlineData("--optimizer adagrad", "--optimizer: unknown optimizer 'adagrad': use rmsprop, adam or sgd")]
    [InlineData("--momentum 0.9", "--momentum and --nesterov are options of --optimizer sgd")]
    [InlineData("--optimizer sgd --momentum 1", "--momentum must be in [0, 1), got 1")]
    [InlineData("--optimizer sgd --nesterov", "--nesterov needs a --momentum above 0")]
    [InlineData("--network convnet --layers 64", "--network names a whole network: give it or --layers, not both")]
    [InlineData("--network resnet", "--network must be mlp, convnet, keras-convnet, bn-convnet or speedrun, got 'resnet'")]
    [InlineData("--layers pool,flatten", "--layers: 'pool' is not a layer: a width, or one of dense, conv, maxpool, flatten")]
    [InlineData("--layers conv3x4:8,flatten", "a convolution is written conv<k>x<k>:<filters>[:same][:linear], e.g. conv3x3:32, not 'conv3x4:8'")]
    [InlineData("--layers conv3x3:8,flatten,conv3x3:4,16", "layer 3 (conv3x3:4): a convolution takes the images or feature maps, not the 5408 flat values of a flatten or dense layer before it")]
    [InlineData("--layers conv29x29:4,flatten", "layer 1 (conv29x29:4): a 29x29 kernel is larger than its 28x28x1 input")]
    [InlineData("--layers conv3x3:8,maxpool,maxpool,maxpool,maxpool,maxpool,flatten", "layer 6 (maxpool): a 2x2 pooling of a 1x1x8 input would leave less than 1x1")]
    [InlineData("--layers conv3x3:0,flatten", "layer 1 (conv3x3:0): a convolution needs at least 1 filter, not 0")]
    [InlineData("--layers conv3x3:3000000:same,flatten", "has more values per image than one array holds")]
    [InlineData("--layers conv3x3:8,maxpool", "layer 3 (10): a dense layer after 13x13x8 feature maps needs a flatten before it")]
    [InlineData("--lr-schedule linear", "--lr-schedule: a learning-rate schedule is constant, step:EPOCHS:FACTOR, exponential:RATE, cosine or one-cycle, not 'linear'")]
    [InlineData("--lr-schedule step:0:0.5", "step:EPOCHS:FACTOR needs EPOCHS a whole number of at least 1, got '0'")]
    [InlineData("--lr-schedule exponential:0", "a schedule's factor or rate must be a positive number, got '0'")]
    [InlineData("--lr-schedule one-cycle --warmup-steps 10", "--warmup-steps: one-cycle warms up by its own rule")]
    [InlineData("--warmup-steps -1", "--warmup-steps must be a whole number of 0 or more, got '-1'")]
    [InlineData("--beta1 0.8", "--beta1 is an option of --optimizer adam, not of rmsprop")]
    [InlineData("--optimizer adam --rho 0.8", "--rho is an option of --optimizer rmsprop, not of adam")]
    [InlineData("--network keras-convnet --rho 0.8", "--rho is an option of --optimizer rmsprop, not of adam")]
    [InlineData("--optimizer sgd --epsilon 1e-8", "--epsilon is an option of --optimizer rmsprop or adam; sgd has none")]
    [InlineData("--optimizer adam --beta2 1", "--beta2 must be in [0, 1), got 1")]
    [InlineData("--epsilon -1", "--epsilon must be a positive number, got -1")]
    [InlineData("--initializer he-normal", "--initializer takes glorot-uniform or fan-in-uniform, got 'he-normal'")]
    [InlineData("--standardize maybe", "'maybe'")]
    [InlineData("--validation-split 1", "--validation-split must be in [0, 1), got 1")]
    [InlineData("--log-every 0 --json run.json", "--log-every must be a whole number of steps of at least 1, got '0'")]
    [InlineData("--log-every 10", "--log-every records steps in the --json summary: give --json too")]
    [InlineData("--early-stopping 2", "--early-stopping watches the validation loss: give --validation-split or --validation-data")]
    [InlineData("--save-best best.ckpt", "--save-best watches the validation loss: give --validation-split or --validation-data")]
    [InlineData("--validation-split 0.1 --early-stopping 0", "--early-stopping must be a whole number of epochs from 1 to 1000000, got '0'")]
    [InlineData("--validation-split 0.1 --validation-data /tmp", "--validation-split takes the validation set from the training set and --validation-data gives one: give one of them")]
    public void Train_rejects_bad_input_with_one_line_and_exit_code_2(string arguments, string expected)
    {
        var (code, output, error) = CliRun.Run(["train", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("Epoch", output);
    }

    [Theory]
    [InlineData("--layers 64")]
    [InlineData("--hidden 64")]
    [InlineData("--optimizer adam")]
    [InlineData("--learning-rate 0.01")]
    [InlineData("--optimizer sgd --momentum 0.5")]
    [InlineData("--network convnet")]
    [InlineData("--lr-schedule cosine")]
    [InlineData("--warmup-steps 5")]
    [InlineData("--rho 0.8")]
    [InlineData("--epsilon 1e-6")]
    [InlineData("--initializer fan-in-uniform")]
    [InlineData("--standardize")]
    [InlineData("--validation-split 0.2")]
    [InlineData("--early-stopping 3")]
    public void Resuming_refuses_a_change_of_what_the_checkpoint_fixes(string arguments)
    {
        var (code, _, error) = CliRun.Run(["train", "--resume", "any.ckpt", .. arguments.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains($"{arguments.Split(' ')[0]} cannot be changed when resuming: the checkpoint fixes it", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void An_unknown_command_exits_2()
    {
        var (code, _, error) = CliRun.Run(["frobnicate"]);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_malformed_data_file_is_named_in_one_line_with_exit_code_2()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 20, testCount: 10);
        string labels = Path.Combine(folder.Path, "t10k-labels-idx1-ubyte");
        File.WriteAllBytes(labels, File.ReadAllBytes(labels)[..^2]);

        var (code, _, error) = CliRun.Run(["train", "--data", folder.Path]);

        Assert.Equal(2, code);
        Assert.Contains($"{labels}: not an IDX file: truncated", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Train_reports_epochs_and_test_accuracy_and_writes_the_json_summary()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 600, testCount: 200);
        string json = folder.File("run.json");

        var run = CliRun.Run(["train", "--device", "cpu", "--data", folder.Path, "--epochs", "2", "--batch-size", "100", "--json", json]);

        Assert.Equal(0, run.Code);
        Assert.Equal("", run.Error);
        Assert.Contains("Device: cpu:0", run.Diagnostics);
        Assert.Contains($"Data: 600 training and 200 test images of 28x28 from {folder.Path}", run.Diagnostics);
        // stdout is the Keras-style lines and the final figures, nothing else, so scripts can read it.
        var lines = run.Output.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Equal(["Epoch 1/2", "Epoch 2/2"], new[] { lines[0], lines[2] });
        Assert.All(new[] { lines[1], lines[3] }, line => Assert.StartsWith("6/6 - ", line));
        Assert.StartsWith("Test loss: ", lines[4]);
        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        var root = summary.RootElement;
        Assert.Equal(100, root.GetProperty("settings").GetProperty("batchSize").GetInt32());
        Assert.Equal(2, root.GetProperty("epochs").GetArrayLength());
        Assert.Equal(200, root.GetProperty("test").GetProperty("count").GetInt32());
        double accuracy = root.GetProperty("test").GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0.5, 1.0);
    }

    [Fact]
    public void Log_every_records_the_loss_of_each_run_of_steps_which_averages_to_the_epoch_s()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 1_000, testCount: 100);
        string json = folder.File("run.json");

        var run = CliRun.Run(["train", "--device", "host", "--data", folder.Path, "--epochs", "2", "--layers", "16", "--batch-size", "64", "--log-every", "5", "--json", json, "--no-progress"]);

        Assert.Equal(("", 0), (run.Error, run.Code));
        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        var points = summary.RootElement.GetProperty("steps").EnumerateArray().ToList();
        // 16 steps an epoch (the last of 40 images): points after steps 5, 10, 15 and 16 of each.
        Assert.Equal([5L, 10L, 15L, 16L, 21L, 26L, 31L, 32L], points.Select(p => p.GetProperty("update").GetInt64()));
        foreach (var epoch in summary.RootElement.GetProperty("epochs").EnumerateArray())
        {
            int number = epoch.GetProperty("epoch").GetInt32();
            var own = points.Where(p => p.GetProperty("epoch").GetInt32() == number).ToList();
            double sum = 0;
            for (int i = 0, before = 0; i < own.Count; i++)
            {
                int samples = Math.Min(own[i].GetProperty("step").GetInt32() * 64, 1_000);
                sum += own[i].GetProperty("loss").GetDouble() * (samples - before);
                before = samples;
            }

            Assert.Equal(epoch.GetProperty("loss").GetDouble(), sum / 1_000, 9);
        }
    }

    [Fact]
    public void Validation_and_early_stopping_show_in_the_epoch_lines_and_the_summary()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 500, testCount: 100);
        string json = folder.File("run.json");

        var run = CliRun.Run(["train", "--device", "host", "--data", folder.Path, "--epochs", "30", "--layers", "32", "--optimizer", "adam", "--learning-rate", "0.01", "--validation-split", "0.2", "--early-stopping", "1", "--no-progress", "--json", json]);

        Assert.Equal(("", 0), (run.Error, run.Code));
        Assert.Contains("Validation: the last 100 training images (0.2 of them), never trained on", run.Diagnostics);
        Assert.Matches(@"(?m)^4/4 - .* - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$", run.Output);
        var stop = System.Text.RegularExpressions.Regex.Match(run.Output, @"Early stopping: stopped after 1 epoch without a lower val_loss; restored the weights of epoch (\d+) \(val_loss: \d\.\d{4}\)");
        Assert.True(stop.Success, run.Output);
        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        var best = summary.RootElement.GetProperty("best");
        Assert.Equal(int.Parse(stop.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), best.GetProperty("epoch").GetInt32());
        Assert.True(best.GetProperty("stoppedEarly").GetBoolean());
        var epochs = summary.RootElement.GetProperty("epochs").EnumerateArray().ToList();
        Assert.Equal(best.GetProperty("epoch").GetInt32() + 1, epochs.Count);
        Assert.Equal(best.GetProperty("validationLoss").GetDouble(), epochs.Min(e => e.GetProperty("validationLoss").GetDouble()));
    }

    [Fact]
    public void The_optimizer_s_own_hyperparameters_and_a_schedule_reach_the_run_and_its_summary()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 400, testCount: 100);
        string json = folder.File("run.json");

        var run = CliRun.Run(["train", "--device", "host", "--data", folder.Path, "--epochs", "2", "--layers", "16", "--optimizer", "adam", "--beta1", "0.8", "--beta2", "0.99", "--epsilon", "1e-6", "--lr-schedule", "cosine", "--warmup-steps", "2", "--json", json]);

        Assert.Equal(("", 0), (run.Error, run.Code));
        Assert.Contains("Adam (lr 0.001, beta1 0.8, beta2 0.99, epsilon 1e-6), learning rate cosine after 2 warm-up steps over 2 epochs", run.Diagnostics);
        Assert.Matches(@"4/4 - .* - learning_rate: [0-9.]+e-[0-9]+\n", run.Output);
        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        var settings = summary.RootElement.GetProperty("settings");
        var optimizer = settings.GetProperty("optimizer");
        Assert.Equal((0.8f, 0.99f, 1e-6f), (optimizer.GetProperty("beta1").GetSingle(), optimizer.GetProperty("beta2").GetSingle(), optimizer.GetProperty("epsilon").GetSingle()));
        Assert.Equal(("cosine", 2), (settings.GetProperty("lrSchedule").GetString(), settings.GetProperty("warmupSteps").GetInt32()));
        var rates = summary.RootElement.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("learningRate").GetDouble()).ToList();
        Assert.True(rates[0] > rates[1] && rates[1] > 0, $"the cosine's rates fall: {string.Join(", ", rates)}");
    }
}
