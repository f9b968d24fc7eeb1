namespace MnistGpu.Tests.Kernels;

public sealed class CudaFixture() : AcceleratorFixture(() => OpenByName("cuda"));

public sealed class OpenClFixture() : AcceleratorFixture(() => OpenByName("opencl"));

/// <summary>The first usable CUDA GPU, when this machine has one; otherwise every check is skipped with the reason.</summary>
public sealed class CudaKernelTests(CudaFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<CudaFixture>;

/// <summary>The first usable OpenCL device, when this machine has one; otherwise every check is skipped with the reason.</summary>
public sealed class OpenClKernelTests(OpenClFixture fixture)
    : KernelAgreementTests(fixture), IClassFixture<OpenClFixture>;
