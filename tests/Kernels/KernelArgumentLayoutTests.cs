using System.Reflection;
using ILGPU;
using MnistGpu.Engine.Backends;

namespace MnistGpu.Tests.Kernels;

/// <summary>
/// A struct a kernel takes by value reaches OpenCL as one argument, laid out by ILGPU from the
/// struct's fields in declaration order, each at its natural alignment, with every view lowered
/// to two 8-byte integers (pointer and length). A strict
/// driver (Mesa's rusticl, and Mesa's GPU drivers behind it) wants the size up to the end of the
/// last field, OpenCL C's <c>sizeof</c> includes trailing padding, and such a driver refuses the
/// launch with CL_INVALID_ARG_SIZE. So no such struct may end in padding: its last field ends at
/// its size.
/// </summary>
public sealed class KernelArgumentLayoutTests
{
    public static TheoryData<string> Kernels => new(KernelInventory.All.Select(k => k.Name));

    [Theory]
    [MemberData(nameof(Kernels))]
    public void No_struct_a_kernel_takes_by_value_ends_in_padding(string name)
    {
        var kernel = KernelInventory.All.Single(k => k.Name == name);
        foreach (var parameter in kernel.Method.GetParameters().Where(p => IsStructArgument(p.ParameterType)))
        {
            var (end, size, _) = OpenClLayout(parameter.ParameterType);
            Assert.True(end == size, $"{name}: {parameter.ParameterType.Name} {parameter.Name} reaches OpenCL as {size} bytes whose last field ends at {end}: {size - end} bytes of trailing padding");
        }
    }

    [Fact]
    public void The_layout_rule_finds_the_padding_a_driver_refused()
    {
        // The fused step's argument as e3691b3 had it: 15 views, then 14 4-byte fields after an odd one in the middle.
        Assert.Equal((292, 296, 8), OpenClLayout(typeof(PaddedLikeFusedStep)));
    }

    private static bool IsStructArgument(Type type) =>
        type.IsValueType && !type.IsPrimitive && !type.IsEnum && !(type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>));

    /// <summary>Where the last field ends, the size and the alignment, with views as OpenCL receives them: 16 bytes, aligned to 8.</summary>
    private static (int End, int Size, int Alignment) OpenClLayout(Type type)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>))
            return (16, 16, 8);
        if (type.IsPrimitive || type.IsEnum)
        {
            int bytes = System.Runtime.InteropServices.Marshal.SizeOf(type.IsEnum ? Enum.GetUnderlyingType(type) : type);
            return (bytes, bytes, bytes);
        }

        int offset = 0, alignment = 1;
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(f => f.MetadataToken))
        {
            var (_, size, fieldAlignment) = OpenClLayout(field.FieldType);
            offset = Align(offset, fieldAlignment) + size;
            alignment = Math.Max(alignment, fieldAlignment);
        }

        return (offset, Align(offset, alignment), alignment);
    }

    private static int Align(int offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    private readonly struct PaddedLikeFusedStep
    {
        public ArrayView<byte> A { get; init; }
        public ArrayView<byte> B { get; init; }
        public ArrayView<int> C { get; init; }
        public ArrayView<float> D { get; init; }
        public ArrayView<float> E { get; init; }
        public ArrayView<float> F { get; init; }
        public ArrayView<float> G { get; init; }
        public ArrayView<float> H { get; init; }
        public int I { get; init; }
        public int J { get; init; }
        public ArrayView<float> K { get; init; }
        public ArrayView<float> L { get; init; }
        public ArrayView<int> M { get; init; }
        public int N { get; init; }
        public ArrayView<float> O { get; init; }
        public ArrayView<float> P { get; init; }
        public ArrayView<int> Q { get; init; }
        public int R1 { get; init; }
        public int R2 { get; init; }
        public int R3 { get; init; }
        public int R4 { get; init; }
        public int R5 { get; init; }
        public int R6 { get; init; }
        public float S1 { get; init; }
        public float S2 { get; init; }
        public float S3 { get; init; }
        public float S4 { get; init; }
        public float S5 { get; init; }
        public float S6 { get; init; }
        public int T { get; init; }
    }
}
