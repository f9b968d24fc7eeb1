using MnistGpu.Engine.Training;

namespace MnistGpu.Reports.Previews;

/// <summary>What a report says about the run that produced the network.</summary>
public sealed record RunReport(string Device, TrainingSettings Settings, IReadOnlyList<EpochResult> History, Evaluation Test);
