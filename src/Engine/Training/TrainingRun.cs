using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Steps;

namespace MnistGpu.Engine.Training;

/// <summary>What a run does besides training.</summary>
public sealed record TrainingRunOptions
{
    /// <summary>
    /// Where a checkpoint is written after every epoch, when the run is stopped (at the step
    /// reached) and after the final evaluation; null for none. Checked before anything is trained.
    /// </summary>
    public string? SavePath { get; init; }

    /// <summary>Evaluates the test set after every epoch, so the history has test figures for every epoch (curves need them), not only the last.</summary>
    public bool EvaluateEveryEpoch { get; init; }

    /// <summary>How a new run's steps run: fused (the default), or the plain definition, to compare the two (bench --unfused).</summary>
    public StepOptions Steps { get; init; } = StepOptions.Fused;

    /// <summary>
    /// A validation set from elsewhere (<c>--validation-data</c>), evaluated after every epoch; null
    /// for none, or for the settings' <see cref="TrainingSettings.ValidationSplit"/>, which takes
    /// the validation set from the training set. Not both.
    /// </summary>
    public LabeledImages? Validation { get; init; }

    /// <summary>
    /// Where the checkpoint of the lowest validation loss so far is written, each time the loss
    /// falls below the best before (<c>--save-best</c>); null for none. Needs a validation set.
    /// </summary>
    public string? SaveBestPath { get; init; }
}

/// <summary>How a run ended. <see cref="Test"/> is the final evaluation, absent when the run was stopped.</summary>
public sealed record TrainingOutcome(bool Finished, TrainingPosition Position, Evaluation? Test, string? Checkpoint)
{
    /// <summary>The best validation epoch, when the run validated: under early stopping, the epoch whose weights the network holds at the end.</summary>
    public BestEpoch? Best { get; init; }

    /// <summary>"finished after 5 epochs; test: loss …; checkpoint m.ckpt", each part only when there is one.</summary>
    public override string ToString() =>
        $"{(Finished ? "finished" : "stopped")} after {Position.EpochsDone} epoch{(Position.EpochsDone == 1 ? "" : "s")}{(Position.StepsDoneInEpoch > 0 ? $" and {Position.StepsDoneInEpoch} steps" : "")}{(Test is null ? "" : $"; test: {Test}")}{(Checkpoint is null ? "" : $"; checkpoint {Checkpoint}")}";
}

/// <summary>
/// What a front end hears while a run trains. Every member does nothing by default; a front end
/// overrides what it shows.
/// </summary>
public class TrainingObserver
{
    /// <param name="fromStep">The first step trained: 0, or where a resumed checkpoint stopped.</param>
    public virtual void EpochStarting(int epoch, int epochs, int fromStep)
    {
    }

    /// <summary>
    /// Trains one epoch by calling <paramref name="train"/> once and returning what it returns;
    /// a live display passes a callback that is told each step as it is issued.
    /// </summary>
    public virtual EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train) => train(null);

    /// <param name="test">The test evaluation after this epoch, when the run evaluates every epoch.</param>
    public virtual void EpochFinished(EpochResult result, Evaluation? test)
    {
    }

    /// <summary>Early stopping put back the weights of <paramref name="best"/>'s epoch, before the final evaluation.</summary>
    public virtual void BestRestored(BestEpoch best)
    {
    }
}

