namespace MnistGpu.Engine.Training;

/// <summary>
/// The epoch of the lowest validation loss so far, what early stopping and <c>--save-best</c>
/// watch: which epoch it was, its loss, how many epochs have passed since without a lower one, and
/// whether early stopping has ended the run. With early stopping it keeps that epoch's weights and
/// layer state, to restore at the end; checkpoints carry all of it, so a resumed run stops where a
/// straight one would and restores the same weights.
/// </summary>
/// <param name="Epoch">The epoch whose weights had the lowest validation loss.</param>
/// <param name="ValidationLoss">That loss.</param>
/// <param name="EpochsWithoutImprovement">Epochs since, none of them lower (Keras' wait).</param>
/// <param name="Stopped">Whether early stopping ended the run after the last epoch.</param>
public sealed record BestEpoch(int Epoch, double ValidationLoss, int EpochsWithoutImprovement, bool Stopped)
{
    /// <summary>The epoch's parameters, kept under early stopping; null otherwise.</summary>
    public float[]? Parameters { get; init; }

    /// <summary>The epoch's layer state (moving statistics), kept with <see cref="Parameters"/>.</summary>
    public float[]? LayerState { get; init; }

    /// <summary>The record after an epoch whose validation loss was <paramref name="loss"/>: a new best when lower (Keras' min_delta 0), else one more epoch without improvement.</summary>
    /// <param name="keep">Takes the weights and layer state to keep with a new best; null keeps none.</param>
    internal static BestEpoch After(BestEpoch? best, int epoch, double loss, Func<(float[] Parameters, float[] LayerState)>? keep) =>
        best is null || loss < best.ValidationLoss
            ? keep?.Invoke() is { } weights
                ? new BestEpoch(epoch, loss, 0, false) { Parameters = weights.Parameters, LayerState = weights.LayerState }
                : new BestEpoch(epoch, loss, 0, false)
            : best with { EpochsWithoutImprovement = best.EpochsWithoutImprovement + 1 };
}
