using MnistGpu.Engine.Training;

namespace MnistGpu.Engine.Reports;

/// <summary>What a report says about the run that produced the network.</summary>
public sealed record RunReport(string Device, TrainingSettings Settings, IReadOnlyList<EpochResult> History, Evaluation Test);
