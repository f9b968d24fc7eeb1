using MnistGpu.Engine.Backends.Host;

namespace MnistGpu.Tests.Engine.Backends.Host;

public sealed class WorkerPoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_part_runs_exactly_once_in_every_one_of_many_runs(int threads)
    {
        using var pool = new WorkerPool(threads);
        var counts = new Counts(97);
        for (int run = 0; run < 500; run++)
            pool.Run(run % 97 + 1, counts);

        // Part p belongs to every run with more than p parts: runs whose count (1..97, cycling) exceeds p.
        for (int part = 0; part < 97; part++)
        {
            int expected = Enumerable.Range(0, 500).Count(run => run % 97 + 1 > part);
            Assert.Equal(expected, counts.Of(part));
        }
    }

    [Fact]
    public void An_exception_in_a_part_surfaces_on_the_caller_and_the_pool_keeps_working()
    {
        using var pool = new WorkerPool(3);
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(50, new ThrowsAt(17)));
        Assert.Equal("part 17 failed", error.Message);

        var counts = new Counts(50);
        pool.Run(50, counts);
        Assert.All(Enumerable.Range(0, 50), part => Assert.Equal(1, counts.Of(part)));
    }

    private sealed class Counts(int parts) : IParallelWork
    {
        private readonly int[] counts = new int[parts];

        public int Of(int part) => counts[part];

        public void Execute(int part) => Interlocked.Increment(ref counts[part]);
    }

    private sealed class ThrowsAt(int failing) : IParallelWork
    {
        public void Execute(int part)
        {
            if (part == failing)
                throw new InvalidOperationException($"part {part} failed");
        }
    }
}
