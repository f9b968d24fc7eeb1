using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>The run's policies, in-process: when it saves, what it evaluates, how it stops and resumes.</summary>
public sealed class TrainingRunTests : IDisposable
{
    private static readonly TrainingSettings Settings = new() { HiddenUnits = 32, Epochs = 3, Seed = 2, BatchSize = 100 };
    private readonly TempDirectory folder = new();
    private readonly TempDirectory subset = IdxWriter.MnistSubset(trainCount: 1_000, testCount: 200);
    private readonly MnistData data;

    public TrainingRunTests() => data = MnistData.Load(subset.Path);

    public void Dispose()
    {
        folder.Dispose();
        subset.Dispose();
    }

    [Fact]
    public void A_validation_split_holds_out_the_last_images_evaluates_them_every_epoch_and_never_trains_on_them()
    {
        string path = folder.File("v.ckpt");
        using var device = new MnistGpu.Engine.Backends.Host.HostBackend();
        using var run = new TrainingRun(device, data, Settings with { ValidationSplit = 0.1 }, new TrainingRunOptions { SavePath = path });
        var outcome = run.Run();

        // Keras' validation_split: the last 10 % before shuffling; the first 900 are the training set.
        Assert.Equal(100, run.Validation!.Count);
        Assert.Equal(data.Train.Labels[900..], run.Validation.Labels);
        Assert.Equal(9, run.Trainer.StepsPerEpoch);
        var saved = Checkpoint.Load(path);
        Assert.Equal(data.Train.Take(900).ContentHash, saved.DataHash);
        Assert.Equal(0.1, saved.Settings.ValidationSplit);
        Assert.All(saved.History, epoch => Assert.NotNull(epoch!.ValidationLoss));
        Assert.Null(saved.History[0]!.TestLoss);

        // The last epoch's figures are the trained network's on the held-out images.
        using var network = new TrainedNetwork(device, saved);
        var again = network.Evaluate(run.Validation);
        Assert.Equal(again.Loss, saved.History[^1]!.ValidationLoss);
        Assert.Equal(again.Accuracy, saved.History[^1]!.ValidationAccuracy);
        Assert.True(outcome.Finished);

        // Resuming splits the same way, so the data is recognised and the figures go on.
        using var resumed = new TrainingRun(device, data, saved, epochs: 4);
        resumed.Run();
        Assert.Equal(4, resumed.Trainer.History.Count(e => e.ValidationLoss is not null));
    }

    [Fact]
    public void Early_stopping_ends_with_the_best_epoch_s_weights_and_a_resumed_run_stops_where_a_straight_one_does()
    {
        var settings = Settings with { Epochs = 40, ValidationSplit = 0.2, EarlyStoppingPatience = 2, Optimizer = MnistGpu.Engine.Model.OptimizerSettings.Adam with { LearningRate = 0.01f } };
        string straight = folder.File("straight.ckpt"), best = folder.File("best.ckpt");
        using var device = new MnistGpu.Engine.Backends.Host.HostBackend();
        TrainingOutcome outcome;
        using (var run = new TrainingRun(device, data, settings, new TrainingRunOptions { SavePath = straight, SaveBestPath = best }))
        {
            outcome = run.Run();
            var stopped = outcome.Best!;
            Assert.True(stopped.Stopped, $"no early stop in 40 epochs; best epoch {stopped.Epoch}");
            Assert.Equal(stopped.Epoch + 2, outcome.Position.EpochsDone);

            // The weights the run ends with are the best epoch's: their validation loss is that epoch's, to the bit.
            Assert.Equal(run.Trainer.History[stopped.Epoch - 1].ValidationLoss, run.Trainer.Evaluate(run.Validation!).Loss);
            Assert.True(run.Trainer.History.Skip(stopped.Epoch).All(e => e.ValidationLoss >= stopped.ValidationLoss));
        }

        var saved = Checkpoint.Load(straight);
        Assert.Equal(saved.Best!.Parameters, saved.Parameters);
        Assert.Equal(Checkpoint.BestWeightsVersion, BitConverter.ToInt32(File.ReadAllBytes(straight), 8));
        var bestFile = Checkpoint.Load(best);
        Assert.Equal(outcome.Best!.Epoch, bestFile.Position.EpochsDone);
        Assert.Equal(saved.Parameters, bestFile.Parameters);

        // Stopped (as by Ctrl-C) after 3 epochs and resumed: the same epochs, the same stop, the same bits.
        string resumed = folder.File("resumed.ckpt");
        using (var first = new TrainingRun(device, data, settings, new TrainingRunOptions { SavePath = resumed }))
        {
            using var stop = new CancellationTokenSource();
            Assert.False(first.Run(new Observer { Finished = (epoch, _) => { if (epoch.Epoch == 3) stop.Cancel(); } }, stop.Token).Finished);
        }

        using (var second = new TrainingRun(device, data, Checkpoint.Load(resumed), epochs: 40, new TrainingRunOptions { SavePath = resumed }))
            Assert.Equal(outcome.Position, second.Run().Position);
        var again = Checkpoint.Load(resumed);
        Assert.Equal(saved.Parameters, again.Parameters);
        Assert.Equal(saved.OptimizerState, again.OptimizerState);
        Assert.Equal(saved.Best with { Parameters = null, LayerState = null }, again.Best! with { Parameters = null, LayerState = null });
    }

