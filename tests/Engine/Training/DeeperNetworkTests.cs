using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Reference;
using MnistGpu.Engine.Training;
using MnistGpu.Kernels;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Training;

/// <summary>
/// Networks beyond the seed — more hidden layers, Adam, SGD with momentum — train, resume to the
/// bit and checkpoint like the seed network; the optimizers follow Keras' formulas.
/// </summary>
public sealed class DeeperNetworkTests
{
    private static readonly MnistGpu.Engine.Data.LabeledImages Subset = Bundled.Mnist.Train.Take(1_000);

    public static TheoryData<string> Optimizers => ["adam", "sgd nesterov", "rmsprop"];

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Stopping_mid_epoch_then_resuming_equals_never_stopping(string optimizer)
    {
        var settings = Settings(optimizer);
        var straight = Train(settings, epochs: 2, from: null);

        Checkpoint interrupted;
        using (var device = IlgpuBackend.CreateCpuAccelerator())
        using (var trainer = new Trainer(device, Subset, settings))
        {
            trainer.TrainEpoch();
            using var stop = new CancellationTokenSource();
            trainer.TrainEpoch(stop.Token, step =>
            {
                if (step == 3)
                    stop.Cancel();
            });
            interrupted = Checkpoint.Decode(trainer.CreateCheckpoint().Encode());
        }

        Assert.Equal(settings, interrupted.Settings);
        Assert.Equal(8 + 3, interrupted.OptimizerUpdates);
        var resumed = Train(settings, epochs: 2, from: interrupted);
        Assert.Equal(straight.Parameters, resumed.Parameters);
        Assert.Equal(straight.OptimizerState, resumed.OptimizerState);
        Assert.Equal(straight.OptimizerUpdates, resumed.OptimizerUpdates);
    }

    [Fact]
    public void A_deeper_adam_network_learns_and_its_checkpoint_keeps_both_moments()
    {
        var checkpoint = Train(Settings("adam"), epochs: 2, from: null);

        Assert.Equal(new NetworkShape(784, [64, 32], 10), checkpoint.Shape);
        Assert.Equal(2, checkpoint.OptimizerState.Count);
        Assert.Equal(16, checkpoint.OptimizerUpdates);
        Assert.All(checkpoint.OptimizerState, state => Assert.Contains(state, value => value != 0f));
        Assert.True(checkpoint.History[1].Loss < 0.9 * checkpoint.History[0].Loss, $"loss {checkpoint.History[0].Loss} then {checkpoint.History[1].Loss}: the second epoch did not learn");
        var decoded = Checkpoint.Decode(checkpoint.Encode());
        Assert.Equal(checkpoint.OptimizerState, decoded.OptimizerState);
        Assert.Equal(checkpoint.Settings, decoded.Settings);
    }

    [Fact]
    public void Layers_of_512_is_the_seed_network()
    {
        Assert.Equal(new TrainingSettings(), new TrainingSettings { Layers = [512] });
        Assert.Equal(NetworkShape.Default, Trainer.ShapeFor(Bundled.Mnist.Train, new TrainingSettings { Layers = [512] }));
    }

    [Fact]
    public void Adams_first_step_moves_every_weight_by_the_learning_rate_against_its_gradient()
    {
        // From zero moments, m = (1−β1)g and v = (1−β2)g², and the bias correction makes the step
        // lr·g/|g| (ε aside): Keras' Adam moves each weight by about lr on its first update.
        var step = OptimizerSettings.Adam.ForUpdate(1);
        // β2 = 0.999 held as a float is 0.99900001…, so the step size matches the decimal formula to about 1e-5.
        Assert.Equal(0.001 * Math.Sqrt(1 - 0.999) / (1 - 0.9), step.StepSize, 1e-8);
        using var reference = new ReferenceBackend();
        float[] gradients = [0.5f, -0.02f, 3f];
        var (weights, moved) = Update(reference, OptimizerSettings.Adam, step, gradients, updates: 1);
        for (int i = 0; i < gradients.Length; i++)
            Assert.Equal(-0.001 * Math.Sign(gradients[i]), moved[i] - weights[i], 5e-7);
    }

    [Fact]
    public void Sgd_with_momentum_follows_keras_velocity()
    {
        // Keras: u ← μu − lr·g; w ← w + u (Nesterov: w ← w + μu − lr·g), two steps of g = 1.
        using var reference = new ReferenceBackend();
        var plain = OptimizerSettings.Sgd with { Momentum = 0.9f };
        var nesterov = plain with { Nesterov = true };
        var (start, afterPlain) = Update(reference, plain, plain.ForUpdate(1), [1f], updates: 2);
        var (_, afterNesterov) = Update(reference, nesterov, nesterov.ForUpdate(1), [1f], updates: 2);
        Assert.Equal(-0.01 + (-0.009 - 0.01), afterPlain[0] - start[0], 1e-7);
        Assert.Equal((0.9 * -0.01 - 0.01) + (0.9 * -0.019 - 0.01), afterNesterov[0] - start[0], 1e-7);
    }

    /// <summary>The optimizer's state after the same gradient is applied <paramref name="updates"/> times on the reference; returns the weights before and after.</summary>
    private static (float[] Before, float[] After) Update(ReferenceBackend reference, OptimizerSettings optimizer, OptimizerStep step, float[] gradients, int updates)
    {
        float[] before = [.. gradients.Select((_, i) => 0.25f * i)];
        using var weights = reference.Allocate<float>(gradients.Length);
        using var g = reference.Allocate<float>(gradients.Length);
        var state = Enumerable.Range(0, optimizer.StateArrays).Select(_ => reference.Allocate<float>(gradients.Length)).ToList();
        reference.Upload<float>(before, weights);
        reference.Upload<float>(gradients, g);
        for (int i = 0; i < updates; i++)
            reference.OptimizerUpdate(weights, g, new OptimizerState(state), step);
        var after = new float[gradients.Length];
        reference.Download(weights, after);
        state.ForEach(array => array.Dispose());
        return (before, after);
    }

    private static TrainingSettings Settings(string optimizer) => new()
    {
        Layers = [64, 32],
        Seed = 5,
        Epochs = 2,
        Optimizer = optimizer switch
        {
            "adam" => OptimizerSettings.Adam,
            "sgd nesterov" => OptimizerSettings.Sgd with { Momentum = 0.9f, Nesterov = true },
            _ => OptimizerSettings.RmsProp,
        },
    };

    private static Checkpoint Train(TrainingSettings settings, int epochs, Checkpoint? from) => CpuTraining.Train(Subset, settings, epochs, from);
}
