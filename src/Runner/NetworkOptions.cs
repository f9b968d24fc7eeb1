using System.CommandLine;
using System.Globalization;
using MnistGpu.Engine;
using MnistGpu.Engine.Model;
using MnistGpu.Engine.Model.Layers;
using MnistGpu.Engine.Training;

namespace MnistGpu.Runner;

/// <summary>
/// The options that describe the network and its optimizer, shared by train, bench and kernels:
/// --network (a named recipe) or --layers (or its one-layer shorthand --hidden), --optimizer with
/// its learning rate, and SGD's --momentum and --nesterov, the schedule, the initializer and the
/// input standardisation. Each optimizer's learning rate defaults to Keras'.
/// </summary>
internal sealed class NetworkOptions
{
    private readonly Option<string?> network = Options.Network($"A named network, with the batch size, optimizer (and learning-rate schedule) and epochs it trains with unless given: {string.Join("; ", NetworkPresets.All.Select(preset => $"{preset.Name} ({preset.Description})"))}");

    private readonly Option<LayerSpec[]?> layers = new("--layers")
    {
        Description = $"Hidden layers, input side first: {string.Join(", ", LayerKinds.All.Select(kind => kind.Usage))}; e.g. 512,256 or conv3x3:32,maxpool,flatten,64 (default: 512)",
        // One comma-separated value: a second --layers is refused like a second --hidden, not ignored.
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            var parts = text.Split(',', StringSplitOptions.TrimEntries);
            var specs = new LayerSpec[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                bool width = parts[i].Length > 0 && char.IsAsciiDigit(parts[i][0]) || parts[i].Length == 0 || parts[i][0] is '-' or '+';
                if (width)
                {
                    if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out int units) || units < 1)
                    {
                        result.AddError($"--layers must be hidden layer widths of at least 1 or layer specs, separated by commas, such as 512,256, got '{text}'");
                        return null;
                    }

                    specs[i] = units;
                    continue;
                }

