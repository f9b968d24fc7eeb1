using System.Diagnostics;
using System.Text.RegularExpressions;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Docs;

/// <summary>
/// README's library example, as a reader would use it: pasted into a new project outside the
/// repository that references the engine, built and run there. It trains on the MNIST set the
/// engine carries, with no path to the repository's data.
/// </summary>
public sealed partial class ReadmeLibraryExampleTests : IDisposable
{
    private readonly TempDirectory project = new();

    public void Dispose() => project.Dispose();

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public async Task The_readme_library_example_builds_and_trains_in_a_project_of_its_own()
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        string example = LibraryExample().Match(readme[readme.IndexOf("## As a library", StringComparison.Ordinal)..]).Groups[1].Value;
        Assert.Contains("MnistData.LoadBundled()", example);
        File.WriteAllText(project.File("Program.cs"), example);
        File.WriteAllText(project.File("Example.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="{Path.Combine(Repository.Root, "src", "Engine", "MnistGpu.Engine.csproj")}" />
              </ItemGroup>
            </Project>
            """);

        var (code, output, error) = await Dotnet("run", "-c", "Release");

        Assert.True(code == 0, $"exit code {code}\n{output}\n{error}");
        Assert.Equal(5, Regex.Count(output, @"(?m)^epoch \d: 469 steps in [\d.]+ s, loss 0\.\d{4}, accuracy 0\.\d{4}$"));
        Assert.Matches(@"test accuracy 9[7-9]\.\d\d", output);
        Assert.True(File.Exists(project.File("mnist.ckpt")), "the example's checkpoint was not written");
    }

    private async Task<(int Code, string Output, string Error)> Dotnet(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = project.Path, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        // The test host runs under MSBuild's and the test platform's variables; a reader's shell has none.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex LibraryExample();
}
