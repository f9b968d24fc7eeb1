namespace MnistGpu.Tests.Support;

/// <summary>
/// The trait that marks tests too slow for the quick loop (full-MNIST training, signals to child
/// processes, 10,000-image evaluations): <c>dotnet test --filter "Category!=Slow"</c> skips them; CI runs everything.
/// </summary>
internal static class Category
{
    public const string Name = "Category";
    public const string Slow = "Slow";
}
