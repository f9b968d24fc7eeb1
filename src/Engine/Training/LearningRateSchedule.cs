using System.Globalization;

namespace MnistGpu.Engine.Training;

/// <summary>How a schedule moves the learning rate.</summary>
public enum ScheduleKind
{
    /// <summary>The optimizer's rate at every step.</summary>
    Constant,

    /// <summary>lr · FACTOR^⌊epoch / EPOCHS⌋: the rate multiplied by the factor every EPOCHS epochs.</summary>
    Step,

    /// <summary>lr · RATE^(t / steps per epoch): Keras' ExponentialDecay with an epoch's steps as its decay steps.</summary>
    Exponential,

    /// <summary>lr · (1 + cos(π·t/T)) / 2 over the schedule's T steps: Keras' CosineDecay and PyTorch's CosineAnnealingLR, 0 after the last step.</summary>
    Cosine,

    /// <summary>
    /// PyTorch's OneCycleLR with its defaults, the learning rate only: from lr/25 up to lr over the
    /// first 30 % of the steps, then down to lr/25/10⁴ at the last, each half a cosine.
    /// </summary>
    OneCycle,
}

/// <summary>
/// A learning-rate schedule, applied per step: the rate for optimizer update t (0 for the first)
/// of a run whose schedule lasts <c>length</c> steps (the run's --epochs as first given, times the
/// steps of an epoch), the optimizer's learning rate being its maximum. A warm-up of
/// <see cref="WarmupSteps"/> multiplies the first steps' rates by (t + 1) / N (not with one-cycle,
/// which has its own). Past its length a schedule keeps its last step's rate.
/// </summary>
/// <param name="Kind">The curve.</param>
/// <param name="Every">Step's EPOCHS: the epochs between two multiplications.</param>
/// <param name="Factor">Step's FACTOR, or exponential's RATE.</param>
/// <param name="WarmupSteps">Steps of linear warm-up (0: none).</param>
public sealed record LearningRateSchedule(ScheduleKind Kind, int Every = 0, double Factor = 1, int WarmupSteps = 0)
{
    /// <summary>What --lr-schedule accepts, for help and errors.</summary>
    public const string Usage = "constant, step:EPOCHS:FACTOR, exponential:RATE, cosine or one-cycle";

    public static LearningRateSchedule Constant { get; } = new(ScheduleKind.Constant);

    /// <summary>Whether the rate ever differs from the optimizer's.</summary>
    public bool Varies => Kind != ScheduleKind.Constant || WarmupSteps > 0;

    /// <summary>The schedule as --lr-schedule writes it, without the warm-up: e.g. "step:2:0.5".</summary>
    public string Text => Kind switch
    {
        ScheduleKind.Step => string.Create(CultureInfo.InvariantCulture, $"step:{Every}:{Factor:R}"),
        ScheduleKind.Exponential => string.Create(CultureInfo.InvariantCulture, $"exponential:{Factor:R}"),
        ScheduleKind.Cosine => "cosine",
        ScheduleKind.OneCycle => "one-cycle",
        _ => "constant",
    };

    /// <summary>For people: "cosine", "step:2:0.5 after 100 warm-up steps".</summary>
    public override string ToString() => WarmupSteps > 0 ? $"{Text} after {WarmupSteps} warm-up steps" : Text;

    /// <summary>A schedule as --lr-schedule writes it, with <paramref name="warmupSteps"/> of warm-up.</summary>
    /// <exception cref="UserInputException">Not one of <see cref="Usage"/>, a parameter out of range, or a warm-up with one-cycle.</exception>
    public static LearningRateSchedule Parse(string text, int warmupSteps = 0)
    {
        var parts = text.Trim().ToLowerInvariant().Split(':');
        var schedule = parts switch
        {
            ["constant"] => Constant,
            ["cosine"] => new LearningRateSchedule(ScheduleKind.Cosine),
            ["one-cycle"] => new LearningRateSchedule(ScheduleKind.OneCycle),
            ["step", var every, var factor] => new LearningRateSchedule(ScheduleKind.Step, Whole(every, text), Number(factor, text)),
            ["exponential", var rate] => new LearningRateSchedule(ScheduleKind.Exponential, Factor: Number(rate, text)),
            _ => throw new UserInputException($"a learning-rate schedule is {Usage}, not '{text}'"),
        };
        if (warmupSteps < 0)
            throw new UserInputException($"warm-up steps must be 0 or more, got {warmupSteps}");
        if (warmupSteps > 0 && schedule.Kind == ScheduleKind.OneCycle)
            throw new UserInputException("one-cycle warms up by its own rule (its first 30 % of steps); it takes no warm-up steps");
        return schedule with { WarmupSteps = warmupSteps };
    }

    /// <summary>
    /// The learning rate of update <paramref name="update"/> (1 for the first) whose maximum is
    /// <paramref name="maximum"/>, in a schedule of <paramref name="length"/> steps of
    /// <paramref name="stepsPerEpoch"/> per epoch. Constant without warm-up is <paramref name="maximum"/> itself.
    /// </summary>
    public float Rate(float maximum, long update, long stepsPerEpoch, long length)
    {
        if (!Varies)
            return maximum;
        long t = Math.Min(update - 1, Math.Max(length - 1, 0));
        double rate = Kind switch
        {
            ScheduleKind.Step => maximum * Math.Pow(Factor, t / (Every * stepsPerEpoch)),
            ScheduleKind.Exponential => maximum * Math.Pow(Factor, (double)t / stepsPerEpoch),
            ScheduleKind.Cosine => maximum * (1 + Math.Cos(Math.PI * t / Math.Max(length, 1))) / 2,
            ScheduleKind.OneCycle => OneCycle(maximum, t, length),
            _ => maximum,
        };
        if (update - 1 < WarmupSteps)
            rate *= (double)update / WarmupSteps;
        return (float)rate;
    }

    /// <summary>PyTorch's two cosine phases: step ≤ 0.3·T − 1 rises from max/25, the rest falls to max/25/10⁴ at step T − 1.</summary>
    private static double OneCycle(double maximum, long t, long length)
    {
        double initial = maximum / 25, final = initial / 1e4;
        double peak = (0.3 * length) - 1, last = length - 1;
        if (t <= peak && peak > 0)
            return Anneal(initial, maximum, t / peak);
        double start = Math.Max(peak, 0);
        return last > start ? Anneal(maximum, final, (t - start) / (last - start)) : maximum;
    }

    private static double Anneal(double from, double to, double fraction) => to + ((from - to) / 2 * (1 + Math.Cos(Math.PI * fraction)));

    private static int Whole(string text, string schedule) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= 1 ? value
        : throw new UserInputException($"step:EPOCHS:FACTOR needs EPOCHS a whole number of at least 1, got '{text}' in '{schedule}'");

    private static double Number(string text, string schedule) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && double.IsFinite(value) ? value
        : throw new UserInputException($"a schedule's factor or rate must be a positive number, got '{text}' in '{schedule}'");
}
