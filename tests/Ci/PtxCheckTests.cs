using System.Diagnostics;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Ci;

/// <summary>
/// <c>.ci/ptx-check</c> compares the shared memory ptxas reports with the manifest's figure for
/// equality: run with stand-ins for <c>mnistgpu kernels --ptx</c> (one kernel, a stated figure)
/// and for ptxas (which reports 4,096 B), it passes on 4,096 and fails on 0 or 8,192.
/// </summary>
public sealed class PtxCheckTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("mnistgpu-ptxcheck-").FullName;

    [SkippableTheory]
    [InlineData(4096, 0)]
    [InlineData(0, 1)]
    [InlineData(8192, 1)]
    public void Fails_when_ptxas_reports_other_shared_memory_than_the_manifest_states(int stated, int expectedExit)
    {
        Skip.If(OperatingSystem.IsWindows(), "the CI scripts are bash");
        string mnistgpu = Script("mnistgpu", $"""
            # kernels --ptx FOLDER --arch ARCH: one kernel whose manifest states {stated} B
            mkdir -p "$3"
            echo '.version 7.8' > "$3/K.ptx"
            printf 'kernel\tfile\tgroup size\tshared memory bytes\nK\tK.ptx\t256\t{stated}\n' > "$3/kernels.tsv"
            """);
        string ptxas = Script("ptxas", """
            echo 'ptxas info    : Used 32 registers, 4096 bytes smem, 360 bytes cmem[0]'
            echo 'ptxas info    : 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads'
            """);

        var (exit, output) = Run(Path.Combine(Repository.Root, ".ci", "ptx-check"), mnistgpu, ptxas, "sm_80");

        Assert.True(exit == expectedExit, output);
        if (expectedExit == 0)
            Assert.Contains("| K | sm_80 | 32 | 4096 B | 0 / 0 B | 256 | 8192 |\n", output);
        else
            Assert.Contains($"SHARED MEMORY OTHER THAN THE {stated} B THE MANIFEST STATES", output);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string Script(string name, string body)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, "#!/usr/bin/env bash\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static (int Exit, string Output) Run(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
