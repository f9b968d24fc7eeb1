using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Previews;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu train</c>: trains (or resumes), printing Keras-style epoch lines, then the test
/// loss and accuracy. With --save a checkpoint is written after every epoch; Ctrl-C or SIGTERM
/// finishes the step under way, writes a checkpoint at that step and exits 130 or 143.
/// </summary>
internal static class TrainCommand
{
    public const int Interrupted = StopSignals.Interrupted;
    public const int Terminated = StopSignals.Terminated;

    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var defaults = new TrainingSettings();
        var device = Options.Device();
        var epochs = Options.Epochs(defaults.Epochs);
        var batchSize = Options.BatchSize(defaults.BatchSize);
        var network = new NetworkOptions();
        var seed = Options.Seed(defaults.Seed);
        var data = Options.Data();
        var json = new Option<FileInfo?>("--json") { Description = "Also write the run's summary as JSON to this file" };
        var memoryLimit = Options.MemoryLimit();
        var save = new Option<FileInfo?>("--save") { Description = "Write a checkpoint here after every epoch (and on Ctrl-C)" };
        var resume = new Option<FileInfo?>("--resume") { Description = "Continue the checkpoint at this path (saving back to it unless --save is given); --epochs is then the total" };
        var previews = PreviewOptions.Folder();
        var previewLimit = PreviewOptions.Limit();
        var noProgress = new Option<bool>("--no-progress") { Description = "Plain epoch lines instead of a live progress bar" };
        var threads = Options.Threads();
        var validationSplit = Options.Fraction(
            "--validation-split",
            "Hold out the last this fraction of the training set (before shuffling, as Keras' validation_split) and report its loss and accuracy after every epoch (default 0: none)",
            value => value >= 0 && value < 1,
            "in [0, 1)");
        var validationData = new Option<DirectoryInfo?>("--validation-data")
        {
            Description = "Folder in the MNIST layout whose t10k-* files are the validation set, evaluated after every epoch",
        };

        var earlyStopping = Options.WholeNumber(
            "--early-stopping",
            "Stop once the validation loss has not fallen for this many epochs, and end with the weights of the epoch where it was lowest (needs --validation-split or --validation-data)",
            value => value >= 1 && value <= TrainingSettings.MaxEpochs,
            $"a whole number of epochs from 1 to {TrainingSettings.MaxEpochs}");
        var logEvery = Options.WholeNumber(
            "--log-every",
            "With --json: also record the training loss and accuracy of every this many steps (default: a few dozen points an epoch)",
            value => value >= 1,
            "a whole number of steps of at least 1");
        var saveBest = new Option<FileInfo?>("--save-best") { Description = "Write the checkpoint of the lowest validation loss so far here, each time it falls (needs --validation-split or --validation-data)" };

