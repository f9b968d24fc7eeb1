namespace MnistGpu.Engine.Training;

/// <summary>One epoch: mean training loss and accuracy over its samples (as each was trained, Keras-style).</summary>
public sealed record EpochResult(int Epoch, int Steps, double Loss, double Accuracy, TimeSpan Duration);

/// <summary>The network's loss and accuracy on a split, with each sample's prediction and class probabilities.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int[] Predictions, float[] Probabilities, byte[] Labels, TimeSpan Duration)
{
    public int Count => Labels.Length;

    public int Correct => Predictions.Where((p, i) => p == Labels[i]).Count();
}