    [Fact]
    public void Early_stopping_and_save_best_without_a_validation_set_are_refused()
    {
        using var device = new MnistGpu.Engine.Backends.Host.HostBackend();
        Assert.Equal("--early-stopping watches the validation loss: give --validation-split or --validation-data", Assert.Throws<UserInputException>(() => new TrainingRun(device, data, Settings with { EarlyStoppingPatience = 2 })).Message);
        Assert.Equal("--save-best watches the validation loss: give --validation-split or --validation-data", Assert.Throws<UserInputException>(() => new TrainingRun(device, data, Settings, new TrainingRunOptions { SaveBestPath = folder.File("b.ckpt") })).Message);
    }

    [Fact]
    public void A_split_that_leaves_either_part_empty_or_comes_with_validation_data_is_refused()
    {
        var tiny = data.Train.Take(10);
        Assert.Equal("a validation split of 0.95 of 10 train images leaves nothing to train on", Assert.Throws<UserInputException>(() => tiny.SplitOff(0.95)).Message);
        Assert.Equal("a validation split of 1E-17 of 10 train images leaves no validation images", Assert.Throws<UserInputException>(() => tiny.SplitOff(1e-17)).Message);
        using var device = new MnistGpu.Engine.Backends.Host.HostBackend();
        Assert.Contains("give one of them", Assert.Throws<UserInputException>(() => new TrainingRun(device, data, Settings with { ValidationSplit = 0.1 }, new TrainingRunOptions { Validation = data.Test })).Message);
    }

    [Fact]
    public void A_checkpoint_is_written_after_every_epoch_and_after_the_final_evaluation()
    {
        string path = folder.File("m.ckpt");
        var seen = new List<int>();
        var observer = new Observer { Starting = epoch => seen.Add(File.Exists(path) ? Checkpoint.Load(path).Position.EpochsDone : -1) };
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var run = new TrainingRun(device, data, Settings, new TrainingRunOptions { SavePath = path });

        var outcome = run.Run(observer);

        Assert.True(outcome.Finished);
        Assert.Equal(path, outcome.Checkpoint);
        Assert.Equal([-1, 1, 2], seen);
        var saved = Checkpoint.Load(path);
        Assert.Equal(3, saved.Position.EpochsDone);
        Assert.Equal(outcome.Test!.Accuracy, saved.History[^1].TestAccuracy);
    }

    [Fact]
    public void Evaluating_every_epoch_gives_every_epoch_test_figures_and_otherwise_only_the_last()
    {
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using (var run = new TrainingRun(device, data, Settings, new TrainingRunOptions { EvaluateEveryEpoch = true }))
        {
            var tests = new List<Evaluation?>();
            run.Run(new Observer { Finished = (_, test) => tests.Add(test) });
            Assert.All(tests, Assert.NotNull);
            Assert.All(run.Trainer.History, e => Assert.NotNull(e.TestAccuracy));
        }

        using (var run = new TrainingRun(device, data, Settings))
        {
            run.Run();
            Assert.Equal([false, false, true], run.Trainer.History.Select(e => e.TestAccuracy.HasValue));
        }
    }

