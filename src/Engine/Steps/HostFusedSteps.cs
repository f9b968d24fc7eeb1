using MnistGpu.Engine.Backends.Host;
using MnistGpu.Engine.Model;

namespace MnistGpu.Engine.Steps;

/// <summary>
/// A dense stack's step on the host backend: <see cref="HostFusedStep{TVec}"/>, with the sparse
/// first layer, at the widest vectors the CPU has.
/// </summary>
internal sealed class HostFusedSteps : FusedStepRunner
{
    private readonly IHostFusedStep fused;

    public HostFusedSteps(HostBackend device, Network network)
        : base(network)
    {
        fused = Avx512Float.IsSupported ? new HostFusedStep<Avx512Float>(device.Pool)
            : Avx2Float.IsSupported ? new HostFusedStep<Avx2Float>(device.Pool)
            : new HostFusedStep<PortableFloat>(device.Pool);
    }

    /// <summary>
    /// A dense stack whose images' pixel indices fit the step's 16-bit lists; it fuses the first layer of any depth, and the output layer too of one hidden layer.
    /// It skips zero pixels as byte / 255 makes them 0: a standardised network, whose zero bytes are not 0, runs composed.
    /// </summary>
    public static bool Covers(NetworkShape shape) => shape.IsDenseStack && HostFusedStep<PortableFloat>.Fits(shape.Inputs) && shape.Scaling.IsUnit;

    protected override void TrainFused(TrainingStep work, int start, int batch) => fused.Train(work, start, batch);

    protected override void EvaluateFused(EvaluationPass work, int start, int batch) => fused.Evaluate(work, start, batch);
}
