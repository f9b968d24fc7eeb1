using System.CommandLine;
using System.Globalization;
using System.Text;
using MnistGpu.Engine;
using MnistGpu.Engine.Backends;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Model;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu kernels</c>: every kernel one training step launches on a device, with its launch
/// plan; with <c>--ptx DIR</c>, the PTX of every kernel and variant for a CUDA architecture —
/// no GPU needed — for NVIDIA's assembler to check (.ci/ptx-check).
/// </summary>
internal static class KernelsCommand
{
    public const string Manifest = "kernels.tsv";

    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var device = Options.Device();
        var ptx = new Option<DirectoryInfo?>("--ptx") { Description = "Write the PTX of every kernel and variant into this folder (created if missing), planned for a CUDA GPU whatever --device says" };
        var arch = new Option<int>("--arch")
        {
            Description = "The CUDA architecture of --ptx, e.g. sm_61, sm_75, sm_80, sm_86",
            DefaultValueFactory = _ => 80,
            CustomParser = result => ParseArchitecture(result.Tokens.Count > 0 ? result.Tokens[0].Value : "", result),
        };
        var unfused = new Option<bool>("--unfused") { Description = "List the step as separate operations instead of fused, as bench --unfused runs it" };
        var network = new NetworkOptions();
        var command = new Command("kernels", "List the kernels a training step launches and their launch plan, or write their PTX") { device, ptx, arch, unfused };
        foreach (var option in network.All)
            command.Options.Add(option);
        network.Validate(command);
        command.Validators.Add(result =>
        {
            if (result.GetResult(arch) is { Implicit: false } && result.GetResult(ptx) is null)
                result.AddError("--arch is for --ptx");
            if (result.GetResult(ptx) is not null && result.GetResult(device) is { Implicit: false })
                result.AddError("--ptx plans for a CUDA GPU of --arch; it takes no --device");
            if (result.GetResult(ptx) is not null && (result.GetResult(unfused) is { Implicit: false } || network.All.Any(option => result.GetResult(option) is { Implicit: false })))
                result.AddError("--ptx writes every kernel, whatever the network; it takes no --network, --layers, --hidden, --unfused or optimizer option");
        });
        command.SetAction(parsed =>
        {
            if (parsed.GetValue(ptx) is { } folder)
                return WritePtx(output, folder.FullName, parsed.GetValue(arch));
            var settings = network.Apply(parsed, new Engine.Training.TrainingSettings());
            var shape = new NetworkShape(NetworkShape.Default.Inputs, settings.Layers, NetworkShape.Default.Classes);
            // The same limits train applies: a network that cannot exist has no launches to list.
            settings.Validate();
            shape.Validate();
            using var backend = DeviceOpener.Open(parsed.GetValue(device)!, memoryLimitBytes: null, diagnostics);
            var steps = parsed.GetValue(unfused) ? Engine.Steps.StepOptions.Unfused : Engine.Steps.StepOptions.Fused;
            var launches = Engine.Steps.PlannedStep.Of(backend, shape, settings.BatchSize, settings.Optimizer, steps);
            if (launches.Count == 0)
            {
                output.WriteLine($"{backend.DeviceName} runs its own SIMD code, not ILGPU kernels: nothing to list. 'mnistgpu kernels --device cpu' lists the launches a GPU would run, on ILGPU's CPU accelerator.");
                return Cli.Ok;
            }

            string form = steps.Form == Engine.Steps.StepForm.Fused ? "" : ", as separate operations";
            output.WriteLine($"One training step of the {shape} network with {settings.Optimizer.Name}, batch {settings.BatchSize}{form}: {launches.Count} launches");
            var table = Tables.Create("operation", "kernel", "groups", "group size", "shared memory per group");
            foreach (var launch in launches)
                table.AddRow(launch.Operation, launch.Kernel.Name, Number(launch.Groups), Number(launch.GroupSize), $"{Number(launch.SharedMemoryBytes)} B");
            Tables.Write(output, table);
            if (Engine.Steps.PlannedStep.Unfused(backend, shape, settings.BatchSize, steps) is { } reason)
                output.WriteLine(reason);
            return Cli.Ok;
        });
        return command;
    }

    private static int WritePtx(TextWriter output, string folder, int smVersion)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"--ptx {folder}: cannot create it: {e.Message}", e);
        }

        var planner = new LaunchPlanner(DeviceProfile.AnyNvidiaGpu);
        var manifest = new StringBuilder("kernel\tfile\tgroup size\tshared memory bytes\n");
        var table = Tables.Create("kernel", "file", "group size", "shared memory per group");
        foreach (var kernel in KernelInventory.All)
        {
            string file = kernel.Name + ".ptx";
            var (ptx, shared) = KernelInventory.Ptx(kernel, smVersion);
            OutputFile.Write(Path.Combine(folder, file), Encoding.ASCII.GetBytes(ptx));
            int groupSize = KernelInventory.GroupSize(kernel, planner);
            manifest.Append(CultureInfo.InvariantCulture, $"{kernel.Name}\t{file}\t{groupSize}\t{shared}\n");
            table.AddRow(kernel.Name, file, Number(groupSize), $"{Number(shared)} B");
        }

        OutputFile.Write(Path.Combine(folder, Manifest), Encoding.UTF8.GetBytes(manifest.ToString()));
        output.WriteLine($"PTX ISA {KernelInventory.PtxVersion} for sm_{smVersion}, planned for an NVIDIA GPU; {KernelInventory.All.Count} kernels in {folder}");
        Tables.Write(output, table);
        return Cli.Ok;
    }

    /// <summary>sm_50 to sm_90: what ILGPU 1.5.3 and CUDA 11.8's ptxas both know.</summary>
    private static int ParseArchitecture(string text, System.CommandLine.Parsing.ArgumentResult result)
    {
        string trimmed = text.Trim().ToLowerInvariant();
        if (trimmed.StartsWith("sm_", StringComparison.Ordinal) && int.TryParse(trimmed[3..], NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number is >= 50 and <= 90)
            return number;
        result.AddError($"--arch must be a CUDA architecture from sm_50 to sm_90, such as sm_80, got '{text}'");
        return 0;
    }

    private static string Number(int value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
