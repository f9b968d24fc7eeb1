using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>Resuming continues exactly: the same weights, to the bit, as never having stopped.</summary>
public sealed class ResumeTests
{
    private static readonly TrainingSettings Settings = new() { HiddenUnits = 64, Epochs = 5, Seed = 9 };
    private static readonly MnistGpu.Engine.Data.LabeledImages Subset = Bundled.Mnist.Train.Take(2_000);

    [Fact]
    public void Three_epochs_then_resuming_to_five_equals_five_straight_epochs()
    {
        var straight = Train(epochs: 5, from: null);
        var afterThree = Train(epochs: 3, from: null);
        var resumed = Train(epochs: 5, from: Checkpoint.Decode(afterThree.Encode()));

        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.OptimizerState, resumed.OptimizerState);
        Assert.Equal(straight.OptimizerUpdates, resumed.OptimizerUpdates);
        Assert.Equal(straight.History.Select(h => (h.Loss, h.Accuracy)), resumed.History.Select(h => (h.Loss, h.Accuracy)));
    }

    /// <summary>A convnet on the host (the threads' products, unrolling and pooling) resumes to the bit too, through a format-3 file.</summary>
    [Fact]
    public void A_convnet_resumed_on_the_host_equals_training_straight_through()
    {
        var settings = new TrainingSettings { Layers = MnistGpu.Engine.Model.Layers.LayerSpec.ParseList("conv3x3:8,maxpool,conv3x3:8:same,flatten,16"), BatchSize = 64, Epochs = 3, Seed = 2 };
        var subset = Bundled.Mnist.Train.Take(640);
        Checkpoint HostTrain(int epochs, Checkpoint? from) => CpuTraining.Train(subset, settings, epochs, from, () => new MnistGpu.Engine.Backends.Host.HostBackend());

        var straight = HostTrain(3, null);
        var resumed = HostTrain(3, Checkpoint.Decode(HostTrain(1, null).Encode()));
        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.OptimizerState, resumed.OptimizerState);
        Assert.NotEqual(HostTrain(1, null).Parameters, straight.Parameters);
    }

    [Fact]
    public void Stopping_mid_epoch_then_resuming_equals_never_stopping()
    {
        var straight = Train(epochs: 2, from: null);

        Checkpoint interrupted;
        using (var device = IlgpuBackend.CreateCpuAccelerator())
        using (var trainer = new Trainer(device, Subset, Settings with { Epochs = 2 }))
        {
            trainer.TrainEpoch();
            using var stop = new CancellationTokenSource();
            var result = trainer.TrainEpoch(stop.Token, step =>
            {
                if (step == 7)
                    stop.Cancel();
            });
            Assert.Null(result);
            Assert.Equal(new TrainingPosition(1, 7, trainer.Position.PartialLossSum, trainer.Position.PartialCorrect), trainer.Position);
            interrupted = Checkpoint.Decode(trainer.CreateCheckpoint().Encode());
        }

        var resumed = Train(epochs: 2, from: interrupted);
        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.History[^1].Loss, resumed.History[^1].Loss, 12);
        Assert.Equal(straight.History[^1].Accuracy, resumed.History[^1].Accuracy);
    }

    [Fact]
    public void Resuming_on_other_data_is_refused()
    {
        var checkpoint = Train(epochs: 1, from: null);
        using var device = IlgpuBackend.CreateCpuAccelerator();
        var error = Assert.Throws<UserInputException>(() => new Trainer(device, Bundled.Mnist.Train.Take(1_000), checkpoint, 2));
        Assert.Contains("the checkpoint was trained on other data", error.Message);
    }

    [Fact]
    public void A_diverging_loss_stops_training_naming_the_epoch_and_steps()
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var trainer = new Trainer(device, Subset, Settings with { LearningRate = 1e30f });
        var error = Assert.Throws<TrainingDivergedException>(() => trainer.TrainEpoch());
        Assert.Matches(@"^training diverged: the loss became (NaN|∞|-∞|Infinity) in epoch 1, steps 1-16$", error.Message);
    }

    private static Checkpoint Train(int epochs, Checkpoint? from) => CpuTraining.Train(Subset, Settings, epochs, from);
}
