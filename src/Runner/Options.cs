using System.CommandLine;
using System.CommandLine.Parsing;

namespace MnistGpu.Runner;

/// <summary>Options shared by several commands, each with its validation, so every command rejects bad values alike.</summary>
internal static class Options
{
    public static Option<string> Device() => new("--device")
    {
        Description = "auto, cpu (ILGPU CPU accelerator), cuda, opencl, cuda:N, opencl:N, or an index from 'devices'",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<DirectoryInfo?> Data() => new("--data")
    {
        Description = "Folder with an MNIST-layout IDX set (raw or .gz); default: the bundled MNIST",
    };

    public static Option<int> Epochs(int defaultValue) => AtLeastOne(new Option<int>("--epochs")
    {
        Description = "Passes over the training set",
        DefaultValueFactory = _ => defaultValue,
    });

    public static Option<int> AtLeastOne(Option<int> option)
    {
        option.Validators.Add(result => RequireAtLeastOne(result, option));
        return option;
    }

    public static Option<float> Positive(Option<float> option)
    {
        option.Validators.Add(result =>
        {
            float value = result.GetValueOrDefault<float>();
            if (!(value > 0f) || float.IsInfinity(value))
                result.AddError($"{option.Name} must be a positive number, got {value}");
        });
        return option;
    }

    private static void RequireAtLeastOne(OptionResult result, Option<int> option)
    {
        int value = result.GetValueOrDefault<int>();
        if (value < 1)
            result.AddError($"{option.Name} must be at least 1, got {value}");
    }
}
