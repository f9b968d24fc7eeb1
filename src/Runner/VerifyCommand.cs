using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Engine.Training;
using MnistGpu.Engine.Verification;

namespace MnistGpu.Runner;

/// <summary>
/// <c>mnistgpu verify</c>: runs every kernel and two training steps on a device and compares
/// them with the double-precision reference; exits 1 on any mismatch.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var device = Options.Device();
        var data = Options.Data();
        var memoryLimit = Options.MemoryLimit();
        var threads = Options.Threads();
        var only = new Option<Regex?>("--only")
        {
            Description = "Run only the checks whose name matches this regular expression (case-insensitive), e.g. '1x1x1|softmax'",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                try
                {
                    return new Regex(text, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    result.AddError($"--only must be a regular expression: {e.Message}");
                    return null;
                }
            },
        };
        var gpuPlan = new Option<bool>("--gpu-plan")
        {
            Description = "Plan launches as for a GPU (shared-memory tiles, group reductions) whatever the device: to check the GPU kernels on a simulator such as Oclgrind",
        };
        var network = Options.Network("Only the checks a network of this kind needs: mlp (gather, dense products, softmax, optimizers, the dense training and fused steps) or a convolutional one, convnet or keras-convnet (convolutions, poolings, flatten, a convnet's training step)");
        var small = new Option<bool>("--small")
        {
            Description = "Only the small checks: every size below 512 and no training step, one or more of each kernel — what a simulator such as Oclgrind, which runs each work item in turn, can afford",
        };
        var list = new Option<bool>("--list") { Description = "List the checks that would run, with the form each runs in on the device, without running them" };
        var command = new Command("verify", "Check every kernel and a training step on a device against the double-precision reference")
        {
            device, data, memoryLimit, threads, only, gpuPlan, network, small, list,
        };
        command.SetAction(parsed =>
        {
            var pattern = parsed.GetValue(only);
            string? kind = parsed.GetValue(network);
            bool smallOnly = parsed.GetValue(small);
            var chosen = DeviceVerifier.Checks
                .Where(check => kind is null || check.Convolutional == NetworkPresets.Find(kind)!.Convolutional)
                .Where(check => !smallOnly || check.IsSmall)
                .Where(check => pattern?.IsMatch(check.Name) ?? true)
                .ToList();
            if (chosen.Count == 0)
                throw new UserInputException($"--only {pattern}: no {(smallOnly ? "small " : "")}check{(kind is null ? "" : $" of --network {kind}")} matches; 'mnistgpu verify --list' lists them");
            string? dataDirectory = parsed.GetValue(data)?.FullName;
            var digits = MnistData.Load(dataDirectory).Train;
            using var backend = DeviceOpener.Open(parsed.GetValue(device)!, parsed.GetValue(memoryLimit), diagnostics, parsed.GetValue(threads), parsed.GetValue(gpuPlan));
            using var verifier = new DeviceVerifier(backend, digits);

            if (parsed.GetValue(list))
            {
                var checks = Tables.Create("check", "form");
                foreach (var check in chosen)
                    checks.AddRow(check.Name, verifier.FormOf(check));
                Tables.Write(output, checks);
                output.WriteLine($"{chosen.Count} checks on {backend.DeviceName}; none was run.");
                return Cli.Ok;
            }

            var table = Tables.Create("check", "form", "max abs error", "max rel error", "tolerance", "result");
            var results = new List<CheckResult>();
            foreach (var check in chosen)
            {
                var result = verifier.Run(check.Name);
                results.Add(result);
                table.AddRow(
                    check.Name,
                    verifier.FormOf(check),
                    result.MaxAbsoluteError.ToString("0.00e+00", CultureInfo.InvariantCulture),
                    result.MaxRelativeError.ToString("0.00e+00", CultureInfo.InvariantCulture),
                    result.Tolerance,
                    result.Problem is null ? "ok" : $"MISMATCH: {result.Problem}");
            }

            Tables.Write(output, table);
            int failed = results.Count(r => !r.Passed);
            output.WriteLine(failed == 0
                ? $"All {results.Count} checks agree with the reference on {backend.DeviceName}."
                : $"{failed} of {results.Count} checks disagree with the reference on {backend.DeviceName}.");
            return failed == 0 ? Cli.Ok : Cli.Failure;
        });
        return command;
    }
}
