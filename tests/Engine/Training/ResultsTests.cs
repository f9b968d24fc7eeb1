using MnistGpu.Engine.Training;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>The results a library user prints read as numbers, with nothing empty where a figure was not measured.</summary>
public sealed class ResultsTests
{
    [Fact]
    public void An_epoch_prints_its_figures_and_its_test_ones_only_when_measured()
    {
        var epoch = new EpochResult(2, 469, 0.10456, 0.96971, TimeSpan.FromSeconds(0.4123));
        Assert.Equal("epoch 2: 469 steps in 0.41 s, loss 0.1046, accuracy 0.9697", epoch.ToString());
        Assert.Equal(
            "epoch 2: 469 steps in 0.41 s, loss 0.1046, accuracy 0.9697; test loss 0.0894, test accuracy 0.9726",
            (epoch with { TestLoss = 0.0894, TestAccuracy = 0.9726 }).ToString());
    }

    [Fact]
    public void An_evaluation_and_an_outcome_print_figures_not_type_names()
    {
        var evaluation = new Evaluation(0.12345, 0.5, [1, 0], new float[4], [1, 1], TimeSpan.FromSeconds(0.21));
        Assert.Equal("loss 0.1235, accuracy 0.5000 (1/2) in 0.21 s", evaluation.ToString());
        Assert.Equal("finished after 5 epochs; test: loss 0.1235, accuracy 0.5000 (1/2) in 0.21 s; checkpoint m.ckpt", new TrainingOutcome(true, new TrainingPosition(5, 0, 0, 0), evaluation, "m.ckpt").ToString());
        Assert.Equal("stopped after 1 epoch and 3 steps", new TrainingOutcome(false, new TrainingPosition(1, 3, 1.5, 100), null, null).ToString());
    }
}
