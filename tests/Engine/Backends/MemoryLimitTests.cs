using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Tests.Engine.Backends;

/// <summary>--memory-limit means the same on every backend that allocates: counted per array, freed on dispose.</summary>
public sealed class MemoryLimitTests
{
    public static TheoryData<string> Backends => new("host", "cpu");

    [Theory]
    [MemberData(nameof(Backends))]
    public void Allocations_past_the_limit_fail_in_one_line_and_disposed_arrays_free_their_bytes(string kind)
    {
        using var backend = Open(kind, limit: 10_000);
        Assert.InRange(backend.AvailableMemoryBytes, 0, 10_000);
        var first = backend.Allocate<float>(2_000);
        Assert.Equal(2_000, backend.AvailableMemoryBytes);

        var error = Assert.Throws<EngineException>(() => backend.Allocate<float>(1_000));
        Assert.EndsWith("out of device memory allocating 4,000 bytes (2,000 of the 10,000-byte limit free)", error.Message);

        first.Dispose();
        using var second = backend.Allocate<float>(2_500);
        Assert.Equal(0, backend.AvailableMemoryBytes);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void A_plan_larger_than_what_is_available_is_refused_naming_both(string kind)
    {
        using var backend = Open(kind, limit: 1_000);
        var plan = new MemoryPlan().Add<float>("the network", "weights", 200).Add<byte>("the test set", "images", 300);
        // The device has room; the limit the user gave does not: a usage error.
        var error = Assert.Throws<UserInputException>(() => plan.RequireFits(backend));
        Assert.Matches(@"over --memory-limit: this needs 1,100 bytes \(the network 800, the test set 300\); the limit is 1,000 bytes, of which 1,000 are left, and the device has [\d,]+ free$", error.Message);
        var beyondDevice = new MemoryPlan().Add<float>("the network", "weights", Array.MaxLength, count: 64);
        var failure = Assert.Throws<EngineException>(() => beyondDevice.RequireFits(backend));
        Assert.Matches(@"out of device memory: this needs [\d,]+ bytes \(the network [\d,]+\), but 1,000 are available$", failure.Message);
        var tooLong = Assert.Throws<UserInputException>(() => plan.Add<float>("the network", "activations", (long)Array.MaxLength + 1));
        Assert.Equal("the network: activations would need an array of 2,147,483,592 elements; one array holds at most 2,147,483,591", tooLong.Message);
    }

    private static ITrainingBackend Open(string kind, long limit) =>
        kind == "host" ? new HostBackend(threads: 1, memoryLimitBytes: limit) : IlgpuBackend.CreateCpuAccelerator(memoryLimitBytes: limit);
}