    [Fact]
    public void Stopping_mid_epoch_saves_at_the_step_reached_and_resuming_ends_where_never_stopping_does()
    {
        string path = folder.File("m.ckpt");
        using var stop = new CancellationTokenSource();
        var stopAtStep = new Observer
        {
            Training = (epoch, train) => train(step =>
            {
                if (epoch == 2 && step == 4)
                    stop.Cancel();
            }),
        };

        TrainingOutcome stopped;
        using (var device = IlgpuBackend.CreateCpuAccelerator())
        using (var run = new TrainingRun(device, data, Settings, new TrainingRunOptions { SavePath = path }))
            stopped = run.Run(stopAtStep, stop.Token);

        Assert.False(stopped.Finished);
        Assert.Null(stopped.Test);
        Assert.Equal((1, 4), (stopped.Position.EpochsDone, stopped.Position.StepsDoneInEpoch));
        Assert.Equal(stopped.Position, Checkpoint.Load(path).Position);

        float[] resumed, straight;
        using (var device = IlgpuBackend.CreateCpuAccelerator())
        using (var run = new TrainingRun(device, data, Checkpoint.Load(path), Settings.Epochs))
        {
            Assert.True(run.Run().Finished);
            resumed = run.Trainer.Network.GetParameters();
        }

        using (var device = IlgpuBackend.CreateCpuAccelerator())
        using (var run = new TrainingRun(device, data, Settings))
        {
            run.Run();
            straight = run.Trainer.Network.GetParameters();
        }

        Assert.Equal(straight, resumed);
    }

    [Fact]
    public void A_checkpoint_that_already_has_its_epochs_is_evaluated_without_training()
    {
        string path = folder.File("m.ckpt");
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using (var run = new TrainingRun(device, data, Settings with { Epochs = 1 }, new TrainingRunOptions { SavePath = path }))
            run.Run();

        var starts = new List<int>();
        using var again = new TrainingRun(device, data, Checkpoint.Load(path), epochs: 1);
        var outcome = again.Run(new Observer { Starting = starts.Add });
        Assert.True(outcome.Finished);
        Assert.Empty(starts);
        Assert.InRange(outcome.Test!.Accuracy, 0.5, 1);
    }

    [Fact]
    public void A_diverging_run_stops_and_leaves_the_last_checkpoint_as_it_was()
    {
        string path = folder.File("m.ckpt");
        File.WriteAllBytes(path, SmallModel.Bytes);
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var run = new TrainingRun(device, data, Settings with { LearningRate = 1e30f }, new TrainingRunOptions { SavePath = path });
        var error = Assert.Throws<TrainingDivergedException>(() => run.Run());
        Assert.Equal($"training diverged: the loss became NaN in epoch 1, steps 1-10; {path} was not written by this run", error.Message);
        Assert.Equal(SmallModel.Bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void Weights_that_overflow_in_an_epochs_last_step_are_never_saved_and_the_last_good_checkpoint_is_named()
    {
        // One step per epoch: its loss is computed before the update that overflows the weights.
        using var oneBatch = IdxWriter.MnistSubset(trainCount: 100, testCount: 100);
        var small = MnistData.Load(oneBatch.Path);
        string path = folder.File("m.ckpt");
        using var device = IlgpuBackend.CreateCpuAccelerator();
        using var overflowing = new TrainingRun(device, small, Settings with { LearningRate = 3e38f }, new TrainingRunOptions { SavePath = path });
        var error = Assert.Throws<TrainingDivergedException>(() => overflowing.Run());
        Assert.Equal($"training diverged: the weights became NaN or infinite in epoch 1; {path} was not written by this run", error.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));

        using var unsaved = new TrainingRun(device, small, Settings with { LearningRate = 3e38f, Epochs = 1 });
        error = Assert.Throws<TrainingDivergedException>(() => unsaved.Run());
        Assert.Equal("training diverged: the test loss became NaN after epoch 1", error.Message);

        using var later = new TrainingRun(device, small, Settings with { LearningRate = 1e30f }, new TrainingRunOptions { SavePath = path });
        error = Assert.Throws<TrainingDivergedException>(() => later.Run());
        Assert.EndsWith($"; the last good checkpoint, {path}, has 1 epoch done", error.Message);
        Assert.Equal(1, Checkpoint.Load(path).Position.EpochsDone);
    }

    private sealed class Observer : TrainingObserver
    {
        public Action<int>? Starting { get; init; }

        public Func<int, Func<Action<int>?, EpochResult?>, EpochResult?>? Training { get; init; }

        public Action<EpochResult, Evaluation?>? Finished { get; init; }

        public override void EpochStarting(int epoch, int epochs, int fromStep) => Starting?.Invoke(epoch);

        public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train) =>
            Training is null ? train(null) : Training(epoch, train);

        public override void EpochFinished(EpochResult result, Evaluation? test) => Finished?.Invoke(result, test);
    }
}
