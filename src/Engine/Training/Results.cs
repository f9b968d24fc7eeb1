using System.Globalization;
using System.Text.Json.Serialization;

namespace MnistGpu.Engine.Training;

/// <summary>
/// One epoch: mean training loss and accuracy over its samples (as each was trained, Keras-style),
/// the validation loss and accuracy when the run has a validation set, and the test loss and
/// accuracy when the test set was evaluated after it.
/// </summary>
public sealed record EpochResult(int Epoch, int Steps, double Loss, double Accuracy, TimeSpan Duration)
{
    public double? TestLoss { get; init; }

    public double? TestAccuracy { get; init; }

    /// <summary>The validation set's loss after the epoch, when the run has one (<see cref="TrainingSettings.ValidationSplit"/> or validation data).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ValidationLoss { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ValidationAccuracy { get; init; }

    /// <summary>The learning rate of the epoch's last step, when a schedule moves it (otherwise the optimizer's, and not recorded).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LearningRate { get; init; }

    /// <summary>"epoch 2: 469 steps in 0.41 s, loss 0.1046, accuracy 0.9697; test loss 0.0894, test accuracy 0.9726", the test part only when it was evaluated.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"epoch {Epoch}: {Steps} steps in {Duration.TotalSeconds:F2} s, loss {Loss:F4}, accuracy {Accuracy:F4}{(TestLoss is double testLoss && TestAccuracy is double testAccuracy ? $"; test loss {testLoss:F4}, test accuracy {testAccuracy:F4}" : "")}");
}

/// <summary>The network's loss and accuracy on a split, with each sample's prediction and class probabilities.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int[] Predictions, float[] Probabilities, byte[] Labels, TimeSpan Duration)
{
    public int Count => Labels.Length;

    public int Correct => Predictions.Where((p, i) => p == Labels[i]).Count();

    /// <summary>counts[true, predicted].</summary>
    public int[,] ConfusionMatrix(int classes)
    {
        var matrix = new int[classes, classes];
        for (int i = 0; i < Labels.Length; i++)
            matrix[Labels[i], Predictions[i]]++;
        return matrix;
    }

    /// <summary>How many test images of each class there are and how many were classified correctly.</summary>
    public IReadOnlyList<ClassAccuracy> PerClass(int classes)
    {
        var counts = new int[classes];
        var correct = new int[classes];
        for (int i = 0; i < Labels.Length; i++)
        {
            counts[Labels[i]]++;
            if (Predictions[i] == Labels[i])
                correct[Labels[i]]++;
        }

        return Enumerable.Range(0, classes).Select(c => new ClassAccuracy(c, counts[c], correct[c])).ToList();
    }

    /// <summary>"loss 0.1235, accuracy 0.9619 (9619/10000) in 0.21 s": the figures, not the arrays' type names.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"loss {Loss:F4}, accuracy {Accuracy:F4} ({Correct}/{Count}) in {Duration.TotalSeconds:F2} s");
}

public sealed record ClassAccuracy(int Class, int Count, int Correct)
{
    public double Accuracy => Count == 0 ? double.NaN : (double)Correct / Count;
}
