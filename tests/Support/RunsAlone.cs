namespace MnistGpu.Tests.Support;

/// <summary>
/// Tests that measure the whole process (what a thread allocates) and must not share it with
/// parallel tests: xunit runs a collection without parallelization after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Runs alone";
}