/// <summary>
/// A training run from start (or a checkpoint) to the test accuracy: the epoch loop, the
/// validation set's evaluation after every epoch when there is one, the evaluation of the test
/// set (after every epoch when asked, and at the end), the checkpoint
/// policy (after every epoch, on stop, at the end) and stopping between steps. The command
/// line, the benchmark and library users all train through it.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    private readonly LabeledImages testSet;
    private readonly TrainingRunOptions options;
    private TrainingPosition? lastSaved;

    /// <summary>A new run of <paramref name="settings"/> on <paramref name="data"/>'s training set.</summary>
    /// <exception cref="UserInputException">A setting is invalid, the network is too large to exist, or the save path cannot be written.</exception>
    /// <exception cref="EngineException">The run does not fit the device's memory, or the disk has no room for a checkpoint.</exception>
    public TrainingRun(ITrainingBackend backend, MnistData data, TrainingSettings settings, TrainingRunOptions? options = null)
        : this(data, options, settings, train => Trainer.ShapeFor(train, settings), train => new Trainer(backend, train, settings, data.Test, options?.Steps))
    {
    }

    /// <summary>Continues <paramref name="checkpoint"/> up to <paramref name="epochs"/> epochs in total.</summary>
    /// <exception cref="UserInputException">The checkpoint does not fit this data, or the save path cannot be written.</exception>
    /// <exception cref="EngineException">The run does not fit the device's memory, or the disk has no room for a checkpoint.</exception>
    public TrainingRun(ITrainingBackend backend, MnistData data, Checkpoint checkpoint, int epochs, TrainingRunOptions? options = null)
        : this(data, options, checkpoint.Settings, _ => checkpoint.Shape, train => new Trainer(backend, train, checkpoint, epochs, data.Test))
    {
        Best = checkpoint.Best;
    }

    /// <param name="shapeOf">The network trained on the training part (a new run's scaling is that part's).</param>
    private TrainingRun(MnistData data, TrainingRunOptions? options, TrainingSettings settings, Func<LabeledImages, NetworkShape> shapeOf, Func<LabeledImages, Trainer> createTrainer)
    {
        testSet = data.Test;
        this.options = options ?? new TrainingRunOptions();
        (var train, Validation) = Split(data, settings, options);
        var shape = shapeOf(train);
        var optimizer = settings.Optimizer;
        if (Validation is null && (settings.EarlyStoppingPatience > 0 || this.options.SaveBestPath is not null))
            throw new UserInputException($"{(settings.EarlyStoppingPatience > 0 ? "--early-stopping" : "--save-best")} watches the validation loss: give --validation-split or --validation-data");
        if (this.options.SaveBestPath is string best)
            OutputFile.Check(best, "--save-best", Checkpoint.FileBytes(shape, optimizer) * 2);
        if (this.options.SavePath is string path)
        {
            shape.Validate();
            OutputFile.Check(path, "checkpoint", Checkpoint.FileBytes(shape, optimizer));
        }

        Trainer = createTrainer(train);
    }

    public Trainer Trainer { get; }

    /// <summary>The validation set evaluated after every epoch: the split's, or the options' own; null for none.</summary>
    public LabeledImages? Validation { get; }

    /// <summary>The epoch of the lowest validation loss so far (with its weights under early stopping); null before the first validation.</summary>
    public BestEpoch? Best { get; private set; }

    /// <summary>What the run trains on, and what it validates on.</summary>
    /// <exception cref="UserInputException">Both a validation split and validation data, or a split that leaves a part empty.</exception>
    private static (LabeledImages Train, LabeledImages? Validation) Split(MnistData data, TrainingSettings settings, TrainingRunOptions? options)
    {
        if (settings.ValidationSplit == 0)
            return (data.Train, options?.Validation);
        if (options?.Validation is not null)
            throw new UserInputException("--validation-split takes the validation set from the training set and --validation-data gives one: give one of them");
        return data.Train.SplitOff(settings.ValidationSplit);
    }

    /// <summary>
    /// Trains up to the run's number of epochs, then evaluates the test set. When
    /// <paramref name="stop"/> is requested, the step under way finishes, a checkpoint is written
    /// at that step (when saving) and the outcome is not finished.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss, the test loss or the weights became NaN or infinite; the message names the last good checkpoint, which stays as it was.</exception>
    /// <exception cref="EngineException">A checkpoint could not be written.</exception>
    public TrainingOutcome Run(TrainingObserver? observer = null, CancellationToken stop = default)
    {
        try
        {
            return Train(observer, stop);
        }
        catch (TrainingDivergedException e) when (options.SavePath is not null)
        {
            string kept = lastSaved is { } saved
                ? $"the last good checkpoint, {options.SavePath}, has {Describe(saved)}"
                : $"{options.SavePath} was not written by this run";
            throw new TrainingDivergedException($"{e.Message}; {kept}");
        }
    }

    private TrainingOutcome Train(TrainingObserver? observer, CancellationToken stop)
    {
        observer ??= new TrainingObserver();
        var settings = Trainer.Settings;
        Evaluation? afterLastEpoch = null;
        while (Trainer.Position.EpochsDone < settings.Epochs && Best?.Stopped != true)
        {
            int epoch = Trainer.Position.EpochsDone + 1;
            observer.EpochStarting(epoch, settings.Epochs, Trainer.Position.StepsDoneInEpoch);
            var result = observer.RunEpoch(Trainer, epoch, onStep => Trainer.TrainEpoch(stop, onStep));
            if (result is null)
                return new TrainingOutcome(false, Trainer.Position, null, Save());

            if (Validation is not null)
                result = Validate(epoch);
            afterLastEpoch = options.EvaluateEveryEpoch ? Evaluate(epoch) : null;
            observer.EpochFinished(result, afterLastEpoch);
            if (Best is { } best && settings.EarlyStoppingPatience > 0 && best.EpochsWithoutImprovement >= settings.EarlyStoppingPatience)
                Best = best with { Stopped = true };
            Save();
            // A stop asked for during an epoch's last step stops here, the epoch saved, before the evaluation.
            if (stop.IsCancellationRequested)
                return new TrainingOutcome(false, Trainer.Position, null, options.SavePath);
        }

        // Early stopping ends with the best epoch's weights, whether it stopped the run or not; their
        // test figures are not the last epoch's, so they stay out of its history entry.
        Evaluation test;
        if (Best?.Parameters is { } parameters && Best.Epoch != Trainer.Position.EpochsDone)
        {
            Trainer.Network.SetParameters(parameters);
            Trainer.Network.SetState(Best.LayerState!);
            observer.BestRestored(Best);
            test = Trainer.Evaluate(testSet);
        }
        else
        {
            test = afterLastEpoch ?? Evaluate(Trainer.Position.EpochsDone);
        }

        return new TrainingOutcome(true, Trainer.Position, test, Save()) { Best = Best };
    }

    /// <summary>The test set after <paramref name="epoch"/>; a loss that is not finite means the weights overflowed in the epoch's last steps.</summary>
    private Evaluation Evaluate(int epoch)
    {
        var evaluation = Trainer.EvaluateAfterEpoch(testSet);
        if (!double.IsFinite(evaluation.Loss))
            throw new TrainingDivergedException($"training diverged: the test loss became {evaluation.Loss} after epoch {epoch}");
        return evaluation;
    }

    /// <summary>
    /// The validation set after <paramref name="epoch"/>, recorded with it, and the best epoch
    /// updated (with the weights, under early stopping; the best checkpoint written, with
    /// --save-best): the epoch's result with its validation figures.
    /// </summary>
    private EpochResult Validate(int epoch)
    {
        var evaluation = Trainer.ValidateAfterEpoch(Validation!);
        if (!double.IsFinite(evaluation.Loss))
            throw new TrainingDivergedException($"training diverged: the validation loss became {evaluation.Loss} after epoch {epoch}");
        var keep = Trainer.Settings.EarlyStoppingPatience > 0 ? () => (Trainer.Network.GetParameters(), Trainer.Network.GetState()) : ((Func<(float[], float[])>?)null);
        Best = BestEpoch.After(Best, epoch, evaluation.Loss, keep);
        if (Best.Epoch == epoch && options.SaveBestPath is string path)
            WriteCheckpoint(path);
        return Trainer.History[^1];
    }

    private static string Describe(TrainingPosition position) => position.StepsDoneInEpoch == 0
        ? (position.EpochsDone == 1 ? "1 epoch done" : $"{position.EpochsDone} epochs done")
        : $"epoch {position.EpochsDone + 1}, {position.StepsDoneInEpoch} steps done";

    public void Dispose() => Trainer.Dispose();

    /// <returns>The path written, or null when the run does not save.</returns>
    /// <exception cref="TrainingDivergedException">A weight or optimizer value is NaN or infinite: such a checkpoint is never written.</exception>
    private string? Save()
    {
        if (options.SavePath is not string path)
            return null;
        lastSaved = WriteCheckpoint(path);
        // The checkpoint's copies of the arrays are garbage now; on the host they are freed before training goes on.
        Trainer.ReleaseHostMemory(Trainer.Network.Backend, Trainer.Network.Shape);
        return path;
    }

    /// <returns>The position saved.</returns>
    private TrainingPosition WriteCheckpoint(string path)
    {
        var checkpoint = Trainer.CreateCheckpoint() with { Best = Best };
        if (!checkpoint.IsFinite)
        {
            var at = checkpoint.Position;
            throw new TrainingDivergedException($"training diverged: the weights became NaN or infinite in epoch {at.EpochsDone + (at.StepsDoneInEpoch > 0 ? 1 : 0)}");
        }

        checkpoint.Save(path);
        return checkpoint.Position;
    }
}
