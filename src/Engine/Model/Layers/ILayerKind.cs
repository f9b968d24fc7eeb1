namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// A kind of layer (Dense, Conv2D, MaxPool2D, Flatten): how a spec's argument makes
/// a layer of it. Everything else about the kind lives with the layer it makes: shape rules,
/// parameter layout, initialisation and the layer's form on a backend. Registered once per
/// assembly in <see cref="LayerKinds"/>; docs/architecture.md lists the files a new kind adds.
/// </summary>
public interface ILayerKind
{
    /// <summary>The kind's name in a layer spec, e.g. "dense": lower-case letters only, so a spec's argument starts where they end ("conv3x3:32").</summary>
    string Name { get; }

    /// <summary>The kind as Keras names its class, e.g. "Conv2D": what a summary of the network shows.</summary>
    string TypeName { get; }

    /// <summary>How a spec writes a layer of this kind, for help: e.g. "conv<k>x<k>:<filters>[:same][:linear]"; by default its name.</summary>
    string Usage => Name;

    /// <summary>
    /// The layer <paramref name="argument"/> describes (the text after the name in a spec, one ':'
    /// dropped, or the whole spec for a kind that needs no name), on rows of <paramref name="input"/>,
    /// its parameters from <paramref name="offset"/> in the network's flat array. Sizes out of
    /// range are kept, for <see cref="Layer.Problem"/> to name before anything is allocated.
    /// </summary>
    /// <exception cref="UserInputException">The argument is not this kind's.</exception>
    Layer Create(string argument, FeatureShape input, long offset);

    /// <summary>A spec's text for <paramref name="argument"/>, the inverse of <see cref="LayerSpec.Parse"/>: e.g. "512" for a dense layer.</summary>
    string Format(string argument) => argument.Length == 0 ? Name : $"{Name}:{argument}";
}
