using MnistGpu.Engine;
using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>Each schedule's curve at the points that define it, and a scheduled run resumed to the bit.</summary>
public sealed class LearningRateScheduleTests
{
    private const int StepsPerEpoch = 100;
    private const long Length = 5 * StepsPerEpoch;

    [Fact]
    public void Constant_is_the_optimizer_s_rate_itself_at_every_step()
    {
        foreach (long update in new long[] { 1, 2, 250, 500, 900 })
            Assert.Equal(0.001f, LearningRateSchedule.Constant.Rate(0.001f, update, StepsPerEpoch, Length));
    }

    [Fact]
    public void Cosine_falls_from_the_maximum_through_half_at_the_middle_towards_zero()
    {
        var cosine = LearningRateSchedule.Parse("cosine");
        Assert.Equal(0.01f, cosine.Rate(0.01f, 1, StepsPerEpoch, Length));
        Assert.Equal(0.005, cosine.Rate(0.01f, (Length / 2) + 1, StepsPerEpoch, Length), 6);
        float last = cosine.Rate(0.01f, Length, StepsPerEpoch, Length);
        Assert.InRange(last, 1e-8f, 1e-6f);
        Assert.Equal(last, cosine.Rate(0.01f, Length + 50, StepsPerEpoch, Length));
    }

    [Fact]
    public void One_cycle_rises_from_a_25th_to_the_maximum_at_30_percent_and_falls_to_a_25th_of_a_ten_thousandth()
    {
        var cycle = LearningRateSchedule.Parse("one-cycle");
        Assert.Equal(0.01 / 25, cycle.Rate(0.01f, 1, StepsPerEpoch, Length), 8);
        Assert.Equal(0.01, cycle.Rate(0.01f, (long)(0.3 * Length), StepsPerEpoch, Length), 7);
        Assert.Equal(0.01 / 25 / 1e4, cycle.Rate(0.01f, Length, StepsPerEpoch, Length), 10);
        Assert.True(cycle.Rate(0.01f, 100, StepsPerEpoch, Length) < cycle.Rate(0.01f, 140, StepsPerEpoch, Length));
        Assert.True(cycle.Rate(0.01f, 300, StepsPerEpoch, Length) > cycle.Rate(0.01f, 400, StepsPerEpoch, Length));
    }

    [Fact]
    public void Step_and_exponential_multiply_by_their_factor_per_epoch_and_a_warm_up_ramps_the_first_steps()
    {
        var step = LearningRateSchedule.Parse("step:2:0.5");
        Assert.Equal(0.01f, step.Rate(0.01f, 2 * StepsPerEpoch, StepsPerEpoch, Length));
        Assert.Equal(0.005f, step.Rate(0.01f, (2 * StepsPerEpoch) + 1, StepsPerEpoch, Length));
        Assert.Equal(0.0025f, step.Rate(0.01f, (4 * StepsPerEpoch) + 1, StepsPerEpoch, Length));

        var exponential = LearningRateSchedule.Parse("exponential:0.9");
        Assert.Equal(0.009, exponential.Rate(0.01f, StepsPerEpoch + 1, StepsPerEpoch, Length), 8);
        Assert.Equal(0.01 * Math.Pow(0.9, 0.5), exponential.Rate(0.01f, (StepsPerEpoch / 2) + 1, StepsPerEpoch, Length), 8);

        var warm = LearningRateSchedule.Parse("constant", warmupSteps: 10);
        Assert.Equal(0.001, warm.Rate(0.01f, 1, StepsPerEpoch, Length), 9);
        Assert.Equal(0.005, warm.Rate(0.01f, 5, StepsPerEpoch, Length), 9);
        Assert.Equal(0.01f, warm.Rate(0.01f, 10, StepsPerEpoch, Length));
        Assert.Equal(0.01f, warm.Rate(0.01f, 11, StepsPerEpoch, Length));
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("step:1")]
    [InlineData("step:x:0.5")]
    [InlineData("exponential:-0.5")]
    [InlineData("exponential:NaN")]
    public void A_malformed_schedule_is_refused(string text) =>
        Assert.Throws<UserInputException>(() => LearningRateSchedule.Parse(text));

    /// <summary>Stopped after an epoch of three and resumed, a cosine schedule with warm-up continues to the bit; and it does move the weights elsewhere than a constant rate.</summary>
    [Fact]
    public void A_scheduled_run_resumed_after_an_epoch_equals_training_straight_through()
    {
        var subset = Bundled.Mnist.Train.Take(1_000);
        var settings = new TrainingSettings
        {
            Layers = [32],
            Optimizer = OptimizerSettings.Adam,
            Seed = 4,
            Schedule = LearningRateSchedule.Parse("cosine", warmupSteps: 5),
            ScheduleEpochs = 3,
        };
        Checkpoint HostTrain(TrainingSettings s, int epochs, Checkpoint? from) => CpuTraining.Train(subset, s, epochs, from, () => new HostBackend());

        var straight = HostTrain(settings, 3, null);
        var first = Checkpoint.Decode(HostTrain(settings, 1, null).Encode());
        Assert.Equal(settings.Schedule, first.Settings.Schedule);
        Assert.Equal(3, first.Settings.ScheduleEpochs);
        var resumed = HostTrain(settings, 3, first);

        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.OptimizerState, resumed.OptimizerState);
        Assert.Equal(straight.History.Select(e => e.LearningRate), resumed.History.Select(e => e.LearningRate));
        Assert.NotEqual(straight.Parameters, HostTrain(settings with { Schedule = LearningRateSchedule.Constant }, 3, null).Parameters);
    }

    [Fact]
    public void A_constant_rate_run_writes_no_schedule_into_its_checkpoint()
    {
        var checkpoint = CpuTraining.Train(Bundled.Mnist.Train.Take(256), new TrainingSettings { Layers = [8] }, 1, null, () => new HostBackend());
        string json = System.Text.Encoding.UTF8.GetString(checkpoint.Encode());
        Assert.DoesNotContain("schedule", json, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(json, "learningRate"));
        Assert.Equal(LearningRateSchedule.Constant, Checkpoint.Decode(checkpoint.Encode()).Settings.Schedule);
    }
}