        var command = new Command("train", "Train the network and report test accuracy")
        {
            device, epochs, batchSize, seed, data, json, memoryLimit, save, resume, previews, previewLimit, noProgress, threads, validationSplit, validationData, earlyStopping, saveBest, logEvery,
        };
        foreach (var option in network.All)
            command.Options.Add(option);
        network.Validate(command);
        command.Validators.Add(result =>
        {
            if (result.GetResult(validationSplit) is { Implicit: false } && result.GetResult(validationData) is { Implicit: false })
                result.AddError("--validation-split takes the validation set from the training set and --validation-data gives one: give one of them");
            if (result.GetResult(logEvery) is { Implicit: false } && result.GetResult(json) is not { Implicit: false })
                result.AddError("--log-every records steps in the --json summary: give --json too");
            bool validated = result.GetResult(validationSplit) is { Implicit: false } || result.GetResult(validationData) is { Implicit: false };
            if (result.GetResult(resume) is null && !validated)
            {
                foreach (var watcher in new Option[] { earlyStopping, saveBest })
                {
                    if (result.GetResult(watcher) is { Implicit: false })
                        result.AddError($"{watcher.Name} watches the validation loss: give --validation-split or --validation-data");
                }
            }

            if (result.GetResult(resume) is null)
                return;
            foreach (var fixedByCheckpoint in new Option[] { batchSize, seed, validationSplit, earlyStopping }.Concat(network.FixedByCheckpoint))
            {
                if (result.GetResult(fixedByCheckpoint) is { Implicit: false })
                    result.AddError($"{fixedByCheckpoint.Name} cannot be changed when resuming: the checkpoint fixes it");
            }
        });
        command.SetAction(parsed =>
        {
            var request = new TrainRequest(
                parsed.GetValue(device)!,
                parsed.GetValue(memoryLimit),
                parsed.GetValue(threads),
                parsed.GetValue(data)?.FullName,
                parsed.GetValue(json)?.FullName,
                parsed.GetValue(save)?.FullName,
                parsed.GetValue(resume)?.FullName,
                parsed.GetResult(epochs) is { Implicit: false } ? parsed.GetValue(epochs) : null,
                parsed.GetValue(previews)?.FullName,
                parsed.GetValue(previewLimit),
                !parsed.GetValue(noProgress),
                parsed.GetValue(validationData)?.FullName,
                parsed.GetValue(saveBest)?.FullName,
                parsed.GetValue(logEvery),
                network.Apply(
                    parsed,
                    defaults with
                    {
                        Epochs = parsed.GetValue(epochs),
                        BatchSize = parsed.GetValue(batchSize),
                        Seed = parsed.GetValue(seed),
                        ValidationSplit = parsed.GetValue(validationSplit) ?? 0,
                        EarlyStoppingPatience = parsed.GetValue(earlyStopping) ?? 0,
                    },
                    batchSizeGiven: parsed.GetResult(batchSize) is { Implicit: false },
                    epochsGiven: parsed.GetResult(epochs) is { Implicit: false }));
            return Run(output, diagnostics, request);
        });
        return command;
    }

    private static int Run(TextWriter output, TextWriter diagnostics, TrainRequest request)
    {
        request.Settings.Validate();
        CheckFiles(request);
        if (request.JsonPath is not null)
            OutputFile.Check(request.JsonPath, "--json", OutputFile.SummaryBytes);
        if (request.PreviewFolder is not null)
            PreviewOptions.Check(request.PreviewFolder);

        // Held until the run ends: a second training saving to the same file is refused, not raced.
        string? savePath = request.SavePath ?? request.ResumePath;
        using var saveLock = savePath is null ? null : SaveLock.Take(savePath, request.SavePath is null ? "--resume" : "--save");
        var checkpoint = request.ResumePath is null ? null : Checkpoint.Load(request.ResumePath);
        var data = MnistData.Load(request.DataDirectory);
        var validationData = request.ValidationDirectory is null ? null : ValidationSet(MnistData.Load(request.ValidationDirectory), data);
        // A network that cannot exist, or a split that leaves nothing, is refused before the device is opened.
        double split = checkpoint?.Settings.ValidationSplit ?? request.Settings.ValidationSplit;
        var trained = split > 0 ? data.Train.SplitOff(split).Train : data.Train;
        if (checkpoint is null)
            Trainer.ShapeFor(trained, request.Settings).Validate();
        using var backend = DeviceOpener.Open(request.Device, request.MemoryLimit, diagnostics, request.Threads);
        diagnostics.WriteLine($"Data: {data.Train.Count} training and {data.Test.Count} test images of {data.Train.Rows}x{data.Train.Columns} from {data.Source}");
        if (split > 0)
            diagnostics.WriteLine(Invariant($"Validation: the last {data.Train.Count - trained.Count} training images ({split:0.###} of them), never trained on"));
        else if (validationData is not null)
            diagnostics.WriteLine($"Validation: {validationData.Count} images from {request.ValidationDirectory}");

        var options = new TrainingRunOptions { SavePath = request.SavePath ?? request.ResumePath, EvaluateEveryEpoch = request.PreviewFolder is not null, Validation = validationData, SaveBestPath = request.SaveBestPath };
        using var run = checkpoint is null
            ? new TrainingRun(backend, data, request.Settings, options)
            : new TrainingRun(backend, data, checkpoint, request.Epochs ?? checkpoint.Settings.Epochs, options);
        var trainer = run.Trainer;
        var settings = trainer.Settings;
        var scaling = trainer.Network.Shape.Scaling;
        diagnostics.WriteLine(Invariant(
            $"Network {trainer.Network.Shape}, batch {settings.BatchSize}, {settings.Optimizer}{(settings.Schedule.Varies ? $", learning rate {settings.Schedule} over {Options.Count(settings.ScheduleLength, "epoch")}" : "")}{(settings.Initializer == Initializer.GlorotUniform ? "" : $", {settings.Initializer.Name()} initializer")}{(scaling.IsUnit ? "" : $", inputs standardized ({scaling})")}, seed {settings.Seed}"));
        if (checkpoint is not null)
            diagnostics.WriteLine($"Resuming {request.ResumePath}: {Describe(trainer.Position, trainer.StepsPerEpoch)}");
        if (trainer.Position.EpochsDone >= settings.Epochs)
            diagnostics.WriteLine($"The checkpoint already has {Options.Count(trainer.Position.EpochsDone, "epoch")}; nothing to train.");

        using var stop = new StopSignals();
        int signalsBefore = OutputFile.StopSignalCount;
        try
        {
            TrainingObserver progress = new EpochProgress(output, request.ShowProgress);
            var steps = request.JsonPath is null ? null : new StepLog(progress, request.LogEvery ?? StepLog.DefaultEvery(trainer.StepsPerEpoch));
            progress = steps ?? progress;
            if (request.PreviewFolder is not null)
                progress = new PreviewsEveryEpoch(progress, epochTest => WritePreviews(diagnostics, request, data, backend.DeviceName, trainer, epochTest, announce: false));
            return Finish(output, diagnostics, request, data, backend.DeviceName, run, run.Run(progress, stop.Token), stop, signalsBefore, steps?.Points ?? []);
        }
        catch (EngineException e) when (stop.Token.IsCancellationRequested)
        {
            // A second signal gave up waiting for the reader of a FIFO output.
            diagnostics.WriteLine($"mnistgpu: {Cli.ErrorLine(e.Message)}");
            return stop.ExitCode;
        }
    }

    /// <param name="signalsBefore">Stop signals before the run began: a later one, even one that came too late to stop the training, ends a wait for a FIFO's reader.</param>
    /// <param name="steps">The --json summary's points within the epochs (--log-every).</param>
    private static int Finish(TextWriter output, TextWriter diagnostics, TrainRequest request, MnistData data, string device, TrainingRun run, TrainingOutcome outcome, StopSignals stop, int signalsBefore, IReadOnlyList<StepPoint> steps)
    {
        var trainer = run.Trainer;
        var settings = trainer.Settings;
        string where = Describe(outcome.Position, trainer.StepsPerEpoch);
        if (!outcome.Finished)
        {
            diagnostics.WriteLine(outcome.Checkpoint is null
                ? $"Interrupted: {where}; no checkpoint written (train with --save PATH to keep progress)."
                : $"Interrupted: {where}; checkpoint written to {outcome.Checkpoint} (continue with: mnistgpu train --resume {outcome.Checkpoint}).");
            return stop.ExitCode;
        }

        var test = outcome.Test!;
        output.WriteLine(Invariant($"Test loss: {test.Loss:F4} - test accuracy: {test.Accuracy:F4} ({test.Correct}/{test.Count})"));
        if (outcome.Checkpoint is not null)
            diagnostics.WriteLine($"Checkpoint: {outcome.Checkpoint}");
        if (request.JsonPath is not null)
            WriteSummary(request.JsonPath, device, settings, trainer.Network.Shape.Scaling, trainer.History, steps, outcome.Best, test, signalsBefore);
        if (request.PreviewFolder is not null)
            WritePreviews(diagnostics, request, data, device, trainer, test, announce: true);
        return Cli.Ok;
    }

    /// <summary>report.html and the pictures beside it for the run so far, <paramref name="test"/> its latest test evaluation: after every epoch, and at the end (announced).</summary>
    private static void WritePreviews(TextWriter diagnostics, TrainRequest request, MnistData data, string device, Trainer trainer, Evaluation test, bool announce)
    {
        var firstLayer = FirstLayerPicturesOf(trainer, data.Test);
        var report = new RunReport(device, data.Source, trainer.Network.Shape, trainer.Settings, trainer.History, test, DateTimeOffset.UtcNow, firstLayer);
        PreviewOptions.Write(announce ? diagnostics : TextWriter.Null, request.PreviewFolder!, report, data.Test, request.PreviewLimit);
    }

    /// <summary>
    /// With --previews, the report after every epoch (each file replaced whole, so a reader
    /// refreshing report.html sees the run so far), around what <paramref name="inner"/> shows.
    /// </summary>
    private sealed class PreviewsEveryEpoch(TrainingObserver inner, Action<Evaluation> write) : TrainingObserver
    {
        public override void EpochStarting(int epoch, int epochs, int fromStep) => inner.EpochStarting(epoch, epochs, fromStep);

        public override EpochResult? RunEpoch(Trainer trainer, int epoch, Func<Action<int>?, EpochResult?> train) => inner.RunEpoch(trainer, epoch, train);

        public override void EpochFinished(EpochResult result, Evaluation? test)
        {
            inner.EpochFinished(result, test);
            if (test is not null)
                write(test);
        }

        public override void BestRestored(BestEpoch best) => inner.BestRestored(best);
    }

    /// <summary>The t10k split of --validation-data's folder, when its images have the training images' size.</summary>
    /// <exception cref="UserInputException">The images are of another size.</exception>
    private static LabeledImages ValidationSet(MnistData folder, MnistData data)
    {
        var validation = folder.Test;
        if (validation.Rows != data.Train.Rows || validation.Columns != data.Train.Columns)
            throw new UserInputException($"--validation-data holds {validation.Rows}x{validation.Columns} images; the training images are {data.Train.Rows}x{data.Train.Columns}");
        return validation;
    }

    /// <summary>A convnet's first-layer pictures, as <c>report</c> draws them, from the trained network loaded once more for one digit; null for other networks.</summary>
    private static FirstLayerPictures? FirstLayerPicturesOf(Trainer trainer, LabeledImages test)
    {
        if (trainer.Network.Shape.Layers[0] is not Engine.Model.Layers.Conv2DLayerShape)
            return null;
        var checkpoint = trainer.CreateCheckpoint();
        using var network = new TrainedNetwork(trainer.Network.Backend, checkpoint);
        return FirstLayerPictures.Of(checkpoint, test, digitIndex: 0, pixels => network.FirstLayerOutput(pixels));
    }

    /// <summary>
    /// No output may replace an input or another output, or the checkpoint's lock file. The
    /// checkpoint resumed is saved back to unless --save names another file; --save naming the
    /// same file is that default.
    /// </summary>
    private static void CheckFiles(TrainRequest request)
    {
        var files = new CommandFiles();
        bool savesBack = request.ResumePath is not null && (request.SavePath is null || CommandFiles.SameFile(request.SavePath, request.ResumePath));
        if (savesBack)
            files.Output("--resume", request.ResumePath);
        else
            files.Input("--resume", request.ResumePath).Output("--save", request.SavePath);
        // The lock beside the checkpoint is removed when the run ends: no output may be it.
        string? saved = savesBack ? request.ResumePath : request.SavePath;
        if (saved is not null && FileKinds.Of(saved) is not (FileKind.CharacterDevice or FileKind.Fifo))
            files.Output("--save's lock file", SaveLock.PathFor(saved));
        files.Inputs("--data", MnistData.Files(request.DataDirectory)).Inputs("--validation-data", request.ValidationDirectory is null ? [] : MnistData.Files(request.ValidationDirectory)).Output("--json", request.JsonPath).Output("--save-best", request.SaveBestPath).Output(request.PreviewFolder).Check();
        if (savesBack)
            OutputFile.Check(request.ResumePath!, "--resume");
        else if (request.SavePath is not null)
            OutputFile.Check(request.SavePath, "--save");
    }

    private static string Describe(TrainingPosition position, int stepsPerEpoch) => position.StepsDoneInEpoch == 0
        ? $"{Options.Count(position.EpochsDone, "epoch")} done"
        : $"epoch {position.EpochsDone + 1}, {position.StepsDoneInEpoch} of {stepsPerEpoch} steps done";

    /// <param name="best">The best validation epoch, when the run validated: the JSON's "best" (with early stopping, the epoch whose weights the test figures are).</param>
    private static void WriteSummary(string path, string device, TrainingSettings settings, InputScaling scaling, IReadOnlyList<EpochResult> epochs, IReadOnlyList<StepPoint> steps, BestEpoch? best, Evaluation test, int signalsBefore)
    {
        var summary = new
        {
            device,
            settings = new
            {
                settings.Epochs,
                settings.BatchSize,
                settings.Layers,
                optimizer = OptimizerJson(settings.Optimizer),
                settings.LearningRate,
                lrSchedule = settings.Schedule.Text,
                settings.Schedule.WarmupSteps,
                settings.Seed,
                initializer = settings.Initializer.Name(),
                settings.ValidationSplit,
                earlyStopping = settings.EarlyStoppingPatience,
                inputScaling = scaling.IsUnit ? null : new { scaling.Mean, scaling.Deviation },
            },
            epochs = epochs.Select(e => new { e.Epoch, e.Loss, e.Accuracy, seconds = e.Duration.TotalSeconds, e.ValidationLoss, e.ValidationAccuracy, e.TestLoss, e.TestAccuracy, learningRate = e.LearningRate ?? settings.LearningRate }),
            steps,
            best = best is null ? null : new { best.Epoch, best.ValidationLoss, best.EpochsWithoutImprovement, stoppedEarly = best.Stopped, restored = best.Parameters is not null },
            test = new { test.Loss, test.Accuracy, test.Correct, test.Count },
        };
        OutputFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(summary, Json.Options), signalsBefore);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The optimizer as the JSON summaries write it: its name and the hyperparameters it uses.</summary>
    internal static object OptimizerJson(OptimizerSettings o) => o.Kind switch
    {
        OptimizerKind.RmsProp => new { name = o.Name, o.LearningRate, o.Rho, o.Epsilon },
        OptimizerKind.Adam => new { name = o.Name, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon },
        _ => (object)new { name = o.Name, o.LearningRate, o.Momentum, o.Nesterov },
    };

    private sealed record TrainRequest(
        string Device, long? MemoryLimit, int? Threads, string? DataDirectory, string? JsonPath, string? SavePath, string? ResumePath, int? Epochs,
        string? PreviewFolder, int PreviewLimit, bool ShowProgress, string? ValidationDirectory, string? SaveBestPath, int? LogEvery, TrainingSettings Settings);
}
