using System.Globalization;
using MnistGpu.Engine.Backends;
using MnistGpu.Kernels;

namespace MnistGpu.Engine.Model;

public enum OptimizerKind
{
    RmsProp,
    Adam,
    Sgd,
}

/// <summary>
/// An optimizer and its hyperparameters, with Keras' names, defaults and formulas (ε added
/// outside the square root). Fields another optimizer uses keep their defaults, unused. Each
/// optimizer's state is a few arrays of the parameters' layout: RMSprop's mean squares, Adam's
/// two moments, momentum SGD's velocity.
/// </summary>
public sealed record OptimizerSettings
{
    public OptimizerKind Kind { get; init; } = OptimizerKind.RmsProp;

    /// <summary>Keras' default: 0.001 for RMSprop and Adam, 0.01 for SGD.</summary>
    public float LearningRate { get; init; } = 0.001f;

    /// <summary>RMSprop's decay of the running mean of squared gradients.</summary>
    public float Rho { get; init; } = 0.9f;

    /// <summary>Adam's decay of the first moment (the running mean of gradients).</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Adam's decay of the second moment (the running mean of squared gradients).</summary>
    public float Beta2 { get; init; } = 0.999f;

    /// <summary>Keeps RMSprop's and Adam's step finite where a gradient has always been zero (image borders).</summary>
    public float Epsilon { get; init; } = 1e-7f;

    /// <summary>SGD's momentum μ; 0 is plain SGD, which keeps no state.</summary>
    public float Momentum { get; init; }

    /// <summary>SGD's Nesterov form of momentum.</summary>
    public bool Nesterov { get; init; }

    /// <summary>The Keras MNIST example's optimizer.</summary>
    public static OptimizerSettings RmsProp { get; } = new();

    public static OptimizerSettings Adam { get; } = new() { Kind = OptimizerKind.Adam };

    public static OptimizerSettings Sgd { get; } = new() { Kind = OptimizerKind.Sgd, LearningRate = 0.01f };

    /// <summary>The name the command line and checkpoints use: rmsprop, adam or sgd.</summary>
    public string Name => Kind.ToString().ToLowerInvariant();

    /// <summary>Arrays of state, each as long as the parameters.</summary>
    public int StateArrays => Kind switch
    {
        OptimizerKind.RmsProp => 1,
        OptimizerKind.Adam => 2,
        _ => Momentum > 0 ? 1 : 0,
    };

    /// <summary>The element rule that applies an update: SGD without momentum keeps no velocity.</summary>
    public UpdateRule Rule => Kind switch
    {
        OptimizerKind.RmsProp => UpdateRule.RmsProp,
        OptimizerKind.Adam => UpdateRule.Adam,
        _ => StateArrays == 0 ? UpdateRule.Sgd : UpdateRule.SgdMomentum,
    };

    /// <summary>What each state array holds, for messages: "RMSprop mean square".</summary>
    public string StateName(int array) => (Kind, array) switch
    {
        (OptimizerKind.RmsProp, _) => "RMSprop mean square",
        (OptimizerKind.Adam, 0) => "Adam first moment",
        (OptimizerKind.Adam, _) => "Adam second moment",
        _ => "SGD velocity",
    };

    /// <summary>Whether state array <paramref name="array"/> holds squares, which are never negative.</summary>
    public bool StateIsSquares(int array) => Kind == OptimizerKind.RmsProp || (Kind == OptimizerKind.Adam && array == 1);

    /// <summary>The optimizer <paramref name="name"/> (rmsprop, adam, sgd) with Keras' defaults.</summary>
    /// <exception cref="UserInputException">Not one of the three.</exception>
    public static OptimizerSettings Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "rmsprop" => RmsProp,
        "adam" => Adam,
        "sgd" => Sgd,
        _ => throw new UserInputException($"unknown optimizer '{name}': use rmsprop, adam or sgd{Suggestions.DidYouMean(name.Trim(), ["rmsprop", "adam", "sgd"])}"),
    };

    /// <summary>
    /// The arguments of update number <paramref name="step"/> (1 for the first). Only Adam's
    /// depend on it: its bias correction folds into the step size, lr·√(1 − β2ᵗ)/(1 − β1ᵗ),
    /// computed here once per step in double precision from the float hyperparameters (Keras
    /// computes it in float32; the two agree to float rounding).
    /// </summary>
    /// <param name="learningRate">This update's rate, when a schedule moves it; by default <see cref="LearningRate"/>.</param>
    public OptimizerStep ForUpdate(long step, float? learningRate = null)
    {
        float rate = learningRate ?? LearningRate;
        float size = rate;
        if (Kind == OptimizerKind.Adam)
        {
            double t = step;
            size = (float)(rate * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t)));
        }

        return new OptimizerStep(Rule, size, Rho, Beta1, Beta2, Epsilon, Momentum, Nesterov);
    }

    /// <exception cref="UserInputException">A hyperparameter is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
            throw new UserInputException($"unknown optimizer kind {(int)Kind}");
        if (!(LearningRate > 0f) || float.IsInfinity(LearningRate))
            throw new UserInputException($"learning rate must be a positive number, got {LearningRate}");
        if (!(Rho >= 0f && Rho < 1f))
            throw new UserInputException($"rho must be in [0, 1), got {Rho}");
        if (!(Beta1 >= 0f && Beta1 < 1f) || !(Beta2 >= 0f && Beta2 < 1f))
            throw new UserInputException($"beta1 and beta2 must be in [0, 1), got {Beta1} and {Beta2}");
        if (!(Epsilon > 0f) || float.IsInfinity(Epsilon))
            throw new UserInputException($"epsilon must be a positive number, got {Epsilon}");
        if (!(Momentum >= 0f && Momentum < 1f))
            throw new UserInputException($"momentum must be in [0, 1), got {Momentum}");
        if (Nesterov && Kind != OptimizerKind.Sgd)
            throw new UserInputException("Nesterov momentum is an option of sgd");
        if (Nesterov && Momentum == 0f)
            throw new UserInputException("Nesterov momentum needs a momentum above 0");
        if (Momentum != 0f && Kind != OptimizerKind.Sgd)
            throw new UserInputException("momentum is an option of sgd");
    }

    /// <summary>e.g. "RMSprop (lr 0.001, rho 0.9, epsilon 1e-7)".</summary>
    public override string ToString() => Kind switch
    {
        OptimizerKind.RmsProp => Invariant($"RMSprop (lr {LearningRate}, rho {Rho}, epsilon {Epsilon:0.###e+0})"),
        OptimizerKind.Adam => Invariant($"Adam (lr {LearningRate}, beta1 {Beta1}, beta2 {Beta2}, epsilon {Epsilon:0.###e+0})"),
        _ when Momentum == 0f => Invariant($"SGD (lr {LearningRate})"),
        _ => Invariant($"SGD (lr {LearningRate}, momentum {Momentum}{(Nesterov ? ", Nesterov" : "")})"),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
