using ArchUnitNET.Domain;
using ArchUnitNET.Fluent;
using ArchUnitNET.Fluent.Slices;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace MnistGpu.Tests.Architecture;

/// <summary>
/// The folders' dependency direction (docs/architecture.md): backends at the bottom, the model
/// on them, step runners above the model, training above those; no loop between folders of any
/// assembly, and Kernels and Runner in their places.
/// </summary>
public sealed class DependencyTests
{
    private static readonly Lazy<ArchUnitNET.Domain.Architecture> Product = new(() => new ArchLoader().LoadAssemblies(
        typeof(MnistGpu.Kernels.MatMulKernels).Assembly,
        typeof(MnistGpu.Engine.Model.Network).Assembly,
        typeof(MnistGpu.Reports.Export.OnnxExporter).Assembly,
        typeof(MnistGpu.Server.DigitServer).Assembly,
        typeof(MnistGpu.Runner.Cli).Assembly).Build());

    [Theory]
    [InlineData("MnistGpu.Engine.(*)..")]
    [InlineData("MnistGpu.Reports.(*)..")]
    [InlineData("MnistGpu.Runner.(*)..")]
    public void No_folder_loops(string folders) =>
        SliceRuleDefinition.Slices().Matching(folders).Should().BeFreeOfCycles().Check(Product.Value);

    [Theory]
    [InlineData("MnistGpu.Engine.Model")]
    [InlineData("MnistGpu.Engine.Steps")]
    [InlineData("MnistGpu.Engine.Training")]
    public void Backends_reference_nothing_above_them(string above) =>
        Types().That().ResideInNamespaceMatching(@"^MnistGpu\.Engine\.Backends(\..*)?$")
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching($"^{above.Replace(".", @"\.", StringComparison.Ordinal)}(\\..*)?$"))
            .Check(Product.Value);

    [Fact]
    public void The_model_does_not_know_its_step_runners() =>
        Types().That().ResideInNamespaceMatching(@"^MnistGpu\.Engine\.Model(\..*)?$")
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching(@"^MnistGpu\.Engine\.(Steps|Training)(\..*)?$"))
            .Check(Product.Value);

    [Fact]
    public void Kernels_know_no_engine_and_the_runner_and_server_launch_no_kernel()
    {
        Types().That().ResideInAssembly(typeof(MnistGpu.Server.DigitServer).Assembly)
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching(@"^MnistGpu\.(Kernels|Runner)$").Or().ResideInNamespaceMatching(@"^ILGPU(\..*)?$"))
            .Check(Product.Value);
        Types().That().ResideInAssembly(typeof(MnistGpu.Kernels.MatMulKernels).Assembly)
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching(@"^MnistGpu\.(Engine|Reports|Runner)(\..*)?$"))
            .Check(Product.Value);
        Types().That().ResideInAssembly(typeof(MnistGpu.Runner.Cli).Assembly)
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching(@"^MnistGpu\.Kernels$").Or().ResideInNamespaceMatching(@"^ILGPU(\..*)?$"))
            .Check(Product.Value);
    }

    /// <summary>The cycle rule sees a loop: two folders of this test assembly that use each other.</summary>
    [Fact]
    public void The_loop_rule_catches_a_loop()
    {
        var fixture = new ArchLoader().LoadAssemblies(typeof(DependencyTests).Assembly).Build();
        var rule = SliceRuleDefinition.Slices().Matching("MnistGpu.Tests.Architecture.LoopFixture.(*)..").Should().BeFreeOfCycles();
        Assert.False(rule.HasNoViolations(fixture));
    }
}
