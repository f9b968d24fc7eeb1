namespace MnistGpu.Engine.Model.Layers;

/// <summary>
/// Every layer kind a spec may name. The engine registers its own here, in one line each; another
/// assembly (a test's, a plug-in's) registers its kinds through <see cref="Register"/> once.
/// </summary>
public static class LayerKinds
{
    private static readonly Lock Guard = new();
    private static ILayerKind[] kinds = [Dense.Kind, Conv2D.Kind, MaxPool2D.Kind, Flatten.Kind, Dropout.Kind, BatchNormalization.Kind];

    public static IReadOnlyList<ILayerKind> All => kinds;

    /// <summary>Adds <paramref name="kind"/>; registering the same kind again does nothing.</summary>
    /// <exception cref="ArgumentException">Another kind has that name.</exception>
    public static void Register(ILayerKind kind)
    {
        lock (Guard)
        {
            var known = Find(kind.Name);
            if (ReferenceEquals(known, kind))
                return;
            if (known is not null)
                throw new ArgumentException($"a layer kind named '{kind.Name}' is already registered", nameof(kind));
            kinds = [.. kinds, kind];
        }
    }

    public static ILayerKind? Find(string name) => kinds.FirstOrDefault(kind => kind.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}
