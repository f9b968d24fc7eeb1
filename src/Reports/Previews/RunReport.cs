using MnistGpu.Engine.Model;
using MnistGpu.Engine.Training;

namespace MnistGpu.Reports.Previews;

/// <summary>What a report says about the run that produced the network.</summary>
/// <param name="Device">The device's name, e.g. "host:0 (AVX-512, 2 threads)".</param>
/// <param name="DataSource">Where the data came from: a folder, or the bundled set (<see cref="Engine.Data.MnistData.Source"/>).</param>
/// <param name="Written">When the report was made, for the reader who finds it months later.</param>
public sealed record RunReport(
    string Device, string DataSource, NetworkShape Shape, TrainingSettings Settings, IReadOnlyList<EpochResult> History, Evaluation Test, DateTimeOffset Written);