                try
                {
                    specs[i] = LayerSpec.Parse(parts[i]);
                }
                catch (UserInputException e)
                {
                    result.AddError($"--layers: {e.Message}");
                    return null;
                }
            }

            return specs;
        },
    };

    private readonly Option<int?> hidden = new("--hidden")
    {
        Description = "One hidden layer of this width: shorthand for --layers N",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
                result.AddError($"--hidden must be a whole number, got '{text}'");
            else if (value < 1)
                result.AddError($"--hidden must be at least 1, got {text}");
            else
                return value;
            return null;
        },
    };

    private readonly Option<OptimizerSettings> optimizer = new("--optimizer")
    {
        Description = "rmsprop (lr 0.001, rho 0.9), adam (lr 0.001, beta1 0.9, beta2 0.999) or sgd (lr 0.01), with Keras' defaults",
        DefaultValueFactory = _ => OptimizerSettings.RmsProp,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            try
            {
                return OptimizerSettings.Named(text);
            }
            catch (UserInputException e)
            {
                result.AddError($"--optimizer: {e.Message}");
                return OptimizerSettings.RmsProp;
            }
        },
    };

    private readonly Option<float?> learningRate = new("--learning-rate")
    {
        Description = "Step size (default: the optimizer's, 0.001 for rmsprop and adam, 0.01 for sgd)",
        CustomParser = result => Options.Number<float>(result, "--learning-rate", value => value > 0f && float.IsFinite(value), "a positive number"),
    };

    private readonly Option<float?> momentum = new("--momentum")
    {
        Description = "SGD's momentum, in [0, 1) (default 0)",
        CustomParser = result => Options.Number<float>(result, "--momentum", value => value >= 0f && value < 1f, "in [0, 1)"),
    };

    private readonly Option<bool> nesterov = new("--nesterov") { Description = "SGD's Nesterov momentum (needs --momentum)" };

    private readonly Option<float?> beta1 = new("--beta1")
    {
        Description = "Adam's first-moment decay, in [0, 1) (default 0.9)",
        CustomParser = result => Options.Number<float>(result, "--beta1", value => value >= 0f && value < 1f, "in [0, 1)"),
    };

    private readonly Option<float?> beta2 = new("--beta2")
    {
        Description = "Adam's second-moment decay, in [0, 1) (default 0.999)",
        CustomParser = result => Options.Number<float>(result, "--beta2", value => value >= 0f && value < 1f, "in [0, 1)"),
    };

    private readonly Option<float?> rho = new("--rho")
    {
        Description = "RMSprop's decay of the mean squares, in [0, 1) (default 0.9)",
        CustomParser = result => Options.Number<float>(result, "--rho", value => value >= 0f && value < 1f, "in [0, 1)"),
    };

    private readonly Option<float?> epsilon = new("--epsilon")
    {
        Description = "RMSprop's and Adam's ε, added outside the square root, a positive number (default 1e-7)",
        CustomParser = result => Options.Number<float>(result, "--epsilon", value => value > 0f && float.IsFinite(value), "a positive number"),
    };

    private readonly Option<LearningRateSchedule?> schedule = new("--lr-schedule")
    {
        Description = $"How the learning rate moves each step, --learning-rate its maximum, over the run's --epochs: {LearningRateSchedule.Usage} (default constant; one-cycle is PyTorch's OneCycleLR: 30 % cosine warm-up from lr/25, cosine down to lr/25/10^4)",
        CustomParser = result =>
        {
            try
            {
                return LearningRateSchedule.Parse(result.Tokens.Count > 0 ? result.Tokens[0].Value : "");
            }
            catch (UserInputException e)
            {
                result.AddError($"--lr-schedule: {e.Message}");
                return null;
            }
        },
    };

    private readonly Option<int?> warmupSteps = new("--warmup-steps")
    {
        Description = "Steps of linear warm-up before the schedule (the rate times (t+1)/N), for every schedule but one-cycle (default 0)",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
                result.AddError($"--warmup-steps must be a whole number of 0 or more, got '{text}'");
            else
                return value;
            return null;
        },
    };

    private readonly Option<Initializer?> initializer = new("--initializer")
    {
        Description = $"How a new run draws its weights and biases: {string.Join(" (Keras' default: Glorot-uniform weights, zero biases) or ", Initialization.Names)} (PyTorch's default: weights and biases U(±1/√fan-in)); default: the --network's, else glorot-uniform",
        CustomParser = result =>
        {
            try
            {
                return Initialization.Parse(result.Tokens.Count > 0 ? result.Tokens[0].Value : "");
            }
            catch (UserInputException e)
            {
                result.AddError(e.Message);
                return null;
            }
        },
    };

    private readonly Option<bool?> standardize = new("--standardize")
    {
        Description = "Standardise the inputs: subtract one mean and divide by one standard deviation, both over every pixel of the training split, kept in the checkpoint so evaluate, predict, serve and export do the same (default: the --network's, else off; --standardize false turns a network's off)",
    };

    public IEnumerable<Option> All => [network, layers, hidden, optimizer, learningRate, momentum, nesterov, beta1, beta2, rho, epsilon, schedule, warmupSteps, initializer, standardize];

    /// <summary>The options that describe the layers alone (summary's).</summary>
    public IEnumerable<Option> Shape => [network, layers, hidden];

    /// <summary>What a checkpoint fixes, so that resuming refuses a change of it.</summary>
    public IEnumerable<Option> FixedByCheckpoint => [network, layers, hidden, optimizer, learningRate, momentum, nesterov, beta1, beta2, rho, epsilon, schedule, warmupSteps, initializer, standardize];

    /// <summary>Adds the checks that need more than one option to <paramref name="command"/>.</summary>
    public void Validate(Command command) => command.Validators.Add(result =>
    {
        // The options' own values may have failed to parse (and said so), so only their text is read here.
        if (Given(result, layers) && Given(result, hidden))
            result.AddError("--hidden is shorthand for --layers: give one of them");
        if (Given(result, network) && (Given(result, layers) || Given(result, hidden)))
            result.AddError("--network names a whole network: give it or --layers, not both");
        bool sgd = string.Equals(Text(result, optimizer)?.Trim(), "sgd", StringComparison.OrdinalIgnoreCase);
        if (!sgd && (Given(result, momentum) || Given(result, nesterov)))
            result.AddError("--momentum and --nesterov are options of --optimizer sgd");
        bool someMomentum = float.TryParse(Text(result, momentum), NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && value > 0f;
        if (sgd && Given(result, nesterov) && !someMomentum)
            result.AddError("--nesterov needs a --momentum above 0");
        // The optimizer --optimizer names, else the named network's, else RMSprop: each takes only its own hyperparameters.
        var kind = KindNamed(Text(result, optimizer))
            ?? (Text(result, network) is { } preset ? NetworkPresets.Find(preset.Trim())?.Settings.Optimizer.Kind : null)
            ?? OptimizerKind.RmsProp;
        foreach (var (option, owner) in new[] { (beta1, OptimizerKind.Adam), (beta2, OptimizerKind.Adam), (rho, OptimizerKind.RmsProp) })
        {
            if (Given(result, option) && kind != owner)
                result.AddError($"{option.Name} is an option of --optimizer {(owner == OptimizerKind.Adam ? "adam" : "rmsprop")}, not of {kind.ToString().ToLowerInvariant()}");
        }

        if (Given(result, epsilon) && kind == OptimizerKind.Sgd)
            result.AddError("--epsilon is an option of --optimizer rmsprop or adam; sgd has none");
        if (Given(result, warmupSteps) && string.Equals(Text(result, schedule)?.Trim(), "one-cycle", StringComparison.OrdinalIgnoreCase))
            result.AddError("--warmup-steps: one-cycle warms up by its own rule (its first 30 % of steps); give one or the other");
    });

    /// <summary>
    /// <paramref name="settings"/> with the network and optimizer these options give. A named
    /// network (--network) brings its batch size unless <paramref name="batchSizeGiven"/>, its
    /// optimizer unless --optimizer is given, and its epochs unless <paramref name="epochsGiven"/>
    /// (train's --epochs; bench and kernels keep theirs).
    /// </summary>
    public TrainingSettings Apply(ParseResult parsed, TrainingSettings settings, bool batchSizeGiven = false, bool epochsGiven = true)
    {
        var preset = Preset(parsed);
        var chosen = preset is not null && parsed.GetResult(optimizer) is not { Implicit: false } ? preset.Settings.Optimizer : parsed.GetValue(optimizer)!;
        chosen = chosen with
        {
            LearningRate = parsed.GetValue(learningRate) ?? chosen.LearningRate,
            Momentum = parsed.GetValue(momentum) ?? chosen.Momentum,
            Nesterov = parsed.GetValue(nesterov),
            Beta1 = parsed.GetValue(beta1) ?? chosen.Beta1,
            Beta2 = parsed.GetValue(beta2) ?? chosen.Beta2,
            Rho = parsed.GetValue(rho) ?? chosen.Rho,
            Epsilon = parsed.GetValue(epsilon) ?? chosen.Epsilon,
        };
        if (preset is not null)
        {
            settings = settings with
            {
                BatchSize = batchSizeGiven ? settings.BatchSize : preset.Settings.BatchSize,
                Epochs = epochsGiven ? settings.Epochs : preset.Settings.Epochs,
            };
        }

        var rates = parsed.GetValue(schedule) ?? preset?.Settings.Schedule ?? LearningRateSchedule.Constant;
        rates = rates with { WarmupSteps = parsed.GetValue(warmupSteps) ?? rates.WarmupSteps };
        return settings with
        {
            Layers = Layers(parsed, settings.Layers),
            Optimizer = chosen,
            Schedule = rates,
            Initializer = parsed.GetValue(initializer) ?? preset?.Settings.Initializer ?? settings.Initializer,
            Standardize = parsed.GetValue(standardize) ?? preset?.Settings.Standardize ?? settings.Standardize,
        };
    }

    /// <summary>The named network --network gives, or null.</summary>
    public NetworkPreset? Preset(ParseResult parsed) => parsed.GetValue(network) is { } name ? NetworkPresets.Find(name) : null;

    /// <summary>The hidden layers the --network, --layers or --hidden given names; <paramref name="otherwise"/> when none is.</summary>
    public IReadOnlyList<LayerSpec> Layers(ParseResult parsed, IReadOnlyList<LayerSpec> otherwise) =>
        Preset(parsed) is { } preset ? preset.Settings.Layers
        : parsed.GetResult(layers) is { Implicit: false } ? parsed.GetValue(layers)!
        : parsed.GetValue(hidden) is int width ? [width]
        : otherwise;

    /// <summary>The optimizer kind a --optimizer text names, or null (unknown ones are reported by the option's own parser).</summary>
    private static OptimizerKind? KindNamed(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "rmsprop" => OptimizerKind.RmsProp,
        "adam" => OptimizerKind.Adam,
        "sgd" => OptimizerKind.Sgd,
        _ => null,
    };

    private static bool Given(System.CommandLine.Parsing.CommandResult result, Option option) => result.GetResult(option) is { Implicit: false };

    private static string? Text(System.CommandLine.Parsing.CommandResult result, Option option) =>
        result.GetResult(option) is { Implicit: false, Tokens: [var token, ..] } ? token.Value : null;
}
