namespace MnistGpu.Tests.Architecture.LoopFixture.Upper
{
    /// <summary>Half of a deliberate folder loop, for <see cref="DependencyTests.The_loop_rule_catches_a_loop"/>.</summary>
    internal sealed class Above
    {
        public Lower.Below? Down { get; set; }
    }
}

namespace MnistGpu.Tests.Architecture.LoopFixture.Lower
{
    /// <summary>The other half: it points back up.</summary>
    internal sealed class Below
    {
        public Upper.Above? Up { get; set; }
    }
}
